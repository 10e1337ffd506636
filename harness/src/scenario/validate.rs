//! The second pass: checks that need more than one field at a time (node
//! names against the cluster size, times against the duration, checks
//! against the faults they judge) and reports every problem, not just the
//! first, each located by line, column and field path.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::{Location, Spanned};

use super::model::{
    ApiLoad, Check, Fault, FleetLoad, HealthMode, LadderLoad, LbEngine, LoadPhase, Mix,
    PollingLayout, Polls, Scenario, TaskLoad, UploadLoad, Workload,
};
use super::problem::Problem;
use super::units::Duration;
use super::units::Size;
use crate::limits::MAX_STORED_BYTES;

/// Most nodes the embedded cluster starts; each takes a loopback address.
pub const MAX_NODES: u32 = 16;

/// Most users of one load phase.
const MAX_USERS: u32 = 10_000;

/// Largest package of a load phase's upload transaction.
const MAX_LOAD_UPLOAD: u64 = 64 << 20;

/// Most memory a load phase's packages may take at once.
const MAX_LOAD_UPLOAD_MEMORY: u64 = 1 << 30;

/// Most CPUs one node may be given.
const MAX_NODE_CPUS: f64 = 256.0;

/// Longest duration of any kind in a scenario: a day. Longer runs are a
/// typo, and the bound keeps every time sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Largest package the upload workload makes: far past any real one.
const MAX_UPLOAD: Size = Size::from_bytes(1 << 40);

/// Slowest API or task rate: one an hour.
const MIN_RATE: f64 = 1.0 / 3600.0;

/// Fastest task rate, and largest burst: far past any real cluster.
const MAX_TASK_RATE: f64 = 10_000.0;
const MAX_BURST: u32 = 100_000;

/// Most Tentacles in one fleet.
const MAX_TENTACLES: u32 = 10_000;

/// Most polling connections one harness process keeps (each is a TLS
/// session and a task; file descriptors are the limit).
const MAX_POLLING_CONNECTIONS: u64 = 20_000;

/// Every problem in a parsed scenario, sorted by position.
pub fn validate(s: &Scenario) -> Result<(), Vec<Problem>> {
    validate_for_nodes(s, None)
}

/// As [`validate`], with the node names of a real target instead of the
/// embedded cluster's n1, n2, ...
pub fn validate_for_nodes(s: &Scenario, nodes: Option<&[String]>) -> Result<(), Vec<Problem>> {
    let mut v = Validator {
        nodes: nodes.map(<[String]>::to_vec),
        ..Validator::default()
    };
    v.scenario(s);
    if v.problems.is_empty() {
        Ok(())
    } else {
        v.problems.sort_by_key(|p| (p.line, p.column));
        Err(v.problems)
    }
}

/// A tag as scenarios and `--tags` spell it.
pub fn is_tag(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The node names of an embedded cluster of `n` nodes.
pub fn node_names(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

impl Scenario {
    /// The API workload, if the scenario has one.
    pub fn api_load(&self) -> Option<&ApiLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Api(api) => Some(api),
            _ => None,
        })
    }

    /// The upload workload, if the scenario has one (a slow upload is
    /// one, throttled and without retries).
    pub fn upload_load(&self) -> Option<UploadLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Upload(u) => Some(u.clone()),
            Workload::SlowUpload(u) => Some(u.as_upload()),
            _ => None,
        })
    }

    /// The most package bytes a run keeps on the cluster's storage at
    /// once: every upload's package (the run deletes them at its end, not
    /// as it goes), each step of the body-limit ladder, and, where the LB
    /// buffers request bodies, a spooled copy of each upload in flight.
    /// The load phase's small packages are left out: how many it makes
    /// depends on the cluster's speed.
    pub fn stored_at_most(&self) -> u64 {
        let upload = self.upload_load().map_or(0, |u| {
            let size = u.size.value.bytes();
            let kept = size.saturating_mul(u.count.value.into());
            let spooled = if self.cluster.lb.limits().request_buffering {
                size.saturating_mul(u.concurrency.value.min(u.count.value).into())
            } else {
                0
            };
            kept.saturating_add(spooled)
        });
        let ladder = self.ladder().map_or(0, |l| {
            super::model::ladder_sizes(l.from.value.bytes(), l.to.value.bytes())
                .into_iter()
                .fold(0u64, u64::saturating_add)
        });
        upload.saturating_add(ladder)
    }

    /// The body-limit ladder, if the scenario has one.
    pub fn ladder(&self) -> Option<&LadderLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::BodyLimitLadder(l) => Some(l),
            _ => None,
        })
    }

    /// The fleet of polling Tentacles, if the scenario has one.
    pub fn fleet(&self) -> Option<&FleetLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Fleet(f) => Some(f),
            _ => None,
        })
    }

    /// The goose load phase, if the scenario has one.
    pub fn load_phase(&self) -> Option<&LoadPhase> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Load(l) => Some(l),
            _ => None,
        })
    }

    /// The task workload, if the scenario has one.
    pub fn task_load(&self) -> Option<&TaskLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Tasks(t) => Some(t),
            _ => None,
        })
    }
}

impl ApiLoad {
    /// The request mix, or the default one.
    pub fn mix(&self) -> Mix {
        self.mix.as_ref().map(|m| m.value).unwrap_or_default()
    }
}

/// Pairs `(earlier, later, place)` of fault indices whose spans overlap.
fn overlaps<'a>(
    spans: impl Iterator<Item = &'a (Duration, Duration, usize)>,
    place: &str,
) -> Vec<(usize, usize, String)> {
    let mut spans: Vec<_> = spans.copied().collect();
    spans.sort();
    spans
        .windows(2)
        .filter(|pair| pair[1].0 <= pair[0].1)
        .map(|pair| (pair[0].2, pair[1].2, place.to_string()))
        .collect()
}

/// A whole-number field's bounds, where validation sets them, by its
/// path: a value that is no whole number is then told what would be.
pub(crate) fn whole_number_bounds(path: &str) -> Option<(u32, u32)> {
    if path == "cluster.nodes" || path.starts_with("sweep.") && path.ends_with(".nodes") {
        Some((1, MAX_NODES))
    } else if path.starts_with("workload[") && path.ends_with(".load.users") {
        Some((1, MAX_USERS))
    } else {
        None
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
    /// A real target's node names; the embedded cluster's when None.
    nodes: Option<Vec<String>>,
}

impl Validator {
    /// The nodes a scenario may name.
    fn names(&self, s: &Scenario) -> Vec<String> {
        self.nodes
            .clone()
            .unwrap_or_else(|| node_names(s.cluster.nodes.value))
    }

    /// The nodes a scenario may name, where they are known: a node count
    /// out of range is its own problem, and names judged against it would
    /// only repeat it.
    fn known_names(&self, s: &Scenario) -> Option<Vec<String>> {
        (self.nodes.is_some() || (1..=MAX_NODES).contains(&s.cluster.nodes.value))
            .then(|| self.names(s))
    }

    fn problem(&mut self, loc: &Location, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::at(loc, path, message));
    }

    /// Above 0 and at most [`MAX_DURATION`].
    fn positive(&mut self, d: &Spanned<Duration>, path: &str) {
        if d.value.get().is_zero() {
            self.problem(&d.referenced, path, "must be longer than 0s");
        }
        self.bounded(d, path);
    }

    /// At most [`MAX_DURATION`].
    fn bounded(&mut self, d: &Spanned<Duration>, path: &str) {
        if d.value > MAX_DURATION {
            self.problem(
                &d.referenced,
                path,
                format!("must be at most {MAX_DURATION}, not {}", d.value),
            );
        }
    }

    fn scenario(&mut self, s: &Scenario) {
        let name = &s.name;
        if name.value.is_empty()
            || name.value.len() > 64
            || !name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.value.starts_with('.')
        {
            self.problem(
                &name.referenced,
                "name",
                "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (it names the run folder)",
            );
        }
        for (i, t) in s.tags.iter().enumerate() {
            if !is_tag(&t.value) {
                self.problem(
                    &t.referenced,
                    format!("tags[{i}]"),
                    "must be 1 to 32 lower-case letters, digits or '-'",
                );
            } else if s.tags[..i].iter().any(|u| u.value == t.value) {
                self.problem(
                    &t.referenced,
                    format!("tags[{i}]"),
                    format!("{:?} is listed twice", t.value),
                );
            }
        }
        self.positive(&s.duration, "duration");
        self.bounded(&s.warmup, "warmup");
        self.bounded(&s.settle, "settle");
        self.cluster(s);
        self.workload(s);
        self.stored(s);
        self.faults(s);
        self.checks(s);
        // Each combination is validated as a scenario of its own, once the
        // scenario itself is sound, so a problem is not said once per
        // combination.
        if let Some(sweep) = &s.sweep
            && self.problems.is_empty()
        {
            self.problems
                .extend(super::sweep::problems(s, sweep, validate));
        }
    }

    fn cluster(&mut self, s: &Scenario) {
        let c = &s.cluster;
        if c.nodes.value == 0 || c.nodes.value > MAX_NODES {
            self.problem(
                &c.nodes.referenced,
                "cluster.nodes",
                format!("must be from 1 to {MAX_NODES}, not {}", c.nodes.value),
            );
        }
        self.positive(&c.heartbeat, "cluster.heartbeat");
        if let Some(cpus) = &c.node_cpus
            && !(cpus.value >= 0.01 && cpus.value <= MAX_NODE_CPUS)
        {
            self.problem(
                &cpus.referenced,
                "cluster.node_cpus",
                format!(
                    "must be from 0.01 to {MAX_NODE_CPUS} CPUs, not {}",
                    cpus.value
                ),
            );
        }
        if let Some(p) = &c.polling {
            // A zero wait would spin every connection on null messages.
            self.positive(&p.poll_wait, "cluster.polling.poll_wait");
            self.positive(&p.pickup_timeout, "cluster.polling.pickup_timeout");
        }
        if c.offline_after.value <= c.heartbeat.value {
            self.problem(
                &c.offline_after.referenced,
                "cluster.offline_after",
                format!(
                    "must be longer than cluster.heartbeat ({}), or every node looks offline between heartbeats",
                    c.heartbeat.value
                ),
            );
        }
        for (t, path) in [
            (&c.lb.backend_timeout, "cluster.lb.backend_timeout"),
            (&c.lb.idle_timeout, "cluster.lb.idle_timeout"),
            (&c.lb.body_read_timeout, "cluster.lb.body_read_timeout"),
        ] {
            if let Some(t) = t {
                self.positive(t, path);
            }
        }
        let hc = &c.lb.health_check;
        self.positive(&hc.interval, "cluster.lb.health_check.interval");
        self.positive(&hc.timeout, "cluster.lb.health_check.timeout");
        if hc.timeout.value > hc.interval.value {
            self.problem(
                &hc.timeout.referenced,
                "cluster.lb.health_check.timeout",
                format!(
                    "must not be longer than the interval ({})",
                    hc.interval.value
                ),
            );
        }
        for (t, path) in [
            (
                &hc.healthy_threshold,
                "cluster.lb.health_check.healthy_threshold",
            ),
            (
                &hc.unhealthy_threshold,
                "cluster.lb.health_check.unhealthy_threshold",
            ),
        ] {
            if t.value == 0 {
                self.problem(&t.referenced, path, "must be at least 1");
            }
        }
        if hc.mode == HealthMode::Passive {
            if hc.max_fails.value == 0 {
                self.problem(
                    &hc.max_fails.referenced,
                    "cluster.lb.health_check.max_fails",
                    "must be at least 1",
                );
            }
            self.positive(&hc.fail_timeout, "cluster.lb.health_check.fail_timeout");
        }
        self.positive(&c.tasks.poll, "cluster.tasks.poll");
        if let Some(d) = &c.packages.delay_per_gib {
            self.bounded(d, "cluster.packages.delay_per_gib");
        }
        self.positive(&c.tasks.orphan_after, "cluster.tasks.orphan_after");
        if c.tasks.orphan_after.value <= c.offline_after.value {
            self.problem(
                &c.tasks.orphan_after.referenced,
                "cluster.tasks.orphan_after",
                format!(
                    "must be longer than cluster.offline_after ({}), or healthy nodes' tasks are canceled between heartbeats",
                    c.offline_after.value
                ),
            );
        }
        if !hc.path.starts_with('/') {
            self.problem(
                &hc.accept.referenced,
                "cluster.lb.health_check.path",
                format!("must start with '/', not {:?}", hc.path),
            );
        }
        if hc.accept.value.ranges().is_empty() {
            self.problem(
                &hc.accept.referenced,
                "cluster.lb.health_check.accept",
                "must list at least one status code",
            );
        }
    }

    /// What the fields weigh together: the package bytes the run keeps
    /// on the cluster's storage at once.
    fn stored(&mut self, s: &Scenario) {
        let stored = s.stored_at_most();
        if stored <= MAX_STORED_BYTES {
            return;
        }
        let Some((i, loc)) = s
            .workload
            .iter()
            .enumerate()
            .find_map(|(i, w)| match &w.value {
                Workload::Upload(u) => Some((i, &u.size.referenced)),
                Workload::SlowUpload(u) => Some((i, &u.size.referenced)),
                Workload::BodyLimitLadder(l) => Some((i, &l.to.referenced)),
                _ => None,
            })
        else {
            return;
        };
        self.problem(
            loc,
            format!("workload[{i}]"),
            format!(
                "the run would keep up to {} of packages on the cluster's storage at once (each upload's package until the run ends, the ladder's steps, and the LB's spooled copies), over the limit of {}",
                Size::from_bytes(stored),
                Size::from_bytes(MAX_STORED_BYTES)
            ),
        );
    }

    fn workload(&mut self, s: &Scenario) {
        // One workload of each kind; an upload and a slow upload share one.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, w) in s.workload.iter().enumerate() {
            let slot = match &w.value {
                Workload::Api(_) => "api",
                Workload::Tasks(_) => "tasks",
                Workload::Upload(_) | Workload::SlowUpload(_) => "upload or slow_upload",
                Workload::BodyLimitLadder(_) => "body_limit_ladder",
                Workload::Fleet(_) => "fleet",
                Workload::Load(_) => "load",
            };
            let n = seen.entry(slot).or_default();
            *n += 1;
            if *n > 1 {
                self.problem(
                    &w.referenced,
                    format!("workload[{i}]"),
                    format!("only one {slot} workload is allowed"),
                );
            }
            let api = match &w.value {
                Workload::Api(api) => api,
                Workload::BodyLimitLadder(l) => {
                    self.ladder(s, l, &format!("workload[{i}].body_limit_ladder"));
                    continue;
                }
                Workload::SlowUpload(u) => {
                    if u.rate.value.bytes_per_sec() < 1.0 {
                        self.problem(
                            &u.rate.referenced,
                            format!("workload[{i}].slow_upload.rate"),
                            "must be at least 1B/s",
                        );
                    }
                    self.upload(s, &u.as_upload(), &format!("workload[{i}].slow_upload"));
                    continue;
                }
                Workload::Upload(u) => {
                    self.upload(s, u, &format!("workload[{i}].upload"));
                    continue;
                }
                Workload::Tasks(t) => {
                    self.tasks(s, t, &w.referenced, &format!("workload[{i}].tasks"));
                    continue;
                }
                Workload::Fleet(f) => {
                    self.fleet(s, f, &w.referenced, &format!("workload[{i}].fleet"));
                    continue;
                }
                Workload::Load(l) => {
                    self.load(s, l, &format!("workload[{i}].load"));
                    continue;
                }
            };
            let path = format!("workload[{i}].api");
            if !(MIN_RATE..=100_000.0).contains(&api.rate.get()) {
                self.problem(
                    &w.referenced,
                    format!("{path}.rate"),
                    "must be from 1/h to 100000/s",
                );
            }
            if let Some(mix) = &api.mix
                && mix.value.ping == 0
                && mix.value.nodes == 0
                && mix.value.root == 0
            {
                self.problem(
                    &mix.referenced,
                    format!("{path}.mix"),
                    "needs at least one weight above 0",
                );
            }
            self.positive(&api.timeout, &format!("{path}.timeout"));
            if api.max_in_flight.value == 0 {
                self.problem(
                    &api.max_in_flight.referenced,
                    format!("{path}.max_in_flight"),
                    "must be at least 1",
                );
            }
        }
    }

    fn load(&mut self, s: &Scenario, l: &LoadPhase, path: &str) {
        if !(1..=MAX_USERS).contains(&l.users.value) {
            self.problem(
                &l.users.referenced,
                format!("{path}.users"),
                format!("must be from 1 to {MAX_USERS}"),
            );
        }
        // goose's test plan counts whole seconds.
        for (d, field) in [
            (&l.ramp_up, "ramp_up"),
            (&l.hold, "hold"),
            (&l.ramp_down, "ramp_down"),
        ] {
            self.bounded(d, &format!("{path}.{field}"));
            if d.value.get().subsec_nanos() != 0 {
                self.problem(
                    &d.referenced,
                    format!("{path}.{field}"),
                    format!(
                        "must be whole seconds, as goose's test plan counts them, not {}",
                        d.value
                    ),
                );
            }
        }
        self.positive(&l.hold, &format!("{path}.hold"));
        let plan =
            l.at.value.get() + l.ramp_up.value.get() + l.hold.value.get() + l.ramp_down.value.get();
        if plan > s.duration.value.get() {
            self.problem(
                &l.hold.referenced,
                format!("{path}.hold"),
                format!(
                    "at + ramp_up + hold + ramp_down is {}, past the scenario's duration ({})",
                    humantime::format_duration(plan),
                    s.duration.value
                ),
            );
        }
        let m = l.mix.value;
        if m.ping + m.nodes + m.root + m.packages + m.task + m.upload == 0 {
            self.problem(
                &l.mix.referenced,
                format!("{path}.mix"),
                "needs at least one weight above 0",
            );
        }
        if let Some(t) = &l.think {
            self.bounded(t, &format!("{path}.think"));
        }
        self.positive(&l.timeout, &format!("{path}.timeout"));
        self.bounded(&l.task_work, &format!("{path}.task_work"));
        if l.upload_size.value.bytes() == 0 || l.upload_size.value.bytes() > MAX_LOAD_UPLOAD {
            self.problem(
                &l.upload_size.referenced,
                format!("{path}.upload_size"),
                "must be from 1B to 64MiB: a load phase's uploads are small; use an upload workload for large ones",
            );
        } else if l.mix.value.upload > 0
            && u64::from(l.users.value) * l.upload_size.value.bytes() > MAX_LOAD_UPLOAD_MEMORY
        {
            // Each user holds its package in memory while it sends it.
            self.problem(
                &l.upload_size.referenced,
                format!("{path}.upload_size"),
                "users × upload_size is over 1GiB, which every user's package in memory at once would take; use fewer users or smaller packages",
            );
        }
        for (i, t) in l.thresholds.iter().enumerate() {
            // Each rule names a check of its own.
            if let Some(first) = l.thresholds[..i].iter().position(|u| u.value == t.value) {
                self.problem(
                    &t.referenced,
                    format!("{path}.thresholds[{i}]"),
                    format!("repeats thresholds[{first}]"),
                );
            } else if let Err(e) = t.value.parse::<goose::threshold::Threshold>() {
                let why = match e {
                    goose::GooseError::InvalidOption { detail, .. } => detail,
                    e => e.to_string(),
                };
                self.problem(
                    &t.referenced,
                    format!("{path}.thresholds[{i}]"),
                    format!("goose cannot read this rule: {why}"),
                );
            }
        }
    }

    fn fleet(&mut self, s: &Scenario, f: &FleetLoad, loc: &Location, path: &str) {
        let Some(polling) = &s.cluster.polling else {
            self.problem(
                loc,
                path,
                "needs polling listeners on the nodes: add cluster.polling (layout: unique_address or unique_port)",
            );
            return;
        };
        if !(1..=MAX_TENTACLES).contains(&f.tentacles.value) {
            self.problem(
                &f.tentacles.referenced,
                format!("{path}.tentacles"),
                format!("must be from 1 to {MAX_TENTACLES}"),
            );
        }
        // Tentacle's own range for PollingConnectionCount.
        if !(1..=512).contains(&f.connections.value) {
            self.problem(
                &f.connections.referenced,
                format!("{path}.connections"),
                "must be from 1 to 512, as Tentacle allows",
            );
        }
        let total = u64::from(f.tentacles.value)
            * u64::from(f.connections.value)
            * u64::from(s.cluster.nodes.value);
        if total > MAX_POLLING_CONNECTIONS {
            self.problem(
                &f.connections.referenced,
                format!("{path}.connections"),
                format!("tentacles × connections × nodes is {total}, over the limit of {MAX_POLLING_CONNECTIONS} connections in one process"),
            );
        }
        let names = self.known_names(s);
        match &f.polls.value {
            Polls::Node(n) if names.as_ref().is_some_and(|names| !names.contains(n)) => self
                .problem(
                    &f.polls.referenced,
                    format!("{path}.polls.node"),
                    format!(
                        "unknown node {n:?}; known nodes: {}",
                        names.unwrap_or_default().join(", ")
                    ),
                ),
            Polls::Lb if s.cluster.lb.engine == LbEngine::Nginx => self.problem(
                &f.polls.referenced,
                format!("{path}.polls"),
                "the LB's polling port is forwarded by the built-in LB and HAProxy, not nginx",
            ),
            _ => {}
        }
        if polling.layout.value == PollingLayout::UniquePort
            && s.cluster.lb.engine == LbEngine::Nginx
        {
            self.problem(
                &polling.layout.referenced,
                "cluster.polling.layout",
                "unique_port forwards a port per node at L4, which the built-in LB and HAProxy do and nginx does not; use another engine or layout: unique_address",
            );
        }
        self.bounded(&f.script, &format!("{path}.script"));
        self.positive(&f.connect_within, &format!("{path}.connect_within"));
        self.positive(&f.reconnect.min, &format!("{path}.reconnect.min"));
        self.positive(&f.reconnect.max, &format!("{path}.reconnect.max"));
        if f.reconnect.max.value < f.reconnect.min.value {
            self.problem(
                &f.reconnect.max.referenced,
                format!("{path}.reconnect.max"),
                format!("must be at least min ({})", f.reconnect.min.value),
            );
        }
        for (k, at) in f.health_checks.iter().enumerate() {
            if at.value >= s.duration.value {
                self.problem(
                    &at.referenced,
                    format!("{path}.health_checks[{k}]"),
                    format!(
                        "{} is not within the duration ({})",
                        at.value, s.duration.value
                    ),
                );
            }
        }
    }

    fn tasks(&mut self, s: &Scenario, t: &TaskLoad, loc: &Location, path: &str) {
        match (&t.rate, &t.burst) {
            (Some(_), Some(b)) => self.problem(
                &b.referenced,
                format!("{path}.burst"),
                "give a rate or a burst, not both",
            ),
            (None, None) => self.problem(loc, path, "needs a rate (5/s) or a burst (200)"),
            (Some(r), None) => {
                if !(MIN_RATE..=MAX_TASK_RATE).contains(&r.value.get()) {
                    self.problem(
                        &r.referenced,
                        format!("{path}.rate"),
                        format!("must be from 1/h to {MAX_TASK_RATE}/s"),
                    );
                }
            }
            (None, Some(b)) => {
                if !(1..=MAX_BURST).contains(&b.value) {
                    self.problem(
                        &b.referenced,
                        format!("{path}.burst"),
                        format!("must be from 1 to {MAX_BURST}"),
                    );
                }
            }
        }
        if t.at.value >= s.duration.value {
            self.problem(
                &t.at.referenced,
                format!("{path}.at"),
                format!(
                    "{} is not within the duration ({})",
                    t.at.value, s.duration.value
                ),
            );
        }
        self.bounded(&t.work, &format!("{path}.work"));
        self.positive(&t.poll, &format!("{path}.poll"));
        self.bounded(&t.finish_within, &format!("{path}.finish_within"));
        if !(1..=1024).contains(&t.clients.value) {
            self.problem(
                &t.clients.referenced,
                format!("{path}.clients"),
                "must be from 1 to 1024",
            );
        }
    }

    fn upload(&mut self, s: &Scenario, u: &UploadLoad, path: &str) {
        if u.size.value.bytes() < 200 || u.size.value > MAX_UPLOAD {
            self.problem(
                &u.size.referenced,
                format!("{path}.size"),
                format!("must be from 200B (a ZIP's own records) to {MAX_UPLOAD}"),
            );
        }
        for (n, field, max) in [
            (&u.count, "count", 1000),
            (&u.concurrency, "concurrency", 64),
        ] {
            if !(1..=max).contains(&n.value) {
                self.problem(
                    &n.referenced,
                    format!("{path}.{field}"),
                    format!("must be from 1 to {max}"),
                );
            }
        }
        if u.retries.value > 10 {
            self.problem(
                &u.retries.referenced,
                format!("{path}.retries"),
                "must be at most 10",
            );
        }
        if u.at.value >= s.duration.value {
            self.problem(
                &u.at.referenced,
                format!("{path}.at"),
                format!(
                    "{} is not within the duration ({})",
                    u.at.value, s.duration.value
                ),
            );
        }
        self.positive(&u.connect_timeout, &format!("{path}.connect_timeout"));
        self.positive(&u.idle_timeout, &format!("{path}.idle_timeout"));
        self.via(s, &u.via, path);
    }

    fn ladder(&mut self, s: &Scenario, l: &LadderLoad, path: &str) {
        for (size, field) in [(&l.from, "from"), (&l.to, "to")] {
            if size.value.bytes() < 200 || size.value > MAX_UPLOAD {
                self.problem(
                    &size.referenced,
                    format!("{path}.{field}"),
                    format!("must be from 200B to {MAX_UPLOAD}"),
                );
            }
        }
        if l.to.value < l.from.value {
            self.problem(
                &l.to.referenced,
                format!("{path}.to"),
                format!("must be at least from ({})", l.from.value),
            );
        }
        if l.at.value >= s.duration.value {
            self.problem(
                &l.at.referenced,
                format!("{path}.at"),
                format!(
                    "{} is not within the duration ({})",
                    l.at.value, s.duration.value
                ),
            );
        }
        self.positive(&l.idle_timeout, &format!("{path}.idle_timeout"));
        self.via(s, &l.via, path);
    }

    fn via(&mut self, s: &Scenario, via: &Spanned<String>, path: &str) {
        let Some(names) = self.known_names(s) else {
            return;
        };
        if via.value != "lb" && !names.contains(&via.value) {
            self.problem(
                &via.referenced,
                format!("{path}.via"),
                format!(
                    "unknown target {:?}; use lb or a node: {}",
                    via.value,
                    names.join(", ")
                ),
            );
        }
    }

    fn node_selector(&mut self, s: &Scenario, node: &Spanned<String>, path: String) {
        let Some(names) = self.known_names(s) else {
            return;
        };
        let n = node.value.as_str();
        if n != "one" && n != "all" && !names.iter().any(|m| m == n) {
            self.problem(
                &node.referenced,
                path,
                format!(
                    "unknown node {n:?}; known nodes: {} (or one, all)",
                    names.join(", ")
                ),
            );
        }
    }

    fn faults(&mut self, s: &Scenario) {
        let duration = s.duration.value;
        let mut names: HashMap<String, usize> = HashMap::new();
        // Busy spans per node, to refuse two faults on one node at once.
        let mut busy: BTreeMap<String, Vec<(Duration, Duration, usize)>> = BTreeMap::new();
        for (i, f) in s.faults.iter().enumerate() {
            let kind = f.value.kind();
            let path = format!("faults[{i}].{kind}");
            let name = f.value.name();
            if let Some(first) = names.insert(name.clone(), i) {
                self.problem(
                    &f.referenced,
                    format!("{path}.name"),
                    format!("fault name {name:?} is already used by faults[{first}]; give one of them a name"),
                );
            }
            self.node_selector(s, f.value.node(), format!("{path}.node"));
            let at = f.value.at();
            if at.value >= duration {
                self.problem(
                    &at.referenced,
                    format!("{path}.at"),
                    format!("{} is not within the duration ({duration})", at.value),
                );
            }
            if let Fault::Maintenance(m) = &f.value {
                if m.node.value == "all" {
                    self.problem(
                        &m.node.referenced,
                        format!("{path}.node"),
                        "a rolling maintenance takes one node at a time; give a node or one",
                    );
                }
                self.bounded(&m.restart_after, &format!("{path}.restart_after"));
                self.positive(&m.wait, &format!("{path}.wait"));
                let restart = at.value.get().saturating_add(m.restart_after.value.get());
                if restart >= duration.get() {
                    self.problem(
                        &m.restart_after.referenced,
                        format!("{path}.restart_after"),
                        format!(
                            "the restart would come at {}, after the duration ({duration})",
                            Duration::new(restart)
                        ),
                    );
                }
            }
            let end = match f.value.hold() {
                Some(hold) => {
                    self.positive(hold, &format!("{path}.for"));
                    let end = Duration::new(at.value.get().saturating_add(hold.value.get()));
                    if end > duration {
                        self.problem(
                            &hold.referenced,
                            format!("{path}.for"),
                            format!("the fault would be undone at {end}, after the duration ({duration})"),
                        );
                    }
                    end
                }
                None if matches!(f.value, Fault::Restart(_)) => at.value,
                None => duration,
            };
            let node = f.value.node().value.clone();
            busy.entry(node).or_default().push((at.value, end, i));
        }
        // `all` overlaps every node; `one` is only known after the seed.
        let all = busy.remove("all").unwrap_or_default();
        busy.remove("one");
        let mut clashes: Vec<(usize, usize, String)> = Vec::new();
        for (node, spans) in busy {
            clashes.extend(overlaps(
                spans.iter().chain(&all),
                &format!("on node {node}"),
            ));
        }
        clashes.extend(overlaps(all.iter(), "on every node"));
        clashes.sort();
        clashes.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
        for (a, b, place) in clashes {
            let f = &s.faults[b];
            self.problem(
                &f.value.at().referenced,
                format!("faults[{b}].{}.at", f.value.kind()),
                format!("overlaps faults[{a}] {place}; one fault per node at a time"),
            );
        }
    }

    fn checks(&mut self, s: &Scenario) {
        let mut names: HashMap<String, usize> = HashMap::new();
        // REST requests come from an api workload or a load phase.
        let api = s.api_load().is_some() || s.load_phase().is_some();
        let has_ping = s.api_load().is_some_and(|a| a.mix().ping > 0)
            || s.load_phase().is_some_and(|l| l.mix.value.ping > 0);
        for (i, c) in s.checks.iter().enumerate() {
            let kind = c.value.kind();
            let path = format!("checks[{i}].{kind}");
            let name = c.value.name();
            if let Some(first) = names.insert(name.clone(), i) {
                self.problem(
                    &c.referenced,
                    path.clone(),
                    format!("check name {name:?} is already used by checks[{first}]; give one of them a name"),
                );
            }
            if c.value.judges_fleet() {
                if s.fleet().is_none() {
                    self.problem(
                        &c.referenced,
                        path.clone(),
                        "needs a fleet workload to judge, and the scenario has none",
                    );
                }
            } else if let Check::LadderReaches(_) = &c.value {
                if s.ladder().is_none() {
                    self.problem(
                        &c.referenced,
                        path.clone(),
                        "needs a body_limit_ladder workload to judge, and the scenario has none",
                    );
                }
            } else if c.value.judges_uploads() {
                if s.upload_load().is_none() {
                    self.problem(
                        &c.referenced,
                        path.clone(),
                        "needs an upload workload to judge, and the scenario has none",
                    );
                }
            } else if let Check::NoRegression(_) = &c.value {
                if !api && s.task_load().is_none() {
                    self.problem(
                        &c.referenced,
                        path.clone(),
                        "needs an api, load or tasks workload to compare with the baseline, and the scenario has none",
                    );
                }
            } else if c.value.judges_tasks() {
                if s.task_load().is_none() {
                    self.problem(
                        &c.referenced,
                        path.clone(),
                        "needs a tasks workload to judge, and the scenario has none",
                    );
                }
            } else if !api {
                self.problem(
                    &c.referenced,
                    path.clone(),
                    "needs an api or load workload to judge, and the scenario has none",
                );
            }
            // The checks that follow a failed node need a positive bound,
            // ping traffic, and a fault of the right kind to judge.
            let node_check = |v: &mut Self, within: &Spanned<Duration>, fault, kinds: &[&str]| {
                v.positive(within, &format!("{path}.within"));
                v.needs_ping(has_ping, api, &c.referenced, &path);
                v.fault_ref(s, fault, &path, &c.referenced, kinds);
            };
            match &c.value {
                Check::Availability(_) => {}
                Check::RoutesAroundFailedNode(r) => {
                    node_check(self, &r.within, r.fault.as_ref(), &["kill", "pause"]);
                    self.room_to_converge(s, r, &path);
                }
                Check::Recovers(r) => {
                    node_check(
                        self,
                        &r.within,
                        r.fault.as_ref(),
                        &["kill", "pause", "restart"],
                    );
                }
                Check::DrainContract(d) => {
                    v_drain(self, s, d, has_ping, api, &c.referenced, &path);
                }
                Check::ExactlyOnce(e) => self.positive(&e.within, &format!("{path}.within")),
                Check::TaskCap(t) => {
                    if let Some(p) = &t.pickup_p99_below {
                        self.positive(p, &format!("{path}.pickup_p99_below"));
                    }
                }
                Check::OrphanedTasks(o) => {
                    self.positive(&o.within, &format!("{path}.within"));
                    self.fault_ref(
                        s,
                        o.fault.as_ref(),
                        &path,
                        &c.referenced,
                        &["kill", "restart"],
                    );
                }
                Check::SharedStorage(_)
                | Check::UploadIntact(_)
                | Check::UploadAnswered(_)
                | Check::UploadThroughput(_)
                | Check::LadderReaches(_)
                | Check::PollingFanOut(_)
                | Check::PollingCertificate(_) => {}
                Check::EveryNodeReachesEveryTentacle(_) => {
                    if s.fleet().is_some_and(|f| f.health_checks.is_empty()) {
                        self.problem(
                            &c.referenced,
                            path.clone(),
                            "needs health-check rounds to judge: add health_checks to the fleet workload",
                        );
                    }
                }
                Check::ReconnectStorm(r) => {
                    self.positive(&r.within, &format!("{path}.within"));
                    let restarts = s
                        .faults
                        .iter()
                        .any(|f| matches!(f.value.kind(), "kill" | "restart" | "maintenance"));
                    if !restarts {
                        self.problem(
                            &c.referenced,
                            path.clone(),
                            "needs a kill, restart or maintenance fault to judge, and the scenario has none",
                        );
                    }
                }
                Check::NoRegression(n) => {
                    self.bounded(&n.p99_slack, &format!("{path}.p99_slack"));
                }
                Check::RpcLatency(l) => {
                    let p = l.percentile.value;
                    if !(p > 0.0 && p <= 100.0) {
                        self.problem(
                            &l.percentile.referenced,
                            format!("{path}.percentile"),
                            format!("must be above 0 and at most 100, not {p}"),
                        );
                    }
                }
                Check::Latency(l) => {
                    let p = l.percentile.value;
                    if !(p > 0.0 && p <= 100.0) {
                        self.problem(
                            &l.percentile.referenced,
                            format!("{path}.percentile"),
                            format!("must be above 0 and at most 100, not {p}"),
                        );
                    }
                }
            }
        }
    }

    /// A fault must hold longer than the check's bound, or a LB that never
    /// routes around the node could not be told from one that did.
    fn room_to_converge(&mut self, s: &Scenario, r: &super::model::RoutesAround, path: &str) {
        let needed = r.within.value.get() + std::time::Duration::from_secs(1);
        for f in &s.faults {
            let judged = match &r.fault {
                Some(name) => f.value.name() == name.value,
                None => matches!(f.value, Fault::Kill(_) | Fault::Pause(_)),
            };
            if !judged || !matches!(f.value, Fault::Kill(_) | Fault::Pause(_)) {
                continue;
            }
            let at = f.value.at().value.get();
            let holds = match f.value.hold() {
                Some(h) => h.value.get(),
                None => s.duration.value.get().saturating_sub(at),
            };
            if holds < needed {
                self.problem(
                    &r.within.referenced,
                    format!("{path}.within"),
                    format!(
                        "{} holds only {}; it must hold at least within + 1s ({}) for the check to see the LB converge",
                        f.value.name(),
                        Duration::new(holds),
                        Duration::new(needed)
                    ),
                );
            }
        }
    }

    fn needs_ping(&mut self, has_ping: bool, has_api: bool, loc: &Location, path: &str) {
        // Only ping bodies name the serving node; without them the check has
        // no evidence. A missing workload is reported once, above.
        if has_api && !has_ping {
            self.problem(
                loc,
                path,
                "needs ping requests (mix.ping above 0), whose bodies name the serving node",
            );
        }
    }

    fn fault_ref(
        &mut self,
        s: &Scenario,
        fault: Option<&Spanned<String>>,
        path: &str,
        check_loc: &Location,
        kinds: &[&str],
    ) {
        let wanted = kinds.join(" or ");
        match fault {
            Some(name) => match s.faults.iter().find(|f| f.value.name() == name.value) {
                None => {
                    let known: Vec<String> = s.faults.iter().map(|f| f.value.name()).collect();
                    let known = if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    };
                    self.problem(
                        &name.referenced,
                        format!("{path}.fault"),
                        format!("unknown fault {:?}; faults: {known}", name.value),
                    );
                }
                Some(f) if !kinds.contains(&f.value.kind()) => self.problem(
                    &name.referenced,
                    format!("{path}.fault"),
                    format!(
                        "fault {:?} is a {}; this check judges a {wanted}",
                        name.value,
                        f.value.kind()
                    ),
                ),
                Some(_) => {}
            },
            None => {
                if !s.faults.iter().any(|f| kinds.contains(&f.value.kind())) {
                    self.problem(
                        check_loc,
                        path,
                        format!("needs a {wanted} fault, and the scenario has none"),
                    );
                }
            }
        }
    }
}

/// The drain contract needs ping traffic through the LB (ping bodies name
/// the node that served them) and a drain or maintenance to judge.
fn v_drain(
    v: &mut Validator,
    s: &Scenario,
    d: &super::model::DrainContract,
    has_ping: bool,
    has_api: bool,
    loc: &Location,
    path: &str,
) {
    v.positive(&d.ping_within, &format!("{path}.ping_within"));
    v.positive(&d.lb_within, &format!("{path}.lb_within"));
    if d.clock_skew > Duration::from_secs(10) {
        v.problem(
            loc,
            format!("{path}.clock_skew"),
            format!("must be at most 10s, not {}", d.clock_skew),
        );
    }
    v.needs_ping(has_ping, has_api, loc, path);
    v.fault_ref(s, d.fault.as_ref(), path, loc, &["drain", "maintenance"]);
    // The drain must last long enough for a correct LB to be told from one
    // that never stops routing (the last second of the window).
    let needed = d.lb_within.value.get() + std::time::Duration::from_secs(1);
    for f in &s.faults {
        let judged = match &d.fault {
            Some(name) => f.value.name() == name.value,
            None => matches!(f.value, Fault::Drain(_) | Fault::Maintenance(_)),
        };
        let (holds, what) = match &f.value {
            Fault::Drain(_) if judged => (
                f.value.hold().map_or_else(
                    || {
                        s.duration
                            .value
                            .get()
                            .saturating_sub(f.value.at().value.get())
                    },
                    |h| h.value.get(),
                ),
                "holds",
            ),
            Fault::Maintenance(m) if judged => (m.restart_after.value.get(), "restarts after"),
            _ => continue,
        };
        if holds < needed {
            v.problem(
                &d.lb_within.referenced,
                format!("{path}.lb_within"),
                format!(
                    "{} {what} only {}; it must be at least lb_within + 1s ({}) for the check to see the LB converge",
                    f.value.name(),
                    Duration::new(holds),
                    Duration::new(needed)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_case_words_listed_once() {
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\ntags: [nightly, Bad Tag, nightly, pre-upgrade]\nduration: 2s\nworkload:\n  - api: { rate: 10/s }\n",
        )
        .expect("parses");
        let problems: Vec<String> = validate(&s)
            .expect_err("two bad tags")
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "2:17 tags[1]: must be 1 to 32 lower-case letters, digits or '-'",
                "2:26 tags[2]: \"nightly\" is listed twice",
            ]
        );
        assert!(is_tag("pre-upgrade") && !is_tag("") && !is_tag(&"a".repeat(33)));
    }
}
