//! The capacity search: a ladder that ends, a bisection that ends, an
//! objective that can be met, nodes left to drain, and nothing else
//! driving the cluster while it measures. Also the generator's rule,
//! which every scenario has.

use serde_saphyr::{Location, Spanned};

use super::validator::Validator;
use crate::scenario::model::{Capacity, Check, Scenario, UploadSearch};
use crate::scenario::units::{Percent, Rate};

/// Most tasks one step of a task search may submit: each step's tasks are
/// numbered from its own million.
pub const MAX_TASKS_PER_STEP: u32 = 1_000_000;

/// Most uploads at once an upload search may run.
pub const MAX_UPLOADS_AT_ONCE: u32 = 1_000;

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
        self.search(s, at, &cap.value);
    }

    fn search(&mut self, s: &Scenario, at: &Location, cap: &Capacity) {
        if cap.searches().is_empty() {
            self.problem(
                at,
                "capacity",
                "asks for no search: add `api`, `tasks`, `uploads` or more than one",
            );
        }
        if let Some(api) = &cap.api {
            let rungs = Rungs::of_rates(&api.start, &api.growth, &api.ceiling, &api.resolution);
            // A step of fewer requests than this has no p99 worth judging.
            self.search_ladder("capacity.api", &rungs, Some((s, "requests", 100.0)));
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
        }
        if let Some(tasks) = &cap.tasks {
            let rungs = Rungs::of_rates(
                &tasks.start,
                &tasks.growth,
                &tasks.ceiling,
                &tasks.resolution,
            );
            // Tasks are fewer and slower than requests: ten make a step.
            self.search_ladder("capacity.tasks", &rungs, Some((s, "tasks", 10.0)));
            // Each step's tasks are numbered apart by a million.
            let step = s.warmup.value.get() + s.duration.value.get();
            let most = tasks.ceiling.value.get() * step.as_secs_f64();
            if most >= f64::from(MAX_TASKS_PER_STEP) {
                self.problem(
                    &tasks.ceiling.referenced,
                    "capacity.tasks.ceiling",
                    format!("a step at {} for its {} (the warm-up and the duration) submits {most:.0} tasks, more than the {MAX_TASKS_PER_STEP} a step may", tasks.ceiling.value, crate::scenario::units::Duration::new(step)),
                );
            }
            self.positive(&tasks.work, "capacity.tasks.work");
            self.positive(&tasks.poll, "capacity.tasks.poll");
            let objective = &tasks.objective;
            match (&objective.pickup, &objective.duration) {
                (None, None) => self.problem(
                    &tasks.start.referenced,
                    "capacity.tasks.objective",
                    "needs `pickup`, `duration` or both: a bound the tasks must meet",
                ),
                (pickup, duration) => {
                    if let Some(p) = pickup {
                        self.positive(p, "capacity.tasks.objective.pickup");
                    }
                    if let Some(d) = duration {
                        self.positive(d, "capacity.tasks.objective.duration");
                        if d.value.get() <= tasks.work.value.get() {
                            self.problem(
                                &d.referenced,
                                "capacity.tasks.objective.duration",
                                format!("{} is not more than each task's work, {}: no task could meet it", d.value, tasks.work.value),
                            );
                        }
                    }
                }
            }
        }
        if let Some(uploads) = &cap.uploads {
            self.upload_search(s, uploads);
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

    fn upload_search(&mut self, s: &Scenario, u: &UploadSearch) {
        if u.start.value == 0 {
            self.problem(
                &u.start.referenced,
                "capacity.uploads.start",
                "must be at least 1 upload at once",
            );
        }
        let rungs = Rungs {
            start: (
                &u.start.referenced,
                f64::from(u.start.value.max(1)),
                u.start.value.to_string(),
            ),
            growth: &u.growth,
            ceiling: (
                &u.ceiling.referenced,
                f64::from(u.ceiling.value),
                u.ceiling.value.to_string(),
            ),
            resolution: &u.resolution,
        };
        self.search_ladder("capacity.uploads", &rungs, None);
        if u.ceiling.value > MAX_UPLOADS_AT_ONCE {
            self.problem(
                &u.ceiling.referenced,
                "capacity.uploads.ceiling",
                format!("{} uploads at once is more than the {MAX_UPLOADS_AT_ONCE} a step may run: each is a connection and a package being made", u.ceiling.value),
            );
        }
        if u.size.value.bytes() == 0 {
            self.problem(
                &u.size.referenced,
                "capacity.uploads.size",
                "must be more than 0 bytes",
            );
        }
        self.positive(&u.objective.duration, "capacity.uploads.objective.duration");
        // A bound past the hold lets every uploader's upload outlast it,
        // and a step in which none starts judges nothing.
        if u.objective.duration.value.get() > s.duration.value.get() {
            self.problem(
                &u.objective.duration.referenced,
                "capacity.uploads.objective.duration",
                format!("{} is longer than each step's judged part, the duration, {}: lengthen the duration", u.objective.duration.value, s.duration.value),
            );
        }
        self.positive(&u.connect_timeout, "capacity.uploads.connect_timeout");
        self.positive(&u.idle_timeout, "capacity.uploads.idle_timeout");
    }

    /// A search's ladder ends, and its bisection too; with `least`, its
    /// first step, of the scenario's duration, offers at least that many
    /// of what it counts.
    fn search_ladder(
        &mut self,
        field: &str,
        rungs: &Rungs<'_>,
        least: Option<(&Scenario, &str, f64)>,
    ) {
        let (lo, hi) = (rungs.start.1, rungs.ceiling.1);
        if let Some((s, what, least)) = least {
            let first = lo * s.duration.value.get().as_secs_f64();
            if first < least {
                self.problem(
                    rungs.start.0,
                    format!("{field}.start"),
                    format!("the first step offers {first:.0} {what} in its {} (the duration), fewer than the {least} a step's p99 needs: raise the start or the duration", s.duration.value),
                );
            }
        }
        if hi < lo {
            self.problem(
                rungs.ceiling.0,
                format!("{field}.ceiling"),
                format!("{} is below the start, {}", rungs.ceiling.2, rungs.start.2),
            );
        }
        let g = rungs.growth.value;
        if !(g.is_finite() && g > 1.0 && g <= 100.0) {
            self.problem(
                &rungs.growth.referenced,
                format!("{field}.growth"),
                format!("must be more than 1 and at most 100, not {g}"),
            );
        }
        let r = rungs.resolution.value.fraction();
        if r < 0.001 {
            self.problem(
                &rungs.resolution.referenced,
                format!("{field}.resolution"),
                "must be at least 0.1%: the bisection has to end",
            );
        }
        if g > 1.0 && g.is_finite() && hi >= lo && r >= 0.001 {
            let steps = planned_steps(lo, hi, g, r);
            if steps > MAX_STEPS {
                self.problem(
                    rungs.ceiling.0,
                    field,
                    format!("plans up to {steps} steps at each node count, more than {MAX_STEPS}: raise the start, the growth or the resolution, or lower the ceiling"),
                );
            }
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

/// A search's ladder as validation reads it: its start and ceiling where
/// they are written, as numbers and as written, its growth and
/// resolution.
struct Rungs<'a> {
    start: (&'a Location, f64, String),
    growth: &'a Spanned<f64>,
    ceiling: (&'a Location, f64, String),
    resolution: &'a Spanned<Percent>,
}

impl<'a> Rungs<'a> {
    fn of_rates(
        start: &'a Spanned<Rate>,
        growth: &'a Spanned<f64>,
        ceiling: &'a Spanned<Rate>,
        resolution: &'a Spanned<Percent>,
    ) -> Self {
        Self {
            start: (
                &start.referenced,
                start.value.get(),
                start.value.to_string(),
            ),
            growth,
            ceiling: (
                &ceiling.referenced,
                ceiling.value.get(),
                ceiling.value.to_string(),
            ),
            resolution,
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
