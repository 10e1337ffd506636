//! The shared file store taken away from a node, or unshared:
//! `scenarios/storage-outage.yaml` passes on the embedded cluster, and a
//! node writing to a folder of its own fails `shared_storage`, named.

use std::time::Duration;

use serde_json::Value;

use crate::util::{harness, run_with_timeout};

/// A bound against a hang: the scenarios take about 20 s to 35 s.
const LIMIT: Duration = Duration::from_secs(180);

fn run(scenario: &str) -> (i32, String, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args(["run", scenario, "--seed", "7", "--out"])
        .arg(tmp.path());
    let out = run_with_timeout(cmd, LIMIT);
    let report = std::fs::read_to_string(tmp.path().join("latest/report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}\n{}", out.stdout, out.stderr));
    (
        out.code(),
        format!("{}\n{}", out.stdout, out.stderr),
        report,
    )
}

fn check<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} check in {report}"))
}

#[test]
fn the_storage_outage_scenario_passes_and_the_node_refuses_what_it_cannot_store() {
    let (code, out, report) = run("scenarios/storage-outage.yaml");
    assert_eq!(code, 0, "{out}");
    for kind in ["shared_storage", "exactly_once", "no_acknowledged_loss"] {
        assert_eq!(check(&report, kind)["verdict"], "pass", "{kind}: {out}");
    }
    // Packages were compared through every node, not only task logs.
    let shared = check(&report, "shared_storage");
    assert!(
        shared["evidence"]["packages_compared"].as_u64().unwrap() >= 1,
        "{shared}"
    );
    // The outage was felt: n2 failed the tasks whose logs it could not
    // write, saying why, rather than succeeding in silence.
    let failed = report["tasks"]["by_state"]["Failed"].as_u64().unwrap_or(0);
    assert!(failed >= 1, "no task failed on n2: {out}");
}

#[test]
fn a_node_writing_to_a_folder_of_its_own_fails_shared_storage_naming_it() {
    let (code, out, report) = run("fixtures/scenarios/valid/storage-unshared.yaml");
    assert_eq!(code, 1, "{out}");
    let shared = check(&report, "shared_storage");
    assert_eq!(shared["verdict"], "fail", "{shared}");
    let detail = shared["detail"].as_str().unwrap();
    assert!(
        detail.contains("(run on n2)")
            && detail.contains("ServerTasks-")
            && detail.contains("n2's store was moved by storage_unshared-n2"),
        "{detail}"
    );
}
