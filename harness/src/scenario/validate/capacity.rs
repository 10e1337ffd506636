//! The capacity search: a ladder that ends, a bisection that ends, an
//! objective that can be met, nodes left to drain, and nothing else
//! driving the cluster while it measures. Also the generator's rule,
//! which every scenario has.

use super::validator::Validator;
use crate::scenario::model::{Capacity, Check, Scenario};

/// Most steps a search may plan at one node count: a ladder and a
/// bisection this long is a typo, not a plan.
pub const MAX_STEPS: u32 = 60;

impl Validator {
    pub(super) fn capacity(&mut self, s: &Scenario) {
        self.generator_rule(s);
        let Some(cap) = &s.capacity else {
            if let Some((i, c)) = s
                .checks
                .iter()
                .enumerate()
                .find(|(_, c)| matches!(c.value, Check::Sustains(_)))
            {
                self.problem(
                    &c.referenced,
                    format!("checks[{i}].sustains"),
                    "judges a capacity search, and the scenario has no `capacity` section",
                );
            }
            return;
        };
        let at = &cap.referenced;
        for (what, given) in [
            ("workload", !s.workload.is_empty()),
            ("faults", !s.faults.is_empty()),
            ("sweep", s.sweep.is_some()),
        ] {
            if given {
                self.problem(
                    at,
                    "capacity",
                    format!("a capacity search drives the cluster alone: remove `{what}` (the search drains nodes itself, with `drain`)"),
                );
            }
        }
        for (i, c) in s.checks.iter().enumerate() {
            if !matches!(c.value, Check::Sustains(_)) {
                self.problem(
                    &c.referenced,
                    format!("checks[{i}].{}", c.value.kind()),
                    "judges a whole run, and a capacity search overloads the cluster on purpose; judge it with `sustains`",
                );
            }
        }
        self.search(s, &cap.value);
    }

    fn search(&mut self, s: &Scenario, cap: &Capacity) {
        let api = &cap.api;
        let (start, ceiling) = (api.start.value.get(), api.ceiling.value.get());
        if ceiling < start {
            self.problem(
                &api.ceiling.referenced,
                "capacity.api.ceiling",
                format!(
                    "{} is below the start, {}",
                    api.ceiling.value, api.start.value
                ),
            );
        }
        let growth = api.growth.value;
        if !(growth.is_finite() && growth > 1.0 && growth <= 100.0) {
            self.problem(
                &api.growth.referenced,
                "capacity.api.growth",
                format!("must be more than 1 and at most 100, not {growth}"),
            );
        }
        let resolution = api.resolution.value.fraction();
        if resolution < 0.001 {
            self.problem(
                &api.resolution.referenced,
                "capacity.api.resolution",
                "must be at least 0.1%: the bisection has to end",
            );
        }
        if growth > 1.0 && growth.is_finite() && ceiling >= start && resolution >= 0.001 {
            let steps = planned_steps(start, ceiling, growth, resolution);
            if steps > MAX_STEPS {
                self.problem(
                    &api.ceiling.referenced,
                    "capacity.api",
                    format!("plans up to {steps} steps at each node count, more than {MAX_STEPS}: raise the start, the growth or the resolution, or lower the ceiling"),
                );
            }
        }
        // A step of fewer requests than this has no p99 worth judging.
        let first = start * s.duration.value.get().as_secs_f64();
        if first < 100.0 {
            self.problem(
                &api.start.referenced,
                "capacity.api.start",
                format!("the first step offers {first:.0} requests in its {} (the duration), fewer than the 100 a p99 needs: raise the start or the duration", s.duration.value),
            );
        }
        self.positive(&api.objective.p99, "capacity.api.objective.p99");
        self.positive(&api.timeout, "capacity.api.timeout");
        if api.max_in_flight.value == 0 {
            self.problem(
                &api.max_in_flight.referenced,
                "capacity.api.max_in_flight",
                "must be at least 1",
            );
        }
        if let Some(mix) = &api.mix
            && mix.value.ping + mix.value.nodes + mix.value.root == 0
        {
            self.problem(
                &mix.referenced,
                "capacity.api.mix",
                "needs at least one request kind with a weight above 0",
            );
        }
        self.bounded(&cap.between, "capacity.between");
        self.positive(&cap.lb_out_within, "capacity.lb_out_within");
        if let Some(names) = self.known_names(s)
            && cap.drain.value as usize >= names.len()
        {
            self.problem(
                &cap.drain.referenced,
                "capacity.drain",
                format!(
                    "drains {} of the cluster's {} nodes, and at least one must stay to serve",
                    cap.drain.value,
                    names.len()
                ),
            );
        }
    }

    fn generator_rule(&mut self, s: &Scenario) {
        let g = &s.generator;
        self.positive(&g.late_after, "generator.late_after");
        if g.max_cpu.value.get() == 0.0 {
            self.problem(
                &g.max_cpu.referenced,
                "generator.max_cpu",
                "must be above 0%",
            );
        }
    }
}

/// The most steps a search plans at one node count: its ladder, from
/// `start` by `growth` up to `ceiling`, and the bisection of the widest
/// bracket down to `resolution`.
pub fn planned_steps(start: f64, ceiling: f64, growth: f64, resolution: f64) -> u32 {
    let ladder = ((ceiling / start).ln() / growth.ln()).ceil().max(0.0) + 1.0;
    // Each bisection halves the bracket's width, from (growth − 1) of its
    // lower end to `resolution` of it.
    let bisect = ((growth - 1.0) / resolution).log2().ceil().max(0.0);
    (ladder + bisect).min(f64::from(u32::MAX)) as u32
}
