//! The task, drain and upload parts of a report: tasks by state and by
//! node, queue pick-up latency and task throughput; each drain's timeline,
//! from the drain to the node's 418, the LB taking it out, the maintenance
//! steps, the undrain, the 200 and the LB taking it back; and each upload's
//! attempts, speed and where it was read back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::figures::{HISTOGRAM_SIGFIG, histogram_of, ms, percentile_us, secs};
use crate::history::{Event, FaultAction, History, Phase};
use crate::vocab::FaultKind;

/// Tasks in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Submissions made.
    pub submitted: u64,
    /// Submissions that got no task.
    pub submit_failures: u64,
    /// Tasks by their last state seen.
    pub by_state: BTreeMap<String, u64>,
    /// Tasks by the node that ran them (the last ServerNode seen).
    pub by_node: BTreeMap<String, u64>,
    /// Queued to started, from the server's times.
    pub pickup_ms: Percentiles,
    /// Tasks that ended, per second from the first submission to the last
    /// end.
    pub throughput_per_s: f64,
    /// Tasks that ended during the workload phase, per second of it: the
    /// rate the cluster sustained while its faults held, the heal and the
    /// settle left out (what a sweep compares).
    #[serde(default)]
    pub workload_throughput_per_s: Option<f64>,
}

/// Percentiles in milliseconds, from an HDR histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Values behind them.
    pub count: u64,
    /// The histogram's significant figures.
    pub significant_figures: u8,
}

impl Percentiles {
    /// From a histogram of microseconds; zeros when it is empty.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        let pct = |p| percentile_us(h, p).map(ms).unwrap_or(0.0);
        Self {
            p50: pct(50.0),
            p99: pct(99.0),
            max: if h.is_empty() { 0.0 } else { ms(h.max()) },
            count: h.len(),
            significant_figures: HISTOGRAM_SIGFIG,
        }
    }
}

/// One drain or maintenance, step by step; times in seconds since the
/// start, None when the history does not show the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainReport {
    /// The fault's name.
    pub fault: String,
    /// `drain` or `maintenance`.
    pub kind: String,
    /// The drained nodes.
    pub nodes: Vec<String>,
    /// The drain request was sent.
    pub drained_s: f64,
    /// The node's own ping first answered 418.
    pub ping_418_s: Option<f64>,
    /// The built-in LB took the node out (embedded target only).
    pub lb_out_s: Option<f64>,
    /// A maintenance's steps: idle, restart.
    pub steps: Vec<DrainStep>,
    /// The undrain request was sent.
    pub undrained_s: Option<f64>,
    /// The node's own ping answered 200 again.
    pub ping_200_s: Option<f64>,
    /// The built-in LB took the node back.
    pub lb_in_s: Option<f64>,
}

/// A step of a maintenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainStep {
    /// What happened.
    pub step: String,
    /// When, in seconds since the start.
    pub at_s: f64,
    /// What went wrong, if it did.
    pub error: Option<String>,
}

/// One upload in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadReport {
    /// A package upload, or a ladder step.
    pub purpose: crate::history::UploadPurpose,
    /// The upload's number.
    pub seq: u64,
    /// The file name.
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// `lb` or the node.
    pub via: String,
    /// Attempts made.
    pub attempts: usize,
    /// How the last attempt ended.
    pub class: crate::vocab::UploadClass,
    /// Its status, if a response came.
    pub status: Option<u16>,
    /// Its error, if any.
    pub error: Option<String>,
    /// Seconds from the start of the last attempt to its last byte.
    pub to_last_byte_s: Option<f64>,
    /// Seconds from its last byte to its end (the server's processing).
    pub last_byte_to_response_s: Option<f64>,
    /// MiB a second to the last byte.
    pub mib_s: Option<f64>,
    /// SHA-1 of the bytes sent.
    pub sha1: Option<String>,
    /// Nodes whose download gave the same bytes.
    pub intact_on: Vec<String>,
    /// Deleted at the end of the run.
    pub deleted: bool,
}

/// The uploads.
pub fn uploads(h: &History) -> Vec<UploadReport> {
    let mut out: Vec<UploadReport> = Vec::new();
    // A capacity search's uploads are its steps' to report.
    for a in h
        .uploads()
        .filter(|a| a.purpose != crate::history::UploadPurpose::Capacity)
    {
        let r = UploadReport {
            purpose: a.purpose,
            seq: a.seq,
            file: a.file.clone(),
            size: a.size,
            via: a.via.clone(),
            attempts: 1,
            class: a.class,
            status: a.status,
            error: a.error.clone(),
            to_last_byte_s: a.last_byte_us.map(|t| secs(t.saturating_sub(a.sent_us))),
            last_byte_to_response_s: a.last_byte_us.map(|t| secs(a.done_us.saturating_sub(t))),
            mib_s: a.mib_s,
            sha1: a.sha1.clone(),
            intact_on: Vec::new(),
            deleted: false,
        };
        match out
            .iter_mut()
            .find(|u| u.seq == a.seq && u.purpose == a.purpose)
        {
            Some(u) => {
                let attempts = u.attempts + 1;
                let sha1 = u.sha1.clone().or(r.sha1.clone());
                *u = UploadReport {
                    attempts,
                    sha1,
                    ..r
                };
            }
            None => out.push(r),
        }
    }
    for u in &mut out {
        let want = u.sha1.clone();
        for r in h.package_reads() {
            if r.seq == u.seq
                && u.purpose == crate::history::UploadPurpose::Workload
                && r.kind == crate::history::PackageReadKind::Download
                && want.is_some()
                && r.sha1 == want
                && r.size == Some(u.size)
            {
                u.intact_on.push(r.via.clone());
            }
        }
        let id = h
            .uploads()
            .find(|a| a.seq == u.seq && a.purpose == u.purpose)
            .map(|a| a.id.clone())
            .unwrap_or_default();
        u.deleted = h
            .events
            .iter()
            .any(|e| matches!(e, Event::PackageDeleted { id: d, deleted: true, .. } if *d == id));
    }
    out
}

/// The task section, or None when the run submitted no task.
pub fn tasks(h: &History) -> Option<TaskReport> {
    let submissions: Vec<_> = h.task_submissions().collect();
    if submissions.is_empty() {
        return None;
    }
    let records = h.task_records();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_node: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_end = 0;
    let mut ended = 0u64;
    let window = h
        .phase_start(Phase::Workload)
        .zip(h.phase_start(Phase::Heal))
        .filter(|(from, to)| to > from);
    let mut ended_in_window = 0u64;
    for r in &records {
        let state = r.last().map(|s| s.state.as_str()).unwrap_or("NeverSeen");
        *by_state.entry(state.to_string()).or_default() += 1;
        if let Some(node) = r.last().and_then(|s| s.node.clone()) {
            *by_node.entry(node).or_default() += 1;
        }
        if let Some((_, at)) = r.end() {
            ended += 1;
            last_end = last_end.max(at);
            if window.is_some_and(|(from, to)| (from..to).contains(&at)) {
                ended_in_window += 1;
            }
        }
    }
    let pickups = histogram_of(
        records
            .iter()
            .filter_map(|r| Some(r.started_us()?.saturating_sub(r.queued_us()?))),
    );
    let first_submit = submissions.iter().map(|s| s.sent_us).min().unwrap_or(0);
    let span = last_end.saturating_sub(first_submit);
    Some(TaskReport {
        submitted: submissions.len() as u64,
        submit_failures: submissions.iter().filter(|s| s.id.is_none()).count() as u64,
        by_state,
        by_node,
        pickup_ms: Percentiles::of(&pickups),
        throughput_per_s: if span > 0 {
            ended as f64 / secs(span)
        } else {
            0.0
        },
        workload_throughput_per_s: window
            .map(|(from, to)| ended_in_window as f64 / secs(to - from)),
    })
}

/// The timeline of every drain and maintenance.
pub fn drains(h: &History) -> Vec<DrainReport> {
    h.fault_windows()
        .into_iter()
        .filter(|w| matches!(w.kind, FaultKind::Drain | FaultKind::Maintenance))
        .map(|w| {
            let first_status = |from: u64, want: u16| {
                w.nodes.iter().find_map(|n| {
                    h.node_statuses(n)
                        .find(|(at, s)| *at >= from && *s == Some(want))
                        .map(|(at, _)| secs(at))
                })
            };
            let lb = |from: u64, healthy: bool| {
                h.events.iter().find_map(|e| match e {
                    Event::LbHealth {
                        at_us,
                        node,
                        healthy: up,
                    } if *at_us >= from && *up == healthy && w.nodes.contains(node) => {
                        Some(secs(*at_us))
                    }
                    _ => None,
                })
            };
            let steps = h
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Fault(f)
                        if f.name == w.name
                            && f.action == FaultAction::Step
                            && f.at_us >= w.start_us
                            && f.at_us <= w.end_us =>
                    {
                        Some(DrainStep {
                            step: f.step.clone().unwrap_or_default(),
                            at_s: secs(f.at_us),
                            error: f.error.clone(),
                        })
                    }
                    _ => None,
                })
                .collect();
            DrainReport {
                fault: w.name.clone(),
                kind: w.kind.to_string(),
                nodes: w.nodes.clone(),
                drained_s: secs(w.start_us),
                ping_418_s: first_status(w.start_us, 418),
                lb_out_s: lb(w.start_us, false),
                steps,
                undrained_s: w.healed.then(|| secs(w.end_us)),
                ping_200_s: w.healed.then(|| first_status(w.end_us, 200)).flatten(),
                lb_in_s: w.healed.then(|| lb(w.end_us, true)).flatten(),
            }
        })
        .collect()
}
