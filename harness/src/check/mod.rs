//! Checks: each one judges the recorded history, never the live run, and
//! returns pass, fail or unknown with a one-line detail and its evidence.
//!
//! One file per check kind. Verdicts merge with fail over unknown over
//! pass, as Jepsen's `merge-valid` does; what every check answers with is
//! `verdict`'s, and the fault windows they judge by are `windows`'.

mod acknowledged;
mod availability;
mod database;
mod drain;
mod latency;
mod left_clean;
mod polling;
mod recovers;
mod regression;
mod routes_around;
mod sustains;
mod tasks;
mod thresholds;
mod upload;
mod verdict;
mod windows;

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::scenario::{Check, NamedCheck, NoRegression, Scenario};

pub use crate::metrics::{HISTOGRAM_SIGFIG, histogram, histogram_of, percentile_us};
pub use regression::{Against, Baseline, Baselines};
pub use verdict::Verdict;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// The judgement.
    pub verdict: Verdict,
    /// One line a person can act on.
    pub detail: String,
    /// The figures behind the verdict.
    pub evidence: serde_json::Value,
}

/// Judges every check of a scenario, then `upload_answered` where the
/// scenario uploads and does not declare it, and `left_clean`, which every
/// run gets. With a baseline, `no_regression` is judged against it (with
/// the default tolerances when the scenario declares none); without one,
/// the scenario's `no_regression` checks are left out, as there is nothing
/// to compare with.
pub fn run_all(
    scenario: &Scenario,
    history: &History,
    baseline: Option<&Against>,
) -> Vec<CheckResult> {
    let mut results: Vec<CheckResult> = Vec::new();
    let lb = drain::LbWindows::of(&scenario.checks);
    for c in &scenario.checks {
        match (&c.value, baseline) {
            (Check::NoRegression(_), None) => {}
            (Check::Sustains(s), _) => {
                results.push(CheckResult::of(
                    &c.value,
                    sustains::judge(s, history, scenario),
                ));
            }
            (Check::NoRegression(n), Some(against)) => {
                results.push(no_regression(&c.value, n, history, against));
            }
            (other, _) => results.push(judge_in(other, history, &lb)),
        }
    }
    let declared = scenario
        .checks
        .iter()
        .any(|c| matches!(c.value, Check::NoRegression(_)));
    // Implicit only where there is something to compare, as validation
    // asks of a declared one.
    let comparable = scenario.api_load().is_some()
        || scenario.load_phase().is_some()
        || scenario.task_load().is_some();
    if let (false, true, Some(against)) = (declared, comparable, baseline) {
        let implicit = Check::NoRegression(NoRegression::default());
        results.push(no_regression(
            &implicit,
            &NoRegression::default(),
            history,
            against,
        ));
    }
    // A client that saw its upload fail is a failure wherever uploads run,
    // asked for or not: a pipeline's `octo push` would have failed.
    let answered = scenario
        .checks
        .iter()
        .any(|c| matches!(c.value, Check::UploadAnswered(_)));
    if !answered && scenario.upload_load().is_some() {
        results.push(judge(
            &Check::UploadAnswered(NamedCheck { name: None }),
            history,
        ));
    }
    // Each goose threshold rule of the load phase is a check of its own.
    for rule in scenario
        .load_phase()
        .into_iter()
        .flat_map(|l| &l.thresholds)
    {
        let (verdict, detail, evidence) = thresholds::judge(&rule.value, history);
        results.push(CheckResult {
            name: format!("threshold {}", rule.value),
            kind: "load_threshold".into(),
            verdict,
            detail,
            evidence,
        });
    }
    let (verdict, detail, evidence) = left_clean::judge(history);
    results.push(CheckResult {
        name: "left_clean".into(),
        kind: "left_clean".into(),
        verdict,
        detail,
        evidence,
    });
    // Stopped before its workload: nothing the checks are about happened,
    // so none of them can say pass or fail.
    if let Some(i) = history.interruption()
        && history
            .phase_start(crate::history::Phase::Workload)
            .is_none()
    {
        for r in &mut results {
            r.verdict = Verdict::Unknown;
            r.detail = format!(
                "not judged: the run was interrupted ({}) before its workload began",
                i.describe()
            );
        }
    }
    results
}

fn no_regression(
    check: &Check,
    c: &NoRegression,
    history: &History,
    against: &Against,
) -> CheckResult {
    CheckResult::of(check, regression::judge(c, history, against))
}

/// Judges one check. `no_regression` needs a baseline, which only
/// [`run_all`] is given; here it is unknown. Nor is there a
/// `drain_contract` beside it to give the LB a window to take a drained
/// node out in, so `availability` counts every 418 a drained node answered
/// as a failure.
pub fn judge(check: &Check, history: &History) -> CheckResult {
    judge_in(check, history, &drain::LbWindows::default())
}

/// Judges one check, with the LB's windows the scenario's
/// `drain_contract` checks give.
fn judge_in(check: &Check, history: &History, lb: &drain::LbWindows) -> CheckResult {
    let (verdict, detail, evidence) = match check {
        Check::Availability(c) => availability::judge(c, history, lb),
        Check::RoutesAroundFailedNode(c) => routes_around::judge(c, history),
        Check::Recovers(c) => recovers::judge(c, history),
        Check::Latency(c) => latency::judge(c, history),
        Check::DrainContract(c) => drain::judge(c, history),
        Check::ExactlyOnce(c) => tasks::exactly_once(c, history),
        Check::TaskCap(c) => tasks::task_cap(c, history),
        Check::OrphanedTasks(c) => tasks::orphaned(c, history),
        Check::SharedStorage(c) => tasks::shared_storage(c, history),
        Check::UploadIntact(_) => upload::intact(history),
        Check::UploadAnswered(_) => upload::answered(history),
        Check::UploadThroughput(c) => upload::throughput(c, history),
        Check::LadderReaches(c) => upload::ladder(c, history),
        Check::PollingFanOut(_) => polling::fan_out(history),
        Check::PollingCertificate(_) => polling::certificate(history),
        Check::EveryNodeReachesEveryTentacle(_) => polling::every_node_reaches(history),
        Check::ReconnectStorm(c) => polling::reconnect_storm(c, history),
        Check::RpcLatency(c) => polling::rpc_latency(c, history),
        Check::SurvivesDatabaseOutage(c) => database::survives(c, history),
        Check::HeartbeatsResume(c) => database::heartbeats(c, history),
        Check::TasksSurvive(c) => tasks::tasks_survive(c, history),
        Check::NoAcknowledgedLoss(_) => acknowledged::judge(history),
        Check::NoRegression(_) => (
            Verdict::Unknown,
            "no baseline: compared only with run --baseline".into(),
            serde_json::json!({ "baseline": null }),
        ),
        Check::Sustains(_) => (
            Verdict::Unknown,
            "judged only with its scenario's capacity search".into(),
            serde_json::json!({}),
        ),
    };
    CheckResult::of(check, (verdict, detail, evidence))
}

impl CheckResult {
    /// The result of a declared check: its name and kind, and a judgement.
    fn of(
        check: &Check,
        (verdict, detail, evidence): (Verdict, String, serde_json::Value),
    ) -> Self {
        Self {
            name: check.name(),
            kind: check.kind().to_string(),
            verdict,
            detail,
            evidence,
        }
    }
}

/// Judgements on small hand-made histories: each check can pass, fail and
/// say unknown.
#[cfg(test)]
mod judged {
    use super::*;
    use crate::history::{Event, FaultAction, FaultEvent, Op, Outcome, Phase, Request};
    use crate::scenario::parse_str;
    use crate::vocab::FaultKind;

    const S: u64 = 1_000_000;

    /// The workload phase and n1..n3 up, at 0.
    fn three_nodes_at_work() -> Vec<Event> {
        let mut events = vec![Event::Phase {
            at_us: 0,
            phase: Phase::Workload,
        }];
        for n in ["n1", "n2", "n3"] {
            events.push(Event::NodeUp {
                at_us: 0,
                node: n.into(),
                address: String::new(),
                pid: None,
                boot_ms: 0,
            });
        }
        events
    }

    /// The fault kill-n2 injected or healed at `at_us`.
    fn kill_n2(at_us: u64, action: FaultAction) -> Event {
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
    }

    /// Three nodes, n2 killed at 10 s and restarted at 20 s; 100 pings a
    /// second from 0 to 30 s. Until `converged_at` a third of the pings
    /// fail; `back_at` is when n2 serves again.
    fn history(converged_at: u64, back_at: Option<u64>) -> History {
        let mut events = three_nodes_at_work();
        let fault = kill_n2;
        for seq in 0..3000u64 {
            let t = seq * 10_000;
            if t == 10 * S {
                events.push(fault(t, FaultAction::Inject));
            }
            if t == 20 * S {
                events.push(fault(t, FaultAction::Heal));
            }
            let turn = ["n1", "n2", "n3"][(seq % 3) as usize];
            let n2_down =
                (10 * S..20 * S).contains(&t) || (t >= 20 * S && back_at.is_none_or(|b| t < b));
            let (outcome, node) = match turn {
                "n2" if n2_down && t < converged_at => (Outcome::Fail, None),
                "n2" if n2_down => (Outcome::Ok, Some("n1")),
                n => (Outcome::Ok, Some(n)),
            };
            events.push(Event::Request(Request {
                seq,
                op: Op::Ping,
                intended_us: t,
                sent_us: t,
                done_us: t + 1000,
                outcome,
                status: Some(if outcome == Outcome::Ok { 200 } else { 502 }),
                error: None,
                bytes: 1,
                node: node.map(String::from),
                held: false,
                load: false,
            }));
        }
        History { events }
    }

    fn verdicts(checks: &str, h: &History) -> Vec<(String, Verdict)> {
        let yaml = format!(
            "name: t\nduration: 30s\nworkload:\n  - api: {{ rate: 100/s }}\nfaults:\n  - kill: {{ node: n2, at: 10s, for: 10s }}\nchecks:\n{checks}"
        );
        let s = parse_str(&yaml).unwrap();
        run_all(&s, h, None)
            .into_iter()
            .map(|r| (r.detail, r.verdict))
            .collect()
    }

    #[test]
    fn routes_around_passes_fails_and_cannot_tell() {
        let check = "  - routes_around_failed_node: { within: 3s }\n";
        let quick = verdicts(check, &history(12 * S, Some(22 * S)));
        assert_eq!(quick[0].1, Verdict::Pass, "{quick:?}");
        assert!(quick[0].0.contains("2.0s after kill-n2"), "{quick:?}");
        let never = verdicts(check, &history(20 * S, Some(22 * S)));
        assert_eq!(never[0].1, Verdict::Fail, "{never:?}");
        assert!(never[0].0.contains("for the whole 10.0s"), "{never:?}");
        let slow = verdicts(check, &history(15 * S, Some(22 * S)));
        assert_eq!(slow[0].1, Verdict::Fail, "{slow:?}");
        // Converged, but too few requests afterwards to believe it.
        let strict = "  - routes_around_failed_node: { within: 8s, min_requests: 5000 }\n";
        assert_eq!(
            verdicts(strict, &history(12 * S, Some(22 * S)))[0].1,
            Verdict::Unknown
        );
    }

    /// n2 killed at 10 s; the run stopped by Ctrl-C at 11.5 s (when
    /// `interrupted`), the kill healed at 11.6 s, the load over then, the
    /// run ended at 30 s. n2's turn fails from the kill on.
    fn cut_at(interrupted: bool) -> History {
        let mut events = three_nodes_at_work();
        let fault = kill_n2;
        for seq in 0..1160u64 {
            let t = seq * 10_000;
            if t == 10 * S {
                events.push(fault(t, FaultAction::Inject));
            }
            if t == 11_500_000 && interrupted {
                events.push(Event::Interrupted {
                    at_us: t,
                    why: "Ctrl-C".into(),
                    phase: Phase::Workload,
                });
            }
            let turn = ["n1", "n2", "n3"][(seq % 3) as usize];
            let failed = turn == "n2" && t >= 10 * S;
            events.push(Event::Request(Request {
                seq,
                op: Op::Ping,
                intended_us: t,
                sent_us: t,
                done_us: t + 1000,
                outcome: if failed { Outcome::Fail } else { Outcome::Ok },
                status: Some(if failed { 502 } else { 200 }),
                error: None,
                bytes: 1,
                node: (!failed).then(|| turn.to_string()),
                held: false,
                load: false,
            }));
        }
        events.push(fault(11_600_000, FaultAction::Heal));
        events.push(Event::RunEnded {
            at_us: 30 * S,
            interrupted: interrupted.then(|| "Ctrl-C".into()),
        });
        History { events }
    }

    /// Issue 17: a fault window the interruption cut short before its
    /// bound is unknown, never fail; the same history without the
    /// interruption recorded fails.
    #[test]
    fn r17_a_window_cut_short_by_the_interruption_is_unknown_not_failed() {
        let check = "  - routes_around_failed_node: { within: 5s }\n  - recovers: { within: 3s }\n";
        let cut = verdicts(check, &cut_at(true));
        assert_eq!(
            cut[0],
            (
                "kill-n2 was cut short by the interruption (Ctrl-C during workload) 1.5s in, before its bound of 5.0s elapsed; cannot tell".to_string(),
                Verdict::Unknown
            )
        );
        assert_eq!(
            cut[1],
            (
                "the wait for n2 after kill-n2 was undone was cut short by the interruption (Ctrl-C during workload) before it began, before its bound of 3.0s elapsed; cannot tell".to_string(),
                Verdict::Unknown
            )
        );
        let whole = verdicts(check, &cut_at(false));
        assert_eq!(whole[0].1, Verdict::Fail, "{whole:?}");
        assert!(whole[0].0.contains("for the whole 1.6s"), "{whole:?}");
        assert_eq!(whole[1].1, Verdict::Fail, "{whole:?}");
    }

    /// Issue 17: a window healed on schedule before the interruption came
    /// ran its course, and is judged as ever.
    #[test]
    fn r17_a_window_over_before_the_interruption_is_judged_as_ever() {
        let mut h = history(20 * S, Some(22 * S));
        h.events.push(Event::Interrupted {
            at_us: 25 * S,
            why: "Ctrl-C".into(),
            phase: Phase::Workload,
        });
        let v = verdicts("  - routes_around_failed_node: { within: 3s }\n", &h);
        assert_eq!(v[0].1, Verdict::Fail, "{v:?}");
        assert!(v[0].0.contains("for the whole 10.0s"), "{v:?}");
    }

    /// Issue 17: a run stopped before its workload judges nothing.
    #[test]
    fn r17_a_run_stopped_during_boot_judges_nothing() {
        let h = History {
            events: vec![
                Event::Phase {
                    at_us: 0,
                    phase: Phase::Boot,
                },
                Event::Interrupted {
                    at_us: 300_000,
                    why: "Ctrl-C".into(),
                    phase: Phase::Boot,
                },
                Event::RunEnded {
                    at_us: 400_000,
                    interrupted: Some("Ctrl-C".into()),
                },
            ],
        };
        let v = verdicts(
            "  - routes_around_failed_node: { within: 3s }\n  - availability: { max_error_rate: 1% }\n",
            &h,
        );
        assert_eq!(v.len(), 3, "{v:?}");
        for (detail, verdict) in v {
            assert_eq!(verdict, Verdict::Unknown);
            assert_eq!(
                detail,
                "not judged: the run was interrupted (Ctrl-C during boot) before its workload began"
            );
        }
    }

    #[test]
    fn recovers_passes_and_fails() {
        let check = "  - recovers: { within: 3s }\n";
        assert_eq!(
            verdicts(check, &history(12 * S, Some(22 * S)))[0].1,
            Verdict::Pass
        );
        assert_eq!(
            verdicts(check, &history(12 * S, Some(25 * S)))[0].1,
            Verdict::Fail
        );
        let never = verdicts(check, &history(12 * S, None));
        assert_eq!(never[0].1, Verdict::Fail, "{never:?}");
        assert!(never[0].0.contains("served no request"), "{never:?}");
    }

    #[test]
    fn availability_counts_errors_outside_fault_windows() {
        let h = history(12 * S, Some(22 * S));
        assert_eq!(
            verdicts("  - availability: { max_error_rate: 5%, grace: 1s }\n", &h)[0].1,
            Verdict::Pass
        );
        assert_eq!(
            verdicts(
                "  - availability: { max_error_rate: 0.5%, grace: 1s }\n",
                &h
            )[0]
            .1,
            Verdict::Fail
        );
        // Errors that go on past the heal and its grace are outside.
        let late = history(25 * S, Some(26 * S));
        let v = verdicts(
            "  - availability: { max_error_rate: 50%, grace: 1s }\n",
            &late,
        );
        assert_eq!(v[0].1, Verdict::Fail, "{v:?}");
        assert!(v[0].0.contains("outside fault windows"), "{v:?}");
    }

    #[test]
    fn latency_compares_the_percentile_with_its_bound() {
        let h = history(12 * S, Some(22 * S));
        assert_eq!(
            verdicts("  - latency: { percentile: 99, below: 2ms }\n", &h)[0].1,
            Verdict::Pass
        );
        assert_eq!(
            verdicts("  - latency: { percentile: 99, below: 1ms }\n", &h)[0].1,
            Verdict::Fail
        );
        let empty = History {
            events: vec![Event::Phase {
                at_us: 0,
                phase: Phase::Workload,
            }],
        };
        assert_eq!(
            verdicts("  - latency: { percentile: 50, below: 1s }\n", &empty)[0].1,
            Verdict::Unknown
        );
    }
}
