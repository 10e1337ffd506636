//! The workloads: one of each kind, each within its bounds, and sent to
//! a node the cluster has.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::validator::{MAX_USERS, Validator};
use crate::scenario::model::{
    FleetLoad, LadderLoad, LbEngine, LoadPhase, PollingLayout, Polls, Scenario, TaskLoad,
    UploadLoad, Workload,
};
use crate::scenario::units::Size;

/// Largest package of a load phase's upload transaction.
const MAX_LOAD_UPLOAD: u64 = 64 << 20;

/// Most memory a load phase's packages may take at once.
const MAX_LOAD_UPLOAD_MEMORY: u64 = 1 << 30;

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

impl Validator {
    pub(super) fn workload(&mut self, s: &Scenario) {
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
            } else if let Some((_, name)) = t.value.trim().split_once(" for ") {
                // Found before the run, not as "no samples" after it.
                let names = l.mix.value.request_names();
                if !names.contains(&name.trim()) {
                    self.problem(
                        &t.referenced,
                        format!("{path}.thresholds[{i}]"),
                        format!(
                            "no request of this load phase is named {:?}; with its mix it sends: {}",
                            name.trim(),
                            names.join(", ")
                        ),
                    );
                }
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
}
