//! `tasks_survive`: the tasks a database outage caught (running when it
//! began, or queued and not yet picked up) end within a bound of the
//! database's return, in Success or in failure with an error recorded;
//! none stays Executing, none runs twice, and the queued ones are picked
//! up after it (docs/faults.md, "database_outage").

use serde_json::{Value, json};

use super::records::{
    LISTED, executions, first_started_us, logged_records, plural, ran_more_than_once, s, task_id,
};
use crate::check::verdict::{Verdict, never_injected, secs, worst};
use crate::check::windows::{cut_short, judged_windows, unjudged};
use crate::history::{FaultWindow, History, TaskRecord, TaskState};
use crate::scenario::OutageCheck;
use crate::vocab::FaultKind;

/// What an outage caught a task doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caught {
    /// Executing when the database went away.
    Running,
    /// Queued, and not started before it went away.
    Queued,
}

pub(in crate::check) fn tasks_survive(c: &OutageCheck, h: &History) -> (Verdict, String, Value) {
    let windows = judged_windows(h, c.fault.as_ref(), FaultKind::DATABASE);
    if windows.is_empty() {
        return never_injected("outages");
    }
    let records = logged_records(h);
    let within = c.within.value.as_micros_u64();
    let mut outcomes = Vec::new();
    let mut evidence = Vec::new();
    for w in &windows {
        let (verdict, detail, e) = window(h, w, &records, within);
        outcomes.push((verdict, detail));
        evidence.push(e);
    }
    let (verdict, detail) = worst(&outcomes);
    (
        verdict,
        detail,
        json!({ "within_s": s(within), "outages": evidence }),
    )
}

fn window(
    h: &History,
    w: &FaultWindow,
    records: &[TaskRecord<'_>],
    within: u64,
) -> (Verdict, String, Value) {
    if let Some(why) = unjudged(w) {
        return (
            Verdict::Unknown,
            why.clone(),
            json!({ "fault": w.name, "unjudged": why }),
        );
    }
    let caught: Vec<(&TaskRecord<'_>, Caught)> = records
        .iter()
        .filter_map(|t| caught(w, t).map(|c| (t, c)))
        .collect();
    if caught.is_empty() {
        let why = format!(
            "no task was running or queued when {} began; nothing to judge",
            w.name
        );
        return (
            Verdict::Unknown,
            why,
            json!({ "fault": w.name, "tasks": [] }),
        );
    }
    let mut judged = Vec::new();
    let mut tasks = Vec::new();
    for (t, how) in &caught {
        let (verdict, detail) = judge(h, w, t, within);
        tasks.push(json!({
            "id": task_id(t),
            "caught": if *how == Caught::Running { "running" } else { "queued" },
            "state": t.last().map(|l| l.state.as_str()),
            "ended_after_return_s": t.end().map(|(_, at)| s(at.saturating_sub(w.end_us))),
            "nodes": t.nodes(),
            "executions": executions(t),
            "verdict": verdict,
        }));
        judged.push((verdict, detail));
    }
    let (verdict, first) = worst(&judged);
    let running = caught.iter().filter(|(_, c)| *c == Caught::Running).count();
    let detail = if verdict == Verdict::Pass {
        format!(
            "the {} and {} queued when {} began ended within {} of the database's return, none stayed Executing and none ran twice",
            plural(running, "task running", "tasks running"),
            caught.len() - running,
            w.name,
            secs(within)
        )
    } else {
        let bad = judged.iter().filter(|(v, _)| *v == verdict).count();
        if bad > 1 {
            format!("{first} ({bad} of {} such tasks)", judged.len())
        } else {
            first
        }
    };
    let evidence = json!({
        "fault": w.name,
        "running": running,
        "queued": caught.len() - running,
        "tasks": tasks.into_iter().take(LISTED).collect::<Vec<_>>(),
        "verdict": verdict,
    });
    (verdict, detail, evidence)
}

/// What the outage caught `t` doing, if anything: started before it and
/// not ended by then, or queued before it and not started by then.
fn caught(w: &FaultWindow, t: &TaskRecord<'_>) -> Option<Caught> {
    let ended_before = t.end().is_some_and(|(_, at)| at < w.start_us);
    if ended_before {
        return None;
    }
    match (first_started_us(t), t.queued_us()) {
        (Some(started), _) if started < w.start_us => Some(Caught::Running),
        (_, Some(queued)) if queued < w.start_us => Some(Caught::Queued),
        _ => None,
    }
}

/// One caught task: it ran once, it ended, soon enough, and well.
fn judge(h: &History, w: &FaultWindow, t: &TaskRecord<'_>, within: u64) -> (Verdict, String) {
    let id = task_id(t);
    if let Some(twice) = ran_more_than_once(t) {
        return (Verdict::Fail, format!("{twice} after {} caught it", w.name));
    }
    let deadline = w.end_us.saturating_add(within);
    let Some((state, at)) = t.end() else {
        let last = t.last().map_or("never seen", |l| l.state.as_str());
        let fail = format!(
            "{id} never ended after {} (last seen {last}): a task whose end was lost with the database stays Executing (OctopusDeploy/Issues #3388)",
            w.name
        );
        return match cut_short(h, &format!("the wait for {id}"), w.end_us, within) {
            Some(why) => (Verdict::Unknown, why),
            None => (Verdict::Fail, fail),
        };
    };
    if at > deadline {
        return (
            Verdict::Fail,
            format!(
                "{id} ended {} only {} after the database returned (bound {})",
                state.as_str(),
                secs(at - w.end_us),
                secs(within)
            ),
        );
    }
    let error = t.last().and_then(|l| l.error.as_deref()).unwrap_or("");
    match state {
        TaskState::Success => (Verdict::Pass, String::new()),
        TaskState::Failed if !error.trim().is_empty() => (Verdict::Pass, String::new()),
        _ => (
            Verdict::Fail,
            format!(
                "{id} ended {} after {} with no error recorded ({}): a task the outage caught must end in Success, or fail saying why",
                state.as_str(),
                w.name,
                plural(t.nodes().len(), "node", "nodes")
            ),
        ),
    }
}
