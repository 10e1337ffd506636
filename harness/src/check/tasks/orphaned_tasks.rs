//! `orphaned_tasks`: the tasks a killed or restarted node was running end
//! within a bound, not in Success (the node was dead), and are not run
//! again.

use serde_json::{Value, json};

use super::records::{LISTED, executions, first_started_us, node_at, plural, s, task_id};
use crate::check::verdict::{Verdict, never_injected, secs, worst};
use crate::check::windows::{cut_short, judged_windows};
use crate::history::{FaultWindow, History, TaskRecord, TaskState};
use crate::scenario::OrphanedTasks;
use crate::vocab::FaultKind;

/// After a kill returns, how long a task's server-side end may still be
/// stamped (the process dying, the server's clock against the harness's)
/// without counting as an end after the kill.
const KILL_SETTLE_US: u64 = 250_000;

pub(in crate::check) fn orphaned(c: &OrphanedTasks, h: &History) -> (Verdict, String, Value) {
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
    let mut judged: Vec<(Verdict, String)> = Vec::new();
    let mut tasks = Vec::new();
    let mut slowest = 0u64;
    for (t, node) in orphans(w, records) {
        let (verdict, detail) = judge_orphan(h, w, t, node, within);
        if verdict == Verdict::Pass
            && let Some((_, at)) = t.end()
        {
            slowest = slowest.max(at.saturating_sub(w.start_us));
        }
        tasks.push(json!({
            "id": task_id(t),
            "node": node,
            "state": t.last().map(|l| l.state.as_str()),
            "ended_after_s": t.end().map(|(_, at)| s(at.saturating_sub(w.start_us))),
            "nodes": t.nodes(),
            "executions": executions(t),
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

/// The tasks running on a faulted node when the fault struck, with that
/// node.
fn orphans<'r, 'a>(
    w: &'r FaultWindow,
    records: &'r [TaskRecord<'a>],
) -> impl Iterator<Item = (&'r TaskRecord<'a>, &'a str)> {
    records.iter().filter_map(move |t| {
        // The first start: a task run again elsewhere was still running on
        // the killed node when it struck.
        let started = first_started_us(t)?;
        // A task that ended by the time the kill surely took effect (it
        // returned, plus an allowance for the server's clock) finished
        // before it.
        let settled = w.started_us + KILL_SETTLE_US;
        if started >= w.start_us || t.end().is_some_and(|(_, at)| at < settled) {
            return None;
        }
        let node = node_at(t, w.start_us)?;
        w.nodes.iter().any(|n| n == node).then_some((t, node))
    })
}

/// One task the fault orphaned: it must not run again, must not end in
/// Success, and must end within the bound.
fn judge_orphan(
    h: &History,
    w: &FaultWindow,
    t: &TaskRecord<'_>,
    node: &str,
    within: u64,
) -> (Verdict, String) {
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
        orphan_end(h, w, t, node, within)
    };
    // Its end's bound the run's interruption came in before it elapsed:
    // unknown, not fail (docs/robustness.md, "Interrupted runs"). Running again or
    // ending Success are not a matter of time.
    let bound_only =
        ran_on.len() <= 1 && runs <= 1 && !matches!(t.end(), Some((TaskState::Success, _)));
    match verdict {
        Verdict::Fail if bound_only => match cut_short(
            h,
            &format!("the wait for {id} to end after {}", w.name),
            w.start_us,
            within,
        ) {
            Some(why) => (Verdict::Unknown, why),
            None => (verdict, detail),
        },
        _ => (verdict, detail),
    }
}

/// How an orphaned task that ran once ended: not in Success, and within
/// the bound of the fault.
fn orphan_end(
    h: &History,
    w: &FaultWindow,
    t: &TaskRecord<'_>,
    node: &str,
    within: u64,
) -> (Verdict, String) {
    let id = task_id(t);
    let at_fault = format!("running on {node} at the {}", w.kind);
    let end = h.end_us();
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
        Some((state, at)) => (
            Verdict::Pass,
            format!(
                "{id} ended {} {} after {}",
                state.as_str(),
                secs(at.saturating_sub(w.start_us)),
                w.name
            ),
        ),
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
