//! The events of a capacity search and of the load generator's own
//! state: each step of the search, each node count it measured, and
//! samples of the generator's CPU time and open files.

use serde::{Deserialize, Serialize};

/// One step of a capacity search, recorded when it ended. Its requests
/// (or tasks) are those intended from `from_us` until `to_us`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Which search: `api`, `tasks` or `uploads`.
    pub search: String,
    /// The rate offered, per second; for uploads, how many at once.
    pub rate: f64,
    /// Microseconds since the start: the start of its unjudged lead-in.
    #[serde(default)]
    pub lead_from_us: u64,
    /// Microseconds since the start: the step's first intended start.
    pub from_us: u64,
    /// Microseconds since the start: the end of its schedule.
    pub to_us: u64,
    /// Nodes serving.
    pub nodes: u32,
    /// The nodes the search had drained.
    pub drained: Vec<String>,
    /// `ladder` or `bisect`.
    pub part: String,
}

/// A node count the search measures from here on, or could not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityLevel {
    /// Microseconds since the start.
    pub at_us: u64,
    /// Nodes serving.
    pub nodes: u32,
    /// The nodes the search had drained.
    pub drained: Vec<String>,
    /// Why this node count could not be measured (a drain not done, an
    /// LB that kept routing to the drained node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The load generator's own state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSample {
    /// Microseconds since the start.
    pub at_us: u64,
    /// CPU time the harness process has used, user and system, in
    /// microseconds.
    pub cpu_us: u64,
    /// The CPUs it may use (its affinity, lowered by a cgroup quota).
    pub cpus: f64,
    /// Its open file descriptors.
    pub fds: u32,
    /// Of which sockets: its connections and listeners.
    pub sockets: u32,
}
