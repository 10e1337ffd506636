//! The built-in HTTP load balancer: one OS process (the harness binary in
//! its hidden LB mode) in front of the nodes, modelled on an AWS ALB.
//!
//! - Round robin over the nodes in rotation.
//! - Active health checks on the ping path: interval, timeout, healthy and
//!   unhealthy thresholds, and the accepted status codes (ALB's default
//!   matcher is 200 alone, so a draining node's 418 takes it out; a matcher
//!   widened to 200-499 keeps it in).
//! - Or passive checks only, as nginx OSS: a node leaves rotation for
//!   `fail_timeout` after `max_fails` failed or timed-out requests within
//!   `fail_timeout` (nginx's `error` and `timeout`), and a bodiless request
//!   whose connection was refused is retried on the next node. A 418 is a
//!   response, so it never counts.
//! - When no node is in rotation it fails open and uses them all, as ALB
//!   does.
//! - Otherwise no retries: a request sent to a dead node gets 502
//!   (refused) or 504 (a timeout), which is what a client of a real LB sees
//!   until the health checks catch up.
//! - The limits that break uploads (docs/lb-limits.md, "Defaults that
//!   break uploads"): a body above `max_body` gets 413 (or IIS's 404.13);
//!   no byte either way for the idle timeout gets 504 (ALB); more than the
//!   body read timeout between two reads of the body gets 408 (nginx's
//!   `client_body_timeout`); no response headers within the backend
//!   timeout, counted from the end of the body, gets 504 (GCP, Envoy,
//!   nginx's `proxy_read_timeout`); and request buffering reads the whole
//!   body to a file before the node sees a byte (nginx's
//!   `proxy_request_buffering on`).
//!
//! Each change of a node's state is printed on stdout as
//! `HEALTH <node> up|down`; the supervisor records it in the history.

use std::error::Error as StdError;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use crate::forward::TcpForward;
use crate::forward::forward_tcp;

type BoxError = Box<dyn StdError + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// The name under which the load balancer appears in events, PID files
/// and target files.
pub const LB_NAME: &str = "lb";

/// The `Server` header the built-in LB puts on its own answers, by which
/// an upload's answer is known to be the LB's.
pub const LB_SERVER: &str = "harness-lb";

/// What the LB process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// The nodes, in order.
    pub backends: Vec<BackendConfig>,
    /// Active health checks.
    pub health: HealthConfig,
    /// Limits that matter for uploads.
    pub limits: Limits,
    /// Where buffered request bodies are kept while they are forwarded.
    pub spool_dir: std::path::PathBuf,
    /// TCP ports forwarded at L4, for polling Tentacles.
    #[serde(default)]
    pub tcp: Vec<TcpForward>,
    /// How long it waits for a client's headers and reads a refused body.
    #[serde(default)]
    pub timeouts: crate::timeouts::ServerTimeouts,
}

/// The limits of docs/lb-limits.md ("What Octopus asks of a load
/// balancer", "Defaults that break uploads").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// For the response headers, counted from the end of the request body.
    pub backend_timeout: Option<Duration>,
    /// Largest request body.
    pub max_body: Option<u64>,
    /// What a larger body gets: 413, or 404 for IIS's 404.13.
    pub too_large_status: u16,
    /// No byte either way for this long: 504.
    pub idle_timeout: Option<Duration>,
    /// Between two reads of the request body: 408.
    pub body_read_timeout: Option<Duration>,
    /// Read the whole body before forwarding it.
    pub request_buffering: bool,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    limits: Limits,
    spool_dir: std::path::PathBuf,
    /// Passive checks: (max_fails, fail_timeout), or None.
    passive: Option<(u32, Duration)>,
    /// How long a refused body is read behind the answer.
    linger: Duration,
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
        for f in &cfg.tcp {
            let l = TcpListener::bind(f.listen)
                .await
                .map_err(|e| format!("failed to bind the forwarded port {}: {e}", f.listen))?;
            tokio::spawn(forward_tcp(l, f.backends.clone(), CONNECT_TIMEOUT));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // As ALB's 10s to connect to a target.
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
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
            limits: cfg.limits,
            spool_dir: cfg.spool_dir.clone(),
            passive: (cfg.health.enabled && cfg.health.passive).then(|| {
                (
                    cfg.health.max_fails.max(1),
                    Duration::from_millis(cfg.health.fail_timeout_ms),
                )
            }),
            linger: cfg.timeouts.linger(),
        });
        if cfg.health.enabled && !cfg.health.passive {
            for i in 0..lb.backends.len() {
                tokio::spawn(health_loop(lb.clone(), i, cfg.health.clone()));
            }
        }
        println!("READY {addr}");
        crate::http::serve(listener, cfg.timeouts.header_read(), move |req| {
            let lb = lb.clone();
            async move { lb.proxy(req).await }
        })
        .await;
        Ok(())
    })
}

/// Time to connect to a node, as an ALB's to its targets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
        let limits = &self.limits;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(max), Some(len)) = (limits.max_body, declared)
            && len > max
        {
            // Refused on its headers, at once; the body is read and dropped
            // for a while behind the answer (nginx's lingering close), so
            // the client sees the 413 instead of a broken pipe.
            tokio::spawn(crate::http::linger(req.into_body(), self.linger));
            return self.too_large();
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
        let bodiless = declared.unwrap_or(0) == 0
            && !parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
        let activity = Arc::new(Activity::new());
        if bodiless {
            // Nothing to send: the response timer runs from now.
            activity.body_done_us.store(0, Ordering::Relaxed);
        }
        // nginx's request buffering: the whole body first, then the node.
        let (spooled, mut body) = if limits.request_buffering && !bodiless {
            match self.spool(body, &activity).await {
                Ok(file) => {
                    parts
                        .headers
                        .insert(CONTENT_LENGTH, HeaderValue::from(file.len));
                    (Some(file), None)
                }
                Err(resp) => return resp,
            }
        } else {
            (None, Some(body))
        };
        // Passive mode retries a request whose connection failed on the
        // next node, as nginx does; only a request without a body can be
        // sent again, because the body streams through.
        let tries = if self.passive.is_some() && bodiless {
            self.backends.len()
        } else {
            1
        };
        for attempt in 0..tries {
            let backend = self.pick();
            let mut head = parts.clone();
            head.uri = match format!("{}{}", backend.base, path).parse::<Uri>() {
                Ok(uri) => uri,
                Err(_) => return reply(StatusCode::BAD_REQUEST, "bad request target"),
            };
            let watched = match Self::outgoing(spooled.as_ref(), body.take(), &activity, limits) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("failed to read a buffered body: {e}");
                    return reply(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
                }
            };
            let sent = self.client.request(Request::from_parts(head, watched));
            match self.wait(sent, &activity).await {
                Waited::Response(resp) => {
                    return resp.map(|b| b.map_err(BoxError::from).boxed());
                }
                Waited::Failed(e) => {
                    if let Some(resp) = self.refused_body(&activity) {
                        return resp;
                    }
                    self.failed(backend);
                    if !e.is_connect() || attempt + 1 == tries {
                        return reply(StatusCode::BAD_GATEWAY, "bad gateway");
                    }
                }
                Waited::TimedOut(what) => {
                    // While the client is still sending, the wait is its
                    // own, not the node's.
                    if activity.body_done_us.load(Ordering::Relaxed) != NOT_YET {
                        self.failed(backend);
                    }
                    return reply(StatusCode::GATEWAY_TIMEOUT, what);
                }
            }
        }
        reply(StatusCode::BAD_GATEWAY, "bad gateway")
    }

    /// The body sent to a node on one attempt: the spooled file read
    /// again, or the client's body streaming through under the LB's body
    /// limits, or nothing; watched, so the waits see every byte. An error
    /// is the spooled file's.
    fn outgoing(
        spooled: Option<&Spooled>,
        body: Option<Incoming>,
        activity: &Arc<Activity>,
        limits: &Limits,
    ) -> std::io::Result<Body> {
        let inner: Body = match (spooled, body) {
            (Some(f), _) => f.reopen()?,
            (None, Some(b)) => b.map_err(BoxError::from).boxed(),
            (None, None) => Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed(),
        };
        // A spooled body is the LB's own: no limits apply twice.
        let streamed = spooled.is_none();
        Ok(Watched::new(
            inner,
            streamed,
            activity.clone(),
            limits.max_body.filter(|_| streamed),
            limits.body_read_timeout.filter(|_| streamed),
        )
        .boxed())
    }

    /// The answer to a request that failed on the client's side of the
    /// LB (its body too large, too slow or cut short), which is no fault
    /// of the node's: the node stays in rotation (a hostile client must
    /// not eject it). None where the node failed.
    fn refused_body(&self, activity: &Activity) -> Option<Response<Body>> {
        if activity.too_large.load(Ordering::Relaxed) {
            Some(self.too_large())
        } else if activity.body_timed_out.load(Ordering::Relaxed) {
            Some(reply(
                StatusCode::REQUEST_TIMEOUT,
                "request body read timeout",
            ))
        } else if activity.client_failed.load(Ordering::Relaxed) {
            Some(reply(
                StatusCode::BAD_REQUEST,
                "the request body was cut short",
            ))
        } else {
            None
        }
    }

    /// The answer to a body over `max_body`: 413, or IIS's 404.13.
    fn too_large(&self) -> Response<Body> {
        if self.limits.too_large_status == 404 {
            reply(
                StatusCode::NOT_FOUND,
                "HTTP Error 404.13 - Not Found: the request filtering module is configured to deny a request that exceeds the request content length",
            )
        } else {
            reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        }
    }

    /// Waits for a node's response headers, watching the idle timeout (no
    /// byte either way) and the response timeout (from the end of the
    /// body).
    async fn wait<F>(&self, sent: F, activity: &Activity) -> Waited
    where
        F: std::future::Future<
                Output = Result<Response<Incoming>, hyper_util::client::legacy::Error>,
            >,
    {
        tokio::pin!(sent);
        let micros = |d: Duration| d.as_micros() as u64;
        let idle = self.limits.idle_timeout.map(micros);
        let response = self.limits.backend_timeout.map(micros);
        loop {
            let now = activity.now_us();
            let mut next = now + WATCH_US;
            if let Some(idle) = idle {
                let at = activity.last_us.load(Ordering::Relaxed) + idle;
                if now >= at {
                    return Waited::TimedOut("gateway timeout (idle timeout)");
                }
                next = next.min(at);
            }
            let done = activity.body_done_us.load(Ordering::Relaxed);
            if let (Some(limit), true) = (response, done != NOT_YET) {
                let at = done + limit;
                if now >= at {
                    return Waited::TimedOut("gateway timeout (no response in time)");
                }
                next = next.min(at);
            }
            tokio::select! {
                r = &mut sent => return match r {
                    Ok(resp) => Waited::Response(resp),
                    Err(e) => Waited::Failed(e),
                },
                _ = tokio::time::sleep(Duration::from_micros(next - now)) => {}
            }
        }
    }

    /// Reads the whole body into a file, enforcing the body limits.
    async fn spool(
        &self,
        body: Incoming,
        activity: &Arc<Activity>,
    ) -> Result<Spooled, Response<Body>> {
        let limits = &self.limits;
        let mut watched = Watched::new(
            body.map_err(BoxError::from).boxed(),
            true,
            activity.clone(),
            limits.max_body,
            limits.body_read_timeout,
        );
        let path = self
            .spool_dir
            .join(format!("{:016x}.body", getrandom::u64().unwrap_or(0)));
        let fail = |e: std::io::Error| {
            eprintln!("failed to buffer a request body: {e}");
            reply(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        };
        std::fs::create_dir_all(&self.spool_dir).map_err(fail)?;
        let mut spooled = Spooled {
            file: std::fs::File::options()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(fail)?,
            path,
            len: 0,
        };
        loop {
            match watched.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        spooled.file.write_all(&data).map_err(fail)?;
                        spooled.len += data.len() as u64;
                    }
                }
                Some(Err(_)) => {
                    return Err(if activity.too_large.load(Ordering::Relaxed) {
                        self.too_large()
                    } else if activity.body_timed_out.load(Ordering::Relaxed) {
                        reply(StatusCode::REQUEST_TIMEOUT, "request body read timeout")
                    } else {
                        reply(StatusCode::BAD_REQUEST, "the request body was cut short")
                    });
                }
            }
        }
        // The response timer starts once the node has the body, not now.
        activity.body_done_us.store(NOT_YET, Ordering::Relaxed);
        Ok(spooled)
    }
}

/// How waiting for a node ended.
enum Waited {
    Response(Response<Incoming>),
    Failed(hyper_util::client::legacy::Error),
    TimedOut(&'static str),
}

/// How often the wait looks at the clocks at most.
const WATCH_US: u64 = 100_000;

/// `body_done_us` before the body has ended.
const NOT_YET: u64 = u64::MAX;

/// What one request has done so far, shared by its body and its wait.
struct Activity {
    start: Instant,
    /// The last byte either way, microseconds since the start.
    last_us: AtomicU64,
    /// When the body ended, or NOT_YET.
    body_done_us: AtomicU64,
    too_large: AtomicBool,
    body_timed_out: AtomicBool,
    /// The client's body broke off (it closed, or sent a bad chunk).
    client_failed: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_us: AtomicU64::new(0),
            body_done_us: AtomicU64::new(NOT_YET),
            too_large: AtomicBool::new(false),
            body_timed_out: AtomicBool::new(false),
            client_failed: AtomicBool::new(false),
        }
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// A request body on its way through the LB: it counts bytes against
/// `max_body`, ends with an error after `read_timeout` without data, and
/// tells the wait when bytes move and when the body ends.
struct Watched {
    inner: Body,
    /// The body is the client's (not the LB's own spooled copy): its
    /// errors are the client's fault.
    from_client: bool,
    activity: Arc<Activity>,
    max_body: Option<u64>,
    read_timeout: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    seen: u64,
}

impl Watched {
    fn new(
        inner: Body,
        from_client: bool,
        activity: Arc<Activity>,
        max_body: Option<u64>,
        read_timeout: Option<Duration>,
    ) -> Self {
        Self {
            inner,
            from_client,
            activity,
            max_body,
            read_timeout,
            sleep: None,
            seen: 0,
        }
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if let Some(limit) = this.read_timeout {
                    let sleep = this
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                    if sleep.as_mut().poll(cx).is_ready() {
                        this.activity.body_timed_out.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err("request body read timeout".into())));
                    }
                }
                Poll::Pending
            }
            Poll::Ready(None) => {
                let now = this.activity.now_us();
                this.activity.body_done_us.store(now, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.max_body.is_some_and(|max| this.seen > max) {
                        this.activity.too_large.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err("request body too large".into())));
                    }
                }
                let now = this.activity.now_us();
                this.activity.last_us.store(now, Ordering::Relaxed);
                // A body with a Content-Length is not polled past its last
                // byte, so its end is seen here, not as a final None.
                if this.inner.is_end_stream() {
                    this.activity.body_done_us.store(now, Ordering::Relaxed);
                }
                // The next read gets a whole timeout again.
                this.sleep = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if this.from_client {
                    this.activity.client_failed.store(true, Ordering::Relaxed);
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request body the LB has read to a file; removed when dropped.
struct Spooled {
    file: std::fs::File,
    path: std::path::PathBuf,
    len: u64,
}

impl Spooled {
    /// The body again, from the start of the file.
    fn reopen(&self) -> std::io::Result<Body> {
        let file = std::fs::File::open(&self.path)?;
        Ok(crate::http::FileBody::new(file, self.len)
            .map_err(BoxError::from)
            .boxed())
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    // Names the LB on its own answers, as nginx, ALB and IIS do, so a
    // client can tell them from a node's.
    headers.insert(hyper::header::SERVER, HeaderValue::from_static(LB_SERVER));
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
