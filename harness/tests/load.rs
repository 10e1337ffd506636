//! The goose load phase end to end: closed-model users over every
//! transaction, a node killed under them. goose's reports are in the run
//! folder and its request counts match the harness history's; the
//! harness's own checks judge the phase; each threshold rule is a check.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::util::{harness, run_with_timeout};

#[test]
fn a_load_phase_runs_on_goose_and_every_request_is_in_the_history() {
    // The whole machine: 0.69 cores on average alone, but goose's 16
    // users without a pause saturate both cores for the whole hold.
    let _exclusive = crate::util::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args([
        "run",
        "fixtures/scenarios/load/closed-model.yaml",
        "--seed",
        "5",
        "--out",
    ])
    .arg(tmp.path());
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    // One rule cannot hold, by design: the run fails on it alone.
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout, out.stderr);
    let dir = tmp.path().join("latest");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    crate::run::assert_matches_schema(&report);
    let verdict = |name: &str| crate::util::check_named(&report, name).clone();
    for passing in [
        "availability",
        "routes_around_failed_node",
        "recovers",
        "threshold p95<60s",
        "left_clean",
    ] {
        assert_eq!(verdict(passing)["verdict"], "pass", "{}", verdict(passing));
    }
    let rps = verdict("threshold rps>=1000000");
    assert_eq!(rps["verdict"], "fail");
    assert_eq!(rps["kind"], "load_threshold");
    // Judged on the history's load requests over the 8 s hold, goose's
    // own finding beside.
    let detail = rps["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("rps>=1000000 failed: ")
            && detail.contains("requests in the 8s hold); goose observed "),
        "{rps}"
    );
    assert!(rps["evidence"]["observed"].as_f64().unwrap() > 0.0, "{rps}");

    // goose's own reports are kept, and it counted exactly the requests the
    // history holds, kind by kind.
    assert!(dir.join("goose-report.html").is_file());
    let goose: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("goose-report.json")).unwrap())
            .unwrap();
    let counted: BTreeMap<String, u64> = goose["raw_request_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                ),
                r["number_of_requests"].as_u64().unwrap(),
            )
        })
        .collect();
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let mut recorded: BTreeMap<String, u64> = BTreeMap::new();
    for line in history.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["event"] == "request" {
            *recorded
                .entry(e["op"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    // goose names each request as Op::goose_name says, which a threshold
    // rule's ` for ` part is checked against.
    use harness::history::Op;
    for (op, request) in [
        Op::Ping,
        Op::Nodes,
        Op::Root,
        Op::Packages,
        Op::Task,
        Op::TaskRead,
        Op::Upload,
    ]
    .map(|op| (op.as_str(), op.goose_name()))
    {
        let ours = recorded.get(op).copied().unwrap_or(0);
        assert!(ours > 0, "no {op} request recorded");
        assert_eq!(
            counted.get(request).copied(),
            Some(ours),
            "{op}: {counted:?}"
        );
    }
    assert_eq!(report["metrics"]["by_op"]["upload"], recorded["upload"]);

    // The kill of n2 shows in the phase: n2 served less than the others,
    // and the LB took it out and back.
    let share = |n: &str| {
        report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()["share"]
            .as_f64()
            .unwrap()
    };
    assert!(share("n2") < share("n1") && share("n2") < share("n3"));
    assert!(share("n2") > 0.0, "n2 served before and after its kill");
    // What it created is gone.
    assert_eq!(report["cleanup"]["clean"], true, "{}", report["cleanup"]);
}
