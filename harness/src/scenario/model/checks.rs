//! The checks a scenario judges the recorded history by.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::{Bandwidth, Duration, Percent, Rate, Size};
use super::capacity::SearchKind;
use super::defaults;

/// A check, judged on the recorded history after the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// A drain takes the node out of the LB without a failed request, and
    /// its tasks finish while it starts no new ones.
    DrainContract(DrainContract),
    /// No task runs twice, and every task ends within a bound.
    ExactlyOnce(ExactlyOnce),
    /// No node runs more tasks at once than its cap.
    TaskCap(TaskCap),
    /// The running tasks of a killed node end, and are not run again.
    OrphanedTasks(OrphanedTasks),
    /// Each task log reads the same through every node.
    SharedStorage(SharedStorageCheck),
    /// Every upload arrived, and its hash and bytes match on every node.
    UploadIntact(UploadIntact),
    /// Every upload attempt was answered with success: no error status and
    /// no cut, as the client sees it. Judged on every run with an upload
    /// workload, declared or not.
    UploadAnswered(NamedCheck),
    /// Every accepted upload went at least this fast.
    UploadThroughput(UploadThroughput),
    /// The body-limit ladder got a package of at least this size through.
    LadderReaches(LadderReaches),
    /// Every Tentacle of the fleet is connected to every node.
    PollingFanOut(NamedCheck),
    /// Every node's polling endpoint serves the cluster's certificate,
    /// end to end (TCP pass-through, no TLS offload).
    PollingCertificate(NamedCheck),
    /// The health checks pinned to each node reach every Tentacle.
    EveryNodeReachesEveryTentacle(NamedCheck),
    /// After a node restarts, the fleet is back on it within a bound.
    ReconnectStorm(ReconnectStorm),
    /// A percentile of the polling RPC round trips stays under a bound.
    RpcLatency(RpcLatency),
    /// Compared with a baseline report (`run --baseline`), throughput has
    /// not fallen and p99 has not risen by more than a tolerance.
    NoRegression(NoRegression),
    /// Every node serves again soon after a database outage, in the same
    /// process, and requests failed only while it lasted.
    SurvivesDatabaseOutage(OutageCheck),
    /// Every node's LastSeen advances again after a database outage.
    HeartbeatsResume(OutageCheck),
    /// The tasks a database outage caught end soon after it, well, once.
    TasksSurvive(OutageCheck),
    /// Every write the cluster acknowledged is there afterwards, intact,
    /// and nothing refused is left in part.
    NoAcknowledgedLoss(NamedCheck),
    /// The capacity search found the cluster sustaining at least a rate
    /// under its objective, with every node or with some drained.
    Sustains(Sustains),
}

/// Parameters of `sustains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sustains {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The least sustained rate that passes, for a search of requests or
    /// tasks.
    #[serde(default)]
    pub rate: Option<Spanned<Rate>>,
    /// The fewest uploads at once that pass, for the upload search.
    #[serde(default)]
    pub at_once: Option<Spanned<u32>>,
    /// With this many nodes drained (0: every node serving).
    #[serde(default = "defaults::no_nodes")]
    pub drained: Spanned<u32>,
    /// Which search: the first the capacity section asks for when absent
    /// (`api`, then `tasks`, then `uploads`).
    #[serde(default)]
    pub search: Option<Spanned<SearchKind>>,
}

/// Parameters of `no_regression`: how far the run may fall behind its
/// baseline before the check fails.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoRegression {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Largest fall of successful requests per second (and of tasks ended
    /// per second, where both runs had tasks).
    #[serde(default = "defaults::max_throughput_drop")]
    pub max_throughput_drop: Spanned<Percent>,
    /// Largest rise of the p99 latency.
    #[serde(default = "defaults::max_p99_rise")]
    pub max_p99_rise: Spanned<Percent>,
    /// A p99 rise smaller than this never fails, however large in percent:
    /// at a millisecond or two, scheduling noise alone moves p99 by half.
    #[serde(default = "defaults::p99_slack")]
    pub p99_slack: Spanned<Duration>,
}

impl Default for NoRegression {
    fn default() -> Self {
        Self {
            name: None,
            max_throughput_drop: defaults::max_throughput_drop(),
            max_p99_rise: defaults::max_p99_rise(),
            p99_slack: defaults::p99_slack(),
        }
    }
}

/// A check with no parameters but its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedCheck {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
}

/// Parameters of `reconnect_storm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectStorm {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// From the node's restart until every Tentacle's connections to it
    /// are back.
    pub within: Spanned<Duration>,
}

/// Parameters of `rpc_latency`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcLatency {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Percentile, above 0 and at most 100.
    pub percentile: Spanned<f64>,
    /// Bound the percentile must stay under.
    pub below: Duration,
}

/// Parameters of `ladder_reaches`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderReaches {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The size that must get through.
    pub size: Size,
}

/// Parameters of `upload_intact`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadIntact {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
}

/// Parameters of `upload_throughput`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadThroughput {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The floor, such as `50MiB/s`.
    pub at_least: Bandwidth,
}

/// Parameters of `drain_contract`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainContract {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The drain or maintenance fault to judge; every one when absent.
    #[serde(default)]
    pub fault: Option<Spanned<String>>,
    /// Longest time from the drain (or undrain) to the node's own ping
    /// answering 418 (or 200).
    #[serde(default = "defaults::ping_within")]
    pub ping_within: Spanned<Duration>,
    /// Longest time from the drain until the LB sends the node no more
    /// requests.
    pub lb_within: Spanned<Duration>,
    /// Allowance for the server's clock against the harness's when task
    /// start times are compared with the drain.
    #[serde(default = "defaults::clock_skew")]
    pub clock_skew: Duration,
}

/// Parameters of `exactly_once`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactlyOnce {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Longest time from a task's submission to its final state.
    pub within: Spanned<Duration>,
}

/// Parameters of `task_cap`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCap {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Upper bound on the 99th percentile of queue pick-up latency
    /// (queued to started); not judged when absent.
    #[serde(default)]
    pub pickup_p99_below: Option<Spanned<Duration>>,
}

/// Parameters of `orphaned_tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrphanedTasks {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The kill or restart to judge; every one when absent.
    #[serde(default)]
    pub fault: Option<Spanned<String>>,
    /// Longest time from the fault until its node's running tasks end.
    pub within: Spanned<Duration>,
}

/// Parameters of `shared_storage`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedStorageCheck {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
}

/// Parameters of `availability`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Parameters of `survives_database_outage` and `heartbeats_resume`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageCheck {
    /// Name in reports; the kind when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Longest time from the database's return until the nodes are back.
    pub within: Spanned<Duration>,
    /// The fault to judge; every database outage when absent.
    #[serde(default)]
    pub fault: Option<Spanned<String>>,
}

/// Parameters of `latency`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
            Check::DrainContract(_) => "drain_contract",
            Check::ExactlyOnce(_) => "exactly_once",
            Check::TaskCap(_) => "task_cap",
            Check::OrphanedTasks(_) => "orphaned_tasks",
            Check::SharedStorage(_) => "shared_storage",
            Check::UploadIntact(_) => "upload_intact",
            Check::UploadAnswered(_) => "upload_answered",
            Check::UploadThroughput(_) => "upload_throughput",
            Check::LadderReaches(_) => "ladder_reaches",
            Check::PollingFanOut(_) => "polling_fan_out",
            Check::PollingCertificate(_) => "polling_certificate",
            Check::EveryNodeReachesEveryTentacle(_) => "every_node_reaches_every_tentacle",
            Check::ReconnectStorm(_) => "reconnect_storm",
            Check::RpcLatency(_) => "rpc_latency",
            Check::NoRegression(_) => "no_regression",
            Check::SurvivesDatabaseOutage(_) => "survives_database_outage",
            Check::HeartbeatsResume(_) => "heartbeats_resume",
            Check::TasksSurvive(_) => "tasks_survive",
            Check::NoAcknowledgedLoss(_) => "no_acknowledged_loss",
            Check::Sustains(_) => "sustains",
        }
    }

    /// Whether the check judges uploads (and needs an upload workload).
    pub fn judges_uploads(&self) -> bool {
        matches!(
            self,
            Check::UploadIntact(_) | Check::UploadAnswered(_) | Check::UploadThroughput(_)
        )
    }

    /// Whether the check judges a fleet of polling Tentacles.
    pub fn judges_fleet(&self) -> bool {
        matches!(
            self,
            Check::PollingFanOut(_)
                | Check::PollingCertificate(_)
                | Check::EveryNodeReachesEveryTentacle(_)
                | Check::ReconnectStorm(_)
                | Check::RpcLatency(_)
        )
    }

    /// Whether the check judges tasks (and needs a tasks workload) rather
    /// than API requests.
    pub fn judges_tasks(&self) -> bool {
        matches!(
            self,
            Check::ExactlyOnce(_)
                | Check::TaskCap(_)
                | Check::OrphanedTasks(_)
                | Check::SharedStorage(_)
                | Check::TasksSurvive(_)
        )
    }

    /// The name in reports: the `name` field, or the kind.
    pub fn name(&self) -> String {
        let name = match self {
            Check::Availability(c) => &c.name,
            Check::RoutesAroundFailedNode(c) => &c.name,
            Check::Recovers(c) => &c.name,
            Check::Latency(c) => &c.name,
            Check::DrainContract(c) => &c.name,
            Check::ExactlyOnce(c) => &c.name,
            Check::TaskCap(c) => &c.name,
            Check::OrphanedTasks(c) => &c.name,
            Check::SharedStorage(c) => &c.name,
            Check::UploadIntact(c) => &c.name,
            Check::UploadThroughput(c) => &c.name,
            Check::LadderReaches(c) => &c.name,
            Check::UploadAnswered(c)
            | Check::PollingFanOut(c)
            | Check::PollingCertificate(c)
            | Check::EveryNodeReachesEveryTentacle(c)
            | Check::NoAcknowledgedLoss(c) => &c.name,
            Check::ReconnectStorm(c) => &c.name,
            Check::RpcLatency(c) => &c.name,
            Check::NoRegression(c) => &c.name,
            Check::SurvivesDatabaseOutage(c)
            | Check::HeartbeatsResume(c)
            | Check::TasksSurvive(c) => &c.name,
            Check::Sustains(c) => &c.name,
        };
        name.as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| self.kind().to_string())
    }
}
