//! The history: every event of a run, in the order the harness saw it, and
//! the `history.jsonl` file that holds it.
//!
//! The runner emits events on one stream; the recorder keeps them for the
//! checks and writes them, one JSON object per line, as they arrive. Checks
//! and reports read only this, so `harness report` can rebuild a run from
//! its folder. Times are microseconds since the run started (a monotonic
//! clock); `run_started` also gives the wall-clock start.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::vocab::TaskState;

/// The name under which the load balancer appears in `node_up` events.
pub const LB_NAME: &str = "lb";

/// The `Server` header the built-in LB puts on its own answers, by which
/// an upload's answer is known to be the LB's.
pub const LB_SERVER: &str = "harness-lb";

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The first event of every run.
    RunStarted {
        /// Scenario name.
        scenario: String,
        /// Seed of every random choice.
        seed: u64,
        /// The ID in the name of everything the run created in the
        /// cluster.
        #[serde(default)]
        run_id: String,
        /// `embedded`, or the target file's name.
        target: String,
        /// Wall clock at time 0, RFC 3339.
        started_at: String,
    },
    /// A runner phase begins.
    Phase {
        /// Microseconds since the start.
        at_us: u64,
        /// The phase.
        phase: Phase,
    },
    /// A node (or the LB) answers after a start or restart.
    NodeUp {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name, or `lb`.
        node: String,
        /// Its HTTP address.
        address: String,
        /// Its process ID, so tests can prove it is gone afterwards; none
        /// on a real target.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        /// From spawn until it answered.
        boot_ms: u64,
    },
    /// One API request.
    Request(Request),
    /// A fault was injected or undone.
    Fault(FaultEvent),
    /// The built-in LB changed its mind about a node: informational, never
    /// judged, because a real LB does not say.
    LbHealth {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name.
        node: String,
        /// In rotation or not.
        healthy: bool,
    },
    /// Which cluster node each of the run's nodes is, learnt from the
    /// cluster before anything is sent: every node's ping body matched
    /// against the node list. From this event on, the recorder names every
    /// node the cluster names (a ping body's `Name`, a task's
    /// `ServerNode`) by the run's name for it.
    NodeIdentities {
        /// Microseconds since the start.
        at_us: u64,
        /// One entry per node of the scenario or target file.
        nodes: Vec<NodeIdentity>,
    },
    /// The cluster's nodes as its API lists them, read once after boot.
    ClusterNodes {
        /// Microseconds since the start.
        at_us: u64,
        /// Each node with its task cap.
        nodes: Vec<ClusterNode>,
    },
    /// A node's own ping, probed directly (not through the LB), answered
    /// differently from the probe before.
    NodeStatus {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name.
        node: String,
        /// The status, or None when nothing answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// The harness submitted a task.
    TaskSubmitted(TaskSubmit),
    /// The harness saw a task's state or node change.
    Task(TaskSeen),
    /// A task's log as read through one node after the run.
    TaskLog(TaskLogRead),
    /// One attempt to upload a package.
    Upload(UploadAttempt),
    /// A package read back: its metadata or its bytes.
    PackageRead(PackageRead),
    /// A package the run created, deleted at its end.
    PackageDeleted {
        /// Microseconds since the start.
        at_us: u64,
        /// The package's resource ID.
        id: String,
        /// Whether it was there to delete.
        deleted: bool,
        /// Why it could not be deleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// After its deletes, the run looked for a package it may have made:
    /// the last such look is what the report says of it.
    PackageLook {
        /// Microseconds since the start.
        at_us: u64,
        /// The package's resource ID.
        id: String,
        /// Whether the server has it; None when the look failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        present: Option<bool>,
        /// Why the look failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The clean-up watched this package for a late landing for as
        /// long as it waits after the attempt that might land it: a look
        /// that finds nothing then is believed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        landing_watched: bool,
    },
    /// A fleet of polling Tentacles was registered and started.
    Fleet(FleetStarted),
    /// A polling connection came up, failed to, or dropped.
    Polling(PollingSeen),
    /// What a node's polling endpoint served to a probe.
    PollingProbe(PollingProbe),
    /// A health task of a round, pinned to one node, ended (or did not).
    HealthTask(HealthTaskSeen),
    /// One machine's outcome in a health task.
    Health(HealthSeen),
    /// The fleet's machines were removed from the cluster.
    FleetRemoved {
        /// Microseconds since the start.
        at_us: u64,
        /// How many were removed.
        removed: u32,
        /// Why some could not be.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<String>,
    },
    /// The run removed a machine it registered, or, at its end, looked at
    /// a task it created that it had not seen finish, and canceled it if
    /// it was still going (tasks cannot be deleted).
    Removed {
        /// Microseconds since the start.
        at_us: u64,
        /// `machine` or `task`.
        kind: String,
        /// Its resource ID.
        id: String,
        /// Whether it was removed; for a task, whether the run canceled
        /// it.
        removed: bool,
        /// What went wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// A task's last state as read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<TaskState>,
    },
    /// The heal phase could not bring a node back.
    HealFailed {
        /// Microseconds since the start.
        at_us: u64,
        /// Why.
        error: String,
    },
    /// A load phase ended: goose's own count and its threshold rules, each
    /// judged by goose at the end of the phase.
    LoadEnded {
        /// Microseconds since the start.
        at_us: u64,
        /// Requests goose counted.
        requests: u64,
        /// Of which goose counted as failed.
        failed: u64,
        /// Each threshold rule and what goose found.
        thresholds: Vec<ThresholdOutcome>,
        /// Why goose could not run or finish, if it could not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// goose's report files, relative to the run folder.
        reports: Vec<String>,
    },
    /// Each node's CPU limit, set at boot of an embedded cluster whose
    /// scenario gives `node_cpus`.
    CpuLimit {
        /// Microseconds since the start.
        at_us: u64,
        /// `cgroup_v2`, `cgroup_v1` or `affinity`.
        method: String,
        /// CPUs each node may use: the quota, or whole cores of affinity.
        cores_per_node: f64,
        /// What the scenario asked for.
        asked: f64,
    },
    /// A process's peak resident memory, read at the end of the run.
    PeakMemory {
        /// Microseconds since the start.
        at_us: u64,
        /// `harness`, a node's name, or `lb`.
        process: String,
        /// Its peak resident set, KiB.
        peak_rss_kib: u64,
    },
    /// The run was told to stop early (Ctrl-C, SIGTERM, its time limit),
    /// recorded the moment the runner saw it, before it healed anything:
    /// checks tell a fault window or a bound the interruption cut short
    /// from one that ran its course (docs/robustness.md, "Interrupted runs").
    Interrupted {
        /// Microseconds since the start.
        at_us: u64,
        /// What stopped it: `Ctrl-C`, `SIGTERM`, or the time limit.
        why: String,
        /// The phase it was in.
        phase: Phase,
    },
    /// An upload attempt began: recorded before its first byte, so an
    /// attempt whose end never made it into the history (the harness was
    /// killed, or its attempt aborted) is still known to have been in
    /// flight.
    UploadStarted(UploadStart),
    /// The last event of a run that ended in an orderly way.
    RunEnded {
        /// Microseconds since the start.
        at_us: u64,
        /// Why it ended early, if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interrupted: Option<String>,
    },
}

/// A fleet as started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetStarted {
    /// Microseconds since the start.
    pub at_us: u64,
    /// How many Tentacles the scenario asked for.
    pub requested: u32,
    /// Each registered Tentacle: its name and machine ID.
    pub tentacles: Vec<FleetTentacle>,
    /// Why some could not be registered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registration_errors: Vec<String>,
    /// What each Tentacle polls: the node each endpoint reaches (or `lb`)
    /// and its address.
    pub endpoints: Vec<(String, String)>,
    /// Every node of the cluster, which a correct fleet reaches.
    pub nodes: Vec<String>,
    /// Connections per Tentacle per endpoint.
    pub connections: u32,
    /// The server thumbprint the cluster announced.
    pub server_thumbprint: String,
}

/// One Tentacle of a fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetTentacle {
    /// Its name.
    pub name: String,
    /// Its machine ID.
    pub machine: String,
}

/// What happened to a polling connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollingChange {
    /// Identified with the server: the connection polls.
    Connected,
    /// An attempt failed before that.
    Failed,
    /// A connection that polled ended.
    Dropped,
}

/// A change of one polling connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollingSeen {
    /// Microseconds since the start.
    pub at_us: u64,
    /// The Tentacle.
    pub tentacle: String,
    /// The node the endpoint reaches, or `lb`.
    pub node: String,
    /// Which of the Tentacle's connections to that endpoint.
    pub conn: u32,
    /// What happened.
    pub change: PollingChange,
    /// Why it failed or dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A probe of a polling endpoint: TLS without a client certificate, then
/// an HTTP request, as a browser pointed at port 10943.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollingProbe {
    /// Microseconds since the start.
    pub at_us: u64,
    /// The node the endpoint reaches, or `lb`.
    pub node: String,
    /// Its address.
    pub address: String,
    /// The served certificate's thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// Whether Halibut's friendly page came back.
    pub friendly_page: bool,
    /// Why the probe failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A round's health task on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthTaskSeen {
    /// When it was queued.
    pub queued_us: u64,
    /// When the harness saw it end, or gave up.
    pub done_us: u64,
    /// The round, from 0.
    pub round: u32,
    /// The node it was pinned to.
    pub node: String,
    /// The node that ran it, as the task says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_on: Option<String>,
    /// The task, if it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Its final state, if it reached one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// Its error, or why the harness could not follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One machine's outcome in a health task, from the task's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSeen {
    /// Microseconds since the start (when the log was read).
    pub at_us: u64,
    /// The round.
    pub round: u32,
    /// The node that ran the task (its `ServerNode`).
    pub node: String,
    /// The machine.
    pub machine: String,
    /// Whether every call succeeded.
    pub ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Round trip of each call, microseconds; a failed call's is the time
    /// until it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rtt_us: Vec<u64>,
}

/// Phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Start the cluster.
    Boot,
    /// Traffic that no check judges.
    Warmup,
    /// The workload with its scheduled faults.
    Workload,
    /// Undo every fault still in effect.
    Heal,
    /// Traffic after the heal.
    Settle,
    /// Judge the history.
    Check,
}

impl Phase {
    /// The word the history uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Boot => "boot",
            Phase::Warmup => "warmup",
            Phase::Workload => "workload",
            Phase::Heal => "heal",
            Phase::Settle => "settle",
            Phase::Check => "check",
        }
    }
}

/// The `via` of a load phase's task submissions: its tasks are followed
/// to their end, but their logs are not read.
pub const LOAD_VIA: &str = "load";

/// One goose threshold rule as goose judged it at the end of a load phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    /// The rule, as the scenario gives it.
    pub rule: String,
    /// What goose observed, as its reports show it.
    pub observed: String,
    /// Whether it held.
    pub passed: bool,
}

/// What kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `GET /api/octopusservernodes/ping`.
    Ping,
    /// `GET /api/octopusservernodes`.
    Nodes,
    /// `GET /api`.
    Root,
    /// `GET /api/Spaces-1/packages`.
    Packages,
    /// `POST /api/tasks`: a task created (its life is in the task events).
    Task,
    /// `GET /api/tasks/{id}`: a created task's state read.
    TaskRead,
    /// `POST /api/Spaces-1/packages/raw` of a small package.
    Upload,
}

impl Op {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Op::Ping => "/api/octopusservernodes/ping",
            Op::Nodes => "/api/octopusservernodes",
            Op::Root => "/api",
            Op::Packages => "/api/Spaces-1/packages",
            Op::Task | Op::TaskRead => "/api/tasks",
            Op::Upload => "/api/Spaces-1/packages/raw",
        }
    }

    /// The name in reports, as in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::Nodes => "nodes",
            Op::Root => "root",
            Op::Packages => "packages",
            Op::Task => "task",
            Op::TaskRead => "task_read",
            Op::Upload => "upload",
        }
    }
}

/// What a client knows about one request: it happened, it did not, or it
/// cannot tell (a timeout or a reset after the request was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx response.
    Ok,
    /// A response that says no, or a connection that was refused.
    Fail,
    /// No complete response.
    Indeterminate,
}

/// One API request, with the intended start so latency is free of
/// coordinated omission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Sequence number in the schedule.
    pub seq: u64,
    /// The request kind.
    pub op: Op,
    /// When the schedule wanted it to start.
    pub intended_us: u64,
    /// When it was sent.
    pub sent_us: u64,
    /// When the response was complete, or the request gave up.
    pub done_us: u64,
    /// The outcome.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Response body bytes.
    pub bytes: u64,
    /// The node that served it, from a ping body's `Name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Request {
    /// Latency from the intended start.
    pub fn latency_us(&self) -> u64 {
        self.done_us.saturating_sub(self.intended_us)
    }

    /// True unless the outcome is `Ok`.
    pub fn is_error(&self) -> bool {
        self.outcome != Outcome::Ok
    }
}

/// One node as the run names it and as the cluster does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// The run's name for it: the scenario's node key, or the target
    /// file's `nodes[].name` (n1, web-a).
    pub node: String,
    /// The cluster's `Id` for it (`OctopusServerNodes-…`).
    pub id: String,
    /// The cluster's `Name` for it, often a host name (`OCTOPUS01`).
    pub name: String,
}

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

/// A node as the cluster's API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Node name.
    pub name: String,
    /// Its task cap (MaxConcurrentTasks).
    pub task_cap: u32,
    /// Drained at the time.
    pub drained: bool,
}

/// One task submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSubmit {
    /// Sequence number in the workload.
    pub seq: u64,
    /// The marker the task's script echoes: one line per execution.
    pub marker: String,
    /// `lb`, or the node it was sent to.
    pub via: String,
    /// When it was sent.
    pub sent_us: u64,
    /// When the response came, or the request gave up.
    pub done_us: u64,
    /// The outcome of the POST.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The task's ID, from a 201.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A task as the harness saw it when its state or node changed. Server
/// times are converted to the run's clock through the wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSeen {
    /// When the harness read it.
    pub at_us: u64,
    /// `ServerTasks-<n>`.
    pub id: String,
    /// Its state.
    pub state: TaskState,
    /// ServerNode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// QueueTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_us: Option<u64>,
    /// StartTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_us: Option<u64>,
    /// CompletedTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_us: Option<u64>,
    /// ErrorMessage, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One read of a task's raw log through one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLogRead {
    /// When.
    pub at_us: u64,
    /// `ServerTasks-<n>`.
    pub id: String,
    /// The node read from directly.
    pub via: String,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes of log.
    pub bytes: u64,
    /// SHA-1 of the log, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// Lines with the task's marker: how many times its script ran.
    pub executions: u32,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One upload attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadAttempt {
    /// A package upload, or a step of the body-limit ladder.
    #[serde(default)]
    pub purpose: UploadPurpose,
    /// The upload's number in the workload (the step, for the ladder).
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name sent.
    pub file: String,
    /// The package's resource ID.
    pub id: String,
    /// `lb`, or the node it went to.
    pub via: String,
    /// The package file's bytes.
    pub size: u64,
    /// `overwriteMode` sent.
    pub overwrite_mode: crate::vocab::OverwriteMode,
    /// When the attempt started.
    pub sent_us: u64,
    /// When the last byte went out, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_byte_us: Option<u64>,
    /// When the attempt ended.
    pub done_us: u64,
    /// Body bytes handed to the connection.
    pub bytes_sent: u64,
    /// How it ended.
    pub class: crate::vocab::UploadClass,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SHA-1 of the bytes sent, when all were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// The `Hash` the server answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hash: Option<String>,
    /// MiB a second to the last byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mib_s: Option<f64>,
    /// The answer's `Server` header: an LB often names itself there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The answer's `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The shape of the answer's body: Octopus's JSON error, or an LB's
    /// page. With `server`, what tells an LB's answer from a node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_kind: Option<crate::vocab::BodyKind>,
}

/// The start of one upload attempt; its end is an [`UploadAttempt`] with
/// the same purpose, sequence number and attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadStart {
    /// A package upload, or a step of the body-limit ladder.
    #[serde(default)]
    pub purpose: UploadPurpose,
    /// The upload's number in the workload (the step, for the ladder).
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name sent.
    pub file: String,
    /// `lb`, or the node it went to.
    pub via: String,
    /// The package file's bytes.
    pub size: u64,
    /// When the attempt started.
    pub sent_us: u64,
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

/// Why an upload was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    /// The upload workload: it must arrive.
    #[default]
    Workload,
    /// A step of `body_limit_ladder`: it finds where the LB refuses.
    Ladder,
}

/// What a package read was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageReadKind {
    /// After a timeout or reset: did the package arrive anyway?
    AfterFailure,
    /// The package resource (size, Hash) after the upload.
    Metadata,
    /// The package's bytes, from one node directly.
    Download,
}

/// A package read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRead {
    /// When.
    pub at_us: u64,
    /// The upload's number.
    pub seq: u64,
    /// The package's resource ID.
    pub id: String,
    /// `lb`, or the node read from directly.
    pub via: String,
    /// What for.
    pub kind: PackageReadKind,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes, from the metadata or counted in the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The metadata's Hash, or the download's SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// The SHA-1 the package must have, when the harness knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

/// A fault injected or undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Microseconds since the start the action began.
    pub at_us: u64,
    /// When the action returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_us: Option<u64>,
    /// For a step of a longer fault (a maintenance), what the step was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The fault's name.
    pub name: String,
    /// `kill`, `pause`, `restart`, `drain` or `maintenance`.
    pub kind: String,
    /// The nodes it acts on.
    pub nodes: Vec<String>,
    /// Inject or heal.
    pub action: FaultAction,
    /// Why it did not work, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `step` of a fault's event when the fault went no further: the next
/// step's precondition was not confirmed (a drain the cluster did not
/// take, a task count that could not be read), so what the fault had done
/// is undone and the rest is not done. Its `error` says why.
pub const STOPPED_STEP: &str = "stopped";

/// The two halves of a fault, and the steps between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// The fault begins.
    Inject,
    /// A step of a longer fault, such as a maintenance's restart.
    Step,
    /// The undo.
    Heal,
}

/// A fault's time in effect, read back from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    /// The fault's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
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
        self.events
            .iter()
            .map(|e| match e {
                Event::RunStarted { .. } => 0,
                Event::Phase { at_us, .. }
                | Event::NodeUp { at_us, .. }
                | Event::LbHealth { at_us, .. }
                | Event::ClusterNodes { at_us, .. }
                | Event::NodeIdentities { at_us, .. }
                | Event::NodeStatus { at_us, .. }
                | Event::Interrupted { at_us, .. }
                | Event::RunEnded { at_us, .. } => *at_us,
                Event::UploadStarted(u) => u.sent_us,
                Event::Request(r) => r.done_us,
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
            })
            .max()
            .unwrap_or(0)
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
        let ended: std::collections::HashSet<(UploadPurpose, u64, u32)> = self
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
                    kind: f.kind.clone(),
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
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
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

    /// The run's header, if present.
    pub fn header(&self) -> Option<(&str, u64, &str, &str)> {
        self.events.iter().find_map(|e| match e {
            Event::RunStarted {
                scenario,
                seed,
                target,
                started_at,
                ..
            } => Some((
                scenario.as_str(),
                *seed,
                target.as_str(),
                started_at.as_str(),
            )),
            _ => None,
        })
    }

    /// Reads a `history.jsonl` file.
    pub fn read(path: &Path) -> Result<History, HistoryError> {
        let file = File::open(path).map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
        let mut events = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(&line).map_err(|e| HistoryError::Parse {
                file: path.display().to_string(),
                line: i + 1,
                error: e,
            })?;
            events.push(event);
        }
        Ok(History { events })
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("failed to read history {0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A line is not an event.
    #[error("failed to parse history {file}:{line}: {error}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The JSON error.
        #[source]
        error: serde_json::Error,
    },
}

/// Appends events to `history.jsonl` as they arrive.
pub struct HistoryWriter {
    out: BufWriter<File>,
}

impl HistoryWriter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
        })
    }

    /// Writes one event. Events other than requests are flushed at once, so
    /// someone watching the file (a person, or a test waiting for the nodes)
    /// sees them while the run goes on.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        if !matches!(event, Event::Request(_)) {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The run's clock: microseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
    /// The wall clock at the start, microseconds since the Unix epoch, to
    /// place server timestamps on the run's clock.
    wall_start_us: i64,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Self {
            start: std::time::Instant::now(),
            wall_start_us: wall,
        }
    }

    /// A server timestamp (RFC 3339, with `Z` or an offset) on the run's
    /// clock; None if it does not parse. Times before the start are 0.
    pub fn from_server_time(&self, text: &str) -> Option<u64> {
        let us = parse_server_time(text)?;
        Some(us.saturating_sub(self.wall_start_us).max(0) as u64)
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The instant `us` microseconds after the start, or a year on if that
    /// is not representable.
    pub fn instant(&self, us: u64) -> tokio::time::Instant {
        let at = self
            .start
            .checked_add(std::time::Duration::from_micros(us))
            .unwrap_or_else(|| self.start + std::time::Duration::from_secs(365 * 86_400));
        tokio::time::Instant::from_std(at)
    }
}

/// The sending end of the run's one event stream.
#[derive(Debug, Clone)]
pub struct Events {
    tx: tokio::sync::mpsc::UnboundedSender<Event>,
    clock: Clock,
}

impl Events {
    /// A stream and its receiving end.
    pub fn channel(clock: Clock) -> (Self, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx, clock }, rx)
    }

    /// The run's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    /// Sends an event; after the recorder has stopped, events are dropped.
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

/// Microseconds since the Unix epoch of an RFC 3339 timestamp with `Z` or
/// a `+hh:mm` / `-hh:mm` offset, as Octopus writes them.
pub fn parse_server_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (local, offset_s) = if let Some(t) = text.strip_suffix('Z') {
        (t, 0i64)
    } else {
        // An offset is the last six characters: +hh:mm.
        let split = text.len().checked_sub(6)?;
        let (t, off) = text.split_at_checked(split)?;
        let sign = match off.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
        (t, sign * secs)
    };
    let at = humantime::parse_rfc3339_weak(local).ok()?;
    let us = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros() as i64;
    Some(us - offset_s * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn server_times_with_z_and_offsets() {
        let z = parse_server_time("2026-11-26T10:00:00.250Z").unwrap();
        let plus = parse_server_time("2026-11-26T20:00:00.250+10:00").unwrap();
        let minus = parse_server_time("2026-11-26T05:30:00.250-04:30").unwrap();
        assert_eq!(z, plus);
        assert_eq!(z, minus);
        assert_eq!(z % 1_000_000, 250_000);
        assert_eq!(parse_server_time("yesterday"), None);
        assert_eq!(parse_server_time("2026-11-26T10:00:00.250*10:00"), None);
    }
}
