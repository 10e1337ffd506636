//! The events of a run split into shards: each shard's reading of its
//! clock against the cluster's, and, in a merged history, the shards it
//! was merged from (docs/shards.md).

use serde::{Deserialize, Serialize};

/// How far the cluster's clock is from this shard's, read from one node's
/// `Date` header as its second ticks over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockOffset {
    /// Microseconds since the start.
    pub at_us: u64,
    /// The node asked, by the run's name for it.
    pub node: String,
    /// The node's clock ahead of this shard's, µs (negative: behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_us: Option<i64>,
    /// The reading is good to ± this, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_us: Option<u64>,
    /// Why there is no reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A merged history's account of its shards: the first event after
/// `run_started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardsMerged {
    /// How many shards the run had.
    pub count: u32,
    /// The most any shard's times may be off the conductor's, µs: the
    /// spread of their clock offsets plus how sure each reading is. None
    /// when a shard could not read its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_bound_us: Option<u64>,
    /// Each shard merged, by index; a missing index was not given.
    pub shards: Vec<ShardSeen>,
}

/// One shard as the merge found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSeen {
    /// Its index.
    pub index: u32,
    /// Its run folder, as the merge was given it.
    pub folder: String,
    /// Events of its history.
    pub events: u64,
    /// API requests it recorded.
    pub requests: u64,
    /// Why it did not finish, if it did not (no `run_ended`, or an
    /// interrupted one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
    /// Its clock offset against the cluster, µs, if it read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_us: Option<i64>,
    /// How sure that reading is, ± µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_us: Option<u64>,
}
