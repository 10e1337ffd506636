//! The runner: one scenario, start to finish, in fixed phases.
//!
//! 1. **boot**: make the run folder, start the recorder, boot the embedded
//!    cluster (or, on a real target, see that every node and the LB answer
//!    ping) and wait for every node's ping.
//! 2. **warm-up**: start the background load; its requests are recorded
//!    but not judged.
//! 3. **workload**: the load goes on, tasks are submitted, and the
//!    scheduled faults are injected and undone at their times (a
//!    maintenance runs its steps alongside).
//! 4. **heal**: always, after an error or Ctrl-C too: undo every fault still
//!    in effect, then bring every node back whatever its state.
//! 5. **settle**: the load goes on so the checks can see the recovery
//!    (skipped after Ctrl-C).
//! 6. **check**: stop the load, wait for requests in flight and for tasks
//!    to end, read every task log through every node, close the history
//!    and judge it.
//! 7. **report**: report.json, junit.xml, the terminal summary.
//! 8. **teardown**: kill every process of the embedded cluster (also on
//!    drop); a real cluster is left running.
//!
//! The cluster is a [`Target`]: the runner does not know which kind it
//! drives. Everything a run creates in it (packages, machines, tasks)
//! carries the run's ID, and the run removes what it created, after an
//! interrupt too.
//!
//! Throughout, a watcher probes each node's own ping directly and records
//! every change, so drain checks can see 200 → 418 → 200 on any target.
//! The runner never judges anything itself: it only records events.

mod fleet;
mod load;
mod sweep;
mod tasks;
mod uploads;

pub use sweep::{SweepResult, run_sweep};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::check;
use crate::client::{ApiClient, ApiKey};
use crate::cluster::{EmbeddedCluster, NodeNaming};
use crate::fault::{FaultKind, PlannedFault};
use crate::history::{
    Clock, ClusterNode, Event, Events, FaultAction, FaultEvent, History, HistoryWriter, NodeMap,
    Phase, Request, STOPPED_STEP,
};
use crate::identity;
use crate::limits::RUN_ALLOWANCE;
use crate::report::{self, LiveProgress, Report};
use crate::scenario::{ApiLoad, LoadedScenario};
use crate::schedule::{self, Action, RequestSchedule};
use crate::target::{RealCluster, Target, TargetFile};

/// How a run is asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Folder that holds `<scenario>/<timestamp>/` and `latest`.
    pub out: PathBuf,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Show live progress on stderr.
    pub progress: bool,
    /// A real cluster to run on instead of the embedded one; the caller
    /// has checked that the scenario fits it and may disrupt it.
    pub target: Option<TargetFile>,
    /// Earlier runs to judge `no_regression` against.
    pub baseline: Option<crate::check::Baselines>,
    /// The longest a run may take, instead of [`time_limit`]'s.
    pub time_limit: Option<Duration>,
}

/// The longest a run of `s` may take: the time it states, its tasks' time
/// to finish, and [`RUN_ALLOWANCE`] for the rest.
pub fn time_limit(s: &crate::scenario::Scenario) -> Duration {
    let tasks = s
        .task_load()
        .map_or(Duration::ZERO, |t| t.finish_within.value.get());
    s.warmup.value.get() + s.duration.value.get() + s.settle.value.get() + tasks + RUN_ALLOWANCE
}

/// The transfer speed estimates assume: the embedded cluster moves
/// packages at several hundred MiB/s on loopback, a real one through its
/// LB often at less.
const ESTIMATE_BYTES_PER_SEC: f64 = 100.0 * 1024.0 * 1024.0;

/// About how long a boot (or a real target's readiness check) takes.
const ESTIMATE_BOOT: Duration = Duration::from_secs(2);

/// About how long `harness run` of `s` takes from start to end, for
/// `harness validate` to say: each run of a sweep (twice with one node
/// down), each with its boot, warm-up, duration and settle, and the
/// workloads that outlast the duration (a slow upload at its link's
/// speed, uploads and their read-back through every node, the ladder's
/// steps, a load phase's test plan, tasks still at work).
pub fn expected_wall_time(s: &crate::scenario::Scenario) -> Duration {
    let combinations = crate::scenario::sweep::combinations(s);
    if combinations.is_empty() {
        return one_run(s);
    }
    combinations
        .iter()
        .map(|c| one_run(&c.scenario) + c.one_down.as_ref().map_or(Duration::ZERO, one_run))
        .sum()
}

fn one_run(s: &crate::scenario::Scenario) -> Duration {
    let secs = |bytes: f64, per_sec: f64| Duration::from_secs_f64(bytes / per_sec.max(1.0));
    let warmup = s.warmup.value.get();
    let mut workload = s.duration.value.get();
    if let Some(u) = s.upload_load() {
        let size = u.size.value.bytes() as f64;
        let speed = u
            .throttle
            .as_ref()
            .map_or(ESTIMATE_BYTES_PER_SEC, |t| t.value.bytes_per_sec());
        let waves = u.count.value.div_ceil(u.concurrency.value.max(1));
        let read_back = size * f64::from(u.count.value) * f64::from(s.cluster.nodes.value);
        let uploads =
            u.at.value.get() + secs(size, speed) * waves + secs(read_back, ESTIMATE_BYTES_PER_SEC);
        workload = workload.max(uploads);
    }
    if let Some(l) = s.ladder() {
        let total = crate::scenario::ladder_sizes(l.from.value.bytes(), l.to.value.bytes())
            .into_iter()
            .map(|b| b as f64)
            .sum::<f64>();
        workload = workload.max(l.at.value.get() + secs(total, ESTIMATE_BYTES_PER_SEC));
    }
    if let Some(l) = s.load_phase() {
        let plan =
            l.at.value.get() + l.ramp_up.value.get() + l.hold.value.get() + l.ramp_down.value.get();
        workload = workload.max(plan);
    }
    if let Some(t) = s.task_load() {
        workload += t.work.value.get();
    }
    ESTIMATE_BOOT + warmup + workload + s.settle.value.get()
}

/// The interrupts, and the run's own deadline as one more: past `limit`
/// the run stops as it does on Ctrl-C. The flag says the deadline fired.
fn with_deadline(
    mut interrupts: watch::Receiver<Option<String>>,
    limit: Duration,
) -> (
    watch::Receiver<Option<String>>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let (tx, rx) = watch::channel(None);
    let overran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = overran.clone();
    tokio::spawn(async move {
        let why = tokio::select! {
            why = interrupted(interrupts.clone()) => why,
            _ = tokio::time::sleep(limit) => {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                format!(
                    "it overran its time limit of {}",
                    humantime::format_duration(limit)
                )
            }
            // Every receiver gone: the run ended.
            _ = tx.closed() => return,
        };
        let _ = tx.send(Some(why));
        // Later interrupts still reach the run (a second Ctrl-C).
        while interrupts.changed().await.is_ok() {
            let again = interrupts.borrow().clone();
            if again.is_some() && tx.send(again).is_err() {
                return;
            }
        }
    });
    (rx, overran)
}

/// A run that finished, passed or not.
#[derive(Debug)]
pub struct RunResult {
    /// The run folder.
    pub dir: PathBuf,
    /// The report written there.
    pub report: Report,
}

/// Why a run could not be finished: the environment, the harness, or an
/// interrupt.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// What happened.
    pub message: String,
    /// Ctrl-C or SIGTERM: the caller should not start another run.
    pub interrupted: bool,
    /// The report of a run stopped early (interrupted, or past its time
    /// limit), as written to its folder: it goes to `--json` and
    /// `--junit` too, so CI shows what was cut (docs/robustness.md,
    /// "Interrupted runs").
    pub report: Option<Box<Report>>,
}

impl RunError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            interrupted: false,
            report: None,
        }
    }

    fn with_report(mut self, report: Report) -> Self {
        self.report = Some(Box::new(report));
        self
    }
}

/// Runs one scenario on the embedded cluster.
pub async fn run(loaded: &LoadedScenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let s = &loaded.scenario;
    let seed = seed_of(opts, s)?;
    let dir = scenario_run_dir(&opts.out, &s.name.value, &loaded.source)?;

    // The scenario's baseline is kept beside the history, so `harness
    // report` judges the run again against the same figures.
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

    let clock = Clock::start();
    let (events, rx) = Events::channel(clock);
    let writer = HistoryWriter::create(&dir.join("history.jsonl")).map_err(|e| {
        RunError::new(format!(
            "failed to create the history in {}: {e}",
            dir.display()
        ))
    })?;
    let bars = opts.progress.then(indicatif::MultiProgress::new);
    let progress = bars.as_ref().map(LiveProgress::new);
    let recorder = tokio::spawn(record(rx, writer, progress));
    let limit = opts.time_limit.unwrap_or_else(|| time_limit(s));
    let (interrupt, overran) = with_deadline(interrupts(), limit);

    let run_id = new_run_id(seed);
    events.send(Event::RunStarted {
        scenario: s.name.value.clone(),
        seed,
        run_id: run_id.clone(),
        target: opts
            .target
            .as_ref()
            .map_or_else(|| "embedded".to_string(), |t| t.name.value.clone()),
        started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
    });
    let phase = |p| {
        events.send(Event::Phase {
            at_us: events.now_us(),
            phase: p,
        })
    };
    phase(Phase::Boot);
    // Recorded the moment the runner sees it, before anything is healed:
    // checks judge a fault window the interruption cut short by it.
    let stop_in = |why: String, phase: Phase| -> String {
        events.send(Event::Interrupted {
            at_us: events.now_us(),
            why: why.clone(),
            phase,
        });
        why
    };

    let booted = tokio::select! {
        c = boot(s, opts.target.clone(), &dir, events.clone()) => Some(c),
        _ = interrupted(interrupt.clone()) => None,
    };
    let overran_now = || overran.load(std::sync::atomic::Ordering::SeqCst);
    let cluster = match booted {
        Some(Ok(c)) => Arc::new(c),
        Some(Err(why)) => {
            give_up(events, recorder, None, &why).await;
            return Err(RunError::new(why));
        }
        None => {
            let why = stop_in(interrupt.borrow().clone().unwrap_or_default(), Phase::Boot);
            let history = give_up(events, recorder, None, &why).await;
            let e = stopped(
                &format!("{why}, while the cluster booted"),
                overran_now(),
                &dir,
            );
            return Err(report_stopped(e, loaded, opts, history, &dir));
        }
    };

    let trust = cluster.trust();
    let key = cluster.api_key().clone();
    let lb_api =
        ApiClient::with_trust(&cluster.lb_url(), key.clone(), &trust).map_err(RunError::new)?;
    let node_apis = cluster
        .nodes()
        .into_iter()
        .map(|(name, url)| ApiClient::with_trust(&url, key.clone(), &trust).map(|c| (name, c)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::new)?;
    // Who each node is, from the cluster, before anything is sent: every
    // fault, check and report goes by it.
    let learnt = tokio::select! {
        l = identity::learn(&node_apis, &lb_api) => Some(l),
        _ = interrupted(interrupt.clone()) => None,
    };
    let ids = match learnt {
        Some(Ok(learnt)) => record_identities(&events, learnt),
        Some(Err(why)) => {
            give_up(events, recorder, Some(&cluster), &why).await;
            return Err(RunError::new(why));
        }
        None => {
            let why = stop_in(interrupt.borrow().clone().unwrap_or_default(), Phase::Boot);
            let history = give_up(events, recorder, Some(&cluster), &why).await;
            let e = stopped(
                &format!("{why}, while the cluster was asked which node is which"),
                overran_now(),
                &dir,
            );
            return Err(report_stopped(e, loaded, opts, history, &dir));
        }
    };
    let faults = Faults {
        events: events.clone(),
        cluster: cluster.clone(),
        api: Arc::new(crate::fault::FaultApi::new(lb_api.clone(), ids)),
        turns: Arc::new(tokio::sync::Mutex::new(())),
        plan: Arc::new(schedule::plan_faults(s, seed)),
        state: Arc::new(Mutex::new(Vec::new())),
    };
    if let Ok(mut state) = faults.state.lock() {
        state.resize(faults.plan.len(), (false, false));
    }

    // Load runs from warm-up to the end of settle; the watcher until the
    // check phase.
    phase(Phase::Warmup);
    let (stop_load, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(watch_nodes(
        node_apis.clone(),
        events.clone(),
        stop_rx.clone(),
    ));
    let load = s.api_load().map(|api| {
        tokio::spawn(drive_load(
            lb_api.clone(),
            api.clone(),
            seed,
            events.clone(),
            stop_rx.clone(),
        ))
    });
    let mut why_stopped: Option<String> = None;
    let warmup_end = clock.instant(events.now_us()) + s.warmup.value.get();
    // The fleet registers and connects during warm-up; its health rounds
    // count from the end of it, as every workload's times do.
    let fleet_load = s.fleet().zip(s.cluster.polling.as_ref()).map(|(f, p)| {
        fleet::FleetWorkload::start(
            f.clone(),
            lb_api.clone(),
            fleet::Endpoints {
                nodes: cluster.polling_endpoints().to_vec(),
                lb: cluster.lb_polling_endpoint(),
                poll_wait: p.poll_wait.value.get(),
                pickup: p.pickup_timeout.value.get(),
                ids: faults.api.ids().clone(),
            },
            events.clone(),
            warmup_end,
            seed,
            run_id.clone(),
        )
    });
    tokio::select! {
        _ = sleep_until(warmup_end) => {}
        why = interrupted(interrupt.clone()) => why_stopped = Some(stop_in(why, Phase::Warmup)),
    }

    let mut procedures = JoinSet::new();
    let mut goose_load = None;
    let mut task_load = None;
    let mut upload_load = None;
    let mut ladder_load = None;
    if why_stopped.is_none() {
        phase(Phase::Workload);
        let start = tokio::time::Instant::now();
        goose_load = s.load_phase().map(|l| {
            load::LoadWorkload::start(
                l.clone(),
                cluster.lb_url(),
                key.clone(),
                trust.clone(),
                events.clone(),
                start,
                seed,
                run_id.clone(),
                dir.clone(),
            )
        });
        task_load = s.task_load().map(|t| {
            tasks::TaskWorkload::start(
                t.clone(),
                lb_api.clone(),
                node_apis.clone(),
                events.clone(),
                start,
                start + s.duration.value.get(),
                run_id.clone(),
            )
        });
        if let Some(l) = s.ladder() {
            let target = crate::upload::Uploader::new(
                &l.via.value,
                &via_url(&cluster, &l.via.value),
                key.clone(),
                &trust,
                std::time::Duration::from_secs(10),
                l.idle_timeout.value.get(),
                None,
            )
            .map_err(RunError::new)?;
            ladder_load = Some(uploads::UploadWorkload::start_ladder(
                l.clone(),
                target,
                events.clone(),
                start,
                seed,
                run_id.clone(),
            ));
        }
        if let Some(u) = s.upload_load() {
            let make = |name: &str, base: &str| {
                crate::upload::Uploader::new(
                    name,
                    base,
                    key.clone(),
                    &trust,
                    u.connect_timeout.value.get(),
                    u.idle_timeout.value.get(),
                    u.throttle.as_ref().map(|t| t.value.bytes_per_sec()),
                )
            };
            let target =
                make(&u.via.value, &via_url(&cluster, &u.via.value)).map_err(RunError::new)?;
            let nodes = cluster
                .nodes()
                .into_iter()
                .map(|(name, url)| make(&name, &url).map(|u| (name, u)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(RunError::new)?;
            upload_load = Some(uploads::UploadWorkload::start(
                u,
                target,
                nodes,
                events.clone(),
                start,
                seed,
                run_id.clone(),
                bars.clone(),
            ));
        }
        let timeline = schedule::timeline(&faults.plan);
        let body = async {
            for (at, action) in &timeline {
                sleep_until(start + Duration::from_micros(*at)).await;
                match *action {
                    Action::Inject(i) if faults.plan[i].kind == FaultKind::Maintenance => {
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
            why = interrupted(interrupt.clone()) => why_stopped = Some(stop_in(why, Phase::Workload)),
        }
    }

    // Heal: always. A maintenance still under way stops where it is.
    phase(Phase::Heal);
    procedures.abort_all();
    while procedures.join_next().await.is_some() {}
    faults.heal_the_rest().await;
    for error in cluster.heal_all().await {
        eprintln!("harness: heal: {error}");
        events.send(Event::HealFailed {
            at_us: events.now_us(),
            error,
        });
    }

    // An interrupt that came while the heal ran.
    if why_stopped.is_none()
        && let Some(why) = interrupt.borrow().clone()
    {
        why_stopped = Some(stop_in(why, Phase::Heal));
    }
    if why_stopped.is_none() {
        phase(Phase::Settle);
        tokio::select! {
            _ = tokio::time::sleep(s.settle.value.get()) => {}
            why = interrupted(interrupt.clone()) => why_stopped = Some(stop_in(why, Phase::Settle)),
        }
    }

    phase(Phase::Check);
    let _ = stop_load.send(true);
    if let Some(load) = load {
        let _ = load.await;
    }
    let _ = watcher.await;
    if let Some(l) = goose_load {
        // Its test plan ends within the duration; then what it created is
        // removed, after an interrupt too.
        if let Some(why) = l.finish(why_stopped.is_some(), interrupt.clone()).await
            && why_stopped.is_none()
        {
            why_stopped = Some(stop_in(why, Phase::Check));
        }
    }
    if let Some(t) = task_load {
        // Unfinished tasks get their time, unless the run was interrupted
        // (then nothing more is read). Either way, and after an interrupt
        // while they finish, the run's unfinished tasks are canceled.
        let (within, read_logs) = match why_stopped {
            None => (t.finish_within(), true),
            Some(_) => (Duration::ZERO, false),
        };
        if let Some(why) = t.finish(within, read_logs, interrupt.clone()).await
            && why_stopped.is_none()
        {
            why_stopped = Some(stop_in(why, Phase::Check));
        }
    }
    if let Some(f) = fleet_load {
        // Stopping the fleet and removing its machines is clean-up: it runs
        // after an interrupt too.
        f.finish().await;
    }
    for u in [ladder_load, upload_load].into_iter().flatten() {
        // Verification reads whole packages from every node; an interrupt
        // cuts it short. Whatever happens, the packages are deleted.
        if let Some(why) = u.finish(why_stopped.is_some(), interrupt.clone()).await
            && why_stopped.is_none()
        {
            why_stopped = Some(stop_in(why, Phase::Check));
        }
    }
    record_memory(&events, &cluster);
    end_run(&events, why_stopped.clone());
    let history = finish(events, recorder).await?;
    cluster.shutdown();

    let against = opts.baseline.as_ref().map(|b| against(b, &s.name.value));
    let results = check::run_all(s, &history, against.as_ref());
    let report = report::build(&history, results);
    write_report(&dir, &report)?;
    if let Some(why) = why_stopped {
        return Err(stopped(
            &why,
            overran.load(std::sync::atomic::Ordering::SeqCst),
            &dir,
        )
        .with_report(report));
    }
    Ok(RunResult { dir, report })
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
    let s = &loaded.scenario;
    let against = opts.baseline.as_ref().map(|b| against(b, &s.name.value));
    let report = report::build(&history, check::run_all(s, &history, against.as_ref()));
    if let Err(w) = write_report(dir, &report) {
        eprintln!("harness: {w}");
    }
    e.with_report(report)
}

/// The error of a run stopped early. An overrun is the harness's error,
/// not the user's stop: a suite goes on with its next scenario, unless a
/// Ctrl-C came too.
fn stopped(why: &str, overran: bool, dir: &Path) -> RunError {
    let user_stop = !overran || interrupts().borrow().is_some();
    let what = if overran { "stopped" } else { "interrupted" };
    RunError {
        message: format!(
            "the run was {what} ({why}); the cluster was healed and shut down, and the run's partial history is in {}",
            dir.display()
        ),
        interrupted: user_stop,
        report: None,
    }
}

/// The seed `--seed` or the scenario gives (any `u64`), or a random one
/// below 2^53.
fn seed_of(opts: &RunOptions, s: &crate::scenario::Scenario) -> Result<u64, RunError> {
    match opts.seed.or(s.seed) {
        Some(seed) => Ok(seed),
        None => draw_seed(),
    }
}

/// Seeds drawn at random stay at or below this, the largest integer a
/// JSON reader that holds numbers as doubles (`jq`, JavaScript) reads
/// exactly, so `--seed $(jq .seed report.json)` replays the same run. See
/// docs/scenarios.md, "What a run leaves behind".
pub const MAX_DRAWN_SEED: u64 = (1 << 53) - 1;

/// A random seed a double holds exactly.
fn draw_seed() -> Result<u64, RunError> {
    getrandom::u64()
        .map(|n| n & MAX_DRAWN_SEED)
        .map_err(|e| RunError::new(format!("failed to draw a seed: {e}")))
}

/// A new run folder named for `name`, holding an exact copy of the
/// scenario file as `scenario.yaml`.
fn scenario_run_dir(out: &Path, name: &str, source: &str) -> Result<PathBuf, RunError> {
    let dir = create_run_dir(out, name)?;
    let copy = dir.join("scenario.yaml");
    std::fs::write(&copy, source)
        .map_err(|e| RunError::new(format!("failed to write {}: {e}", copy.display())))?;
    Ok(dir)
}

/// The copy of a run's baseline in its folder.
pub const BASELINE_FILE: &str = "baseline.json";

/// What a scenario's run is compared with, out of `baselines`.
pub fn against<'a>(baselines: &'a check::Baselines, scenario: &str) -> check::Against<'a> {
    match baselines.of(scenario) {
        Some(b) => check::Against::Baseline(b),
        None => check::Against::Missing(format!(
            "the baseline {} holds no run of scenario {scenario}",
            baselines.path.display()
        )),
    }
}

/// Writes report.json, report.html and junit.xml into a run folder.
pub fn write_report(dir: &Path, report: &Report) -> Result<(), RunError> {
    let json = serde_json::to_string_pretty(report).map_err(|e| RunError::new(e.to_string()))?;
    let xml = report::junit_xml(std::slice::from_ref(report)).map_err(RunError::new)?;
    let page = report::html(report);
    for (name, text) in [
        ("report.json", json),
        ("report.html", page),
        ("junit.xml", xml),
    ] {
        std::fs::write(dir.join(name), text).map_err(|e| {
            RunError::new(format!("failed to write {}: {e}", dir.join(name).display()))
        })?;
    }
    Ok(())
}

/// The run's faults and what has been done with them; cheap to clone into
/// a maintenance running alongside the timeline.
#[derive(Clone)]
struct Faults {
    events: Events,
    cluster: Arc<Target>,
    /// The cluster's API as faults use it, with who is who.
    api: Arc<crate::fault::FaultApi>,
    plan: Arc<Vec<PlannedFault>>,
    /// Maintenances take turns, as an operator's rolling maintenance
    /// does: a node is drained only once the last one is back.
    turns: Arc<tokio::sync::Mutex<()>>,
    /// Per fault: (injected, healed).
    state: Arc<Mutex<Vec<(bool, bool)>>>,
}

/// How often a maintenance reads the node's running task count.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// How long a restarted node may take to answer ping.
const UP_TIMEOUT: Duration = Duration::from_secs(30);

impl Faults {
    fn mark(&self, i: usize, action: FaultAction) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match action {
            FaultAction::Inject => state[i].0 = true,
            FaultAction::Heal => state[i].1 = true,
            FaultAction::Step => {}
        }
    }

    /// Injects or heals fault `i` and records it at the time it began, so
    /// that requests that failed while a kill or a restart was under way
    /// fall inside the fault's window, and when it returned, by which time
    /// a drain has taken effect.
    async fn apply(&self, i: usize, action: FaultAction) -> Result<(), String> {
        let f = &self.plan[i];
        let at_us = self.events.now_us();
        // Marked first: a heal that is cut short must still be retried.
        if action == FaultAction::Inject {
            self.mark(i, action);
        }
        let result = match action {
            FaultAction::Inject => f.inject(&self.cluster, &self.api).await,
            FaultAction::Heal => f.heal(&self.cluster, &self.api).await,
            FaultAction::Step => Ok(()),
        };
        // A heal that failed stays pending, so the heal phase tries again.
        if action == FaultAction::Heal && result.is_ok() {
            self.mark(i, action);
        }
        self.record(i, action, at_us, None, result.clone().err());
        result
    }

    fn record(
        &self,
        i: usize,
        action: FaultAction,
        at_us: u64,
        step: Option<String>,
        error: Option<String>,
    ) {
        let f = &self.plan[i];
        self.events.send(Event::Fault(FaultEvent {
            at_us,
            done_us: Some(self.events.now_us()),
            step,
            name: f.name.clone(),
            kind: f.kind.as_str().to_string(),
            nodes: f.nodes.clone(),
            action,
            error,
        }));
    }

    /// A rolling maintenance, as the Octopus docs describe it: drain; once
    /// the LB has had `restart_after` and the node runs no task (or `wait`
    /// is over), restart it; once it answers, undrain it.
    ///
    /// Each step is taken only once the one before it is confirmed: the
    /// drain, by the cluster reporting the node in maintenance mode and the
    /// node's own ping answering 418; the wait, by a running task count
    /// read as zero, or read at all when the wait is over, and the drain
    /// seen again just before the stop. Otherwise the maintenance stops
    /// there, recorded with the reason, and undrains: a node that was not
    /// drained is never stopped.
    async fn maintain(self, i: usize) {
        let f = &self.plan[i];
        let Some(plan) = f.maintenance else { return };
        let _turn = match self.turns.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                eprintln!(
                    "harness: {} waits for the maintenance under way to end",
                    f.name
                );
                self.turns.lock().await
            }
        };
        let drained_at = tokio::time::Instant::now();
        if self.apply(i, FaultAction::Inject).await.is_err() {
            // The drain's own event says why.
            return self
                .stop_short(i, "the drain was not done; no node was stopped".into())
                .await;
        }
        let deadline = drained_at + plan.wait.max(plan.restart_after);
        let confirmed =
            crate::fault::confirm_drained(&self.cluster, &self.api, &f.nodes, deadline).await;
        if let Err(e) = confirmed {
            return self
                .stop_short(i, format!("{e}; no node was stopped"))
                .await;
        }
        tokio::time::sleep_until(drained_at + plan.restart_after).await;
        let (running, step_at) = loop {
            let at = self.events.now_us();
            let running = self.running_tasks(&f.nodes).await;
            if running == Ok(0) || tokio::time::Instant::now() >= deadline {
                break (running, at);
            }
            tokio::time::sleep(IDLE_POLL).await;
        };
        let idle = match running {
            Ok(0) => "idle".to_string(),
            Ok(n) => format!("wait over with {n} tasks running"),
            Err(e) => {
                return self
                    .stop_short(
                        i,
                        format!(
                            "the running task count could not be read by the end of the wait ({e}); no node was stopped"
                        ),
                    )
                    .await;
            }
        };
        self.record(i, FaultAction::Step, step_at, Some(idle), None);
        // Looked at once more just before the stop: the wait may have been
        // long, and something else (an operator) may have undrained it.
        let still = crate::fault::confirm_drained(
            &self.cluster,
            &self.api,
            &f.nodes,
            tokio::time::Instant::now(),
        )
        .await;
        if let Err(e) = still {
            return self
                .stop_short(
                    i,
                    format!("{e} when its restart was due; no node was stopped"),
                )
                .await;
        }
        // A maintenance has one node (validation sees to it).
        for node in &f.nodes {
            let at_us = self.events.now_us();
            // Cleanly, as an operator would; the embedded nodes are killed.
            // Started only once stopped.
            let result = match self.cluster.stop(node).await {
                Ok(()) => self.cluster.start(node).await,
                Err(e) => Err(e),
            };
            let result = match result {
                Ok(()) => self.wait_up(node).await,
                Err(e) => Err(e),
            };
            self.record(
                i,
                FaultAction::Step,
                at_us,
                Some("restart".into()),
                result.err(),
            );
        }
        let _ = self.apply(i, FaultAction::Heal).await;
    }

    /// Ends a maintenance before its next step: records why, then undoes
    /// what it did.
    async fn stop_short(&self, i: usize, why: String) {
        eprintln!("harness: {} stopped: {why}", self.plan[i].name);
        let at_us = self.events.now_us();
        self.record(
            i,
            FaultAction::Step,
            at_us,
            Some(STOPPED_STEP.into()),
            Some(why),
        );
        let _ = self.apply(i, FaultAction::Heal).await;
    }

    /// The nodes' running tasks, by their Ids; an error when a count
    /// cannot be read (a summary without the count is not "idle").
    async fn running_tasks(&self, nodes: &[String]) -> Result<u32, String> {
        let mut total = 0u32;
        for n in nodes {
            let id = self
                .api
                .ids()
                .identity(n)
                .map(|i| i.id.clone())
                .ok_or_else(|| format!("the cluster never said which of its nodes {n} is"))?;
            total = total.saturating_add(self.api.client().running_tasks(&id).await?);
        }
        Ok(total)
    }

    /// Waits until a restarted node answers ping directly (200 or 418).
    async fn wait_up(&self, node: &str) -> Result<(), String> {
        let url = self
            .cluster
            .node_url(node)
            .ok_or_else(|| format!("unknown node {node:?}"))?;
        let client = ApiClient::with_trust(&url, self.api_key(), &self.cluster.trust())?;
        let deadline = tokio::time::Instant::now() + UP_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if matches!(
                client.ping_status(Duration::from_secs(1)).await,
                Some(200 | 418)
            ) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "{node} did not answer ping within {}s of its restart",
            UP_TIMEOUT.as_secs()
        ))
    }

    fn api_key(&self) -> ApiKey {
        self.cluster.api_key().clone()
    }

    /// Heals every fault injected and not yet healed.
    async fn heal_the_rest(&self) {
        let pending: Vec<usize> = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (0..state.len())
                .filter(|&i| state[i].0 && !state[i].1)
                .collect()
        };
        for i in pending {
            let _ = self.apply(i, FaultAction::Heal).await;
        }
    }
}

/// The base URL of `lb` or of a node, by name (validation has checked
/// the name).
fn via_url(cluster: &Target, via: &str) -> String {
    if via == crate::history::LB_NAME {
        cluster.lb_url()
    } else {
        cluster.node_url(via).unwrap_or_default()
    }
}

/// A short ID unique to the run, in the name of everything it creates in
/// the cluster, so that only those are removed.
fn new_run_id(seed: u64) -> String {
    format!("{:08x}", getrandom::u32().unwrap_or(seed as u32))
}

/// Readies the cluster: boots the embedded one, or checks that a real one
/// answers.
async fn boot(
    s: &crate::scenario::Scenario,
    target: Option<TargetFile>,
    dir: &Path,
    events: Events,
) -> Result<Target, String> {
    match target {
        None => {
            crate::cluster::check_room(dir, s.stored_at_most()).map_err(|e| e.to_string())?;
            let key = ApiKey::generate()?;
            EmbeddedCluster::boot(
                &s.cluster,
                NodeNaming::Host,
                &dir.join("cluster"),
                key,
                events,
            )
            .await
            .map(|c| Target::Embedded(Box::new(c)))
            .map_err(|e| format!("the embedded cluster did not boot: {e}"))
        }
        Some(file) => {
            let key = file.api_key()?;
            let real = RealCluster::new(file, key, events).await?;
            real.wait_ready().await?;
            Ok(Target::Real(Box::new(real)))
        }
    }
}

/// Records which cluster node each of the run's nodes is, and the
/// cluster's nodes and task caps as its API lists them; gives the map.
fn record_identities(events: &Events, learnt: identity::Learnt) -> NodeMap {
    for ghost in &learnt.offline_unclaimed {
        eprintln!(
            "harness: the cluster also lists {ghost}, which it reports offline and the run leaves alone"
        );
    }
    let map = NodeMap::new(learnt.identities.clone());
    for n in learnt.listed.iter().filter(|n| n.is_in_maintenance_mode) {
        let who = map
            .node_of(&n.id)
            .map_or_else(|| n.name.clone(), |k| map.label(k));
        eprintln!(
            "harness: {who} is in maintenance mode as the run starts; the run will neither drain nor undrain it"
        );
    }
    events.send(Event::NodeIdentities {
        at_us: events.now_us(),
        nodes: learnt.identities.clone(),
    });
    events.send(Event::ClusterNodes {
        at_us: events.now_us(),
        nodes: learnt
            .listed
            .into_iter()
            .map(|n| ClusterNode {
                name: n.name,
                task_cap: n.max_concurrent_tasks,
                drained: n.is_in_maintenance_mode,
            })
            .collect(),
    });
    map
}

/// Time between two direct pings of one node.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Probes each node's own ping (not through the LB) and records each change
/// of answer, until told to stop.
async fn watch_nodes(nodes: Vec<(String, ApiClient)>, events: Events, stop: watch::Receiver<bool>) {
    let mut probes = JoinSet::new();
    for (name, client) in nodes {
        let events = events.clone();
        let mut stop = stop.clone();
        probes.spawn(async move {
            let mut last: Option<Option<u16>> = None;
            let mut ticker = tokio::time::interval(WATCH_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                let at_us = events.now_us();
                let status = client.ping_status(WATCH_EVERY * 2).await;
                if last != Some(status) {
                    last = Some(status);
                    events.send(Event::NodeStatus {
                        at_us,
                        node: name.clone(),
                        status,
                    });
                }
            }
        });
    }
    while probes.join_next().await.is_some() {}
}

/// Creates `<out>/<scenario>/<timestamp>/` and points `<out>/latest` at it.
pub(crate) fn create_run_dir(out: &Path, scenario: &str) -> Result<PathBuf, RunError> {
    let dir = create_dir(out, scenario)?;
    let latest = out.join("latest");
    let _ = std::fs::remove_file(&latest);
    let relative = dir.strip_prefix(out).unwrap_or(&dir);
    if let Err(e) = std::os::unix::fs::symlink(relative, &latest) {
        eprintln!(
            "harness: could not point {} at the run: {e}",
            latest.display()
        );
    }
    Ok(dir)
}

/// Creates `<out>/<name>/<timestamp>/` and leaves `<out>/latest` alone:
/// for what is not a scenario's run (`cluster up`, `containers up`), as
/// `latest` names the last run, which `harness report` reads
/// (docs/scenarios.md, "What a run leaves behind").
pub(crate) fn create_dir(out: &Path, name: &str) -> Result<PathBuf, RunError> {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = out.join(name);
    let mut dir = base.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        RunError::new(format!(
            "failed to create the run folder {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir)
}

/// The recorder: the one consumer of the event stream. It writes the
/// history file, feeds the live progress and keeps the events for checks,
/// until `run_ended` (other holders of the stream, such as the cluster's
/// threads, may outlive the run by a moment; their events are dropped).
async fn record(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut writer: HistoryWriter,
    mut progress: Option<LiveProgress>,
) -> Result<History, String> {
    let mut history = History::default();
    let mut write_error = None;
    // Nodes named as the cluster names them (a ping body, a task's
    // ServerNode) are recorded by the run's name for them, once the run
    // has learnt who is who.
    let mut map = NodeMap::default();
    while let Some(mut event) = rx.recv().await {
        if let Event::NodeIdentities { nodes, .. } = &event {
            map = NodeMap::new(nodes.clone());
        }
        map.translate(&mut event);
        if let Err(e) = writer.write(&event)
            && write_error.is_none()
        {
            write_error = Some(format!("failed to write the history: {e}"));
        }
        if let Some(p) = &mut progress {
            p.observe(&event);
        }
        let last = matches!(event, Event::RunEnded { .. });
        history.events.push(event);
        if last {
            break;
        }
    }
    if let Some(p) = &progress {
        p.finish();
    }
    writer
        .flush()
        .map_err(|e| format!("failed to write the history: {e}"))?;
    match write_error {
        Some(e) => Err(e),
        None => Ok(history),
    }
}

/// The peak memory of the harness and of every cluster process, for
/// capacity planning and the fleet's memory bound.
fn record_memory(events: &Events, cluster: &Target) {
    let own = crate::cluster::peak_rss_kib("/proc/self/status").map(|k| ("harness".to_string(), k));
    for (process, peak_rss_kib) in own.into_iter().chain(cluster.peak_memory()) {
        events.send(Event::PeakMemory {
            at_us: events.now_us(),
            process,
            peak_rss_kib,
        });
    }
}

fn end_run(events: &Events, interrupted: Option<String>) {
    events.send(Event::RunEnded {
        at_us: events.now_us(),
        interrupted,
    });
}

/// Ends a run before anything was disrupted: the history closed with why,
/// and what the run started shut down. Gives the history, if the recorder
/// kept it.
async fn give_up(
    events: Events,
    recorder: tokio::task::JoinHandle<Result<History, String>>,
    cluster: Option<&Target>,
    why: &str,
) -> Option<History> {
    end_run(&events, Some(why.to_string()));
    let history = finish(events, recorder).await.ok();
    if let Some(c) = cluster {
        c.shutdown();
    }
    history
}

/// Closes the stream and waits for the recorder.
async fn finish(
    events: Events,
    recorder: tokio::task::JoinHandle<Result<History, String>>,
) -> Result<History, RunError> {
    drop(events);
    match recorder.await {
        Ok(result) => result.map_err(RunError::new),
        Err(e) => Err(RunError::new(format!("the recorder failed: {e}"))),
    }
}

/// Open-model load: each request starts at its scheduled time whatever
/// happened to the ones before; waiting for a free slot counts in its
/// latency, measured from the intended start.
async fn drive_load(
    client: ApiClient,
    api: ApiLoad,
    seed: u64,
    events: Events,
    mut stop: watch::Receiver<bool>,
) {
    let clock = events.clock();
    let base_us = clock.now_us();
    let slots = api.max_in_flight.value as usize;
    let in_flight = Arc::new(Semaphore::new(slots));
    let timeout = api.timeout.value.get();
    for planned in RequestSchedule::new(api.rate.get(), api.mix(), seed) {
        if *stop.borrow() {
            break;
        }
        let intended_us = base_us.saturating_add(planned.at_us);
        tokio::select! {
            _ = sleep_until(clock.instant(intended_us)) => {}
            _ = stop.changed() => break,
        }
        let permit = tokio::select! {
            p = in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let client = client.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let sent_us = events.now_us();
            let seen = client.invoke(planned.op, timeout).await;
            events.send(Event::Request(Request {
                seq: planned.seq,
                op: planned.op,
                intended_us,
                sent_us,
                done_us: events.now_us(),
                outcome: seen.outcome,
                status: seen.status,
                error: seen.error,
                bytes: seen.bytes,
                node: seen.node,
            }));
            drop(permit);
        });
    }
    // Wait for every request in flight; each ends within its timeout.
    let _ = in_flight.acquire_many(slots as u32).await;
}

/// The process's one interrupt watch: it turns to Some, with a reason, on
/// Ctrl-C or SIGTERM. A second one exits at once: the children still die,
/// because they watch their stdin pipe and asked for a parent-death signal.
/// Call it inside the runtime.
pub(crate) fn interrupts() -> watch::Receiver<Option<String>> {
    static WATCH: std::sync::OnceLock<watch::Receiver<Option<String>>> = std::sync::OnceLock::new();
    WATCH.get_or_init(watch_interrupts).clone()
}

fn watch_interrupts() -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    // Ctrl-C through the ctrlc crate, installed here first: goose, which a
    // load phase embeds, installs its own Ctrl-C handler with ctrlc, and
    // that one stops goose alone and would leave the run unhealed. ctrlc
    // allows one handler per process, so once the harness holds it,
    // goose's attempt fails and every Ctrl-C comes here.
    let (ctrl_c_tx, mut ctrl_c) = tokio::sync::mpsc::unbounded_channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = ctrl_c_tx.send(());
    }) {
        eprintln!("harness: cannot catch Ctrl-C: {e}");
    }
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut next = async || -> &'static str {
            tokio::select! {
                Some(()) = ctrl_c.recv() => "Ctrl-C",
                _ = async {
                    match &mut term {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending().await,
                    }
                } => "SIGTERM",
            }
        };
        let first = next().await;
        let _ = tx.send(Some(first.to_string()));
        let second = next().await;
        eprintln!("harness: {second} again: exiting now");
        std::process::exit(crate::exit::ENVIRONMENT.into());
    });
    rx
}

/// Resolves with the reason once an interrupt has arrived.
pub(crate) async fn interrupted(mut rx: watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(why) = rx.borrow().clone() {
            return why;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `validate` says a run takes counts what outlasts the stated
    /// duration: a slow upload at its link's speed, the ladder, a sweep's
    /// every run. See: issue 17.
    #[test]
    fn the_expected_wall_time_counts_what_outlasts_the_duration() {
        let load = |file: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            crate::scenario::load(&path).expect(file).scenario
        };
        let secs = |file: &str| expected_wall_time(&load(file)).as_secs();
        // 1 GiB at 4 MiB/s is 256 s, whatever the 2 s duration says.
        let lb_limits = secs("scenarios/lb-limits.yaml");
        assert!((256..400).contains(&lb_limits), "{lb_limits}");
        // Four combinations, each run twice (one node down), each over 12 s.
        let capacity = secs("scenarios/capacity.yaml");
        assert!((4 * 2 * 14..300).contains(&capacity), "{capacity}");
        // No workload past the duration: boot, warm-up, duration, settle.
        let failover = load("scenarios/failover.yaml");
        let stated = failover.warmup.value.get()
            + failover.duration.value.get()
            + failover.settle.value.get();
        assert_eq!(expected_wall_time(&failover), ESTIMATE_BOOT + stated);
    }

    /// A drawn seed survives a JSON reader that holds numbers as doubles:
    /// `jq .seed` prints the seed that replays the run. See: issue 17.
    #[test]
    fn r17_drawn_seeds_are_exact_as_doubles() {
        for _ in 0..256 {
            let seed = draw_seed().unwrap();
            assert!(seed <= MAX_DRAWN_SEED, "{seed}");
            assert_eq!(seed as f64 as u64, seed);
        }
    }
}
