use super::*;
use crate::history::{ClockOffset, Op, Outcome, Phase, Request};

fn started(index: u32, count: u32, run_id: &str) -> Event {
    Event::RunStarted {
        scenario: "failover".into(),
        seed: 7,
        run_id: run_id.into(),
        target: "cluster-up".into(),
        started_at: "2026-12-07T21:00:00.000Z".into(),
        shard: Some(Shard { index, count }),
    }
}

fn request(seq: u64, done_us: u64) -> Event {
    Event::Request(Request {
        seq,
        op: Op::Ping,
        intended_us: done_us - 1_000,
        sent_us: done_us - 1_000,
        done_us,
        outcome: Outcome::Ok,
        status: Some(200),
        error: None,
        bytes: 10,
        node: Some("n1".into()),
        held: false,
        load: false,
    })
}

fn clock(offset_us: i64, within_us: u64) -> Event {
    Event::ClockOffset(ClockOffset {
        at_us: 0,
        node: "n1".into(),
        offset_us: Some(offset_us),
        within_us: Some(within_us),
        error: None,
    })
}

/// Shard `index` of 3: its clock reading, a phase and a node status of
/// its own, requests `index`, `index + 3`, ... at 1 ms apart, and an end.
fn shard(index: u32, ended: bool) -> ShardHistory {
    let mut events = vec![
        started(index, 3, "ab12cd34"),
        clock(1_000 * i64::from(index), 500),
        Event::Phase {
            at_us: 0,
            phase: Phase::Warmup,
        },
        Event::NodeStatus {
            at_us: 5,
            node: format!("from-{index}"),
            status: Some(200),
        },
    ];
    for k in 0..10u64 {
        let seq = k * 3 + u64::from(index);
        events.push(request(seq, 10_000 + seq * 1_000));
    }
    if ended {
        events.push(Event::RunEnded {
            at_us: 50_000,
            interrupted: None,
        });
    }
    ShardHistory {
        folder: format!("runs/failover/ab12cd34/shard-{index}"),
        history: History { events },
    }
}

#[test]
fn three_shards_merge_in_time_order_with_the_cluster_as_the_conductor_saw_it() {
    let merged = merge(vec![shard(2, true), shard(0, true), shard(1, true)]).unwrap();
    let events = &merged.events;
    assert!(
        matches!(&events[0], Event::RunStarted { shard: None, run_id, .. } if run_id == "ab12cd34")
    );
    let Event::Shards(s) = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(s.count, 3);
    assert_eq!(
        s.shards.iter().map(|s| s.requests).collect::<Vec<_>>(),
        [10, 10, 10]
    );
    assert!(s.shards.iter().all(|s| s.unfinished.is_none()));
    // Offsets 0, 1 and 2 ms, each ± 0.5 ms: 2 ms apart plus both doubts.
    assert_eq!(s.skew_bound_us, Some(3_000));
    // Every request of every shard, in the order they were done: the
    // schedule's order, as the shards interleaved it.
    let seqs: Vec<u64> = merged.requests().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..30).collect::<Vec<_>>());
    // One warm-up, one node status: the conductor's.
    let phases = events
        .iter()
        .filter(|e| matches!(e, Event::Phase { .. }))
        .count();
    assert_eq!(phases, 1);
    let statuses: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::NodeStatus { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, ["from-0"]);
    assert!(!events.iter().any(|e| matches!(e, Event::ClockOffset(_))));
    assert!(
        matches!(events.last(), Some(Event::RunEnded { interrupted: None, at_us }) if *at_us == 50_000)
    );
}

#[test]
fn a_missing_or_killed_shard_ends_the_merged_run_as_interrupted_naming_it() {
    let merged = merge(vec![shard(0, true), shard(2, false)]).unwrap();
    let Some(Event::RunEnded {
        interrupted: Some(why),
        ..
    }) = merged.events.last()
    else {
        panic!("{:?}", merged.events.last())
    };
    assert!(why.contains("shard 1/3 is missing"), "{why}");
    assert!(
        why.contains("shard 2/3 (runs/failover/ab12cd34/shard-2) did not finish"),
        "{why}"
    );
    // The bound is over the shards given: shards 0 and 2, 2 ms apart,
    // each ± 0.5 ms (the run is unknown for the missing shard anyway).
    let Event::Shards(s) = &merged.events[1] else {
        panic!()
    };
    assert_eq!(s.skew_bound_us, Some(2_000 + 1_000));
    let stopped = ShardHistory {
        folder: "s1".into(),
        history: History {
            events: vec![
                started(1, 3, "ab12cd34"),
                Event::RunEnded {
                    at_us: 9,
                    interrupted: Some("SIGTERM".into()),
                },
            ],
        },
    };
    let merged = merge(vec![shard(0, true), stopped, shard(2, true)]).unwrap();
    let Some(Event::RunEnded {
        interrupted: Some(why),
        ..
    }) = merged.events.last()
    else {
        panic!()
    };
    assert_eq!(why, "shard 1/3 (s1) stopped early: SIGTERM");
    let Event::Shards(s) = &merged.events[1] else {
        panic!()
    };
    assert_eq!(s.skew_bound_us, None);
}

#[test]
fn folders_of_other_runs_a_shard_twice_or_no_shard_at_all_are_refused() {
    let mut other = shard(1, true);
    other.history.events[0] = started(1, 3, "99999999");
    let e = merge(vec![shard(0, true), other]).unwrap_err().to_string();
    assert!(
        e.contains("are not shards of one run: run ID ab12cd34 against 99999999"),
        "{e}"
    );
    let mut four = shard(1, true);
    four.history.events[0] = started(1, 4, "ab12cd34");
    let e = merge(vec![shard(0, true), four]).unwrap_err().to_string();
    assert!(e.contains("3 shards against 4"), "{e}");
    let e = merge(vec![shard(1, true), shard(0, true), shard(1, true)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("shard 1/3 is given twice"), "{e}");
    let mut whole = shard(0, true);
    if let Event::RunStarted { shard, .. } = &mut whole.history.events[0] {
        *shard = None;
    }
    let e = merge(vec![whole]).unwrap_err().to_string();
    assert!(e.contains("not a shard's history"), "{e}");
    assert!(merge(Vec::new()).is_err());
}

#[test]
fn the_shards_fleets_merge_into_one_fleet_of_every_tentacle_from_the_first_start() {
    use crate::history::{FleetStarted, FleetTentacle};
    let fleet = |at_us: u64, names: &[&str]| {
        Event::Fleet(FleetStarted {
            at_us,
            requested: 4,
            tentacles: names
                .iter()
                .map(|n| FleetTentacle {
                    name: n.to_string(),
                    machine: format!("Machines-{n}"),
                })
                .collect(),
            registration_errors: Vec::new(),
            endpoints: vec![("n1".into(), "127.0.0.2:1".into())],
            nodes: vec!["n1".into()],
            connections: 1,
            server_thumbprint: "AB".into(),
        })
    };
    let mut a = shard(0, true);
    a.history.events.insert(4, fleet(2_000, &["t-1", "t-3"]));
    let mut b = shard(1, true);
    b.history.events.insert(4, fleet(1_500, &["t-2", "t-4"]));
    let merged = merge(vec![a, b, shard(2, true)]).unwrap();
    let fleets: Vec<&FleetStarted> = merged
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Fleet(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(fleets.len(), 1);
    assert_eq!(fleets[0].at_us, 1_500);
    let names: Vec<&str> = fleets[0]
        .tentacles
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["t-1", "t-2", "t-3", "t-4"]);
}
