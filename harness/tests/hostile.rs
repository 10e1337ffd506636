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

use harness::client::{ApiClient, ApiKey};
use harness::cluster::api::{NewTask, TaskState};
use harness::halibut::tls::{TlsIdentity, client_config};
use harness::halibut::{self, Bson, Control, Doc, Identity, Message, PREAMBLE, Response};
use harness::limits::{HEADER_READ_TIMEOUT, HEARTBEAT_TIMEOUT, MAX_MESSAGE};
use harness::scenario::{self, PollingLayout, PollingListeners};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::cluster::{Booted, boot, fast_spec};

/// How long one raw exchange may wait for the server.
const ANSWER: Duration = Duration::from_secs(10);

/// A well-behaved client beside the hostile ones: pings each URL in turn
/// and checks the node that answers.
struct Bystander {
    ok: AtomicU64,
    wrong: std::sync::Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Bystander {
    fn start(http: reqwest::Client, urls: Vec<(String, Vec<String>)>) -> Arc<Self> {
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

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// No process of the cluster panicked, and each is still the one that
/// started (none died).
fn none_panicked(b: &Booted, pids_before: &[(String, u32)]) {
    assert_eq!(
        b.cluster.pids(),
        pids_before,
        "a process of the cluster died"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_http_clients_get_an_answer_or_a_close_and_the_cluster_keeps_serving() {
    timeout(Duration::from_secs(240), hostile_http())
        .await
        .expect("the hostile-client test ends in time");
}

async fn hostile_http() {
    let b = boot(fast_spec(2)).await;
    let lb = b.cluster.lb_url();
    let n1 = b.node_url("n1");
    let pids = b.cluster.pids();
    let rss_before: Vec<u64> = pids.iter().map(|(_, p)| rss_kib(*p)).collect();
    let bystander = Bystander::start(
        b.http().clone(),
        vec![
            (
                format!("{n1}/api/octopusservernodes/ping"),
                vec!["n1".into()],
            ),
            (
                format!("{lb}/api/octopusservernodes/ping"),
                vec!["n1".into(), "n2".into()],
            ),
        ],
    );
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
                    took < HEADER_READ_TIMEOUT + Duration::from_secs(8),
                    "{who} held a slowloris client for {took:?}"
                );
                assert!(matches!(seen.status, None | Some(408)), "{who}: {seen:?}");
            })
        })
        .collect();

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

        // Uploads that stall, or stop in the middle of a chunked body.
        let upload = "multipart/form-data; boundary=B";
        let head = multipart(
            &[(b"name=\"file\"; filename=\"Stalled.1.0.0.zip\"", b"")],
            false,
        );
        let head = &head[..head.len() - 2];
        let mut stalled = request(
            "POST /api/Spaces-1/packages/raw HTTP/1.1",
            &key,
            &format!("Content-Type: {upload}\r\nContent-Length: {}\r\n", 1 << 20),
        );
        stalled.extend_from_slice(head);
        stalled.extend_from_slice(&vec![7u8; 64 * 1024]);
        let addr2 = addr.clone();
        let stall = tokio::spawn(async move {
            raw(
                &addr2,
                vec![Step::Send(stalled), Step::Pause(Duration::from_secs(3))],
                Duration::from_millis(100),
            )
            .await
        });
        sleep(Duration::from_secs(1)).await;
        bystander
            .sees_more(4, &format!("an upload to {who} stalled"))
            .await;
        assert_eq!(
            visible(&b).await.0,
            packages_before,
            "{who}: a stalled upload is visible"
        );
        timeout(ANSWER, stall).await.unwrap().unwrap();

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
        timeout(HEADER_READ_TIMEOUT + Duration::from_secs(30), s)
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
    for ((name, pid), before) in pids.iter().zip(rss_before) {
        let after = rss_kib(*pid);
        assert!(
            after < before + 128 * 1024,
            "{name} grew from {before} KiB to {after} KiB"
        );
    }
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
}

impl HealthPeer {
    /// Answers a health check's request with what the case gives; the
    /// task must fail, and the connection close.
    async fn answered_with(&self, what: &str, answer: Answer) {
        let mut p = connect(self.n1, &self.me, &self.server).await;
        subscribe(&mut p, self.subscription).await;
        let task = NewTask {
            name: "Health".into(),
            description: format!("hostile: {what}"),
            arguments: Some(json!({ "MachineIds": [self.machine], "PinnedNode": "n1" })),
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
                TaskState::Failed => break,
                TaskState::Queued | TaskState::Executing => {
                    assert!(Instant::now() < deadline, "{what}: the task never ended");
                    sleep(Duration::from_millis(100)).await;
                }
                other => panic!("{what}: the task ended {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_halibut_peers_are_cut_off_and_the_node_keeps_polling() {
    timeout(
        HEARTBEAT_TIMEOUT + Duration::from_secs(90),
        hostile_halibut(),
    )
    .await
    .expect("the hostile-peer test ends in time");
}

async fn hostile_halibut() {
    let b = boot(polling_spec()).await;
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
    let me = TlsIdentity::generate("hostile").unwrap();
    let subscription = "poll://hostilepeerxyzabcde/";
    let machine = lb
        .register_machine("hostile", subscription, &me.thumbprint)
        .await
        .unwrap();
    let n1_url = b.node_url("n1");
    let bystander = Bystander::start(
        b.http().clone(),
        vec![(
            format!("{n1_url}/api/octopusservernodes/ping"),
            vec!["n1".into()],
        )],
    );

    // Never NEXT: after the node's null message, silence. The node closes
    // after its heartbeat timeout; the other cases go on meanwhile.
    let silent = {
        let mut p = connect(n1, &me, &server).await;
        subscribe(&mut p, subscription).await;
        tokio::spawn(async move {
            assert_eq!(p.message().await, Some(None), "the null message");
            p.closed_within(HEARTBEAT_TIMEOUT + Duration::from_secs(10))
                .await
        })
    };

    // Garbage after the preamble: a line far past the longest one.
    let mut p = connect(n1, &me, &server).await;
    assert!(p.send(PREAMBLE).await);
    p.send(&vec![b'z'; 64 * 1024]).await;
    assert!(p.closed_within(ANSWER).await, "garbage after the preamble");
    // Garbage where a control line is due.
    let mut p = connect(n1, &me, &server).await;
    subscribe(&mut p, subscription).await;
    assert_eq!(p.message().await, Some(None));
    p.send(b"\x00\xffNOT A CONTROL LINE\r\n").await;
    assert!(p.closed_within(ANSWER).await, "garbage for NEXT");
    bystander.sees_more(4, "garbage came in over Halibut").await;

    let peer = HealthPeer {
        lb,
        n1,
        me,
        server,
        subscription,
        machine,
    };
    let cases: Vec<(&str, Answer)> = vec![
        ("an unknown $type", |r| {
            envelope_typed("Halibut.Transport.Protocol.Nonsense, Evil", r)
        }),
        ("a BSON document that says it is 2 GiB", |_| {
            let mut doc = (i32::MAX).to_le_bytes().to_vec();
            doc.extend_from_slice(&[0x02, b'x', 0, 1, 0, 0, 0, 0, 0]);
            halibut::deflate(&doc)
        }),
        ("a message that inflates past the largest", |_| {
            halibut::deflate(&vec![0u8; MAX_MESSAGE + 1024])
        }),
        ("a DataStream whose trailing length disagrees", |r| {
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
        }),
    ];
    for (what, answer) in cases {
        peer.answered_with(what, answer).await;
        bystander.sees_more(4, what).await;
    }

    assert!(
        timeout(HEARTBEAT_TIMEOUT + Duration::from_secs(20), silent)
            .await
            .unwrap()
            .unwrap(),
        "the node kept a peer that never sent NEXT"
    );
    bystander.ok_so_far();
    bystander.stop.store(true, Ordering::Relaxed);
    none_panicked(&b, &pids);
}
