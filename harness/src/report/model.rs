//! What a finished run's report holds, as `report.json` does (its schema
//! is `harness/schemas/report.schema.json`): the [`Report`] and the
//! records it is made of (nodes, faults, the LB's health, memory, the CPU
//! limit, uploads in flight). Only their shapes are here; `build` fills
//! them from the history, and every page and summary reads them.

use serde::{Deserialize, Serialize};

use super::polling::PollingReport;
use super::timeline::Timeline;
use crate::check::{CheckResult, Verdict};
use crate::metrics::{
    CapacityReport, CleanupReport, DrainReport, GeneratorFigures, Metrics, TaskReport, UploadReport,
};

/// Everything a finished run says, as `report.json` holds it. The top-level
/// fields `scenario`, `seed`, `target`, `verdict`, `checks`, `nodes` and
/// `metrics` are a stable contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed of every random choice. A drawn seed is below 2^53; one given
    /// with `--seed` or in the scenario may be any `u64`, which a reader
    /// that holds JSON numbers as doubles (`jq`) rounds.
    pub seed: u64,
    /// The seed in decimal, exact whatever reads it: replay with
    /// `--seed "$(jq -r .seed_text report.json)"`.
    #[serde(default)]
    pub seed_text: String,
    /// `embedded`, or the target file.
    pub target: String,
    /// Every check merged: fail over unknown over pass.
    pub verdict: Verdict,
    /// One entry per check.
    pub checks: Vec<CheckResult>,
    /// The cluster's nodes and their share of requests.
    pub nodes: Vec<NodeReport>,
    /// Throughput and latency of the judged part of the run.
    pub metrics: Metrics,
    /// Throughput and latency second by second, the whole run.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// Faults, in injection order.
    pub faults: Vec<FaultReport>,
    /// The built-in LB's changes of mind about nodes.
    pub lb_health: Vec<LbHealthReport>,
    /// Tasks, when the run submitted any.
    pub tasks: Option<TaskReport>,
    /// Each drain and maintenance, step by step.
    pub drains: Vec<DrainReport>,
    /// Each package upload.
    pub uploads: Vec<UploadReport>,
    /// The polling-Tentacle fleet, when the run had one.
    #[serde(default)]
    pub polling: Option<PollingReport>,
    /// Peak resident memory of the harness and of each cluster process.
    #[serde(default)]
    pub memory: Vec<MemoryReport>,
    /// Each node's CPU limit and how it was enforced, when the scenario
    /// set `node_cpus`.
    #[serde(default)]
    pub cpu_limit: Option<CpuLimitReport>,
    /// What the run created in the cluster and what became of it.
    #[serde(default)]
    pub cleanup: Option<CleanupReport>,
    /// The shards a split run was merged from, and the clock skew the
    /// merge assumed (docs/shards.md); null for a run of one process.
    #[serde(default)]
    pub shards: Option<crate::history::ShardsMerged>,
    /// Wall clock at the start, RFC 3339.
    pub started_at: String,
    /// From the start until the cluster (the last `node_up` of boot, the
    /// LB) answered, in seconds.
    pub boot_s: f64,
    /// Why the run ended early, if it did.
    pub interrupted: Option<String>,
    /// The phase the interruption came in (`boot`, `warmup`, `workload`,
    /// `heal`, `settle`, `check`); null when the run was not interrupted
    /// or its history does not say.
    #[serde(default)]
    pub interrupted_phase: Option<String>,
    /// Upload attempts in flight when the run stopped: cut by the harness
    /// as it stopped, or with no end in the history (docs/robustness.md,
    /// "Interrupted runs").
    #[serde(default)]
    pub uploads_in_flight: Vec<UploadInFlight>,
    /// The load generator's own figures over the judged part of the run,
    /// and whether it was the limit.
    #[serde(default)]
    pub generator: Option<GeneratorFigures>,
    /// Each capacity search's steps and result, when the scenario asked
    /// for a search: the REST search, then the task search; empty
    /// otherwise.
    #[serde(default)]
    pub capacity: Vec<CapacityReport>,
    /// The harness version that produced the report.
    pub harness_version: String,
}

/// An upload attempt in flight when the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadInFlight {
    /// A package upload, or a ladder step.
    pub purpose: crate::history::UploadPurpose,
    /// The upload's number.
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name.
    pub file: String,
    /// The package file's bytes.
    pub size: u64,
    /// `lb`, or the node it went to.
    pub via: String,
    /// When it started, seconds since the start of the run.
    pub started_s: f64,
    /// True when the harness cut it as the run stopped (its end says so);
    /// false when its end is not in the history at all.
    pub end_recorded: bool,
}

/// One process's peak memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// `harness`, a node's name, or `lb`.
    pub process: String,
    /// Its peak resident set, MiB.
    pub peak_rss_mib: f64,
}

/// The nodes' CPU limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuLimitReport {
    /// `cgroup_v2`, `cgroup_v1` or `affinity`.
    pub method: String,
    /// CPUs each node could use.
    pub cores_per_node: f64,
    /// CPUs the scenario asked for.
    pub asked: f64,
}

/// A node in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// The node's name in the scenario or target file.
    pub name: String,
    /// Its Name in the cluster, where the run learnt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Its Id in the cluster, where the run learnt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Its last address.
    pub address: String,
    /// Successful pings it served.
    pub pings_served: u64,
    /// Its share of the successful pings, 0 to 1.
    pub share: f64,
    /// Times it was started (1 plus restarts).
    pub starts: u64,
}

impl NodeReport {
    /// The node as reports name it: its name in the scenario, and the
    /// cluster's Name beside it where the two differ (`n2 (OCTOPUS02)`).
    pub fn label(&self) -> String {
        match &self.cluster_name {
            Some(c) if *c != self.name => format!("{} ({c})", self.name),
            _ => self.name.clone(),
        }
    }
}

/// A fault in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Nodes.
    pub nodes: Vec<String>,
    /// Injected, seconds since the start.
    pub start_s: f64,
    /// Healed, seconds since the start; None if never.
    pub end_s: Option<f64>,
    /// What became of it, as recorded: a fault whose injection failed is
    /// never shown as done.
    #[serde(default)]
    pub outcome: FaultOutcome,
    /// Why it failed or stopped, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// Why its undo failed, if the last attempt at it did.
    #[serde(default)]
    pub heal_error: Option<String>,
}

/// What became of a fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOutcome {
    /// Injected, and each step of it taken.
    #[default]
    Done,
    /// Its injection failed (a node command that failed or timed out, a
    /// drain the cluster refused).
    Failed,
    /// Injected, but it went no further: a step's precondition was not
    /// confirmed, or a step failed; what it had done was undone.
    Stopped,
}

impl FaultOutcome {
    /// The outcome as `report.json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultOutcome::Done => "done",
            FaultOutcome::Failed => "failed",
            FaultOutcome::Stopped => "stopped",
        }
    }
}

/// A change of the built-in LB's view of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbHealthReport {
    /// Seconds since the start.
    pub at_s: f64,
    /// Node name.
    pub node: String,
    /// In rotation or not.
    pub healthy: bool,
}
