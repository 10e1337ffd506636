//! The shared file store taken away from a node, or unshared:
//! `scenarios/storage-outage.yaml` passes on the embedded cluster, and a
//! node writing to a folder of its own fails `shared_storage`, named.

use std::time::Duration;

use crate::util::{check_of, run_report};

/// A bound against a hang: the scenarios take about 20 s to 35 s.
const LIMIT: Duration = Duration::from_secs(180);

#[test]
fn the_storage_outage_scenario_passes_and_the_node_refuses_what_it_cannot_store() {
    let (code, out, report) = run_report("scenarios/storage-outage.yaml", LIMIT);
    assert_eq!(code, 0, "{out}");
    for kind in ["shared_storage", "exactly_once", "no_acknowledged_loss"] {
        assert_eq!(check_of(&report, kind)["verdict"], "pass", "{kind}: {out}");
    }
    // Packages were compared through every node, not only task logs.
    let shared = check_of(&report, "shared_storage");
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
    let (code, out, report) = run_report("fixtures/scenarios/valid/storage-unshared.yaml", LIMIT);
    assert_eq!(code, 1, "{out}");
    let shared = check_of(&report, "shared_storage");
    assert_eq!(shared["verdict"], "fail", "{shared}");
    let detail = shared["detail"].as_str().unwrap();
    assert!(
        detail.contains("(run on n2)")
            && detail.contains("ServerTasks-")
            && detail.contains("n2's store was moved by storage_unshared-n2"),
        "{detail}"
    );
}
