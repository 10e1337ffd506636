//! The typed scenario: what a YAML file may say, and nothing more.
//!
//! Every struct denies unknown fields and every kind (workload, fault,
//! check) is an externally tagged enum (`- kill: { node: n2, at: 20s }`),
//! the one serde form that keeps line, column and field path in errors.
//! Fields that the second validation pass must point at are `Spanned`.
//! docs/scenarios.md documents every field; keep the two in step.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::units::{Bandwidth, Duration, Percent, Rate, Size, StatusCodes};

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in run folders and reports.
    pub name: Spanned<String>,
    /// What the scenario proves, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Labels that `run --tags` and `--skip-tags` select by, such as
    /// `nightly`, `pre-upgrade` or `disruptive`.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
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
    /// A parameter matrix: the scenario runs once per combination on the
    /// embedded cluster, and the sweep's table compares them.
    #[serde(default)]
    pub sweep: Option<Spanned<Sweep>>,
}

/// The values a sweep tries; every combination of the axes given runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Node counts.
    #[serde(default)]
    pub nodes: Vec<u32>,
    /// CPUs per node.
    #[serde(default)]
    pub node_cpus: Vec<f64>,
    /// Cluster shapes, each a node count and CPUs per node together, in
    /// place of `nodes` and `node_cpus`: "4 small or 2 large".
    #[serde(default)]
    pub shapes: Vec<Shape>,
    /// Each node's task cap.
    #[serde(default)]
    pub task_cap: Vec<u32>,
    /// The load phase's users.
    #[serde(default)]
    pub users: Vec<u32>,
    /// LB presets.
    #[serde(default)]
    pub lb_preset: Vec<LbPreset>,
    /// Run each combination a second time with its last node killed from
    /// the start of the workload, to measure the capacity one node's death
    /// costs.
    #[serde(default = "defaults::yes")]
    pub one_node_down: bool,
}

/// A cluster shape of a sweep.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Nodes.
    pub nodes: u32,
    /// CPUs per node; unlimited when absent.
    #[serde(default)]
    pub node_cpus: Option<f64>,
}

/// The embedded reference cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Number of Octopus nodes, named n1, n2, ...
    #[serde(default = "defaults::nodes")]
    pub nodes: Spanned<u32>,
    /// Each node's MaxConcurrentTasks.
    #[serde(default = "defaults::task_cap")]
    pub task_cap: u32,
    /// CPUs each node may use, such as 0.5 or 2: a CFS quota in a cgroup
    /// where the harness may write one, else whole cores of CPU affinity
    /// (a fraction is then refused). Unlimited when absent.
    #[serde(default)]
    pub node_cpus: Option<Spanned<f64>>,
    /// How often each node writes LastSeen to the shared database.
    #[serde(default = "defaults::heartbeat")]
    pub heartbeat: Spanned<Duration>,
    /// A node whose LastSeen is older than this is shown IsOffline.
    #[serde(default = "defaults::offline_after")]
    pub offline_after: Spanned<Duration>,
    /// The built-in load balancer.
    #[serde(default)]
    pub lb: Lb,
    /// The task queue.
    #[serde(default)]
    pub tasks: TaskQueue,
    /// Where nodes keep task logs and packages.
    #[serde(default)]
    pub storage: Storage,
    /// The built-in package feed.
    #[serde(default)]
    pub packages: PackageFeed,
    /// Polling listeners on the nodes, for a `fleet` of polling Tentacles.
    #[serde(default)]
    pub polling: Option<PollingListeners>,
}

/// The nodes' Halibut polling listeners.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingListeners {
    /// How Tentacles reach each node.
    #[serde(default = "defaults::layout")]
    pub layout: Spanned<PollingLayout>,
    /// How long a polling connection waits for work before the server
    /// sends the null message; Octopus: 30s.
    #[serde(default = "defaults::poll_wait")]
    pub poll_wait: Spanned<Duration>,
    /// How long a request may wait for a Tentacle to collect it; Octopus:
    /// 2m.
    #[serde(default = "defaults::pickup_timeout")]
    pub pickup_timeout: Spanned<Duration>,
}

/// The two documented ways to reach each node of an HA cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollingLayout {
    /// Each node on its own address, all on the same port.
    #[default]
    UniqueAddress,
    /// One address, the LB's, with a port per node forwarded at L4.
    UniquePort,
}

/// The reference nodes' package feed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFeed {
    /// Work after an upload's body has arrived, per GiB, before the node
    /// answers: Octopus's post-upload processing, which trips LB response
    /// timeouts.
    #[serde(default)]
    pub delay_per_gib: Option<Spanned<Duration>>,
    /// The node stores the package before that work rather than after it:
    /// an LB that gives up meanwhile answers an error for a package that
    /// is there.
    #[serde(default)]
    pub store_first: bool,
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            nodes: defaults::nodes(),
            task_cap: defaults::task_cap(),
            node_cpus: None,
            heartbeat: defaults::heartbeat(),
            offline_after: defaults::offline_after(),
            lb: Lb::default(),
            tasks: TaskQueue::default(),
            storage: Storage::default(),
            packages: PackageFeed::default(),
            polling: None,
        }
    }
}

/// How the reference nodes run the task queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQueue {
    /// Time between two checks of the queue by one node; Octopus: 20s.
    #[serde(default = "defaults::queue_poll")]
    pub poll: Spanned<Duration>,
    /// A node not seen for this long has its running tasks canceled by
    /// another node; Octopus: about an hour.
    #[serde(default = "defaults::orphan_after")]
    pub orphan_after: Spanned<Duration>,
    /// How a node claims a task.
    #[serde(default)]
    pub claim: Claim,
}

impl Default for TaskQueue {
    fn default() -> Self {
        Self {
            poll: defaults::queue_poll(),
            orphan_after: defaults::orphan_after(),
            claim: Claim::default(),
        }
    }
}

/// How a node claims a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Read and claim in one write transaction, as Octopus does.
    #[default]
    Atomic,
    /// Read, then claim a moment later without checking again: the Octopus
    /// 2023.3 regression, under which two nodes ran one deployment.
    Racy,
}

/// Where the nodes keep task logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// One folder for every node, as Octopus HA requires.
    #[default]
    Shared,
    /// A folder per node: the misconfiguration where "refreshing fixes it".
    PerNode,
}

/// The built-in load balancer: round robin over healthy nodes. A preset
/// gives the documented defaults of a real LB; fields set here override
/// it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lb {
    /// Which LB runs: the built-in one, or a real HAProxy or nginx, its
    /// configuration generated from these settings.
    #[serde(default)]
    pub engine: LbEngine,
    /// The defaults of a real LB.
    #[serde(default)]
    pub preset: Option<LbPreset>,
    /// Active health checks.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// How long the LB waits for a node's response headers once the request
    /// body has been forwarded (GCP's `timeoutSec`, Envoy's route timeout,
    /// nginx's `proxy_read_timeout`) before it answers 504.
    #[serde(default)]
    pub backend_timeout: Option<Spanned<Duration>>,
    /// Largest request body the LB forwards; larger ones get 413, as with
    /// nginx's `client_max_body_size` (IIS answers 404.13). No limit when
    /// absent.
    #[serde(default)]
    pub max_body: Option<Spanned<Size>>,
    /// No byte in either direction for this long ends the request with a
    /// 504, as an AWS ALB's idle timeout.
    #[serde(default)]
    pub idle_timeout: Option<Spanned<Duration>>,
    /// Longest wait between two reads of the request body before a 408, as
    /// nginx's `client_body_timeout`.
    #[serde(default)]
    pub body_read_timeout: Option<Spanned<Duration>>,
    /// Read the whole request body before forwarding it, as nginx's
    /// `proxy_request_buffering on`.
    #[serde(default)]
    pub request_buffering: Option<bool>,
}

/// The program in front of the nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LbEngine {
    /// The harness's own LB.
    #[default]
    Builtin,
    /// HAProxy (`haproxy` on the PATH), in `mode http`.
    Haproxy,
    /// nginx (`nginx` on the PATH), with passive health checks only, as
    /// nginx OSS has.
    Nginx,
}

impl std::str::FromStr for LbEngine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "builtin" => Ok(LbEngine::Builtin),
            "haproxy" => Ok(LbEngine::Haproxy),
            "nginx" => Ok(LbEngine::Nginx),
            _ => Err(format!("unknown LB {s:?}: use builtin, haproxy or nginx")),
        }
    }
}

/// Real LBs' documented defaults for what breaks uploads
/// (docs/lb-limits.md, "Defaults that break uploads").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LbPreset {
    /// AWS ALB: 60s idle timeout; no body limit.
    #[serde(rename = "alb")]
    Alb,
    /// nginx: 1 MiB body limit (413), 60s between body reads (408), 60s
    /// for the response, the body buffered before it is forwarded.
    #[serde(rename = "nginx-default")]
    NginxDefault,
    /// HAProxy with no timeouts set: no limit of any kind.
    #[serde(rename = "haproxy-default")]
    HaproxyDefault,
    /// IIS request filtering: 30,000,000 bytes, refused with 404.13.
    #[serde(rename = "iis-default")]
    IisDefault,
    /// GCP external HTTP(S) LB: 30s for the response.
    #[serde(rename = "gcp-default")]
    GcpDefault,
    /// What Octopus's LB docs ask for: no body limit, and timeouts long
    /// enough for multi-gigabyte packages (30 minutes).
    #[serde(rename = "octopus-recommended")]
    OctopusRecommended,
}

/// The LB's limits once the preset and the fields are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct LbLimits {
    /// For the response headers, after the body.
    pub backend_timeout: Option<std::time::Duration>,
    /// Largest body.
    pub max_body: Option<u64>,
    /// The status a body over `max_body` gets: 413, or IIS's 404 (.13).
    pub too_large_status: u16,
    /// No byte either way.
    pub idle_timeout: Option<std::time::Duration>,
    /// Between body reads.
    pub body_read_timeout: Option<std::time::Duration>,
    /// Buffer the body first.
    pub request_buffering: bool,
}

impl Lb {
    /// The limits in force: the fields set, then the preset, then the
    /// built-in defaults (a 5s response timeout, nothing else).
    pub fn limits(&self) -> LbLimits {
        use std::time::Duration as D;
        let mut l = match self.preset {
            None => LbLimits {
                backend_timeout: Some(D::from_secs(5)),
                max_body: None,
                too_large_status: 413,
                idle_timeout: None,
                body_read_timeout: None,
                request_buffering: false,
            },
            Some(p) => p.limits(),
        };
        if let Some(t) = &self.backend_timeout {
            l.backend_timeout = Some(t.value.get());
        }
        if let Some(m) = &self.max_body {
            l.max_body = Some(m.value.bytes());
        }
        if let Some(t) = &self.idle_timeout {
            l.idle_timeout = Some(t.value.get());
        }
        if let Some(t) = &self.body_read_timeout {
            l.body_read_timeout = Some(t.value.get());
        }
        if let Some(b) = self.request_buffering {
            l.request_buffering = b;
        }
        l
    }
}

impl LbPreset {
    /// The preset's limits.
    pub fn limits(self) -> LbLimits {
        use std::time::Duration as D;
        let none = LbLimits {
            backend_timeout: None,
            max_body: None,
            too_large_status: 413,
            idle_timeout: None,
            body_read_timeout: None,
            request_buffering: false,
        };
        match self {
            LbPreset::Alb => LbLimits {
                idle_timeout: Some(D::from_secs(60)),
                ..none
            },
            LbPreset::NginxDefault => LbLimits {
                backend_timeout: Some(D::from_secs(60)),
                max_body: Some(1024 * 1024),
                body_read_timeout: Some(D::from_secs(60)),
                request_buffering: true,
                ..none
            },
            LbPreset::HaproxyDefault => none,
            LbPreset::IisDefault => LbLimits {
                max_body: Some(30_000_000),
                too_large_status: 404,
                ..none
            },
            LbPreset::GcpDefault => LbLimits {
                backend_timeout: Some(D::from_secs(30)),
                ..none
            },
            LbPreset::OctopusRecommended => LbLimits {
                backend_timeout: Some(D::from_secs(1800)),
                idle_timeout: Some(D::from_secs(1800)),
                ..none
            },
        }
    }

    /// The name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            LbPreset::Alb => "alb",
            LbPreset::NginxDefault => "nginx-default",
            LbPreset::HaproxyDefault => "haproxy-default",
            LbPreset::IisDefault => "iis-default",
            LbPreset::GcpDefault => "gcp-default",
            LbPreset::OctopusRecommended => "octopus-recommended",
        }
    }
}

/// Health checks: active ones modelled on an AWS ALB target group, or
/// passive ones modelled on nginx OSS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// When false the LB never checks, and keeps routing to dead nodes.
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Active probes, or passive checks on real traffic only.
    #[serde(default)]
    pub mode: HealthMode,
    /// Passive: failed connections that take a node out.
    #[serde(default = "defaults::max_fails")]
    pub max_fails: Spanned<u32>,
    /// Passive: the window in which `max_fails` count, and how long the
    /// node then stays out.
    #[serde(default = "defaults::fail_timeout")]
    pub fail_timeout: Spanned<Duration>,
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
    pub accept: Spanned<StatusCodes>,
}

/// How the LB finds out a node is unwell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthMode {
    /// Probes of the health-check path (AWS ALB, HAProxy, nginx Plus).
    #[default]
    Active,
    /// Only failed connections of real requests count, and such a request
    /// is retried on the next node (nginx OSS): a drained node's 418 never
    /// takes it out.
    Passive,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: HealthMode::default(),
            max_fails: defaults::max_fails(),
            fail_timeout: defaults::fail_timeout(),
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
    #[serde(default = "defaults::load_mix")]
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
    #[serde(default = "defaults::polls")]
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

/// A fault, injected at `at` and undone after `for` or in the heal phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the node; the undo starts a new process.
    Kill(NodeFault),
    /// SIGSTOP the node (it accepts TCP but never answers); the undo sends
    /// SIGCONT.
    Pause(NodeFault),
    /// SIGKILL the node and start a new process at once.
    Restart(RestartFault),
    /// Put the node in drain (maintenance) mode through the REST API; the
    /// undo takes it out again.
    Drain(NodeFault),
    /// The documented rolling maintenance of one node: drain, wait until
    /// its tasks are done, restart it, undrain it.
    Maintenance(MaintenanceFault),
}

/// Parameters of a rolling maintenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceFault {
    /// Name that checks refer to; `maintenance-<node>` when absent.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A node name, or `one` (chosen with the seed).
    pub node: Spanned<String>,
    /// When the drain starts, after warm-up.
    pub at: Spanned<Duration>,
    /// Least time from the drain to the restart, so the LB has taken the
    /// node out (at least its health-check window).
    #[serde(default = "defaults::restart_after")]
    pub restart_after: Spanned<Duration>,
    /// Longest wait for the node's tasks to finish; the restart then goes
    /// ahead, and cancels what still runs, as `--drain --wait` does.
    #[serde(default = "defaults::maintenance_wait")]
    pub wait: Spanned<Duration>,
}

/// Parameters of a fault that holds a node down for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
            | Check::EveryNodeReachesEveryTentacle(c) => &c.name,
            Check::ReconnectStorm(c) => &c.name,
            Check::RpcLatency(c) => &c.name,
            Check::NoRegression(c) => &c.name,
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
            Fault::Drain(_) => "drain",
            Fault::Maintenance(_) => "maintenance",
        }
    }

    /// The node selector.
    pub fn node(&self) -> &Spanned<String> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) | Fault::Drain(f) => &f.node,
            Fault::Restart(f) => &f.node,
            Fault::Maintenance(f) => &f.node,
        }
    }

    /// When the fault is injected, after warm-up.
    pub fn at(&self) -> &Spanned<Duration> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) | Fault::Drain(f) => &f.at,
            Fault::Restart(f) => &f.at,
            Fault::Maintenance(f) => &f.at,
        }
    }

    /// How long the fault holds before its undo, if the scenario says.
    pub fn hold(&self) -> Option<&Spanned<Duration>> {
        match self {
            Fault::Kill(f) | Fault::Pause(f) | Fault::Drain(f) => f.hold.as_ref(),
            Fault::Restart(_) | Fault::Maintenance(_) => None,
        }
    }

    /// The name checks refer to: the `name` field or `<kind>-<node>`.
    pub fn name(&self) -> String {
        let name = match self {
            Fault::Kill(f) | Fault::Pause(f) | Fault::Drain(f) => &f.name,
            Fault::Restart(f) => &f.name,
            Fault::Maintenance(f) => &f.name,
        };
        name.as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| format!("{}-{}", self.kind(), self.node().value))
    }
}

/// A value with no place in a file, for scenarios built in code.
pub fn spanned<T>(value: T) -> Spanned<T> {
    defaults::spanned(value)
}

/// Defaults, in one place so docs/scenarios.md can quote them.
pub(crate) mod defaults {
    use super::*;

    pub(super) fn spanned<T>(value: T) -> Spanned<T> {
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
    pub fn accept() -> Spanned<StatusCodes> {
        spanned(StatusCodes::range(200, 200))
    }
    pub fn ladder_from() -> Spanned<Size> {
        spanned(Size::from_bytes(1 << 20))
    }
    pub fn ladder_to() -> Spanned<Size> {
        spanned(Size::from_bytes(2_254_857_830))
    }
    pub fn one() -> Spanned<u32> {
        spanned(1)
    }
    pub fn layout() -> Spanned<PollingLayout> {
        spanned(PollingLayout::UniqueAddress)
    }
    pub fn polls() -> Spanned<Polls> {
        spanned(Polls::AllNodes)
    }
    pub fn poll_wait() -> Spanned<Duration> {
        spanned(Duration::from_secs(30))
    }
    pub fn pickup_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(120))
    }
    pub fn script_time() -> Spanned<Duration> {
        spanned(Duration::from_millis(200))
    }
    pub fn connect_within() -> Spanned<Duration> {
        spanned(Duration::from_secs(30))
    }
    pub fn reconnect_min() -> Spanned<Duration> {
        spanned(Duration::from_secs(5))
    }
    pub fn reconnect_max() -> Spanned<Duration> {
        spanned(Duration::from_secs(120))
    }
    pub fn via_lb() -> Spanned<String> {
        spanned("lb".to_string())
    }
    pub fn connect_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(10))
    }
    pub fn idle_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(120))
    }
    pub fn retries() -> Spanned<u32> {
        spanned(2)
    }
    pub fn max_fails() -> Spanned<u32> {
        spanned(1)
    }
    pub fn fail_timeout() -> Spanned<Duration> {
        spanned(Duration::from_secs(10))
    }
    pub fn queue_poll() -> Spanned<Duration> {
        spanned(Duration::from_secs(20))
    }
    pub fn orphan_after() -> Spanned<Duration> {
        spanned(Duration::from_secs(3600))
    }
    pub fn zero() -> Spanned<Duration> {
        spanned(Duration::from_secs(0))
    }
    pub fn task_work() -> Spanned<Duration> {
        spanned(Duration::from_secs(1))
    }
    pub fn clients() -> Spanned<u32> {
        spanned(4)
    }
    pub fn task_poll() -> Spanned<Duration> {
        spanned(Duration::from_millis(250))
    }
    pub fn finish_within() -> Spanned<Duration> {
        spanned(Duration::from_secs(60))
    }
    pub fn restart_after() -> Spanned<Duration> {
        spanned(Duration::from_secs(5))
    }
    pub fn maintenance_wait() -> Spanned<Duration> {
        spanned(Duration::from_secs(600))
    }
    pub fn ping_within() -> Spanned<Duration> {
        spanned(Duration::from_secs(2))
    }
    pub fn clock_skew() -> Duration {
        Duration::from_millis(250)
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
    pub fn load_mix() -> Spanned<LoadMix> {
        spanned(LoadMix::default())
    }
    pub fn load_upload_size() -> Spanned<Size> {
        spanned(Size::from_bytes(64 * 1024))
    }
    pub fn load_task_work() -> Spanned<Duration> {
        spanned(Duration::from_millis(100))
    }
    pub fn max_throughput_drop() -> Spanned<Percent> {
        spanned("10%".parse().expect("valid literal"))
    }
    pub fn max_p99_rise() -> Spanned<Percent> {
        spanned("20%".parse().expect("valid literal"))
    }
    pub fn p99_slack() -> Spanned<Duration> {
        spanned(Duration::from_millis(2))
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
        "workload",
        "tasks",
        "AdHocScript tasks at a rate or in a burst, through the LB or to each node, each followed to its end",
    ),
    (
        "workload",
        "upload",
        "packages streamed to the built-in feed through the LB or one node, verified on every node, then deleted",
    ),
    (
        "workload",
        "body_limit_ladder",
        "packages of 1 MiB, 2 MiB, 4 MiB, ... up to a ceiling (2.1 GiB) until the LB refuses one; reports where and how",
    ),
    (
        "workload",
        "slow_upload",
        "one package over a throttled link, no retry: whether, when and how the LB cuts it",
    ),
    (
        "workload",
        "fleet",
        "simulated polling Tentacles (Halibut over mutual TLS), registered through the API, polling all nodes, one node or the LB; health-check rounds pinned to each node",
    ),
    (
        "workload",
        "load",
        "closed-model users on goose: ramp up, hold, ramp down over a mix of ping, node list, API root, package list, task (create and wait) and small upload; goose thresholds become checks",
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
        "fault",
        "drain",
        "drain a node through the REST API (IsInMaintenanceMode); undone by the undrain",
    ),
    (
        "fault",
        "maintenance",
        "rolling maintenance of a node: drain, wait for its tasks, restart, undrain",
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
    (
        "check",
        "drain_contract",
        "ping 418 then 200, the LB routes away without a failed request, no task starts on the drained node and its tasks finish",
    ),
    (
        "check",
        "exactly_once",
        "no task runs on two nodes or twice, and every task ends within a bound",
    ),
    (
        "check",
        "task_cap",
        "no node runs more tasks than its cap; reports distribution and pick-up latency",
    ),
    (
        "check",
        "orphaned_tasks",
        "after a kill, the node's running tasks end within a bound and are not run again",
    ),
    (
        "check",
        "shared_storage",
        "each task log reads byte for byte the same through every node",
    ),
    (
        "check",
        "upload_intact",
        "every upload arrived (or was found intact after a failure), and its Hash and bytes match on every node",
    ),
    (
        "check",
        "upload_answered",
        "every upload attempt was answered with success (no error status, no cut), as octo push sees it; names the status, the time after the last byte, the LB or node that answered and the LB setting to blame; on by default with uploads",
    ),
    (
        "check",
        "upload_throughput",
        "every upload went at least as fast as a floor, in MiB/s to the last byte, whatever the answer (a failed answer is said)",
    ),
    (
        "check",
        "ladder_reaches",
        "the body-limit ladder got a package of at least a size through; else names the limit and its likely source",
    ),
    (
        "check",
        "polling_fan_out",
        "every Tentacle of the fleet is connected to every node; lists the missing pairs",
    ),
    (
        "check",
        "polling_certificate",
        "every node's polling endpoint serves the cluster's certificate (TCP pass-through, no TLS offload)",
    ),
    (
        "check",
        "every_node_reaches_every_tentacle",
        "health checks pinned to each node reach every Tentacle; names the node and Tentacle pairs that failed",
    ),
    (
        "check",
        "reconnect_storm",
        "after a node restarts, every Tentacle is back on it within a bound; reports time to full fan-out and connection attempts/s",
    ),
    (
        "check",
        "rpc_latency",
        "a percentile of the polling RPC round trips (health-check calls) stays under a bound",
    ),
    (
        "check",
        "no_regression",
        "against run --baseline: successful requests/s (and tasks/s) not down, p99 not up, by more than a tolerance; names the metric and both values",
    ),
];
