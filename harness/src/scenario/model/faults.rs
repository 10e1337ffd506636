//! The faults a scenario injects: on a node (kill, pause, restart, drain,
//! rolling maintenance, its view of the shared store taken away or
//! unshared, and the network to it cut) and on the whole cluster (a
//! database outage or failover).

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::Duration;
use super::defaults;

/// A fault, injected at `at` and undone after `for` or in the heal phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the node; the undo starts a new process.
    Kill(NodeFault),
    /// SIGSTOP the node (it accepts TCP but never answers); the undo sends
    /// SIGCONT.
    Pause(NodeFault),
    /// SIGKILL the node and start a new process at once.
    Restart(RestartFault),
    /// Put the node in drain (maintenance) mode through the REST API; the
    /// undo takes it out again.
    Drain(NodeFault),
    /// The documented rolling maintenance of one node: drain, wait until
    /// its tasks are done, restart it, undrain it.
    Maintenance(MaintenanceFault),
    /// The shared file store unreachable for the node: its reads and
    /// writes there fail; the undo gives it back (docs/faults.md,
    /// "storage_outage").
    StorageOutage(NodeFault),
    /// The node writes to a folder of its own instead of the shared store
    /// (the unmapped-drive mistake); the undo points it back, and what it
    /// wrote meanwhile stays where it went.
    StorageUnshared(NodeFault),
    /// The shared database unreachable for every node; the undo gives it
    /// back (docs/faults.md, "database_outage").
    DatabaseOutage(ClusterFault),
    /// The shared database fails over to another server: away for a
    /// while, then back by itself, with no undo (docs/faults.md,
    /// "database_failover").
    DatabaseFailover(FailoverFault),
    /// The network between the node and the LB, or the polling Tentacles,
    /// cut while the node runs; the undo joins them again (docs/faults.md,
    /// "partition").
    Partition(PartitionFault),
}

/// Which side of a node a partition cuts it off from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionFrom {
    /// The load balancer: clients through it no longer reach the node.
    Lb,
    /// The polling Tentacles: their connections to the node drop.
    Tentacles,
}

/// Parameters of a partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionFault {
    /// Name that checks refer to; `partition-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, `one` (chosen with the seed) or `all`.
    pub node: Spanned<String>,
    /// What the node is cut off from.
    pub from: Spanned<PartitionFrom>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
    /// How long until the undo; in the heal phase when absent.
    #[serde(default, rename = "for")]
    pub hold: Option<Spanned<Duration>>,
}

/// Parameters of a database failover.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverFault {
    /// Name that checks refer to; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
    /// The least time the database is away; the embedded cluster's
    /// failover takes a time drawn with the seed from here to `longest`.
    pub shortest: Spanned<Duration>,
    /// The most: the checks count from the end of this window, on every
    /// target, as a real failover says nothing when it is done.
    pub longest: Spanned<Duration>,
}

/// Parameters of a fault on the whole cluster rather than on a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFault {
    /// Name that checks refer to; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
    /// How long until the undo.
    #[serde(rename = "for")]
    pub hold: Spanned<Duration>,
}

/// Parameters of a rolling maintenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceFault {
    /// Name that checks refer to; `maintenance-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, or `one` (chosen with the seed).
    pub node: Spanned<String>,
    /// When the drain starts, after warm-up.
    pub at: Spanned<Duration>,
    /// Least time from the drain to the restart, so the LB has taken the
    /// node out (at least its health-check window).
    #[serde(default = "defaults::restart_after")]
    pub restart_after: Spanned<Duration>,
    /// Longest wait for the node's tasks to finish; the restart then goes
    /// ahead, and cancels what still runs, as `--drain --wait` does.
    #[serde(default = "defaults::maintenance_wait")]
    pub wait: Spanned<Duration>,
}

/// Parameters of a fault that holds a node down for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFault {
    /// Name that checks refer to; `<kind>-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, `one` (chosen with the seed) or `all`.
    pub node: Spanned<String>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
    /// How long until the undo; in the heal phase when absent.
    #[serde(default, rename = "for")]
    pub hold: Option<Spanned<Duration>>,
}

/// Parameters of a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartFault {
    /// Name that checks refer to; `restart-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, `one` (chosen with the seed) or `all`.
    pub node: Spanned<String>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
}

impl Fault {
    /// The kind as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Pause(_) => "pause",
            Fault::Restart(_) => "restart",
            Fault::Drain(_) => "drain",
            Fault::Maintenance(_) => "maintenance",
            Fault::StorageOutage(_) => "storage_outage",
            Fault::StorageUnshared(_) => "storage_unshared",
            Fault::DatabaseOutage(_) => "database_outage",
            Fault::DatabaseFailover(_) => "database_failover",
            Fault::Partition(_) => "partition",
        }
    }

    /// The kind as checks tell kinds apart: a partition with its side
    /// (`partition from lb`), any other fault as [`Fault::kind`].
    pub fn judged_as(&self) -> &'static str {
        match self {
            Fault::Partition(p) => match p.from.value {
                PartitionFrom::Lb => "partition from lb",
                PartitionFrom::Tentacles => "partition from tentacles",
            },
            f => f.kind(),
        }
    }

    /// The node selector; none for a fault on the whole cluster.
    pub fn node(&self) -> Option<&Spanned<String>> {
        match self {
            Fault::Kill(f)
            | Fault::Pause(f)
            | Fault::Drain(f)
            | Fault::StorageOutage(f)
            | Fault::StorageUnshared(f) => Some(&f.node),
            Fault::Restart(f) => Some(&f.node),
            Fault::Maintenance(f) => Some(&f.node),
            Fault::Partition(f) => Some(&f.node),
            Fault::DatabaseOutage(_) | Fault::DatabaseFailover(_) => None,
        }
    }

    /// When the fault is injected, after warm-up.
    pub fn at(&self) -> &Spanned<Duration> {
        match self {
            Fault::Kill(f)
            | Fault::Pause(f)
            | Fault::Drain(f)
            | Fault::StorageOutage(f)
            | Fault::StorageUnshared(f) => &f.at,
            Fault::Restart(f) => &f.at,
            Fault::Maintenance(f) => &f.at,
            Fault::DatabaseOutage(f) => &f.at,
            Fault::DatabaseFailover(f) => &f.at,
            Fault::Partition(f) => &f.at,
        }
    }

    /// How long the fault holds before its undo, if the scenario says.
    pub fn hold(&self) -> Option<&Spanned<Duration>> {
        match self {
            Fault::Kill(f)
            | Fault::Pause(f)
            | Fault::Drain(f)
            | Fault::StorageOutage(f)
            | Fault::StorageUnshared(f) => f.hold.as_ref(),
            Fault::DatabaseOutage(f) => Some(&f.hold),
            Fault::DatabaseFailover(f) => Some(&f.longest),
            Fault::Partition(f) => f.hold.as_ref(),
            Fault::Restart(_) | Fault::Maintenance(_) => None,
        }
    }

    /// The field `hold` is read from.
    pub fn hold_field(&self) -> &'static str {
        match self {
            Fault::DatabaseFailover(_) => "longest",
            _ => "for",
        }
    }

    /// The name checks refer to: the `name` field, or `<kind>-<node>`
    /// (the kind alone for a fault on the whole cluster).
    pub fn name(&self) -> String {
        let name = match self {
            Fault::Kill(f)
            | Fault::Pause(f)
            | Fault::Drain(f)
            | Fault::StorageOutage(f)
            | Fault::StorageUnshared(f) => &f.name,
            Fault::Restart(f) => &f.name,
            Fault::Maintenance(f) => &f.name,
            Fault::DatabaseOutage(f) => &f.name,
            Fault::DatabaseFailover(f) => &f.name,
            Fault::Partition(f) => &f.name,
        };
        name.as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| match self.node() {
                Some(node) => format!("{}-{}", self.kind(), node.value),
                None => self.kind().to_string(),
            })
    }
}
