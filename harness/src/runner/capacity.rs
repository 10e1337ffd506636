//! The capacity search, run in place of the workload phase: at each node
//! count, open-model steps that grow until one misses the objective, then
//! a bisection to the scenario's resolution; then one node more drained
//! (and confirmed out of the LB) and the search again. Each step is
//! recorded and judged as it ends, by the judgement the report makes
//! again from the history; the drains are faults of the run's plan, so
//! the heal phase undoes them on every way out (docs/capacity.md,
//! "Finding the knee").

use std::time::Duration;

use tokio::sync::watch;

use super::api_load::{Offer, offer};
use super::generator::Sampler;
use super::workload::RunContext;
use crate::fault::Faults;
use crate::history::{CapacityLevel, CapacityStep, Event, FaultAction, Op};
use crate::metrics::{StepVerdict, judge_step, rate};
use crate::scenario::{Capacity, GeneratorBound};
use crate::schedule::CAPACITY_DRAIN;

/// Pings through the LB in a row that must all come from serving nodes
/// before a drained node counts as out of the LB.
const OUT_OF_LB_PINGS: u32 = 20;

/// A search under way.
pub(super) struct Search<'a> {
    pub ctx: &'a RunContext,
    pub faults: &'a Faults,
    pub sampler: &'a Sampler,
    pub cap: &'a Capacity,
    pub rule: &'a GeneratorBound,
    /// Each step's unjudged lead-in at its rate: the scenario's warm-up.
    pub lead: Duration,
    /// Each step's judged hold: the scenario's duration.
    pub hold: Duration,
    /// Steps so far, each seeding its own schedule.
    pub steps: u64,
}

impl Search<'_> {
    /// The search at every node count the scenario asks for, most nodes
    /// first; a node count that cannot be reached (a drain not done, an
    /// LB that keeps routing to the drained node) ends it.
    pub async fn run(mut self) {
        // A node someone else drained before the run serves nothing: the
        // node counts are of the nodes serving.
        let mut total = self.ctx.nodes.len() as u32;
        for (node, _) in &self.ctx.nodes {
            let Some(id) = self.ctx.ids.identity(node).map(|i| i.id.clone()) else {
                continue;
            };
            if self
                .ctx
                .lb
                .node(&id)
                .await
                .is_ok_and(|n| n.is_in_maintenance_mode)
            {
                eprintln!(
                    "capacity: {node} was in maintenance mode before the search; it is not counted"
                );
                total -= 1;
            }
        }
        let drains: Vec<usize> = self
            .faults
            .plan()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.starts_with(CAPACITY_DRAIN))
            .map(|(i, _)| i)
            .collect();
        let mut drained: Vec<String> = Vec::new();
        for level in 0..=drains.len() {
            let nodes = total.saturating_sub(level as u32);
            if level > 0 {
                let i = drains[level - 1];
                let node = self.faults.plan()[i].nodes[0].clone();
                drained.push(node.clone());
                // Never the last node serving: a real cluster would go dark.
                let taken = if nodes == 0 {
                    Err(format!("draining {node} would leave no node serving"))
                } else {
                    self.take_out(i, &node).await
                };
                if let Err(e) = taken {
                    self.level(nodes, &drained, Some(e));
                    return;
                }
            }
            if nodes == 0 {
                self.level(0, &drained, Some("no node is serving".into()));
                return;
            }
            self.level(nodes, &drained, None);
            self.search(nodes, &drained).await;
        }
    }

    fn level(&self, nodes: u32, drained: &[String], error: Option<String>) {
        let events = &self.ctx.events;
        events.send(Event::CapacityLevel(CapacityLevel {
            at_us: events.now_us(),
            nodes,
            drained: drained.to_vec(),
            error,
        }));
    }

    /// Drains `node` (fault `i`), waits until the cluster confirms it and
    /// the LB has stopped sending it requests.
    async fn take_out(&self, i: usize, node: &str) -> Result<(), String> {
        let within = self.cap.lb_out_within.value.get();
        self.faults.apply(i, FaultAction::Inject).await?;
        self.faults
            .confirm_drained(&[node.to_string()], tokio::time::Instant::now() + within)
            .await?;
        // The LB's own time, from the moment the drain is confirmed.
        let deadline = tokio::time::Instant::now() + within;
        let mut in_a_row = 0;
        let mut last = String::new();
        while in_a_row < OUT_OF_LB_PINGS {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "{node} was drained, but {} later {last}; an LB that does not honour ping's 418 keeps a drained node in rotation (harness doctor checks it)",
                    self.cap.lb_out_within.value
                ));
            }
            let seen = self.ctx.lb.invoke(Op::Ping, Duration::from_secs(2)).await;
            let by = seen
                .node
                .as_deref()
                .and_then(|n| self.ctx.ids.node_of(n))
                .map(str::to_string);
            match (seen.status, by) {
                (Some(200), Some(by)) if by != node => in_a_row += 1,
                (status, by) => {
                    in_a_row = 0;
                    last = format!(
                        "a ping through the LB was still answered {} by {}",
                        status.map_or_else(|| "nothing".to_string(), |s| s.to_string()),
                        by.unwrap_or_else(|| "a node it did not name".to_string())
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(())
    }

    /// The ladder, then the bisection, at one node count.
    async fn search(&mut self, nodes: u32, drained: &[String]) {
        let api = &self.cap.api;
        let (ceiling, growth) = (api.ceiling.value.get(), api.growth.value);
        let resolution = api.resolution.value.fraction();
        let mut rate = api.start.value.get();
        let mut met: Option<f64> = None;
        let missed = loop {
            match self.step(rate, nodes, drained, "ladder").await {
                StepVerdict::Met if rate >= ceiling => return,
                StepVerdict::Met => {
                    met = Some(rate);
                    rate = (rate * growth).min(ceiling);
                }
                StepVerdict::Missed => break rate,
                StepVerdict::GeneratorBound => return,
            }
        };
        // Missed at the first step: the knee is below the start.
        let Some(mut lo) = met else { return };
        let mut hi = missed;
        while (hi - lo) / lo > resolution {
            let mid = (lo + hi) / 2.0;
            match self.step(mid, nodes, drained, "bisect").await {
                StepVerdict::Met => lo = mid,
                StepVerdict::Missed => hi = mid,
                StepVerdict::GeneratorBound => return,
            }
        }
    }

    /// One step: `rate` offered for the hold, its requests waited for,
    /// recorded, judged and said; then the pause.
    async fn step(
        &mut self,
        rate_per_s: f64,
        nodes: u32,
        drained: &[String],
        part: &str,
    ) -> StepVerdict {
        let ctx = self.ctx;
        let api = &self.cap.api;
        self.steps += 1;
        let load = Offer {
            rate: rate_per_s,
            mix: api.mix(),
            timeout: api.timeout.value.get(),
            max_in_flight: api.max_in_flight.value,
        };
        // The step's rate first for the lead-in, unjudged, as a person
        // sweeping fixed rates warms each one up; then its judged window on
        // the run's clock, with the generator's samples at its bounds for
        // its share of the CPU.
        let base_us = ctx.events.now_us();
        let from_us = base_us + self.lead.as_micros() as u64;
        let to_us = from_us + self.hold.as_micros() as u64;
        let sample_at = |at_us: u64| {
            let sampler = self.sampler.clone();
            let at = ctx.events.clock().instant(at_us);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                sampler.take();
            })
        };
        let (at_start, at_end) = (sample_at(from_us), sample_at(to_us));
        // The search stops from outside, by being dropped.
        let (_keep, never) = watch::channel(false);
        let seed = ctx.seed.wrapping_add(self.steps);
        let mut requests = offer(
            ctx.lb.clone(),
            load,
            seed,
            ctx.events.clone(),
            never,
            (base_us, Some(self.lead + self.hold)),
        )
        .await;
        let _ = tokio::join!(at_start, at_end);
        // Named as the history names them.
        for r in &mut requests {
            if let Some(n) = r.node.as_deref().and_then(|n| ctx.ids.node_of(n)) {
                r.node = Some(n.to_string());
            }
        }
        let step = CapacityStep {
            search: "api".to_string(),
            rate: rate_per_s,
            from_us,
            to_us,
            nodes,
            drained: drained.to_vec(),
            part: part.to_string(),
        };
        ctx.events.send(Event::CapacityStep(step.clone()));
        let judged = judge_step(
            &step,
            requests.iter(),
            &self.sampler.kept(),
            self.cap,
            self.rule,
        );
        eprintln!(
            "capacity: {nodes} node{}, {}/s offered: {} req/s, p99 {:.1} ms, {:.1}% errors, send lag p99 {:.1} ms: {} ({})",
            if nodes == 1 { "" } else { "s" },
            rate(rate_per_s),
            rate(judged.achieved),
            judged.p99_ms,
            judged.error_rate * 100.0,
            judged.generator.send_lag_p99_ms,
            match judged.verdict {
                StepVerdict::Met => "met",
                StepVerdict::Missed => "missed",
                StepVerdict::GeneratorBound => "generator-bound",
            },
            judged.why
        );
        tokio::time::sleep(self.cap.between.value.get()).await;
        judged.verdict
    }
}
