//! The capacity search, run in place of the workload phase: at each node
//! count, steps that grow until one misses the objective (open-model
//! rates of requests or tasks, or a number of uploads at once), then a
//! bisection to the scenario's resolution; then one node more drained
//! (and confirmed out of the LB) and the search again. Each step is
//! recorded and judged as it ends, by the judgement the report makes
//! again from the history; the drains are faults of the run's plan, so
//! the heal phase undoes them on every way out (docs/capacity.md,
//! "Finding the knee").

use std::time::Duration;

use tokio::sync::watch;

use super::api_load::{Offer, offer};
use super::interrupts::interrupted;
use super::tasks::TaskWorkload;
use super::uploads::UploadStep;
use super::workload::RunContext;
use crate::fault::Faults;
use crate::history::{CapacityLevel, CapacityStep, Event, Events, FaultAction, History, Request};
use crate::metrics::{
    GeneratorFigures, StepVerdict, amount, judge_step, judge_task_step, judge_upload_step,
    node_count, rate,
};
use crate::scenario::units::Rate;
use crate::scenario::{ApiSearch, Capacity, GeneratorBound, SearchKind, TaskSearch, UploadSearch};
use crate::schedule::CAPACITY_DRAIN;

/// A search under way.
pub(super) struct Search<'a> {
    pub ctx: &'a RunContext,
    pub faults: &'a Faults,
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
    /// LB that keeps routing to the drained node) ends it, and so does the
    /// run's stop (Ctrl-C, its time limit), at once but for a task step's
    /// cancels: the cluster is not left running the search's tasks.
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
                    match self.or_stop(self.take_out(i, &node)).await {
                        Some(taken) => taken,
                        None => return,
                    }
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
            if !self.search(nodes, &drained).await {
                return;
            }
        }
    }

    /// `work`, unless the run stops first: then None.
    async fn or_stop<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            done = work => Some(done),
            _ = interrupted(self.ctx.interrupt.clone()) => None,
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
        crate::fault::confirm_out_of_lb(&self.ctx.lb, &self.ctx.ids, node, within)
            .await
            .map_err(|e| format!("{e} (harness doctor --allow-disruptive checks it)"))
    }

    /// Each search the scenario asks for, at one node count; false once
    /// the run stopped.
    async fn search(&mut self, nodes: u32, drained: &[String]) -> bool {
        for kind in self.cap.searches() {
            if !self.ladder(kind, nodes, drained).await {
                return false;
            }
        }
        true
    }

    /// One search's ladder, then its bisection, at one node count; false
    /// once the run stopped.
    async fn ladder(&mut self, kind: SearchKind, nodes: u32, drained: &[String]) -> bool {
        let Some(ladder) = self.cap.ladder(kind) else {
            return true;
        };
        let mut rate = ladder.start;
        let mut met: Option<f64> = None;
        let missed = loop {
            match self.step(kind, rate, nodes, drained, "ladder").await {
                None => return false,
                Some(StepVerdict::Met) if rate >= ladder.ceiling => return true,
                Some(StepVerdict::Met) => {
                    met = Some(rate);
                    rate = ladder.next(rate);
                }
                Some(StepVerdict::Missed) => break rate,
                Some(StepVerdict::GeneratorBound) => return true,
            }
        };
        // Missed at the first step: the knee is below the start.
        let Some(mut lo) = met else { return true };
        let mut hi = missed;
        while let Some(mid) = ladder.between(lo, hi) {
            match self.step(kind, mid, nodes, drained, "bisect").await {
                None => return false,
                Some(StepVerdict::Met) => lo = mid,
                Some(StepVerdict::Missed) => hi = mid,
                Some(StepVerdict::GeneratorBound) => return true,
            }
        }
        true
    }

    /// One step: `rate` offered for the lead-in and the hold, what it sent
    /// waited for, recorded, judged and said; then the pause.
    async fn step(
        &mut self,
        kind: SearchKind,
        rate_per_s: f64,
        nodes: u32,
        drained: &[String],
        part: &str,
    ) -> Option<StepVerdict> {
        let ctx = self.ctx;
        self.steps += 1;
        // The step's rate first for the lead-in, unjudged, as a person
        // sweeping fixed rates warms each one up; then its judged window on
        // the run's clock, with the generator's samples at its bounds for
        // its share of the CPU.
        let base_us = ctx.events.now_us();
        let from_us = base_us + self.lead.as_micros() as u64;
        let to_us = from_us + self.hold.as_micros() as u64;
        let sample_at = |at_us: u64| {
            let sampler = ctx.sampler.clone();
            let at = ctx.events.clock().instant(at_us);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                sampler.take();
            })
        };
        let (at_start, at_end) = (sample_at(from_us), sample_at(to_us));
        let step = CapacityStep {
            search: kind.name().to_string(),
            rate: rate_per_s,
            lead_from_us: base_us,
            from_us,
            to_us,
            nodes,
            drained: drained.to_vec(),
            part: part.to_string(),
        };
        let cap = self.cap;
        let judged = match (kind, &cap.api, &cap.tasks, &cap.uploads) {
            (SearchKind::Api, Some(api), _, _) => {
                let requests = self
                    .or_stop(self.api_step(api, rate_per_s, base_us))
                    .await?;
                let _ = tokio::join!(at_start, at_end);
                ctx.events.send(Event::CapacityStep(step.clone()));
                judge_step(&step, requests.iter(), &ctx.sampler.kept(), api, self.rule)
            }
            (SearchKind::Tasks, _, Some(search), _) => {
                let rate = Rate::per_second(rate_per_s)?;
                let history = self.task_step(search, rate, to_us).await?;
                let _ = tokio::join!(at_start, at_end);
                ctx.events.send(Event::CapacityStep(step.clone()));
                judge_task_step(
                    &step,
                    &history.task_records(),
                    history.task_submissions(),
                    &ctx.sampler.kept(),
                    search,
                    self.rule,
                )
            }
            (SearchKind::Uploads, _, _, Some(search)) => {
                let history = self.upload_step(search, rate_per_s as u32, to_us).await?;
                let _ = tokio::join!(at_start, at_end);
                ctx.events.send(Event::CapacityStep(step.clone()));
                judge_upload_step(
                    &step,
                    history.uploads(),
                    &ctx.sampler.kept(),
                    search,
                    self.rule,
                )
            }
            _ => return None,
        };
        eprintln!(
            "capacity: {} at {}, {} offered: {} {} achieved, {}: {} ({})",
            kind.name(),
            node_count(nodes),
            amount(kind, rate_per_s),
            rate(judged.achieved),
            kind.achieved_unit(),
            lag(&judged.generator),
            judged.verdict.word(),
            judged.why,
        );
        self.or_stop(tokio::time::sleep(self.cap.between.value.get()))
            .await?;
        Some(judged.verdict)
    }

    /// Offers REST requests at `rate_per_s` from `base_us` for the lead-in
    /// and the hold; returns them as the history names their nodes.
    async fn api_step(&self, api: &ApiSearch, rate_per_s: f64, base_us: u64) -> Vec<Request> {
        let ctx = self.ctx;
        let load = Offer {
            rate: rate_per_s,
            mix: api.mix(),
            timeout: api.timeout.value.get(),
            max_in_flight: api.max_in_flight.value,
            // A capacity search runs from one process (docs/shards.md).
            shard: crate::vocab::Shard::WHOLE,
        };
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
        for r in &mut requests {
            if let Some(n) = r.node.as_deref().and_then(|n| ctx.ids.node_of(n)) {
                r.node = Some(n.to_string());
            }
        }
        requests
    }

    /// Submits tasks at `rate` until `to_us`, then gives them the longest
    /// the objective allows to start and end, and cancels what is left, so
    /// the next step starts on an empty queue. Returns what the step
    /// recorded, as a history of its own; None when the run stopped (its
    /// tasks canceled all the same).
    async fn task_step(&self, search: &TaskSearch, rate: Rate, to_us: u64) -> Option<History> {
        let ctx = self.ctx;
        let (tap, keep) = self.tap();
        let until = ctx.events.clock().instant(to_us);
        // Each step's tasks numbered apart from every other step's.
        let first = self.steps * u64::from(crate::scenario::MAX_TASKS_PER_STEP);
        let workload = TaskWorkload::window(
            ctx,
            search.load(rate),
            (tokio::time::Instant::now(), until),
            tap,
            first,
        );
        let stopped = self
            .or_stop(tokio::time::sleep_until(until))
            .await
            .is_none();
        let wait = if stopped {
            Duration::ZERO
        } else {
            search.wait_after()
        };
        let why = workload.end(wait, false, ctx.interrupt.clone()).await;
        let events = keep.await.unwrap_or_default();
        (!stopped && why.is_none()).then_some(History { events })
    }

    /// Runs `at_once` uploads at a time until `to_us`, and on while those
    /// begun by then run, within the objective's bound; cuts what is left,
    /// and deletes every package the step made. Returns what the step
    /// recorded, as a history of its own; None when the run stopped (its
    /// packages deleted all the same).
    async fn upload_step(
        &self,
        search: &UploadSearch,
        at_once: u32,
        to_us: u64,
    ) -> Option<History> {
        let ctx = self.ctx;
        let (tap, keep) = self.tap();
        let until = ctx.events.clock().instant(to_us);
        // Numbered apart from every other step's, as tasks are.
        let per_step = u64::from(crate::scenario::MAX_TASKS_PER_STEP);
        let first = self.steps * per_step;
        let numbers = (first, first + per_step - 1);
        let step = match UploadStep::spawn(ctx, search, (at_once, until, numbers), tap) {
            Ok(step) => step,
            Err(e) => {
                eprintln!("capacity: the upload step could not start: {e}");
                return None;
            }
        };
        let give_up = until + search.objective.duration.value.get();
        let why = step.end(give_up, ctx.interrupt.clone()).await;
        let events = keep.await.unwrap_or_default();
        why.is_none().then_some(History { events })
    }

    /// A stream for one step's events: each goes to the run's stream, and
    /// is kept for the step's own history, which judges it (named as the
    /// recorder names them in the run's history). The kept events come
    /// once every sender of the stream is gone.
    fn tap(&self) -> (Events, tokio::task::JoinHandle<Vec<Event>>) {
        let ctx = self.ctx;
        let (tap, mut tapped) = Events::channel(ctx.events.clock());
        let (out, ids) = (ctx.events.clone(), ctx.ids.clone());
        let keep = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Some(mut e) = tapped.recv().await {
                out.send(e.clone());
                ids.translate(&mut e);
                kept.push(e);
            }
            kept
        });
        (tap, keep)
    }
}

/// The generator's send lag over a step, or its CPU where nothing was
/// scheduled (an upload step's uploaders go one after another).
fn lag(g: &GeneratorFigures) -> String {
    match (g.lag_p99_ms(), g.cpu_share) {
        (Some(lag), _) => format!("send lag p99 {lag:.1} ms"),
        (None, Some(cpu)) => format!("generator CPU {:.0}%", cpu * 100.0),
        (None, None) => "generator CPU not sampled".to_string(),
    }
}
