//! What the reference cluster is asked to be: its nodes, how they keep
//! their tasks and packages, their polling listeners, and the LB in front
//! of them. Plain values with no file positions: whoever asks (the
//! harness turns a scenario's `cluster:` section into one) has validated
//! them already.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::lb::{HealthConfig, Limits};

/// How a node may be broken on purpose, in the node's own words.
pub use crate::node::{Behaviour, DatabaseLoss};

/// The cluster to boot.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The nodes' keys, as their owner names them (`n1`, `n2`, ...); the
    /// nodes' Octopus Names and Ids come from the `NodeNaming` the cluster boots with.
    pub nodes: Vec<String>,
    /// Where the nodes keep packages and task logs.
    pub storage: Storage,
    /// Tasks one node runs at once.
    pub task_cap: u32,
    /// How often each node records its heartbeat.
    pub heartbeat: Duration,
    /// A node whose heartbeat is older than this is offline.
    pub offline_after: Duration,
    /// How often an idle node looks for a queued task.
    pub queue_poll: Duration,
    /// An Executing task whose node has been offline this long is canceled.
    pub orphan_after: Duration,
    /// Claim tasks with the check-then-act race of the known bug.
    pub racy_claim: bool,
    /// A node's time to store each GiB of a package, after its last byte.
    pub upload_delay_per_gib: Option<Duration>,
    /// Store the package before that delay (the answer then comes late).
    pub upload_store_first: bool,
    /// The nodes' Halibut polling listeners, where Tentacles poll.
    pub polling: Option<Polling>,
    /// CPU cores each node may use.
    pub node_cpus: Option<f64>,
    /// The load balancer.
    pub lb: Lb,
    /// Nodes that misbehave on purpose, by key; every other node behaves
    /// as a correct Octopus node does.
    pub behaviour: BTreeMap<String, Behaviour>,
}

/// Where the nodes keep packages and task logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// One folder every node shares, as an HA cluster must.
    Shared,
    /// A folder of its own per node (the unshared-storage mistake).
    PerNode,
}

/// The nodes' polling listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// How Tentacles reach each node.
    pub layout: PollingLayout,
    /// How long a node holds a poll open with nothing to send.
    pub poll_wait: Duration,
    /// How long a request waits for a Tentacle to pick it up.
    pub pickup_timeout: Duration,
}

/// How Tentacles reach each node's polling listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollingLayout {
    /// Every node at its own address, on one port.
    UniqueAddress,
    /// Every node at the LB's address, on a port of its own.
    UniquePort,
}

/// The load balancer in front of the nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Lb {
    /// The built-in LB, or a real HAProxy or nginx.
    pub engine: LbEngine,
    /// How it decides a node is in rotation.
    pub health: HealthConfig,
    /// What it refuses and how long it waits.
    pub limits: Limits,
}

/// Which program balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbEngine {
    /// This crate's own LB.
    Builtin,
    /// A real HAProxy.
    Haproxy,
    /// A real nginx.
    Nginx,
}
