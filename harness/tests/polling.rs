//! Polling Tentacles against the embedded cluster in-process: machines
//! registered through the API, a fleet polling every node, health tasks
//! pinned to one node, and a node killed in the middle of a health check.
//! The fleet must come back after the restart with exactly its own
//! connections on both ends, the interrupted task must end, and a new one
//! must reach every Tentacle.

use std::sync::Arc;
use std::time::Duration;

use harness::client::{ApiClient, ApiKey};
use harness::fleet::{Fleet, FleetSpec, Target, Tentacle};
use harness::history::{Clock, Events};
use harness::scenario::{self, PollingLayout, PollingListeners};
use rand_core::SeedableRng;
use reference_cluster::api::{NewTask, TaskState};
use serde_json::json;
use tokio::time::{sleep, timeout};

use crate::cluster::{boot, fast_spec};

const LIMIT: Duration = Duration::from_secs(90);
const TENTACLES: usize = 5;

fn polling_spec(layout: PollingLayout) -> scenario::Cluster {
    let mut spec = fast_spec(2);
    spec.tasks.poll.value = "200ms".parse().unwrap();
    spec.polling = Some(PollingListeners {
        layout: scenario::spanned(layout),
        poll_wait: scenario::spanned("2s".parse().unwrap()),
        pickup_timeout: scenario::spanned("3s".parse().unwrap()),
    });
    spec
}

/// Waits until `f` holds, polling every 50 ms, or fails with `what`.
async fn until(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

/// Established server-side connections on a local address, from the
/// kernel's table: what the node holds, whatever the node says.
fn established_on(addr: std::net::SocketAddr) -> usize {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        return 0;
    };
    let want = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(ip.octets()),
        addr.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "01"
        })
        .count()
}

async fn health(lb: &ApiClient, node: &str, machines: &[String]) -> String {
    let task = NewTask {
        name: "Health".into(),
        description: format!("health on {node}"),
        arguments: Some(json!({ "MachineIds": machines, "PinnedNode": node })),
        space_id: None,
    };
    lb.create_task(&task, Duration::from_secs(5))
        .await
        .id
        .expect("a task")
}

async fn state(lb: &ApiClient, id: &str) -> (TaskState, Option<String>, Option<String>) {
    let t = lb.tasks(&[id.to_string()]).await.unwrap();
    let t = &t[0];
    // Octopus writes an empty ErrorMessage for a task without one.
    (
        t.state,
        t.server_node.clone(),
        t.error_message.clone().filter(|e| !e.is_empty()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_health_check_loses_nothing_and_the_fleet_comes_back() {
    timeout(LIMIT, async {
        let b = boot(polling_spec(PollingLayout::UniqueAddress)).await;
        let c = &b.cluster;
        let lb = ApiClient::new(&c.lb_url(), ApiKey::new(b.key.clone())).unwrap();
        let thumbprint = lb.server_thumbprint().await.unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let tentacles: Vec<Arc<Tentacle>> = (0..TENTACLES)
            .map(|i| Arc::new(Tentacle::generate(&format!("t{i}"), &mut rng).unwrap()))
            .collect();
        let mut machines = Vec::new();
        for t in &tentacles {
            machines.push(
                lb.register_machine(&t.name, &t.subscription, t.thumbprint())
                    .await
                    .unwrap(),
            );
        }
        let endpoints = c.polling_endpoints().to_vec();
        assert_eq!(endpoints.len(), 2);
        let n1 = endpoints[0].addr;
        let targets: Vec<Target> = endpoints
            .iter()
            .map(|e| Target {
                node: e.node.clone(),
                addr: e.addr,
            })
            .collect();
        let (events, _rx) = Events::channel(Clock::start());
        let spec = FleetSpec {
            connections: 1,
            // Long enough that the kill lands while the node polls for the
            // script's status.
            script: Duration::from_secs(3),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(1),
            receive_timeout: Duration::from_secs(32),
        };
        let fleet = Fleet::start(&tentacles, &targets, &spec, &thumbprint, &events, 1).unwrap();
        let full = TENTACLES * targets.len();
        until("the fleet connects", LIMIT, async || {
            fleet.open_connections() == full
        })
        .await;

        let doomed = health(&lb, &b.name("n1"), &machines).await;
        until("the health task runs on n1", LIMIT, async || {
            state(&lb, &doomed).await.0 == TaskState::Executing
        })
        .await;
        // StartScript is done and GetStatus is under way.
        sleep(Duration::from_millis(800)).await;
        c.kill("n1").unwrap();
        until("n1's connections drop", LIMIT, async || {
            fleet.open_connections() == TENTACLES
        })
        .await;
        c.start("n1").await.unwrap();
        until("the fleet is back on n1", LIMIT, async || {
            fleet.open_connections() == full && established_on(n1) == TENTACLES
        })
        .await;
        // And stays exactly there: no connection leaked on either side.
        sleep(Duration::from_millis(500)).await;
        assert_eq!(fleet.open_connections(), full);
        assert_eq!(established_on(n1), TENTACLES);

        // The restarted node ended the task it ran when it died.
        until("the interrupted task ends", LIMIT, async || {
            state(&lb, &doomed).await.0.is_completed()
        })
        .await;
        assert_eq!(state(&lb, &doomed).await.0, TaskState::Canceled);

        // A new health task on n1 reaches every Tentacle.
        let fresh = health(&lb, &b.name("n1"), &machines).await;
        until("the new health task ends", LIMIT, async || {
            state(&lb, &fresh).await.0.is_completed()
        })
        .await;
        let (s, node, error) = state(&lb, &fresh).await;
        assert_eq!(
            (s, node.as_deref(), error),
            (TaskState::Success, Some(b.name("n1").as_str()), None)
        );

        fleet.stop().await;
        for m in &machines {
            lb.delete_machine(m).await.unwrap();
        }
        until("the node sees every connection close", LIMIT, async || {
            established_on(n1) == 0
        })
        .await;
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_trusts_registered_thumbprints_only_and_the_lb_forwards_per_node_ports() {
    timeout(LIMIT, async {
        let b = boot(polling_spec(PollingLayout::UniquePort)).await;
        let c = &b.cluster;
        let lb = ApiClient::new(&c.lb_url(), ApiKey::new(b.key.clone())).unwrap();
        let thumbprint = lb.server_thumbprint().await.unwrap();
        let endpoints = c.polling_endpoints().to_vec();
        // Unique port: every endpoint is on the LB's address, one port each.
        assert!(
            endpoints
                .iter()
                .all(|e| e.addr.ip() == std::net::Ipv4Addr::LOCALHOST)
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let trusted = Arc::new(Tentacle::generate("trusted", &mut rng).unwrap());
        let stranger = Arc::new(Tentacle::generate("stranger", &mut rng).unwrap());
        let id = lb
            .register_machine(&trusted.name, &trusted.subscription, trusted.thumbprint())
            .await
            .unwrap();
        let targets: Vec<Target> = endpoints
            .iter()
            .map(|e| Target {
                node: e.node.clone(),
                addr: e.addr,
            })
            .collect();
        let (events, mut rx) = Events::channel(Clock::start());
        let spec = FleetSpec {
            connections: 2,
            script: Duration::from_millis(10),
            reconnect_min: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(5),
            receive_timeout: Duration::from_secs(32),
        };
        let fleet = Fleet::start(
            &[trusted.clone(), stranger.clone()],
            &targets,
            &spec,
            &thumbprint,
            &events,
            2,
        )
        .unwrap();
        // The registered Tentacle's 2 connections to each of 2 nodes, and
        // none of the stranger's.
        until("the trusted Tentacle connects", LIMIT, async || {
            fleet.open_connections() == 4
        })
        .await;
        let mut refused = 0;
        while let Ok(Some(e)) = timeout(Duration::from_secs(2), rx.recv()).await {
            if let harness::history::Event::Polling(p) = e
                && p.tentacle == "stranger"
            {
                assert_eq!(p.change, harness::history::PollingChange::Failed);
                refused += 1;
            }
            if refused == 4 {
                break;
            }
        }
        assert_eq!(refused, 4, "every connection of the stranger is refused");
        assert_eq!(fleet.open_connections(), 4);
        // A probe through the LB's forwarded port sees the node's own
        // certificate and Halibut's page: TCP pass-through.
        let probe = harness::fleet::probe(&endpoints[1].node, endpoints[1].addr, &events).await;
        assert_eq!(probe.thumbprint.as_deref(), Some(thumbprint.as_str()));
        assert!(probe.friendly_page, "{probe:?}");
        fleet.stop().await;
        lb.delete_machine(&id).await.unwrap();
        assert!(lb.delete_machine(&id).await.unwrap_err().contains("404"));
    })
    .await
    .expect("the test finishes in time");
}
