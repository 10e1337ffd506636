//! The events of a fleet of polling Tentacles: its start, its connections
//! coming and going, the probes of the nodes' polling endpoints, and the
//! health-check rounds.

use serde::{Deserialize, Serialize};

use crate::vocab::TaskState;

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
