//! The shared database and the shared file store taken away: the
//! database outage itself (SQLite refusing every connection, nothing
//! committed lost), the database and storage scenarios passing on the
//! embedded cluster, and each broken node, and a node writing to a folder
//! of its own, failing the check that exists to catch it. Named so it sorts
//! early: libtest starts tests in name order, and these mostly wait.

use std::time::Duration;

use crate::util::{check_of, run_report};

use reference_cluster::db::{Outage, SharedDb};

/// A bound against a hang: the scenarios take 30 s to 50 s.
const LIMIT: Duration = Duration::from_secs(180);

#[test]
fn an_outage_fails_reads_and_writes_of_an_open_connection_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    SharedDb::create(&path).unwrap();
    let db = SharedDb::open(&path).unwrap();
    db.register("OctopusServerNodes-a1", "OCTO-A", 5, "v")
        .unwrap();
    let before = db
        .node("OctopusServerNodes-a1")
        .unwrap()
        .unwrap()
        .last_seen_ms;
    let outage = Outage::begin(&path, Duration::from_secs(5)).unwrap();
    // The write's transaction is lost whole; the connection stays open.
    std::thread::sleep(Duration::from_millis(5));
    assert!(db.heartbeat("OctopusServerNodes-a1").is_err());
    drop(outage);
    let after = db.node("OctopusServerNodes-a1").unwrap().unwrap();
    assert_eq!(after.name, "OCTO-A", "the committed row survived");
    assert_eq!(
        after.last_seen_ms, before,
        "the refused heartbeat left no trace"
    );
    db.heartbeat("OctopusServerNodes-a1").unwrap();
    let resumed = db
        .node("OctopusServerNodes-a1")
        .unwrap()
        .unwrap()
        .last_seen_ms;
    assert!(resumed > before, "the same connection writes again");
}

#[test]
fn the_database_outage_scenario_passes_and_the_nodes_come_back_in_the_same_process() {
    let (code, out, report) = run_report("scenarios/database-outage.yaml", LIMIT);
    assert_eq!(code, 0, "{out}");
    for kind in ["survives_database_outage", "heartbeats_resume"] {
        let c = check_of(&report, kind);
        assert_eq!(c["verdict"], "pass", "{c}");
        let nodes = c["evidence"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "{c}");
    }
    // Tasks were running when the database went away, and ended after.
    assert_eq!(check_of(&report, "no_acknowledged_loss")["verdict"], "pass");
    let tasks = check_of(&report, "tasks_survive");
    assert_eq!(tasks["verdict"], "pass", "{tasks}");
    assert!(
        tasks["evidence"]["outages"][0]["running"].as_u64().unwrap() >= 1,
        "{tasks}"
    );
    // The outage was felt: requests failed while it lasted.
    let m = &report["metrics"];
    let failed = m["errors"].as_u64().unwrap() + m["indeterminate"].as_u64().unwrap();
    assert!(failed > 0, "no request failed during a 30s outage: {m}");
}

#[test]
fn the_database_failover_scenario_passes_its_database_back_by_itself() {
    let (code, out, report) = run_report("scenarios/database-failover.yaml", LIMIT);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["faults"][0]["kind"], "database_failover");
    for kind in [
        "survives_database_outage",
        "heartbeats_resume",
        "tasks_survive",
    ] {
        assert_eq!(
            check_of(&report, kind)["verdict"],
            "pass",
            "{kind}: {report}"
        );
    }
}

#[test]
fn a_node_that_exits_on_database_loss_fails_survives_database_outage() {
    let (code, out, report) = run_report(
        "fixtures/scenarios/valid/database-outage-node-exits.yaml",
        LIMIT,
    );
    assert_eq!(code, 1, "{out}");
    let survives = check_of(&report, "survives_database_outage");
    assert_eq!(survives["verdict"], "fail", "{survives}");
    let detail = survives["detail"].as_str().unwrap();
    assert!(
        detail.contains("n2") && detail.contains("its process ended") && detail.contains("#4012"),
        "{detail}"
    );
    let heartbeats = check_of(&report, "heartbeats_resume");
    assert_eq!(heartbeats["verdict"], "fail", "{heartbeats}");
    assert!(
        heartbeats["detail"].as_str().unwrap().contains("n2"),
        "{heartbeats}"
    );
    // The correct nodes passed: only n2 is named.
    for evidence in survives["evidence"]["nodes"].as_array().unwrap() {
        let expected = if evidence["node"] == "n2" {
            "fail"
        } else {
            "pass"
        };
        assert_eq!(evidence["verdict"], expected, "{survives}");
    }
}

#[test]
fn a_node_that_does_not_reconnect_fails_both_database_checks() {
    let (code, out, report) = run_report(
        "fixtures/scenarios/valid/database-outage-no-reconnect.yaml",
        LIMIT,
    );
    assert_eq!(code, 1, "{out}");
    let survives = check_of(&report, "survives_database_outage");
    assert_eq!(survives["verdict"], "fail", "{survives}");
    let detail = survives["detail"].as_str().unwrap();
    assert!(
        detail.contains("n3")
            && detail.contains("did not answer 200")
            && detail.contains("connection pool"),
        "{detail}"
    );
    let heartbeats = check_of(&report, "heartbeats_resume");
    assert_eq!(heartbeats["verdict"], "fail", "{heartbeats}");
    let detail = heartbeats["detail"].as_str().unwrap();
    assert!(
        detail.contains("n3") && detail.contains("did not move"),
        "{detail}"
    );
}

#[test]
fn a_node_that_acknowledges_before_it_commits_fails_no_acknowledged_loss() {
    let (code, out, report) = run_report(
        "fixtures/scenarios/valid/database-outage-acknowledge-before-commit.yaml",
        LIMIT,
    );
    assert_eq!(code, 1, "{out}");
    let loss = check_of(&report, "no_acknowledged_loss");
    assert_eq!(loss["verdict"], "fail", "{loss}");
    let detail = loss["detail"].as_str().unwrap();
    assert!(
        detail.contains("was acknowledged (201")
            && detail.contains("through n2")
            && detail.contains("before it has committed"),
        "{detail}"
    );
    // The client was told it is stored: the upload itself says success.
    assert_eq!(check_of(&report, "upload_answered")["verdict"], "pass");
}

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
