//! Parts d and e of the contract, judged on the tasks: none starts on the
//! drained node, and those it was running when drained end in Success.

use std::collections::BTreeMap;

use super::part::Part;
use crate::check::tasks::{first_started_us, last_node, node_at, task_id};
use crate::check::verdict::{Verdict, secs};
use crate::history::{FaultWindow, TaskRecord, TaskState};
use crate::scenario::DrainContract;

/// d: no task starts on the drained node once the drain took effect. The
/// clock skew allowance applies at both ends, as server start times are
/// compared with harness times.
pub(super) fn started_part(
    c: &DrainContract,
    w: &FaultWindow,
    tasks: &[TaskRecord<'_>],
) -> (Part, Vec<String>) {
    const NAME: &str = "tasks_started";
    let skew = c.clock_skew.as_micros_u64();
    let from = w.started_us.saturating_add(skew);
    let until = w.end_us.saturating_sub(skew);
    let mut started: Vec<(String, String, u64)> = Vec::new();
    for t in tasks {
        // The latest start and node: a task run again counts where it ran.
        let (Some(at), Some(node)) = (t.started_us(), last_node(t)) else {
            continue;
        };
        if at > from && at <= until && w.nodes.iter().any(|n| n == node) {
            started.push((task_id(t).to_string(), node.to_string(), at));
        }
    }
    started.sort_by_key(|(_, _, at)| *at);
    let ids: Vec<String> = started.iter().map(|(id, _, _)| id.clone()).collect();
    let Some((id, node, at)) = started.first() else {
        return (Part::new(NAME, Verdict::Pass, "none started".into()), ids);
    };
    let more = match started.len() {
        1 => String::new(),
        n => format!(" ({n} tasks started on drained nodes)"),
    };
    let d = format!(
        "task {id} started on drained node {node} at {}, {} after the drain took effect{more}",
        secs(*at),
        secs(at - w.started_us)
    );
    (Part::new(NAME, Verdict::Fail, d), ids)
}

/// One task the node ran when it was drained, and how it ended.
pub(super) struct Running {
    pub(super) id: String,
    pub(super) node: String,
    pub(super) end: Option<TaskState>,
    /// When it ended, if it did.
    pub(super) ended_us: Option<u64>,
    last: Option<TaskState>,
    error: Option<String>,
}

/// e: the tasks the node ran when it was drained end in Success. Tasks
/// that started within the clock skew of the drain are not judged by d, so
/// they are judged here.
pub(super) fn running_part(
    c: &DrainContract,
    w: &FaultWindow,
    tasks: &[TaskRecord<'_>],
) -> (Part, Vec<Running>) {
    const NAME: &str = "running_tasks";
    let skew = c.clock_skew.as_micros_u64();
    let mut running = Vec::new();
    for t in tasks {
        // The first start: a task run again after the drain was still
        // running on the node when it was drained.
        let Some(at) = first_started_us(t) else {
            continue;
        };
        if at > w.started_us.saturating_add(skew) {
            continue;
        }
        if t.end().is_some_and(|(_, end)| end < w.start_us) {
            continue;
        }
        let Some(node) = node_at(t, w.started_us) else {
            continue;
        };
        if !w.nodes.iter().any(|n| n == node) {
            continue;
        }
        running.push(Running {
            id: task_id(t).to_string(),
            node: node.to_string(),
            end: t.end().map(|(s, _)| s),
            ended_us: t.end().map(|(_, at)| at),
            last: t.last().map(|s| s.state),
            error: t.last().and_then(|s| s.error.clone()),
        });
    }
    let bad: Vec<&Running> = running
        .iter()
        .filter(|r| r.end != Some(TaskState::Success))
        .collect();
    let Some(first) = bad.first() else {
        let d = match running.len() {
            0 => "no task was running".to_string(),
            1 => "1 running task finished".to_string(),
            n => format!("{n} running tasks finished"),
        };
        return (Part::new(NAME, Verdict::Pass, d), running);
    };
    let how = match (first.end, first.last) {
        (Some(state), _) => match &first.error {
            Some(e) => format!("ended {}: {e}", state.as_str()),
            None => format!("ended {}", state.as_str()),
        },
        (None, Some(state)) => format!("never ended (last seen {})", state.as_str()),
        (None, None) => "never ended".to_string(),
    };
    let more = match bad.len() {
        1 => String::new(),
        n => format!(" ({n} of {} running tasks did not succeed)", running.len()),
    };
    let d = format!(
        "task {}, running on {} when it was drained, {how}{more}",
        first.id, first.node
    );
    (Part::new(NAME, Verdict::Fail, d), running)
}

/// How the tasks running at the drain ended, by state.
pub(super) fn running_outcomes(running: &[Running]) -> BTreeMap<&'static str, usize> {
    let mut by = BTreeMap::new();
    for r in running {
        let key = r.end.map_or("unfinished", |s| s.as_str());
        *by.entry(key).or_default() += 1;
    }
    by
}
