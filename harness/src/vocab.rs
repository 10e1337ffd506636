//! The words several layers share, at the bottom of the house: a fault's
//! kind, an upload's overwrite mode as Octopus spells it, how an upload
//! attempt ended and what its answer looked like, and how HTTPS servers are
//! trusted; which shard of a run a process is; what kind of API request
//! was sent, and its name as goose gives it, which a load phase's rules
//! name; with a task's state and the API key that never prints, which
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

/// Which slice of a run's load one process sends: shard `index` of
/// `count` (docs/shards.md). Shard 0, the conductor, also injects and
/// heals the faults and watches the nodes; a run that is not split is
/// shard 0 of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u32,
    /// How many shards the run has, at least 1.
    pub count: u32,
}

impl Shard {
    /// The whole run in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The most shards a run may have.
    pub const MAX: u32 = 1024;

    /// `I/N` as the command line writes it, with `0 <= I < N <= MAX`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad =
            || format!("{text:?} is not a shard: write I/N, such as 0/3, with I from 0 to N-1");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        if count > Self::MAX {
            return Err(format!("{text:?}: a run has at most {} shards", Self::MAX));
        }
        Ok(Shard { index, count })
    }

    /// Shard 0: the one that disrupts the cluster and watches it.
    pub fn is_conductor(self) -> bool {
        self.index == 0
    }

    /// Whether the run is split at all.
    pub fn is_split(self) -> bool {
        self.count > 1
    }

    /// Whether item `n` of a run-wide sequence (a request of the
    /// schedule, a package, a Tentacle) is this shard's: every `count`-th, from `index`,
    /// so the shards' items interleave and together are the whole.
    pub fn owns(self, n: u64) -> bool {
        n % u64::from(self.count) == u64::from(self.index)
    }

    /// The `k`th item of a run-wide sequence that this shard owns
    /// (see [`Shard::owns`]), for work numbered as it is made rather than
    /// from a schedule: the shards' numbers never meet.
    pub fn nth(self, k: u64) -> u64 {
        k.saturating_mul(u64::from(self.count))
            .saturating_add(u64::from(self.index))
    }

    /// This shard's share of `total` things done at once (users, clients,
    /// uploads in flight): the whole split as evenly as it goes, the
    /// lower indexes taking the remainder, so the shares add up to it.
    pub fn share(self, total: u32) -> u32 {
        let n = self.count.max(1);
        total / n + u32::from(self.index < total % n)
    }

    /// This shard's seed, drawn from the run's: shard 0 of 1 keeps the
    /// run's, so a run that is not split replays as before.
    pub fn seed(self, run_seed: u64) -> u64 {
        if self.is_split() {
            run_seed
                ^ u64::from(self.index)
                    .wrapping_add(1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        } else {
            run_seed
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `GET /api/octopusservernodes/ping`.
    Ping,
    /// `GET /api/octopusservernodes`.
    Nodes,
    /// `GET /api`.
    Root,
    /// `GET /api/Spaces-1/packages`.
    Packages,
    /// `POST /api/tasks`: a task created (its life is in the task events).
    Task,
    /// `GET /api/tasks/{id}`: a created task's state read.
    TaskRead,
    /// `POST /api/Spaces-1/packages/raw` of a small package.
    Upload,
}

impl Op {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Op::Ping => "/api/octopusservernodes/ping",
            Op::Nodes => "/api/octopusservernodes",
            Op::Root => "/api",
            Op::Packages => "/api/Spaces-1/packages",
            Op::Task | Op::TaskRead => "/api/tasks",
            Op::Upload => "/api/Spaces-1/packages/raw",
        }
    }

    /// The request as a load phase's goose names it, method and name, in
    /// its reports and in a threshold rule's ` for ` part.
    pub fn goose_name(self) -> &'static str {
        match self {
            Op::Ping => "GET /api/octopusservernodes/ping",
            Op::Nodes => "GET /api/octopusservernodes",
            Op::Root => "GET /api",
            Op::Packages => "GET /api/Spaces-1/packages",
            Op::Task => "POST /api/tasks",
            Op::TaskRead => "GET /api/tasks/{id}",
            Op::Upload => "POST /api/Spaces-1/packages/raw",
        }
    }

    /// The name in reports, as in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::Nodes => "nodes",
            Op::Root => "root",
            Op::Packages => "packages",
            Op::Task => "task",
            Op::TaskRead => "task_read",
            Op::Upload => "upload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_interleave_and_cover_the_whole() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/3", "-1/3", "1/3/4", "0/2000"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for n in 0..100u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(n)).count(), 1, "{n}");
        }
        assert!(shards[0].is_conductor() && !shards[1].is_conductor());
        assert_eq!(Shard::WHOLE.seed(42), 42);
        let seeds: std::collections::HashSet<u64> = shards.iter().map(|s| s.seed(42)).collect();
        assert_eq!(seeds.len(), 3);
        assert_eq!(shards[2].to_string(), "2/3");
    }

    #[test]
    fn shards_share_counts_evenly_and_number_their_own_items() {
        let of = |index| Shard { index, count: 3 };
        let shares: Vec<u32> = (0..3).map(|i| of(i).share(8)).collect();
        assert_eq!(shares, [3, 3, 2]);
        assert_eq!((of(2).share(2), Shard::WHOLE.share(8)), (0, 8));
        for i in 0..3 {
            let mine: Vec<u64> = (0..4).map(|k| of(i).nth(k)).collect();
            assert!(mine.iter().all(|&n| of(i).owns(n)), "{mine:?}");
            assert_eq!(mine[3] - mine[0], 9);
        }
        assert_eq!(Shard::WHOLE.nth(7), 7);
    }
}
