//! The typed scenario: what a YAML file may say, and nothing more.
//!
//! Every struct denies unknown fields and every kind (workload, fault,
//! check) is an externally tagged enum (`- kill: { node: n2, at: 20s }`),
//! the one serde form that keeps line, column and field path in errors.
//! Fields that the second validation pass must point at are `Spanned`.
//! docs/scenarios.md documents every field; keep the two in step.

mod capacity;
mod checks;
mod cluster;
pub(crate) mod defaults;
mod faults;
mod workloads;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::units::Duration;

pub use capacity::*;
pub use checks::*;
pub use cluster::*;
pub use faults::*;
pub use workloads::*;

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in run folders and reports.
    pub name: Spanned<String>,
    /// What the scenario proves, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Labels that `run --tags` and `--skip-tags` select by, such as
    /// `nightly`, `pre-upgrade` or `disruptive`.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// Seed for every random choice; `--seed` overrides it, and a random
    /// seed is drawn (and printed) when neither is given.
    #[serde(default)]
    pub seed: Option<u64>,
    /// How long the workload and the fault schedule run.
    pub duration: Spanned<Duration>,
    /// Traffic before the measured part of the run starts; its requests are
    /// recorded but no check judges them.
    #[serde(default = "defaults::warmup")]
    pub warmup: Spanned<Duration>,
    /// Traffic after the heal phase, so checks can see the cluster recover.
    #[serde(default = "defaults::settle")]
    pub settle: Spanned<Duration>,
    /// The cluster wanted on the embedded target.
    #[serde(default)]
    pub cluster: Cluster,
    /// Background workloads, running from warm-up to the end of settle.
    #[serde(default)]
    pub workload: Vec<Spanned<Workload>>,
    /// Faults, at times relative to the end of warm-up.
    #[serde(default)]
    pub faults: Vec<Spanned<Fault>>,
    /// Checks judged on the recorded history.
    #[serde(default)]
    pub checks: Vec<Spanned<Check>>,
    /// A parameter matrix: the scenario runs once per combination on the
    /// embedded cluster, and the sweep's table compares them.
    #[serde(default)]
    pub sweep: Option<Spanned<Sweep>>,
    /// A capacity search in place of the workload and the faults: each
    /// step lasts `duration`.
    #[serde(default)]
    pub capacity: Option<Spanned<Capacity>>,
    /// When the load generator counts itself the bottleneck, in every
    /// run; a run past it says so in its report.
    #[serde(default)]
    pub generator: GeneratorBound,
}

/// The values a sweep tries; every combination of the axes given runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Node counts.
    #[serde(default)]
    pub nodes: Vec<u32>,
    /// CPUs per node.
    #[serde(default)]
    pub node_cpus: Vec<f64>,
    /// Cluster shapes, each a node count and CPUs per node together, in
    /// place of `nodes` and `node_cpus`: "4 small or 2 large".
    #[serde(default)]
    pub shapes: Vec<Shape>,
    /// Each node's task cap.
    #[serde(default)]
    pub task_cap: Vec<u32>,
    /// The load phase's users.
    #[serde(default)]
    pub users: Vec<u32>,
    /// LB presets.
    #[serde(default)]
    pub lb_preset: Vec<LbPreset>,
    /// Run each combination a second time with its last node killed from
    /// the start of the workload, to measure the capacity one node's death
    /// costs.
    #[serde(default = "defaults::yes")]
    pub one_node_down: bool,
}

/// A cluster shape of a sweep.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Nodes.
    pub nodes: u32,
    /// CPUs per node; unlimited when absent.
    #[serde(default)]
    pub node_cpus: Option<f64>,
}

/// A value with no place in a file, for scenarios built in code.
pub fn spanned<T>(value: T) -> Spanned<T> {
    defaults::spanned(value)
}

/// Every kind a scenario may use, with a one-line description, for
/// `harness list`: (section, kind, description).
pub const KINDS: &[(&str, &str, &str)] = &[
    (
        "workload",
        "api",
        "open-model REST load through the LB at a fixed rate: ping, node list, API root",
    ),
    (
        "workload",
        "tasks",
        "AdHocScript tasks at a rate or in a burst, through the LB or to each node, each followed to its end",
    ),
    (
        "workload",
        "upload",
        "packages streamed to the built-in feed through the LB or one node, verified on every node, then deleted",
    ),
    (
        "workload",
        "body_limit_ladder",
        "packages of 1 MiB, 2 MiB, 4 MiB, ... up to a ceiling (2.1 GiB) until the LB refuses one; reports where and how",
    ),
    (
        "workload",
        "slow_upload",
        "one package over a throttled link, no retry: whether, when and how the LB cuts it",
    ),
    (
        "workload",
        "fleet",
        "simulated polling Tentacles (Halibut over mutual TLS), registered through the API, polling all nodes, one node or the LB; health-check rounds pinned to each node",
    ),
    (
        "workload",
        "load",
        "closed-model users on goose: ramp up, hold, ramp down over a mix of ping, node list, API root, package list, task (create and wait) and small upload; goose thresholds become checks",
    ),
    (
        "fault",
        "kill",
        "SIGKILL a node; undone by starting a new process on the same address",
    ),
    (
        "fault",
        "pause",
        "SIGSTOP a node, which then accepts TCP but never answers; undone by SIGCONT",
    ),
    (
        "fault",
        "restart",
        "SIGKILL a node and start a new process at once",
    ),
    (
        "fault",
        "drain",
        "drain a node through the REST API (IsInMaintenanceMode); undone by the undrain",
    ),
    (
        "fault",
        "maintenance",
        "rolling maintenance of a node: drain, wait for its tasks, restart, undrain",
    ),
    (
        "fault",
        "storage_outage",
        "a node's view of the shared file store gone: its reads and writes there fail; undone when it is back",
    ),
    (
        "fault",
        "storage_unshared",
        "a node writes to a folder of its own instead of the shared store (the unmapped-drive mistake); undone by pointing it back",
    ),
    (
        "fault",
        "database_outage",
        "the shared database unreachable for every node for a while; undone when it comes back",
    ),
    (
        "fault",
        "database_failover",
        "the shared database fails over: away for a while, then back by itself (a real target's failover command)",
    ),
    (
        "fault",
        "partition",
        "the network between a node and the LB or the polling Tentacles cut while it runs; undone by joining them again (a target's partition commands)",
    ),
    (
        "check",
        "availability",
        "error rate through the LB under a bound, and no errors outside fault windows plus a grace period",
    ),
    (
        "check",
        "routes_around_failed_node",
        "after a kill or pause, the LB stops sending the node requests within a bound",
    ),
    (
        "check",
        "recovers",
        "after a fault is undone, the node serves requests again within a bound",
    ),
    (
        "check",
        "latency",
        "a latency percentile (from the intended start) under a bound, optionally outside fault windows",
    ),
    (
        "check",
        "drain_contract",
        "ping 418 then 200, the LB routes away without a failed request, no task starts on the drained node and its tasks finish",
    ),
    (
        "check",
        "exactly_once",
        "no task runs on two nodes or twice, and every task ends within a bound",
    ),
    (
        "check",
        "task_cap",
        "no node runs more tasks than its cap; reports distribution and pick-up latency",
    ),
    (
        "check",
        "orphaned_tasks",
        "after a kill, the node's running tasks end within a bound and are not run again",
    ),
    (
        "check",
        "shared_storage",
        "each task log reads byte for byte the same through every node",
    ),
    (
        "check",
        "upload_intact",
        "every upload arrived (or was found intact after a failure), and its Hash and bytes match on every node",
    ),
    (
        "check",
        "upload_answered",
        "every upload attempt was answered with success (no error status, no cut), as octo push sees it; names the status, the time after the last byte, the LB or node that answered and the LB setting to blame; on by default with uploads",
    ),
    (
        "check",
        "upload_throughput",
        "every upload went at least as fast as a floor, in MiB/s to the last byte, whatever the answer (a failed answer is said)",
    ),
    (
        "check",
        "ladder_reaches",
        "the body-limit ladder got a package of at least a size through; else names the limit and its likely source",
    ),
    (
        "check",
        "polling_fan_out",
        "every Tentacle of the fleet is connected to every node; lists the missing pairs",
    ),
    (
        "check",
        "polling_certificate",
        "every node's polling endpoint serves the cluster's certificate (TCP pass-through, no TLS offload)",
    ),
    (
        "check",
        "every_node_reaches_every_tentacle",
        "health checks pinned to each node reach every Tentacle; names the node and Tentacle pairs that failed",
    ),
    (
        "check",
        "reconnect_storm",
        "after a node restarts, every Tentacle is back on it within a bound; reports time to full fan-out and connection attempts/s",
    ),
    (
        "check",
        "rpc_latency",
        "a percentile of the polling RPC round trips (health-check calls) stays under a bound",
    ),
    (
        "check",
        "no_regression",
        "against run --baseline: successful requests/s (and tasks/s) not down, p99 not up, by more than a tolerance; names the metric and both values",
    ),
    (
        "check",
        "survives_database_outage",
        "after a database outage every node answers its own ping with 200 within a bound, in the same process, and requests failed only during it",
    ),
    (
        "check",
        "heartbeats_resume",
        "after a database outage every node's LastSeen advances again within a bound, and none is left offline",
    ),
    (
        "check",
        "tasks_survive",
        "the tasks a database outage caught end within a bound of its return, in Success or failing with an error, none Executing, none run twice",
    ),
    (
        "check",
        "no_acknowledged_loss",
        "every package and task the cluster acknowledged is there at the end and intact; nothing it refused is left in part",
    ),
    (
        "check",
        "sustains",
        "the capacity search found a sustained rate (under its objective, the generator not the limit) of at least a bound, with every node or some drained",
    ),
];
