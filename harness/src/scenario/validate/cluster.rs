//! The cluster's fields: its nodes, heartbeats and timeouts, its LB and
//! the LB's health check; and the package bytes the scenario would keep
//! on its storage.

use super::validator::{MAX_NODES, Validator, node_names};
use crate::limits::MAX_STORED_BYTES;
use crate::scenario::model::{HealthCheck, HealthMode, Lb, Scenario, Workload};
use crate::scenario::units::Size;

/// Most CPUs one node may be given.
const MAX_NODE_CPUS: f64 = 256.0;

impl Validator {
    pub(super) fn cluster(&mut self, s: &Scenario) {
        let c = &s.cluster;
        if c.nodes.value == 0 || c.nodes.value > MAX_NODES {
            self.problem(
                &c.nodes.referenced,
                "cluster.nodes",
                format!("must be from 1 to {MAX_NODES}, not {}", c.nodes.value),
            );
        }
        self.positive(&c.heartbeat, "cluster.heartbeat");
        // The embedded cluster's nodes: behaviours are its alone.
        let names = node_names(c.nodes.value.min(MAX_NODES));
        for (node, b) in &c.behaviour {
            if !names.contains(node) {
                self.problem(
                    &b.referenced,
                    format!("cluster.behaviour.{node}"),
                    format!("unknown node {node:?}; known nodes: {}", names.join(", ")),
                );
            }
        }
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
        self.lb(&c.lb);
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
        self.health_check_probe(&c.lb.health_check);
    }

    /// The LB's timeouts, and how often and how surely its health check
    /// decides.
    fn lb(&mut self, lb: &Lb) {
        for (t, path) in [
            (&lb.backend_timeout, "cluster.lb.backend_timeout"),
            (&lb.idle_timeout, "cluster.lb.idle_timeout"),
            (&lb.body_read_timeout, "cluster.lb.body_read_timeout"),
        ] {
            if let Some(t) = t {
                self.positive(t, path);
            }
        }
        let hc = &lb.health_check;
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
    }

    /// What the health check asks for, and what answers it takes as
    /// healthy.
    fn health_check_probe(&mut self, hc: &HealthCheck) {
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
    pub(super) fn stored(&mut self, s: &Scenario) {
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
}
