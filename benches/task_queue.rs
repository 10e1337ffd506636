//! The task queue on the shared database: how many task claims a second
//! three nodes sustain when they compete for one queue.
//!
//! Each iteration queues 300 tasks and lets three threads, each with its
//! own connection as each node process has, claim them until the queue is
//! empty. The cap is 1 and each claimed task is completed at once, so every
//! task costs one claim transaction and one completion: the worst case,
//! with no batching. The peer, measured in the same run, is the floor of
//! the same database: three threads each committing one bare INSERT per
//! task. claims/s = 300 / time per iteration.

use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use reference_cluster::api::TaskState;
use reference_cluster::db::{ClaimMode, SharedDb};

const TASKS: u64 = 300;
const NODES: [&str; 3] = ["n1", "n2", "n3"];

fn fresh(dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("{:016x}.db", getrandom::u64().unwrap()));
    let db = SharedDb::create(&path).unwrap();
    for n in NODES {
        db.register(&format!("OctopusServerNodes-{n}"), n, 1, "bench")
            .unwrap();
    }
    for i in 0..TASKS {
        db.create_task("Spaces-1", "Health", &format!("t{i}"), "{}")
            .unwrap();
    }
    path
}

/// Three nodes claim and complete until the queue is empty.
fn drain_queue(path: &Path) -> u64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = NODES
            .iter()
            .map(|name| {
                s.spawn(move || {
                    let db = SharedDb::open(path).unwrap();
                    let id = format!("OctopusServerNodes-{name}");
                    let mut claimed = 0;
                    let mut idle = 0;
                    // A node that finds nothing three times in a row is done.
                    while idle < 3 {
                        let got = db.claim(&id, name, 60_000, ClaimMode::Atomic).unwrap();
                        if got.is_empty() {
                            idle += 1;
                            continue;
                        }
                        idle = 0;
                        for t in got {
                            claimed += 1;
                            db.complete(t.seq, name, TaskState::Success, None, ClaimMode::Atomic)
                                .unwrap();
                        }
                    }
                    claimed
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// The peer: three threads, each committing one INSERT per task, through
/// SharedDb so both sides use the same connection settings (`create_task`
/// is one INSERT in one write transaction).
fn bare_inserts(path: &Path) {
    std::thread::scope(|s| {
        for _ in NODES {
            s.spawn(move || {
                let db = SharedDb::open(path).unwrap();
                for i in 0..TASKS / NODES.len() as u64 {
                    db.create_task("Spaces-1", "Health", &format!("p{i}"), "{}")
                        .unwrap();
                }
            });
        }
    });
}

fn queue(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("task_queue");
    group.sample_size(20);
    group.throughput(Throughput::Elements(TASKS));
    group.bench_function("claim_and_complete_3_nodes", |b| {
        b.iter_batched(
            || fresh(dir.path()),
            |path| {
                let claimed = drain_queue(&path);
                assert_eq!(claimed, TASKS, "every task claimed exactly once");
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("bare_insert_3_writers", |b| {
        b.iter_batched(
            || fresh(dir.path()),
            |path| bare_inserts(&path),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
