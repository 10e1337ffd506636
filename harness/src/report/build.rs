//! A run's [`Report`] built from its recorded history and its checks'
//! results: the verdict (unknown for a run that did not finish), the
//! nodes and their share of the pings, the faults and what became of
//! them, the LB's changes of mind, memory, the CPU limit, the figures
//! `metrics` computes, and the uploads in flight when the run stopped.

use std::collections::BTreeMap;

use super::model::{
    CpuLimitReport, FaultOutcome, FaultReport, LbHealthReport, MemoryReport, NodeReport, Report,
    UploadInFlight,
};
use super::{polling, timeline};
use crate::check::{CheckResult, Verdict};
use crate::history::{Event, History, LB_NAME};
use crate::metrics::{cleanup, metrics, secs, task_report};

/// Builds the report of a run from its history and check results.
pub fn build(history: &History, checks: Vec<CheckResult>) -> Report {
    let (scenario, seed, target, started_at) = history
        .header()
        .map(|(s, seed, t, at)| (s.to_string(), seed, t.to_string(), at.to_string()))
        .unwrap_or_default();
    let interrupted = interrupted(history);
    // An interrupted run proves nothing either way.
    let verdict = if interrupted.is_some() {
        Verdict::Unknown
    } else {
        Verdict::merge(checks.iter().map(|c| c.verdict))
    };
    let boot_s = history
        .events
        .iter()
        .find_map(|e| match e {
            Event::NodeUp { at_us, node, .. } if node == LB_NAME => Some(secs(*at_us)),
            _ => None,
        })
        .unwrap_or(0.0);

    Report {
        scenario,
        seed,
        seed_text: seed.to_string(),
        target,
        verdict,
        checks,
        nodes: node_reports(history),
        metrics: metrics(history),
        timeline: Some(timeline::timeline(history)),
        faults: fault_reports(history),
        lb_health: lb_health(history),
        tasks: task_report(history),
        drains: crate::metrics::drains(history),
        uploads: crate::metrics::uploads(history),
        polling: polling::polling(history),
        memory: memory(history),
        cleanup: cleanup(history),
        shards: history.events.iter().find_map(|e| match e {
            Event::Shards(s) => Some(s.clone()),
            _ => None,
        }),
        cpu_limit: cpu_limit(history),
        started_at,
        boot_s,
        interrupted_phase: history
            .interruption()
            .filter(|_| interrupted.is_some())
            .map(|i| i.phase.as_str().to_string()),
        interrupted,
        uploads_in_flight: uploads_in_flight(history),
        generator: None,
        capacity: Vec::new(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Why the run did not finish, if it did not. A history without
/// run_ended is from a harness that died mid-run.
fn interrupted(history: &History) -> Option<String> {
    history
        .events
        .iter()
        .find_map(|e| match e {
            Event::RunEnded { interrupted, .. } => Some(interrupted.clone()),
            _ => None,
        })
        .unwrap_or_else(|| {
            Some("the history has no run_ended event: the run did not finish".into())
        })
}

/// Every node the run started (the LB aside), with its names in the
/// cluster and its share of the measured pings.
fn node_reports(history: &History) -> Vec<NodeReport> {
    let mut pings: BTreeMap<&str, u64> = BTreeMap::new();
    for r in history.measured_requests() {
        if let (false, Some(n)) = (r.is_error(), &r.node) {
            *pings.entry(n.as_str()).or_default() += 1;
        }
    }
    let total_pings: u64 = pings.values().sum();
    let mut nodes: Vec<NodeReport> = Vec::new();
    for e in &history.events {
        if let Event::NodeUp { node, address, .. } = e
            && node != LB_NAME
        {
            match nodes.iter_mut().find(|n| &n.name == node) {
                Some(n) => {
                    n.address = address.clone();
                    n.starts += 1;
                }
                None => nodes.push(NodeReport {
                    name: node.clone(),
                    cluster_name: None,
                    cluster_id: None,
                    address: address.clone(),
                    pings_served: 0,
                    share: 0.0,
                    starts: 1,
                }),
            }
        }
    }
    for n in &mut nodes {
        if let Some(i) = history.identities().iter().find(|i| i.node == n.name) {
            n.cluster_name = Some(i.name.clone());
            n.cluster_id = Some(i.id.clone());
        }
        n.pings_served = pings.get(n.name.as_str()).copied().unwrap_or(0);
        n.share = if total_pings > 0 {
            n.pings_served as f64 / total_pings as f64
        } else {
            0.0
        };
    }
    nodes
}

fn fault_reports(history: &History) -> Vec<FaultReport> {
    history
        .fault_windows()
        .into_iter()
        .map(|w| {
            let (outcome, error) = match (w.inject_error, w.stopped) {
                (Some(e), _) => (FaultOutcome::Failed, Some(e)),
                (None, Some(why)) => (FaultOutcome::Stopped, Some(why)),
                (None, None) => (FaultOutcome::Done, None),
            };
            FaultReport {
                name: w.name,
                kind: w.kind.to_string(),
                nodes: w.nodes,
                start_s: secs(w.start_us),
                end_s: w.healed.then(|| secs(w.end_us)),
                outcome,
                error,
                heal_error: w.heal_error,
            }
        })
        .collect()
}

fn lb_health(history: &History) -> Vec<LbHealthReport> {
    history
        .events
        .iter()
        .filter_map(|e| match e {
            Event::LbHealth {
                at_us,
                node,
                healthy,
            } => Some(LbHealthReport {
                at_s: secs(*at_us),
                node: node.clone(),
                healthy: *healthy,
            }),
            _ => None,
        })
        .collect()
}

fn memory(history: &History) -> Vec<MemoryReport> {
    history
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PeakMemory {
                process,
                peak_rss_kib,
                ..
            } => Some(MemoryReport {
                process: process.clone(),
                peak_rss_mib: *peak_rss_kib as f64 / 1024.0,
            }),
            _ => None,
        })
        .collect()
}

fn cpu_limit(history: &History) -> Option<CpuLimitReport> {
    history.events.iter().find_map(|e| match e {
        Event::CpuLimit {
            method,
            cores_per_node,
            asked,
            ..
        } => Some(CpuLimitReport {
            method: method.clone(),
            cores_per_node: *cores_per_node,
            asked: *asked,
        }),
        _ => None,
    })
}

/// The upload attempts in flight when the run stopped: those the harness
/// cut as it stopped, and those whose end the history does not hold.
fn uploads_in_flight(history: &History) -> Vec<UploadInFlight> {
    // A capacity step cuts what outruns its bound: the run's stop only if
    // it came first.
    let stopped_us = history.interruption().map(|i| i.at_us);
    let cut = history.uploads().filter(|a| {
        a.error
            .as_deref()
            .is_some_and(|e| e.starts_with(crate::upload::STOPPED_BY_HARNESS))
            && (a.purpose != crate::history::UploadPurpose::Capacity
                || stopped_us.is_some_and(|at| a.done_us >= at))
    });
    let mut out: Vec<UploadInFlight> = cut
        .map(|a| UploadInFlight {
            purpose: a.purpose,
            seq: a.seq,
            attempt: a.attempt,
            file: a.file.clone(),
            size: a.size,
            via: a.via.clone(),
            started_s: secs(a.sent_us),
            end_recorded: true,
        })
        .collect();
    out.extend(
        history
            .uploads_in_flight()
            .into_iter()
            .map(|u| UploadInFlight {
                purpose: u.purpose,
                seq: u.seq,
                attempt: u.attempt,
                file: u.file.clone(),
                size: u.size,
                via: u.via.clone(),
                started_s: secs(u.sent_us),
                end_recorded: false,
            }),
    );
    out.sort_by(|a, b| a.started_s.total_cmp(&b.started_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{FaultAction, FaultEvent, Phase};
    use crate::report::html::html;
    use crate::report::terminal::summary;
    use crate::vocab::FaultKind;

    fn started(seed: u64) -> History {
        History {
            events: vec![
                Event::RunStarted {
                    scenario: "s".into(),
                    seed,
                    run_id: "r".into(),
                    target: "embedded".into(),
                    started_at: "2026-12-06T00:00:00Z".into(),
                    shard: None,
                },
                Event::RunEnded {
                    at_us: 1,
                    interrupted: None,
                },
            ],
        }
    }

    /// A seed above 2^53 given with `--seed` is in report.json as text too,
    /// which a reader of doubles cannot round. See: issue 17.
    #[test]
    fn r17_the_seed_is_written_as_text_too() {
        for seed in [0, 42, (1 << 53) + 1, u64::MAX] {
            let r = build(&started(seed), Vec::new());
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["seed_text"], seed.to_string());
            assert_eq!(json["seed"].as_u64(), Some(seed));
        }
    }

    fn fault(at_s: u64, action: FaultAction, step: Option<&str>, error: Option<&str>) -> Event {
        Event::Fault(FaultEvent {
            at_us: at_s * 1_000_000,
            done_us: Some(at_s * 1_000_000 + 1000),
            step: step.map(str::to_string),
            name: "kill-n2".into(),
            kind: FaultKind::Kill,
            nodes: vec!["n2".into()],
            action,
            error: error.map(str::to_string),
        })
    }

    fn run_of(faults: Vec<Event>) -> Report {
        let mut events = vec![
            Event::RunStarted {
                scenario: "s".into(),
                seed: 1,
                run_id: "r1".into(),
                target: "cluster-up".into(),
                started_at: "2026-01-01T00:00:00Z".into(),
                shard: None,
            },
            Event::Phase {
                at_us: 0,
                phase: Phase::Workload,
            },
        ];
        events.extend(faults);
        events.push(Event::RunEnded {
            at_us: 20_000_000,
            interrupted: None,
        });
        build(&History { events }, Vec::new())
    }

    /// Issue 17: a kill whose command failed was shown as "kill-n2 kill on
    /// n2" in the summary's timeline, as if it had been done. Its recorded
    /// outcome is shown in the summary, `report.json` and the HTML page.
    #[test]
    fn r17_a_fault_is_shown_as_its_history_records_it() {
        let failed = "the kill command failed (exit 1): cat: runs/pids/n2: No such file";
        for (faults, line, undo, outcome, error, heal_error) in [
            (
                vec![
                    fault(5, FaultAction::Inject, None, Some(failed)),
                    fault(10, FaultAction::Heal, None, None),
                ],
                format!("kill-n2 kill on n2 FAILED: {failed}"),
                "kill-n2 undone",
                "failed",
                Some(failed),
                None,
            ),
            (
                vec![
                    fault(5, FaultAction::Inject, None, None),
                    fault(
                        7,
                        FaultAction::Step,
                        Some("stopped"),
                        Some("n2 never drained"),
                    ),
                    fault(7, FaultAction::Heal, None, None),
                ],
                "kill-n2 kill on n2 STOPPED: n2 never drained".to_string(),
                "kill-n2 undone",
                "stopped",
                Some("n2 never drained"),
                None,
            ),
            (
                vec![
                    fault(5, FaultAction::Inject, None, None),
                    fault(10, FaultAction::Heal, None, Some("start timed out")),
                ],
                "kill-n2 kill on n2".to_string(),
                "kill-n2 undo FAILED: start timed out",
                "done",
                None,
                Some("start timed out"),
            ),
            (
                // The heal phase tried the failed heal again, and it worked.
                vec![
                    fault(5, FaultAction::Inject, None, None),
                    fault(10, FaultAction::Heal, None, Some("start timed out")),
                    fault(15, FaultAction::Heal, None, None),
                ],
                "kill-n2 kill on n2".to_string(),
                "kill-n2 undone",
                "done",
                None,
                None,
            ),
        ] {
            let r = run_of(faults);
            let text = summary(&r);
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            assert!(
                lines.iter().any(|l| l.ends_with(&line)),
                "{line:?} in\n{text}"
            );
            assert!(
                lines.iter().any(|l| l.ends_with(undo)),
                "{undo:?} in\n{text}"
            );
            if outcome != "done" {
                assert!(
                    !lines.iter().any(|l| l.ends_with("kill-n2 kill on n2")),
                    "shown as done:\n{text}"
                );
            }
            let json = serde_json::to_value(&r).unwrap();
            let f = &json["faults"][0];
            assert_eq!(
                (
                    f["outcome"].as_str(),
                    f["error"].as_str(),
                    f["heal_error"].as_str()
                ),
                (Some(outcome), error, heal_error),
                "{f}"
            );
            let page = html(&r);
            let cell = match (error, heal_error) {
                (Some(e), _) => format!("<td>{outcome}: {e}</td>"),
                (None, Some(e)) => format!("<td>{outcome}; undo failed: {e}</td>"),
                (None, None) => format!("<td>{outcome}</td>"),
            };
            assert!(page.contains(&cell), "{cell} in the page");
        }
    }
}
