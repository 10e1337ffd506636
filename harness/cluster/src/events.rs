//! What the cluster says as it runs: a process started, the nodes' CPU
//! limit taken, a node in or out of the LB's rotation. Its owner passes
//! an [`EventSink`] at boot and turns these into its own records (the
//! harness stamps them into its history; `cluster up` prints them).

use std::sync::Arc;

/// One thing the cluster did.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterEvent {
    /// A node's process, or the LB's, started and listens.
    NodeUp {
        /// The node's key, or `lb` for the LB.
        node: String,
        /// Where it listens.
        address: String,
        /// Its process ID.
        pid: Option<u32>,
        /// From its spawn to its listening.
        boot_ms: u64,
    },
    /// The nodes' CPU limit is in force.
    CpuLimit {
        /// How it is enforced: `cgroup_v2`, `cgroup_v1` or `affinity`.
        method: String,
        /// CPUs each node may use: the quota, or whole cores of affinity.
        cores_per_node: f64,
        /// The cores asked for.
        asked: f64,
    },
    /// The built-in LB took a node out of rotation or put it back.
    LbHealth {
        /// The node's key.
        node: String,
        /// Back in rotation.
        healthy: bool,
    },
}

/// Where the cluster's events go; called on the thread that saw them.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(ClusterEvent) + Send + Sync>);

impl EventSink {
    /// A sink that calls `f` with each event.
    pub fn new(f: impl Fn(ClusterEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Hands on one event.
    pub fn send(&self, event: ClusterEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
