//! How a node may depart from a correct Octopus node, on purpose, so
//! that the checks are seen to catch it (docs/faults.md, "Broken nodes"):
//! the words of a scenario's `cluster.behaviour`, as the node's
//! configuration carries them.

use serde::{Deserialize, Serialize};

/// How one node departs from a correct Octopus node, on purpose, so that
/// the checks are seen to catch it (docs/faults.md, "Broken nodes").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    /// What it does when it loses the shared database.
    #[serde(default)]
    pub on_database_loss: DatabaseLoss,
    /// It answers 201 to an upload before the package's record is
    /// written, which a database lost meanwhile loses.
    #[serde(default)]
    pub acknowledge_before_commit: bool,
}

/// What a node does when its database calls start failing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseLoss {
    /// Answers errors meanwhile and carries on once the database is back,
    /// as a correct node does.
    #[default]
    Reconnect,
    /// Its process ends (Octopus 3.17.8 stopped its service when SQL
    /// Server was unreachable for a while, OctopusDeploy/Issues #4012).
    Exit,
    /// Keeps failing until it is restarted: a connection pool that does
    /// not recover.
    NoReconnect,
}
