//! What the task checks read of each task record: its ID, the nodes seen
//! running it (the last, the one at a given time), its first start, how
//! often its script ran and whether it ran more than once; which records
//! are the tasks workload's, whose logs the run reads; and the figures and
//! words their evidence and details share.

use crate::history::{History, TaskRecord};

/// Task IDs listed in evidence, at most.
pub(super) const LISTED: usize = 10;

/// A task's ID; every record has one, as submissions without are left out.
pub(in crate::check) fn task_id<'a>(t: &TaskRecord<'a>) -> &'a str {
    t.submit.id.as_deref().unwrap_or("?")
}

/// The last node seen running a task.
pub(in crate::check) fn last_node<'a>(t: &TaskRecord<'a>) -> Option<&'a str> {
    t.seen.iter().copied().rev().find_map(|s| s.node.as_deref())
}

/// The node running a task at `at_us`: the last one seen by then, else the
/// first one seen at all (the harness polls, so it sees a task on its node
/// only some time after the server started it there).
pub(in crate::check) fn node_at<'a>(t: &TaskRecord<'a>, at_us: u64) -> Option<&'a str> {
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
pub(in crate::check) fn first_started_us(t: &TaskRecord<'_>) -> Option<u64> {
    t.seen.iter().find_map(|s| s.started_us)
}

/// How many times a task's script ran, by the most its log shows through
/// any node.
pub(super) fn executions(t: &TaskRecord<'_>) -> u32 {
    t.logs.iter().map(|l| l.executions).max().unwrap_or(0)
}

pub(super) fn s(us: u64) -> f64 {
    us as f64 / 1e6
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The tasks of the tasks workload, whose logs the run reads: a load
/// phase's tasks are followed to their end but their logs are not read,
/// so the checks that need logs leave them out.
pub(super) fn logged_records(h: &History) -> Vec<TaskRecord<'_>> {
    let mut records = h.task_records();
    records.retain(|t| t.submit.via != crate::history::LOAD_VIA);
    records
}

/// Why a task counts as having run more than once, if it does.
pub(super) fn ran_more_than_once(t: &TaskRecord<'_>) -> Option<String> {
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
