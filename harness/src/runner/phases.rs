//! The run's phases, each a function of its own, in the order [`run`]
//! calls them; the module's notes say what each does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::MultiProgress;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::sleep_until;

use super::api_load::drive_load;
use super::capacity::Search;
use super::cluster::{ready_cluster, record_identities, record_memory, watch_nodes};
use super::fleet::FleetWorkload;
use super::folder::{BASELINE_FILE, scenario_run_dir};
use super::generator::Sampler;
use super::interrupts::{interrupted, interrupts, with_deadline};
use super::load::LoadWorkload;
use super::options::RunOptions;
use super::outcome::{RunError, RunResult, stopped};
use super::recorder::{end_run, finish, give_up, record};
use super::seed::{agreed_seed, new_run_id, seed_of};
use super::shard::{read_clock, shard_dir};
use super::tasks::TaskWorkload;
use super::uploads::{LadderWorkload, UploadWorkload};
use super::wall_time::time_limit;
use super::workload::{RunContext, Running, Workloads};
use crate::client::ApiClient;
use crate::fault::{FaultApi, FaultKind, Faults};
use crate::history::{Clock, Event, Events, FaultAction, History, HistoryWriter, Phase};
use crate::limits::SHARD_LATE_WITHIN;
use crate::report::{self, LiveProgress};
use crate::scenario::{LoadedScenario, Scenario};
use crate::schedule::{self, Action};
use crate::target::Target;
use crate::vocab::Shard;

/// Runs one scenario on the embedded cluster (or the target `opts`
/// names), phase by phase.
pub async fn run(loaded: &LoadedScenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let mut run = Run::open(loaded, opts)?;
    let (mut ctx, faults) = match boot(&mut run).await {
        Ok(booted) => booted,
        Err((cluster, stop)) => return Err(run.abandon(cluster, stop).await),
    };
    if let Err(stop) = wait_for_start(&mut run, &ctx).await {
        return Err(run.abandon(Some(ctx.cluster.clone()), stop).await);
    }
    let (background, mut workloads) = warm_up(&mut run, &mut ctx).await?;
    let procedures = match &loaded.scenario.capacity {
        Some(cap) => {
            capacity_search(&mut run, &ctx, &faults, &cap.value).await;
            JoinSet::new()
        }
        None => workload_and_faults(&mut run, &mut ctx, &faults, &mut workloads).await?,
    };
    heal(&mut run, &ctx.cluster, &faults, procedures).await;
    settle(&mut run, &ctx).await;
    check(&mut run, &ctx, background, workloads).await;
    let history = run.close().await?;
    teardown(&ctx.cluster);
    report(run, &history)
}

/// One run under way: what its phases share before and beyond the
/// cluster.
pub(super) struct Run<'a> {
    loaded: &'a LoadedScenario,
    opts: &'a RunOptions,
    seed: u64,
    dir: PathBuf,
    run_id: String,
    events: Events,
    /// The history's one consumer, until the history is closed.
    recorder: Option<JoinHandle<Result<History, String>>>,
    bars: Option<MultiProgress>,
    /// Ctrl-C, SIGTERM, or the run's time limit.
    interrupt: watch::Receiver<Option<String>>,
    /// The time limit fired.
    overran: Arc<AtomicBool>,
    /// Why the run stopped early, once it has.
    why_stopped: Option<String>,
}

/// Why a run ended before anything was disrupted.
pub(super) enum NotBooted {
    /// The cluster could not be made ready, or could not be asked who is
    /// who: the history is closed with why.
    Failed(String),
    /// Stopped while it readied (what it was doing, as "while ..."): the
    /// history is closed and judged, and the report written.
    Stopped(&'static str),
    /// The harness could not go on (a client that cannot be made): the
    /// error alone.
    Broken(RunError),
}

impl<'a> Run<'a> {
    /// Makes the run folder (with the scenario and its baseline), starts
    /// the recorder and the time limit, and records the run's start.
    pub(super) fn open(loaded: &'a LoadedScenario, opts: &'a RunOptions) -> Result<Self, RunError> {
        let s = &loaded.scenario;
        let (seed, dir, clock, run_id) = match &opts.shard {
            None => {
                let seed = seed_of(opts, s)?;
                let dir = scenario_run_dir(&opts.out, &s.name.value, &loaded.source)?;
                (seed, dir, Clock::start(), new_run_id(seed))
            }
            // Every shard's times count from the agreed start.
            Some(plan) => {
                let seed = match opts.seed.or(s.seed) {
                    Some(seed) => seed,
                    None => agreed_seed(&plan.run_id),
                };
                let dir = shard_dir(&opts.out, &s.name.value, plan, &loaded.source)?;
                let clock = Clock::starting_at(plan.start);
                (seed, dir, clock, plan.run_id.clone())
            }
        };
        keep_baseline(&dir, opts, s)?;
        let (events, rx) = Events::channel(clock);
        let writer = HistoryWriter::create(&dir.join("history.jsonl")).map_err(|e| {
            RunError::new(format!(
                "failed to create the history in {}: {e}",
                dir.display()
            ))
        })?;
        let bars = opts.progress.then(MultiProgress::new);
        let progress = bars.as_ref().map(LiveProgress::new);
        let recorder = tokio::spawn(record(rx, writer, progress));
        // A shard's limit runs from the agreed start, which it waits for.
        let wait = opts.shard.as_ref().map_or(Duration::ZERO, |p| {
            p.start
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        });
        let limit = opts.time_limit.unwrap_or_else(|| time_limit(s)) + wait;
        let (interrupt, overran) = with_deadline(interrupts(), limit);
        let started_at = match &opts.shard {
            Some(plan) => plan.start,
            None => std::time::SystemTime::now(),
        };
        events.send(Event::RunStarted {
            scenario: s.name.value.clone(),
            seed,
            run_id: run_id.clone(),
            target: opts
                .target
                .as_ref()
                .map_or_else(|| "embedded".to_string(), |t| t.name.value.clone()),
            started_at: humantime::format_rfc3339_millis(started_at).to_string(),
            shard: opts.shard.as_ref().map(|p| p.shard),
        });
        Ok(Self {
            loaded,
            opts,
            seed,
            dir,
            run_id,
            events,
            recorder: Some(recorder),
            bars,
            interrupt,
            overran,
            why_stopped: None,
        })
    }

    fn scenario(&self) -> &'a Scenario {
        &self.loaded.scenario
    }

    /// This process's shard: 0 of 1 unless the run is split.
    fn shard(&self) -> Shard {
        self.opts.shard.as_ref().map_or(Shard::WHOLE, |p| p.shard)
    }

    fn phase(&self, phase: Phase) {
        self.events.send(Event::Phase {
            at_us: self.events.now_us(),
            phase,
        });
    }

    /// The run stops, for `why`, in `phase`: recorded the moment the
    /// runner sees it, before anything is healed, as checks judge a fault
    /// window the interruption cut short by it. The first reason is the
    /// run's; later ones are not recorded.
    fn stop(&mut self, why: String, phase: Phase) {
        if self.why_stopped.is_some() {
            return;
        }
        self.events.send(Event::Interrupted {
            at_us: self.events.now_us(),
            why: why.clone(),
            phase,
        });
        self.why_stopped = Some(why);
    }

    fn overran(&self) -> bool {
        self.overran.load(Ordering::SeqCst)
    }

    /// Closes the history and waits for the recorder.
    pub(super) async fn close(&mut self) -> Result<History, RunError> {
        match self.recorder.take() {
            Some(recorder) => finish(self.events.clone(), recorder).await,
            None => Err(RunError::new("the history was closed already")),
        }
    }

    /// Ends a run that did not boot (`cluster`, if it came up, is shut
    /// down) and gives its error, with the report of a stopped one.
    pub(super) async fn abandon(
        mut self,
        cluster: Option<Arc<Target>>,
        stop: NotBooted,
    ) -> RunError {
        let Some(recorder) = self.recorder.take() else {
            return RunError::new("the history was closed already");
        };
        let cluster = cluster.as_deref();
        match stop {
            NotBooted::Broken(e) => e,
            NotBooted::Failed(why) => {
                give_up(self.events, recorder, cluster, &why).await;
                RunError::new(why)
            }
            NotBooted::Stopped(doing) => {
                let why = self.interrupt.borrow().clone().unwrap_or_default();
                self.stop(why.clone(), Phase::Boot);
                let history = give_up(self.events.clone(), recorder, cluster, &why).await;
                let e = stopped(&format!("{why}, {doing}"), self.overran(), &self.dir);
                report_stopped(e, self.loaded, self.opts, history, &self.dir)
            }
        }
    }
}

/// The report of a run stopped before its workload, judged and written
/// to its folder like any other, and carried by its error; without a
/// history (the recorder failed) the error alone.
fn report_stopped(
    e: RunError,
    loaded: &LoadedScenario,
    opts: &RunOptions,
    history: Option<History>,
    dir: &Path,
) -> RunError {
    let Some(history) = history else { return e };
    // A shard judges nothing, stopped or not: only the merge does.
    if opts.shard.is_some() {
        return e;
    }
    let s = &loaded.scenario;
    let (report, written) =
        report::judge_and_write(dir, s, &history, opts.baseline.as_ref(), &s.name.value);
    if let Err(w) = written {
        eprintln!("harness: {w}");
    }
    e.with_report(report)
}

/// The scenario's baseline is kept beside the history, so `harness
/// report` judges the run again against the same figures.
fn keep_baseline(dir: &std::path::Path, opts: &RunOptions, s: &Scenario) -> Result<(), RunError> {
    let baseline: Option<Vec<crate::check::Baseline>> = opts
        .baseline
        .as_ref()
        .map(|b| b.of(&s.name.value).cloned().into_iter().collect());
    if let Some(kept) = &baseline {
        let path = dir.join(BASELINE_FILE);
        let text = serde_json::to_string_pretty(kept).map_err(|e| RunError::new(e.to_string()))?;
        std::fs::write(&path, text)
            .map_err(|e| RunError::new(format!("failed to write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Boot: readies the cluster and learns which node is which; gives what
/// every workload and fault starts from.
pub(super) async fn boot(
    run: &mut Run<'_>,
) -> Result<(RunContext, Faults), (Option<Arc<Target>>, NotBooted)> {
    let s = run.scenario();
    run.phase(Phase::Boot);
    let booted = tokio::select! {
        c = ready_cluster(s, run.opts.target.clone(), &run.dir, run.events.clone()) => Some(c),
        _ = interrupted(run.interrupt.clone()) => None,
    };
    let cluster = match booted {
        Some(Ok(c)) => Arc::new(c),
        Some(Err(why)) => return Err((None, NotBooted::Failed(why))),
        None => return Err((None, NotBooted::Stopped("while the cluster booted"))),
    };
    let trust = cluster.trust();
    let key = cluster.api_key().clone();
    let clients = ApiClient::with_trust(&cluster.lb_url(), key.clone(), &trust).and_then(|lb| {
        let nodes = cluster
            .nodes()
            .into_iter()
            .map(|(name, url)| ApiClient::with_trust(&url, key.clone(), &trust).map(|c| (name, c)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((lb, nodes))
    });
    let (lb, nodes) = match clients {
        Ok(c) => c,
        Err(e) => return Err((Some(cluster), NotBooted::Broken(RunError::new(e)))),
    };
    // Who each node is, from the cluster, before anything is sent: every
    // fault, check and report goes by it.
    let learnt = tokio::select! {
        l = crate::identity::learn(&nodes, &lb) => Some(l),
        _ = interrupted(run.interrupt.clone()) => None,
    };
    let ids = match learnt {
        Some(Ok(learnt)) => record_identities(&run.events, learnt),
        Some(Err(why)) => return Err((Some(cluster), NotBooted::Failed(why))),
        None => {
            let doing = "while the cluster was asked which node is which";
            return Err((Some(cluster), NotBooted::Stopped(doing)));
        }
    };
    // Only the conductor disrupts the cluster; the other shards load it.
    let mut plan = Vec::new();
    if run.shard().is_conductor() {
        plan = schedule::plan_faults(s, run.seed);
        let names: Vec<String> = nodes.iter().map(|(name, _)| name.clone()).collect();
        plan.extend(schedule::capacity_drains(s, &names));
    }
    // A shard reads its clock against one node, the same for every shard,
    // so the merge can say how far apart their times may be.
    if run.shard().is_split()
        && let Some((name, client)) = nodes.first()
    {
        read_clock(name, client, &run.events).await;
    }
    let faults = Faults::new(
        run.events.clone(),
        cluster.clone(),
        FaultApi::new(lb.clone(), ids.clone()),
        plan,
    );
    let ctx = RunContext {
        cluster,
        lb,
        nodes,
        key,
        trust,
        ids,
        events: run.events.clone(),
        // Set as the warm-up and the workload phase start.
        start: tokio::time::Instant::now(),
        duration: s.duration.value.get(),
        seed: run.seed,
        run_id: run.run_id.clone(),
        shard: run.shard(),
        dir: run.dir.clone(),
        interrupt: run.interrupt.clone(),
        bars: run.bars.clone(),
        sampler: Sampler::new(run.events.clone()),
    };
    Ok((ctx, faults))
}

/// A shard waits for the run's agreed start, time 0 of its clock, before
/// its warm-up. One ready later than [`SHARD_LATE_WITHIN`] after it stops
/// there: its share of the load would not be the schedule's, so the merge
/// must not count it as run.
pub(super) async fn wait_for_start(run: &mut Run<'_>, ctx: &RunContext) -> Result<(), NotBooted> {
    if !run.shard().is_split() {
        return Ok(());
    }
    let start = ctx.events.clock().instant(0);
    let late = tokio::time::Instant::now().saturating_duration_since(start);
    if late > SHARD_LATE_WITHIN {
        return Err(NotBooted::Failed(format!(
            "shard {} was ready {:.1}s after the run's agreed start, later than the {}s a shard may be",
            run.shard(),
            late.as_secs_f64(),
            SHARD_LATE_WITHIN.as_secs()
        )));
    }
    tokio::select! {
        _ = sleep_until(start) => Ok(()),
        _ = interrupted(run.interrupt.clone()) => Err(NotBooted::Stopped("while it waited for the agreed start")),
    }
}

/// What runs from the warm-up until the check phase: the open-model load
/// (recorded, not judged, during the warm-up) and the watcher of each
/// node's own ping.
pub(super) struct Background {
    stop: watch::Sender<bool>,
    watcher: Option<JoinHandle<()>>,
    sampler: JoinHandle<()>,
    load: Option<JoinHandle<()>>,
}

impl Background {
    /// Stops the load and the watcher, and waits for requests in flight.
    async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(load) = self.load {
            let _ = load.await;
        }
        if let Some(watcher) = self.watcher {
            let _ = watcher.await;
        }
        let _ = self.sampler.await;
    }
}

/// Warm-up: starts the background load and the watcher, and the fleet,
/// which registers and connects during it (its health rounds count from
/// the end of it, as every workload's times do); then waits it out.
pub(super) async fn warm_up(
    run: &mut Run<'_>,
    ctx: &mut RunContext,
) -> Result<(Background, Workloads), RunError> {
    let s = run.scenario();
    run.phase(Phase::Warmup);
    let (stop, stop_rx) = watch::channel(false);
    // The conductor alone watches the nodes: what the merge judges them by.
    let watcher = ctx.shard.is_conductor().then(|| {
        tokio::spawn(watch_nodes(
            ctx.nodes.clone(),
            ctx.events.clone(),
            stop_rx.clone(),
        ))
    });
    // A shard's schedule counts from the agreed start, as every shard's
    // does, so their requests interleave.
    let split = ctx.shard.is_split();
    let from_us = if split { 0 } else { ctx.events.now_us() };
    let load = s.api_load().map(|api| {
        tokio::spawn(drive_load(
            ctx.lb.clone(),
            (api.clone(), ctx.shard),
            run.seed,
            ctx.events.clone(),
            (stop_rx.clone(), from_us),
        ))
    });
    let sampler = {
        let (sampler, stop) = (ctx.sampler.clone(), stop_rx.clone());
        tokio::task::spawn_blocking(move || sampler.run(stop))
    };
    let background = Background {
        stop,
        watcher,
        sampler,
        load,
    };
    ctx.start = ctx.events.clock().instant(from_us) + s.warmup.value.get();
    let fleet = s.fleet().zip(s.cluster.polling.as_ref());
    let fleet = Running::start::<FleetWorkload>(ctx, fleet.map(|(f, p)| (f.clone(), p.clone())))
        .map_err(RunError::new)?;
    tokio::select! {
        _ = sleep_until(ctx.start) => {}
        why = interrupted(run.interrupt.clone()) => run.stop(why, Phase::Warmup),
    }
    let workloads = Workloads {
        fleet,
        ..Workloads::default()
    };
    Ok((background, workloads))
}

/// Workload and faults: starts the scenario's workloads, and injects and
/// heals the faults at their times until the duration is over (a
/// maintenance runs its steps alongside, as one of the procedures given).
/// Skipped once the run has stopped.
pub(super) async fn workload_and_faults(
    run: &mut Run<'_>,
    ctx: &mut RunContext,
    faults: &Faults,
    workloads: &mut Workloads,
) -> Result<JoinSet<()>, RunError> {
    let mut procedures = JoinSet::new();
    if run.why_stopped.is_some() {
        return Ok(procedures);
    }
    let s = run.scenario();
    run.phase(Phase::Workload);
    // A shard keeps the planned start, every shard's.
    if !ctx.shard.is_split() {
        ctx.start = tokio::time::Instant::now();
    }
    let start = ctx.start;
    workloads.load =
        Running::start::<LoadWorkload>(ctx, s.load_phase().cloned()).map_err(RunError::new)?;
    workloads.tasks =
        Running::start::<TaskWorkload>(ctx, s.task_load().cloned()).map_err(RunError::new)?;
    workloads.ladder =
        Running::start::<LadderWorkload>(ctx, s.ladder().cloned()).map_err(RunError::new)?;
    workloads.uploads =
        Running::start::<UploadWorkload>(ctx, s.upload_load()).map_err(RunError::new)?;
    let timeline = schedule::timeline(faults.plan());
    let body = async {
        for (at, action) in &timeline {
            sleep_until(start + Duration::from_micros(*at)).await;
            match *action {
                Action::Inject(i) if faults.plan()[i].kind == FaultKind::Maintenance => {
                    procedures.spawn(faults.clone().maintain(i));
                }
                Action::Inject(i) => {
                    let _ = faults.apply(i, FaultAction::Inject).await;
                }
                Action::Heal(i) => {
                    let _ = faults.apply(i, FaultAction::Heal).await;
                }
            }
        }
        sleep_until(start + s.duration.value.get()).await;
    };
    tokio::select! {
        _ = body => {}
        why = interrupted(run.interrupt.clone()) => run.stop(why, Phase::Workload),
    }
    Ok(procedures)
}

/// The capacity search, in place of the workload phase: searched until
/// done or the run stops (its drains are undone by the heal, as every
/// fault is). Skipped once the run has stopped.
pub(super) async fn capacity_search(
    run: &mut Run<'_>,
    ctx: &RunContext,
    faults: &Faults,
    cap: &crate::scenario::Capacity,
) {
    if run.why_stopped.is_some() {
        return;
    }
    let s = run.scenario();
    run.phase(Phase::Workload);
    let search = Search {
        ctx,
        faults,
        cap,
        rule: &s.generator,
        lead: s.warmup.value.get(),
        hold: s.duration.value.get(),
        steps: 0,
    };
    // The search stops itself on an interrupt, once a task step's tasks
    // are canceled.
    search.run().await;
    let why = run.interrupt.borrow().clone();
    if let Some(why) = why {
        run.stop(why, Phase::Workload);
    }
}

/// Heal: always. A maintenance still under way stops where it is; every
/// fault still in effect is undone, then every node is brought back,
/// whatever its state.
pub(super) async fn heal(
    run: &mut Run<'_>,
    cluster: &Target,
    faults: &Faults,
    mut procedures: JoinSet<()>,
) {
    run.phase(Phase::Heal);
    procedures.abort_all();
    while procedures.join_next().await.is_some() {}
    faults.heal_the_rest().await;
    for error in cluster.heal_all().await {
        eprintln!("harness: heal: {error}");
        run.events.send(Event::HealFailed {
            at_us: run.events.now_us(),
            error,
        });
    }
    // An interrupt that came while the heal ran.
    let why = run.interrupt.borrow().clone();
    if let Some(why) = why {
        run.stop(why, Phase::Heal);
    }
}

/// Settle: the load goes on so the checks can see the recovery. Skipped
/// once the run has stopped.
pub(super) async fn settle(run: &mut Run<'_>, ctx: &RunContext) {
    if run.why_stopped.is_some() {
        return;
    }
    run.phase(Phase::Settle);
    let settle = run.scenario().settle.value.get();
    // Every shard stops its load at the planned end of the settle, however
    // long its heal took (the conductor's takes its time; the others' is
    // nothing), so that the shards' loads end together; a heal longer than
    // the settle leaves the conductor's none.
    let until = if ctx.shard.is_split() {
        ctx.start + ctx.duration + settle
    } else {
        tokio::time::Instant::now() + settle
    };
    tokio::select! {
        _ = sleep_until(until) => {}
        why = interrupted(run.interrupt.clone()) => run.stop(why, Phase::Settle),
    }
}

/// Check: stops the background load and waits for its requests in
/// flight, finishes every workload in turn (each told whether the run has
/// stopped; an interrupt while one finishes stops the run), records the
/// peak memory and ends the history.
pub(super) async fn check(
    run: &mut Run<'_>,
    ctx: &RunContext,
    background: Background,
    workloads: Workloads,
) {
    run.phase(Phase::Check);
    background.stop().await;
    for w in workloads.in_finish_order() {
        let stopped = run.why_stopped.is_some();
        if let Some(why) = w.finish(stopped, ctx.interrupt.clone()).await {
            run.stop(why, Phase::Check);
        }
    }
    record_memory(&ctx.events, &ctx.cluster);
    end_run(&ctx.events, run.why_stopped.clone());
}

/// Teardown: kills every process of the embedded cluster (also on drop);
/// a real cluster is left running.
pub(super) fn teardown(cluster: &Target) {
    cluster.shutdown();
}

/// Report: judges the history and writes the report into the run
/// folder; a run stopped early gives it with its error.
pub(super) fn report(run: Run<'_>, history: &History) -> Result<RunResult, RunError> {
    let s = run.scenario();
    // A shard's history is a slice of the run: only the merge judges it.
    if run.shard().is_split() {
        let report = report::build(history, Vec::new());
        if let Some(why) = &run.why_stopped {
            return Err(stopped(why, run.overran(), &run.dir).with_report(report));
        }
        return Ok(RunResult {
            dir: run.dir,
            report,
        });
    }
    let (report, written) = report::judge_and_write(
        &run.dir,
        s,
        history,
        run.opts.baseline.as_ref(),
        &s.name.value,
    );
    written.map_err(RunError::new)?;
    if let Some(why) = &run.why_stopped {
        return Err(stopped(why, run.overran(), &run.dir).with_report(report));
    }
    Ok(RunResult {
        dir: run.dir,
        report,
    })
}
