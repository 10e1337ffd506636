//! A reference Octopus node: one OS process (the harness binary in its
//! hidden node mode) that serves the Octopus REST surface of
//! octopus-surface.md §0–2 from the shared database, and heartbeats into it.
//!
//! Routes: `GET /api`, `GET /api/octopusservernodes/ping` (200 online, 418
//! drained, the node as JSON, no API key), `GET /api/octopusservernodes`
//! (paged), `GET /api/octopusservernodes/all`, and `GET`/`PUT
//! /api/octopusservernodes/{id}`. Everything but ping needs
//! `X-Octopus-ApiKey` (or `?apikey=`), else 401.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use super::api::{self, NodeUpdate, PING_PATH};
use super::db::{SharedDb, now_ms};

/// The version every reference node reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-reference");

/// Largest PUT body a node reads.
const MAX_PUT_BODY: usize = 64 * 1024;

/// What a node process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Node name (n1, n2, ...).
    pub name: String,
    /// Node ID.
    pub id: String,
    /// Address to bind; port 0 on first start, the same port on restarts.
    pub listen: SocketAddr,
    /// The shared database.
    pub db: PathBuf,
    /// MaxConcurrentTasks on first registration.
    pub task_cap: u32,
    /// Time between heartbeats.
    pub heartbeat_ms: u64,
    /// LastSeen older than this shows IsOffline.
    pub offline_after_ms: u64,
    /// The cluster's installation ID, shared by every node.
    pub installation_id: String,
}

struct Node {
    cfg: NodeConfig,
    api_key: String,
    db: Mutex<SharedDb>,
}

type Reply = Response<Full<Bytes>>;

/// Runs a node until the process is killed. Prints `READY <addr>` on stdout
/// once it is registered and listening.
pub fn main(cfg: NodeConfig, api_key: String) -> Result<(), String> {
    // One thread is plenty for a node and leaves the cores to the LB and the
    // load generator on a small machine.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("failed to bind {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let db = SharedDb::open(&cfg.db)
            .map_err(|e| format!("failed to open the shared database: {e}"))?;
        db.register(&cfg.id, &cfg.name, cfg.task_cap, VERSION)
            .map_err(|e| format!("failed to register in the shared database: {e}"))?;
        spawn_heartbeat(&cfg)?;
        let node = Arc::new(Node {
            cfg,
            api_key,
            db: Mutex::new(db),
        });
        println!("READY {addr}");
        super::http::serve(listener, move |req| {
            let node = node.clone();
            async move { handle(&node, req).await }
        })
        .await;
        Ok(())
    })
}

/// Heartbeats on a thread of their own with their own connection, so a
/// busy request loop cannot starve them (a real Octopus failure mode).
fn spawn_heartbeat(cfg: &NodeConfig) -> Result<(), String> {
    let db =
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?;
    let id = cfg.id.clone();
    let every = Duration::from_millis(cfg.heartbeat_ms);
    std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                if let Err(e) = db.heartbeat(&id) {
                    eprintln!("heartbeat failed: {e}");
                }
            }
        })
        .map_err(|e| format!("failed to start the heartbeat: {e}"))?;
    Ok(())
}

async fn handle(node: &Node, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().trim_end_matches('/').to_string();
    if path == PING_PATH {
        return match *req.method() {
            Method::GET | Method::HEAD => node.ping(),
            _ => method_not_allowed(),
        };
    }
    if !node.authorised(&req) {
        return json(
            StatusCode::UNAUTHORIZED,
            &api::error(
                "You must be logged in to perform this action. Please provide a valid API key in the X-Octopus-ApiKey header.",
            ),
        );
    }
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/api") => json(
            StatusCode::OK,
            &api::root(super::node::VERSION, &node.cfg.installation_id),
        ),
        (Method::GET, "/api/octopusservernodes") => node.list(&query),
        (Method::GET, "/api/octopusservernodes/all") => node.all(),
        (method, p) => match p.strip_prefix("/api/octopusservernodes/") {
            Some(id) if !id.contains('/') => match method {
                Method::GET => node.get(id),
                Method::PUT => node.put(id, req).await,
                _ => method_not_allowed(),
            },
            _ => not_found(),
        },
    }
}

impl Node {
    fn authorised(&self, req: &Request<Incoming>) -> bool {
        let header = req
            .headers()
            .get("x-octopus-apikey")
            .and_then(|v| v.to_str().ok());
        let query = req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
                .map(|(_, v)| v)
        });
        header.or(query) == Some(self.api_key.as_str())
    }

    fn db(&self) -> std::sync::MutexGuard<'_, SharedDb> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn resource(&self, row: &super::db::NodeRow) -> Value {
        api::node_resource(row, now_ms(), self.cfg.offline_after_ms as i64)
    }

    fn ping(&self) -> Reply {
        match self.db().node(&self.cfg.id) {
            Ok(Some(row)) => {
                let status = if row.is_in_maintenance_mode {
                    StatusCode::IM_A_TEAPOT
                } else {
                    StatusCode::OK
                };
                json(status, &self.resource(&row))
            }
            Ok(None) => server_error("this node is not registered"),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    fn rows(&self) -> Result<Vec<Value>, rusqlite::Error> {
        self.db()
            .nodes()
            .map(|rows| rows.iter().map(|r| self.resource(r)).collect())
    }

    fn list(&self, query: &str) -> Reply {
        let mut skip = 0;
        let mut take = api::DEFAULT_TAKE;
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            match (k, v.parse::<usize>()) {
                ("skip", Ok(n)) => skip = n,
                ("take", Ok(n)) => take = n,
                ("skip" | "take", Err(_)) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        &api::error(&format!("{k} must be a number")),
                    );
                }
                _ => {}
            }
        }
        match self.rows() {
            Ok(items) => json(
                StatusCode::OK,
                &api::collection(
                    "OctopusServerNode",
                    "/api/octopusservernodes",
                    items,
                    skip,
                    take,
                ),
            ),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    fn all(&self) -> Reply {
        match self.rows() {
            Ok(items) => json(StatusCode::OK, &Value::Array(items)),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    fn get(&self, id: &str) -> Reply {
        match self.db().node(id) {
            Ok(Some(row)) => json(StatusCode::OK, &self.resource(&row)),
            Ok(None) => not_found(),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    async fn put(&self, id: &str, req: Request<Incoming>) -> Reply {
        let body = match Limited::new(req.into_body(), MAX_PUT_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &api::error(&format!("the body must be at most {MAX_PUT_BODY} bytes")),
                );
            }
        };
        let update: NodeUpdate = match serde_json::from_slice(&body) {
            Ok(u) => u,
            Err(e) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    &api::error(&format!("the body is not a node: {e}")),
                );
            }
        };
        if update.id != id {
            return json(
                StatusCode::BAD_REQUEST,
                &api::error(&format!(
                    "the body's Id {:?} does not match the path's {id:?}",
                    update.id
                )),
            );
        }
        match self.db().update(
            id,
            update.is_in_maintenance_mode,
            update.max_concurrent_tasks,
        ) {
            Ok(Some(row)) => json(StatusCode::OK, &self.resource(&row)),
            Ok(None) => not_found(),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }
}

fn json(status: StatusCode, body: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn not_found() -> Reply {
    json(
        StatusCode::NOT_FOUND,
        &api::error("The resource you requested was not found."),
    )
}

fn method_not_allowed() -> Reply {
    json(
        StatusCode::METHOD_NOT_ALLOWED,
        &api::error("The method is not allowed on this resource."),
    )
}

fn server_error(message: &str) -> Reply {
    json(StatusCode::INTERNAL_SERVER_ERROR, &api::error(message))
}
