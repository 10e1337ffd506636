//! The `load` workload: closed-model users on goose, embedded through
//! `initialize_with_config` (never its command line). goose runs the test
//! plan (ramp up, hold, ramp down), picks each user's next transaction by
//! weight, and keeps its own metrics and reports in the run folder. Each
//! request a transaction makes is also recorded in the harness history as
//! it completes, marked as the load's, so the harness's checks, fault
//! windows and per-node shares cover load phases as they cover the
//! open-model `api` workload, and the threshold rules are judged on it
//! (goose judges them too where one process runs the whole phase). A
//! shard of a split run runs its share of the users and numbers its
//! requests apart from the other shards'.
//!
//! What the phase creates carries the run ID (task descriptions, package
//! versions) and is cleaned up at the end: packages deleted, unfinished
//! tasks canceled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::goose::{GooseMethod, GooseRequest, GooseUser, Transaction, TransactionResult};
use goose::{GooseAttack, GooseError};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use super::workload::{RunContext, Workload};
use crate::client::{ApiClient, ApiKey, observe};
use crate::history::{Event, Events, Op, Request, TaskSubmit, ThresholdOutcome};
use crate::package::{CHUNK, LOAD_PACKAGE_ID, Multipart, PackageSpec};
use crate::scenario::LoadPhase;
use crate::target::Trust;
use crate::vocab::Shard;
use reference_cluster::api::{NewTask, TaskBody};

/// How often a task transaction reads its task's state.
const TASK_POLL: Duration = Duration::from_millis(200);

/// How long a task transaction waits past the script's own time, for the
/// queue (Octopus reads it every 20 s) and the server's work.
const TASK_GRACE: Duration = Duration::from_secs(60);

/// How long goose may take to stop its users after its killswitch; a
/// transaction under way ends within a poll of the stop.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// How long a user idles per transaction once the phase is stopped, and
/// how often the killswitch is set again until goose has stopped.
const IDLE: Duration = Duration::from_millis(200);

/// What goose's killswitch is told.
const STOP_REASON: &str = "the harness run was interrupted";

/// goose's reports, in the run folder.
const REPORTS: [&str; 2] = ["goose-report.html", "goose-report.json"];

/// What every user shares.
struct Shared {
    events: Events,
    key: ApiKey,
    trust: Trust,
    cfg: LoadPhase,
    tag: String,
    seed: u64,
    /// Which shard of the run this process is: it runs its share of the
    /// users and numbers its requests among the shards' own.
    shard: Shard,
    /// When the plan holds its users, in the history's microseconds.
    hold_us: (u64, u64),
    /// How many of this process's numbers were taken: requests, tasks and
    /// packages share them, so each is unique in the run.
    seq: AtomicU64,
    made: Mutex<Made>,
    /// Set once the run wants the phase over (Ctrl-C): nothing more is
    /// sent, and goose is told through its killswitch.
    stop: AtomicBool,
    /// Wakes the wait for the phase's start.
    stopped: tokio::sync::Notify,
}

/// What the phase created, for the clean-up.
#[derive(Default, Clone)]
struct Made {
    tasks: Vec<String>,
    /// Each package, beside when an upload of it that may still land it
    /// ended (its body went, its answer failed).
    packages: Vec<(String, Option<tokio::time::Instant>)>,
}

/// A load phase under way. Dropping it stops goose.
pub(super) struct LoadWorkload {
    handle: JoinHandle<()>,
    shared: Arc<Shared>,
    lb_url: String,
}

impl Drop for LoadWorkload {
    fn drop(&mut self) {
        // goose's users are tasks of their own and outlive an abort; the
        // stop makes them idle instead of sending.
        self.shared.stop();
        self.handle.abort();
    }
}

impl Workload for LoadWorkload {
    type Part = LoadPhase;

    /// Starts the test plan at `start + at`, against the LB; goose's
    /// reports go into the run folder.
    fn start(ctx: &RunContext, cfg: LoadPhase) -> Result<Self, String> {
        let held = ctx.start + cfg.at.value.get() + cfg.ramp_up.value.get();
        let clock = ctx.events.clock();
        let hold_us = (clock.us_of(held), clock.us_of(held + cfg.hold.value.get()));
        let shared = Arc::new(Shared {
            events: ctx.events.clone(),
            key: ctx.key.clone(),
            trust: ctx.trust.clone(),
            tag: ctx.run_id.clone(),
            seed: ctx.seed,
            shard: ctx.shard,
            hold_us,
            seq: AtomicU64::new(0),
            made: Mutex::new(Made::default()),
            cfg,
            stop: AtomicBool::new(false),
            stopped: tokio::sync::Notify::new(),
        });
        let lb_url = ctx.cluster.lb_url();
        let at = ctx.start + shared.cfg.at.value.get();
        let handle = tokio::spawn({
            let (shared, lb_url, dir) = (shared.clone(), lb_url.clone(), ctx.dir.clone());
            async move {
                tokio::select! {
                    _ = sleep_until(at) => {}
                    _ = shared.stopped.notified() => {}
                }
                let ended = if shared.stopping() {
                    ended(&shared, Err("stopped before it started".into()))
                } else {
                    attack(shared.clone(), lb_url, &dir).await
                };
                shared.events.send(ended);
            }
        });
        Ok(Self {
            handle,
            shared,
            lb_url,
        })
    }

    /// Waits for the test plan to end (or, after an interrupt, stops it),
    /// then deletes the packages it uploaded and cancels its unfinished
    /// tasks. An interrupt while it waits is returned.
    async fn finish(
        mut self,
        interrupted: bool,
        interrupt: tokio::sync::watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let mut why = None;
        if interrupted {
            self.shared.stop();
        }
        tokio::select! {
            _ = &mut self.handle => {}
            w = super::interrupts::interrupted(interrupt), if !interrupted => {
                self.shared.stop();
                why = Some(w);
            }
        }
        // goose's killswitch stops its users and lets it write its
        // reports. goose clears the switch as it starts, so it is set again
        // until goose has stopped; past the bound goose is aborted, and its
        // users, idle since the stop, send nothing more.
        let deadline = Instant::now() + STOP_WITHIN;
        while !self.handle.is_finished() {
            if Instant::now() >= deadline {
                self.handle.abort();
                break;
            }
            goose::trigger_killswitch(STOP_REASON);
            tokio::select! {
                _ = &mut self.handle => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
        let made = self
            .shared
            .made
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let s = &self.shared;
        if !made.packages.is_empty() {
            match crate::upload::Uploader::new(
                "lb",
                &self.lb_url,
                s.key.clone(),
                &s.trust,
                Duration::from_secs(5),
                Duration::from_secs(30),
                None,
            ) {
                Ok(lb) => {
                    super::uploads::delete_packages(&lb, made.packages.clone(), &s.events).await
                }
                Err(e) => {
                    for (id, _) in &made.packages {
                        s.events.send(Event::PackageDeleted {
                            at_us: s.events.now_us(),
                            id: id.clone(),
                            deleted: false,
                            error: Some(e.clone()),
                        });
                    }
                }
            }
        }
        if !made.tasks.is_empty() {
            match ApiClient::with_trust(&self.lb_url, s.key.clone(), &s.trust) {
                Ok(api) => {
                    super::tasks::cancel_unfinished(&api, &made.tasks, &s.events).await;
                }
                Err(e) => eprintln!("harness: load phase: cannot cancel its tasks: {e}"),
            }
        }
        why
    }
}

/// goose's test plan: up to `users` (this shard's share of the
/// scenario's) over `ramp_up`, held, down to 0 over `ramp_down`, in whole
/// seconds. Every shard ramps over the same times, so together they ramp
/// as one process would.
fn test_plan(cfg: &LoadPhase, users: u32) -> String {
    let s = |d: &crate::scenario::units::Duration| d.get().as_secs();
    let mut steps = vec![
        format!("{users},{}", s(&cfg.ramp_up.value)),
        format!("{users},{}", s(&cfg.hold.value)),
    ];
    steps.push(format!("0,{}", s(&cfg.ramp_down.value)));
    steps.join(";")
}

/// Runs goose to the end of its test plan; the `load_ended` event says how
/// it went.
async fn attack(shared: Arc<Shared>, lb_url: String, dir: &std::path::Path) -> Event {
    let cfg = &shared.cfg;
    let mut config = GooseConfiguration::default();
    config.host = Some(lb_url);
    config.no_print_metrics = true;
    config.no_error_summary = true;
    // A test plan never resets goose's metrics: they cover the whole plan,
    // ramps included, as the harness's history does.
    config.no_telnet = true;
    config.quiet = 1;
    config.report_file = REPORTS
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    // goose judges its rules on its own process's requests: a shard's
    // would be judged on part of the load, so only a whole run's goose
    // has them (the check judges every run's on the history).
    if !shared.shard.is_split() {
        config.threshold = cfg.thresholds.iter().map(|t| t.value.clone()).collect();
    }
    // Judged once, at the end: a load phase is not cut short by a rule, so
    // the history covers the whole plan.
    config.no_threshold_abort = true;

    let mut scenario = goose::goose::Scenario::new("harness");
    if let Some(think) = &cfg.think {
        let t = think.value.get();
        match scenario.set_wait_time(t, t) {
            Ok(s) => scenario = s,
            Err(e) => return ended(&shared, Err(e.to_string())),
        }
    }
    scenario = scenario.register_transaction(on_start(shared.clone()));
    for (op, weight) in cfg.mix.value.weights() {
        if weight == 0 {
            continue;
        }
        match transaction(shared.clone(), op).set_weight(weight as usize) {
            Ok(t) => scenario = scenario.register_transaction(t),
            Err(e) => return ended(&shared, Err(e.to_string())),
        }
    }
    let plan = test_plan(cfg, shared.users());
    quiet_goose();
    let result = async {
        GooseAttack::initialize_with_config(config)?
            .register_scenario(scenario)
            .set_default(GooseDefault::TestPlan, plan.as_str())?
            .execute()
            .await
    }
    .await;
    let outcome = match result {
        Ok(metrics) => Ok(metrics),
        // Failed rules are a result, not an error: goose's finding goes
        // beside each check's own.
        Err(GooseError::ThresholdsFailed { metrics, .. }) => Ok(*metrics.0),
        Err(GooseError::InvalidOption {
            option,
            value,
            detail,
        }) => Err(format!("goose refused {option} = {value:?}: {detail}")),
        Err(e) => Err(e.to_string()),
    };
    ended(&shared, outcome)
}

/// The process's logger, installed before goose installs its own (the
/// `log` crate takes one per process): goose logs each failed request as
/// a warning on standard output, where the harness's progress goes, and
/// the history holds them all already. Only goose's errors get through.
struct GooseErrors;

impl log::Log for GooseErrors {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Error
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("goose: {}", record.args());
        }
    }

    fn flush(&self) {}
}

fn quiet_goose() {
    static LOGGER: GooseErrors = GooseErrors;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

/// The `load_ended` event of a finished (or failed) goose run.
fn ended(shared: &Shared, outcome: Result<goose::metrics::GooseMetrics, String>) -> Event {
    let at_us = shared.events.now_us();
    match outcome {
        Ok(m) => {
            let (requests, failed) = m.requests.values().fold((0u64, 0u64), |(r, f), agg| {
                (
                    r + (agg.success_count + agg.fail_count) as u64,
                    f + agg.fail_count as u64,
                )
            });
            Event::LoadEnded {
                at_us,
                users: shared.users(),
                hold_us: Some(shared.hold_us),
                requests,
                failed,
                thresholds: m
                    .thresholds
                    .iter()
                    .map(|t| ThresholdOutcome {
                        rule: t.rule.clone(),
                        observed: t.observed.clone(),
                        passed: t.passed,
                    })
                    .collect(),
                error: None,
                reports: REPORTS.iter().map(|r| r.to_string()).collect(),
            }
        }
        Err(error) => Event::LoadEnded {
            at_us,
            users: shared.users(),
            hold_us: Some(shared.hold_us),
            requests: 0,
            failed: 0,
            thresholds: Vec::new(),
            error: Some(error),
            reports: Vec::new(),
        },
    }
}

/// Each user's first step: a client that sends the API key and trusts the
/// target as the target file says, in place of goose's default one.
fn on_start(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Ok(v) = reqwest::header::HeaderValue::from_str(shared.key.expose()) {
                let mut v = v;
                v.set_sensitive(true);
                headers.insert("X-Octopus-ApiKey", v);
            }
            // The runner built clients with this trust already, so it is
            // known to work; were it not, the user keeps goose's client and
            // every request it makes is refused and recorded as such.
            if let Ok(b) = crate::client::http_builder(&shared.trust) {
                let b = b
                    .no_proxy()
                    .tcp_nodelay(true)
                    .default_headers(headers)
                    .timeout(shared.cfg.timeout.value.get());
                user.set_client_builder(b).await?;
            }
            Ok(())
        })
    }))
    .set_name("start")
    .set_on_start()
}

/// The transaction of one kind.
fn transaction(shared: Arc<Shared>, op: Op) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            if shared.stopping() {
                // Idle, sending nothing, until goose stops this user.
                goose::trigger_killswitch(STOP_REASON);
                tokio::time::sleep(IDLE).await;
                return Ok(());
            }
            match op {
                Op::Task => task(user, &shared).await,
                Op::Upload => upload(user, &shared).await,
                _ => get(user, &shared, op).await,
            }
        })
    }))
    .set_name(op.as_str())
}

impl Shared {
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // A permit, so a start not yet waiting still sees it.
        self.stopped.notify_one();
        goose::trigger_killswitch(STOP_REASON);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn next_seq(&self) -> u64 {
        self.shard.nth(self.seq.fetch_add(1, Ordering::Relaxed))
    }

    fn users(&self) -> u32 {
        self.shard.share(self.cfg.users.value)
    }

    fn record(&self, op: Op, sent_us: u64, o: crate::client::Observation) {
        // A closed-model user starts a request the moment it is ready, so
        // its intended start is when it was sent.
        self.events.send(Event::Request(Request {
            seq: self.next_seq(),
            op,
            intended_us: sent_us,
            sent_us,
            done_us: self.events.now_us(),
            outcome: o.outcome,
            status: o.status,
            error: o.error,
            bytes: o.bytes,
            node: o.node,
            held: false,
            load: true,
        }));
    }
}

/// The response's status and whole body.
async fn read(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<(u16, Bytes), reqwest::Error> {
    let r = response?;
    let status = r.status().as_u16();
    Ok((status, r.bytes().await?))
}

async fn get(user: &mut GooseUser, shared: &Shared, op: Op) -> TransactionResult {
    let sent_us = shared.events.now_us();
    let goose = user.get(op.path()).await?;
    let result = read(goose.response).await;
    shared.record(op, sent_us, observe(op, result));
    Ok(())
}

/// Creates an `AdHocScript` task and reads it until it ends: a `task`
/// request for the POST, a `task_read` for each read, and the task's end
/// as a task event, as the tasks workload records it.
async fn task(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let seq = shared.next_seq();
    let marker = format!("HARNESS-EXEC-{}-L{seq}", shared.tag);
    let work = shared.cfg.task_work.value.get();
    let body = NewTask {
        name: "AdHocScript".into(),
        description: format!("harness run {}, load task {seq}", shared.tag),
        arguments: Some(serde_json::json!({
            "ScriptBody": format!("echo {marker}\nsleep {:.3}", work.as_secs_f64()),
            "Syntax": "Bash",
            "TargetType": "OctopusServer",
        })),
        space_id: None,
    };
    let sent_us = shared.events.now_us();
    let builder = user
        .get_request_builder(&GooseMethod::Post, Op::Task.path())?
        .json(&body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(Op::Task.path())
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    let created = read(goose.response).await;
    let id = match &created {
        Ok((201, b)) => serde_json::from_slice::<TaskBody>(b).ok().map(|t| t.id),
        _ => None,
    };
    let o = observe(Op::Task, created);
    shared.events.send(Event::TaskSubmitted(TaskSubmit {
        seq,
        marker,
        via: crate::history::LOAD_VIA.into(),
        due_us: None,
        sent_us,
        done_us: shared.events.now_us(),
        outcome: o.outcome,
        status: o.status,
        error: o.error.clone(),
        id: id.clone(),
    }));
    shared.record(Op::Task, sent_us, o);
    let Some(id) = id else {
        return Ok(());
    };
    if let Ok(mut m) = shared.made.lock() {
        m.tasks.push(id.clone());
    }
    // Until the task ends, or the script's time and the grace have passed;
    // each read is a request of its own, and the last state a task event.
    let deadline = Instant::now() + work + TASK_GRACE;
    let path = format!("{}/{id}", Op::TaskRead.path());
    loop {
        tokio::time::sleep(TASK_POLL).await;
        if shared.stopping() {
            // The clean-up cancels it if it has not ended.
            break;
        }
        let request = GooseRequest::builder()
            .path(path.as_str())
            .name("/api/tasks/{id}")
            .build();
        let sent_us = shared.events.now_us();
        let goose = user.request(request).await?;
        let result = read(goose.response).await;
        let state = match &result {
            Ok((200, b)) => serde_json::from_slice::<TaskBody>(b).ok(),
            _ => None,
        };
        shared.record(Op::TaskRead, sent_us, observe(Op::TaskRead, result));
        if let Some(t) = state.filter(|t| t.state.is_completed()) {
            shared.events.send(Event::Task(super::tasks::seen(
                &shared.events.clock(),
                shared.events.now_us(),
                &t,
            )));
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(())
}

/// Uploads a small package, its version unique to the run.
async fn upload(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let seq = shared.next_seq();
    let spec = PackageSpec {
        package_id: LOAD_PACKAGE_ID.into(),
        version: format!("2.0.{seq}-r{}", shared.tag),
        content: PackageSpec::content_for_total(shared.cfg.upload_size.value.bytes()),
        seed: shared.seed.wrapping_add(seq),
    };
    let framing = Multipart::new(&spec.file_name(), spec.seed);
    let mut body = Vec::with_capacity(framing.len(spec.len()) as usize);
    body.extend_from_slice(&framing.head);
    let mut stream = spec.stream();
    while let Some(chunk) = stream.next_chunk(CHUNK) {
        body.extend_from_slice(&chunk);
    }
    body.extend_from_slice(&framing.tail);
    let id = crate::upload::package_resource_id(&spec);
    if let Ok(mut m) = shared.made.lock() {
        // Recorded before it is sent: a failed upload may still have landed.
        m.packages.push((id.clone(), None));
    }
    let sent_us = shared.events.now_us();
    let builder = user
        .get_request_builder(&GooseMethod::Post, Op::Upload.path())?
        .header(reqwest::header::CONTENT_TYPE, framing.content_type())
        .body(body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(Op::Upload.path())
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    let result = read(goose.response).await;
    let seen = observe(Op::Upload, result);
    // An answer that failed after the body went, but not a refusal of it
    // (4xx): the server may store the package all the same.
    let may_land = seen.outcome != crate::history::Outcome::Ok
        && !seen.status.is_some_and(|s| (400..500).contains(&s));
    if may_land
        && let Ok(mut m) = shared.made.lock()
        && let Some(p) = m.packages.iter_mut().find(|(p, _)| *p == id)
    {
        p.1 = Some(tokio::time::Instant::now());
    }
    shared.record(Op::Upload, sent_us, seen);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_plan_ramps_up_holds_and_ramps_down_in_whole_seconds() {
        let s = crate::scenario::parse_str(
            "name: l\nduration: 20s\nworkload:\n  - load: { users: 40, ramp_up: 3s, hold: 10s, ramp_down: 2s }\n",
        )
        .unwrap();
        let l = s.load_phase().unwrap();
        assert_eq!(test_plan(l, 40), "40,3;40,10;0,2");
        assert_eq!(test_plan(l, 13), "13,3;13,10;0,2");
    }
}
