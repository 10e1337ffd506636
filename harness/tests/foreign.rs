//! A cluster the harness did not write. A small Octopus-like server, built
//! here from the documented REST surface alone (ping, the node list and
//! resource, drain by PUT, the cluster summary), whose nodes' Names and Ids
//! look nothing like the target file's names, and which can misbehave as a
//! real cluster might: refuse a drain, or keep answering ping with 200
//! while drained. Behind it a round-robin "LB" that honours 418 and skips
//! a node that is down. The harness runs against it as a real target,
//! through a target file whose node commands write what they do to a log,
//! which the cluster reads: a node stopped or killed there stops
//! answering, so a test sees exactly which disruptive commands ran, and
//! on which node.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};

use crate::util::{harness, run_with_timeout};

/// A whole run on the foreign cluster, with room for a slow machine.
const RUN: Duration = Duration::from_secs(90);

/// How the foreign cluster misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// As Octopus documents it.
    Correct,
    /// Every PUT to a node is refused with 403, as for a key without the
    /// permission.
    RefusesDrains,
    /// A drain is stored, but the node's own ping keeps answering 200.
    PingIgnoresDrain,
    /// Correct, with less of the API: no `/all` (only the paged list), no
    /// summary (a node's details count its running tasks), ping bodies with
    /// a Name and no Id, and a PUT answered 204 with no body.
    Terse,
    /// Neither the summary nor a node's details: no running task count
    /// can be read.
    NoTaskCounts,
}

/// One node as the cluster knows it.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    name: String,
    drained: bool,
}

struct State {
    nodes: Vec<Node>,
    behaviour: Behaviour,
    /// The LB's next node.
    turn: usize,
    /// Every PUT the cluster took or refused: (node Id, asked drained).
    puts: Vec<(String, bool)>,
    /// What the node commands did: lines of `VERB NAME`.
    log: PathBuf,
}

impl State {
    /// Whether the last command that acted on node `i` stopped it.
    fn down(&self, i: usize) -> bool {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let name = &self.nodes[i].name;
        log.lines()
            .rfind(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
            .is_some_and(|l| l.starts_with("stop ") || l.starts_with("kill "))
    }
}

/// A node that is down: its connections are closed unanswered.
#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("down")
    }
}

impl std::error::Error for Down {}

type Shared = Arc<Mutex<State>>;

fn resource(n: &Node) -> Value {
    json!({
        "Id": n.id,
        "Name": n.name,
        "MaxConcurrentTasks": 5,
        "IsInMaintenanceMode": n.drained,
        "IsOffline": false,
        "LastSeen": "2026-12-06T00:00:00.000+00:00",
        "Version": "2026.1.1234",
        "LastModifiedOn": "2026-12-06T00:00:00.000+00:00",
        "LastModifiedBy": "admin",
        "Links": { "Self": format!("/api/octopusservernodes/{}", n.id) },
    })
}

fn reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response")
}

/// Answers one request; `me` is the node the listener is, or None for the
/// LB, which answers a ping as the next node in turn that is not drained.
async fn answer(
    state: Shared,
    me: Option<usize>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Down> {
    if me.is_some_and(|i| state.lock().unwrap().down(i)) {
        return Err(Down);
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut s = state.lock().unwrap();
    let behaviour = s.behaviour;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let resp = match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "octopusservernodes", "ping"]) => {
            let i = match me {
                Some(i) => i,
                None => {
                    let n = s.nodes.len();
                    let Some(pick) = (0..n)
                        .map(|k| (s.turn + k) % n)
                        .find(|&k| !s.nodes[k].drained && !s.down(k))
                    else {
                        return Ok(reply(503, &json!({ "ErrorMessage": "no node in service" })));
                    };
                    s.turn = pick + 1;
                    pick
                }
            };
            let n = &s.nodes[i];
            let teapot = n.drained && behaviour != Behaviour::PingIgnoresDrain;
            let mut body = resource(n);
            if behaviour == Behaviour::Terse {
                body = json!({ "Name": n.name, "Version": "2026.1.1234", "IsInMaintenanceMode": n.drained });
            }
            reply(if teapot { 418 } else { 200 }, &body)
        }
        ("GET", ["api", "octopusservernodes", "all" | "summary"])
            if behaviour == Behaviour::Terse =>
        {
            reply(
                404,
                &json!({ "ErrorMessage": "The resource you requested was not found." }),
            )
        }
        ("GET", ["api", "octopusservernodes"]) => reply(
            200,
            &json!({ "ItemType": "OctopusServerNode", "TotalResults": s.nodes.len(), "Items": s.nodes.iter().map(resource).collect::<Vec<_>>() }),
        ),
        ("GET", ["api", "octopusservernodes", id, "details"])
            if behaviour != Behaviour::NoTaskCounts =>
        {
            reply(200, &json!({ "Id": id, "RunningTasks": 0 }))
        }
        (
            "GET",
            ["api", "octopusservernodes", "summary"] | ["api", "octopusservernodes", _, "details"],
        ) if behaviour == Behaviour::NoTaskCounts => reply(
            404,
            &json!({ "ErrorMessage": "The resource you requested was not found." }),
        ),
        ("GET", ["api"]) => reply(
            200,
            &json!({ "Application": "Octopus Deploy", "Version": "2026.1.1234", "ApiVersion": "3.0.0" }),
        ),
        ("GET", ["api", "octopusservernodes", "all"]) => {
            reply(200, &Value::Array(s.nodes.iter().map(resource).collect()))
        }
        ("GET", ["api", "octopusservernodes", "summary"]) => {
            let nodes: Vec<Value> = s
                .nodes
                .iter()
                .map(|n| {
                    let mut r = resource(n);
                    r["RunningTaskCount"] = json!(0);
                    r
                })
                .collect();
            reply(200, &json!({ "Nodes": nodes }))
        }
        ("GET", ["api", "octopusservernodes", id]) => match s.nodes.iter().find(|n| n.id == *id) {
            Some(n) => reply(200, &resource(n)),
            None => reply(
                404,
                &json!({ "ErrorMessage": "The resource you requested was not found." }),
            ),
        },
        ("PUT", ["api", "octopusservernodes", id]) => {
            let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let drained = asked["IsInMaintenanceMode"].as_bool().unwrap_or(false);
            s.puts.push((id.to_string(), drained));
            if behaviour == Behaviour::RefusesDrains {
                reply(
                    403,
                    &json!({ "ErrorMessage": "You do not have permission to perform this action. Please contact your Octopus administrator. Missing permission: ConfigureServer" }),
                )
            } else {
                match s.nodes.iter_mut().find(|n| n.id == *id) {
                    Some(n) if behaviour == Behaviour::Terse => {
                        n.drained = drained;
                        Response::builder()
                            .status(204)
                            .body(Full::new(Bytes::new()))
                            .expect("a response")
                    }
                    Some(n) => {
                        n.drained = drained;
                        reply(200, &resource(n))
                    }
                    None => reply(404, &json!({ "ErrorMessage": "not found" })),
                }
            }
        }
        // A list the run's clean-up reads: this cluster has nothing.
        ("GET", [..])
            if path.ends_with("/packages")
                || path.ends_with("/tasks")
                || path.ends_with("/machines") =>
        {
            reply(200, &json!({ "Items": [], "TotalResults": 0 }))
        }
        _ => reply(
            404,
            &json!({ "ErrorMessage": format!("no route for {method} {path}") }),
        ),
    };
    Ok(resp)
}

/// The foreign cluster, served on loopback until the test ends.
struct Foreign {
    state: Shared,
    /// The node commands' log, which the cluster reads.
    log: PathBuf,
    _dir: tempfile::TempDir,
    lb: SocketAddr,
    nodes: Vec<SocketAddr>,
    _runtime: tokio::runtime::Runtime,
}

impl Foreign {
    fn start(behaviour: Behaviour) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("commands.log");
        let state: Shared = Arc::new(Mutex::new(State {
            log: log.clone(),
            // Host names and Ids that share nothing with web-a and web-b.
            nodes: vec![
                Node {
                    id: "OctopusServerNodes-9f3c1e".into(),
                    name: "PRODOCTO-EU1".into(),
                    drained: false,
                },
                Node {
                    id: "OctopusServerNodes-41ab07".into(),
                    name: "PRODOCTO-EU2".into(),
                    drained: false,
                },
            ],
            behaviour,
            turn: 0,
            puts: Vec::new(),
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut bound = Vec::new();
        for me in [None, Some(0), Some(1)] {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            bound.push(listener.local_addr().unwrap());
            let state = state.clone();
            runtime.spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |req| answer(state.clone(), me, req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        }
        Foreign {
            state,
            log,
            _dir: dir,
            lb: bound[0],
            nodes: bound[1..].to_vec(),
            _runtime: runtime,
        }
    }

    /// A target file for it: web-a and web-b; `urls` picks the node each
    /// entry's URL is, `acts_on` the node its commands act on (the same,
    /// unless the file is wrong). The commands append their verb and that
    /// node's Name to the log.
    fn target(&self, dir: &Path, urls: [usize; 2], acts_on: [usize; 2]) -> PathBuf {
        let mut text = format!(
            "name: foreign\nlb: http://{}\napi_key_env: FOREIGN_KEY\ncommand_timeout: 3s\nnodes:\n",
            self.lb
        );
        let names: Vec<String> = {
            let s = self.state.lock().unwrap();
            s.nodes.iter().map(|n| n.name.clone()).collect()
        };
        for ((entry, url), on) in ["web-a", "web-b"].iter().zip(urls).zip(acts_on) {
            let record =
                |verb: &str| format!("echo {verb} {} >> {}", names[on], self.log.display());
            text.push_str(&format!(
                "  - name: {entry}\n    url: http://{}\n    commands:\n      kill: '{}'\n      stop: '{}'\n      start: '{}'\n",
                self.nodes[url],
                record("kill"),
                record("stop"),
                record("start"),
            ));
        }
        let path = dir.join("target.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The node commands that ran, in order.
    fn commands(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn puts(&self) -> Vec<(String, bool)> {
        self.state.lock().unwrap().puts.clone()
    }

    fn drained(&self) -> BTreeMap<String, bool> {
        let s = self.state.lock().unwrap();
        s.nodes
            .iter()
            .map(|n| (n.name.clone(), n.drained))
            .collect()
    }
}

/// Runs the maintenance of web-a on a foreign cluster; gives the exit
/// code, stderr, the report and the commands that ran.
fn maintain(f: &Foreign, dir: &Path) -> (i32, String, Value, String) {
    maintain_with(f, dir, [0, 1])
}

/// As [`maintain`], with web-a's and web-b's commands acting on the nodes
/// `acts_on` names.
fn maintain_with(f: &Foreign, dir: &Path, acts_on: [usize; 2]) -> (i32, String, Value, String) {
    let target = f.target(dir, [0, 1], acts_on);
    let json = dir.join("report.json");
    let mut cmd = harness();
    cmd.args(["run", "--allow-disruptive", "--target"])
        .arg(&target)
        .arg("fixtures/targets/scenarios/maintain-web-a.yaml")
        .arg("--out")
        .arg(dir.join("runs"))
        .arg("--json")
        .arg(&json)
        .env("FOREIGN_KEY", "API-FOREIGNFOREIGNFOREIGN12");
    let out = run_with_timeout(cmd, RUN);
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let commands = f.commands();
    (
        out.code(),
        format!("{}\n{}", out.stdout, out.stderr),
        report,
        commands,
    )
}

/// Every check that did not pass, with its detail, a line each.
fn not_passed(report: &Value) -> String {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["verdict"] != "pass")
        .map(|c| format!("{} {}: {}", c["verdict"], c["kind"], c["detail"]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn check<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} in {report}"))
}

#[test]
fn a_maintenance_on_a_foreign_cluster_goes_by_the_cluster_s_ids_and_passes() {
    for behaviour in [Behaviour::Correct, Behaviour::Terse] {
        let f = Foreign::start(behaviour);
        let dir = tempfile::tempdir().unwrap();
        let (code, out, report, commands) = maintain(&f, dir.path());
        // What did not pass comes last: the run's output is long, and a CI
        // log keeps its tail.
        assert_eq!(
            code,
            0,
            "{behaviour:?}: {out}\nnot passed:\n{}",
            not_passed(&report)
        );
        // The drain and the undrain went to web-a by the cluster's Id for it.
        assert_eq!(
            f.puts(),
            [
                ("OctopusServerNodes-9f3c1e".to_string(), true),
                ("OctopusServerNodes-9f3c1e".to_string(), false)
            ],
            "{behaviour:?}"
        );
        assert_eq!(
            commands, "stop PRODOCTO-EU1\nstart PRODOCTO-EU1\n",
            "{behaviour:?}"
        );
        assert!(f.drained().values().all(|d| !d), "{:?}", f.drained());
        assert_eq!(check(&report, "drain_contract")["verdict"], "pass", "{out}");
        assert_eq!(check(&report, "left_clean")["verdict"], "pass", "{out}");
        // Reports name the node as the target does, the cluster's Name beside.
        let nodes = report["nodes"].as_array().unwrap();
        let a = nodes.iter().find(|n| n["name"] == "web-a").unwrap();
        assert_eq!(a["cluster_name"], "PRODOCTO-EU1");
        assert_eq!(a["cluster_id"], "OctopusServerNodes-9f3c1e");
        assert!(a["pings_served"].as_u64().unwrap() > 0, "{a}");
        assert!(out.contains("web-a (PRODOCTO-EU1)"), "{out}");
        // The preflight finds the same cluster healthy, whatever it lacks.
        let mut cmd = harness();
        cmd.args(["doctor", "--target"])
            .arg(dir.path().join("target.yaml"))
            .env("FOREIGN_KEY", "API-FOREIGNFOREIGNFOREIGN12");
        let doctor = run_with_timeout(cmd, RUN);
        assert_eq!(doctor.code(), 0, "{behaviour:?}: {}", doctor.stdout);
        assert!(
            doctor
                .stdout
                .contains("web-a is PRODOCTO-EU1 (OctopusServerNodes-9f3c1e)"),
            "{}",
            doctor.stdout
        );
    }
}

#[test]
fn a_drain_the_cluster_refuses_stops_the_maintenance_before_any_node_is_stopped() {
    for (behaviour, why) in [
        (
            Behaviour::RefusesDrains,
            "the drain was not done; no node was stopped",
        ),
        (
            Behaviour::PingIgnoresDrain,
            "web-a was not confirmed drained: the cluster reports IsInMaintenanceMode true and its own ping answers 200",
        ),
        (
            Behaviour::NoTaskCounts,
            "the running task count could not be read by the end of the wait",
        ),
    ] {
        let f = Foreign::start(behaviour);
        let dir = tempfile::tempdir().unwrap();
        let (code, out, report, commands) = maintain(&f, dir.path());
        // No stop, no start: a node that was not drained is not restarted.
        assert_eq!(commands, "", "{behaviour:?}: {out}");
        assert_eq!(code, 1, "{behaviour:?}: {out}");
        let contract = check(&report, "drain_contract");
        let detail = contract["detail"].as_str().unwrap();
        eprintln!(
            "{behaviour:?}: drain_contract {}: {detail}",
            contract["verdict"]
        );
        assert_ne!(contract["verdict"], "pass", "{behaviour:?}: {contract}");
        assert!(detail.contains(why), "{behaviour:?}: {detail}");
        if behaviour == Behaviour::RefusesDrains {
            assert!(
                detail.contains("answered 403: You do not have permission"),
                "{detail}"
            );
        } else {
            assert!(
                detail.contains("maintain-web-a did not complete: "),
                "{detail}"
            );
        }
        assert!(detail.contains("no node was stopped"), "{detail}");
        // What was done is undone, and nothing is left to undo: a drain
        // the cluster refused is not one to take back.
        assert!(f.drained().values().all(|d| !d), "{:?}", f.drained());
        assert_eq!(
            check(&report, "left_clean")["verdict"],
            "pass",
            "{behaviour:?}: {out}"
        );
    }
}

#[test]
fn a_target_whose_entries_are_not_the_cluster_s_nodes_is_refused_before_anything_is_done() {
    let f = Foreign::start(Behaviour::Correct);
    let dir = tempfile::tempdir().unwrap();
    // Both entries point at the first node; the second node is no entry's.
    let target = f.target(dir.path(), [0, 0], [0, 1]);
    let mut cmd = harness();
    cmd.args(["run", "--allow-disruptive", "--target"])
        .arg(&target)
        .arg("fixtures/targets/scenarios/maintain-web-a.yaml")
        .arg("--out")
        .arg(dir.path().join("runs"))
        .env("FOREIGN_KEY", "API-FOREIGNFOREIGNFOREIGN12");
    let out = run_with_timeout(cmd, RUN);
    assert_eq!(out.code(), 3, "{}\n{}", out.stdout, out.stderr);
    for says in [
        "the target's nodes are not the cluster's",
        "web-a, web-b all answer ping as PRODOCTO-EU1 (OctopusServerNodes-9f3c1e): the target lists one node more than once",
        "the cluster lists PRODOCTO-EU2 (OctopusServerNodes-41ab07), which no node of the target is",
    ] {
        assert!(out.stderr.contains(says), "{says:?} not in {}", out.stderr);
    }
    assert!(f.puts().is_empty(), "{:?}", f.puts());
    assert_eq!(f.commands(), "");
    // doctor says the same, read-only.
    let mut cmd = harness();
    cmd.args(["doctor", "--target"])
        .arg(&target)
        .env("FOREIGN_KEY", "API-FOREIGNFOREIGNFOREIGN12");
    let out = run_with_timeout(cmd, RUN);
    assert_eq!(out.code(), 1, "{}", out.stdout);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("node_list_agrees"))
        .unwrap_or_default();
    assert!(
        line.contains("FAIL") && line.contains("web-a, web-b all answer ping as PRODOCTO-EU1"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_stop_command_that_acts_on_another_node_is_caught_and_the_maintenance_goes_no_further() {
    let f = Foreign::start(Behaviour::Correct);
    let dir = tempfile::tempdir().unwrap();
    // web-a's URL is the first node, but its commands act on the second.
    let (code, out, report, commands) = maintain_with(&f, dir.path(), [1, 1]);
    assert_eq!(code, 1, "{out}");
    // The stop went to the wrong node; web-a kept answering, so no start
    // followed it but the heal's, which brings the stopped node back.
    assert_eq!(commands, "stop PRODOCTO-EU2\nstart PRODOCTO-EU2\n", "{out}");
    let contract = check(&report, "drain_contract");
    assert_ne!(
        contract["verdict"], "pass",
        "{contract} {}",
        report["drains"]
    );
    assert!(
        contract["detail"].as_str().unwrap().contains(
            "maintain-web-a did not complete: its restart failed: web-a's `stop` command succeeded"
        ),
        "{contract}"
    );
    let steps = report["drains"][0]["steps"].as_array().unwrap();
    let restart = steps.iter().find(|s| s["step"] == "restart").unwrap();
    assert!(
        restart["error"]
            .as_str()
            .unwrap()
            .contains("web-a's `stop` command succeeded, but web-a still answers ping at http://")
            && restart["error"]
                .as_str()
                .unwrap()
                .contains("the command may act on another node"),
        "{restart}"
    );
    // Both nodes answer again, and neither is left drained.
    assert!(!f.state.lock().unwrap().down(0) && !f.state.lock().unwrap().down(1));
    assert!(f.drained().values().all(|d| !d), "{:?}", f.drained());
}

#[test]
fn a_node_an_operator_drained_before_the_run_is_neither_restarted_nor_undrained() {
    let f = Foreign::start(Behaviour::Correct);
    f.state.lock().unwrap().nodes[0].drained = true;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, report, commands) = maintain(&f, dir.path());
    assert_eq!(code, 1, "{out}");
    assert_eq!(commands, "", "{out}");
    // No PUT at all: the drain was not the run's to make or to undo.
    assert!(f.puts().is_empty(), "{:?}", f.puts());
    assert!(f.drained()["PRODOCTO-EU1"]);
    assert!(
        out.contains("web-a (PRODOCTO-EU1) is in maintenance mode as the run starts"),
        "{out}"
    );
    let contract = check(&report, "drain_contract");
    assert_eq!(contract["verdict"], "unknown", "{contract}");
    assert!(
        contract["detail"]
            .as_str()
            .unwrap()
            .contains("web-a was in maintenance mode already, drained by someone else"),
        "{contract}"
    );
    // Nothing the run did is left undone.
    assert_eq!(check(&report, "left_clean")["verdict"], "pass", "{out}");
}
