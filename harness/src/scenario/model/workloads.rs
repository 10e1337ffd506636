//! The background workloads of a scenario: API load, tasks, uploads, the
//! body-limit ladder, the slow upload, the Tentacle fleet and load phases.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::{Bandwidth, Duration, Rate, Size};
use super::defaults;
use crate::vocab::Op;

/// A background workload.
// Parsed once per run, so the size of the larger variant costs nothing
// worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Open-model REST requests through the LB at a fixed rate.
    Api(ApiLoad),
    /// Tasks submitted at a rate or in a burst, each followed to its end.
    Tasks(TaskLoad),
    /// Package uploads, verified on every node and deleted afterwards.
    Upload(UploadLoad),
    /// The body-limit ladder: packages of 1 MiB, 2 MiB, 4 MiB, ... up to a
    /// ceiling, until the first is refused.
    BodyLimitLadder(LadderLoad),
    /// One package over a slow link: whether, when and how the LB cuts it.
    SlowUpload(SlowUpload),
    /// Simulated polling Tentacles, registered through the API, polling
    /// the nodes, and health-checked from every node.
    Fleet(FleetLoad),
    /// Closed-model users on goose: a test plan (ramp up, hold, ramp down)
    /// over a weighted mix of transactions.
    Load(LoadPhase),
}

impl Workload {
    /// Its key, as a scenario writes it.
    pub fn key(&self) -> &'static str {
        match self {
            Workload::Api(_) => "api",
            Workload::Tasks(_) => "tasks",
            Workload::Upload(_) => "upload",
            Workload::BodyLimitLadder(_) => "body_limit_ladder",
            Workload::SlowUpload(_) => "slow_upload",
            Workload::Fleet(_) => "fleet",
            Workload::Load(_) => "load",
        }
    }
}

/// A load phase: `users` goose users, each running one transaction after
/// another (closed model: a slow cluster slows them down), started over
/// `ramp_up`, held for `hold` and stopped over `ramp_down`. Every request
/// is also recorded in the history, so every check judges it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPhase {
    /// Users at the top of the plan.
    pub users: Spanned<u32>,
    /// When the ramp-up starts, after warm-up.
    #[serde(default = "defaults::zero")]
    pub at: Spanned<Duration>,
    /// Time to start every user, in whole seconds.
    #[serde(default = "defaults::zero")]
    pub ramp_up: Spanned<Duration>,
    /// Time every user runs, in whole seconds.
    pub hold: Spanned<Duration>,
    /// Time to stop every user, in whole seconds.
    #[serde(default = "defaults::zero")]
    pub ramp_down: Spanned<Duration>,
    /// Relative weights of the transactions.
    #[serde(default = "defaults::of_type")]
    pub mix: Spanned<LoadMix>,
    /// A user's pause after each transaction.
    #[serde(default)]
    pub think: Option<Spanned<Duration>>,
    /// A request without a complete response in this time fails.
    #[serde(default = "defaults::request_timeout")]
    pub timeout: Spanned<Duration>,
    /// The package file's size in an `upload` transaction.
    #[serde(default = "defaults::load_upload_size")]
    pub upload_size: Spanned<Size>,
    /// How long the script of a `task` transaction runs.
    #[serde(default = "defaults::load_task_work")]
    pub task_work: Spanned<Duration>,
    /// goose threshold rules, such as `p95<500ms`, `error-rate<1%` or
    /// `rps>=200`; each becomes a check of the run.
    #[serde(default)]
    pub thresholds: Vec<Spanned<String>>,
}

/// Relative weights of a load phase's transactions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoadMix {
    /// `GET /api/octopusservernodes/ping`.
    #[serde(default)]
    pub ping: u32,
    /// `GET /api/octopusservernodes`.
    #[serde(default)]
    pub nodes: u32,
    /// `GET /api`.
    #[serde(default)]
    pub root: u32,
    /// `GET /api/Spaces-1/packages`.
    #[serde(default)]
    pub packages: u32,
    /// Create an `AdHocScript` task and wait until it ends.
    #[serde(default)]
    pub task: u32,
    /// Upload a small package (deleted at the end of the run).
    #[serde(default)]
    pub upload: u32,
}

impl LoadMix {
    /// Each transaction's kind and weight, in the order goose registers
    /// them.
    pub fn weights(&self) -> [(Op, u32); 6] {
        [
            (Op::Ping, self.ping),
            (Op::Nodes, self.nodes),
            (Op::Root, self.root),
            (Op::Packages, self.packages),
            (Op::Task, self.task),
            (Op::Upload, self.upload),
        ]
    }

    /// The requests the phase's users send, as goose names them: each
    /// transaction's with a weight, and a task's reads of its state.
    pub fn request_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .weights()
            .into_iter()
            .filter(|(_, w)| *w > 0)
            .map(|(op, _)| op.goose_name())
            .collect();
        if self.task > 0 {
            names.push(Op::TaskRead.goose_name());
        }
        names
    }
}

impl Default for LoadMix {
    fn default() -> Self {
        Self {
            ping: 8,
            nodes: 1,
            root: 0,
            packages: 1,
            task: 0,
            upload: 0,
        }
    }
}

/// A fleet of simulated polling Tentacles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetLoad {
    /// How many Tentacles.
    pub tentacles: Spanned<u32>,
    /// Polling connections each Tentacle keeps to each endpoint it polls.
    #[serde(default = "defaults::one")]
    pub connections: Spanned<u32>,
    /// Which endpoints each Tentacle polls.
    #[serde(default = "defaults::of_type")]
    pub polls: Spanned<Polls>,
    /// How long a script "runs" on a Tentacle.
    #[serde(default = "defaults::script_time")]
    pub script: Spanned<Duration>,
    /// How long the fleet may take to connect before the workload goes on.
    #[serde(default = "defaults::connect_within")]
    pub connect_within: Spanned<Duration>,
    /// When health-check rounds start, after warm-up: each round queues
    /// one health task per node, pinned to it, over every Tentacle.
    #[serde(default)]
    pub health_checks: Vec<Spanned<Duration>>,
    /// Halibut's reconnect backoff: from `min` to `max`, with jitter.
    #[serde(default)]
    pub reconnect: Reconnect,
}

/// Which endpoints a fleet polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polls {
    /// Every node's own endpoint: the correct configuration.
    #[default]
    AllNodes,
    /// Only the LB's polling port, which spreads connections over the
    /// nodes: the common misconfiguration.
    Lb,
    /// Only this node.
    Node(String),
}

/// The bounds of the reconnect backoff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconnect {
    /// The shortest wait; Halibut: 5s.
    #[serde(default = "defaults::reconnect_min")]
    pub min: Spanned<Duration>,
    /// The longest wait; Halibut: 2m.
    #[serde(default = "defaults::reconnect_max")]
    pub max: Spanned<Duration>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            min: defaults::reconnect_min(),
            max: defaults::reconnect_max(),
        }
    }
}

/// The slow-upload probe: an `upload` of one package, throttled, with no
/// retry, so the report shows whether, when and how the LB cut it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowUpload {
    /// The package file's size.
    pub size: Spanned<Size>,
    /// The link's speed.
    pub rate: Spanned<Bandwidth>,
    /// When it starts, after warm-up.
    #[serde(default = "defaults::zero")]
    pub at: Spanned<Duration>,
    /// `lb`, or a node name.
    #[serde(default = "defaults::via_lb")]
    pub via: Spanned<String>,
    /// No byte either way for this long ends it.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: Spanned<Duration>,
}

impl SlowUpload {
    /// The same, as an upload workload.
    pub fn as_upload(&self) -> UploadLoad {
        UploadLoad {
            size: self.size.clone(),
            count: defaults::one(),
            concurrency: defaults::one(),
            at: self.at.clone(),
            via: self.via.clone(),
            throttle: Some(self.rate.clone()),
            overwrite_mode: crate::vocab::OverwriteMode::FailIfExists,
            connect_timeout: defaults::connect_timeout(),
            idle_timeout: self.idle_timeout.clone(),
            retries: defaults::spanned(0),
        }
    }
}

/// The body-limit ladder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderLoad {
    /// The first size; each next one is twice as large.
    #[serde(default = "defaults::ladder_from")]
    pub from: Spanned<Size>,
    /// The last size tried (the ceiling).
    #[serde(default = "defaults::ladder_to")]
    pub to: Spanned<Size>,
    /// When it starts, after warm-up.
    #[serde(default = "defaults::zero")]
    pub at: Spanned<Duration>,
    /// `lb`, or a node name.
    #[serde(default = "defaults::via_lb")]
    pub via: Spanned<String>,
    /// No byte either way for this long ends a step.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: Spanned<Duration>,
}

/// The sizes of a body-limit ladder: `from`, doubling, then the ceiling
/// itself.
pub fn ladder_sizes(from: u64, to: u64) -> Vec<u64> {
    let mut sizes = Vec::new();
    let mut size = from.max(1);
    while size < to {
        sizes.push(size);
        size = size.saturating_mul(2);
    }
    sizes.push(to);
    sizes
}

/// Package uploads: `count` packages of `size`, streamed as they are
/// generated, `concurrency` at a time, through the LB or to one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadLoad {
    /// Each package file's size.
    pub size: Spanned<Size>,
    /// Packages uploaded.
    #[serde(default = "defaults::one")]
    pub count: Spanned<u32>,
    /// Uploads at once.
    #[serde(default = "defaults::one")]
    pub concurrency: Spanned<u32>,
    /// When the first upload starts, after warm-up.
    #[serde(default = "defaults::zero")]
    pub at: Spanned<Duration>,
    /// `lb`, or a node name to upload to that node directly.
    #[serde(default = "defaults::via_lb")]
    pub via: Spanned<String>,
    /// A slow client link: at most this many bytes a second.
    #[serde(default)]
    pub throttle: Option<Spanned<Bandwidth>>,
    /// `overwriteMode` of the first attempt.
    #[serde(default)]
    pub overwrite_mode: crate::vocab::OverwriteMode,
    /// Time to connect.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: Spanned<Duration>,
    /// No byte either way for this long ends an attempt.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: Spanned<Duration>,
    /// Attempts after a timeout or a reset, by the retry policy.
    #[serde(default = "defaults::retries")]
    pub retries: Spanned<u32>,
}

/// A task workload: `AdHocScript` tasks that echo a marker and sleep for
/// `work`, submitted through the LB or straight to the nodes, each followed
/// until it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskLoad {
    /// Tasks submitted each second, from `at` to the end of the duration.
    #[serde(default)]
    pub rate: Option<Spanned<Rate>>,
    /// Tasks submitted at once, at `at`.
    #[serde(default)]
    pub burst: Option<Spanned<u32>>,
    /// When submission starts, after warm-up.
    #[serde(default = "defaults::zero")]
    pub at: Spanned<Duration>,
    /// How long each task runs.
    #[serde(default = "defaults::task_work")]
    pub work: Spanned<Duration>,
    /// Submit through the LB, or round robin straight to each node.
    #[serde(default)]
    pub via: Via,
    /// Submissions in flight at once.
    #[serde(default = "defaults::clients")]
    pub clients: Spanned<u32>,
    /// Time between two reads of the tasks' states.
    #[serde(default = "defaults::task_poll")]
    pub poll: Spanned<Duration>,
    /// After the settle phase, how long to wait for unfinished tasks.
    #[serde(default = "defaults::finish_within")]
    pub finish_within: Spanned<Duration>,
}

/// Where requests go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The load balancer.
    #[default]
    Lb,
    /// Each node directly, in turn.
    Nodes,
}

/// Open-model REST load: requests start on schedule whether or not earlier
/// ones have finished, so a slow cluster cannot slow the load down.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
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
