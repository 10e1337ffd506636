//! The cluster a scenario asks for: nodes, the LB and its health checks,
//! the task queue, storage, the package feed and polling listeners.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::{Duration, Size, StatusCodes};
use super::defaults;

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
    /// Nodes that misbehave on purpose, by name, so that a scenario can
    /// show a check catching them; every other node behaves as a correct
    /// Octopus node does (docs/faults.md, "Broken nodes").
    #[serde(default)]
    pub behaviour: std::collections::BTreeMap<String, Spanned<NodeBehaviour>>,
}

/// How one node of the embedded cluster departs from a correct one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeBehaviour {
    /// What it does when its database calls start failing.
    #[serde(default)]
    pub on_database_loss: OnDatabaseLoss,
    /// It answers 201 to an upload before the package's record is written
    /// (a moment later), so a database lost meanwhile loses a package the
    /// client was told is stored.
    #[serde(default)]
    pub acknowledge_before_commit: bool,
}

/// What a node does when it loses the shared database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDatabaseLoss {
    /// Answers errors meanwhile and carries on once it is back (correct).
    #[default]
    Reconnect,
    /// Its process ends (Octopus 3.17.8, OctopusDeploy/Issues #4012).
    Exit,
    /// Keeps failing until it is restarted.
    NoReconnect,
}

/// The nodes' Halibut polling listeners.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingListeners {
    /// How Tentacles reach each node.
    #[serde(default = "defaults::of_type")]
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
            behaviour: Default::default(),
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
