//! The capacity search a scenario may ask for in place of its workload,
//! and the rule by which the load generator counts itself the bottleneck
//! (docs/capacity.md, "Finding the knee").

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::super::units::{Duration, Percent, Rate, Size};
use super::defaults;
use super::workloads::{Mix, TaskLoad, Via};

/// A search for the highest load the cluster sustains under an objective:
/// open-model load in steps that grow until one misses the objective,
/// then a bisection between the last step that met it and the first that
/// did not; of REST requests, of tasks, of uploads at once, or of any of
/// them one after the other. It
/// runs with every node, then again with one node drained, two, ..., as
/// `drain` asks. Each step lasts the scenario's `duration`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// The REST search.
    #[serde(default)]
    pub api: Option<ApiSearch>,
    /// The task search.
    #[serde(default)]
    pub tasks: Option<TaskSearch>,
    /// The search for how many uploads at once the cluster takes.
    #[serde(default)]
    pub uploads: Option<UploadSearch>,
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

/// The task search: `AdHocScript` tasks of fixed work offered at rising
/// rates, against the nodes' task caps. A task's pick-up runs from its
/// intended submission to its start, so a queue that grows shows as
/// pick-up time, not as a quietly lower rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSearch {
    /// The first step's rate of submissions.
    pub start: Spanned<Rate>,
    /// As for the REST search.
    #[serde(default = "defaults::growth")]
    pub growth: Spanned<f64>,
    /// The highest rate offered.
    pub ceiling: Spanned<Rate>,
    /// As for the REST search.
    #[serde(default = "defaults::resolution")]
    pub resolution: Spanned<Percent>,
    /// How long each task's script runs.
    #[serde(default = "defaults::task_work")]
    pub work: Spanned<Duration>,
    /// What a step must meet to count as sustained.
    pub objective: TaskObjective,
    /// Time between two reads of the tasks' states.
    #[serde(default = "defaults::task_poll")]
    pub poll: Spanned<Duration>,
}

impl TaskSearch {
    /// A task workload at `rate` for a step: through the LB, with no bound
    /// on submissions in flight that a step could reach (a submission
    /// waiting for a client would be the generator's delay, not the
    /// cluster's).
    pub fn load(&self, rate: Rate) -> TaskLoad {
        TaskLoad {
            rate: Some(defaults::spanned(rate)),
            burst: None,
            at: defaults::zero(),
            work: self.work.clone(),
            via: Via::Lb,
            clients: defaults::spanned(10_000),
            poll: self.poll.clone(),
            finish_within: defaults::finish_within(),
        }
    }

    /// How long a step waits after its last submission for its tasks to
    /// start and end: the longest the objective lets a task take (its
    /// pick-up bound and its work, or its duration bound), and two reads
    /// of their states. What is left then has missed it, and is canceled.
    pub fn wait_after(&self) -> std::time::Duration {
        let o = &self.objective;
        let work = self.work.value.get();
        let bound = [
            o.pickup.as_ref().map(|p| p.value.get() + work),
            o.duration.as_ref().map(|d| d.value.get()),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(work);
        bound + 2 * self.poll.value.get()
    }
}

/// The upload search: packages of one size uploaded through the LB by
/// `start`, then more, uploaders at once, each uploading one package after
/// another for the step, and on until the last upload begun in it has
/// ended, so that each has that many at once all its life (a closed model:
/// the question is how many transfers at once, not how many a second).
/// An upload's duration runs from its start (connecting included) to its
/// answer; one still running when the step has waited its bound after the
/// hold is cut, and counts as over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSearch {
    /// Each package file's size.
    pub size: Spanned<Size>,
    /// Uploads at once in the first step.
    pub start: Spanned<u32>,
    /// As for the REST search; each step is a whole number of uploads at
    /// once, at least one more than the step before.
    #[serde(default = "defaults::growth")]
    pub growth: Spanned<f64>,
    /// The most uploads at once.
    pub ceiling: Spanned<u32>,
    /// As for the REST search; the bisection also ends once the bracket
    /// is two neighbouring counts.
    #[serde(default = "defaults::resolution")]
    pub resolution: Spanned<Percent>,
    /// What a step must meet to count as sustained.
    pub objective: UploadObjective,
    /// Time to connect.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: Spanned<Duration>,
    /// No byte either way for this long ends an upload.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: Spanned<Duration>,
}

/// An upload step's objective.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadObjective {
    /// The 99th percentile of an upload's duration, from its start
    /// (connecting included) to its answer, stays under this; at most
    /// the scenario's `duration`.
    pub duration: Spanned<Duration>,
    /// At most this share of the step's uploads fail (refused, cut by a
    /// timeout, or answered with an error).
    #[serde(default = "defaults::objective_errors")]
    pub max_failed: Spanned<Percent>,
}

/// A task step's objective: a pick-up bound, a duration bound or both,
/// and the share of tasks that may fail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskObjective {
    /// The 99th percentile of pick-up, from each task's intended
    /// submission to its start, stays under this.
    #[serde(default)]
    pub pickup: Option<Spanned<Duration>>,
    /// The 99th percentile of duration, from each task's intended
    /// submission to its end, stays under this.
    #[serde(default)]
    pub duration: Option<Spanned<Duration>>,
    /// At most this share of the step's tasks fail (a submission refused,
    /// a task Failed or TimedOut).
    #[serde(default = "defaults::objective_errors")]
    pub max_failed: Spanned<Percent>,
}

impl TaskObjective {
    /// What a step's p50 and p99 are of: pick-up where it is bounded,
    /// else duration.
    pub fn measure(&self) -> &'static str {
        if self.pickup.is_some() {
            "pick-up"
        } else {
            "duration"
        }
    }

    /// The bound on that measure's p99.
    pub fn bound(&self) -> Option<&Spanned<Duration>> {
        self.pickup.as_ref().or(self.duration.as_ref())
    }
}

/// Which search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    /// REST requests.
    Api,
    /// Tasks.
    Tasks,
    /// Uploads at once.
    Uploads,
}

impl SearchKind {
    /// As the scenario and the report name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Tasks => "tasks",
            Self::Uploads => "uploads",
        }
    }

    /// What its steps offer.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Api => "req/s",
            Self::Tasks => "tasks/s",
            Self::Uploads => "uploads at once",
        }
    }

    /// What a step's achieved figure counts: what got through per second
    /// of its hold.
    pub fn achieved_unit(self) -> &'static str {
        match self {
            Self::Api => "req/s",
            Self::Tasks => "tasks/s",
            Self::Uploads => "MiB/s",
        }
    }
}

/// A search's ladder and bisection, whichever its kind.
#[derive(Debug, Clone, Copy)]
pub struct Ladder {
    /// The first rate.
    pub start: f64,
    /// The factor from one rung to the next.
    pub growth: f64,
    /// The highest rate.
    pub ceiling: f64,
    /// The bisection's end, as a share of the bracket's lower end.
    pub resolution: f64,
    /// Steps are whole numbers (uploads at once).
    pub whole: bool,
}

impl Ladder {
    /// The rung after `at`.
    pub fn next(&self, at: f64) -> f64 {
        let up = at * self.growth;
        let up = if self.whole {
            up.ceil().max(at + 1.0)
        } else {
            up
        };
        up.min(self.ceiling)
    }

    /// The step between a bracket's ends, or None once it is narrow
    /// enough.
    pub fn between(&self, lo: f64, hi: f64) -> Option<f64> {
        if (hi - lo) / lo <= self.resolution || (self.whole && hi - lo <= 1.0) {
            return None;
        }
        let mid = (lo + hi) / 2.0;
        Some(if self.whole { mid.floor() } else { mid })
    }
}

impl Capacity {
    /// The searches asked for, in the order they run at each node count.
    pub fn searches(&self) -> Vec<SearchKind> {
        let mut out = Vec::new();
        if self.api.is_some() {
            out.push(SearchKind::Api);
        }
        if self.tasks.is_some() {
            out.push(SearchKind::Tasks);
        }
        if self.uploads.is_some() {
            out.push(SearchKind::Uploads);
        }
        out
    }

    /// A search's ladder; None when the scenario does not ask for it.
    pub fn ladder(&self, kind: SearchKind) -> Option<Ladder> {
        let of = |start: &Spanned<Rate>,
                  growth: &Spanned<f64>,
                  ceiling: &Spanned<Rate>,
                  resolution: &Spanned<Percent>| Ladder {
            start: start.value.get(),
            growth: growth.value,
            ceiling: ceiling.value.get(),
            resolution: resolution.value.fraction(),
            whole: false,
        };
        match kind {
            SearchKind::Api => self
                .api
                .as_ref()
                .map(|a| of(&a.start, &a.growth, &a.ceiling, &a.resolution)),
            SearchKind::Tasks => self
                .tasks
                .as_ref()
                .map(|t| of(&t.start, &t.growth, &t.ceiling, &t.resolution)),
            SearchKind::Uploads => self.uploads.as_ref().map(|u| Ladder {
                start: f64::from(u.start.value),
                growth: u.growth.value,
                ceiling: f64::from(u.ceiling.value),
                resolution: u.resolution.value.fraction(),
                whole: true,
            }),
        }
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
