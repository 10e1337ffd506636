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
//!   through every node, as Octopus HA's shared task log folder requires.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Verdict, histogram_of, judged_windows, never_injected, percentile_us, secs, worst};
use crate::history::{FaultWindow, History, TaskRecord, TaskState};
use crate::scenario::{ExactlyOnce, OrphanedTasks, SharedStorageCheck, TaskCap};
use crate::vocab::FaultKind;

/// Task IDs listed in evidence, at most.
const LISTED: usize = 10;

/// After a kill returns, how long a task's server-side end may still be
/// stamped (the process dying, the server's clock against the harness's)
/// without counting as an end after the kill.
const KILL_SETTLE_US: u64 = 250_000;

/// A task's ID; every record has one, as submissions without are left out.
pub(super) fn task_id<'a>(t: &TaskRecord<'a>) -> &'a str {
    t.submit.id.as_deref().unwrap_or("?")
}

/// The last node seen running a task.
pub(super) fn last_node<'a>(t: &TaskRecord<'a>) -> Option<&'a str> {
    t.seen.iter().copied().rev().find_map(|s| s.node.as_deref())
}

/// The node running a task at `at_us`: the last one seen by then, else the
/// first one seen at all (the harness polls, so it sees a task on its node
/// only some time after the server started it there).
pub(super) fn node_at<'a>(t: &TaskRecord<'a>, at_us: u64) -> Option<&'a str> {
    t.seen
        .iter()
        .copied()
        .filter(|s| s.at_us <= at_us)
        .rev()
        .find_map(|s| s.node.as_deref())
        .or_else(|| t.seen.iter().copied().find_map(|s| s.node.as_deref()))
}

/// A task's first start. `TaskRecord::started_us` gives the latest, which
/// for a task run again is the second run's.
pub(super) fn first_started_us(t: &TaskRecord<'_>) -> Option<u64> {
    t.seen.iter().find_map(|s| s.started_us)
}

/// How many times a task's script ran, by the most its log shows through
/// any node.
fn executions(t: &TaskRecord<'_>) -> u32 {
    t.logs.iter().map(|l| l.executions).max().unwrap_or(0)
}

fn s(us: u64) -> f64 {
    us as f64 / 1e6
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Why a task counts as having run more than once, if it does.
fn ran_more_than_once(t: &TaskRecord<'_>) -> Option<String> {
    let nodes = t.nodes();
    let runs = executions(t);
    let on = (nodes.len() > 1).then(|| format!("ran on {}", nodes.join(" and ")));
    let twice = (runs > 1).then(|| format!("its marker is in its log {runs} times"));
    match (on, twice) {
        (Some(on), Some(twice)) => Some(format!("{} {on}, and {twice}", task_id(t))),
        (Some(on), None) => Some(format!("{} {on}", task_id(t))),
        (None, Some(twice)) => Some(format!("{} ran {runs} times: {twice}", task_id(t))),
        (None, None) => None,
    }
}

/// The tasks of the tasks workload, whose logs the run reads: a load
/// phase's tasks are followed to their end but their logs are not read,
/// so the checks that need logs leave them out.
fn logged_records(h: &History) -> Vec<TaskRecord<'_>> {
    let mut records = h.task_records();
    records.retain(|t| t.submit.via != crate::history::LOAD_VIA);
    records
}

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
    let mut twice: Vec<(&str, String)> = Vec::new();
    let mut unfinished: Vec<&TaskRecord<'_>> = Vec::new();
    let mut late: Vec<(&str, u64)> = Vec::new();
    let mut max_to_end: Option<u64> = None;
    // Tasks whose log cannot say how often they ran: no log was read, or
    // one that ended well does not show its marker at all.
    let mut unproven: Vec<&str> = Vec::new();
    // Tasks still inside their bound when the run was interrupted that did
    // not end within it: the run's stop, not the cluster, may be why
    // (docs/robustness.md, "Interrupted runs").
    let interruption = h.interruption();
    let mut cut: Vec<&str> = Vec::new();
    let within_bound_at_stop = |t: &TaskRecord<'_>| {
        interruption
            .as_ref()
            .is_some_and(|i| i.at_us < t.submit.sent_us.saturating_add(within))
    };
    for t in &records {
        if let Some(why) = ran_more_than_once(t) {
            twice.push((task_id(t), why));
        }
        let read = t
            .logs
            .iter()
            .any(|l| l.status.is_some_and(|s| (200..300).contains(&s)));
        let succeeded = t
            .end()
            .is_some_and(|(state, _)| state == TaskState::Success);
        if !read || (succeeded && executions(t) == 0) {
            unproven.push(task_id(t));
        }
        match t.end() {
            None if within_bound_at_stop(t) => cut.push(task_id(t)),
            None => unfinished.push(t),
            Some((_, at)) => {
                let took = at.saturating_sub(t.submit.sent_us);
                max_to_end = Some(max_to_end.map_or(took, |m| m.max(took)));
                if took > within && within_bound_at_stop(t) {
                    cut.push(task_id(t));
                } else if took > within {
                    late.push((task_id(t), took));
                }
            }
        }
    }
    let total = records.len();
    let evidence = json!({
        "tasks": total,
        "submit_failures": submit_failures,
        "ran_twice": twice.iter().take(LISTED).map(|(id, _)| id).collect::<Vec<_>>(),
        "ran_twice_count": twice.len(),
        "unfinished": unfinished.len(),
        "unfinished_ids": unfinished.iter().take(LISTED).map(|t| task_id(t)).collect::<Vec<_>>(),
        "late": late.len(),
        "late_ids": late.iter().take(LISTED).map(|(id, _)| id).collect::<Vec<_>>(),
        "max_time_to_end_s": max_to_end.map(s),
        "within_s": s(within),
        "unproven": unproven.len(),
        "unproven_ids": unproven.iter().take(LISTED).collect::<Vec<_>>(),
        "cut_short_by_interruption": cut.len(),
    });
    let mut breaches = Vec::new();
    if let Some((_, why)) = twice.first() {
        breaches.push(format!(
            "{} of {total} tasks ran more than once ({why})",
            twice.len()
        ));
    }
    if let Some(t) = unfinished.first() {
        let last = match (t.last(), last_node(t)) {
            (Some(l), Some(n)) => format!(", last seen {} on {n}", l.state.as_str()),
            (Some(l), None) => format!(", last seen {}", l.state.as_str()),
            (None, _) => ", never seen".to_string(),
        };
        breaches.push(format!(
            "{} of {total} tasks never reached a final state ({}{last})",
            unfinished.len(),
            task_id(t)
        ));
    }
    if let Some((id, took)) = late.iter().max_by_key(|(_, took)| *took) {
        breaches.push(format!(
            "{} of {total} tasks ended more than {} after their submission ({id} took {})",
            late.len(),
            secs(within),
            secs(*took)
        ));
    }
    if !breaches.is_empty() {
        return (Verdict::Fail, breaches.join("; "), evidence);
    }
    if let (Some(id), Some(i)) = (cut.first(), &interruption) {
        return (
            Verdict::Unknown,
            format!(
                "{} of {total} tasks had not ended within their bound of {} when the run was interrupted ({}) before it elapsed ({id}); cannot tell",
                cut.len(),
                secs(within),
                i.describe()
            ),
            evidence,
        );
    }
    if let Some(id) = unproven.first() {
        return (
            Verdict::Unknown,
            format!(
                "{} of {total} tasks have no log that shows how often they ran ({id}): its log was not read, or lacks the task's marker",
                unproven.len()
            ),
            evidence,
        );
    }
    let detail = format!(
        "{} each ran once, on one node, and ended within {} (slowest {})",
        plural(total, "task", "tasks"),
        secs(within),
        secs(max_to_end.unwrap_or(0))
    );
    (Verdict::Pass, detail, evidence)
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

pub(super) fn task_cap(c: &TaskCap, h: &History) -> (Verdict, String, Value) {
    let Some(caps) = h.task_caps() else {
        return (
            Verdict::Unknown,
            "the cluster's task caps were not recorded".into(),
            json!({}),
        );
    };
    let records = h.task_records();
    // A task still executing at the end of the history holds its slot to
    // the end.
    let end = h.end_us();
    let mut loads: BTreeMap<&str, NodeLoad> = BTreeMap::new();
    let mut pickups = Vec::new();
    let mut started = 0usize;
    for t in &records {
        let (Some(start), Some(node)) = (t.started_us(), last_node(t)) else {
            continue;
        };
        started += 1;
        let stop = t.end().map_or(end, |(_, at)| at).max(start);
        let load = loads.entry(node).or_default();
        load.tasks += 1;
        load.edges.push((start, 1));
        load.edges.push((stop, -1));
        if let Some(queued) = t.queued_us() {
            pickups.push(start.saturating_sub(queued));
        }
    }
    let pickup = histogram_of(pickups.into_iter());
    if started == 0 {
        return (
            Verdict::Unknown,
            "no task started, so no node ran any".into(),
            json!({ "tasks_started": 0 }),
        );
    }
    for load in loads.values_mut() {
        // At equal times ends come first: a slot freed and taken again in
        // the same microsecond is not two tasks at once.
        load.edges.sort_unstable();
        let mut now = 0i64;
        for &(at, delta) in &load.edges {
            now += delta;
            if now > load.peak {
                load.peak = now;
                load.peak_at = at;
            }
        }
    }
    let cap_of = |node: &str| caps.iter().find(|(n, _)| n == node).map(|(_, cap)| *cap);
    let mut outcomes: Vec<(Verdict, String)> = Vec::new();
    let mut per_node = serde_json::Map::new();
    // Every node the cluster lists, and any other that ran tasks.
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
    let p50 = percentile_us(&pickup, 50.0);
    let p99 = percentile_us(&pickup, 99.0);
    let max = (!pickup.is_empty()).then(|| pickup.max());
    if let Some(bound) = &c.pickup_p99_below {
        let bound = bound.value.as_micros_u64();
        match p99 {
            None => outcomes.push((
                Verdict::Unknown,
                "no task's queue time was recorded, so pick-up latency cannot be judged".into(),
            )),
            // Under the bound, as `latency` judges its percentile.
            Some(p) if p >= bound => outcomes.push((
                Verdict::Fail,
                format!(
                    "queue pick-up p99 is {}, not under {}",
                    secs(p),
                    secs(bound)
                ),
            )),
            Some(_) => {}
        }
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

pub(super) fn orphaned(c: &OrphanedTasks, h: &History) -> (Verdict, String, Value) {
    let windows = judged_windows(h, c.fault.as_ref(), &[FaultKind::Kill, FaultKind::Restart]);
    if windows.is_empty() {
        return never_injected("faults");
    }
    let records = h.task_records();
    let within = c.within.value.as_micros_u64();
    let mut outcomes = Vec::new();
    let mut results = Vec::new();
    for w in &windows {
        let (verdict, detail, evidence) = orphaned_window(h, w, &records, within);
        outcomes.push((verdict, detail));
        results.push(evidence);
    }
    let (verdict, detail) = worst(&outcomes);
    (
        verdict,
        detail,
        json!({ "within_s": s(within), "faults": results }),
    )
}

fn orphaned_window(
    h: &History,
    w: &FaultWindow,
    records: &[TaskRecord<'_>],
    within: u64,
) -> (Verdict, String, Value) {
    let nodes = w.nodes.join(", ");
    if let Some(e) = &w.inject_error {
        return (
            Verdict::Unknown,
            format!("{} could not be injected: {e}", w.name),
            json!({ "fault": w.name, "nodes": w.nodes, "inject_error": e }),
        );
    }
    let end = h.end_us();
    let mut judged: Vec<(Verdict, String)> = Vec::new();
    let mut tasks = Vec::new();
    let mut slowest = 0u64;
    for t in records {
        // The first start: a task run again elsewhere was still running on
        // the killed node when it struck.
        let Some(started) = first_started_us(t) else {
            continue;
        };
        // A task that ended by the time the kill surely took effect (it
        // returned, plus an allowance for the server's clock) finished
        // before it.
        let settled = w.started_us + KILL_SETTLE_US;
        if started >= w.start_us || t.end().is_some_and(|(_, at)| at < settled) {
            continue;
        }
        let Some(node) = node_at(t, w.start_us) else {
            continue;
        };
        if !w.nodes.iter().any(|n| n == node) {
            continue;
        }
        let id = task_id(t);
        let ran_on = t.nodes();
        let runs = executions(t);
        let at_fault = format!("running on {node} at the {}", w.kind);
        let (verdict, detail) = if ran_on.len() > 1 {
            let others: Vec<&str> = ran_on.iter().copied().filter(|n| *n != node).collect();
            (
                Verdict::Fail,
                format!("{id} ({at_fault}) ran again on {}", others.join(", ")),
            )
        } else if runs > 1 {
            (
                Verdict::Fail,
                format!("{id} ({at_fault}) ran {runs} times, by the marker in its log"),
            )
        } else {
            match t.end() {
                // The node was dead: success means it ran again, or the
                // state is wrong.
                Some((TaskState::Success, _)) => (
                    Verdict::Fail,
                    format!(
                        "{id} was running on {node} when it was {}, yet ended Success",
                        past(w.kind)
                    ),
                ),
                Some((state, at)) if at.saturating_sub(w.start_us) > within => (
                    Verdict::Fail,
                    format!(
                        "{id} ({at_fault}) ended {} {} after {}; bound {}",
                        state.as_str(),
                        secs(at.saturating_sub(w.start_us)),
                        w.name,
                        secs(within)
                    ),
                ),
                Some((state, at)) => {
                    slowest = slowest.max(at.saturating_sub(w.start_us));
                    (
                        Verdict::Pass,
                        format!(
                            "{id} ended {} {} after {}",
                            state.as_str(),
                            secs(at.saturating_sub(w.start_us)),
                            w.name
                        ),
                    )
                }
                None if end.saturating_sub(w.start_us) > within => (
                    Verdict::Fail,
                    format!(
                        "{id} ({at_fault}) was still {} {} later; bound {}",
                        t.last().map_or("unseen", |l| l.state.as_str()),
                        secs(end.saturating_sub(w.start_us)),
                        secs(within)
                    ),
                ),
                None => (
                    Verdict::Unknown,
                    format!(
                        "the run ended {} after {}, before {id}'s bound of {}",
                        secs(end.saturating_sub(w.start_us)),
                        w.name,
                        secs(within)
                    ),
                ),
            }
        };
        // Its end's bound the run's interruption came in before it elapsed:
        // unknown, not fail (docs/robustness.md, "Interrupted runs"). Running again or
        // ending Success are not a matter of time.
        let bound_only =
            ran_on.len() <= 1 && runs <= 1 && !matches!(t.end(), Some((TaskState::Success, _)));
        let (verdict, detail) = match verdict {
            Verdict::Fail if bound_only => match super::cut_short(
                h,
                &format!("the wait for {id} to end after {}", w.name),
                w.start_us,
                within,
            ) {
                Some(why) => (Verdict::Unknown, why),
                None => (verdict, detail),
            },
            _ => (verdict, detail),
        };
        tasks.push(json!({
            "id": id,
            "node": node,
            "state": t.last().map(|l| l.state.as_str()),
            "ended_after_s": t.end().map(|(_, at)| s(at.saturating_sub(w.start_us))),
            "nodes": ran_on,
            "executions": runs,
            "verdict": verdict,
        }));
        judged.push((verdict, detail));
    }
    let mut evidence = json!({
        "fault": w.name,
        "nodes": w.nodes,
        "running_at_fault": judged.len(),
        "tasks": tasks.iter().take(LISTED).collect::<Vec<_>>(),
    });
    if judged.is_empty() {
        let detail = format!(
            "no task was running on {nodes} when {} struck; nothing to judge",
            w.name
        );
        return (Verdict::Unknown, detail, evidence);
    }
    let verdict = Verdict::merge(judged.iter().map(|(v, _)| *v));
    let bad = judged.iter().filter(|(v, _)| *v == verdict).count();
    let detail = if verdict == Verdict::Pass {
        format!(
            "the {} running on {nodes} when {} struck ended, none in Success, within {} (bound {}), and none ran again",
            plural(judged.len(), "task", "tasks"),
            w.name,
            secs(slowest),
            secs(within)
        )
    } else {
        let first = judged
            .iter()
            .find(|(v, _)| *v == verdict)
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        if bad > 1 {
            format!("{first} ({bad} of {} such tasks)", judged.len())
        } else {
            first
        }
    };
    evidence["verdict"] = json!(verdict);
    (verdict, detail, evidence)
}

/// "killed", "restarted": the fault kind as something done to a node.
fn past(kind: FaultKind) -> String {
    match kind {
        FaultKind::Kill => "killed".into(),
        FaultKind::Restart => "restarted".into(),
        FaultKind::Pause => "paused".into(),
        other => format!("hit by a {other}"),
    }
}

pub(super) fn shared_storage(_c: &SharedStorageCheck, h: &History) -> (Verdict, String, Value) {
    let records = logged_records(h);
    let reads: usize = records.iter().map(|t| t.logs.len()).sum();
    if reads == 0 {
        return (
            Verdict::Unknown,
            "no task log was read; nothing to compare".into(),
            json!({ "tasks": records.len(), "reads": 0 }),
        );
    }
    // Every node the run booted, and any other a log was read through.
    let mut nodes = h.node_names();
    for t in &records {
        for l in &t.logs {
            if !nodes.contains(&l.via) {
                nodes.push(l.via.clone());
            }
        }
    }
    let mut differ: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut unread: Vec<String> = Vec::new();
    let mut non_empty = 0usize;
    for t in &records {
        let id = task_id(t);
        let mut ok = Vec::new();
        for l in &t.logs {
            let good = l.error.is_none() && l.status.is_some_and(|s| (200..300).contains(&s));
            if good {
                ok.push(*l);
            } else {
                let why = match (l.status, &l.error) {
                    (Some(st), Some(e)) => format!("{st}, {e}"),
                    (Some(st), None) => st.to_string(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "no response".into(),
                };
                failed.push(format!(
                    "the log of {id} could not be read through {}: {why}",
                    l.via
                ));
            }
        }
        if ok.iter().any(|l| l.bytes > 0) {
            non_empty += 1;
        }
        let same = ok
            .windows(2)
            .all(|p| p[0].bytes == p[1].bytes && p[0].sha1 == p[1].sha1);
        if !same {
            // Bytes alone tell most differences; the hash tells the rest.
            let bytes_differ = ok.windows(2).any(|p| p[0].bytes != p[1].bytes);
            let each: Vec<String> = ok
                .iter()
                .map(|l| {
                    let hash = l.sha1.as_deref().unwrap_or("none");
                    if bytes_differ {
                        format!("{} {} bytes", l.via, l.bytes)
                    } else {
                        let short: String = hash.chars().take(8).collect();
                        format!("{} sha1 {short}", l.via)
                    }
                })
                .collect();
            differ.push(format!(
                "the log of {id} differs between nodes: {}",
                each.join(", ")
            ));
        }
        let missing: Vec<&str> = nodes
            .iter()
            .filter(|n| !t.logs.iter().any(|l| &l.via == *n))
            .map(|n| n.as_str())
            .collect();
        if !missing.is_empty() {
            unread.push(format!(
                "the log of {id} was not read through {}",
                missing.join(", ")
            ));
        }
    }
    let total = records.len();
    let evidence = json!({
        "tasks": total,
        "reads": reads,
        "nodes": nodes,
        "differ": differ.len(),
        "failed_reads": failed.len(),
        "unread": unread.len(),
        "non_empty": non_empty,
        "examples": differ.iter().chain(&failed).chain(&unread).take(LISTED).collect::<Vec<_>>(),
    });
    let mut breaches = Vec::new();
    if let Some(first) = differ.first() {
        breaches.push(format!(
            "{first} ({} of {total} tasks differ)",
            differ.len()
        ));
    }
    if let Some(first) = failed.first() {
        breaches.push(format!("{first} ({} failed reads)", failed.len()));
    }
    if !breaches.is_empty() {
        return (Verdict::Fail, breaches.join("; "), evidence);
    }
    if let Some(first) = unread.first() {
        let detail = format!(
            "{first} ({} of {total} tasks not read through every node); cannot tell",
            unread.len()
        );
        return (Verdict::Unknown, detail, evidence);
    }
    if non_empty == 0 {
        return (
            Verdict::Unknown,
            "every task log read empty; an empty log proves nothing is shared".into(),
            evidence,
        );
    }
    let detail = format!(
        "the logs of {} read the same through {}",
        plural(total, "task", "tasks"),
        plural(nodes.len(), "node", "nodes")
    );
    (Verdict::Pass, detail, evidence)
}

/// Small hand-made histories for the task checks, also used by the drain
/// contract's tests.
#[cfg(test)]
pub(super) mod build {
    use crate::history::{
        ClusterNode, Event, FaultAction, FaultEvent, Outcome, TaskLogRead, TaskSeen, TaskState,
        TaskSubmit,
    };
    use crate::vocab::FaultKind;

    /// A second, in microseconds.
    pub(in crate::check) const S: u64 = 1_000_000;

    /// `node_up` for each node, at 0.
    pub(in crate::check) fn nodes_up(nodes: &[&str]) -> Vec<Event> {
        nodes
            .iter()
            .map(|n| Event::NodeUp {
                at_us: 0,
                node: n.to_string(),
                address: String::new(),
                pid: None,
                boot_ms: 0,
            })
            .collect()
    }

    /// A fault action on one node, which began at `at` and returned 50 ms
    /// later.
    pub(in crate::check) fn fault(
        name: &str,
        kind: FaultKind,
        node: &str,
        action: FaultAction,
        at: u64,
    ) -> Event {
        Event::Fault(FaultEvent {
            at_us: at,
            done_us: Some(at + 50_000),
            step: None,
            name: name.into(),
            kind,
            nodes: vec![node.into()],
            action,
            error: None,
        })
    }

    /// `ServerTasks-<n>`.
    pub(in crate::check) fn id(n: u64) -> String {
        format!("ServerTasks-{n}")
    }

    /// Task `n`: submitted and queued half a second before it starts on
    /// `node` at `started`, seen executing 100 ms later, then seen in its
    /// final state 100 ms after it ends, if it does.
    pub(in crate::check) fn task(
        n: u64,
        node: &str,
        started: u64,
        end: Option<(TaskState, u64)>,
    ) -> Vec<Event> {
        let queued = started.saturating_sub(S / 2);
        let seen = |at_us, state, completed_us| TaskSeen {
            at_us,
            id: id(n),
            state,
            node: Some(node.into()),
            queued_us: Some(queued),
            started_us: Some(started),
            completed_us,
            error: None,
        };
        let mut events = vec![
            Event::TaskSubmitted(TaskSubmit {
                seq: n,
                marker: format!("marker-{n}"),
                via: "lb".into(),
                sent_us: queued,
                done_us: queued + 1_000,
                outcome: Outcome::Ok,
                status: Some(201),
                error: None,
                id: Some(id(n)),
            }),
            Event::Task(seen(started + 100_000, TaskState::Executing, None)),
        ];
        if let Some((state, at)) = end {
            events.push(Event::Task(seen(at + 100_000, state, Some(at))));
        }
        events
    }

    /// The last state seen of task `n` carries an error message.
    pub(in crate::check) fn with_error(events: &mut [Event], n: u64, error: &str) {
        let last = events.iter_mut().rev().find_map(|e| match e {
            Event::Task(t) if t.id == id(n) => Some(t),
            _ => None,
        });
        last.expect("the task was seen").error = Some(error.into());
    }

    /// Task `n` seen again, executing on `node` at `at` (a second run).
    pub(in crate::check) fn seen_on(n: u64, node: &str, at: u64) -> Event {
        Event::Task(TaskSeen {
            at_us: at,
            id: id(n),
            state: TaskState::Executing,
            node: Some(node.into()),
            queued_us: None,
            started_us: Some(at),
            completed_us: None,
            error: None,
        })
    }

    /// A successful read of task `n`'s log through `via`.
    pub(in crate::check) fn log(n: u64, via: &str, bytes: u64, executions: u32) -> Event {
        Event::TaskLog(TaskLogRead {
            at_us: 100 * S,
            id: id(n),
            via: via.into(),
            status: Some(200),
            bytes,
            sha1: Some(format!("{bytes:040x}")),
            executions,
            error: None,
        })
    }

    /// The cluster's task caps.
    pub(in crate::check) fn caps(caps: &[(&str, u32)]) -> Event {
        Event::ClusterNodes {
            at_us: 0,
            nodes: caps
                .iter()
                .map(|(name, cap)| ClusterNode {
                    name: name.to_string(),
                    task_cap: *cap,
                    drained: false,
                })
                .collect(),
        }
    }

    /// The last event of a run, at `at`.
    pub(in crate::check) fn ended(at: u64) -> Event {
        Event::RunEnded {
            at_us: at,
            interrupted: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use crate::check::{CheckResult, Verdict, judge};
    use crate::history::{Event, FaultAction, History, TaskState};
    use crate::scenario::parse_str;
    use crate::vocab::FaultKind;

    use TaskState::{Canceled, Success};

    /// Judges `check` (one line of YAML) on `events`, in a scenario with a
    /// tasks workload and n2 killed from 10 s to 20 s.
    fn judged(check: &str, events: Vec<Event>) -> CheckResult {
        let yaml = format!(
            "name: t\nduration: 60s\nworkload:\n  - tasks: {{ burst: 10 }}\nfaults:\n  - kill: {{ node: n2, at: 10s, for: 10s }}\nchecks:\n  - {check}\n"
        );
        let s = parse_str(&yaml).unwrap();
        judge(&s.checks[0].value, &History { events })
    }

    fn assert_verdict(r: &CheckResult, verdict: Verdict, says: &str) {
        assert_eq!(r.verdict, verdict, "{r:?}");
        assert!(r.detail.contains(says), "{:?} lacks {says:?}", r.detail);
    }

    /// Three tasks, one per node, each ending in Success with its marker
    /// once in its log.
    fn three_tasks() -> Vec<Vec<Event>> {
        vec![
            task(1, "n1", S, Some((Success, 3 * S))),
            task(2, "n2", 2 * S, Some((Success, 4 * S))),
            task(3, "n3", 2 * S, Some((Success, 5 * S))),
        ]
    }

    fn with_logs(tasks: Vec<Vec<Event>>) -> Vec<Event> {
        let mut events = nodes_up(&["n1", "n2", "n3"]);
        let n = tasks.len() as u64;
        events.extend(tasks.into_iter().flatten());
        events.extend((1..=n).map(|i| log(i, "n1", 100, 1)));
        events
    }

    const ONCE: &str = "exactly_once: { within: 30s }";

    #[test]
    fn exactly_once_passes_when_each_task_ran_once_and_ended() {
        let r = judged(ONCE, with_logs(three_tasks()));
        assert_verdict(&r, Verdict::Pass, "3 tasks each ran once");
        assert_eq!(r.evidence["max_time_to_end_s"], 3.5);
    }

    #[test]
    fn exactly_once_cannot_tell_without_a_log_that_shows_the_marker() {
        // No log read at all.
        let mut events = nodes_up(&["n1", "n2", "n3"]);
        events.extend(three_tasks().into_iter().flatten());
        let r = judged(ONCE, events);
        assert_verdict(&r, Verdict::Unknown, "3 of 3 tasks have no log");
        // A log read, but without the marker, for a task that succeeded.
        let mut events = nodes_up(&["n1", "n2", "n3"]);
        events.extend(three_tasks().into_iter().flatten());
        events.extend((1..=3).map(|i| log(i, "n1", 200, u32::from(i != 2))));
        let r = judged(ONCE, events);
        assert_verdict(&r, Verdict::Unknown, "(ServerTasks-2)");
    }

    #[test]
    fn exactly_once_fails_a_task_seen_on_two_nodes() {
        let mut tasks = three_tasks();
        // Seen on n3 between its start on n2 and its end.
        tasks[1].insert(2, seen_on(2, "n3", 3 * S));
        let r = judged(ONCE, with_logs(tasks));
        assert_verdict(&r, Verdict::Fail, "1 of 3 tasks ran more than once");
        assert!(r.detail.contains("ServerTasks-2 ran on n2 and n3"), "{r:?}");
        assert_eq!(
            r.evidence["ran_twice"],
            serde_json::json!(["ServerTasks-2"])
        );
    }

    #[test]
    fn exactly_once_fails_a_marker_logged_twice() {
        let mut events = with_logs(three_tasks());
        events.push(log(1, "n2", 200, 2));
        let r = judged(ONCE, events);
        assert_verdict(&r, Verdict::Fail, "ServerTasks-1 ran 2 times");
    }

    #[test]
    fn exactly_once_fails_unfinished_and_late_tasks() {
        let mut tasks = three_tasks();
        tasks[2] = task(3, "n3", 2 * S, None);
        let r = judged(ONCE, with_logs(tasks));
        assert_verdict(
            &r,
            Verdict::Fail,
            "1 of 3 tasks never reached a final state",
        );
        assert!(r.detail.contains("last seen Executing on n3"), "{r:?}");
        assert_eq!(r.evidence["unfinished"], 1);

        let mut tasks = three_tasks();
        tasks[2] = task(3, "n3", 2 * S, Some((Success, 40 * S)));
        let r = judged(ONCE, with_logs(tasks));
        assert_verdict(
            &r,
            Verdict::Fail,
            "ended more than 30.0s after their submission",
        );
        assert_eq!(r.evidence["late"], 1);
    }

    /// Issue 17: a task still inside its bound when the run was
    /// interrupted, unfinished or ending late after the stop, is unknown,
    /// not failed; one whose bound had elapsed before the stop still fails.
    #[test]
    fn r17_exactly_once_is_unknown_for_tasks_the_interruption_cut_short() {
        let stopped_at = |at_us: u64, mut events: Vec<Event>| {
            events.push(Event::Interrupted {
                at_us,
                why: "Ctrl-C".into(),
                phase: crate::history::Phase::Workload,
            });
            events
        };
        for end in [None, Some((Canceled, 40 * S))] {
            let mut tasks = three_tasks();
            tasks[2] = task(3, "n3", 2 * S, end);
            let r = judged(ONCE, stopped_at(5 * S, with_logs(tasks)));
            assert_verdict(
                &r,
                Verdict::Unknown,
                "1 of 3 tasks had not ended within their bound of 30.0s when the run was interrupted (Ctrl-C during workload) before it elapsed (ServerTasks-3); cannot tell",
            );
        }
        let mut tasks = three_tasks();
        tasks[2] = task(3, "n3", 2 * S, None);
        let r = judged(ONCE, stopped_at(35 * S, with_logs(tasks)));
        assert_verdict(
            &r,
            Verdict::Fail,
            "1 of 3 tasks never reached a final state",
        );
    }

    #[test]
    fn exactly_once_cannot_tell_without_tasks() {
        let mut events = task(1, "n1", S, None);
        let Event::TaskSubmitted(submit) = &mut events[0] else {
            unreachable!()
        };
        submit.id = None;
        let r = judged(ONCE, events);
        assert_verdict(&r, Verdict::Unknown, "no task was submitted");
        assert_eq!(r.evidence["submit_failures"], 1);
    }

    /// n1 runs three tasks back to back in pairs, n2 one; caps are 2.
    fn capped(extra: Vec<Vec<Event>>) -> Vec<Event> {
        let mut events = vec![caps(&[("n1", 2), ("n2", 2), ("n3", 2)])];
        let tasks = [
            task(1, "n1", 0, Some((Success, 10 * S))),
            task(2, "n1", 5 * S, Some((Success, 15 * S))),
            // Starts as task 1 ends: ends count first, so the peak stays 2.
            task(3, "n1", 10 * S, Some((Success, 20 * S))),
            task(4, "n2", S, Some((Success, 2 * S))),
        ];
        events.extend(tasks.into_iter().chain(extra).flatten());
        events
    }

    #[test]
    fn task_cap_passes_under_the_cap() {
        let r = judged("task_cap: {}", capped(Vec::new()));
        assert_verdict(&r, Verdict::Pass, "n1 2/2, n2 1/2, n3 0/2");
        let n1 = &r.evidence["nodes"]["n1"];
        assert_eq!(
            (n1["tasks"].as_u64(), n1["peak"].as_u64()),
            (Some(3), Some(2))
        );
        assert_eq!(r.evidence["nodes"]["n1"]["share"], 0.75);
        // An HDR histogram keeps three significant figures.
        let p99 = r.evidence["pickup_s"]["p99"].as_f64().unwrap();
        assert!((p99 - 0.5).abs() < 0.001, "{p99}");
        assert!(r.evidence["throughput_per_s"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn task_cap_fails_over_the_cap() {
        let r = judged(
            "task_cap: {}",
            capped(vec![task(5, "n1", 6 * S, Some((Success, 8 * S)))]),
        );
        assert_verdict(
            &r,
            Verdict::Fail,
            "n1 ran 3 tasks at once at 6.0s; its cap is 2",
        );
        // A task that never ends holds its slot to the end of the history.
        let r = judged(
            "task_cap: {}",
            capped(vec![task(5, "n2", 0, None), task(6, "n2", 30 * S, None)]),
        );
        assert_verdict(&r, Verdict::Pass, "n2 2/2");
        let r = judged(
            "task_cap: {}",
            capped(vec![
                task(5, "n2", 0, None),
                task(6, "n2", 30 * S, None),
                task(7, "n2", 40 * S, Some((Success, 41 * S))),
            ]),
        );
        assert_verdict(&r, Verdict::Fail, "n2 ran 3 tasks at once at 40.0s");
    }

    #[test]
    fn task_cap_bounds_the_pickup_p99() {
        let r = judged("task_cap: { pickup_p99_below: 100ms }", capped(Vec::new()));
        assert_verdict(
            &r,
            Verdict::Fail,
            "queue pick-up p99 is 0.5s, not under 0.1s",
        );
        let r = judged("task_cap: { pickup_p99_below: 1s }", capped(Vec::new()));
        assert_verdict(&r, Verdict::Pass, "pick-up p99 0.5s");
    }

    #[test]
    fn task_cap_cannot_tell_without_caps_or_tasks() {
        let mut events = capped(Vec::new());
        events.remove(0);
        let r = judged("task_cap: {}", events);
        assert_verdict(&r, Verdict::Unknown, "task caps were not recorded");
        let r = judged("task_cap: {}", vec![caps(&[("n1", 2)])]);
        assert_verdict(&r, Verdict::Unknown, "no task started");
    }

    const ORPHANS: &str = "orphaned_tasks: { within: 30s }";

    /// n2 killed at 10 s and restarted at 20 s, the run over at 45 s; task
    /// 1 runs on n2 from 8 s and `orphan` is how it ends; task 2 runs on n1
    /// across the kill, task 3 on n2 well before it.
    fn killed(orphan: Vec<Event>) -> Vec<Event> {
        let mut events = nodes_up(&["n1", "n2", "n3"]);
        events.push(fault(
            "kill-n2",
            FaultKind::Kill,
            "n2",
            FaultAction::Inject,
            10 * S,
        ));
        events.push(fault(
            "kill-n2",
            FaultKind::Kill,
            "n2",
            FaultAction::Heal,
            20 * S,
        ));
        events.extend(orphan);
        events.extend(task(2, "n1", 8 * S, Some((Success, 12 * S))));
        events.extend(task(3, "n2", 2 * S, Some((Success, 5 * S))));
        events.push(ended(45 * S));
        events
    }

    #[test]
    fn orphaned_passes_a_task_canceled_in_time() {
        let r = judged(
            ORPHANS,
            killed(task(1, "n2", 8 * S, Some((Canceled, 15 * S)))),
        );
        assert_verdict(
            &r,
            Verdict::Pass,
            "the 1 task running on n2 when kill-n2 struck",
        );
        assert_eq!(r.evidence["faults"][0]["running_at_fault"], 1);
        assert_eq!(r.evidence["faults"][0]["tasks"][0]["id"], "ServerTasks-1");
    }

    #[test]
    fn orphaned_fails_a_task_that_ended_success() {
        let r = judged(
            ORPHANS,
            killed(task(1, "n2", 8 * S, Some((Success, 15 * S)))),
        );
        assert_verdict(
            &r,
            Verdict::Fail,
            "ServerTasks-1 was running on n2 when it was killed, yet ended Success",
        );
    }

    #[test]
    fn orphaned_fails_a_late_or_hung_task() {
        let r = judged(
            ORPHANS,
            killed(task(1, "n2", 8 * S, Some((Canceled, 42 * S)))),
        );
        assert_verdict(
            &r,
            Verdict::Fail,
            "ServerTasks-1 (running on n2 at the kill) ended Canceled 32.0s after kill-n2; bound 30.0s",
        );
        let r = judged(ORPHANS, killed(task(1, "n2", 8 * S, None)));
        assert_verdict(
            &r,
            Verdict::Fail,
            "ServerTasks-1 (running on n2 at the kill) was still Executing 35.0s later; bound 30.0s",
        );
    }

    /// Issue 17: a task whose bound the run's interruption came in before
    /// is unknown, not failed, when the run's own clean-up canceled it or
    /// it never ended; one that ran again still fails.
    #[test]
    fn r17_orphaned_is_unknown_when_the_interruption_cut_the_bound_short() {
        let cut = |mut events: Vec<Event>| {
            events.insert(
                4,
                Event::Interrupted {
                    at_us: 12 * S,
                    why: "SIGTERM".into(),
                    phase: crate::history::Phase::Workload,
                },
            );
            events
        };
        for orphan in [
            task(1, "n2", 8 * S, Some((Canceled, 42 * S))),
            task(1, "n2", 8 * S, None),
        ] {
            let r = judged(ORPHANS, cut(killed(orphan)));
            assert_verdict(
                &r,
                Verdict::Unknown,
                "the wait for ServerTasks-1 to end after kill-n2 was cut short by the interruption (SIGTERM during workload) 2.0s in, before its bound of 30.0s elapsed",
            );
        }
        let r = judged(
            ORPHANS,
            cut(killed(task(1, "n2", 8 * S, Some((Success, 15 * S))))),
        );
        assert_verdict(&r, Verdict::Fail, "yet ended Success");
    }

    #[test]
    fn orphaned_fails_a_task_run_again_elsewhere() {
        let mut orphan = task(1, "n2", 8 * S, None);
        orphan.push(seen_on(1, "n1", 12 * S));
        let r = judged(ORPHANS, killed(orphan));
        assert_verdict(
            &r,
            Verdict::Fail,
            "ServerTasks-1 (running on n2 at the kill) ran again on n1",
        );
    }

    #[test]
    fn orphaned_cannot_tell_when_nothing_ran_on_the_node() {
        let r = judged(ORPHANS, killed(Vec::new()));
        assert_verdict(
            &r,
            Verdict::Unknown,
            "no task was running on n2 when kill-n2 struck; nothing to judge",
        );
        let r = judged(ORPHANS, task(1, "n2", 8 * S, None));
        assert_verdict(&r, Verdict::Unknown, "never injected");
    }

    /// Two tasks on a two-node cluster, each log read through both nodes.
    fn logs(reads: Vec<Event>) -> Vec<Event> {
        let mut events = nodes_up(&["n1", "n2"]);
        events.extend(task(1, "n1", S, Some((Success, 2 * S))));
        events.extend(task(2, "n2", S, Some((Success, 2 * S))));
        events.extend(reads);
        events
    }

    #[test]
    fn shared_storage_passes_identical_logs() {
        let reads = vec![
            log(1, "n1", 412, 1),
            log(1, "n2", 412, 1),
            log(2, "n1", 300, 1),
            log(2, "n2", 300, 1),
        ];
        let r = judged("shared_storage: {}", logs(reads));
        assert_verdict(
            &r,
            Verdict::Pass,
            "the logs of 2 tasks read the same through 2 nodes",
        );
    }

    #[test]
    fn shared_storage_fails_differing_logs_and_failed_reads() {
        let reads = vec![
            log(1, "n1", 412, 1),
            log(1, "n2", 412, 1),
            log(2, "n1", 412, 1),
            log(2, "n2", 0, 0),
        ];
        let r = judged("shared_storage: {}", logs(reads));
        assert_verdict(
            &r,
            Verdict::Fail,
            "the log of ServerTasks-2 differs between nodes: n1 412 bytes, n2 0 bytes (1 of 2 tasks differ)",
        );

        let mut failed = log(2, "n2", 0, 0);
        if let Event::TaskLog(l) = &mut failed {
            l.status = Some(404);
            l.sha1 = None;
        }
        let reads = vec![
            log(1, "n1", 412, 1),
            log(1, "n2", 412, 1),
            log(2, "n1", 412, 1),
            failed,
        ];
        let r = judged("shared_storage: {}", logs(reads));
        assert_verdict(
            &r,
            Verdict::Fail,
            "the log of ServerTasks-2 could not be read through n2: 404",
        );
    }

    #[test]
    fn shared_storage_cannot_tell_without_reads() {
        let r = judged("shared_storage: {}", logs(Vec::new()));
        assert_verdict(&r, Verdict::Unknown, "no task log was read");
        let r = judged("shared_storage: {}", logs(vec![log(1, "n1", 412, 1)]));
        assert_verdict(&r, Verdict::Unknown, "was not read through n2");
    }
}
