//! Small hand-made histories for the task checks, also used by the drain
//! contract's tests.

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
            due_us: None,
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
