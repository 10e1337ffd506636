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
//! 7. **teardown**: kill every process of the embedded cluster (also on
//!    drop); a real cluster is left running.
//! 8. **report**: judge the history; report.json, report.html, junit.xml
//!    (the terminal summary is the caller's).
//!
//! [`run`] reads as those phases, each a function of `phases`; the
//! workloads share one shape (`workload::Workload`) and start from one
//! `workload::RunContext`. The faults, and a maintenance's steps, are
//! [`crate::fault::Faults`]'.
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
mod phases;
mod sweep;
mod tasks;
mod uploads;
mod workload;

pub use sweep::{SweepResult, run_sweep};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::client::{ApiClient, ApiKey};
use reference_cluster::NodeNaming;

use crate::history::{ClusterNode, Event, Events, History, HistoryWriter, NodeMap, Request};
use crate::identity;
use crate::limits::RUN_ALLOWANCE;
use crate::report::{self, LiveProgress, Report};
use crate::scenario::{ApiLoad, LoadedScenario};
use crate::schedule::RequestSchedule;
use crate::target::{RealCluster, Target, TargetFile};
use phases::Run;

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

/// Runs one scenario on the embedded cluster (or the target `opts`
/// names), phase by phase.
pub async fn run(loaded: &LoadedScenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let mut run = Run::open(loaded, opts)?;
    let (mut ctx, faults) = match phases::boot(&mut run).await {
        Ok(booted) => booted,
        Err((cluster, stop)) => return Err(run.abandon(cluster, stop).await),
    };
    let (background, mut workloads) = phases::warm_up(&mut run, &mut ctx).await?;
    let procedures =
        phases::workload_and_faults(&mut run, &mut ctx, &faults, &mut workloads).await?;
    phases::heal(&mut run, &ctx.cluster, &faults, procedures).await;
    phases::settle(&mut run).await;
    phases::check(&mut run, &ctx, background, workloads).await;
    let history = run.close().await?;
    phases::teardown(&ctx.cluster);
    phases::report(run, &history)
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
    let (report, written) =
        report::judge_and_write(dir, s, &history, opts.baseline.as_ref(), &s.name.value);
    if let Err(w) = written {
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

/// A short ID unique to the run, in the name of everything it creates in
/// the cluster, so that only those are removed.
fn new_run_id(seed: u64) -> String {
    format!("{:08x}", getrandom::u32().unwrap_or(seed as u32))
}

/// Readies the cluster: boots the embedded one, or checks that a real one
/// answers.
async fn ready_cluster(
    s: &crate::scenario::Scenario,
    target: Option<TargetFile>,
    dir: &Path,
    events: Events,
) -> Result<Target, String> {
    match target {
        None => {
            crate::embedded::check_room(dir, s.stored_at_most())?;
            let key = ApiKey::generate()?;
            crate::embedded::boot(
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
pub fn create_dir(out: &Path, name: &str) -> Result<PathBuf, RunError> {
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
    let own =
        reference_cluster::peak_rss_kib("/proc/self/status").map(|k| ("harness".to_string(), k));
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
pub fn interrupts() -> watch::Receiver<Option<String>> {
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
