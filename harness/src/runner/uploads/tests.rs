//! Tests of the upload workload.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::*;
use crate::history::{Clock, History};
use crate::report::{CleanupReport, Outcome};

const LIMIT: Duration = Duration::from_secs(20);
const TAG: &str = "ab12cd34";

struct Fake {
    /// Packages the server has: ID to size and SHA-1.
    stored: Mutex<BTreeMap<String, (u64, String)>>,
    /// The package the workload uploads.
    id: String,
    size: u64,
    sha1: String,
    /// The answer to each upload in turn (the last for the rest), and
    /// how long after its body it comes.
    statuses: Vec<u16>,
    answer_after: Duration,
    /// When each upload in turn (the last for the rest) stores the
    /// package after its body; never when None.
    stores_after: Vec<Option<Duration>>,
    /// Uploads whose whole body arrived.
    bodies: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    r
}

impl Fake {
    fn resource(&self) -> String {
        format!(
            r#"{{"Id":"{}","PackageSizeBytes":{},"Hash":"{}"}}"#,
            self.id, self.size, self.sha1
        )
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Reply {
        let path = req.uri().path().to_string();
        let id = path.rsplit('/').next().unwrap_or_default().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::POST, "/api/Spaces-1/packages/raw") => {
                let mut body = req.into_body();
                loop {
                    match body.frame().await {
                        None => break,
                        Some(Ok(_)) => {}
                        // Cut mid-body: nothing to store.
                        Some(Err(_)) => return reply(400, String::new()),
                    }
                }
                let n = self.bodies.fetch_add(1, Ordering::SeqCst) as usize;
                let status = self.statuses[n.min(self.statuses.len() - 1)];
                let store = self.stores_after[n.min(self.stores_after.len() - 1)];
                if let Some(after) = store {
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        if let Ok(mut s) = me.stored.lock() {
                            s.insert(me.id.clone(), (me.size, me.sha1.clone()));
                        }
                    });
                }
                tokio::time::sleep(self.answer_after).await;
                if (200..300).contains(&status) {
                    reply(status, self.resource())
                } else {
                    let mut r = reply(status, "gateway timeout".into());
                    r.headers_mut()
                        .insert(hyper::header::SERVER, "fake-lb".parse().unwrap());
                    r
                }
            }
            (Method::GET, _) if self.stored.lock().unwrap().contains_key(&id) => {
                reply(200, self.resource())
            }
            (Method::DELETE, _) if self.stored.lock().unwrap().remove(&id).is_some() => {
                reply(200, "{}".into())
            }
            _ => reply(404, r#"{"ErrorMessage":"not found"}"#.into()),
        }
    }

    fn has_it(&self) -> bool {
        !self.stored.lock().unwrap().is_empty()
    }
}

/// The server, listening on a port of its own on loopback.
async fn fake(
    spec: &PackageSpec,
    status: u16,
    answer_after: Duration,
    store_after: Option<Duration>,
) -> (Arc<Fake>, String, JoinHandle<()>) {
    fake_in_turn(spec, vec![status], answer_after, vec![store_after]).await
}

/// As [`fake`], each upload answered and stored as its turn says.
async fn fake_in_turn(
    spec: &PackageSpec,
    statuses: Vec<u16>,
    answer_after: Duration,
    stores_after: Vec<Option<Duration>>,
) -> (Arc<Fake>, String, JoinHandle<()>) {
    let fake = Arc::new(Fake {
        stored: Mutex::new(BTreeMap::new()),
        id: package_resource_id(spec),
        size: spec.len(),
        sha1: spec.sha1(),
        statuses,
        answer_after,
        stores_after,
        bodies: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = fake.clone();
    let handle = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let server = server.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (fake, url, handle)
}

/// The spec the workload makes for its first upload.
fn first_spec(size: u64, seed: u64) -> PackageSpec {
    PackageSpec {
        package_id: PACKAGE_ID.into(),
        version: format!("1.0.0-r{TAG}"),
        content: PackageSpec::content_for_total(size),
        seed,
    }
}

fn workload(yaml_upload: &str, url: &str, events: &Events, late: Duration) -> UploadWorkload {
    let s = crate::scenario::parse_str(&format!(
        "name: t\nduration: 1s\nworkload:\n  - upload: {yaml_upload}\n"
    ))
    .unwrap();
    let target = Uploader::new(
        "lb",
        url,
        crate::client::ApiKey::new("API-TEST".into()),
        &crate::target::Trust::System,
        Duration::from_secs(2),
        Duration::from_secs(5),
        s.upload_load()
            .unwrap()
            .throttle
            .map(|t| t.value.bytes_per_sec()),
    )
    .unwrap();
    let plan = Plan {
        target,
        events: events.clone(),
        start: Instant::now(),
        seed: 7,
        tag: TAG.into(),
        shard: crate::vocab::Shard::WHOLE,
    };
    let mut w = UploadWorkload::spawn(s.upload_load().unwrap(), plan, Vec::new(), None);
    w.late_within = late;
    w
}

fn events() -> (Events, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (events, rx) = Events::channel(Clock::start());
    events.send(Event::RunStarted {
        scenario: "t".into(),
        seed: 7,
        run_id: TAG.into(),
        target: "embedded".into(),
        started_at: "2026-12-06T00:00:00Z".into(),
        shard: None,
    });
    (events, rx)
}

fn history(mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>) -> History {
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    History { events }
}

/// What each DELETE of the run found: the package, or nothing.
fn deletes(h: &History) -> Vec<bool> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::PackageDeleted { deleted, .. } => Some(*deleted),
            _ => None,
        })
        .collect()
}

fn cleanup_of(h: &History) -> CleanupReport {
    crate::report::cleanup(h).expect("a run ID")
}

async fn until(what: &str, f: impl Fn() -> bool) {
    tokio::time::timeout(LIMIT, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not happen within {LIMIT:?}"));
}

#[tokio::test]
async fn an_attempt_awaiting_its_answer_when_the_run_stops_is_waited_for_then_deleted() {
    let spec = first_spec(64 << 10, 7);
    // The server stores the package 300 ms after its body, and answers
    // 100 ms later: a run that stopped without waiting would delete
    // before the package is there, and leave it.
    let (fake, url, server) = fake(
        &spec,
        201,
        Duration::from_millis(400),
        Some(Duration::from_millis(300)),
    )
    .await;
    let (events, rx) = events();
    let w = workload(
        "{ size: 64KiB, retries: 0 }",
        &url,
        &events,
        Duration::from_secs(5),
    );
    until("the upload's body arriving", || {
        fake.bodies.load(Ordering::SeqCst) == 1
    })
    .await;
    let (_stop, interrupt) = tokio::sync::watch::channel(Some("interrupted".to_string()));
    tokio::time::timeout(LIMIT, w.finish(true, interrupt))
        .await
        .unwrap();
    assert!(!fake.has_it(), "the package was left on the server");
    let h = history(rx);
    let attempt = h.uploads().next().expect("the attempt is recorded");
    assert_eq!(attempt.class, UploadClass::Accepted, "{attempt:?}");
    let c = cleanup_of(&h);
    assert_eq!(c.packages.len(), 1, "{c:?}");
    assert_eq!(c.packages[0].outcome, Outcome::Removed, "{c:?}");
    assert!(c.clean, "{c:?}");
    server.abort();
}

#[tokio::test]
async fn an_attempt_still_sending_its_body_when_the_run_stops_ends_at_once() {
    let spec = first_spec(256 << 10, 7);
    let (fake, url, server) = fake(&spec, 201, Duration::ZERO, Some(Duration::ZERO)).await;
    let (events, rx) = events();
    // 256 KiB at 64 KiB/s: four seconds of body.
    let w = workload(
        "{ size: 256KiB, retries: 2, throttle: 64KiB/s }",
        &url,
        &events,
        Duration::from_secs(5),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_stop, interrupt) = tokio::sync::watch::channel(Some("interrupted".to_string()));
    let started = std::time::Instant::now();
    tokio::time::timeout(LIMIT, w.finish(true, interrupt))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.bodies.load(Ordering::SeqCst), 0);
    assert!(!fake.has_it());
    let h = history(rx);
    // Cut, recorded, and not retried.
    let attempts: Vec<_> = h.uploads().collect();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].class, UploadClass::Reset);
    assert!(attempts[0].last_byte_us.is_none(), "{:?}", attempts[0]);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("stopped by the harness as the run ended")),
        "{:?}",
        attempts[0]
    );
    let c = cleanup_of(&h);
    assert_eq!(c.packages[0].outcome, Outcome::NeverStored, "{c:?}");
    assert!(!c.packages[0].removed);
    assert!(c.clean, "{c:?}");
    server.abort();
}

#[tokio::test]
async fn a_package_that_lands_after_the_delete_is_found_deleted_and_reported_removed() {
    let spec = first_spec(64 << 10, 7);
    // An LB's 504 50 ms after the body; the node stores the package
    // 600 ms after it, long after the clean-up's first DELETE.
    let (fake, url, server) = fake(
        &spec,
        504,
        Duration::from_millis(50),
        Some(Duration::from_millis(600)),
    )
    .await;
    let (events, rx) = events();
    let w = workload(
        "{ size: 64KiB, retries: 0 }",
        &url,
        &events,
        Duration::from_millis(1500),
    );
    let (_stop, interrupt) = tokio::sync::watch::channel(None);
    tokio::time::timeout(LIMIT, w.finish(false, interrupt))
        .await
        .unwrap();
    assert!(!fake.has_it(), "the package that landed late was left");
    let h = history(rx);
    let deletes = deletes(&h);
    assert_eq!(deletes, vec![false, true], "the first DELETE found nothing");
    let c = cleanup_of(&h);
    assert_eq!(c.packages[0].outcome, Outcome::Removed, "{c:?}");
    assert!(c.clean, "{c:?}");
    server.abort();
}

#[tokio::test]
async fn an_accepted_retry_does_not_end_the_watch_for_an_earlier_attempt_landing_late() {
    let spec = first_spec(64 << 10, 7);
    // The first attempt gets the LB's 504 and its node stores the
    // package 2.5 s later; the retry, a second on, is accepted at once.
    // The clean-up deletes the accepted package, and the first
    // attempt's copy lands after that DELETE.
    let (fake, url, server) = fake_in_turn(
        &spec,
        vec![504, 201],
        Duration::from_millis(20),
        vec![Some(Duration::from_millis(2500)), Some(Duration::ZERO)],
    )
    .await;
    let (events, rx) = events();
    let w = workload(
        "{ size: 64KiB, retries: 1 }",
        &url,
        &events,
        Duration::from_secs(4),
    );
    until("both attempts' bodies arriving", || {
        fake.bodies.load(Ordering::SeqCst) == 2
    })
    .await;
    let (_stop, interrupt) = tokio::sync::watch::channel(None);
    tokio::time::timeout(LIMIT, w.finish(false, interrupt))
        .await
        .unwrap();
    assert!(!fake.has_it(), "the late copy was left on the server");
    let h = history(rx);
    let deletes = deletes(&h);
    assert_eq!(
        deletes,
        vec![true, true],
        "the accepted copy, then the late one"
    );
    let c = cleanup_of(&h);
    assert_eq!(c.packages[0].outcome, Outcome::Removed, "{c:?}");
    assert!(c.clean, "{c:?}");
    server.abort();
}

#[tokio::test]
async fn a_package_an_attempt_may_still_land_is_not_called_never_stored() {
    let spec = first_spec(64 << 10, 7);
    // The LB answers 504 after the body, and nothing lands within the
    // clean-up's wait: the run cannot say the package was never stored.
    let (fake, url, server) = fake(&spec, 504, Duration::from_millis(50), None).await;
    let (events, rx) = events();
    let w = workload(
        "{ size: 64KiB, retries: 0 }",
        &url,
        &events,
        Duration::from_millis(600),
    );
    let (_stop, interrupt) = tokio::sync::watch::channel(None);
    tokio::time::timeout(LIMIT, w.finish(false, interrupt))
        .await
        .unwrap();
    assert!(!fake.has_it());
    let h = history(rx);
    let c = cleanup_of(&h);
    assert_eq!(c.packages[0].outcome, Outcome::Unconfirmed, "{c:?}");
    assert!(!c.clean, "{c:?}");
    let unsure = c.unconfirmed();
    assert_eq!(
        unsure,
        vec![format!(
            "packages-HarnessProbe.1.0.0-r{TAG} may be left: not there at the run's last look, but attempt 1 ended with 504 after its whole body went: the server may still store it (`harness cleanup --run-id {TAG}` removes it if it is)"
        )]
    );
    let s = crate::scenario::parse_str(
        "name: t\nduration: 1s\nworkload:\n  - upload: { size: 64KiB }\n",
    )
    .unwrap();
    let results = crate::check::run_all(&s, &h, None);
    let left_clean = results.iter().find(|r| r.kind == "left_clean").unwrap();
    assert_eq!(
        left_clean.verdict,
        crate::check::Verdict::Unknown,
        "{}",
        left_clean.detail
    );
    assert_eq!(left_clean.detail, unsure[0]);
    server.abort();
}

#[tokio::test]
async fn a_refused_upload_is_never_stored_and_not_waited_for() {
    let spec = first_spec(64 << 10, 7);
    let (fake, url, server) = fake(&spec, 413, Duration::ZERO, None).await;
    let (events, rx) = events();
    let w = workload(
        "{ size: 64KiB, retries: 0 }",
        &url,
        &events,
        Duration::from_secs(5),
    );
    let (_stop, interrupt) = tokio::sync::watch::channel(None);
    let started = std::time::Instant::now();
    tokio::time::timeout(LIMIT, w.finish(false, interrupt))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!fake.has_it());
    let h = history(rx);
    let c = cleanup_of(&h);
    assert_eq!(c.packages[0].outcome, Outcome::NeverStored, "{c:?}");
    assert!(!c.packages[0].removed, "{c:?}");
    assert!(c.clean);
    assert_eq!(c.package_outcomes(), "1 never stored");
    server.abort();
}
