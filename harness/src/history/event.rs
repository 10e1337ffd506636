//! The event schema: [`Event`], every struct and enum an event carries,
//! and the names (`lb`, the load phase's `via`, a stopped fault's step)
//! the events use.

use serde::{Deserialize, Serialize};

use crate::vocab::{FaultKind, Shard, TaskState};

mod capacity;
mod fleet;
mod requests;
mod shards;
mod tasks;
mod uploads;

pub use capacity::*;
pub use fleet::*;
pub use requests::*;
pub use shards::*;
pub use tasks::*;
pub use uploads::*;

/// The name under which the load balancer appears in `node_up` events,
/// and the `Server` header by which the built-in LB's own answers are
/// known: the reference cluster's.
pub use reference_cluster::{LB_NAME, LB_SERVER};

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
        /// Which shard of a split run this process is (docs/shards.md);
        /// none when the run is not split, and in a merged history.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard: Option<Shard>,
    },
    /// A merged history's shards.
    Shards(ShardsMerged),
    /// A shard's clock against the cluster's.
    ClockOffset(ClockOffset),
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
    /// A step of a capacity search ended.
    CapacityStep(CapacityStep),
    /// A capacity search goes on to a node count, or cannot.
    CapacityLevel(CapacityLevel),
    /// The load generator's own state.
    Generator(GeneratorSample),
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
    /// What a node's own ping body said of its heartbeat, recorded when it
    /// changed: the evidence that heartbeats stop and resume.
    NodeSeen {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name.
        node: String,
        /// Its `LastSeen`, as the cluster wrote it.
        last_seen: String,
        /// Its `IsOffline`.
        offline: bool,
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
    /// judged by goose at the end of the phase (by one process that ran
    /// the whole phase; a shard's goose judges none).
    LoadEnded {
        /// Microseconds since the start.
        at_us: u64,
        /// The users this process ran: all of them, or a shard's share.
        #[serde(default)]
        users: u32,
        /// When the plan's hold began and ended, as planned, in
        /// microseconds since the start: an `rps` rule counts these.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold_us: Option<(u64, u64)>,
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
    pub kind: FaultKind,
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
