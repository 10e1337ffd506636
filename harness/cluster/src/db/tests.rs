//! The shared database's queue rules and rows, on real SQLite files.

use super::*;

fn cluster(nodes: &[(&str, u32)]) -> (tempfile::TempDir, Vec<SharedDb>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    SharedDb::create(&path).unwrap();
    let dbs: Vec<SharedDb> = nodes
        .iter()
        .map(|(name, cap)| {
            let db = SharedDb::open(&path).unwrap();
            db.register(&format!("OctopusServerNodes-{name}"), name, *cap, "v")
                .unwrap();
            db
        })
        .collect();
    (dir, dbs)
}

fn queue(db: &SharedDb, n: usize) {
    for i in 0..n {
        db.create_task("Spaces-1", "Health", &format!("t{i}"), "{}")
            .unwrap();
    }
}

fn claim(db: &SharedDb, name: &str) -> Vec<TaskRow> {
    db.claim(
        &format!("OctopusServerNodes-{name}"),
        name,
        60_000,
        ClaimMode::Atomic,
    )
    .unwrap()
}

#[test]
fn the_ratio_rule_spreads_a_small_queue_and_the_cap_bounds_a_big_one() {
    let (_dir, dbs) = cluster(&[("n1", 5), ("n2", 5), ("n3", 5)]);
    queue(&dbs[0], 3);
    // 3 queued over 15 slots: a ratio of 0.2 lets n1 take 2 (0/5 and
    // 1/5 are within it, 2/5 is not), and n2 the last one.
    assert_eq!(claim(&dbs[0], "n1").len(), 2);
    assert_eq!(claim(&dbs[1], "n2").len(), 1);
    assert_eq!(claim(&dbs[2], "n3").len(), 0);
    // A queue past the cluster's capacity fills each node to its cap.
    queue(&dbs[0], 40);
    for (db, name, held) in [(&dbs[0], "n1", 2), (&dbs[1], "n2", 1), (&dbs[2], "n3", 0)] {
        let got = claim(db, name);
        assert_eq!(got.len(), 5 - held, "{name}");
        assert!(got.iter().all(|t| t.state == TaskState::Executing
            && t.server_node.as_deref() == Some(name)
            && t.start_ms.is_some()));
        assert!(claim(db, name).is_empty(), "{name} went past its cap");
    }
    // Oldest first.
    let (_, executing) = dbs[0]
        .tasks(&TaskFilter {
            states: vec![TaskState::Executing],
            take: 100,
            ..TaskFilter::default()
        })
        .unwrap();
    assert_eq!(executing.iter().map(|t| t.seq).max(), Some(15));
}

#[test]
fn a_drained_node_claims_nothing_and_finishes_what_it_runs() {
    let (_dir, dbs) = cluster(&[("n1", 5), ("n2", 5)]);
    queue(&dbs[0], 1);
    let mine = claim(&dbs[0], "n1");
    assert_eq!(mine.len(), 1);
    dbs[1]
        .update("OctopusServerNodes-n1", Some(true), None)
        .unwrap();
    queue(&dbs[0], 3);
    assert!(claim(&dbs[0], "n1").is_empty());
    // Its own task still ends, as Success.
    assert!(
        dbs[0]
            .complete(
                mine[0].seq,
                "n1",
                TaskState::Success,
                None,
                ClaimMode::Atomic
            )
            .unwrap()
    );
    // Another node cannot end a task it does not hold.
    let theirs = claim(&dbs[1], "n2");
    assert!(
        !dbs[0]
            .complete(
                theirs[0].seq,
                "n1",
                TaskState::Failed,
                None,
                ClaimMode::Atomic
            )
            .unwrap()
    );
}

#[test]
fn orphans_are_canceled_by_others_after_the_timeout_and_by_their_node_at_start() {
    let (_dir, dbs) = cluster(&[("n1", 5), ("n2", 5)]);
    queue(&dbs[0], 4);
    // 4 over 10 slots: n1 claims while its ratio is at most 0.4.
    let n1 = claim(&dbs[0], "n1");
    let n2 = claim(&dbs[1], "n2");
    assert_eq!((n1.len(), n2.len()), (3, 1));
    // n1 is fresh: nothing is an orphan yet.
    assert_eq!(dbs[1].cancel_orphans("n2", 60_000).unwrap(), 0);
    // n1 not seen for a minute: n2 cancels its tasks, never re-queues.
    dbs[1]
        .conn
        .execute(
            "UPDATE nodes SET last_seen_ms = last_seen_ms - 120000 WHERE name = 'n1'",
            [],
        )
        .unwrap();
    // n1 itself, back from a pause, leaves its own to cancel_own.
    assert_eq!(dbs[0].cancel_orphans("n1", 60_000).unwrap(), 0);
    assert_eq!(dbs[1].cancel_orphans("n2", 60_000).unwrap(), 3);
    for t in &n1 {
        let t = dbs[1].task(t.seq).unwrap().unwrap();
        assert_eq!(t.state, TaskState::Canceled);
        assert_eq!(t.server_node.as_deref(), Some("n1"));
    }
    // A canceled task stays canceled when its node finishes late.
    assert!(
        !dbs[0]
            .complete(n1[0].seq, "n1", TaskState::Success, None, ClaimMode::Atomic)
            .unwrap()
    );
    // n2 restarts: it cancels its own active tasks.
    assert_eq!(dbs[1].cancel_own("n2").unwrap(), 1);
    assert!(claim(&dbs[0], "n1").is_empty(), "nothing was re-queued");
}

#[test]
fn atomic_claims_from_many_connections_never_overlap_and_racy_ones_do() {
    for (mode, expect_duplicates) in [
        (ClaimMode::Atomic, false),
        (ClaimMode::Racy(Duration::from_millis(20)), true),
    ] {
        let names = ["n1", "n2", "n3", "n4"];
        let (dir, dbs) = cluster(&names.map(|n| (n, 1000)));
        queue(&dbs[0], 200);
        drop(dbs);
        let path = dir.path().join("shared.db");
        let claimed: Vec<(String, i64)> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|name| {
                    let path = path.clone();
                    s.spawn(move || {
                        let db = SharedDb::open(&path).unwrap();
                        let mut got = Vec::new();
                        let id = format!("OctopusServerNodes-{name}");
                        // Until the queue is empty (at most 200 rounds).
                        for _ in 0..200 {
                            let round = db.claim(&id, name, 60_000, mode).unwrap();
                            if round.is_empty() {
                                break;
                            }
                            got.extend(round.iter().map(|t| (name.to_string(), t.seq)));
                        }
                        got
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let mut seqs: Vec<i64> = claimed.iter().map(|(_, s)| *s).collect();
        seqs.sort();
        let before = seqs.len();
        seqs.dedup();
        if expect_duplicates {
            assert!(before > seqs.len(), "{mode:?}: {before} claims, none twice");
        } else {
            assert_eq!((before, seqs.len()), (200, 200), "{mode:?}");
        }
    }
}

#[test]
fn register_heartbeat_update_keep_drain_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    SharedDb::create(&path).unwrap();
    let a = SharedDb::open(&path).unwrap();
    let b = SharedDb::open(&path).unwrap();
    a.register("OctopusServerNodes-n1", "n1", 5, "v1").unwrap();
    b.register("OctopusServerNodes-n2", "n2", 5, "v1").unwrap();
    let drained = b
        .update("OctopusServerNodes-n1", Some(true), None)
        .unwrap()
        .unwrap();
    assert!(drained.is_in_maintenance_mode);
    assert_eq!(drained.max_concurrent_tasks, 5);
    // A restart registers again and keeps the flag.
    a.register("OctopusServerNodes-n1", "n1", 7, "v2").unwrap();
    let n1 = b.node("OctopusServerNodes-n1").unwrap().unwrap();
    assert!(n1.is_in_maintenance_mode);
    assert_eq!((n1.max_concurrent_tasks, n1.version.as_str()), (5, "v2"));
    a.heartbeat("OctopusServerNodes-n1").unwrap();
    assert_eq!(b.nodes().unwrap().len(), 2);
    assert_eq!(
        b.update("OctopusServerNodes-n9", Some(true), None).unwrap(),
        None
    );
}

#[test]
fn package_lists_select_by_id_and_by_term_in_any_case() {
    let (_dir, dbs) = cluster(&[("n1", 5)]);
    let db = &dbs[0];
    for (n, (id, version)) in [
        ("Acme.Web", "1.0.0"),
        ("Acme.Web", "1.1.0"),
        ("Other", "2.0.0"),
        ("100%_sure", "1.0.0"),
    ]
    .into_iter()
    .enumerate()
    {
        let row = PackageRow {
            id: format!("packages-{id}.{version}"),
            package_id: id.into(),
            version: version.into(),
            extension: ".zip".into(),
            size: 1,
            hash: "00".into(),
            path: format!("Packages/{n}"),
            published_ms: n as i64,
        };
        let stored = db.store_package(&row, Overwrite::FailIfExists, || Ok(()));
        assert!(matches!(stored, Ok(Stored::Created(_))));
    }
    let ids = |f: PackageFilter, skip, take| {
        let (total, rows) = db.packages(&f, skip, take).unwrap();
        (total, rows.into_iter().map(|r| r.id).collect::<Vec<_>>())
    };
    assert_eq!(ids(PackageFilter::default(), 0, 30).0, 4);
    let web = || PackageFilter {
        package_id: Some("acme.WEB".into()),
        term: None,
    };
    assert_eq!(
        ids(web(), 0, 30),
        (
            2,
            vec![
                "packages-Acme.Web.1.1.0".into(),
                "packages-Acme.Web.1.0.0".into()
            ]
        )
    );
    // The total counts every match; the page is cut from them.
    assert_eq!(
        ids(web(), 1, 30),
        (2, vec!["packages-Acme.Web.1.0.0".into()])
    );
    let term = |t: &str| PackageFilter {
        package_id: None,
        term: Some(t.into()),
    };
    assert_eq!(ids(term("CME"), 0, 30).0, 2);
    assert_eq!(ids(term("nothing"), 0, 30), (0, vec![]));
    // LIKE's wildcards are plain characters in a term.
    assert_eq!(ids(term("%_"), 0, 30).0, 1);
    assert_eq!(ids(term("_"), 0, 30).0, 1);
}
