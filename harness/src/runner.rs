//! The runner: one scenario, start to finish, in fixed phases.
//!
//! 1. **boot**: make the run folder, start the recorder, boot the cluster
//!    and wait for every node's ping.
//! 2. **warm-up**: start the background load; its requests are recorded
//!    but not judged.
//! 3. **workload**: the load goes on, and the scheduled faults are injected
//!    and undone at their times.
//! 4. **heal**: always, after an error or Ctrl-C too: undo every fault still
//!    in effect, then bring every node back whatever its state.
//! 5. **settle**: the load goes on so the checks can see the recovery
//!    (skipped after Ctrl-C).
//! 6. **check**: stop the load, wait for requests in flight, close the
//!    history and judge it.
//! 7. **report**: report.json, junit.xml, the terminal summary.
//! 8. **teardown**: kill every process of the cluster (also on drop).
//!
//! The runner never judges anything itself: it only records events.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::sleep_until;

use crate::check;
use crate::client::{ApiClient, ApiKey};
use crate::cluster::EmbeddedCluster;
use crate::fault::PlannedFault;
use crate::history::{
    Clock, Event, Events, FaultAction, FaultEvent, History, HistoryWriter, Phase, Request,
};
use crate::report::{self, LiveProgress, Report};
use crate::scenario::{ApiLoad, LoadedScenario};
use crate::schedule::{self, Action, RequestSchedule};

/// How a run is asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Folder that holds `<scenario>/<timestamp>/` and `latest`.
    pub out: PathBuf,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Show live progress on stderr.
    pub progress: bool,
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
}

impl RunError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            interrupted: false,
        }
    }
}

/// Runs one scenario on the embedded cluster.
pub async fn run(loaded: &LoadedScenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let s = &loaded.scenario;
    let seed = match opts.seed.or(s.seed) {
        Some(seed) => seed,
        None => {
            getrandom::u64().map_err(|e| RunError::new(format!("failed to draw a seed: {e}")))?
        }
    };
    let dir = create_run_dir(&opts.out, &s.name.value)?;
    std::fs::write(dir.join("scenario.yaml"), &loaded.source).map_err(|e| {
        RunError::new(format!(
            "failed to write {}: {e}",
            dir.join("scenario.yaml").display()
        ))
    })?;

    let key = ApiKey::generate().map_err(RunError::new)?;
    let clock = Clock::start();
    let (events, rx) = Events::channel(clock);
    let writer = HistoryWriter::create(&dir.join("history.jsonl")).map_err(|e| {
        RunError::new(format!(
            "failed to create the history in {}: {e}",
            dir.display()
        ))
    })?;
    let progress = opts.progress.then(LiveProgress::new);
    let recorder = tokio::spawn(record(rx, writer, progress));
    let interrupt = interrupts();

    events.send(Event::RunStarted {
        scenario: s.name.value.clone(),
        seed,
        target: "embedded".to_string(),
        started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
    });
    let phase = |p| {
        events.send(Event::Phase {
            at_us: events.now_us(),
            phase: p,
        })
    };
    phase(Phase::Boot);

    let cluster_dir = dir.join("cluster");
    let booted = tokio::select! {
        c = EmbeddedCluster::boot(&s.cluster, &cluster_dir, key, events.clone()) => Some(c),
        _ = interrupted(interrupt.clone()) => None,
    };
    let cluster = match booted {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            let why = format!("the embedded cluster did not boot: {e}");
            end_run(&events, Some(why.clone()));
            let _ = finish(events, recorder).await;
            return Err(RunError::new(why));
        }
        None => {
            end_run(&events, Some("interrupted while the cluster booted".into()));
            let _ = finish(events, recorder).await;
            return Err(RunError {
                message: "interrupted while the cluster booted".into(),
                interrupted: true,
            });
        }
    };

    let faults = schedule::plan_faults(s, seed);
    let mut injected = vec![false; faults.len()];
    let mut healed = vec![false; faults.len()];

    // Load runs from warm-up to the end of settle.
    phase(Phase::Warmup);
    let (stop_load, stop_rx) = watch::channel(false);
    let load = match s.api_load() {
        Some(api) => {
            let client = ApiClient::new(&cluster.lb_url(), cluster.api_key().clone())
                .map_err(RunError::new)?;
            Some(tokio::spawn(drive_load(
                client,
                api.clone(),
                seed,
                events.clone(),
                stop_rx,
            )))
        }
        None => None,
    };
    let mut why_stopped: Option<String> = None;
    let warmup_end = clock.instant(events.now_us()) + s.warmup.value.get();
    tokio::select! {
        _ = sleep_until(warmup_end) => {}
        why = interrupted(interrupt.clone()) => why_stopped = Some(why),
    }

    if why_stopped.is_none() {
        phase(Phase::Workload);
        let start = tokio::time::Instant::now();
        let timeline = schedule::timeline(&faults);
        let body = async {
            for (at, action) in &timeline {
                sleep_until(start + std::time::Duration::from_micros(*at)).await;
                match *action {
                    Action::Inject(i) => {
                        apply(&events, &cluster, &faults[i], FaultAction::Inject).await;
                        injected[i] = true;
                    }
                    Action::Heal(i) => {
                        apply(&events, &cluster, &faults[i], FaultAction::Heal).await;
                        healed[i] = true;
                    }
                }
            }
            sleep_until(start + s.duration.value.get()).await;
        };
        tokio::select! {
            _ = body => {}
            why = interrupted(interrupt.clone()) => why_stopped = Some(why),
        }
    }

    // Heal: always.
    phase(Phase::Heal);
    for (i, f) in faults.iter().enumerate() {
        if injected[i] && !healed[i] {
            apply(&events, &cluster, f, FaultAction::Heal).await;
        }
    }
    for e in cluster.heal_all().await {
        eprintln!("harness: heal: {e}");
    }

    if why_stopped.is_none() {
        phase(Phase::Settle);
        tokio::select! {
            _ = tokio::time::sleep(s.settle.value.get()) => {}
            why = interrupted(interrupt.clone()) => why_stopped = Some(why),
        }
    }

    phase(Phase::Check);
    let _ = stop_load.send(true);
    if let Some(load) = load {
        let _ = load.await;
    }
    end_run(&events, why_stopped.clone());
    let history = finish(events, recorder).await?;
    cluster.shutdown();

    let results = check::run_all(s, &history);
    let report = report::build(&history, results);
    write_report(&dir, &report)?;
    if let Some(why) = why_stopped {
        return Err(RunError {
            message: format!(
                "the run was interrupted ({why}); its partial history is in {}",
                dir.display()
            ),
            interrupted: true,
        });
    }
    Ok(RunResult { dir, report })
}

/// Writes report.json and junit.xml into a run folder.
pub fn write_report(dir: &Path, report: &Report) -> Result<(), RunError> {
    let json = serde_json::to_string_pretty(report).map_err(|e| RunError::new(e.to_string()))?;
    let xml = report::junit_xml(std::slice::from_ref(report)).map_err(RunError::new)?;
    for (name, text) in [("report.json", json), ("junit.xml", xml)] {
        std::fs::write(dir.join(name), text).map_err(|e| {
            RunError::new(format!("failed to write {}: {e}", dir.join(name).display()))
        })?;
    }
    Ok(())
}

/// Injects or heals a fault and records it at the time it began, so that
/// requests that failed while a kill or a restart was under way fall inside
/// the fault's window.
async fn apply(events: &Events, cluster: &EmbeddedCluster, f: &PlannedFault, action: FaultAction) {
    let at_us = events.now_us();
    let result = match action {
        FaultAction::Inject => f.inject(cluster).await,
        FaultAction::Heal => f.heal(cluster).await,
    };
    events.send(Event::Fault(FaultEvent {
        at_us,
        name: f.name.clone(),
        kind: f.kind.as_str().to_string(),
        nodes: f.nodes.clone(),
        action,
        error: result.err(),
    }));
}

/// Creates `<out>/<scenario>/<timestamp>/` and points `<out>/latest` at it.
pub(crate) fn create_run_dir(out: &Path, scenario: &str) -> Result<PathBuf, RunError> {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = out.join(scenario);
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
    while let Some(event) = rx.recv().await {
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

fn end_run(events: &Events, interrupted: Option<String>) {
    events.send(Event::RunEnded {
        at_us: events.now_us(),
        interrupted,
    });
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
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut next = async || -> &'static str {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
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
