//! Reports, all built from the one recorded history: the live terminal
//! progress, the terminal summary, `report.json` (its schema is
//! `harness/schemas/report.schema.json`), `report.html` and JUnit XML.

mod files;
mod html;
mod junit;
mod polling;
mod sweep;
mod terminal;
mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::{CheckResult, Verdict};
use crate::history::{Event, History, LB_NAME};
use crate::metrics::secs;

pub use crate::metrics::{
    CleanupReport, DrainReport, DrainStep, LatencyMs, Metrics, Outcome, Percentiles, Removal,
    TaskLeft, TaskReport, UploadReport, cleanup, metrics, task_report,
};
pub use files::{against, judge_and_write, write, write_sweep};
pub use html::{html, sweep_html};
pub use junit::{doctor_junit_xml, junit_xml};
pub use polling::{PollingNode, PollingReport};
pub use sweep::{SweepReport, SweepRow};
pub use terminal::{LiveProgress, doctor_summary, summary};
pub use timeline::{Timeline, TimelinePoint, timeline};

/// Everything a finished run says, as `report.json` holds it. The top-level
/// fields `scenario`, `seed`, `target`, `verdict`, `checks`, `nodes` and
/// `metrics` are a stable contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed of every random choice. A drawn seed is below 2^53; one given
    /// with `--seed` or in the scenario may be any `u64`, which a reader
    /// that holds JSON numbers as doubles (`jq`) rounds.
    pub seed: u64,
    /// The seed in decimal, exact whatever reads it: replay with
    /// `--seed "$(jq -r .seed_text report.json)"`.
    #[serde(default)]
    pub seed_text: String,
    /// `embedded`, or the target file.
    pub target: String,
    /// Every check merged: fail over unknown over pass.
    pub verdict: Verdict,
    /// One entry per check.
    pub checks: Vec<CheckResult>,
    /// The cluster's nodes and their share of requests.
    pub nodes: Vec<NodeReport>,
    /// Throughput and latency of the judged part of the run.
    pub metrics: Metrics,
    /// Throughput and latency second by second, the whole run.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// Faults, in injection order.
    pub faults: Vec<FaultReport>,
    /// The built-in LB's changes of mind about nodes.
    pub lb_health: Vec<LbHealthReport>,
    /// Tasks, when the run submitted any.
    pub tasks: Option<TaskReport>,
    /// Each drain and maintenance, step by step.
    pub drains: Vec<DrainReport>,
    /// Each package upload.
    pub uploads: Vec<UploadReport>,
    /// The polling-Tentacle fleet, when the run had one.
    #[serde(default)]
    pub polling: Option<PollingReport>,
    /// Peak resident memory of the harness and of each cluster process.
    #[serde(default)]
    pub memory: Vec<MemoryReport>,
    /// Each node's CPU limit and how it was enforced, when the scenario
    /// set `node_cpus`.
    #[serde(default)]
    pub cpu_limit: Option<CpuLimitReport>,
    /// What the run created in the cluster and what became of it.
    #[serde(default)]
    pub cleanup: Option<CleanupReport>,
    /// Wall clock at the start, RFC 3339.
    pub started_at: String,
    /// From the start until the cluster (the last `node_up` of boot, the
    /// LB) answered, in seconds.
    pub boot_s: f64,
    /// Why the run ended early, if it did.
    pub interrupted: Option<String>,
    /// The phase the interruption came in (`boot`, `warmup`, `workload`,
    /// `heal`, `settle`, `check`); null when the run was not interrupted
    /// or its history does not say.
    #[serde(default)]
    pub interrupted_phase: Option<String>,
    /// Upload attempts in flight when the run stopped: cut by the harness
    /// as it stopped, or with no end in the history (docs/robustness.md,
    /// "Interrupted runs").
    #[serde(default)]
    pub uploads_in_flight: Vec<UploadInFlight>,
    /// The harness version that produced the report.
    pub harness_version: String,
}

/// An upload attempt in flight when the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadInFlight {
    /// A package upload, or a ladder step.
    pub purpose: crate::history::UploadPurpose,
    /// The upload's number.
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name.
    pub file: String,
    /// The package file's bytes.
    pub size: u64,
    /// `lb`, or the node it went to.
    pub via: String,
    /// When it started, seconds since the start of the run.
    pub started_s: f64,
    /// True when the harness cut it as the run stopped (its end says so);
    /// false when its end is not in the history at all.
    pub end_recorded: bool,
}

/// The upload attempts in flight when the run stopped: those the harness
/// cut as it stopped, and those whose end the history does not hold.
fn uploads_in_flight(history: &History) -> Vec<UploadInFlight> {
    let cut = history.uploads().filter(|a| {
        a.error
            .as_deref()
            .is_some_and(|e| e.starts_with(crate::upload::STOPPED_BY_HARNESS))
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

/// One process's peak memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// `harness`, a node's name, or `lb`.
    pub process: String,
    /// Its peak resident set, MiB.
    pub peak_rss_mib: f64,
}

/// The nodes' CPU limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuLimitReport {
    /// `cgroup_v2`, `cgroup_v1` or `affinity`.
    pub method: String,
    /// CPUs each node could use.
    pub cores_per_node: f64,
    /// CPUs the scenario asked for.
    pub asked: f64,
}

/// A node in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// The node's name in the scenario or target file.
    pub name: String,
    /// Its Name in the cluster, where the run learnt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Its Id in the cluster, where the run learnt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Its last address.
    pub address: String,
    /// Successful pings it served.
    pub pings_served: u64,
    /// Its share of the successful pings, 0 to 1.
    pub share: f64,
    /// Times it was started (1 plus restarts).
    pub starts: u64,
}

impl NodeReport {
    /// The node as reports name it: its name in the scenario, and the
    /// cluster's Name beside it where the two differ (`n2 (OCTOPUS02)`).
    pub fn label(&self) -> String {
        match &self.cluster_name {
            Some(c) if *c != self.name => format!("{} ({c})", self.name),
            _ => self.name.clone(),
        }
    }
}

/// A fault in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Nodes.
    pub nodes: Vec<String>,
    /// Injected, seconds since the start.
    pub start_s: f64,
    /// Healed, seconds since the start; None if never.
    pub end_s: Option<f64>,
    /// What became of it, as recorded: a fault whose injection failed is
    /// never shown as done.
    #[serde(default)]
    pub outcome: FaultOutcome,
    /// Why it failed or stopped, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// Why its undo failed, if the last attempt at it did.
    #[serde(default)]
    pub heal_error: Option<String>,
}

/// What became of a fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOutcome {
    /// Injected, and each step of it taken.
    #[default]
    Done,
    /// Its injection failed (a node command that failed or timed out, a
    /// drain the cluster refused).
    Failed,
    /// Injected, but it went no further: a step's precondition was not
    /// confirmed, or a step failed; what it had done was undone.
    Stopped,
}

impl FaultOutcome {
    /// The outcome as `report.json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultOutcome::Done => "done",
            FaultOutcome::Failed => "failed",
            FaultOutcome::Stopped => "stopped",
        }
    }
}

/// A change of the built-in LB's view of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbHealthReport {
    /// Seconds since the start.
    pub at_s: f64,
    /// Node name.
    pub node: String,
    /// In rotation or not.
    pub healthy: bool,
}

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
        cpu_limit: cpu_limit(history),
        started_at,
        boot_s,
        interrupted_phase: history
            .interruption()
            .filter(|_| interrupted.is_some())
            .map(|i| i.phase.as_str().to_string()),
        interrupted,
        uploads_in_flight: uploads_in_flight(history),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{FaultAction, FaultEvent, Phase};
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
