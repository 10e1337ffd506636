//! The typed scenario: what a YAML file may say, and nothing more.
//!
//! Every struct denies unknown fields and every kind (workload, fault,
//! check) is an externally tagged enum (`- kill: { node: n2, at: 20s }`),
//! the one serde form that keeps line, column and field path in errors.
//! Fields that the second validation pass must point at are `Spanned`.
//! SCENARIOS.md documents every field; keep the two in step.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::units::{Duration, Percent, Rate, Size};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in run folders and reports.
    pub name: Spanned<String>,
    /// What the scenario proves, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Seed for every random choice; `--seed` overrides it, and a random
    /// seed is drawn (and printed) when neither is given.
    #[serde(default)]
    pub seed: Option<u64>,
    /// How long the workload and the fault schedule run.
    pub duration: Spanned<Duration>,
    /// Traffic before the measured part of the run starts; its requests are
    /// recorded but no check judges them.
    #[serde(default = "defaults::warmup")]
    pub warmup: Spanned<Duration>,
    /// Traffic after the heal phase, so checks can see the cluster recover.
    #[serde(default = "defaults::settle")]
    pub settle: Spanned<Duration>,
    /// The cluster wanted on the embedded target.
    #[serde(default)]
    pub cluster: Cluster,
    /// Background workloads, running from warm-up to the end of settle.
    #[serde(default)]
    pub workload: Vec<Spanned<Workload>>,
    /// Faults, at times relative to the end of warm-up.
    #[serde(default)]
    pub faults: Vec<Spanned<Fault>>,
    /// Checks judged on the recorded history.
    #[serde(default)]
    pub checks: Vec<Spanned<Check>>,
}

/// The embedded reference cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Number of Octopus nodes, named n1, n2, ...
    #[serde(default = "defaults::nodes")]
    pub nodes: Spanned<u32>,
    /// Each node's MaxConcurrentTasks.
    #[serde(default = "defaults::task_cap")]
    pub task_cap: u32,
    /// How often each node writes LastSeen to the shared database.
    #[serde(default = "defaults::heartbeat")]
    pub heartbeat: Spanned<Duration>,
    /// A node whose LastSeen is older than this is shown IsOffline.
    #[serde(default = "defaults::offline_after")]
    pub offline_after: Spanned<Duration>,
    /// The built-in load balancer.
    #[serde(default)]
    pub lb: Lb,
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            nodes: defaults::nodes(),
            task_cap: defaults::task_cap(),
            heartbeat: defaults::heartbeat(),
            offline_after: defaults::offline_after(),
            lb: Lb::default(),
        }
    }
}

/// The built-in load balancer: round robin over healthy nodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lb {
    /// Active health checks.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// How long the LB waits for a node's response headers before it
    /// answers 504.
    #[serde(default = "defaults::backend_timeout")]
    pub backend_timeout: Spanned<Duration>,
    /// Largest request body the LB forwards; larger ones get 413, as with
    /// nginx's `client_max_body_size`. No limit when absent.
    #[serde(default)]
    pub max_body: Option<Size>,
}

impl Default for Lb {
    fn default() -> Self {
        Self {
            health_check: HealthCheck::default(),
            backend_timeout: defaults::backend_timeout(),
            max_body: None,
        }
    }
}

/// Active health checks, modelled on an AWS ALB target group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// When false the LB never checks, and keeps routing to dead nodes.
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Path probed on each node.
    #[serde(default = "defaults::health_path")]
    pub path: String,
    /// Time between two probes of one node.
    #[serde(default = "defaults::health_interval")]
    pub interval: Spanned<Duration>,
    /// A probe without a response in this time fails.
    #[serde(default = "defaults::health_timeout")]
    pub timeout: Spanned<Duration>,
    /// Consecutive passes that bring a node back into rotation.
    #[serde(default = "defaults::threshold")]
    pub healthy_threshold: Spanned<u32>,
    /// Consecutive failures that take a node out of rotation.
    #[serde(default = "defaults::threshold")]
    pub unhealthy_threshold: Spanned<u32>,
    /// Status codes that pass; ALB's default matcher is 200 alone, so a
    /// draining node (418) fails.
    #[serde(default = "defaults::accept")]
    pub accept: Spanned<Vec<u16>>,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            path: defaults::health_path(),
            interval: defaults::health_interval(),
            timeout: defaults::health_timeout(),
            healthy_threshold: defaults::threshold(),
            unhealthy_threshold: defaults::threshold(),
            accept: defaults::accept(),
        }
    }
}

/// A background workload.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Open-model REST requests through the LB at a fixed rate.
    Api(ApiLoad),
}

/// Open-model REST load: requests start on schedule whether or not earlier
/// ones have finished, so a slow cluster cannot slow the load down.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiLoad {
    /// Requests started each second.
    pub rate: Rate,
    /// Relative weights of the request kinds.
    #[serde(default)]
    pub mix: Option<Spanned<Mix>>,
    /// A request without a complete response in this time is recorded as
    /// indeterminate.
    #[serde(default = "defaults::request_timeout")]
    pub timeout: Spanned<Duration>,
    /// Requests in flight at once; past it, new requests wait, and the wait
    /// counts in their latency.
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: Spanned<u32>,
}

/// Relative weights of the request kinds in an API workload.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// `GET /api/octopusservernodes/ping`; its body names the serving node.
    #[serde(default)]
    pub ping: u32,
    /// `GET /api/octopusservernodes`.
    #[serde(default)]
    pub nodes: u32,
    /// `GET /api`.
    #[serde(default)]
    pub root: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            ping: 8,
            nodes: 1,
            root: 1,
        }
    }
}

/// A fault, injected at `at` and undone after `for` or in the heal phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the node; the undo starts a new process.
    Kill(NodeFault),
    /// SIGSTOP the node (it accepts TCP but never answers); the undo sends
    /// SIGCONT.
    Pause(NodeFault),
    /// SIGKILL the node and start a new process at once.
    Restart(RestartFault),
}

/// Parameters of a fault that holds a node down for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFault {
    /// Name that checks refer to; `<kind>-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, `one` (chosen with the seed) or `all`.
    pub node: Spanned<String>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
    /// How long until the undo; in the heal phase when absent.
    #[serde(default, rename = "for")]
    pub hold: Option<Spanned<Duration>>,
}

/// Parameters of a restart.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartFault {
    /// Name that checks refer to; `restart-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, `one` (chosen with the seed) or `all`.
    pub node: Spanned<String>,
    /// When, after warm-up.
    pub at: Spanned<Duration>,
}

/// A check, judged on the recorded history after the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Error rate through the LB, and no errors outside fault windows.
    Availability(Availability),
    /// After a node is killed or paused, the LB stops sending it requests.
    RoutesAroundFailedNode(RoutesAround),
    /// After a restart or resume, the node serves requests again.
    Recovers(Recovers),
    /// A latency percentile stays under a bound.
    Latency(Latency),
}

/// Parameters of `availability`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Largest share of failed or indeterminate requests over the run.
    #[serde(default = "defaults::max_error_rate")]
    pub max_error_rate: Percent,
    /// Errors are forgiven this long after a fault is undone.
    #[serde(default = "defaults::grace")]
    pub grace: Duration,
}

/// Parameters of `routes_around_failed_node`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesAround {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Longest time from the fault until the last request the failed node
    /// was sent.
    pub within: Spanned<Duration>,
    /// The kill or pause fault to judge; every one when absent.
    #[serde(default)]
    pub fault: Option<Spanned<String>>,
    /// Successful requests needed after convergence before the check
    /// believes it.
    #[serde(default = "defaults::min_requests")]
    pub min_requests: u32,
}

/// Parameters of `recovers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recovers {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Longest time from the undo until the node serves a request.
    pub within: Spanned<Duration>,
    /// The fault to judge; every kill, pause and restart when absent.
    #[serde(default)]
    pub fault: Option<Spanned<String>>,
}

/// Parameters of `latency`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Percentile, above 0 and at most 100 (99.9 is allowed).
    pub percentile: Spanned<f64>,
    /// Bound the percentile must stay under.
    pub below: Duration,
    /// Leave out requests started inside fault windows (plus nothing else).
    #[serde(default)]
    pub outside_faults: bool,
}

impl Check {
    /// The kind as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Availability(_) => "availability",
            Check::RoutesAroundFailedNode(_) => "routes_around_failed_node",
            Check::Recovers(_) => "recovers",
            Check::Latency(_) => "latency",
        }
    }

    /// The name in reports: the `name` field, or the kind.
    pub fn name(&self) -> String {
        let name = match self {
            Check::Availability(c) => &c.name,
            Check::RoutesAroundFailedNode(c) => &c.name,
            Check::Recovers(c) => &c.name,
            Check::Latency(c) => &c.name,
        };
        name.as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| self.kind().to_string())
    }
}

impl Fault {
    /// The kind as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Pause(_) => "pause",
            Fault::Restart(_) => "restart",
        }
    }

    /// The node selector.
    pub fn node(&self) -> &Spanned<String> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) => &f.node,
            Fault::Restart(f) => &f.node,
        }
    }

    /// When the fault is injected, after warm-up.
    pub fn at(&self) -> &Spanned<Duration> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) => &f.at,
            Fault::Restart(f) => &f.at,
        }
    }

    /// How long the fault holds before its undo, if the scenario says.
    pub fn hold(&self) -> Option<&Spanned<Duration>> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) => f.hold.as_ref(),
            Fault::Restart(_) => None,
        }
    }

    /// The name checks refer to: the `name` field or `<kind>-<node>`.
    pub fn name(&self) -> String {
        let name = match self {
            Fault::Kill(f) | Fault::Pause(f) => &f.name,
            Fault::Restart(f) => &f.name,
        };
        name.as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| format!("{}-{}", self.kind(), self.node().value))
    }
}

/// Defaults, in one place so SCENARIOS.md can quote them.
pub(crate) mod defaults {
    use super::*;

    fn spanned<T>(value: T) -> Spanned<T> {
        Spanned {
            value,
            referenced: serde_saphyr::Location::UNKNOWN,
            defined: serde_saphyr::Location::UNKNOWN,
        }
    }

    pub fn warmup() -> Spanned<Duration> {
        spanned(Duration::from_secs(2))
    }
    pub fn settle() -> Spanned<Duration> {
        spanned(Duration::from_secs(3))
    }
    pub fn nodes() -> Spanned<u32> {
        spanned(3)
    }
    pub fn task_cap() -> u32 {
        5
    }
    pub fn heartbeat() -> Spanned<Duration> {
        spanned(Duration::from_secs(1))
    }
    pub fn offline_after() -> Spanned<Duration> {
        spanned(Duration::from_secs(5))
    }
    pub fn backend_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(5))
    }
    pub fn yes() -> bool {
        true
    }
    pub fn health_path() -> String {
        "/api/octopusservernodes/ping".to_string()
    }
    pub fn health_interval() -> Spanned<Duration> {
        spanned(Duration::from_secs(1))
    }
    pub fn health_timeout() -> Spanned<Duration> {
        spanned(Duration::from_millis(500))
    }
    pub fn threshold() -> Spanned<u32> {
        spanned(2)
    }
    pub fn accept() -> Spanned<Vec<u16>> {
        spanned(vec![200])
    }
    pub fn request_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(5))
    }
    pub fn max_in_flight() -> Spanned<u32> {
        spanned(1024)
    }
    pub fn max_error_rate() -> Percent {
        "5%".parse().expect("valid literal")
    }
    pub fn grace() -> Duration {
        Duration::from_secs(5)
    }
    pub fn min_requests() -> u32 {
        20
    }
}

/// Every kind a scenario may use, with a one-line description, for
/// `harness list`: (section, kind, description).
pub const KINDS: &[(&str, &str, &str)] = &[
    (
        "workload",
        "api",
        "open-model REST load through the LB at a fixed rate: ping, node list, API root",
    ),
    (
        "fault",
        "kill",
        "SIGKILL a node; undone by starting a new process on the same address",
    ),
    (
        "fault",
        "pause",
        "SIGSTOP a node, which then accepts TCP but never answers; undone by SIGCONT",
    ),
    (
        "fault",
        "restart",
        "SIGKILL a node and start a new process at once",
    ),
    (
        "check",
        "availability",
        "error rate through the LB under a bound, and no errors outside fault windows plus a grace period",
    ),
    (
        "check",
        "routes_around_failed_node",
        "after a kill or pause, the LB stops sending the node requests within a bound",
    ),
    (
        "check",
        "recovers",
        "after a fault is undone, the node serves requests again within a bound",
    ),
    (
        "check",
        "latency",
        "a latency percentile (from the intended start) under a bound, optionally outside fault windows",
    ),
];
