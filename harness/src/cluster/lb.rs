//! The built-in HTTP load balancer: one OS process (the harness binary in
//! its hidden LB mode) in front of the nodes, modelled on an AWS ALB.
//!
//! - Round robin over the nodes in rotation.
//! - Active health checks on the ping path: interval, timeout, healthy and
//!   unhealthy thresholds, and the accepted status codes (ALB's default
//!   matcher is 200 alone, so a draining node's 418 takes it out; a matcher
//!   widened to 200-499 keeps it in).
//! - Or passive checks only, as nginx OSS: a node leaves rotation for
//!   `fail_timeout` after `max_fails` failed connections within
//!   `fail_timeout`, and a bodiless request whose connection failed is
//!   retried on the next node. A 418 is a response, so it never counts.
//! - When no node is in rotation it fails open and uses them all, as ALB
//!   does.
//! - Otherwise no retries: a request sent to a dead node gets 502
//!   (refused) or 504 (no response headers within the backend timeout),
//!   which is what a client of a real LB sees until the health checks catch
//!   up.
//! - A request body above `max_body` gets 413, as with nginx's
//!   `client_max_body_size`.
//!
//! Each change of a node's state is printed on stdout as
//! `HEALTH <node> up|down`; the supervisor records it in the history.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

type BoxError = Box<dyn StdError + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// What the LB process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// The nodes, in order.
    pub backends: Vec<BackendConfig>,
    /// Active health checks.
    pub health: HealthConfig,
    /// Wait for a node's response headers at most this long.
    pub backend_timeout_ms: u64,
    /// Largest request body forwarded.
    pub max_body: Option<u64>,
}

/// One node behind the LB.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendConfig {
    /// Node name.
    pub name: String,
    /// Node address.
    pub addr: SocketAddr,
}

/// Health check settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Off: every node stays in rotation forever.
    pub enabled: bool,
    /// Passive checks only (nginx OSS) instead of active probes.
    #[serde(default)]
    pub passive: bool,
    /// Passive: failed connections within `fail_timeout_ms` that take a node
    /// out.
    #[serde(default)]
    pub max_fails: u32,
    /// Passive: the counting window, and how long a node stays out.
    #[serde(default)]
    pub fail_timeout_ms: u64,
    /// Path probed.
    pub path: String,
    /// Time between probes of one node.
    pub interval_ms: u64,
    /// A probe without a response in this time fails.
    pub timeout_ms: u64,
    /// Consecutive passes to return to rotation.
    pub healthy_threshold: u32,
    /// Consecutive failures to leave rotation.
    pub unhealthy_threshold: u32,
    /// Status codes that pass, as inclusive ranges.
    pub accept: Vec<(u16, u16)>,
}

struct Backend {
    name: String,
    base: String,
    healthy: AtomicBool,
    /// Passive checks: recent failed connections, and the end of the time
    /// out of rotation.
    passive: Mutex<Passive>,
}

#[derive(Default)]
struct Passive {
    failures: Vec<Instant>,
    down_until: Option<Instant>,
}

struct Lb {
    backends: Vec<Backend>,
    next: AtomicUsize,
    client: Client<HttpConnector, Body>,
    backend_timeout: Duration,
    max_body: Option<u64>,
    /// Passive checks: (max_fails, fail_timeout), or None.
    passive: Option<(u32, Duration)>,
}

/// Runs the LB until the process is killed. Prints `READY <addr>` once it
/// listens.
pub fn main(cfg: LbConfig) -> Result<(), String> {
    // The LB carries every request of the run: give it both cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("failed to bind {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(cfg.backend_timeout_ms)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let lb = Arc::new(Lb {
            backends: cfg
                .backends
                .iter()
                .map(|b| Backend {
                    name: b.name.clone(),
                    base: format!("http://{}", b.addr),
                    healthy: AtomicBool::new(true),
                    passive: Mutex::new(Passive::default()),
                })
                .collect(),
            next: AtomicUsize::new(0),
            client,
            backend_timeout: Duration::from_millis(cfg.backend_timeout_ms),
            max_body: cfg.max_body,
            passive: (cfg.health.enabled && cfg.health.passive).then(|| {
                (
                    cfg.health.max_fails.max(1),
                    Duration::from_millis(cfg.health.fail_timeout_ms),
                )
            }),
        });
        if cfg.health.enabled && !cfg.health.passive {
            for i in 0..lb.backends.len() {
                tokio::spawn(health_loop(lb.clone(), i, cfg.health.clone()));
            }
        }
        println!("READY {addr}");
        super::http::serve(listener, move |req| {
            let lb = lb.clone();
            async move { lb.proxy(req).await }
        })
        .await;
        Ok(())
    })
}

/// Headers that describe one hop, not the request.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Lb {
    /// Round robin over the nodes in rotation; all of them when none is.
    /// The turn counts among the healthy nodes only, so a node out of
    /// rotation does not hand its share to its neighbour.
    fn pick(&self) -> &Backend {
        if self.passive.is_some() {
            self.revive();
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let is_up = |b: &&Backend| b.healthy.load(Ordering::Relaxed);
        let up = self.backends.iter().filter(is_up).count();
        if up == 0 {
            return &self.backends[turn % self.backends.len()];
        }
        self.backends
            .iter()
            .filter(is_up)
            .nth(turn % up)
            .unwrap_or(&self.backends[0])
    }

    /// Passive checks: nodes whose time out of rotation is over come back.
    fn revive(&self) {
        let now = Instant::now();
        for b in &self.backends {
            if b.healthy.load(Ordering::Relaxed) {
                continue;
            }
            let mut p = b.passive.lock().unwrap_or_else(|e| e.into_inner());
            if p.down_until.is_some_and(|t| t <= now) {
                p.down_until = None;
                p.failures.clear();
                b.healthy.store(true, Ordering::Relaxed);
                println!("HEALTH {} up", b.name);
            }
        }
    }

    /// Passive checks: counts a failed connection to a node, and takes the
    /// node out once `max_fails` fall within `fail_timeout`.
    fn failed(&self, b: &Backend) {
        let Some((max_fails, window)) = self.passive else {
            return;
        };
        let now = Instant::now();
        let mut p = b.passive.lock().unwrap_or_else(|e| e.into_inner());
        p.failures.retain(|t| now.duration_since(*t) < window);
        p.failures.push(now);
        if p.failures.len() >= max_fails as usize && b.healthy.load(Ordering::Relaxed) {
            p.down_until = Some(now + window);
            b.healthy.store(false, Ordering::Relaxed);
            println!("HEALTH {} down", b.name);
        }
    }

    async fn proxy(&self, req: Request<Incoming>) -> Response<Body> {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(max), Some(len)) = (self.max_body, declared)
            && len > max
        {
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        for h in HOP_BY_HOP {
            parts.headers.remove(HeaderName::from_static(h));
        }
        // Passive mode retries a request whose connection failed on the
        // next node, as nginx does; only a request without a body can be
        // sent again, because the body streams through.
        let bodiless = declared.unwrap_or(0) == 0
            && !parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
        let tries = if self.passive.is_some() && bodiless {
            self.backends.len()
        } else {
            1
        };
        let mut body = Some(body);
        for attempt in 0..tries {
            let backend = self.pick();
            let mut head = parts.clone();
            head.uri = match format!("{}{}", backend.base, path).parse::<Uri>() {
                Ok(uri) => uri,
                Err(_) => return reply(StatusCode::BAD_REQUEST, "bad request target"),
            };
            let body: Body = match (body.take(), self.max_body) {
                // A body without a Content-Length is counted as it streams.
                (Some(b), Some(max)) => Limited::new(b, max as usize).boxed(),
                (Some(b), None) => b.map_err(BoxError::from).boxed(),
                (None, _) => Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed(),
            };
            let sent = self.client.request(Request::from_parts(head, body));
            match tokio::time::timeout(self.backend_timeout, sent).await {
                Ok(Ok(resp)) => return resp.map(|b| b.map_err(BoxError::from).boxed()),
                Ok(Err(e)) if caused_by_length_limit(&e) => {
                    return reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
                }
                Ok(Err(e)) => {
                    self.failed(backend);
                    if !e.is_connect() || attempt + 1 == tries {
                        return reply(StatusCode::BAD_GATEWAY, "bad gateway");
                    }
                }
                Err(_) => {
                    self.failed(backend);
                    return reply(StatusCode::GATEWAY_TIMEOUT, "gateway timeout");
                }
            }
        }
        reply(StatusCode::BAD_GATEWAY, "bad gateway")
    }
}

fn caused_by_length_limit(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn reply(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

async fn health_loop(lb: Arc<Lb>, index: usize, hc: HealthConfig) {
    let backend = &lb.backends[index];
    let uri: Uri = match format!("{}{}", backend.base, hc.path).parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("health check path {:?} is not usable: {e}", hc.path);
            return;
        }
    };
    let timeout = Duration::from_millis(hc.timeout_ms);
    let mut ticker = tokio::time::interval(Duration::from_millis(hc.interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut passes, mut failures) = (0u32, 0u32);
    loop {
        ticker.tick().await;
        let probe = async {
            let req = Request::get(uri.clone())
                .body(
                    Empty::<Bytes>::new()
                        .map_err(|never| match never {})
                        .boxed(),
                )
                .ok()?;
            let resp = lb.client.request(req).await.ok()?;
            let status = resp.status().as_u16();
            // Read the body so the connection can be reused.
            resp.into_body().collect().await.ok()?;
            Some(status)
        };
        let passed = matches!(
            tokio::time::timeout(timeout, probe).await,
            Ok(Some(status)) if hc.accept.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
        );
        let healthy = backend.healthy.load(Ordering::Relaxed);
        if passed {
            passes += 1;
            failures = 0;
            if !healthy && passes >= hc.healthy_threshold {
                backend.healthy.store(true, Ordering::Relaxed);
                println!("HEALTH {} up", backend.name);
            }
        } else {
            failures += 1;
            passes = 0;
            if healthy && failures >= hc.unhealthy_threshold {
                backend.healthy.store(false, Ordering::Relaxed);
                println!("HEALTH {} down", backend.name);
            }
        }
    }
}
