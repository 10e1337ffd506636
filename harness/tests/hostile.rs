//! Hostile clients against a reference node and the built-in LB, each case
//! sent to both: slow, truncated, oversized and malformed HTTP, odd
//! multipart uploads, thousands of idle connections, and Halibut peers that
//! send garbage or never answer. Every case must get a defined answer or a
//! closed connection, leave no package or task behind, keep memory
//! bounded, and never stop a well-behaved client, which runs beside them
//! the whole time and must see every answer right.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use halibut::limits::MAX_MESSAGE;
use halibut::tls::{TlsIdentity, client_config};
use halibut::{self, Bson, Control, Doc, Identity, Message, PREAMBLE, Response};
use harness::client::{ApiClient, ApiKey};
use harness::scenario::{self, PollingLayout, PollingListeners};
use reference_cluster::ServerTimeouts;
use reference_cluster::api::{NewTask, TaskState};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::cluster::{Booted, boot, boot_waiting, fast_spec};

/// How long one raw exchange may wait for the server.
const ANSWER: Duration = Duration::from_secs(10);

/// The servers' waits for a client (its headers, its body's next bytes,
/// a refused body behind the answer, a polling peer's handshake and
/// NEXT), set short: the tests see each run out without waiting out the
/// production values, whose defaults a unit test holds to `limits`.
const WAITS: Duration = Duration::from_secs(5);

/// A well-behaved client beside the hostile ones: pings each URL in turn
/// and checks the node that answers.
struct Bystander {
    ok: AtomicU64,
    wrong: std::sync::Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Bystander {
    /// Pings each URL in turn, each on a new connection (no pool), so a
    /// listener that stopped accepting is seen.
    fn start(urls: Vec<(String, Vec<String>)>) -> Arc<Self> {
        let http = harness::client::http_builder(&harness::target::Trust::System)
            .unwrap()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let me = Arc::new(Self {
            ok: AtomicU64::new(0),
            wrong: std::sync::Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let b = me.clone();
        tokio::spawn(async move {
            while !b.stop.load(Ordering::Relaxed) {
                for (url, names) in &urls {
                    let got = async {
                        let resp = http.get(url).send().await.map_err(|e| e.to_string())?;
                        let status = resp.status().as_u16();
                        let body: serde_json::Value =
                            resp.json().await.map_err(|e| e.to_string())?;
                        Ok::<_, String>((status, body["Name"].as_str().unwrap_or("").to_string()))
                    };
                    match timeout(Duration::from_secs(5), got).await {
                        Ok(Ok((200, name))) if names.contains(&name) => {
                            b.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => b.wrong.lock().unwrap().push(format!("{url}: {other:?}")),
                    }
                }
                sleep(Duration::from_millis(25)).await;
            }
        });
        me
    }

    /// Answers seen so far; panics on any wrong one.
    fn ok_so_far(&self) -> u64 {
        let wrong = self.wrong.lock().unwrap();
        assert!(wrong.is_empty(), "the well-behaved client saw: {wrong:?}");
        self.ok.load(Ordering::Relaxed)
    }

    /// Waits for `n` more right answers.
    async fn sees_more(&self, n: u64, while_what: &str) {
        let start = self.ok_so_far();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.ok_so_far() < start + n {
            assert!(
                Instant::now() < deadline,
                "the well-behaved client got no answers while {while_what}"
            );
            sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a raw client saw.
#[derive(Debug)]
struct Seen {
    /// The status of the first answer, if one came.
    status: Option<u16>,
    /// Everything read, lossily as text.
    text: String,
    /// The server closed the connection.
    closed: bool,
}

/// One step of a raw client.
enum Step {
    Send(Vec<u8>),
    Pause(Duration),
    /// Closes the write side (a client that stops sending).
    Finish,
}

/// Reads until the server closes or `limit` passes.
async fn read_all(io: &mut (impl AsyncRead + Unpin), limit: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => return (got, false),
        }
    }
}

/// Plays `steps` on a new connection to `addr`, then reads what comes
/// back. A write the server refuses (it closed) ends the sending.
async fn raw(addr: &str, steps: Vec<Step>, limit: Duration) -> Seen {
    let mut s = timeout(ANSWER, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    for step in steps {
        let sent = match step {
            Step::Send(bytes) => timeout(ANSWER, s.write_all(&bytes))
                .await
                .is_ok_and(|r| r.is_ok()),
            Step::Pause(d) => {
                sleep(d).await;
                true
            }
            Step::Finish => s.shutdown().await.is_ok(),
        };
        if !sent {
            break;
        }
    }
    let (got, closed) = read_all(&mut s, limit).await;
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok());
    Seen {
        status,
        text,
        closed,
    }
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Most memory any process of the cluster may have held at its peak
/// (VmHWM) through the hostile cases: under fixtures/scenarios/kill/
/// every-phase.yaml a node peaked at 36 MiB and the LB at 30 MiB; a
/// reader that buffered a 1 MiB header per connection, a 2 GiB BSON size
/// or a DataStream whole would go far past it.
const PEAK_MEMORY_KIB: u64 = 256 * 1024;

/// Every process's peak memory stayed under [`PEAK_MEMORY_KIB`].
fn memory_bounded(b: &Booted) {
    let peaks = b.cluster.peak_memory();
    assert!(!peaks.is_empty());
    for (name, kib) in peaks {
        assert!(kib < PEAK_MEMORY_KIB, "{name} peaked at {kib} KiB");
    }
}

/// Raises this process's descriptor limit to its hard limit, for the
/// thousands of idle connections the test opens.
fn raise_descriptor_limit(need: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= need,
        "the hard descriptor limit {hard} is below the {need} this test needs"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

/// A cluster for the hostile cases: the LB's health checks and backend
/// timeout are loose enough that a busy 2-core machine does not take a
/// node out of rotation and turn the well-behaved client's pings into
/// errors.
fn hostile_spec() -> scenario::Cluster {
    let mut spec = fast_spec(2);
    let hc = &mut spec.lb.health_check;
    hc.interval.value = "500ms".parse().unwrap();
    hc.timeout.value = "3s".parse().unwrap();
    spec.lb.backend_timeout = Some(scenario::spanned("30s".parse().unwrap()));
    spec
}

/// No process of the cluster died or panicked: each is the one that
/// started, still alive, and no log says it panicked.
fn none_panicked(b: &Booted, pids_before: &[(String, u32)]) {
    assert_eq!(
        b.cluster.pids(),
        pids_before,
        "a process of the cluster restarted"
    );
    for (name, pid) in pids_before {
        assert!(crate::util::alive(*pid), "{name} (pid {pid}) died");
    }
    for entry in std::fs::read_dir(b.dir().join("logs")).unwrap() {
        let path = entry.unwrap().path();
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!log.contains("panicked"), "{}: {log}", path.display());
    }
}

/// Packages and tasks visible through the LB.
async fn visible(b: &Booted) -> (u64, u64) {
    let lb = b.cluster.lb_url();
    let (_, packages) = b.get(&format!("{lb}/api/Spaces-1/packages"), true).await;
    let (_, tasks) = b.get(&format!("{lb}/api/tasks"), true).await;
    (
        packages["TotalResults"].as_u64().unwrap(),
        tasks["TotalResults"].as_u64().unwrap(),
    )
}

/// Files under the shared storage's package and upload folders.
fn stored_files(b: &Booted) -> Vec<std::path::PathBuf> {
    let root = b.dir().join("shared-storage");
    ["Packages", ".incoming"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(root.join(sub)).ok())
        .flat_map(|d| d.map(|e| e.unwrap().path()))
        .collect()
}

fn request(head: &str, key: &str, extra: &str) -> Vec<u8> {
    format!("{head}\r\nHost: x\r\nX-Octopus-ApiKey: {key}\r\n{extra}\r\n").into_bytes()
}

/// A multipart body with one part per `(disposition, content)`.
fn multipart(parts: &[(&[u8], &[u8])], close: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for (disposition, content) in parts {
        body.extend_from_slice(b"--B\r\nContent-Disposition: form-data; ");
        body.extend_from_slice(disposition);
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    if close {
        body.extend_from_slice(b"--B--\r\n");
    }
    body
}

/// Runs a test's body on its own runtime, holding `share` of the machine
/// (docs of `util::exclusive`), within `limit`.
fn alone(limit: Duration, share: crate::util::Share, body: impl Future<Output = ()>) {
    let _share = share;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { timeout(limit, body).await.expect("the test ends in time") });
}

#[test]
fn hostile_http_clients_get_an_answer_or_a_close_and_the_cluster_keeps_serving() {
    // One unit: thousands of idle and slow clients, but 0.31 cores on
    // average alone (its /proc/stat busy time over its wall time).
    alone(
        WAITS + Duration::from_secs(150),
        crate::util::latency_bound(),
        hostile_http(),
    );
}

async fn hostile_http() {
    raise_descriptor_limit(10_500);
    let b = boot_waiting(hostile_spec(), ServerTimeouts::all(WAITS)).await;
    let lb = b.cluster.lb_url();
    let n1 = b.node_url("n1");
    let pids = b.cluster.pids();
    let bystander = Bystander::start(vec![
        (
            format!("{n1}/api/octopusservernodes/ping"),
            vec![b.name("n1")],
        ),
        (
            format!("{lb}/api/octopusservernodes/ping"),
            vec![b.name("n1"), b.name("n2")],
        ),
    ]);
    bystander.sees_more(10, "starting").await;
    let (packages_before, tasks_before) = visible(&b).await;
    let key = b.key.clone();
    let targets = [("n1", host_of(&n1)), ("the LB", host_of(&lb))];

    // Slowloris, on both at once and beside everything else: a header line
    // a second, never the end of the head. The server gives up.
    let slowloris: Vec<_> = targets
        .iter()
        .map(|(who, addr)| {
            let (who, addr) = (who.to_string(), addr.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let mut steps = vec![Step::Send(
                    b"GET /api/octopusservernodes/ping HTTP/1.1\r\nHost: x\r\n".to_vec(),
                )];
                for i in 0..60 {
                    steps.push(Step::Pause(Duration::from_secs(1)));
                    steps.push(Step::Send(format!("X-Slow-{i}: x\r\n").into_bytes()));
                }
                let seen = raw(&addr, steps, ANSWER).await;
                let took = started.elapsed();
                assert!(seen.closed, "{who} kept a slowloris client: {seen:?}");
                assert!(
                    took < WAITS + Duration::from_secs(8),
                    "{who} held a slowloris client for {took:?}"
                );
                assert!(matches!(seen.status, None | Some(408)), "{who}: {seen:?}");
            })
        })
        .collect();

    // Stalled bodies, beside everything else: an upload and a new task that
    // send part of what they announce and then nothing, for longer than
    // the node waits. The node gives up (400 for the upload, 408 for the
    // task), through the LB too.
    let mut stalled = Vec::new();
    for (who, addr) in &targets {
        let mut upload = request(
            "POST /api/Spaces-1/packages/raw HTTP/1.1",
            &key,
            &format!(
                "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n",
                1 << 20
            ),
        );
        upload.extend_from_slice(&multipart(
            &[(
                b"name=\"file\"; filename=\"Stalled.1.0.0.zip\"",
                &[7u8; 64 * 1024],
            )],
            false,
        ));
        let mut task = request(
            "POST /api/tasks HTTP/1.1",
            &key,
            "Content-Type: application/json\r\nContent-Length: 100\r\n",
        );
        task.extend_from_slice(br#"{"Name":"#);
        for (bytes, want) in [(upload, 400), (task, 408)] {
            let (who, addr) = (who.to_string(), addr.clone());
            stalled.push(tokio::spawn(async move {
                let wait = WAITS + Duration::from_secs(20);
                let seen = raw(&addr, vec![Step::Send(bytes)], wait).await;
                assert_eq!(seen.status, Some(want), "{who}, a stalled body: {seen:?}");
            }));
        }
    }

    for (who, addr) in &targets {
        // Header floods: 10,000 headers, or one of 1 MiB.
        let many: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
        let seen = raw(
            addr,
            vec![Step::Send(request(
                "GET /api/octopusservernodes/ping HTTP/1.1",
                &key,
                &many,
            ))],
            ANSWER,
        )
        .await;
        assert_eq!(seen.status, Some(431), "{who}, 10,000 headers: {seen:?}");
        let huge = format!("X-Huge: {}\r\n", "a".repeat(1 << 20));
        let seen = raw(
            addr,
            vec![Step::Send(request(
                "GET /api/octopusservernodes/ping HTTP/1.1",
                &key,
                &huge,
            ))],
            ANSWER,
        )
        .await;
        assert_eq!(seen.status, Some(431), "{who}, a 1 MiB header: {seen:?}");

        // A body longer than its Content-Length: the rest is read as the
        // next request, which is garbage.
        let mut longer = request(
            "POST /api/tasks HTTP/1.1",
            &key,
            "Content-Type: application/json\r\nContent-Length: 2\r\n",
        );
        longer.extend_from_slice(b"{}GARBAGE \x00\x01 NOT HTTP\r\n\r\n");
        let seen = raw(addr, vec![Step::Send(longer)], ANSWER).await;
        assert_eq!(seen.status, Some(400), "{who}, longer body: {seen:?}");
        assert!(seen.text.contains("Name"), "{who}: {seen:?}");
        assert!(seen.closed, "{who}, longer body: {seen:?}");

        // Shorter than announced, then the client stops sending.
        let mut shorter = request(
            "POST /api/tasks HTTP/1.1",
            &key,
            "Content-Type: application/json\r\nContent-Length: 100\r\n",
        );
        shorter.extend_from_slice(br#"{"Name":"#);
        let seen = raw(addr, vec![Step::Send(shorter), Step::Finish], ANSWER).await;
        assert!(
            seen.closed && matches!(seen.status, None | Some(400)),
            "{who}, shorter body: {seen:?}"
        );

        // A chunked body cut off before its last chunk.
        let mut chunked = request(
            "POST /api/tasks HTTP/1.1",
            &key,
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        );
        chunked.extend_from_slice(b"8\r\n{\"Name\":\r\n");
        let seen = raw(addr, vec![Step::Send(chunked), Step::Finish], ANSWER).await;
        assert!(
            seen.closed && matches!(seen.status, None | Some(400)),
            "{who}, truncated chunked: {seen:?}"
        );

        // Not HTTP at all.
        let seen = raw(
            addr,
            vec![Step::Send(b"\x16\x03\x01\x00\xff garbage\r\n\r\n".to_vec())],
            ANSWER,
        )
        .await;
        assert!(
            seen.closed && matches!(seen.status, None | Some(400)),
            "{who}, garbage: {seen:?}"
        );
        bystander
            .sees_more(4, &format!("{who} had malformed requests"))
            .await;

        // An upload that stops in the middle of a chunked body.
        let upload = "multipart/form-data; boundary=B";
        let head = multipart(
            &[(b"name=\"file\"; filename=\"Cut.1.0.0.zip\"", b"")],
            false,
        );
        let head = &head[..head.len() - 2];
        let mut cut = request(
            "POST /api/Spaces-1/packages/raw HTTP/1.1",
            &key,
            &format!("Content-Type: {upload}\r\nTransfer-Encoding: chunked\r\n"),
        );
        cut.extend_from_slice(format!("{:x}\r\n", head.len() + 1000).as_bytes());
        cut.extend_from_slice(head);
        cut.extend_from_slice(&[9u8; 1000]);
        cut.extend_from_slice(b"\r\n");
        let seen = raw(addr, vec![Step::Send(cut), Step::Finish], ANSWER).await;
        assert!(
            seen.closed && matches!(seen.status, None | Some(400)),
            "{who}, cut upload: {seen:?}"
        );

        // Multipart oddities, each refused with its reason.
        let non_utf8: &[u8] = b"name=\"file\"; filename=\"\xff\xfe.1.0.zip\"";
        let long = format!("name=\"file\"; filename=\"{}.1.0.zip\"", "a".repeat(10_000));
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "no file part",
                multipart(&[(b"name=\"note\"", b"hi")], true),
                "no file part",
            ),
            (
                "two file parts",
                multipart(
                    &[
                        (b"name=\"file\"; filename=\"A.1.0.zip\"", b"one"),
                        (b"name=\"file\"; filename=\"B.1.0.zip\"", b"two"),
                    ],
                    true,
                ),
                "more than one file part",
            ),
            (
                "a 10,000-character name",
                multipart(&[(long.as_bytes(), b"x")], true),
                "FileNameTooLong",
            ),
            (
                "path traversal",
                multipart(
                    &[(b"name=\"file\"; filename=\"../../x.1.0.zip\"", b"x")],
                    true,
                ),
                "not a package file name",
            ),
            (
                "a name that is not UTF-8",
                multipart(&[(non_utf8, b"x")], true),
                "not UTF-8",
            ),
            (
                "no closing delimiter",
                multipart(&[(b"name=\"file\"; filename=\"A.1.0.zip\"", b"x")], false),
                "ended before",
            ),
        ];
        for (what, body, says) in cases {
            let mut req = request(
                "POST /api/Spaces-1/packages/raw HTTP/1.1",
                &key,
                &format!(
                    "Content-Type: {upload}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                ),
            );
            req.extend_from_slice(&body);
            let seen = raw(addr, vec![Step::Send(req)], ANSWER).await;
            assert_eq!(seen.status, Some(400), "{who}, {what}: {seen:?}");
            assert!(seen.text.contains(says), "{who}, {what}: {seen:?}");
        }
        let body = multipart(&[(b"name=\"file\"; filename=\"A.1.0.zip\"", b"x")], true);
        let mut req = request(
            "POST /api/Spaces-1/packages/raw HTTP/1.1",
            &key,
            &format!(
                "Content-Type: multipart/form-data\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            ),
        );
        req.extend_from_slice(&body);
        let seen = raw(addr, vec![Step::Send(req)], ANSWER).await;
        assert_eq!(seen.status, Some(400), "{who}, no boundary: {seen:?}");
        assert!(
            seen.text.contains("boundary"),
            "{who}, no boundary: {seen:?}"
        );
        bystander
            .sees_more(4, &format!("{who} had odd uploads"))
            .await;
    }

    // 5,000 idle connections to a node and 5,000 to the LB, held while the
    // well-behaved client goes on.
    let mut idle = Vec::new();
    for (_, addr) in &targets {
        for _ in 0..5_000 {
            idle.push(
                timeout(ANSWER, TcpStream::connect(addr))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
    }
    sleep(Duration::from_millis(500)).await;
    bystander
        .sees_more(20, "10,000 idle connections were open")
        .await;
    drop(idle);

    for s in slowloris {
        timeout(WAITS + Duration::from_secs(30), s)
            .await
            .unwrap()
            .unwrap();
    }
    // While the stalled uploads wait, nothing of them is visible.
    assert_eq!(
        visible(&b).await.0,
        packages_before,
        "a stalled upload is visible"
    );
    for s in stalled {
        timeout(WAITS + Duration::from_secs(60), s)
            .await
            .unwrap()
            .unwrap();
    }
    bystander
        .sees_more(10, "the slow clients were closed")
        .await;
    bystander.stop.store(true, Ordering::Relaxed);

    // Nothing left behind, nothing died, memory bounded.
    let gone = crate::util::poll(Duration::from_secs(10), || {
        stored_files(&b).is_empty().then_some(())
    });
    assert!(gone.is_some(), "left behind: {:?}", stored_files(&b));
    assert_eq!(visible(&b).await, (packages_before, tasks_before));
    none_panicked(&b, &pids);
    memory_bounded(&b);
}

fn polling_spec() -> scenario::Cluster {
    let mut spec = fast_spec(2);
    spec.tasks.poll.value = "200ms".parse().unwrap();
    spec.polling = Some(PollingListeners {
        layout: scenario::spanned(PollingLayout::UniqueAddress),
        poll_wait: scenario::spanned("1s".parse().unwrap()),
        pickup_timeout: scenario::spanned("5s".parse().unwrap()),
    });
    spec
}

/// A Halibut peer that does what Tentacle does up to the identification,
/// then whatever the case says.
struct Peer<S> {
    tls: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match timeout(ANSWER, self.tls.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The next message from the node.
    async fn message(&mut self) -> Option<Option<Message>> {
        loop {
            if let Ok(Some((doc, used))) = halibut::inflate(&self.buf) {
                self.buf.drain(..used);
                return halibut::open_envelope(&doc).ok();
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> bool {
        timeout(ANSWER, self.tls.write_all(bytes))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the node closes the connection within `limit`.
    async fn closed_within(&mut self, limit: Duration) -> bool {
        read_all(&mut self.tls, limit).await.1
    }
}

async fn connect(
    addr: std::net::SocketAddr,
    me: &TlsIdentity,
    server: &str,
) -> Peer<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = timeout(ANSWER, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config(me, server).unwrap());
    let name = rustls::pki_types::ServerName::try_from("octopus").unwrap();
    let tls = timeout(ANSWER, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    Peer {
        tls,
        buf: Vec::new(),
    }
}

/// Preamble and identification, then the node's identification.
async fn subscribe<S: AsyncRead + AsyncWrite + Unpin>(p: &mut Peer<S>, subscription: &str) {
    assert!(p.send(PREAMBLE).await);
    assert!(
        p.send(Identity::Subscriber(subscription.into()).line().as_bytes())
            .await
    );
    assert_eq!(p.line().await.as_deref(), Some("MX-SERVER 1.0"));
    assert_eq!(p.line().await.as_deref(), Some(""));
}

/// A response as bytes on the wire, with its message's `$type` replaced.
fn envelope_typed(type_name: &str, response: &Response) -> Vec<u8> {
    let mut envelope = halibut::envelope(Some(&Message::Response(response.clone())));
    let Some((_, Bson::Document(Doc(inner)))) = envelope.0.first_mut() else {
        panic!("an envelope holds its message");
    };
    inner[0].1 = Bson::String(type_name.into());
    halibut::deflate(&halibut::encode(&envelope))
}

/// A well-behaved polling Tentacle (the harness's own simulated one),
/// registered and polling one node.
struct Good {
    fleet: harness::fleet::Fleet,
    machine: String,
}

impl Good {
    async fn start(lb: &ApiClient, node: std::net::SocketAddr, server: &str) -> Self {
        use rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let t = Arc::new(harness::fleet::Tentacle::generate("good", &mut rng).unwrap());
        let machine = lb
            .register_machine(&t.name, &t.subscription, t.thumbprint())
            .await
            .unwrap();
        let (events, _rx) = harness::history::Events::channel(harness::history::Clock::start());
        let spec = harness::fleet::FleetSpec {
            connections: 1,
            script: Duration::from_millis(10),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(1),
            receive_timeout: Duration::from_secs(32),
        };
        let target = harness::fleet::Target {
            node: "n1".into(),
            addr: node,
        };
        let fleet =
            harness::fleet::Fleet::start(&[t], &[target], &spec, server, &events, 8).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while fleet.open_connections() < 1 {
            assert!(
                Instant::now() < deadline,
                "the good Tentacle never connected"
            );
            sleep(Duration::from_millis(50)).await;
        }
        Self { fleet, machine }
    }

    /// A health check pinned to the node the cluster Names `pinned`.
    async fn passes_a_health_check(&self, lb: &ApiClient, pinned: &str, when: &str) {
        let task = NewTask {
            name: "Health".into(),
            description: format!("the good Tentacle, {when}"),
            arguments: Some(json!({ "MachineIds": [self.machine], "PinnedNode": pinned })),
            space_id: None,
        };
        let id = lb.create_task(&task, ANSWER).await.id.expect("a task");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = lb.tasks(std::slice::from_ref(&id)).await.unwrap();
            match t[0].state {
                TaskState::Success => return,
                TaskState::Queued | TaskState::Executing => {
                    assert!(
                        Instant::now() < deadline,
                        "{when}: the health check never ended"
                    );
                    sleep(Duration::from_millis(100)).await;
                }
                other => panic!(
                    "{when}: the good Tentacle's health check ended {other:?}: {:?}",
                    t[0].error_message
                ),
            }
        }
    }
}

/// What a hostile peer answers a request with.
type Answer = fn(&Response) -> Vec<u8>;

/// A registered machine's hostile Tentacle, polling n1.
struct HealthPeer {
    lb: ApiClient,
    n1: std::net::SocketAddr,
    me: TlsIdentity,
    server: String,
    subscription: &'static str,
    machine: String,
    /// n1's Name in the cluster, which pins the task to it.
    pinned: String,
}

impl HealthPeer {
    /// Answers a health check's request with what the case gives; the
    /// task must fail, and the connection close.
    async fn answered_with(&self, what: &str, says: &str, answer: Answer) {
        let mut p = connect(self.n1, &self.me, &self.server).await;
        subscribe(&mut p, self.subscription).await;
        let task = NewTask {
            name: "Health".into(),
            description: format!("hostile: {what}"),
            arguments: Some(json!({ "MachineIds": [self.machine], "PinnedNode": self.pinned })),
            space_id: None,
        };
        let id = self.lb.create_task(&task, ANSWER).await.id.expect("a task");
        // Null messages while the task is picked up, then its request.
        let request = loop {
            match p.message().await {
                Some(None) => assert!(p.send(Control::Next.line().as_bytes()).await),
                Some(Some(Message::Request(r))) => break r,
                other => panic!("{what}: expected a request, got {other:?}"),
            }
            assert_eq!(p.line().await.as_deref(), Some("PROCEED"), "{what}");
        };
        let response = Response {
            id: request.id.clone(),
            error: None,
            result: Bson::Null,
        };
        p.send(&answer(&response)).await;
        assert!(
            p.closed_within(ANSWER).await,
            "{what}: the node kept the connection"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.lb.tasks(std::slice::from_ref(&id)).await.unwrap();
            match t[0].state {
                TaskState::Failed => {
                    // Failed for this case's reason, not for another.
                    let error = t[0].error_message.clone().unwrap_or_default();
                    assert!(
                        error.contains(says),
                        "{what}: the task failed with {error:?}"
                    );
                    break;
                }
                TaskState::Queued | TaskState::Executing => {
                    assert!(Instant::now() < deadline, "{what}: the task never ended");
                    sleep(Duration::from_millis(100)).await;
                }
                other => panic!("{what}: the task ended {other:?}"),
            }
        }
    }
}

#[test]
fn hostile_halibut_peers_are_cut_off_and_the_node_keeps_polling() {
    // One unit: 0.18 cores on average alone.
    alone(
        WAITS + Duration::from_secs(120),
        crate::util::latency_bound(),
        hostile_halibut(),
    );
}

async fn hostile_halibut() {
    let b = boot_waiting(polling_spec(), ServerTimeouts::all(WAITS)).await;
    let c = &b.cluster;
    let pids = c.pids();
    let lb = ApiClient::new(&c.lb_url(), ApiKey::new(b.key.clone())).unwrap();
    let server = lb.server_thumbprint().await.unwrap();
    let n1 = c
        .polling_endpoints()
        .iter()
        .find(|e| e.node == "n1")
        .unwrap()
        .addr;
    // The node's own polling port, and the LB's, which forwards to a node.
    let routes = [("n1", n1), ("the LB", c.lb_polling_endpoint().unwrap())];
    let me = TlsIdentity::generate("hostile").unwrap();
    let subscription = "poll://hostilepeerxyzabcde/";
    let machine = lb
        .register_machine("hostile", subscription, &me.thumbprint)
        .await
        .unwrap();
    let n1_url = b.node_url("n1");
    let bystander = Bystander::start(vec![(
        format!("{n1_url}/api/octopusservernodes/ping"),
        vec![b.name("n1")],
    )]);
    // A well-behaved Tentacle polling n1: its health check passes before
    // the hostile peers and after them.
    let good = Good::start(&lb, n1, &server).await;
    good.passes_a_health_check(&lb, &b.name("n1"), "before the hostile peers")
        .await;

    // Never NEXT: after the node's null message, silence. The node closes
    // after its heartbeat timeout; the other cases go on meanwhile.
    let mut silent = Vec::new();
    for (via, addr) in routes {
        let mut p = connect(addr, &me, &server).await;
        subscribe(&mut p, subscription).await;
        silent.push(tokio::spawn(async move {
            assert_eq!(p.message().await, Some(None), "{via}: the null message");
            let closed = p.closed_within(WAITS + Duration::from_secs(10)).await;
            assert!(closed, "{via}: the node kept a peer that never sent NEXT");
        }));
    }

    for (via, addr) in routes {
        // Garbage after the preamble: a line far past the longest one.
        let mut p = connect(addr, &me, &server).await;
        assert!(p.send(PREAMBLE).await);
        p.send(&vec![b'z'; 64 * 1024]).await;
        assert!(
            p.closed_within(ANSWER).await,
            "{via}: garbage after the preamble"
        );
        // Garbage where a control line is due.
        let mut p = connect(addr, &me, &server).await;
        subscribe(&mut p, subscription).await;
        assert_eq!(p.message().await, Some(None));
        p.send(b"\x00\xffNOT A CONTROL LINE\r\n").await;
        assert!(p.closed_within(ANSWER).await, "{via}: garbage for NEXT");
        bystander.sees_more(4, "garbage came in over Halibut").await;
    }

    // Answers to a health check's request, on n1's own port (the task is
    // pinned to n1; the LB's port could lead to either node).
    let peer = HealthPeer {
        lb: lb.clone(),
        n1,
        me,
        server,
        subscription,
        machine,
        pinned: b.name("n1"),
    };
    let cases: Vec<(&str, &str, Answer)> = vec![
        ("an unknown $type", "unknown $type", |r| {
            envelope_typed("Halibut.Transport.Protocol.Nonsense, Evil", r)
        }),
        (
            "a BSON document that says it is 2 GiB",
            "BSON document of 2147483647 bytes",
            |_| {
                let mut doc = (i32::MAX).to_le_bytes().to_vec();
                doc.extend_from_slice(&[0x02, b'x', 0, 1, 0, 0, 0, 0, 0]);
                halibut::deflate(&doc)
            },
        ),
        (
            "a message that inflates past the largest",
            "inflates past",
            |_| halibut::deflate(&vec![0u8; MAX_MESSAGE + 1024]),
        ),
        (
            "a DataStream whose trailing length disagrees",
            "DataStream says 12 bytes and then 999",
            |r| {
                let id = halibut::Guid([3; 16]);
                let carrying = Response {
                    result: halibut::data_stream(id, 12),
                    ..r.clone()
                };
                let mut bytes = halibut::deflate(&halibut::encode(&halibut::envelope(Some(
                    &Message::Response(carrying),
                ))));
                let mut frame = halibut::stream_frame(id, b"stream bytes");
                let n = frame.len();
                frame[n - 8..].copy_from_slice(&999i64.to_le_bytes());
                bytes.extend_from_slice(&frame);
                bytes
            },
        ),
    ];
    for (what, says, answer) in cases {
        peer.answered_with(what, says, answer).await;
        bystander.sees_more(4, what).await;
    }

    for s in silent {
        timeout(WAITS + Duration::from_secs(20), s)
            .await
            .unwrap()
            .unwrap();
    }
    good.passes_a_health_check(&lb, &b.name("n1"), "after the hostile peers")
        .await;
    bystander.ok_so_far();
    memory_bounded(&b);
    good.fleet.stop().await;
    bystander.stop.store(true, Ordering::Relaxed);
    none_panicked(&b, &pids);
}

/// A JSON body far past the node's limit, through the built-in LB, 50
/// times in a row: each gets the node's own 413 (its JSON error), never
/// the LB's 502 for a connection the node reset while the body was still
/// coming.
#[test]
fn a_json_body_too_large_gets_the_node_s_413_through_the_lb_every_time() {
    // The whole machine: fifty 100 MiB bodies take both cores.
    alone(Duration::from_secs(240), crate::util::exclusive(), async {
        let b = boot(hostile_spec()).await;
        let url = format!("{}/api/Spaces-1/machines", b.cluster.lb_url());
        let body = bytes::Bytes::from(vec![b' '; 100 << 20]);
        let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
        for i in 0..50 {
            // A connection each, as a client retrying would open.
            let client = harness::client::http_builder(&harness::target::Trust::System)
                .and_then(|b| b.build().map_err(|e| e.to_string()))
                .expect("a client");
            let resp = timeout(
                Duration::from_secs(30),
                client
                    .post(&url)
                    .header("X-Octopus-ApiKey", &b.key)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send(),
            )
            .await
            .unwrap_or_else(|_| panic!("request {i} got no answer in time"))
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
            let status = resp.status().as_u16();
            let text = timeout(Duration::from_secs(30), resp.text())
                .await
                .expect("the answer's body in time")
                .unwrap_or_default();
            if status == 413 {
                assert!(text.contains("ErrorMessage"), "request {i}: {text}");
            }
            *statuses.entry(status).or_default() += 1;
        }
        assert_eq!(statuses, [(413, 50)].into(), "statuses of 50 requests");
    });
}
