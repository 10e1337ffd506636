//! How a run is asked for: where it writes, its seed, whether it shows
//! progress, the cluster it runs on, the baselines it is judged against
//! and how long it may take. The runner reads these and never changes
//! them; a sweep hands each of its runs a copy with its own folder. A
//! shard of a split run is told which, and what the shards agreed on.

use std::path::PathBuf;
use std::time::Duration;

use crate::target::TargetFile;

/// How a run is asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Folder that holds `<scenario>/<timestamp>/` and `latest`.
    pub out: PathBuf,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Show live progress on stderr.
    pub progress: bool,
    /// A real cluster to run on instead of the embedded one; the caller
    /// has checked that the scenario fits it and may disrupt it.
    pub target: Option<TargetFile>,
    /// Earlier runs to judge `no_regression` against.
    pub baseline: Option<crate::check::Baselines>,
    /// The longest a run may take, instead of [`time_limit`](super::wall_time::time_limit)'s.
    pub time_limit: Option<Duration>,
    /// This process is one shard of a split run (docs/shards.md); the
    /// caller has checked that the scenario can be split.
    pub shard: Option<super::shard::ShardPlan>,
}
