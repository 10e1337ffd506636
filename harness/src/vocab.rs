//! The words several layers share, at the bottom of the house: a fault's
//! kind, an upload's overwrite mode as Octopus spells it, how an upload
//! attempt ended and what its answer looked like, and how HTTPS servers are
//! trusted; with a task's state and the API key that never prints, which
//! are the Octopus surface's own words and come from the reference
//! cluster's crate. The client, the history and the checks all speak of
//! these; keeping them here lets each import them without importing one
//! another. Nothing here imports the rest of the harness.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use reference_cluster::vocab::{ApiKey, TaskState};

/// The fault kinds, spelt in YAML, the history and reports as
/// [`FaultKind::as_str`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGKILL (a real target's `kill` command); the undo starts it.
    Kill,
    /// SIGSTOP (`pause`); the undo is SIGCONT (`resume`).
    Pause,
    /// Kill and start at once; the undo makes sure it runs.
    Restart,
    /// `IsInMaintenanceMode: true`; the undo sets it false.
    Drain,
    /// Drain, wait for the node's tasks, restart, undrain; the undo
    /// undrains and makes sure the node runs.
    Maintenance,
    /// The shared store unreachable for a node; the undo gives it back.
    StorageOutage,
    /// A node writes to a folder of its own instead of the shared store;
    /// the undo points it back.
    StorageUnshared,
    /// The shared database unreachable for every node; the undo gives it
    /// back.
    DatabaseOutage,
    /// The shared database fails over: away for a while, then back by
    /// itself; its window is the longest a failover may take.
    DatabaseFailover,
    /// The network between the LB and a node cut, the node still running
    /// (`partition` `from: lb`); the undo joins them again.
    PartitionFromLb,
    /// The network between the polling Tentacles and a node cut
    /// (`partition` `from: tentacles`); the undo joins them again.
    PartitionFromTentacles,
}

impl FaultKind {
    /// The kinds that take the shared database away.
    pub const DATABASE: &'static [FaultKind] =
        &[FaultKind::DatabaseOutage, FaultKind::DatabaseFailover];

    /// The kind as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Restart => "restart",
            FaultKind::Drain => "drain",
            FaultKind::Maintenance => "maintenance",
            FaultKind::StorageOutage => "storage_outage",
            FaultKind::StorageUnshared => "storage_unshared",
            FaultKind::DatabaseOutage => "database_outage",
            FaultKind::DatabaseFailover => "database_failover",
            FaultKind::PartitionFromLb => "partition_from_lb",
            FaultKind::PartitionFromTentacles => "partition_from_tentacles",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `overwriteMode`, spelled as Octopus spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverwriteMode {
    /// 409 when it exists.
    #[default]
    FailIfExists,
    /// Replace it.
    OverwriteExisting,
    /// Keep it, 200.
    IgnoreIfExists,
}

impl OverwriteMode {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            OverwriteMode::FailIfExists => "FailIfExists",
            OverwriteMode::OverwriteExisting => "OverwriteExisting",
            OverwriteMode::IgnoreIfExists => "IgnoreIfExists",
        }
    }
}

/// How an upload attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadClass {
    /// 201 or 200.
    Accepted,
    /// 409: the package exists.
    Exists,
    /// 413, or IIS's 404.13: the body is too large for something on the way.
    TooLarge,
    /// 408 or 504 from the way, or no byte either way for the idle timeout.
    TimedOut,
    /// The connection was reset or closed mid-request.
    Reset,
    /// Anything else.
    Other,
}

impl UploadClass {
    /// Whether the retry policy tries again after it.
    pub fn retryable(self) -> bool {
        matches!(self, UploadClass::TimedOut | UploadClass::Reset)
    }
}

/// The shape of an answer's body: enough to tell an Octopus node's answer
/// (JSON, with `ErrorMessage` for an error) from an LB's own error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    /// A JSON object with `ErrorMessage`: Octopus's error, from a node.
    OctopusError,
    /// Other JSON: an Octopus resource, usually.
    Json,
    /// An HTML page: what LBs and proxies answer with for their own errors.
    Html,
    /// Any other text.
    Text,
    /// No body at all.
    Empty,
}

impl BodyKind {
    /// The body's kind from its start and its `Content-Type`.
    pub fn of(content_type: Option<&str>, body: &[u8]) -> BodyKind {
        let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
        let start = text.trim_start();
        if start.is_empty() {
            return BodyKind::Empty;
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            return if v.get("ErrorMessage").is_some() {
                BodyKind::OctopusError
            } else {
                BodyKind::Json
            };
        }
        let html_type = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("html"));
        let lower = start
            .chars()
            .take(64)
            .collect::<String>()
            .to_ascii_lowercase();
        if html_type || lower.starts_with("<html") || lower.starts_with("<!doctype html") {
            BodyKind::Html
        } else if start.starts_with('{') && start.contains("\"ErrorMessage\"") {
            // Cut at the answer's limit, still Octopus's.
            BodyKind::OctopusError
        } else {
            BodyKind::Text
        }
    }
}

/// How HTTPS servers are trusted, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's roots.
    System,
    /// The CA certificates in this PEM file.
    CaFile(PathBuf),
    /// The one certificate with this thumbprint.
    Thumbprint(String),
    /// Anything.
    Insecure,
}
