//! The derived views over a [`History`]: requests, phases, fault windows,
//! task records, uploads and node names as the checks and reports read
//! them, computed from the events alone.

use std::collections::{HashMap, HashSet};

use super::event::{
    Event, FaultAction, LB_NAME, NodeIdentity, PackageRead, Phase, PollingChange, Request,
    STOPPED_STEP, TaskLogRead, TaskSeen, TaskSubmit, UploadAttempt, UploadPurpose, UploadStart,
};
use crate::vocab::{FaultKind, TaskState};

/// Turns what the cluster calls a node (its `Name` in a ping body, or the
/// `Name` or `Id` a task's `ServerNode` holds) into the run's name for it.
/// Names the map does not know are left as the cluster gave them.
#[derive(Debug, Clone, Default)]
pub struct NodeMap {
    nodes: Vec<NodeIdentity>,
}

impl NodeMap {
    /// A map of these identities.
    pub fn new(nodes: Vec<NodeIdentity>) -> Self {
        Self { nodes }
    }

    /// The run's name for a node the cluster names `said`: by exact Id or
    /// Name, else by a Name that differs only in case (Windows host names
    /// do), when only one node has it.
    pub fn node_of(&self, said: &str) -> Option<&str> {
        if let Some(n) = self.nodes.iter().find(|n| n.id == said || n.name == said) {
            return Some(&n.node);
        }
        let mut folded = self
            .nodes
            .iter()
            .filter(|n| n.name.eq_ignore_ascii_case(said) || n.id.eq_ignore_ascii_case(said));
        match (folded.next(), folded.next()) {
            (Some(n), None) => Some(&n.node),
            _ => None,
        }
    }

    /// The cluster's identity of one of the run's nodes.
    pub fn identity(&self, node: &str) -> Option<&NodeIdentity> {
        self.nodes.iter().find(|n| n.node == node)
    }

    /// One of the run's nodes as reports name it: the run's name, and the
    /// cluster's Name beside it where the two differ (`n2 (OCTOPUS02)`).
    pub fn label(&self, node: &str) -> String {
        match self.identity(node) {
            Some(n) if !n.name.is_empty() && n.name != node => format!("{node} ({})", n.name),
            _ => node.to_string(),
        }
    }

    fn rename(&self, said: &mut String) {
        if let Some(node) = self.node_of(said) {
            *said = node.to_string();
        }
    }

    /// Names every node the event names from the cluster's side by the
    /// run's name for it.
    pub fn translate(&self, event: &mut Event) {
        if self.nodes.is_empty() {
            return;
        }
        match event {
            Event::Request(r) => r.node.iter_mut().for_each(|n| self.rename(n)),
            Event::Task(t) => t.node.iter_mut().for_each(|n| self.rename(n)),
            Event::HealthTask(t) => t.ran_on.iter_mut().for_each(|n| self.rename(n)),
            Event::Health(h) => self.rename(&mut h.node),
            Event::ClusterNodes { nodes, .. } => {
                nodes.iter_mut().for_each(|n| self.rename(&mut n.name));
            }
            _ => {}
        }
    }
}

/// The interruption of a run, as its history records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interruption {
    /// When the runner saw it.
    pub at_us: u64,
    /// What stopped the run.
    pub why: String,
    /// The phase it came in.
    pub phase: Phase,
}

impl Interruption {
    /// `Ctrl-C during workload`.
    pub fn describe(&self) -> String {
        format!("{} during {}", self.why, self.phase.as_str())
    }
}

/// Everything the history says about one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord<'a> {
    /// The submission.
    pub submit: &'a TaskSubmit,
    /// Every change seen, in order.
    pub seen: Vec<&'a TaskSeen>,
    /// Reads of its log.
    pub logs: Vec<&'a TaskLogRead>,
}

impl TaskRecord<'_> {
    /// The last state seen.
    pub fn last(&self) -> Option<&TaskSeen> {
        self.seen.last().copied()
    }

    /// Every node seen running it, in order of first sight.
    pub fn nodes(&self) -> Vec<&str> {
        let mut nodes: Vec<&str> = Vec::new();
        for s in &self.seen {
            if let Some(n) = &s.node
                && !nodes.contains(&n.as_str())
            {
                nodes.push(n);
            }
        }
        nodes
    }

    /// Its end, when it reached a final state: (state, completed at).
    pub fn end(&self) -> Option<(TaskState, u64)> {
        let last = self.last()?;
        last.state
            .is_completed()
            .then(|| (last.state, last.completed_us.unwrap_or(last.at_us)))
    }

    /// Its start on a node, from the server's StartTime.
    pub fn started_us(&self) -> Option<u64> {
        self.seen.iter().rev().find_map(|s| s.started_us)
    }

    /// Its queue time, from the server.
    pub fn queued_us(&self) -> Option<u64> {
        self.seen.iter().find_map(|s| s.queued_us)
    }
}

/// A fault's time in effect, read back from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    /// The fault's name.
    pub name: String,
    /// Its kind.
    pub kind: FaultKind,
    /// The nodes it acted on.
    pub nodes: Vec<String>,
    /// Injected at.
    pub start_us: u64,
    /// When the injection returned (it took effect by then).
    pub started_us: u64,
    /// Healed at; the end of the run if it never was.
    pub end_us: u64,
    /// When the heal returned, by which time an undrain has taken effect
    /// (a maintenance's heal may first wait for its node to start).
    pub healed_done_us: Option<u64>,
    /// Whether a heal was recorded.
    pub healed: bool,
    /// Why the injection did not work, if it did not.
    pub inject_error: Option<String>,
    /// Why the fault went no further, if it did not: a step's
    /// precondition was not confirmed, so it was not taken, or a step
    /// failed.
    pub stopped: Option<String>,
    /// Why its undo failed, if the last attempt at it did (the heal phase
    /// tries a failed heal again; a later success clears this).
    pub heal_error: Option<String>,
}

impl FaultWindow {
    /// True if a request overlaps the window widened by `grace_us` at the
    /// end; a request in flight when the fault struck overlaps it.
    pub fn overlaps(&self, r: &Request, grace_us: u64) -> bool {
        r.done_us >= self.start_us && r.intended_us <= self.end_us.saturating_add(grace_us)
    }
}

/// A whole run's events.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// In arrival order.
    pub events: Vec<Event>,
}

impl History {
    /// Every request, in arrival order.
    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.events.iter().filter_map(|e| match e {
            Event::Request(r) => Some(r),
            _ => None,
        })
    }

    /// A real target's names for its nodes (its target file's keys), as
    /// the run recorded them before anything was sent: what the run's
    /// scenario names nodes by. None for the embedded cluster, whose
    /// names the scenario gives, and in a history without them.
    pub fn target_node_names(&self) -> Option<Vec<String>> {
        if self
            .header()
            .is_some_and(|(_, _, target, _)| target == "embedded")
        {
            return None;
        }
        self.events.iter().find_map(|e| match e {
            Event::NodeIdentities { nodes, .. } => {
                Some(nodes.iter().map(|n| n.node.clone()).collect())
            }
            _ => None,
        })
    }

    /// When a phase began.
    pub fn phase_start(&self, phase: Phase) -> Option<u64> {
        self.events.iter().find_map(|e| match e {
            Event::Phase { at_us, phase: p } if *p == phase => Some(*at_us),
            _ => None,
        })
    }

    /// Start of the judged part of the run: the end of warm-up.
    pub fn measured_from(&self) -> u64 {
        self.phase_start(Phase::Workload).unwrap_or(0)
    }

    /// The last time seen in the history.
    pub fn end_us(&self) -> u64 {
        self.events.iter().map(Event::stamp_us).max().unwrap_or(0)
    }

    /// From the fleet's start until every connection of every Tentacle to
    /// every endpoint it polls was up at once, in µs; None without a
    /// fleet or if that never happened.
    pub fn fleet_fan_out_us(&self) -> Option<u64> {
        let fleet = self.events.iter().find_map(|e| match e {
            Event::Fleet(f) => Some(f),
            _ => None,
        })?;
        let all = fleet.tentacles.len() * fleet.endpoints.len() * fleet.connections as usize;
        let mut up = 0usize;
        for e in &self.events {
            let Event::Polling(p) = e else { continue };
            match p.change {
                PollingChange::Connected => up += 1,
                PollingChange::Dropped => up = up.saturating_sub(1),
                PollingChange::Failed => {}
            }
            if all > 0 && up >= all {
                return Some(p.at_us.saturating_sub(fleet.at_us));
            }
        }
        None
    }

    /// Requests that the checks judge: those intended after warm-up.
    pub fn measured_requests(&self) -> impl Iterator<Item = &Request> {
        let from = self.measured_from();
        self.requests().filter(move |r| r.intended_us >= from)
    }

    /// The interruption that stopped the run early, if one did: the first
    /// `interrupted` event.
    pub fn interruption(&self) -> Option<Interruption> {
        self.events.iter().find_map(|e| match e {
            Event::Interrupted { at_us, why, phase } => Some(Interruption {
                at_us: *at_us,
                why: why.clone(),
                phase: *phase,
            }),
            _ => None,
        })
    }

    /// Upload attempts that started and whose end the history does not
    /// hold: in flight when the run ended, or when the harness died.
    pub fn uploads_in_flight(&self) -> Vec<&UploadStart> {
        let ended: HashSet<(UploadPurpose, u64, u32)> = self
            .uploads()
            .map(|a| (a.purpose, a.seq, a.attempt))
            .collect();
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::UploadStarted(u) if !ended.contains(&(u.purpose, u.seq, u.attempt)) => {
                    Some(u)
                }
                _ => None,
            })
            .collect()
    }

    /// Every fault's window, in injection order.
    pub fn fault_windows(&self) -> Vec<FaultWindow> {
        let end = self.end_us();
        let mut windows: Vec<FaultWindow> = Vec::new();
        for e in &self.events {
            let Event::Fault(f) = e else { continue };
            match f.action {
                FaultAction::Step => {
                    // A step that failed, or the record of the steps not
                    // taken, means the fault went no further.
                    let why = match (f.step.as_deref(), &f.error) {
                        (Some(STOPPED_STEP), e) => Some(e.clone().unwrap_or_default()),
                        (step, Some(e)) => {
                            Some(format!("its {} failed: {e}", step.unwrap_or("step")))
                        }
                        (_, None) => None,
                    };
                    if let Some(why) = why
                        && let Some(w) = windows
                            .iter_mut()
                            .rev()
                            .find(|w| w.name == f.name && !w.healed)
                    {
                        w.stopped.get_or_insert(why);
                    }
                }
                FaultAction::Inject => windows.push(FaultWindow {
                    name: f.name.clone(),
                    kind: f.kind,
                    nodes: f.nodes.clone(),
                    start_us: f.at_us,
                    started_us: f.done_us.unwrap_or(f.at_us),
                    end_us: end,
                    healed_done_us: None,
                    healed: false,
                    inject_error: f.error.clone(),
                    stopped: None,
                    heal_error: None,
                }),
                FaultAction::Heal => {
                    if let Some(w) = windows
                        .iter_mut()
                        .rev()
                        .find(|w| w.name == f.name && !w.healed)
                    {
                        w.end_us = f.at_us;
                        w.healed_done_us = f.done_us;
                        w.healed = true;
                        w.heal_error = f.error.clone();
                    } else if let Some(w) = windows
                        .iter_mut()
                        .rev()
                        .find(|w| w.name == f.name && w.heal_error.is_some())
                    {
                        // The heal phase's retry of a failed heal: the
                        // window keeps its end, the outcome is the retry's.
                        w.heal_error = f.error.clone();
                    }
                }
            }
        }
        windows
    }

    /// Every submitted task with what was seen of it, in submission order.
    /// Submissions that got no ID have no task to follow and are left out.
    pub fn task_records(&self) -> Vec<TaskRecord<'_>> {
        let mut records: Vec<TaskRecord<'_>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for e in &self.events {
            match e {
                Event::TaskSubmitted(t) => {
                    if let Some(id) = &t.id {
                        index.insert(id, records.len());
                        records.push(TaskRecord {
                            submit: t,
                            seen: Vec::new(),
                            logs: Vec::new(),
                        });
                    }
                }
                Event::Task(t) => {
                    if let Some(&i) = index.get(t.id.as_str()) {
                        records[i].seen.push(t);
                    }
                }
                Event::TaskLog(t) => {
                    if let Some(&i) = index.get(t.id.as_str()) {
                        records[i].logs.push(t);
                    }
                }
                _ => {}
            }
        }
        records
    }

    /// Every upload attempt, in arrival order.
    pub fn uploads(&self) -> impl Iterator<Item = &UploadAttempt> {
        self.events.iter().filter_map(|e| match e {
            Event::Upload(u) => Some(u),
            _ => None,
        })
    }

    /// Every package read, in arrival order.
    pub fn package_reads(&self) -> impl Iterator<Item = &PackageRead> {
        self.events.iter().filter_map(|e| match e {
            Event::PackageRead(p) => Some(p),
            _ => None,
        })
    }

    /// Every submission, failed ones included.
    pub fn task_submissions(&self) -> impl Iterator<Item = &TaskSubmit> {
        self.events.iter().filter_map(|e| match e {
            Event::TaskSubmitted(t) => Some(t),
            _ => None,
        })
    }

    /// Task caps by node name, from the `cluster_nodes` event.
    pub fn task_caps(&self) -> Option<Vec<(String, u32)>> {
        self.events.iter().find_map(|e| match e {
            Event::ClusterNodes { nodes, .. } => {
                Some(nodes.iter().map(|n| (n.name.clone(), n.task_cap)).collect())
            }
            _ => None,
        })
    }

    /// A node's direct ping statuses over time: (at, status).
    pub fn node_statuses<'a>(
        &'a self,
        node: &'a str,
    ) -> impl Iterator<Item = (u64, Option<u16>)> + 'a {
        self.events.iter().filter_map(move |e| match e {
            Event::NodeStatus {
                at_us,
                node: n,
                status,
            } if n == node => Some((*at_us, *status)),
            _ => None,
        })
    }

    /// What a node's own ping bodies said of its heartbeat over time: (at,
    /// LastSeen, IsOffline), each a change.
    pub fn node_seen<'a>(
        &'a self,
        node: &'a str,
    ) -> impl Iterator<Item = (u64, &'a str, bool)> + 'a {
        self.events.iter().filter_map(move |e| match e {
            Event::NodeSeen {
                at_us,
                node: n,
                last_seen,
                offline,
            } if n == node => Some((*at_us, last_seen.as_str(), *offline)),
            _ => None,
        })
    }

    /// When a node's process started or answered after a start, with its
    /// process ID where the harness knows it: (at, pid).
    pub fn node_ups<'a>(&'a self, node: &'a str) -> impl Iterator<Item = (u64, Option<u32>)> + 'a {
        self.events.iter().filter_map(move |e| match e {
            Event::NodeUp {
                at_us,
                node: n,
                pid,
                ..
            } if n == node => Some((*at_us, *pid)),
            _ => None,
        })
    }

    /// Which cluster node each of the run's nodes is, if the run learnt it.
    pub fn identities(&self) -> &[NodeIdentity] {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::NodeIdentities { nodes, .. } => Some(nodes.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    /// A node as reports name it: see [`NodeMap::label`].
    pub fn label(&self, node: &str) -> String {
        NodeMap::new(self.identities().to_vec()).label(node)
    }

    /// Names of the cluster's nodes (not the LB), in first-boot order.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in &self.events {
            if let Event::NodeUp { node, .. } = e
                && node != LB_NAME
                && !names.contains(node)
            {
                names.push(node.clone());
            }
        }
        names
    }
}

impl Event {
    /// When the event was recorded, on the run's clock: for what has a
    /// start and an end, its end. `run_started` and a merged history's
    /// `shards` are at 0.
    pub fn stamp_us(&self) -> u64 {
        match self {
            Event::RunStarted { .. } | Event::Shards(_) => 0,
            Event::ClockOffset(c) => c.at_us,
            Event::Phase { at_us, .. }
            | Event::NodeUp { at_us, .. }
            | Event::LbHealth { at_us, .. }
            | Event::ClusterNodes { at_us, .. }
            | Event::NodeIdentities { at_us, .. }
            | Event::NodeStatus { at_us, .. }
            | Event::NodeSeen { at_us, .. }
            | Event::Interrupted { at_us, .. }
            | Event::RunEnded { at_us, .. } => *at_us,
            Event::UploadStarted(u) => u.sent_us,
            Event::Request(r) => r.done_us,
            Event::CapacityStep(s) => s.to_us,
            Event::CapacityLevel(l) => l.at_us,
            Event::Generator(g) => g.at_us,
            Event::Fault(f) => f.done_us.unwrap_or(f.at_us),
            Event::TaskSubmitted(t) => t.done_us,
            Event::Task(t) => t.at_us,
            Event::TaskLog(t) => t.at_us,
            Event::Upload(u) => u.done_us,
            Event::PackageRead(p) => p.at_us,
            Event::PackageDeleted { at_us, .. } | Event::PackageLook { at_us, .. } => *at_us,
            Event::Removed { at_us, .. } => *at_us,
            Event::HealFailed { at_us, .. } => *at_us,
            Event::Fleet(f) => f.at_us,
            Event::Polling(p) => p.at_us,
            Event::PollingProbe(p) => p.at_us,
            Event::HealthTask(t) => t.done_us,
            Event::Health(h) => h.at_us,
            Event::FleetRemoved { at_us, .. }
            | Event::PeakMemory { at_us, .. }
            | Event::CpuLimit { at_us, .. }
            | Event::LoadEnded { at_us, .. } => *at_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::event::*;

    #[test]
    fn the_cluster_s_names_and_ids_become_the_run_s_names() {
        let map = NodeMap::new(vec![
            NodeIdentity {
                node: "n1".into(),
                id: "OctopusServerNodes-a1".into(),
                name: "OCTOPUS01".into(),
            },
            NodeIdentity {
                node: "web-b".into(),
                id: "OctopusServerNodes-b2".into(),
                name: "OCTOPUS02".into(),
            },
        ]);
        // A served request names its node by the Name in the ping body.
        let mut served = Event::Request(Request {
            seq: 0,
            op: Op::Ping,
            intended_us: 0,
            sent_us: 0,
            done_us: 1,
            outcome: Outcome::Ok,
            status: Some(200),
            error: None,
            bytes: 10,
            node: Some("OCTOPUS02".into()),
            held: false,
            load: false,
        });
        map.translate(&mut served);
        assert!(matches!(&served, Event::Request(r) if r.node.as_deref() == Some("web-b")));
        // A task's ServerNode may hold the Id, or the Name in another case.
        for (said, want) in [
            ("OctopusServerNodes-a1", "n1"),
            ("octopus01", "n1"),
            ("ELSEWHERE", "ELSEWHERE"),
        ] {
            let mut seen = Event::Task(TaskSeen {
                at_us: 0,
                id: "ServerTasks-1".into(),
                state: TaskState::Executing,
                node: Some(said.into()),
                queued_us: None,
                started_us: None,
                completed_us: None,
                error: None,
            });
            map.translate(&mut seen);
            let Event::Task(t) = &seen else {
                unreachable!()
            };
            assert_eq!(t.node.as_deref(), Some(want), "{said}");
        }
        let mut nodes = Event::ClusterNodes {
            at_us: 0,
            nodes: vec![ClusterNode {
                name: "OCTOPUS01".into(),
                task_cap: 5,
                drained: false,
            }],
        };
        map.translate(&mut nodes);
        assert!(matches!(&nodes, Event::ClusterNodes { nodes, .. } if nodes[0].name == "n1"));
        // A health task's node, and each machine's outcome in it.
        let mut task = Event::HealthTask(HealthTaskSeen {
            queued_us: 0,
            done_us: 1,
            round: 0,
            node: "n1".into(),
            ran_on: Some("OCTOPUS02".into()),
            task: None,
            state: None,
            error: None,
        });
        map.translate(&mut task);
        assert!(
            matches!(&task, Event::HealthTask(t) if t.ran_on.as_deref() == Some("web-b") && t.node == "n1")
        );
        let mut health = Event::Health(HealthSeen {
            at_us: 0,
            round: 0,
            node: "OctopusServerNodes-b2".into(),
            machine: "Machines-1".into(),
            ok: true,
            error: None,
            rtt_us: Vec::new(),
        });
        map.translate(&mut health);
        assert!(matches!(&health, Event::Health(h) if h.node == "web-b"));
        // Reports put the cluster's Name beside the run's.
        let h = History {
            events: vec![Event::NodeIdentities {
                at_us: 0,
                nodes: vec![NodeIdentity {
                    node: "n1".into(),
                    id: "OctopusServerNodes-a1".into(),
                    name: "OCTOPUS01".into(),
                }],
            }],
        };
        assert_eq!(h.label("n1"), "n1 (OCTOPUS01)");
        assert_eq!(h.label("n2"), "n2");
    }
}
