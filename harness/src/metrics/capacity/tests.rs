//! The search's figures from synthetic histories whose knees are known:
//! the bracket, the capacity, the share a drained node costs, the law and
//! the conclusion; a generator-bound step is never a capacity.

use super::*;
use crate::history::{CapacityLevel, Op, Outcome};
use crate::scenario::{Scenario, parse_str};

/// A step's requests: how they went.
#[derive(Clone, Copy)]
pub(crate) enum Went {
    /// 2 ms each, sent on time.
    Fast,
    /// 100 ms each.
    Slow,
    /// Sent 20 ms late, by a generator that fell behind.
    SentLate,
    /// One in twenty answered 503 by n2.
    Errors,
}

/// One node count: its nodes, the nodes drained, and each step's rate
/// and how it went.
pub(crate) type Level<'a> = (u32, &'a [&'a str], &'a [(f64, Went)]);

/// Each step holds this long.
const HOLD_US: u64 = 1_000_000;

/// A scenario whose search asks p99 under 50 ms and at most 1% errors,
/// with a ceiling of 2,000/s.
pub(crate) fn scenario(drain: u32, checks: &str) -> Scenario {
    parse_str(&format!(
        "name: knee\nduration: 1s\ncluster: {{ nodes: 3 }}\n\
         capacity:\n  api:\n    start: 100/s\n    ceiling: 2000/s\n    objective: {{ p99: 50ms }}\n  drain: {drain}\n\
         checks: {checks}"
    ))
    .unwrap()
}

/// The history a search of `levels` leaves.
pub(crate) fn history_of(levels: &[Level<'_>]) -> History {
    let mut events = Vec::new();
    let mut t = 1_000_000;
    let mut seq = 0;
    for (nodes, drained, steps) in levels {
        let drained: Vec<String> = drained.iter().map(|d| d.to_string()).collect();
        events.push(Event::CapacityLevel(CapacityLevel {
            at_us: t,
            nodes: *nodes,
            drained: drained.clone(),
            error: None,
        }));
        for &(rate, went) in *steps {
            let from_us = t;
            events.push(sample(from_us));
            let n = (rate * HOLD_US as f64 / 1e6) as u64;
            for i in 0..n {
                let intended_us = from_us + i * HOLD_US / n;
                let (lag, took, failed) = match went {
                    Went::Fast => (100, 2_000, false),
                    Went::Slow => (100, 100_000, false),
                    Went::SentLate => (20_000, 22_000, false),
                    Went::Errors => (100, 2_000, i % 20 == 0),
                };
                seq += 1;
                events.push(Event::Request(Request {
                    seq,
                    op: Op::Ping,
                    intended_us,
                    sent_us: intended_us + lag,
                    done_us: intended_us + took,
                    outcome: if failed { Outcome::Fail } else { Outcome::Ok },
                    status: Some(if failed { 503 } else { 200 }),
                    error: None,
                    bytes: 10,
                    node: Some("n2".into()),
                    held: false,
                }));
            }
            events.push(sample(from_us + HOLD_US));
            events.push(Event::CapacityStep(CapacityStep {
                search: "api".into(),
                rate,
                from_us,
                to_us: from_us + HOLD_US,
                nodes: *nodes,
                drained: drained.clone(),
                part: "ladder".into(),
            }));
            t += 2 * HOLD_US;
        }
    }
    History { events }
}

/// A sample at `at_us` of a generator that may use one CPU and has used
/// a tenth of it all along.
fn sample(at_us: u64) -> Event {
    Event::Generator(GeneratorSample {
        at_us,
        cpu_us: at_us / 10,
        cpus: 1.0,
        fds: 20,
        sockets: 8,
    })
}

/// Three nodes with a knee at 900/s, two at 600/s, one at 300/s.
pub(crate) fn three_levels() -> History {
    use Went::{Fast, Slow};
    history_of(&[
        (
            3,
            &[],
            &[
                (100.0, Fast),
                (200.0, Fast),
                (400.0, Fast),
                (800.0, Fast),
                (1600.0, Slow),
                (1200.0, Slow),
                (1000.0, Slow),
                (900.0, Fast),
                (950.0, Slow),
            ],
        ),
        (
            2,
            &["n3"],
            &[
                (100.0, Fast),
                (200.0, Fast),
                (400.0, Fast),
                (800.0, Slow),
                (600.0, Fast),
                (700.0, Slow),
                (650.0, Slow),
                (625.0, Slow),
            ],
        ),
        (
            1,
            &["n3", "n2"],
            &[
                (100.0, Fast),
                (200.0, Fast),
                (400.0, Slow),
                (300.0, Fast),
                (350.0, Slow),
                (325.0, Slow),
            ],
        ),
    ])
}

fn report_of(h: &History) -> CapacityReport {
    let s = scenario(2, "[]");
    capacity(h, &s.capacity.as_ref().unwrap().value, &s.generator)
}

#[test]
fn each_node_count_s_knee_is_bracketed_and_a_drained_node_s_share_is_said() {
    let r = report_of(&three_levels());
    let knees: Vec<_> = r
        .levels
        .iter()
        .map(|l| (l.nodes, l.sustained, l.missed, l.capacity))
        .collect();
    assert_eq!(
        knees,
        vec![
            (3, Some(900.0), Some(950.0), Some(900.0)),
            (2, Some(600.0), Some(625.0), Some(600.0)),
            (1, Some(300.0), Some(325.0), Some(300.0)),
        ]
    );
    let lost: Vec<f64> = r.levels.iter().filter_map(|l| l.lost).collect();
    assert_eq!(lost.len(), 2);
    assert!(
        (lost[0] - 1.0 / 3.0).abs() < 1e-9 && (lost[1] - 2.0 / 3.0).abs() < 1e-9,
        "{lost:?}"
    );
    // What broke past the knee, with its figure.
    assert!(
        r.levels[0]
            .limit
            .starts_with("at 950/s: p99 100.0 ms, not under 50ms"),
        "{}",
        r.levels[0].limit
    );
    // Linear scaling: the law finds no contention and predicts on.
    let fit = r.fit.as_ref().expect("a fit");
    assert!(
        fit.sigma < 1e-6 && fit.kappa < 1e-6 && (fit.lambda - 300.0).abs() < 1.0,
        "{fit:?}"
    );
    assert_eq!(r.predictions.len(), 2);
    assert!(
        (r.predictions[0].rate - 1200.0).abs() < 2.0,
        "{:?}",
        r.predictions
    );
    assert_eq!(
        r.conclusion,
        "3 nodes sustain 900 req/s at p99 < 50ms, errors ≤ 1%; with one drained, 600 (−33%); \
         with two drained, 300 (−67%); a node more (4) would add about 33% (by a law through three points)"
    );
}

#[test]
fn a_step_the_generator_fell_behind_in_is_never_the_cluster_s_capacity() {
    use Went::{Fast, SentLate};
    let h = history_of(&[(3, &[], &[(100.0, Fast), (200.0, Fast), (400.0, SentLate)])]);
    let r = report_of(&h);
    let level = &r.levels[0];
    assert_eq!(level.steps[2].verdict, StepVerdict::GeneratorBound);
    assert!(level.generator_bound);
    assert_eq!((level.sustained, level.capacity), (Some(200.0), None));
    assert!(
        level.limit.starts_with(
            "the generator's ceiling at 400/s (100.0% of requests were sent more than 10ms late"
        ),
        "{}",
        level.limit
    );
    assert!(
        r.conclusion.starts_with("3 nodes: the generator's ceiling"),
        "{}",
        r.conclusion
    );
    assert!(r.fit.is_none());
}

#[test]
fn a_search_that_met_the_objective_up_to_its_ceiling_claims_no_knee() {
    use Went::Fast;
    let h = history_of(&[(3, &[], &[(500.0, Fast), (1000.0, Fast), (2000.0, Fast)])]);
    let level = &report_of(&h).levels[0];
    assert_eq!((level.sustained, level.capacity), (Some(2000.0), None));
    assert!(
        level.limit.contains("up to the ceiling, 2,000/s"),
        "{}",
        level.limit
    );
}

#[test]
fn errors_past_the_objective_miss_it_and_name_who_answered() {
    use Went::{Errors, Fast};
    let h = history_of(&[(3, &[], &[(100.0, Fast), (200.0, Errors)])]);
    let step = &report_of(&h).levels[0].steps[1];
    assert_eq!(step.verdict, StepVerdict::Missed);
    assert!(
        step.why
            .starts_with("5.0% errors, over 1%: mostly 503 from n2 (10)"),
        "{}",
        step.why
    );
    assert!((step.achieved - 190.0).abs() < 1e-9, "{}", step.achieved);
}

#[test]
fn the_generator_s_lag_leaves_out_held_requests_and_its_cpu_is_a_share_of_its_quota() {
    let s = scenario(0, "[]");
    let request = |intended_us: u64, lag: u64, held: bool| Request {
        seq: 0,
        op: Op::Ping,
        intended_us,
        sent_us: intended_us + lag,
        done_us: intended_us + lag + 1_000,
        outcome: Outcome::Ok,
        status: Some(200),
        error: None,
        bytes: 0,
        node: None,
        held,
    };
    // 100 on time; 50 held back by max_in_flight, sent 80 ms late.
    let requests: Vec<Request> = (0..100)
        .map(|i| request(i * 1_000, 200, false))
        .chain((0..50).map(|i| request(i * 1_000, 80_000, true)))
        .collect();
    let at = |at_us, cpu_us| GeneratorSample {
        at_us,
        cpu_us,
        cpus: 0.5,
        fds: 30,
        sockets: 12,
    };
    // 0.48 CPU of a 0.5 quota over the window.
    let samples = [at(0, 0), at(1_000_000, 480_000)];
    let g = super::super::generator::figures(&requests, &samples, (0, 1_000_000), &s.generator);
    assert_eq!((g.requests, g.held), (150, 50));
    assert!(g.send_lag_p99_ms < 1.0 && g.late_share == 0.0, "{g:?}");
    assert!((g.cpu_share.unwrap() - 0.96).abs() < 1e-9, "{g:?}");
    assert_eq!(
        g.bound.as_deref(),
        Some("it used 96% of its 0.5 CPU(s) (more than 90%)")
    );
    assert_eq!((g.peak_fds, g.peak_sockets), (Some(30), Some(12)));
}

#[test]
fn a_generator_bound_step_inside_a_bracket_leaves_the_bracket_standing() {
    use Went::{Fast, SentLate, Slow};
    let h = history_of(&[(
        3,
        &[],
        &[
            (100.0, Fast),
            (200.0, Fast),
            (400.0, Slow),
            (300.0, SentLate),
        ],
    )]);
    let level = &report_of(&h).levels[0];
    assert_eq!((level.capacity, level.missed), (Some(200.0), Some(400.0)));
    assert!(!level.generator_bound);
    assert!(
        level
            .limit
            .ends_with("(the bisection stopped at 300/s, where the generator fell behind)"),
        "{}",
        level.limit
    );
}

#[test]
fn a_first_step_that_missed_puts_the_knee_below_the_start() {
    let h = history_of(&[(3, &[], &[(100.0, Went::Slow)])]);
    let level = &report_of(&h).levels[0];
    assert_eq!((level.sustained, level.capacity), (None, None));
    assert!(
        level
            .limit
            .starts_with("the knee is below the start, 100/s: at 100/s: p99"),
        "{}",
        level.limit
    );
}
