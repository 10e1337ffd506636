//! Judging a history of 1,000,000 events with the checks of
//! scenarios/failover.yaml: what `harness report` and the end of every run
//! pay. The history is synthetic but shaped like a real one: 10,000
//! requests a second for 100 s through three nodes, n2 killed from 40 s to
//! 60 s with errors until the LB notices.

use criterion::{Criterion, criterion_group, criterion_main};
use harness::history::{Event, FaultAction, FaultEvent, History, Op, Outcome, Phase, Request};
use harness::vocab::FaultKind;

const EVENTS: u64 = 1_000_000;

fn history() -> History {
    let mut events = vec![
        Event::RunStarted {
            scenario: "failover".into(),
            seed: 1,
            run_id: "0000abcd".into(),
            target: "embedded".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            shard: None,
        },
        Event::Phase {
            at_us: 0,
            phase: Phase::Workload,
        },
    ];
    for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
        events.push(Event::NodeUp {
            at_us: 0,
            node: n.to_string(),
            address: format!("127.0.0.{}:1", i + 2),
            pid: Some(1),
            boot_ms: 3,
        });
    }
    let fault = |at_us, action| {
        Event::Fault(FaultEvent {
            at_us,
            done_us: None,
            step: None,
            name: "kill-n2".into(),
            kind: FaultKind::Kill,
            nodes: vec!["n2".into()],
            action,
            error: None,
        })
    };
    let (kill_at, heal_at, detected) = (40_000_000, 60_000_000, 42_000_000);
    for seq in 0..EVENTS - 8 {
        let t = seq * 100;
        if t == kill_at {
            events.push(fault(t, FaultAction::Inject));
        }
        if t == heal_at {
            events.push(fault(t, FaultAction::Heal));
        }
        let down = (kill_at..heal_at).contains(&t);
        let node = ["n1", "n2", "n3"][(seq % 3) as usize];
        let (outcome, status, node) = if down && node == "n2" && t < detected {
            (Outcome::Fail, Some(502), None)
        } else if down && node == "n2" {
            (Outcome::Ok, Some(200), Some("n1".to_string()))
        } else {
            (Outcome::Ok, Some(200), Some(node.to_string()))
        };
        events.push(Event::Request(Request {
            seq,
            op: Op::Ping,
            intended_us: t,
            sent_us: t + 50,
            done_us: t + 900 + (seq % 7) * 100,
            outcome,
            status,
            error: None,
            bytes: 300,
            node,
            held: false,
            load: false,
        }));
    }
    events.push(Event::RunEnded {
        at_us: EVENTS * 100,
        interrupted: None,
    });
    History { events }
}

fn judge(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/failover.yaml");
    let scenario = harness::scenario::load(std::path::Path::new(path))
        .expect("valid")
        .scenario;
    let history = history();
    assert!(history.events.len() as u64 >= EVENTS);
    let mut group = c.benchmark_group("checks");
    group.sample_size(10);
    group.bench_function("failover_checks_over_1m_events", |b| {
        b.iter(|| harness::check::run_all(&scenario, std::hint::black_box(&history), None))
    });
    // The peer: one plain pass over the same events, summing latencies; the
    // ratio says how many passes' worth of work the four checks do.
    group.bench_function("one_pass_sum_over_1m_events", |b| {
        b.iter(|| {
            std::hint::black_box(&history)
                .requests()
                .map(|r| r.latency_us())
                .sum::<u64>()
        })
    });
    group.finish();
}

criterion_group!(benches, judge);
criterion_main!(benches);
