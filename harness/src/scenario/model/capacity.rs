//! The capacity search a scenario may ask for in place of its workload,
//! and the rule by which the load generator counts itself the bottleneck
//! (docs/capacity.md, "Finding the knee").

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::{Duration, Percent, Rate};
use super::defaults;
use super::workloads::Mix;

/// A search for the highest load the cluster sustains under an objective:
/// open-model REST load in steps that grow until one misses the objective,
/// then a bisection between the last step that met it and the first that
/// did not. It runs with every node, then again with one node drained, two,
/// ..., as `drain` asks. Each step lasts the scenario's `duration`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// The REST search.
    pub api: ApiSearch,
    /// Nodes taken away one at a time by draining them, after the search
    /// with every node: 2 searches again at N−1 and at N−2. The last
    /// nodes go first; every one is undrained at the end.
    #[serde(default = "defaults::no_nodes")]
    pub drain: Spanned<u32>,
    /// A pause after each step, so what queued in one does not count in
    /// the next.
    #[serde(default = "defaults::between_steps")]
    pub between: Spanned<Duration>,
    /// How long the LB may take to stop sending a drained node requests;
    /// a node count whose drained node still gets requests is not
    /// measured.
    #[serde(default = "defaults::lb_out_within")]
    pub lb_out_within: Spanned<Duration>,
}

/// The REST search: where it starts, how it grows, where it stops and
/// what a step must meet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSearch {
    /// The first step's rate.
    pub start: Spanned<Rate>,
    /// Each step's rate is the one before times this, until a step misses
    /// the objective or the ceiling is reached.
    #[serde(default = "defaults::growth")]
    pub growth: Spanned<f64>,
    /// The highest rate offered.
    pub ceiling: Spanned<Rate>,
    /// The bisection stops once the bracket is this narrow, as a share of
    /// its lower end.
    #[serde(default = "defaults::resolution")]
    pub resolution: Spanned<Percent>,
    /// What a step must meet to count as sustained.
    pub objective: Objective,
    /// Relative weights of the request kinds.
    #[serde(default)]
    pub mix: Option<Spanned<Mix>>,
    /// A request without a complete response in this time is an error.
    #[serde(default = "defaults::request_timeout")]
    pub timeout: Spanned<Duration>,
    /// Requests in flight at once; past it, new requests wait, and the
    /// wait counts in their latency.
    #[serde(default = "defaults::search_in_flight")]
    pub max_in_flight: Spanned<u32>,
}

impl ApiSearch {
    /// The request mix, or the default one.
    pub fn mix(&self) -> Mix {
        self.mix.as_ref().map(|m| m.value).unwrap_or_default()
    }
}

/// A service-level objective for one step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// The 99th percentile of latency from each request's intended start
    /// stays under this.
    pub p99: Spanned<Duration>,
    /// At most this share of the step's requests fail.
    #[serde(default = "defaults::objective_errors")]
    pub max_error_rate: Spanned<Percent>,
}

/// When the load generator is the bottleneck rather than the cluster:
/// more than `max_late` of requests sent over `late_after` after their
/// intended start, or its CPU use above `max_cpu` of what it may use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorBound {
    /// A request sent this long after its intended start is late.
    #[serde(default = "defaults::late_after")]
    pub late_after: Spanned<Duration>,
    /// The share of late requests past which the generator fell behind.
    #[serde(default = "defaults::max_late")]
    pub max_late: Spanned<Percent>,
    /// The share of its CPUs past which the generator is saturated.
    #[serde(default = "defaults::max_cpu")]
    pub max_cpu: Spanned<Percent>,
}

impl Default for GeneratorBound {
    fn default() -> Self {
        Self {
            late_after: defaults::late_after(),
            max_late: defaults::max_late(),
            max_cpu: defaults::max_cpu(),
        }
    }
}
