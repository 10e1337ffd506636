//! The embedded cluster, driven in-process: the Octopus REST surface of the
//! nodes, the shared database seen through every node, the LB's round
//! robin, health checks, fail-open and body limit, and kill, pause and
//! restart as real signals.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use harness::client::ApiKey;
use harness::embedded;
use harness::history::{Clock, Event, Events};
use harness::scenario::{self, units::Size};
use reference_cluster::{EmbeddedCluster, NodeNaming, ServerTimeouts};
use serde_json::{Value, json};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);

pub(crate) struct Booted {
    pub(crate) cluster: EmbeddedCluster,
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    /// LB health events received but not yet asked for.
    lb_pending: Vec<(String, bool)>,
    http: reqwest::Client,
    pub(crate) key: String,
    _dir: tempfile::TempDir,
}

pub(crate) fn fast_spec(nodes: u32) -> scenario::Cluster {
    let mut spec = scenario::Cluster::default();
    spec.nodes.value = nodes;
    spec.heartbeat.value = "200ms".parse().unwrap();
    spec.offline_after.value = "1s".parse().unwrap();
    let hc = &mut spec.lb.health_check;
    hc.interval.value = "200ms".parse().unwrap();
    hc.timeout.value = "150ms".parse().unwrap();
    spec.lb.backend_timeout = Some(scenario::spanned("1s".parse().unwrap()));
    spec
}

pub(crate) async fn boot(spec: scenario::Cluster) -> Booted {
    boot_waiting(spec, ServerTimeouts::default()).await
}

/// As [`boot`], with the nodes' and the LB's waits for their clients set:
/// a test that waits one out sets it short.
pub(crate) async fn boot_waiting(spec: scenario::Cluster, waits: ServerTimeouts) -> Booted {
    let dir = tempfile::tempdir().unwrap();
    let key = ApiKey::generate().unwrap();
    let (events, rx) = Events::channel(Clock::start());
    let exe = Path::new(env!("CARGO_BIN_EXE_harness"));
    let cluster = timeout(
        LIMIT,
        EmbeddedCluster::boot_with_exe(
            &embedded::spec_of(&spec),
            NodeNaming::Host,
            waits,
            dir.path(),
            key.clone(),
            embedded::sink(events),
            exe,
        ),
    )
    .await
    .expect("boot in time")
    .expect("boot");
    Booted {
        cluster,
        events: rx,
        lb_pending: Vec::new(),
        http: harness::client::http_builder(&harness::target::Trust::System)
            .unwrap()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        key: key.expose().to_string(),
        _dir: dir,
    }
}

impl Booted {
    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A node's Octopus Id, which the cluster made up: never its key.
    pub(crate) fn id(&self, key: &str) -> String {
        self.handle(key).id().to_string()
    }

    /// A node's Octopus Name, which is not its key either.
    pub(crate) fn name(&self, key: &str) -> String {
        self.handle(key).cluster_name().to_string()
    }

    fn handle(&self, key: &str) -> &reference_cluster::NodeHandle {
        self.cluster
            .nodes()
            .iter()
            .find(|n| n.key() == key)
            .unwrap()
    }

    pub(crate) fn node_url(&self, name: &str) -> String {
        self.cluster
            .nodes()
            .iter()
            .find(|n| n.key() == name)
            .unwrap()
            .url()
    }

    pub(crate) async fn get(&self, url: &str, key: bool) -> (u16, Value) {
        let mut req = self.http.get(url);
        if key {
            req = req.header("X-Octopus-ApiKey", &self.key);
        }
        let resp = timeout(LIMIT, req.send()).await.unwrap().unwrap();
        let status = resp.status().as_u16();
        let body = timeout(LIMIT, resp.json::<Value>())
            .await
            .unwrap()
            .unwrap_or(Value::Null);
        (status, body)
    }

    pub(crate) async fn put(&self, url: &str, body: Value) -> (u16, Value) {
        let resp = timeout(
            LIMIT,
            self.http
                .put(url)
                .header("X-Octopus-ApiKey", &self.key)
                .json(&body)
                .send(),
        )
        .await
        .unwrap()
        .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            timeout(LIMIT, resp.json::<Value>())
                .await
                .unwrap()
                .unwrap_or(Value::Null),
        )
    }

    /// The keys of the nodes that served `n` pings through the LB, by the
    /// Names the ping bodies give.
    async fn served_by(&self, n: usize) -> Vec<String> {
        let lb = self.cluster.lb_url();
        let mut names = Vec::new();
        for _ in 0..n {
            let (status, body) = self
                .get(&format!("{lb}/api/octopusservernodes/ping"), false)
                .await;
            assert_eq!(status, 200, "{body}");
            let name = body["Name"].as_str().unwrap();
            let key = self
                .cluster
                .nodes()
                .iter()
                .find(|n| n.cluster_name() == name)
                .map(|n| n.key().to_string())
                .unwrap_or_else(|| panic!("{name} is no node of the cluster"));
            names.push(key);
        }
        names
    }

    /// Waits for the LB to report a node's health. Reports about other
    /// nodes are kept for later calls, whatever order they come in.
    async fn lb_says(&mut self, node: &str, healthy: bool) {
        let wanted = (node.to_string(), healthy);
        timeout(LIMIT, async {
            loop {
                if let Some(i) = self.lb_pending.iter().position(|p| *p == wanted) {
                    self.lb_pending.remove(i);
                    return;
                }
                match self.events.recv().await {
                    Some(Event::LbHealth { node, healthy, .. }) => {
                        self.lb_pending.push((node, healthy))
                    }
                    Some(_) => {}
                    None => panic!("event stream closed"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the LB never said {node} healthy={healthy}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_speak_the_octopus_surface_from_one_shared_database() {
    let b = boot(fast_spec(3)).await;
    let lb = b.cluster.lb_url();
    // Ping needs no key and names the node that answered.
    for name in ["n1", "n2", "n3"] {
        let (status, body) = b
            .get(
                &format!("{}/api/octopusservernodes/ping", b.node_url(name)),
                false,
            )
            .await;
        // Octopus-shaped and unlike the key, as on a real installation.
        assert_eq!(
            (status, body["Name"].as_str(), body["Id"].as_str()),
            (200, Some(b.name(name).as_str()), Some(b.id(name).as_str()))
        );
        assert_ne!(b.name(name), name);
        assert!(b.id(name).starts_with("OctopusServerNodes-"));
        assert!(!b.id(name).contains(name), "{}", b.id(name));
        assert_eq!(body["IsInMaintenanceMode"], false);
        assert_eq!(body["IsOffline"], false);
    }
    // Everything else needs the key.
    for path in [
        "/api".to_string(),
        "/api/octopusservernodes".to_string(),
        format!("/api/octopusservernodes/{}", b.id("n1")),
    ] {
        let (status, body) = b.get(&format!("{lb}{path}"), false).await;
        assert_eq!(status, 401, "{path}");
        assert!(body["ErrorMessage"].is_string());
    }
    let (status, root) = b.get(&format!("{lb}/api"), true).await;
    assert_eq!(
        (
            status,
            root["Application"].as_str(),
            root["ApiVersion"].as_str()
        ),
        (200, Some("Octopus Deploy"), Some("3.0.0"))
    );
    let (status, page) = b
        .get(&format!("{lb}/api/octopusservernodes?take=2"), true)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["ItemType"], "OctopusServerNode");
    assert_eq!(
        (
            page["TotalResults"].as_u64(),
            page["ItemsPerPage"].as_u64(),
            page["NumberOfPages"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(page["Items"].as_array().unwrap().len(), 2);
    let (_, all) = b
        .get(
            &format!("{}/api/octopusservernodes/all", b.node_url("n3")),
            true,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);

    // Drain n2 through the LB (any node takes the PUT): n2's ping turns 418,
    // and every node sees the flag.
    let n2 = &b.id("n2");
    let (status, body) = b
        .put(
            &format!("{lb}/api/octopusservernodes/{n2}"),
            json!({"Id": n2, "IsInMaintenanceMode": true}),
        )
        .await;
    assert_eq!((status, &body["IsInMaintenanceMode"]), (200, &json!(true)));
    let (status, body) = b
        .get(
            &format!("{}/api/octopusservernodes/ping", b.node_url("n2")),
            false,
        )
        .await;
    assert_eq!((status, &body["Name"]), (418, &json!(b.name("n2"))));
    let (_, seen) = b
        .get(
            &format!("{}/api/octopusservernodes/{n2}", b.node_url("n1")),
            true,
        )
        .await;
    assert_eq!(seen["IsInMaintenanceMode"], true);
    let (status, _) = b
        .put(
            &format!("{lb}/api/octopusservernodes/{n2}"),
            json!({"Id": n2, "IsInMaintenanceMode": false}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = b
        .get(
            &format!("{}/api/octopusservernodes/ping", b.node_url("n2")),
            false,
        )
        .await;
    assert_eq!(status, 200);

    // Bad requests get Octopus error bodies.
    let (status, body) = b
        .put(
            &format!("{lb}/api/octopusservernodes/{n2}"),
            json!({"Id": b.id("n1")}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = b
        .get(
            &format!("{lb}/api/octopusservernodes/OctopusServerNodes-n9"),
            true,
        )
        .await;
    assert_eq!(status, 404);

    // Round robin reaches every node.
    let names: BTreeSet<String> = b.served_by(12).await.into_iter().collect();
    assert_eq!(
        names,
        BTreeSet::from(["n1".into(), "n2".into(), "n3".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_goes_offline_and_the_lb_routes_around_it_until_restart() {
    let mut b = boot(fast_spec(3)).await;
    let lb = b.cluster.lb_url();
    b.cluster.kill("n1").unwrap();
    b.lb_says("n1", false).await;
    let served = b.served_by(20).await;
    assert!(!served.contains(&"n1".to_string()), "{served:?}");
    // The others see n1's LastSeen go stale.
    let offline = timeout(LIMIT, async {
        loop {
            let (_, n1) = b
                .get(&format!("{lb}/api/octopusservernodes/{}", b.id("n1")), true)
                .await;
            if n1["IsOffline"] == true {
                return n1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("n1 shown offline");
    assert_eq!(offline["Name"], b.name("n1"));
    // A restart brings it back on the same address.
    timeout(LIMIT, b.cluster.start("n1"))
        .await
        .unwrap()
        .unwrap();
    b.lb_says("n1", true).await;
    let served = b.served_by(12).await;
    assert!(served.contains(&"n1".to_string()), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_accepts_connections_but_never_answers() {
    let mut b = boot(fast_spec(2)).await;
    let url = format!("{}/api/octopusservernodes/ping", b.node_url("n2"));
    b.cluster.pause("n2").unwrap();
    let addr = b.node_url("n2").trim_start_matches("http://").to_string();
    timeout(LIMIT, tokio::net::TcpStream::connect(&addr))
        .await
        .unwrap()
        .expect("the kernel still accepts");
    let err = timeout(LIMIT, b.http.get(&url).send())
        .await
        .unwrap()
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    b.lb_says("n2", false).await;
    b.cluster.resume("n2").unwrap();
    b.lb_says("n2", true).await;
    let (status, _) = b.get(&url, false).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lb_fails_open_when_no_node_passes_its_health_check() {
    let mut spec = fast_spec(2);
    // Nothing answers 204, so every node fails its checks.
    spec.lb.health_check.accept.value = harness::scenario::units::StatusCodes::range(204, 204);
    let mut b = boot(spec).await;
    b.lb_says("n1", false).await;
    b.lb_says("n2", false).await;
    // ALB routes to every target when none is healthy; so does ours.
    let names: BTreeSet<String> = b.served_by(8).await.into_iter().collect();
    assert_eq!(names.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lb_answers_413_above_max_body() {
    let mut spec = fast_spec(1);
    spec.lb.max_body = Some(scenario::spanned(Size::from_bytes(1024)));
    let b = boot(spec).await;
    let url = format!(
        "{}/api/octopusservernodes/{}",
        b.cluster.lb_url(),
        b.id("n1")
    );
    let big = vec![b' '; 4096];
    let resp = timeout(
        LIMIT,
        b.http
            .put(&url)
            .header("X-Octopus-ApiKey", &b.key)
            .body(big.clone())
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    // Without a Content-Length (chunked) the body is counted as it streams.
    let addr = b.cluster.lb_url().trim_start_matches("http://").to_string();
    let mut chunked = format!(
        "PUT /api/octopusservernodes/{} HTTP/1.1\r\nHost: lb\r\nX-Octopus-ApiKey: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        b.id("n1"),
        b.key
    )
    .into_bytes();
    for _ in 0..8 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b' '; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let status_line = timeout(LIMIT, async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // The LB may answer and close before it has read everything.
        let _ = s.write_all(&chunked).await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    })
    .await
    .unwrap();
    assert_eq!(status_line, "HTTP/1.1 413 Payload Too Large");
    let (status, _) = b.put(&url, json!({"Id": b.id("n1")})).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passive_lb_keeps_a_drained_node_and_retries_past_a_dead_one() {
    let mut spec = fast_spec(2);
    spec.lb.health_check.mode = scenario::HealthMode::Passive;
    spec.lb.health_check.fail_timeout.value = "30s".parse().unwrap();
    let mut b = boot(spec).await;
    let lb = b.cluster.lb_url();
    let ping = format!("{lb}/api/octopusservernodes/ping");
    let id = b.id("n1");
    let drain = |on: bool| json!({ "Id": id, "IsInMaintenanceMode": on });
    let n1 = format!("{lb}/api/octopusservernodes/{id}");
    // A drained node's 418 is an answer: passive checks keep routing to it.
    assert_eq!(b.put(&n1, drain(true)).await.0, 200);
    let mut teapots = 0;
    for _ in 0..10 {
        let (status, body) = b.get(&ping, false).await;
        if status == 418 {
            assert_eq!(body["Name"], b.name("n1"));
            teapots += 1;
        }
    }
    assert_eq!(
        teapots, 5,
        "round robin over 2 nodes sends n1 every other ping"
    );
    assert_eq!(b.put(&n1, drain(false)).await.0, 200);
    // A dead node: its refused connections are retried on the other node,
    // so no client sees an error, and the node leaves rotation.
    b.cluster.kill("n2").unwrap();
    for _ in 0..10 {
        let (status, body) = b.get(&ping, false).await;
        assert_eq!(
            (status, body["Name"].as_str()),
            (200, Some(b.name("n1").as_str()))
        );
    }
    b.lb_says("n2", false).await;
}
