//! Task checks, judged on what the harness saw of each task it submitted
//! (its states, server times and nodes) and on its log as read through
//! every node after the run:
//!
//! - `exactly_once`: no task runs on two nodes, or twice (its script's
//!   marker appears once per execution in its log), and every task reaches
//!   a final state within a bound of its submission;
//! - `task_cap`: sweeping each node's executing intervals, no node ever
//!   runs more tasks at once than its cap; also reports the distribution
//!   over nodes, queue pick-up latency (from an HDR histogram) and
//!   throughput, and optionally bounds the pick-up p99;
//! - `orphaned_tasks`: the tasks a killed node was running end within a
//!   bound, not in Success (the node was dead), and are not run again;
//! - `shared_storage`: each task's log reads the same, byte for byte,
//!   through every node, as Octopus HA's shared task log folder requires;
//! - `tasks_survive`: the tasks a database outage caught end soon after
//!   its return, well, and once.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::verdict::{Verdict, secs};
use crate::history::{History, Interruption, TaskRecord, TaskState};
use crate::metrics::{histogram_of, percentile_us};
use crate::scenario::{ExactlyOnce, TaskCap};

mod orphaned_tasks;
mod records;
mod shared_storage;
mod survive;

pub(super) use orphaned_tasks::orphaned;
pub(super) use records::{first_started_us, last_node, node_at, task_id};
pub(super) use shared_storage::shared_storage;
pub(super) use survive::tasks_survive;

use records::{LISTED, executions, logged_records, plural, ran_more_than_once, s};

pub(super) fn exactly_once(c: &ExactlyOnce, h: &History) -> (Verdict, String, Value) {
    let records = logged_records(h);
    // A submission without an ID made no task; it is a client-side failure
    // that availability-style checks judge, not this one.
    let submit_failures = h
        .task_submissions()
        .filter(|t| t.id.is_none() && t.via != crate::history::LOAD_VIA)
        .count();
    if records.is_empty() {
        return (
            Verdict::Unknown,
            format!(
                "no task was submitted ({submit_failures} submissions failed); nothing to judge"
            ),
            json!({ "tasks": 0, "submit_failures": submit_failures }),
        );
    }
    let within = c.within.value.as_micros_u64();
    let interruption = h.interruption();
    let found = Runs::of(&records, within, interruption.as_ref());
    let total = records.len();
    let evidence = json!({
        "tasks": total,
        "submit_failures": submit_failures,
        "ran_twice": found.twice.iter().take(LISTED).map(|(id, _)| id).collect::<Vec<_>>(),
        "ran_twice_count": found.twice.len(),
        "unfinished": found.unfinished.len(),
        "unfinished_ids": found.unfinished.iter().take(LISTED).map(|t| task_id(t)).collect::<Vec<_>>(),
        "late": found.late.len(),
        "late_ids": found.late.iter().take(LISTED).map(|(id, _)| id).collect::<Vec<_>>(),
        "max_time_to_end_s": found.max_to_end.map(s),
        "within_s": s(within),
        "unproven": found.unproven.len(),
        "unproven_ids": found.unproven.iter().take(LISTED).collect::<Vec<_>>(),
        "cut_short_by_interruption": found.cut.len(),
    });
    let breaches = found.breaches(total, within);
    if !breaches.is_empty() {
        return (Verdict::Fail, breaches.join("; "), evidence);
    }
    if let (Some(id), Some(i)) = (found.cut.first(), &interruption) {
        return (
            Verdict::Unknown,
            format!(
                "{} of {total} tasks had not ended within their bound of {} when the run was interrupted ({}) before it elapsed ({id}); cannot tell",
                found.cut.len(),
                secs(within),
                i.describe()
            ),
            evidence,
        );
    }
    if let Some(id) = found.unproven.first() {
        return (
            Verdict::Unknown,
            format!(
                "{} of {total} tasks have no log that shows how often they ran ({id}): its log was not read, or lacks the task's marker",
                found.unproven.len()
            ),
            evidence,
        );
    }
    let detail = format!(
        "{} each ran once, on one node, and ended within {} (slowest {})",
        plural(total, "task", "tasks"),
        secs(within),
        secs(found.max_to_end.unwrap_or(0))
    );
    (Verdict::Pass, detail, evidence)
}

/// What `exactly_once` found of each task's runs and end.
struct Runs<'r, 'a> {
    /// Tasks that ran more than once, and why that is known.
    twice: Vec<(&'a str, String)>,
    unfinished: Vec<&'r TaskRecord<'a>>,
    /// Tasks that ended after their bound, and how long they took.
    late: Vec<(&'a str, u64)>,
    max_to_end: Option<u64>,
    /// Tasks whose log cannot say how often they ran: no log was read, or
    /// one that ended well does not show its marker at all.
    unproven: Vec<&'a str>,
    /// Tasks still inside their bound when the run was interrupted that did
    /// not end within it: the run's stop, not the cluster, may be why
    /// (docs/robustness.md, "Interrupted runs").
    cut: Vec<&'a str>,
}

impl<'r, 'a> Runs<'r, 'a> {
    fn of(records: &'r [TaskRecord<'a>], within: u64, interruption: Option<&Interruption>) -> Self {
        let mut found = Runs {
            twice: Vec::new(),
            unfinished: Vec::new(),
            late: Vec::new(),
            max_to_end: None,
            unproven: Vec::new(),
            cut: Vec::new(),
        };
        let within_bound_at_stop = |t: &TaskRecord<'_>| {
            interruption.is_some_and(|i| i.at_us < t.submit.sent_us.saturating_add(within))
        };
        for t in records {
            if let Some(why) = ran_more_than_once(t) {
                found.twice.push((task_id(t), why));
            }
            let read = t
                .logs
                .iter()
                .any(|l| l.status.is_some_and(|s| (200..300).contains(&s)));
            let succeeded = t
                .end()
                .is_some_and(|(state, _)| state == TaskState::Success);
            if !read || (succeeded && executions(t) == 0) {
                found.unproven.push(task_id(t));
            }
            match t.end() {
                None if within_bound_at_stop(t) => found.cut.push(task_id(t)),
                None => found.unfinished.push(t),
                Some((_, at)) => {
                    let took = at.saturating_sub(t.submit.sent_us);
                    found.max_to_end = Some(found.max_to_end.map_or(took, |m| m.max(took)));
                    if took > within && within_bound_at_stop(t) {
                        found.cut.push(task_id(t));
                    } else if took > within {
                        found.late.push((task_id(t), took));
                    }
                }
            }
        }
        found
    }

    /// What breaks the contract: a task run more than once, one never
    /// ended, one ended late; each with its count and an example.
    fn breaches(&self, total: usize, within: u64) -> Vec<String> {
        let mut breaches = Vec::new();
        if let Some((_, why)) = self.twice.first() {
            breaches.push(format!(
                "{} of {total} tasks ran more than once ({why})",
                self.twice.len()
            ));
        }
        if let Some(t) = self.unfinished.first() {
            let last = match (t.last(), last_node(t)) {
                (Some(l), Some(n)) => format!(", last seen {} on {n}", l.state.as_str()),
                (Some(l), None) => format!(", last seen {}", l.state.as_str()),
                (None, _) => ", never seen".to_string(),
            };
            breaches.push(format!(
                "{} of {total} tasks never reached a final state ({}{last})",
                self.unfinished.len(),
                task_id(t)
            ));
        }
        if let Some((id, took)) = self.late.iter().max_by_key(|(_, took)| *took) {
            breaches.push(format!(
                "{} of {total} tasks ended more than {} after their submission ({id} took {})",
                self.late.len(),
                secs(within),
                secs(*took)
            ));
        }
        breaches
    }
}

/// One node's share of the tasks and its busiest moment.
#[derive(Default)]
struct NodeLoad {
    tasks: usize,
    /// (time, +1 at a start or -1 at an end).
    edges: Vec<(u64, i64)>,
    peak: i64,
    peak_at: u64,
}

impl NodeLoad {
    /// Sweeps the edges for the most tasks at once, and when.
    fn find_peak(&mut self) {
        // At equal times ends come first: a slot freed and taken again in
        // the same microsecond is not two tasks at once.
        self.edges.sort_unstable();
        let mut now = 0i64;
        for &(at, delta) in &self.edges {
            now += delta;
            if now > self.peak {
                self.peak = now;
                self.peak_at = at;
            }
        }
    }
}

pub(super) fn task_cap(c: &TaskCap, h: &History) -> (Verdict, String, Value) {
    let Some(caps) = h.task_caps() else {
        return (
            Verdict::Unknown,
            "the cluster's task caps were not recorded".into(),
            json!({}),
        );
    };
    let records = h.task_records();
    let (loads, pickups) = node_loads(&records, h.end_us());
    let pickup = histogram_of(pickups.into_iter());
    let started: usize = loads.values().map(|l| l.tasks).sum();
    if started == 0 {
        return (
            Verdict::Unknown,
            "no task started, so no node ran any".into(),
            json!({ "tasks_started": 0 }),
        );
    }
    let (mut outcomes, per_node) = judge_peaks(&caps, &loads, started);
    let p50 = percentile_us(&pickup, 50.0);
    let p99 = percentile_us(&pickup, 99.0);
    let max = (!pickup.is_empty()).then(|| pickup.max());
    if let Some(bound) = &c.pickup_p99_below {
        outcomes.extend(judge_pickup(p99, bound.value.as_micros_u64()));
    }
    // Throughput: ended tasks over the time from the first submission to
    // the last end.
    let ends: Vec<u64> = records
        .iter()
        .filter_map(|t| t.end().map(|(_, at)| at))
        .collect();
    let first_submit = records.iter().map(|t| t.submit.sent_us).min();
    let throughput = match (first_submit, ends.iter().max()) {
        (Some(from), Some(&to)) if to > from => Some(ends.len() as f64 / s(to - from)),
        _ => None,
    };
    let evidence = json!({
        "tasks_started": started,
        "nodes": per_node,
        "pickup_s": {
            "p50": p50.map(s),
            "p99": p99.map(s),
            "max": max.map(s),
            "samples": pickup.len(),
        },
        "pickup_p99_below_s": c.pickup_p99_below.as_ref().map(|b| s(b.value.as_micros_u64())),
        "tasks_ended": ends.len(),
        "throughput_per_s": throughput,
    });
    let verdict = Verdict::merge(outcomes.iter().map(|(v, _)| *v));
    let detail = if verdict == Verdict::Pass {
        let peaks: Vec<&str> = outcomes.iter().map(|(_, d)| d.as_str()).collect();
        let pickup = p99.map_or(String::new(), |p| format!("; pick-up p99 {}", secs(p)));
        format!(
            "no node ran more tasks than its cap (peak/cap: {}){pickup}",
            peaks.join(", ")
        )
    } else {
        outcomes
            .iter()
            .filter(|(v, _)| *v == verdict)
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    (verdict, detail, evidence)
}

/// Each node's started tasks with their peak found, and every started
/// task's queue pick-up time. A task still executing at the end of the
/// history (`end`) holds its slot to the end.
fn node_loads<'a>(records: &[TaskRecord<'a>], end: u64) -> (BTreeMap<&'a str, NodeLoad>, Vec<u64>) {
    let mut loads: BTreeMap<&str, NodeLoad> = BTreeMap::new();
    let mut pickups = Vec::new();
    for t in records {
        let (Some(start), Some(node)) = (t.started_us(), last_node(t)) else {
            continue;
        };
        let stop = t.end().map_or(end, |(_, at)| at).max(start);
        let load = loads.entry(node).or_default();
        load.tasks += 1;
        load.edges.push((start, 1));
        load.edges.push((stop, -1));
        if let Some(queued) = t.queued_us() {
            pickups.push(start.saturating_sub(queued));
        }
    }
    for load in loads.values_mut() {
        load.find_peak();
    }
    (loads, pickups)
}

/// Each node's peak against its cap, over every node the cluster lists
/// and any other that ran tasks, with the per-node evidence.
fn judge_peaks(
    caps: &[(String, u32)],
    loads: &BTreeMap<&str, NodeLoad>,
    started: usize,
) -> (Vec<(Verdict, String)>, serde_json::Map<String, Value>) {
    let cap_of = |node: &str| caps.iter().find(|(n, _)| n == node).map(|(_, cap)| *cap);
    let mut outcomes: Vec<(Verdict, String)> = Vec::new();
    let mut per_node = serde_json::Map::new();
    let mut names: Vec<&str> = caps.iter().map(|(n, _)| n.as_str()).collect();
    names.extend(loads.keys().filter(|n| cap_of(n).is_none()));
    for node in names {
        let (tasks, peak, peak_at) = loads
            .get(node)
            .map_or((0, 0, 0), |l| (l.tasks, l.peak, l.peak_at));
        let cap = cap_of(node);
        per_node.insert(
            node.to_string(),
            json!({
                "tasks": tasks,
                "share": tasks as f64 / started as f64,
                "peak": peak,
                "peak_at_s": (peak > 0).then(|| s(peak_at)),
                "cap": cap,
            }),
        );
        match cap {
            Some(cap) if peak > i64::from(cap) => outcomes.push((
                Verdict::Fail,
                format!(
                    "{node} ran {peak} tasks at once at {}; its cap is {cap}",
                    secs(peak_at)
                ),
            )),
            Some(cap) => outcomes.push((Verdict::Pass, format!("{node} {peak}/{cap}"))),
            None => outcomes.push((
                Verdict::Unknown,
                format!(
                    "{node} ran tasks but is not in the cluster's node list, so its cap is unknown"
                ),
            )),
        }
    }
    (outcomes, per_node)
}

/// The queue pick-up p99 against its bound, unless it is under it.
fn judge_pickup(p99: Option<u64>, bound: u64) -> Option<(Verdict, String)> {
    match p99 {
        None => Some((
            Verdict::Unknown,
            "no task's queue time was recorded, so pick-up latency cannot be judged".into(),
        )),
        // Under the bound, as `latency` judges its percentile.
        Some(p) if p >= bound => Some((
            Verdict::Fail,
            format!(
                "queue pick-up p99 is {}, not under {}",
                secs(p),
                secs(bound)
            ),
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
pub(super) mod build;

#[cfg(test)]
mod tests;
