//! Tasks on the embedded cluster, driven in-process through the REST API:
//! the task resource and its log through every node, the orphan rule when
//! a node dies mid-task, and exactly-once under concurrent submitters
//! talking to several nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use harness::client::{ApiClient, ApiKey};
use harness::history::{Outcome, parse_server_time};
use reference_cluster::api::{NewTask, TaskBody, TaskState};
use serde_json::{Value, json};
use tokio::time::timeout;

use crate::cluster::{Booted, boot, fast_spec};

const LIMIT: Duration = Duration::from_secs(30);

fn client(b: &Booted, base: &str) -> ApiClient {
    ApiClient::new(base, ApiKey::new(b.key.clone())).unwrap()
}

fn script_task(script: &str) -> NewTask {
    NewTask {
        name: "AdHocScript".into(),
        description: "integration test".into(),
        arguments: Some(json!({ "ScriptBody": script, "Syntax": "Bash" })),
        space_id: None,
    }
}

async fn submit(c: &ApiClient, script: &str) -> String {
    let created = timeout(LIMIT, c.create_task(&script_task(script), LIMIT))
        .await
        .unwrap();
    assert_eq!(created.outcome, Outcome::Ok, "{created:?}");
    created.id.unwrap()
}

/// Polls the tasks until `done` holds for every one of them.
async fn wait_for(
    c: &ApiClient,
    ids: &[String],
    done: impl Fn(&TaskBody) -> bool,
) -> Vec<TaskBody> {
    timeout(LIMIT, async {
        loop {
            let mut all = Vec::new();
            for chunk in ids.chunks(100) {
                all.extend(c.tasks(chunk).await.unwrap());
            }
            if all.len() == ids.len() && all.iter().all(&done) {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the tasks got there in time")
}

async fn raw(c: &ApiClient, id: &str) -> String {
    let (status, body) = timeout(LIMIT, c.raw_log(id)).await.unwrap().unwrap();
    assert_eq!(status, 200);
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_once_and_read_the_same_through_every_node() {
    let mut spec = fast_spec(3);
    spec.tasks.poll.value = "100ms".parse().unwrap();
    let b = boot(spec).await;
    let (n1, n2, n3) = (
        client(&b, &b.node_url("n1")),
        client(&b, &b.node_url("n2")),
        client(&b, &b.node_url("n3")),
    );
    let ok = submit(&n1, "echo hello from the test\nsleep 0.2").await;
    let failing = submit(&n2, "echo about to fail; exit 3").await;
    let unknown = submit(&n3, "rm -rf /").await;
    let ids = vec![ok.clone(), failing.clone(), unknown.clone()];
    let ended = wait_for(&n3, &ids, |t| t.state.is_completed()).await;
    let by_id: BTreeMap<&str, &TaskBody> = ended.iter().map(|t| (t.id.as_str(), t)).collect();
    assert_eq!(by_id[ok.as_str()].state, TaskState::Success);
    assert_eq!(by_id[failing.as_str()].state, TaskState::Failed);
    assert!(
        by_id[failing.as_str()]
            .error_message
            .as_deref()
            .unwrap()
            .contains("code 3")
    );
    assert!(
        by_id[unknown.as_str()]
            .error_message
            .as_deref()
            .unwrap()
            .contains("\"rm\"")
    );
    for t in &ended {
        assert!(t.server_node.is_some(), "{t:?}");
        let (q, s, c) = (
            parse_server_time(t.queue_time.as_deref().unwrap()).unwrap(),
            parse_server_time(t.start_time.as_deref().unwrap()).unwrap(),
            parse_server_time(t.completed_time.as_deref().unwrap()).unwrap(),
        );
        assert!(q <= s && s <= c, "{t:?}");
    }
    // The log is in shared storage: every node serves the same bytes.
    let log = raw(&n1, &ok).await;
    assert_eq!(log.matches("hello from the test").count(), 1, "{log}");
    assert_eq!(raw(&n2, &ok).await, log);
    assert_eq!(raw(&n3, &ok).await, log);

    // The list filters by state and node, newest first.
    let lb = b.cluster.lb_url();
    let (status, page) = b
        .get(
            &format!("{lb}/api/Spaces-1/tasks?states=Success,Failed&take=10"),
            true,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["TotalResults"], 3);
    let items = page["Items"].as_array().unwrap();
    assert_eq!(items[0]["Id"], Value::String(unknown.clone()));
    let node = by_id[ok.as_str()].server_node.clone().unwrap();
    let (_, mine) = b
        .get(&format!("{lb}/api/tasks?node={node}&states=Success"), true)
        .await;
    assert!(
        mine["Items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["Id"] == Value::String(ok.clone()))
    );

    // Mistakes a user can make get Octopus-shaped answers.
    let post = |path: &str, body: Value, key: bool| {
        let mut req = b.http().post(format!("{lb}{path}")).json(&body);
        if key {
            req = req.header("X-Octopus-ApiKey", &b.key);
        }
        async move {
            let resp = timeout(LIMIT, req.send()).await.unwrap().unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let good = json!({ "Name": "Health", "Description": "d" });
    assert_eq!(
        post("/api/Spaces-1/tasks", good.clone(), false).await.0,
        401
    );
    assert_eq!(post("/api/Spaces-9/tasks", good.clone(), true).await.0, 404);
    let (status, body) = post(
        "/api/tasks",
        json!({ "Name": "Explode", "Description": "d" }),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["ErrorMessage"].as_str().unwrap().contains("Explode"));
    assert_eq!(
        post(
            "/api/tasks",
            json!({ "Name": "Health", "Description": " " }),
            true
        )
        .await
        .0,
        400
    );
    assert_eq!(post("/api/tasks", json!([1, 2]), true).await.0, 400);
    assert_eq!(post("/api/tasks", good, true).await.0, 201);
    let (status, _) = b
        .get(&format!("{lb}/api/tasks/ServerTasks-999999"), true)
        .await;
    assert_eq!(status, 404);
    let (status, _) = b.get(&format!("{lb}/api/tasks/banana"), true).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_task_has_its_tasks_canceled_and_never_run_again() {
    let mut spec = fast_spec(2);
    spec.tasks.poll.value = "100ms".parse().unwrap();
    spec.tasks.orphan_after.value = "2s".parse().unwrap();
    let b = boot(spec).await;
    let lb = client(&b, &b.cluster.lb_url());
    // Only n1 may claim, so the tasks run there.
    timeout(LIMIT, lb.set_drain(&b.id("n2"), true))
        .await
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(submit(&lb, &format!("echo marker-{i}\nsleep 60")).await);
    }
    let running = wait_for(&lb, &ids, |t| t.state == TaskState::Executing).await;
    assert!(
        running
            .iter()
            .all(|t| t.server_node.as_deref() == Some(b.name("n1").as_str()))
    );
    timeout(LIMIT, lb.set_drain(&b.id("n2"), false))
        .await
        .unwrap()
        .unwrap();

    b.cluster.kill("n1").unwrap();
    let killed_at = std::time::SystemTime::now();
    // At first they look as if they still run.
    let n2 = client(&b, &b.node_url("n2"));
    let still = n2.tasks(&ids).await.unwrap();
    assert!(still.iter().all(|t| t.state == TaskState::Executing));
    // n2 cancels them once n1 has not been seen for orphan_after (2s).
    let ended = wait_for(&n2, &ids, |t| t.state.is_completed()).await;
    let bound = Duration::from_secs(8);
    for t in &ended {
        assert_eq!(t.state, TaskState::Canceled, "{t:?}");
        assert_eq!(
            t.server_node.as_deref(),
            Some(b.name("n1").as_str()),
            "never moved: {t:?}"
        );
        assert!(t.error_message.as_deref().unwrap().contains("offline"));
        let done = parse_server_time(t.completed_time.as_deref().unwrap()).unwrap();
        let killed = killed_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let took = Duration::from_micros((done - killed).max(0) as u64);
        // Not seen for 2s counts from n1's last heartbeat, up to one
        // heartbeat (200ms) before the kill.
        assert!(
            took >= Duration::from_millis(1750),
            "canceled too early: {took:?}"
        );
        assert!(took <= bound, "canceled after {took:?}, bound {bound:?}");
    }
    // n1 comes back: nothing runs again, anywhere.
    timeout(LIMIT, b.cluster.start("n1"))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for t in n2.tasks(&ids).await.unwrap() {
        assert_eq!(t.state, TaskState::Canceled, "{t:?}");
    }
    for (i, id) in ids.iter().enumerate() {
        let log = raw(&n2, id).await;
        assert_eq!(log.matches(&format!("marker-{i}")).count(), 1, "{log}");
        assert_eq!(log.matches("started on node").count(), 1, "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_on_every_node_never_run_a_task_twice_or_past_a_cap() {
    const CAP: usize = 3;
    let mut spec = fast_spec(3);
    spec.task_cap = CAP as u32;
    spec.tasks.poll.value = "50ms".parse().unwrap();
    let b = boot(spec).await;
    let nodes: Vec<ApiClient> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| client(&b, &b.node_url(n)))
        .collect();
    // Six clients at once, each sending 20 tasks round robin to the nodes.
    let mut submitters = tokio::task::JoinSet::new();
    for c in 0..6 {
        let nodes = nodes.clone();
        submitters.spawn(async move {
            let mut mine = Vec::new();
            for i in 0..20 {
                let node = &nodes[(c + i) % nodes.len()];
                let marker = format!("once-{c}-{i}");
                mine.push((
                    submit(node, &format!("echo {marker}\nsleep 0.1")).await,
                    marker,
                ));
            }
            mine
        });
    }
    let mut tasks = Vec::new();
    while let Some(mine) = timeout(LIMIT, submitters.join_next()).await.unwrap() {
        tasks.extend(mine.unwrap());
    }
    assert_eq!(tasks.len(), 120);
    let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    let ended = wait_for(&nodes[0], &ids, |t| t.state.is_completed()).await;
    assert!(ended.iter().all(|t| t.state == TaskState::Success));
    // Each marker appears once: one execution each.
    for (id, marker) in &tasks {
        let log = raw(&nodes[1], id).await;
        assert_eq!(log.matches(marker.as_str()).count(), 1, "{id}: {log}");
    }
    // No node ran more than CAP at once: sweep the server's start and end
    // times, ends first at equal times.
    let mut per_node: BTreeMap<String, Vec<(i64, i32)>> = BTreeMap::new();
    for t in &ended {
        let start = parse_server_time(t.start_time.as_deref().unwrap()).unwrap();
        let end = parse_server_time(t.completed_time.as_deref().unwrap()).unwrap();
        let edges = per_node.entry(t.server_node.clone().unwrap()).or_default();
        edges.push((start, 1));
        edges.push((end, -1));
    }
    assert_eq!(per_node.len(), 3, "every node took work: {per_node:?}");
    let mut highest = 0;
    for (node, mut edges) in per_node {
        edges.sort();
        let (mut now, mut peak) = (0, 0);
        for (_, d) in edges {
            now += d;
            peak = peak.max(now);
        }
        assert!(peak as usize <= CAP, "{node} ran {peak} at once, cap {CAP}");
        highest = highest.max(peak as usize);
    }
    // The queue was deep enough to press against the cap.
    assert_eq!(highest, CAP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_cancels_its_own_tasks_at_once() {
    let mut spec = fast_spec(2);
    spec.tasks.poll.value = "100ms".parse().unwrap();
    // Far beyond the test: only the restart itself can cancel.
    spec.tasks.orphan_after.value = "1h".parse().unwrap();
    let b = boot(spec).await;
    let lb = client(&b, &b.cluster.lb_url());
    timeout(LIMIT, lb.set_drain(&b.id("n2"), true))
        .await
        .unwrap()
        .unwrap();
    let ids = vec![
        submit(&lb, "echo a\nsleep 60").await,
        submit(&lb, "echo b\nsleep 60").await,
    ];
    wait_for(&lb, &ids, |t| t.state == TaskState::Executing).await;
    b.cluster.kill("n1").unwrap();
    timeout(LIMIT, b.cluster.start("n1"))
        .await
        .unwrap()
        .unwrap();
    let n1 = client(&b, &b.node_url("n1"));
    // Canceled by n1 as it started, long before any orphan timeout.
    let ended = timeout(Duration::from_secs(5), async {
        wait_for(&n1, &ids, |t| t.state.is_completed()).await
    })
    .await
    .expect("canceled at the restart");
    for t in ended {
        assert_eq!(t.state, TaskState::Canceled, "{t:?}");
        assert!(t.error_message.as_deref().unwrap().contains("restarted"));
        assert_eq!(t.server_node.as_deref(), Some(b.name("n1").as_str()));
    }
}
