//! `drain_contract`: draining a node (Octopus's maintenance mode) takes it
//! out of service without a single failed request, as the Octopus HA docs
//! promise. Judged per drain or maintenance window, in five parts:
//!
//! - **ping**: the node's own ping, probed directly, answers 418 within
//!   `ping_within` of the drain taking effect, and 200 again within
//!   `ping_within` of the undrain;
//! - **LB**: requests through the LB stop reaching the node within
//!   `lb_within` (a ping body names the node that served it, a 418 too);
//! - **no failed request**: nothing through the LB fails during the window,
//!   which is what tells a drain from a kill. A drained node's 418 within
//!   `lb_within` of the drain is the LB's reaction time, not a failure;
//!   one later is a failure. `availability` counts them the same way (see
//!   [`Drained418`] and docs/scenarios.md, "Drains and the LB's
//!   reaction time");
//! - **no task starts** on the node once the drain took effect;
//! - **running tasks finish**: those the node ran when it was drained end
//!   in Success.
//!
//! A part the history holds no evidence for is unknown, never passed. A
//! part whose bound the run's interruption came in before it elapsed (the
//! ping's, the LB's, the undrain's; running tasks not yet ended) is unknown
//! where it would fail (docs/robustness.md, "Interrupted runs").
//! Task start times are the server's, so `clock_skew` widens the drain's
//! edges: a task that started within it of the drain counts as running
//! when it was drained (and must succeed), not as started after it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::verdict::{Verdict, never_injected, worst};
use super::windows::{cut_short, judged_windows, window_cut_short};
use crate::history::{FaultWindow, History, Request, TaskRecord, TaskState};
use crate::scenario::DrainContract;
use crate::vocab::FaultKind;

mod lb;
mod lb_windows;
mod node_tasks;
mod part;
mod ping;

pub(super) use lb_windows::{Drained418, LbWindows, drained_by};

use lb::{failed_part, lb_part};
use node_tasks::{Running, running_outcomes, running_part, started_part};
use part::Part;
use ping::{ping_200_part, ping_418_part, statuses};

/// The part that says a maintenance stopped short.
const STOPPED_PART: &str = "completed";

/// Task IDs listed in evidence, at most.
const LISTED: usize = 10;

pub(super) fn judge(c: &DrainContract, h: &History) -> (Verdict, String, Value) {
    let windows = judged_windows(
        h,
        c.fault.as_ref(),
        &[FaultKind::Drain, FaultKind::Maintenance],
    );
    if windows.is_empty() {
        return never_injected("faults");
    }
    // Read once: every window works on the same tasks and nodes, and on
    // every drain, judged or not, as another node drained beside this one
    // answers 418 too.
    let every = judged_windows(h, None, &[FaultKind::Drain, FaultKind::Maintenance]);
    let tasks = h.task_records();
    let all_nodes = h.node_names();
    let mut results = Vec::new();
    let mut outcomes = Vec::new();
    for w in &windows {
        let (verdict, detail, evidence) = judge_window(c, h, w, &every, &tasks, &all_nodes);
        outcomes.push((verdict, detail));
        results.push(evidence);
    }
    let (verdict, worst_detail) = worst(&outcomes);
    // When all pass, each window has its say.
    let detail = if verdict == Verdict::Pass {
        outcomes
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        worst_detail
    };
    (verdict, detail, json!({ "faults": results }))
}

fn judge_window(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    drains: &[FaultWindow],
    tasks: &[TaskRecord<'_>],
    all_nodes: &[String],
) -> (Verdict, String, Value) {
    if let Some(e) = &w.inject_error {
        return not_injected(w, e);
    }
    let (mut parts, ping) = ping_parts(h, w, c.ping_within.value.as_micros_u64());

    // c works on the requests intended inside the window; b on those the
    // LB saw inside it (see lb_part).
    let in_window: Vec<&Request> = h
        .requests()
        .filter(|r| r.intended_us >= w.start_us && r.intended_us <= w.end_us)
        .collect();
    // The LB's usual culprits are worth naming only when the node's own
    // ping said 418 in time: otherwise the LB may be following the ping.
    let ping_said_418 = parts
        .iter()
        .filter(|p| p.name == "ping_418")
        .all(|p| p.verdict == Verdict::Pass);
    let (part, lb) = lb_part(c, h, w, all_nodes, ping_said_418);
    parts.push(part);
    let (part, failed) = failed_part(c, h, w, drains, &in_window);
    parts.push(part);
    // A maintenance that stopped short (its drain not confirmed, its task
    // count unreadable) or whose restart failed never did what it was for:
    // the window cannot pass.
    if let Some(why) = &w.stopped {
        parts.push(Part::new(
            STOPPED_PART,
            Verdict::Unknown,
            format!("{} did not complete: {why}", w.name),
        ));
    }
    let (on_tasks, running, started) = task_parts(c, h, w, tasks);
    parts.extend(on_tasks);

    for p in parts.iter_mut().filter(|p| p.verdict == Verdict::Fail) {
        if let Some(why) = cut_by_interruption(c, h, w, p.name, &running) {
            p.verdict = Verdict::Unknown;
            p.detail = why;
        }
    }

    let verdict = Verdict::merge(parts.iter().map(|p| p.verdict));
    let detail = window_detail(h, w, &parts, verdict);
    let evidence = json!({
        "fault": w.name,
        "kind": w.kind,
        "nodes": w.nodes,
        "window_s": w.end_us.saturating_sub(w.start_us) as f64 / 1e6,
        "ping_418_after_s": ping.to_418.map(s),
        "ping_200_after_s": ping.to_200.map(s),
        "lb_convergence_s": lb.convergence.map(s),
        "lb_within_s": s(c.lb_within.value.as_micros_u64()),
        "requests_to_drained_node": lb.to_drained,
        "requests_to_drained_node_after_bound": lb.after_bound,
        "failed_requests": failed.by.values().sum::<usize>(),
        "failed_by": failed.by,
        "drained_418_in_lb_window": failed.in_window,
        "drained_418_after_lb_window": failed.after_window,
        "tasks_started_on_drained": started.len(),
        "tasks_started_on_drained_ids": started.iter().take(LISTED).collect::<Vec<_>>(),
        "tasks_running_at_drain": running.len(),
        "running_task_outcomes": running_outcomes(&running),
        "outcomes": part_outcomes(&parts),
        "stopped": w.stopped,
        "verdict": verdict,
    });
    (verdict, detail, evidence)
}

/// A window whose fault could not be injected has nothing to judge.
fn not_injected(w: &FaultWindow, e: &str) -> (Verdict, String, Value) {
    let then = w
        .stopped
        .as_ref()
        .map(|s| format!("; {s}"))
        .unwrap_or_default();
    (
        Verdict::Unknown,
        format!("{} could not be injected: {e}{then}", w.name),
        json!({ "fault": w.name, "nodes": w.nodes, "inject_error": e, "stopped": w.stopped }),
    )
}

/// How long the slowest drained node's own ping took to answer 418, and
/// 200 again; `None` where some node's never did in time to measure.
struct PingTimes {
    to_418: Option<u64>,
    to_200: Option<u64>,
}

/// a: the node's own ping, judged per drained node.
fn ping_parts(h: &History, w: &FaultWindow, within: u64) -> (Vec<Part>, PingTimes) {
    let mut parts = Vec::new();
    let mut times = PingTimes {
        to_418: Some(0),
        to_200: Some(0),
    };
    for node in &w.nodes {
        let statuses = statuses(h, node);
        let (mut a418, took) = ping_418_part(w, node, &statuses, within);
        times.to_418 = times.to_418.zip(took).map(|(a, b)| a.max(b));
        let (mut a200, took) = ping_200_part(h, w, node, &statuses, within);
        times.to_200 = times.to_200.zip(took).map(|(a, b)| a.max(b));
        // Passing fragments do not name the node; with several, say which.
        if w.nodes.len() > 1 {
            for p in [&mut a418, &mut a200] {
                if p.verdict == Verdict::Pass {
                    p.detail = format!("{node} {}", p.detail);
                }
            }
        }
        parts.extend([a418, a200]);
    }
    (parts, times)
}

/// e and d, with the tasks running at the drain and the IDs of those
/// started on the drained node after it. A run without a tasks workload
/// has no evidence for them, and they are left out rather than passed.
fn task_parts(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    tasks: &[TaskRecord<'_>],
) -> (Vec<Part>, Vec<Running>, Vec<String>) {
    if h.task_submissions().next().is_none() {
        let part = Part::new(
            "tasks",
            Verdict::Pass,
            "tasks not judged (no tasks workload)".into(),
        );
        return (vec![part], Vec::new(), Vec::new());
    }
    let (running_part, running) = running_part(c, w, tasks);
    let (started_part, started) = started_part(c, w, tasks);
    (vec![running_part, started_part], running, started)
}

/// The window's detail: every part's fragment when it passes; otherwise
/// every part as bad as the window, so one run shows every breach, and why
/// a maintenance stopped short, whatever else went wrong.
fn window_detail(h: &History, w: &FaultWindow, parts: &[Part], verdict: Verdict) -> String {
    if verdict == Verdict::Pass {
        format!(
            "{}: {}",
            w.nodes
                .iter()
                .map(|n| h.label(n))
                .collect::<Vec<_>>()
                .join(", "),
            parts
                .iter()
                .map(|p| p.detail.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        parts
            .iter()
            .filter(|p| p.verdict == verdict || p.name == STOPPED_PART)
            .map(|p| p.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Each part's verdict by name. With several nodes a part appears once
/// per node; the worst stays.
fn part_outcomes(parts: &[Part]) -> BTreeMap<&'static str, Verdict> {
    let mut outcomes: BTreeMap<&'static str, Verdict> = BTreeMap::new();
    for p in parts {
        let merged = match outcomes.get(p.name) {
            Some(&before) => Verdict::merge([before, p.verdict]),
            None => p.verdict,
        };
        outcomes.insert(p.name, merged);
    }
    outcomes
}

/// Why a failing part cannot be judged because the run was interrupted
/// before its bound elapsed, if that is so.
fn cut_by_interruption(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    part: &str,
    running: &[Running],
) -> Option<String> {
    let ping_within = c.ping_within.value.as_micros_u64();
    match part {
        "ping_418" => window_cut_short(h, w, w.started_us, ping_within),
        "lb" => window_cut_short(h, w, w.start_us, c.lb_within.value.as_micros_u64()),
        "ping_200" => {
            let undrained = w.healed_done_us.unwrap_or(w.end_us).max(w.end_us);
            cut_short(
                h,
                &format!("the wait for ping 200 after {} was undone", w.name),
                undrained,
                ping_within,
            )
        }
        "running_tasks" => {
            let i = h.interruption()?;
            let open = running
                .iter()
                .filter(|r| r.end != Some(TaskState::Success))
                .find(|r| r.ended_us.is_none_or(|at| at > i.at_us))?;
            Some(format!(
                "task {}, running on {} when it was drained, had not ended when the run was interrupted ({}); cannot tell",
                open.id,
                open.node,
                i.describe()
            ))
        }
        _ => None,
    }
}

fn s(us: u64) -> f64 {
    us as f64 / 1e6
}

#[cfg(test)]
mod tests;
