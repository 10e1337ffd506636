//! The search's figures from synthetic histories whose knees are known:
//! the bracket, the capacity, the share a drained node costs, the law and
//! the conclusion; a generator-bound step is never a capacity; and the
//! task search's pick-up, unstarted tasks and refusals.

use super::*;
use crate::history::{CapacityLevel, CapacityStep, GeneratorSample, Op, Outcome};
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
                    load: false,
                }));
            }
            events.push(sample(from_us + HOLD_US));
            events.push(Event::CapacityStep(CapacityStep {
                search: "api".into(),
                rate,
                lead_from_us: from_us,
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
    capacity(h, &s.capacity.as_ref().unwrap().value, &s.generator).remove(0)
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
        load: false,
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
    let g = super::super::generator::figures(
        requests.iter().map(super::super::generator::Sent::from),
        &samples,
        (0, 1_000_000),
        &s.generator,
    );
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

/// The task search's figures from synthetic histories: pick-up from
/// each task's intended submission, tasks that never started counted over
/// the bound, refused submissions counted as failures, and the knee.
mod tasks {
    use super::super::*;
    use crate::history::{CapacityLevel, CapacityStep, Outcome, TaskSeen, TaskSubmit};
    use crate::scenario::{Scenario, parse_str};
    use crate::vocab::TaskState;

    /// Each step holds this long.
    const HOLD_US: u64 = 1_000_000;

    /// How a step's tasks went.
    #[derive(Clone, Copy)]
    enum Went {
        /// Each started 50 ms after it was due and ran 200 ms.
        Quick,
        /// The queue grew: the n-th started n × 100 ms late, and the second
        /// half never started before the step gave up on them and canceled
        /// them.
        Queued,
        /// One in five submissions answered 503.
        Refused,
    }

    fn scenario() -> Scenario {
        parse_str(
            "name: tasks-knee\nduration: 1s\ncluster: { nodes: 3 }\n\
             capacity:\n  tasks:\n    start: 10/s\n    ceiling: 80/s\n    work: 200ms\n    objective: { pickup: 1s }\n\
             checks: []",
        )
        .unwrap()
    }

    /// The history of one node count's task steps.
    fn history_of(steps: &[(f64, Went)]) -> History {
        let mut events = vec![Event::CapacityLevel(CapacityLevel {
            at_us: 0,
            nodes: 3,
            drained: Vec::new(),
            error: None,
        })];
        let mut t = 1_000_000;
        let mut seq = 0;
        for &(rate, went) in steps {
            let from_us = t;
            let n = (rate * HOLD_US as f64 / 1e6) as u64;
            for i in 0..n {
                seq += 1;
                let due = from_us + i * HOLD_US / n;
                let refused = matches!(went, Went::Refused) && i % 5 == 0;
                let id = format!("ServerTasks-{seq}");
                events.push(Event::TaskSubmitted(TaskSubmit {
                    seq,
                    marker: format!("m-{seq}"),
                    via: "lb".into(),
                    due_us: Some(due),
                    sent_us: due + 200,
                    done_us: due + 5_000,
                    outcome: if refused { Outcome::Fail } else { Outcome::Ok },
                    status: Some(if refused { 503 } else { 201 }),
                    error: None,
                    id: (!refused).then(|| id.clone()),
                }));
                if refused {
                    continue;
                }
                let seen = |at_us, state, started_us, completed_us| {
                    Event::Task(TaskSeen {
                        at_us,
                        id: id.clone(),
                        state,
                        node: Some("n1".into()),
                        queued_us: Some(due + 5_000),
                        started_us,
                        completed_us,
                        error: None,
                    })
                };
                let start = match went {
                    Went::Quick | Went::Refused => Some(due + 50_000),
                    Went::Queued if i < n / 2 => Some(due + i * 100_000),
                    Went::Queued => None,
                };
                match start {
                    Some(s) => {
                        events.push(seen(s + 10_000, TaskState::Executing, Some(s), None));
                        let end = s + 200_000;
                        events.push(seen(end + 10_000, TaskState::Success, Some(s), Some(end)));
                    }
                    // Seen queued once, then canceled by the step as it
                    // gave up: the runner records the cancel, not a state.
                    None => {
                        events.push(seen(due + 10_000, TaskState::Queued, None, None));
                        events.push(Event::Removed {
                            at_us: from_us + HOLD_US + 1_700_000,
                            kind: "task".into(),
                            id: id.clone(),
                            removed: true,
                            error: None,
                            state: Some(TaskState::Canceled),
                        });
                    }
                }
            }
            events.push(Event::CapacityStep(CapacityStep {
                search: "tasks".into(),
                rate,
                lead_from_us: from_us,
                from_us,
                to_us: from_us + HOLD_US,
                nodes: 3,
                drained: Vec::new(),
                part: "ladder".into(),
            }));
            t += 6 * HOLD_US;
        }
        History { events }
    }

    fn report_of(h: &History) -> CapacityReport {
        let s = scenario();
        let mut reports = capacity(h, &s.capacity.as_ref().unwrap().value, &s.generator);
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    #[test]
    fn the_task_knee_is_where_the_queue_starts_to_grow_and_is_said_in_tasks() {
        use Went::{Queued, Quick};
        let h = history_of(&[
            (10.0, Quick),
            (20.0, Quick),
            (40.0, Queued),
            (30.0, Quick),
            (35.0, Queued),
        ]);
        let r = report_of(&h);
        assert_eq!(
            (r.search.name(), r.unit.as_str(), r.measure.as_str()),
            ("tasks", "tasks/s", "pick-up")
        );
        let level = &r.levels[0];
        assert_eq!(
            (level.sustained, level.missed, level.capacity),
            (Some(30.0), Some(35.0), Some(30.0))
        );
        let quick = &level.steps[0];
        assert_eq!(quick.verdict, StepVerdict::Met);
        assert!((quick.p99_ms - 50.0).abs() < 1.0, "{}", quick.p99_ms);
        // Every task ended well within the hold's count.
        assert!((quick.achieved - 10.0).abs() < 1e-9, "{}", quick.achieved);
        assert!(
            r.conclusion.starts_with(
                "3 nodes sustain 30 tasks/s at pick-up p99 < 1s, failures ≤ 1%; no scaling law"
            ),
            "{}",
            r.conclusion
        );
    }

    #[test]
    fn tasks_that_never_started_are_over_the_bound_and_refusals_are_failures() {
        let h = history_of(&[(20.0, Went::Queued)]);
        let step = &report_of(&h).levels[0].steps[0];
        assert_eq!(step.verdict, StepVerdict::Missed);
        // Half never started: each at least the time from its due moment
        // to the step giving up, the objective's 1s, the work's 200ms and
        // two reads of 250ms after the hold.
        assert!(step.p99_ms >= 1_700.0, "{}", step.p99_ms);
        assert!(
            step.why
                .contains("10 of them never started before the step gave up on them"),
            "{}",
            step.why
        );
        // Delivered: the 7 that started within the hold (the n-th at n × 150
        // ms into it) and ended well, not the 10 that ended well at last.
        assert!((step.achieved - 7.0).abs() < 1e-9, "{}", step.achieved);

        let h = history_of(&[(20.0, Went::Refused)]);
        let step = &report_of(&h).levels[0].steps[0];
        assert_eq!(step.verdict, StepVerdict::Missed);
        assert_eq!((step.requests, step.errors), (20, 4));
        assert!(
            step.why
                .starts_with("20.0% of tasks failed, over 1%: mostly submission answered 503 (4)"),
            "{}",
            step.why
        );
    }
}
