//! A reference Octopus node: one OS process (the harness binary in its
//! hidden node mode) that serves the Octopus REST surface of
//! docs/octopus-surface.md ("Conventions" to "Tasks") from the shared
//! database, heartbeats into it, and runs tasks from its queue.
//!
//! Routes: `GET /api`, `GET /api/octopusservernodes/ping` (200 online, 418
//! drained, the node as JSON, no API key), `GET /api/octopusservernodes`
//! (paged), `.../all`, `.../summary`, `GET`/`PUT .../{id}`,
//! `.../{id}/details`; tasks: `POST /api/{spaceId}/tasks` (or
//! `/api/tasks`), `GET /api/[{spaceId}/]tasks` (filters `states`, `node`,
//! `ids`, `skip`, `take`), `GET .../tasks/{id}`, `.../tasks/{id}/raw`,
//! `.../tasks/{id}/details` and `POST .../tasks/{id}/cancel`;
//! machines: `POST`/`GET /api/[{spaceId}/]machines`, `GET`/`DELETE
//! .../machines/{id}`; `GET /api/configuration/certificates/certificate-global`;
//! spaces (`node/spaces.rs`): `GET /api/spaces`, `.../all`, `.../{id}` and
//! the space home `GET /api/{spaceId}`. Space-scoped routes take
//! `/api/spaces/{spaceId}/...` as well as `/api/{spaceId}/...`.
//! Everything but ping needs `X-Octopus-ApiKey` (or `?apikey=`), else 401.
//!
//! Tasks: a queue thread checks the shared queue every `queue_poll`
//! (Octopus: 20 s, from the node's start), cancels other nodes' orphans,
//! and claims by the rules in `db`. A drained node claims nothing but
//! finishes what it runs and keeps answering the API. At start a node
//! cancels the tasks it ran before it died.
//!
//! Polling: where the cluster has a polling layout the node also runs a
//! polling listener (`polling`), and a `Health` task calls each target
//! Tentacle through it (`node/health.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use tokio::sync::mpsc;

use super::api::{self, NodeUpdate, PING_PATH, TaskState};
use super::db::{ClaimMode, SharedDb, TaskFilter, TaskRow, now_ms};
use super::polling::{Polling, PollingConfig, SERVER_CERTIFICATE};
use super::work;
use crate::halibut::tls::TlsIdentity;
use crate::limits::MAX_JSON_BODY;

mod health;
mod packages;
pub(crate) use packages::clear_incoming;
mod spaces;

/// The version every reference node reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-reference");

/// Largest page of tasks, and most IDs in one filter.
const MAX_TAKE: usize = 1000;

/// Largest `skip`: far past any page, and within SQLite's integers.
const MAX_SKIP: usize = 1 << 40;

/// What a node process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The harness's name for the node (n1, n2, ...): its process, its
    /// log, its key in scenarios.
    pub key: String,
    /// The node's Octopus `Name`, which need not be its key.
    pub name: String,
    /// The node's Octopus `Id`.
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
    /// Task logs go here: the shared storage, or the node's own folder.
    pub storage: PathBuf,
    /// Time between two checks of the task queue.
    pub queue_poll_ms: u64,
    /// Another node's active tasks are canceled once it has not been seen
    /// for this long.
    pub orphan_after_ms: u64,
    /// Claim with a gap of this many milliseconds between reading the queue
    /// and writing the claim (the Octopus 2023.3 bug); atomic when None.
    #[serde(default)]
    pub racy_claim_ms: Option<u64>,
    /// Work after an upload's body has arrived, per GiB, before the answer:
    /// the server's post-upload processing that trips response timeouts.
    #[serde(default)]
    pub upload_delay_ms_per_gib: u64,
    /// The package is stored before that work rather than after it.
    #[serde(default)]
    pub upload_store_first: bool,
    /// The polling listener, where the cluster has one.
    #[serde(default)]
    pub polling: Option<PollingConfig>,
    /// How long it waits for its clients.
    #[serde(default)]
    pub timeouts: super::ServerTimeouts,
    /// The node's CPU limit, where the scenario gives one.
    #[serde(default)]
    pub cpu: Option<super::cpu::CpuPlacement>,
}

impl NodeConfig {
    fn claim_mode(&self) -> ClaimMode {
        match self.racy_claim_ms {
            Some(ms) => ClaimMode::Racy(Duration::from_millis(ms)),
            None => ClaimMode::Atomic,
        }
    }
}

struct Node {
    cfg: NodeConfig,
    api_key: String,
    db: Mutex<SharedDb>,
    /// The cluster's server certificate, from the shared database.
    server: Option<TlsIdentity>,
    /// The pending-request queues of the polling listener.
    polling: Option<Arc<Polling>>,
}

/// Every node response: JSON, text, or a package streamed from storage.
type Reply = Response<BoxBody<Bytes, std::io::Error>>;

fn full(bytes: impl Into<Bytes>) -> BoxBody<Bytes, std::io::Error> {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Runs a node until the process is killed. Prints `READY <addr>` on stdout
/// once it is registered and listening.
pub fn main(cfg: NodeConfig, api_key: String) -> Result<(), String> {
    // Before the runtime exists, so no thread of the node escapes it.
    if let Some(p) = &cfg.cpu {
        super::cpu::enter(p)?;
    }
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
        let canceled = db
            .cancel_own(&cfg.name)
            .map_err(|e| format!("failed to cancel the tasks of the last run: {e}"))?;
        if canceled > 0 {
            eprintln!("canceled {canceled} tasks this node ran before it restarted");
        }
        packages::remove_stale_uploads(&cfg.storage, &cfg.name);
        spawn_heartbeat(&cfg)?;
        let server = db
            .certificate(SERVER_CERTIFICATE)
            .map_err(|e| format!("failed to read the server certificate: {e}"))?
            .map(|(cert, key)| TlsIdentity::from_der(cert, key));
        let polling = match &cfg.polling {
            None => None,
            Some(p) => Some(start_polling(&cfg, p, server.as_ref()).await?),
        };
        let claimed = spawn_queue(&cfg)?;
        let node = Arc::new(Node {
            cfg,
            api_key,
            db: Mutex::new(db),
            server,
            polling,
        });
        tokio::spawn(run_claimed(node.clone(), claimed));
        println!("READY {addr}");
        let header_read = node.cfg.timeouts.header_read();
        super::http::serve(listener, header_read, move |req| {
            let node = node.clone();
            async move { handle(&node, req).await }
        })
        .await;
        Ok(())
    })
}

/// Binds the polling listener before READY, so a Tentacle that connects
/// once the node is up finds it, and serves it on this runtime.
async fn start_polling(
    cfg: &NodeConfig,
    p: &PollingConfig,
    server: Option<&TlsIdentity>,
) -> Result<Arc<Polling>, String> {
    let server = server.ok_or("the shared database holds no server certificate for polling")?;
    let listener = TcpListener::bind(p.listen)
        .await
        .map_err(|e| format!("failed to bind the polling listener on {}: {e}", p.listen))?;
    // Its own connection: trust checks run on every handshake and must not
    // wait behind the API's.
    let db = Mutex::new(
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?,
    );
    let trusted: Arc<dyn Fn(&str) -> bool + Send + Sync> = Arc::new(move |thumbprint: &str| {
        let db = db.lock().unwrap_or_else(|e| e.into_inner());
        db.trusts(thumbprint).unwrap_or_else(|e| {
            eprintln!("trust check failed: {e}");
            false
        })
    });
    let polling = Arc::new(Polling::new(p, &cfg.timeouts));
    let serving = polling.clone();
    let server = TlsIdentity::from_der(server.cert.to_vec(), server.key_der().to_vec());
    tokio::spawn(async move {
        if let Err(e) = serving.serve(listener, &server, trusted).await {
            eprintln!("the polling listener stopped: {e}");
        }
    });
    Ok(polling)
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

/// The queue thread: its own connection and its own timer, so that neither
/// requests nor a slow claim hold up the other. Claimed tasks go to the
/// runtime, which runs them.
fn spawn_queue(cfg: &NodeConfig) -> Result<mpsc::UnboundedReceiver<TaskRow>, String> {
    let db =
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = cfg.clone();
    std::thread::Builder::new()
        .name("task-queue".into())
        .spawn(move || {
            let every = Duration::from_millis(cfg.queue_poll_ms);
            let mut next = std::time::Instant::now() + every;
            loop {
                std::thread::sleep(next.saturating_duration_since(std::time::Instant::now()));
                // Keep the phase, but after a pause (SIGSTOP) do not catch
                // up on the checks missed.
                next = (next + every).max(std::time::Instant::now());
                if let Err(e) = db.cancel_orphans(&cfg.name, cfg.orphan_after_ms as i64) {
                    eprintln!("orphan check failed: {e}");
                }
                match db.claim(
                    &cfg.id,
                    &cfg.name,
                    cfg.offline_after_ms as i64,
                    cfg.claim_mode(),
                ) {
                    Ok(tasks) => {
                        for t in tasks {
                            if tx.send(t).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => eprintln!("claim failed: {e}"),
                }
            }
        })
        .map_err(|e| format!("failed to start the task queue: {e}"))?;
    Ok(rx)
}

async fn run_claimed(node: Arc<Node>, mut claimed: mpsc::UnboundedReceiver<TaskRow>) {
    while let Some(task) = claimed.recv().await {
        tokio::spawn(execute(node.clone(), task));
    }
}

/// Runs one claimed task to its end and records the outcome.
async fn execute(node: Arc<Node>, task: TaskRow) {
    let storage = node.cfg.storage.clone();
    let log = |text: String| {
        if let Err(e) = work::log_line(&storage, task.seq, &text) {
            eprintln!("failed to write the log of {}: {e}", api::task_id(task.seq));
        }
    };
    log(format!(
        "{} ({}) started on node {}",
        api::task_id(task.seq),
        task.name,
        node.cfg.name
    ));
    if task.name == "Health" {
        let error = health::run(&node, &api::task_id(task.seq), &task.arguments, &log).await;
        let state = if error.is_some() {
            TaskState::Failed
        } else {
            TaskState::Success
        };
        return finish(&node, &task, state, error, &log);
    }
    // Only a script task has work; other task types end at once.
    let script = if task.name == "AdHocScript" {
        serde_json::from_str::<Value>(&task.arguments)
            .ok()
            .and_then(|a| a.get("ScriptBody")?.as_str().map(str::to_string))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let (state, error) = match work::parse_script(&script) {
        Err(e) => (TaskState::Failed, Some(e)),
        Ok(commands) => {
            let mut end = (TaskState::Success, None);
            for c in commands {
                match c {
                    work::Command::Echo(text) => log(text),
                    work::Command::Sleep(d) => tokio::time::sleep(d).await,
                    work::Command::Exit(0) => break,
                    work::Command::Exit(code) => {
                        end = (
                            TaskState::Failed,
                            Some(format!("the script exited with code {code}")),
                        );
                        break;
                    }
                }
            }
            end
        }
    };
    finish(&node, &task, state, error, &log);
}

/// Records a task's end.
fn finish(
    node: &Node,
    task: &TaskRow,
    state: TaskState,
    error: Option<String>,
    log: &dyn Fn(String),
) {
    let ended = node.db().complete(
        task.seq,
        &node.cfg.name,
        state,
        error.as_deref(),
        node.cfg.claim_mode(),
    );
    match ended {
        Ok(true) => log(format!("finished: {}", state.as_str())),
        // Canceled meanwhile (the orphan rule): the log says so.
        Ok(false) => log(format!(
            "finished as {}, but the task had already been ended elsewhere",
            state.as_str()
        )),
        Err(e) => eprintln!("failed to end {}: {e}", api::task_id(task.seq)),
    }
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
    let mut segments: Vec<&str> = path.split('/').skip(1).collect();
    // `/api/spaces/{spaceId}/tasks/...` is another spelling of
    // `/api/{spaceId}/tasks/...`; `/api/spaces/{id}` alone is the space.
    if segments.len() > 3 && segments[..2] == ["api", "spaces"] {
        segments.remove(1);
    }
    let method = req.method().clone();
    match segments.as_slice() {
        ["api"] if method == Method::GET => json(
            StatusCode::OK,
            &api::root(super::node::VERSION, &node.cfg.installation_id),
        ),
        ["api", "spaces", rest @ ..] => spaces::route(rest, &method, &query),
        ["api", "octopusservernodes"] if method == Method::GET => node.list(&query),
        ["api", "octopusservernodes", "all"] if method == Method::GET => node.all(),
        ["api", "octopusservernodes", "summary"] if method == Method::GET => node.summary(),
        ["api", "octopusservernodes", id] => match method {
            Method::GET => node.get(id),
            Method::PUT => node.put(id, req).await,
            _ => method_not_allowed(),
        },
        ["api", "octopusservernodes", id, "details"] if method == Method::GET => node.details(id),
        // Tasks and packages, with or without the space in the path.
        ["api", "tasks", rest @ ..] => node.tasks(None, rest, method, &query, req).await,
        ["api", space, "tasks", rest @ ..] => {
            node.tasks(Some(space), rest, method, &query, req).await
        }
        ["api", "packages", rest @ ..] => {
            packages::route(node, None, rest, method, &query, req).await
        }
        ["api", space, "packages", rest @ ..] => {
            packages::route(node, Some(space), rest, method, &query, req).await
        }
        ["api", "configuration", "certificates", "certificate-global"] if method == Method::GET => {
            match &node.server {
                Some(s) => json(StatusCode::OK, &api::global_certificate(&s.thumbprint)),
                None => not_found(),
            }
        }
        ["api", "machines", rest @ ..] => node.machines(None, rest, method, &query, req).await,
        ["api", space, "machines", rest @ ..] => {
            node.machines(Some(space), rest, method, &query, req).await
        }
        ["api", space] if space.starts_with("Spaces-") => {
            unknown_space(Some(space)).unwrap_or_else(|| spaces::home(&method))
        }
        _ => not_found(),
    }
}

impl Node {
    async fn machines(
        &self,
        space: Option<&str>,
        rest: &[&str],
        method: Method,
        query: &str,
        req: Request<Incoming>,
    ) -> Reply {
        if let Some(r) = unknown_space(space) {
            return r;
        }
        let seq = |id: &str| {
            id.strip_prefix("Machines-")
                .and_then(|n| n.parse::<i64>().ok())
        };
        match (rest, method) {
            ([], Method::POST) => self.add_machine(req).await,
            ([], Method::GET) => {
                let (mut skip, mut take) = (0, api::DEFAULT_TAKE);
                for (k, v) in api::query_pairs(query) {
                    match (k.as_str(), v.parse::<usize>()) {
                        ("skip", Ok(n)) if n <= MAX_SKIP => skip = n,
                        ("take", Ok(n)) => take = n.min(MAX_TAKE),
                        ("skip" | "take", _) => {
                            return bad_request(&format!("{k} must be a number up to {MAX_SKIP}"));
                        }
                        _ => {}
                    }
                }
                match self.db().machines(skip, take) {
                    Ok((total, rows)) => json(
                        StatusCode::OK,
                        &api::page_of(
                            "Machine",
                            "/api/Spaces-1/machines",
                            rows.iter().map(api::machine_resource).collect(),
                            total,
                            skip,
                            take,
                        ),
                    ),
                    Err(e) => server_error(&format!("database error: {e}")),
                }
            }
            ([id], Method::GET) => match seq(id).map(|s| self.db().machine(s)) {
                Some(Ok(Some(m))) => json(StatusCode::OK, &api::machine_resource(&m)),
                Some(Err(e)) => server_error(&format!("database error: {e}")),
                _ => not_found(),
            },
            ([id], Method::DELETE) => match seq(id).map(|s| self.db().delete_machine(s)) {
                Some(Ok(true)) => json(StatusCode::OK, &serde_json::json!({})),
                Some(Err(e)) => server_error(&format!("database error: {e}")),
                _ => not_found(),
            },
            ([] | [_], _) => method_not_allowed(),
            _ => not_found(),
        }
    }

    async fn add_machine(&self, req: Request<Incoming>) -> Reply {
        let body = match read_body(req, &self.cfg.timeouts).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let new: api::NewMachine = match serde_json::from_slice(&body) {
            Ok(m) => m,
            Err(e) => return bad_request(&format!("the body is not a machine: {e}")),
        };
        let e = &new.endpoint;
        if new.name.trim().is_empty() {
            return bad_request("Name is required");
        }
        if e.communication_style != "TentacleActive" {
            return bad_request(&format!(
                "the reference cluster registers polling Tentacles (TentacleActive) only, not {:?}",
                e.communication_style
            ));
        }
        if !e.uri.starts_with("poll://") || e.uri.len() > 200 {
            return bad_request("Endpoint.Uri must be a poll:// subscription ID");
        }
        if e.thumbprint.len() != 40 || !e.thumbprint.chars().all(|c| c.is_ascii_hexdigit()) {
            return bad_request("Endpoint.Thumbprint must be 40 hexadecimal digits");
        }
        match self
            .db()
            .add_machine(api::SPACE_ID, &new.name, &e.uri, &e.thumbprint)
        {
            Ok(m) => json(StatusCode::CREATED, &api::machine_resource(&m)),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    async fn tasks(
        &self,
        space: Option<&str>,
        rest: &[&str],
        method: Method,
        query: &str,
        req: Request<Incoming>,
    ) -> Reply {
        if let Some(r) = unknown_space(space) {
            return r;
        }
        match (rest, method) {
            ([], Method::POST) => self.create_task(req).await,
            ([], Method::GET) => self.list_tasks(query),
            ([id], Method::GET) => self.get_task(id),
            ([id, "raw"], Method::GET) => self.raw_log(id),
            ([id, "details"], Method::GET) => self.task_details(id),
            ([id, "cancel"], Method::POST) => self.cancel_task(id),
            ([] | [_] | [_, "raw" | "details" | "cancel"], _) => method_not_allowed(),
            _ => not_found(),
        }
    }

    async fn create_task(&self, req: Request<Incoming>) -> Reply {
        let body = match read_body(req, &self.cfg.timeouts).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let new: api::NewTask = match serde_json::from_slice(&body) {
            Ok(t) => t,
            Err(e) => return bad_request(&format!("the body is not a task: {e}")),
        };
        if !api::TASK_NAMES.contains(&new.name.as_str()) {
            return bad_request(&format!(
                "{:?} is not a task type that can be queued; use one of {}",
                new.name,
                api::TASK_NAMES.join(", ")
            ));
        }
        if new.description.trim().is_empty() {
            return bad_request("Description is required");
        }
        if new.space_id.as_deref().is_some_and(|s| s != api::SPACE_ID) {
            return bad_request("SpaceId must be Spaces-1 on the reference cluster");
        }
        let arguments = new
            .arguments
            .unwrap_or_else(|| Value::Object(Default::default()));
        if !arguments.is_object() {
            return bad_request("Arguments must be an object");
        }
        match self.db().create_task(
            api::SPACE_ID,
            &new.name,
            &new.description,
            &arguments.to_string(),
        ) {
            Ok(t) => json(StatusCode::CREATED, &api::task_resource(&t)),
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    fn list_tasks(&self, query: &str) -> Reply {
        let mut f = TaskFilter {
            take: api::DEFAULT_TAKE,
            ..TaskFilter::default()
        };
        for (k, v) in api::query_pairs(query) {
            let list = || v.split([',', ' ']).filter(|s| !s.is_empty());
            match k.as_str() {
                "skip" | "take" => {
                    let Some(n) = v.parse::<usize>().ok().filter(|n| *n <= MAX_SKIP) else {
                        return bad_request(&format!("{k} must be a number up to {MAX_SKIP}"));
                    };
                    if k == "skip" {
                        f.skip = n;
                    } else {
                        f.take = n.min(MAX_TAKE);
                    }
                }
                "states" => {
                    for s in list() {
                        match s.parse() {
                            Ok(state) => f.states.push(state),
                            Err(()) => return bad_request(&format!("unknown task state {s:?}")),
                        }
                    }
                }
                "node" if !v.is_empty() => f.node = Some(v.clone()),
                "ids" => {
                    for id in list() {
                        match api::task_seq(id) {
                            Some(seq) => f.ids.push(seq),
                            None => return bad_request(&format!("{id:?} is not a task ID")),
                        }
                    }
                    if f.ids.len() > MAX_TAKE {
                        return bad_request(&format!("at most {MAX_TAKE} ids at a time"));
                    }
                }
                _ => {}
            }
        }
        match self.db().tasks(&f) {
            Ok((total, rows)) => {
                let items = rows.iter().map(api::task_resource).collect();
                let mut page = api::collection("ServerTask", "/api/tasks", items, 0, f.take.max(1));
                // The page is already cut; fix the totals the helper counted.
                page["TotalResults"] = total.into();
                let pages = total.div_ceil(f.take.max(1)).max(1);
                page["NumberOfPages"] = pages.into();
                page["LastPageNumber"] = (pages - 1).into();
                json(StatusCode::OK, &page)
            }
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

    /// The task, or the answer to give when there is none.
    fn find_task(&self, id: &str) -> Result<super::db::TaskRow, Box<Reply>> {
        let Some(seq) = api::task_seq(id) else {
            return Err(Box::new(not_found()));
        };
        match self.db().task(seq) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(Box::new(not_found())),
            Err(e) => Err(Box::new(server_error(&format!("database error: {e}")))),
        }
    }

    fn get_task(&self, id: &str) -> Reply {
        match self.find_task(id) {
            Ok(t) => json(StatusCode::OK, &api::task_resource(&t)),
            Err(r) => *r,
        }
    }

    /// Cancels a task that has not finished; answers with the task.
    fn cancel_task(&self, id: &str) -> Reply {
        let task = match self.find_task(id) {
            Ok(t) => t,
            Err(r) => return *r,
        };
        if let Err(e) = self.db().cancel(task.seq) {
            return server_error(&format!("failed to cancel the task: {e}"));
        }
        self.get_task(id)
    }

    /// The task log from this node's storage: where storage is not shared,
    /// a log written by another node is missing here, which is the point.
    fn task_log(&self, task: &TaskRow) -> Result<Vec<u8>, Box<Reply>> {
        match std::fs::read(work::log_path(&self.cfg.storage, task.seq)) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Box::new(server_error(&format!(
                "failed to read the task log: {e}"
            )))),
        }
    }

    fn task_details(&self, id: &str) -> Reply {
        match self
            .find_task(id)
            .and_then(|t| Ok(api::task_details(&t, &self.task_log(&t)?)))
        {
            Ok(details) => json(StatusCode::OK, &details),
            Err(r) => *r,
        }
    }

    fn raw_log(&self, id: &str) -> Reply {
        let text = match self.find_task(id).and_then(|t| self.task_log(&t)) {
            Ok(text) => text,
            Err(r) => return *r,
        };
        let mut r = Response::new(full(text));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    }

    fn summary(&self) -> Reply {
        let db = self.db();
        let (rows, counts) = match (db.nodes(), db.running_counts()) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(e), _) | (_, Err(e)) => return server_error(&format!("database error: {e}")),
        };
        let nodes: Vec<Value> = rows
            .iter()
            .map(|r| {
                let running = counts
                    .iter()
                    .find(|(n, _)| *n == r.name)
                    .map(|(_, c)| *c)
                    .unwrap_or(0);
                let mut v = self.resource(r);
                v["RunningTaskCount"] = running.into();
                v
            })
            .collect();
        json(
            StatusCode::OK,
            &serde_json::json!({
                "Nodes": nodes,
                "Links": { "Self": "/api/octopusservernodes/summary" },
            }),
        )
    }

    fn details(&self, id: &str) -> Reply {
        let db = self.db();
        let row = match db.node(id) {
            Ok(Some(r)) => r,
            Ok(None) => return not_found(),
            Err(e) => return server_error(&format!("database error: {e}")),
        };
        match db.running_counts() {
            Ok(counts) => {
                let running = counts
                    .iter()
                    .find(|(n, _)| *n == row.name)
                    .map(|(_, c)| *c)
                    .unwrap_or(0);
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "Id": row.id,
                        "RunningTasks": running,
                        "Links": { "Self": format!("/api/octopusservernodes/{}/details", row.id) },
                    }),
                )
            }
            Err(e) => server_error(&format!("database error: {e}")),
        }
    }

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
        for (k, v) in api::query_pairs(query) {
            match (k.as_str(), v.parse::<usize>()) {
                ("skip", Ok(n)) => skip = n,
                ("take", Ok(n)) => take = n.min(MAX_TAKE),
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
        let body = match read_body(req, &self.cfg.timeouts).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let update: NodeUpdate = match serde_json::from_slice(&body) {
            Ok(u) => u,
            Err(e) => return bad_request(&format!("the body is not a node: {e}")),
        };
        if update.id != id {
            return bad_request(&format!(
                "the body's Id {:?} does not match the path's {id:?}",
                update.id
            ));
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

/// A `skip` or `take`: a whole number up to [`MAX_SKIP`], else why not.
fn count_param(name: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_SKIP)
        .ok_or_else(|| format!("{name} must be a whole number up to {MAX_SKIP}"))
}

/// The 404 for a space other than the reference cluster's one.
fn unknown_space(space: Option<&str>) -> Option<Reply> {
    let space = space.filter(|s| *s != api::SPACE_ID)?;
    Some(json(
        StatusCode::NOT_FOUND,
        &api::error(&format!(
            "The space {space:?} was not found; the reference cluster has one space, {}.",
            api::SPACE_ID
        )),
    ))
}

/// Reads a small JSON body, or gives the answer to refuse it with: 413
/// past [`MAX_JSON_BODY`], 408 when the whole body has not come within the
/// cluster's body-stall time, 400 when the body breaks off. A body refused
/// as too large is read on behind the answer (docs/robustness.md, "the
/// body behind a refusal"): closing on a client still sending resets the connection,
/// and the client (or the LB before it) then never reads the 413.
async fn read_body(req: Request<Incoming>, waits: &super::ServerTimeouts) -> Result<Bytes, Reply> {
    enum Read {
        Whole(Vec<u8>),
        TooLarge,
        Broken(hyper::Error),
    }
    let mut body = req.into_body();
    let read = async {
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame.map(|f| f.into_data()) {
                Ok(Ok(data)) if bytes.len() + data.len() > MAX_JSON_BODY => return Read::TooLarge,
                Ok(Ok(data)) => bytes.extend_from_slice(&data),
                // Trailers: nothing a JSON body needs.
                Ok(Err(_)) => {}
                Err(e) => return Read::Broken(e),
            }
        }
        Read::Whole(bytes)
    };
    match tokio::time::timeout(waits.body_stall(), read).await {
        Ok(Read::Whole(b)) => Ok(Bytes::from(b)),
        Ok(Read::TooLarge) => {
            tokio::spawn(super::http::linger(body, waits.linger()));
            Err(json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &api::error(&format!("the body must be at most {MAX_JSON_BODY} bytes")),
            ))
        }
        Ok(Read::Broken(e)) => Err(bad_request(&format!("the body could not be read: {e}"))),
        Err(_) => Err(json(
            StatusCode::REQUEST_TIMEOUT,
            &api::error(&format!(
                "the body did not arrive within {}",
                humantime::format_duration(waits.body_stall())
            )),
        )),
    }
}

fn bad_request(message: &str) -> Reply {
    json(StatusCode::BAD_REQUEST, &api::error(message))
}

fn json(status: StatusCode, body: &Value) -> Reply {
    let mut r = Response::new(full(body.to_string()));
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
