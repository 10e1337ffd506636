//! The task workload: submit `AdHocScript` tasks at a rate or in a burst,
//! follow each one to its end, then read every task's log through every
//! node.
//!
//! Each task's script echoes a marker unique to the run and the task, then
//! sleeps for the workload's `work`. The marker appears in the log once per
//! execution, so a task that ran twice shows it twice: that is the evidence
//! `exactly_once` judges, on any target, whatever the server's log format.
//! States are read with one list call per 100 tasks per poll, not one call
//! per task. A shard of a split run submits every N-th task of the
//! schedule, with its share of the clients, and follows and reads its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep_until};

use super::workload::{RunContext, Workload};
use crate::client::{ApiClient, CALL_TIMEOUT};
use crate::history::{Event, Events, TaskLogRead, TaskSeen, TaskSubmit};
use crate::limits::CLEANUP_WITHIN;
use crate::scenario::{TaskLoad, Via};
use crate::vocab::Shard;
use reference_cluster::api::{NewTask, TaskBody, TaskState};

/// Tasks read in one list call.
const PAGE: usize = 100;

/// Log reads in flight at once.
const LOG_READS: usize = 8;

/// A task workload under way. Dropping it stops it.
pub(super) struct TaskWorkload {
    handle: JoinHandle<()>,
    finish_by: watch::Sender<Option<Finish>>,
    finish_within: Duration,
    /// Turns true once the unfinished tasks are canceled.
    cleaned: watch::Receiver<bool>,
}

/// The end the runner asks for: submissions stop at once, tasks still
/// running get until `by`, and then the logs are read (unless the run was
/// interrupted).
#[derive(Debug, Clone, Copy)]
struct Finish {
    by: Instant,
    read_logs: bool,
}

impl Drop for TaskWorkload {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Workload for TaskWorkload {
    type Part = TaskLoad;

    /// Starts submitting at `start + at`; rate submissions stop at the end
    /// of the workload phase.
    fn start(ctx: &RunContext, cfg: TaskLoad) -> Result<Self, String> {
        let from = ctx.start + cfg.at.value.get();
        Ok(Self::window(
            ctx,
            cfg,
            (from, ctx.start + ctx.duration),
            ctx.events.clone(),
            0,
        ))
    }

    /// Unfinished tasks get their time, unless the run was stopped (then
    /// nothing more is read). Either way, and after an interrupt while
    /// they finish, the run's unfinished tasks are canceled.
    async fn finish(
        self,
        stopped: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let (within, read_logs) = if stopped {
            (Duration::ZERO, false)
        } else {
            (self.finish_within, true)
        };
        self.end(within, read_logs, interrupt).await
    }
}

impl TaskWorkload {
    /// Submits from `from` (and at a rate until `until`) on `events`, the
    /// tasks numbered from `first`.
    pub(super) fn window(
        ctx: &RunContext,
        cfg: TaskLoad,
        (from, until): (Instant, Instant),
        events: Events,
        first: u64,
    ) -> Self {
        let (finish_by, finish_rx) = watch::channel(None);
        let (cleaned_tx, cleaned) = watch::channel(false);
        let finish_within = cfg.finish_within.value.get();
        let job = Job {
            from,
            until,
            lb: ctx.lb.clone(),
            nodes: ctx.nodes.clone(),
            events,
            // The marker must be unique to the run, so a rerun of a task
            // from an earlier run can never count as this one's.
            tag: ctx.run_id.clone(),
            first,
            shard: ctx.shard,
            cfg,
        };
        let handle = tokio::spawn(run(job, finish_rx, cleaned_tx));
        Self {
            handle,
            finish_by,
            finish_within,
            cleaned,
        }
    }

    /// Stops submitting, waits up to `within` for tasks still running,
    /// cancels those that are not done, then reads every log if
    /// `read_logs`. An interrupt meanwhile cuts the wait and the log reads
    /// short, but not the cancels; it is returned.
    pub(super) async fn end(
        mut self,
        within: Duration,
        read_logs: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let _ = self.finish_by.send(Some(Finish {
            by: Instant::now() + within,
            read_logs,
        }));
        tokio::select! {
            _ = &mut self.handle => None,
            why = super::interrupts::interrupted(interrupt) => {
                let _ = self.finish_by.send(Some(Finish {
                    by: Instant::now(),
                    read_logs: false,
                }));
                // Bounded: cancel calls have their own timeouts.
                let _ = tokio::time::timeout(
                    CLEANUP_WITHIN,
                    self.cleaned.wait_for(|done| *done),
                )
                .await;
                Some(why)
            }
        }
    }
}

/// A submitted task and its marker.
#[derive(Debug, Clone)]
struct Followed {
    id: String,
    marker: String,
}

/// What the submitter works from: the workload's part of the scenario,
/// where it submits, and when.
#[derive(Clone)]
struct Job {
    cfg: TaskLoad,
    lb: ApiClient,
    nodes: Vec<(String, ApiClient)>,
    events: Events,
    /// When submissions start.
    from: Instant,
    /// When rate submissions stop.
    until: Instant,
    /// The run's ID, in every task's marker and description.
    tag: String,
    /// The first task's number: the tasks of several workloads in one run
    /// (a capacity search's steps) never share a number or a marker.
    first: u64,
    /// The shard whose tasks these are: every `count`-th of the schedule's,
    /// from `index` (all of them unless the run is split).
    shard: Shard,
}

async fn run(
    job: Job,
    mut finish_by: watch::Receiver<Option<Finish>>,
    cleaned: watch::Sender<bool>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let submitter = submit(job.clone(), tx, finish_by.clone());
    let Job {
        cfg,
        lb,
        nodes,
        events,
        ..
    } = job;
    // Reads go where submissions go: through the LB, or to the nodes in
    // turn.
    let readers: Vec<ApiClient> = match cfg.via {
        Via::Lb => vec![lb],
        Via::Nodes => nodes.iter().map(|(_, c)| c.clone()).collect(),
    };
    // Both in this task, so stopping it stops both; the follower ends
    // once the submitter is done and every task has ended.
    let ((), (mut followed, mut unfinished)) = tokio::join!(
        submitter,
        follow(
            cfg.poll.value.get(),
            readers.clone(),
            &mut rx,
            &events,
            finish_by.clone(),
        )
    );
    // Tasks whose creation returned after the follower stopped.
    while let Ok(f) = rx.try_recv() {
        unfinished.push(f.id.clone());
        followed.push(f);
    }
    // The run's scripts must not go on running in the cluster after it.
    // Those that finished since the last poll are recorded as they ended.
    let clock = events.clock();
    for b in cancel_unfinished(&readers[0], &unfinished, &events).await {
        events.send(Event::Task(seen(&clock, events.now_us(), &b)));
    }
    let _ = cleaned.send(true);
    // Logs are read once the run has healed, so a node that is down for a
    // fault does not count against shared storage.
    let finish = loop {
        if let Some(f) = *finish_by.borrow() {
            break f;
        }
        if finish_by.changed().await.is_err() {
            return;
        }
    };
    if finish.read_logs {
        read_logs(followed, nodes, &events).await;
    }
}

/// The script every task runs.
fn script(marker: &str, work: Duration) -> String {
    format!("echo {marker}\nsleep {:.3}", work.as_secs_f64())
}

async fn submit(
    job: Job,
    followed: mpsc::UnboundedSender<Followed>,
    mut stop: watch::Receiver<Option<Finish>>,
) {
    let Job {
        cfg,
        lb,
        nodes,
        events,
        from,
        until,
        tag,
        first,
        shard,
    } = job;
    let clients = Arc::new(Semaphore::new(
        shard.share(cfg.clients.value).max(1) as usize
    ));
    let work = cfg.work.value.get();
    let timeout = CALL_TIMEOUT;
    // Due times: all at once for a burst, evenly spaced for a rate.
    let due = |seq: u64| -> Option<Instant> {
        match (&cfg.burst, &cfg.rate) {
            (Some(b), _) => (seq < u64::from(b.value)).then_some(from),
            (None, Some(r)) => {
                let at = from + Duration::from_secs_f64(seq as f64 / r.value.get());
                (at < until).then_some(at)
            }
            (None, None) => None,
        }
    };
    let mut in_flight = JoinSet::new();
    let mut seq = 0u64;
    // Submissions stop once the runner asks for the end.
    let stopped = |stop: &watch::Receiver<Option<Finish>>| stop.borrow().is_some();
    while let Some(at) = due(seq) {
        if stopped(&stop) {
            break;
        }
        // Another shard's task: its number stays that shard's.
        if !shard.owns(seq) {
            seq += 1;
            continue;
        }
        let permit = tokio::select! {
            p = async {
                sleep_until(at).await;
                clients.clone().acquire_owned().await
            } => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let (via, client) = match cfg.via {
            Via::Lb => ("lb".to_string(), lb.clone()),
            Via::Nodes => {
                let (name, c) = &nodes[seq as usize % nodes.len()];
                (name.clone(), c.clone())
            }
        };
        let number = first + seq;
        let marker = format!("HARNESS-EXEC-{tag}-{number}");
        let task = NewTask {
            name: "AdHocScript".into(),
            description: format!("harness run {tag}, task {number}"),
            arguments: Some(serde_json::json!({
                "ScriptBody": script(&marker, work),
                "Syntax": "Bash",
                "TargetType": "OctopusServer",
            })),
            space_id: None,
        };
        let events = events.clone();
        let followed = followed.clone();
        let due_us = events.clock().us_of(at);
        in_flight.spawn(async move {
            let sent_us = events.now_us();
            let created = client.create_task(&task, timeout).await;
            // Recorded before the follower hears of it, so the task's
            // first state never comes before its submission.
            events.send(Event::TaskSubmitted(TaskSubmit {
                seq: number,
                marker: marker.clone(),
                via,
                due_us: Some(due_us),
                sent_us,
                done_us: events.now_us(),
                outcome: created.outcome,
                status: created.status,
                error: created.error,
                id: created.id.clone(),
            }));
            if let Some(id) = created.id {
                let _ = followed.send(Followed { id, marker });
            }
            drop(permit);
        });
        seq += 1;
    }
    while in_flight.join_next().await.is_some() {}
}

/// Reads the followed tasks every `poll` and records each change of state
/// or node, until every task has ended and no more will come, or the
/// deadline set after the settle phase passes. Returns every task followed.
async fn follow(
    poll: Duration,
    readers: Vec<ApiClient>,
    incoming: &mut mpsc::UnboundedReceiver<Followed>,
    events: &Events,
    mut finish_by: watch::Receiver<Option<Finish>>,
) -> (Vec<Followed>, Vec<String>) {
    let clock = events.clock();
    let mut all: Vec<Followed> = Vec::new();
    let mut live: Vec<String> = Vec::new();
    let mut last: HashMap<String, (TaskState, Option<String>)> = HashMap::new();
    let mut closed = false;
    let mut turn = 0usize;
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A deadline brought forward (an interrupt) is seen at once.
        tokio::select! {
            _ = ticker.tick() => {}
            changed = finish_by.changed() => {
                if changed.is_err() {
                    ticker.tick().await;
                }
            }
        }
        loop {
            match incoming.try_recv() {
                Ok(f) => {
                    live.push(f.id.clone());
                    all.push(f);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed && live.is_empty() {
            break;
        }
        if finish_by.borrow().is_some_and(|f| Instant::now() >= f.by) {
            break;
        }
        let mut ended = Vec::new();
        for chunk in live.chunks(PAGE) {
            let reader = &readers[turn % readers.len()];
            turn += 1;
            // A failed read is retried at the next poll; a node may be down.
            let Ok(bodies) = reader.tasks(chunk).await else {
                continue;
            };
            for b in bodies {
                let key = (b.state, b.server_node.clone());
                if last.get(&b.id) != Some(&key) {
                    last.insert(b.id.clone(), key);
                    events.send(Event::Task(seen(&clock, events.now_us(), &b)));
                }
                if b.state.is_completed() {
                    ended.push(b.id);
                }
            }
        }
        live.retain(|id| !ended.contains(id));
    }
    (all, live)
}

/// How long canceled tasks get to reach a final state (a real node stops
/// an executing task in its own time: `Cancelling`, then `Canceled`).
const CANCEL_SETTLE: Duration = Duration::from_secs(30);

/// Cancel requests in flight at once, and the bound on all of them.
const CANCELS: usize = 8;
const CANCELS_WITHIN: Duration = Duration::from_secs(120);

/// The longest the cancels of a workload's unfinished tasks take, and the
/// wait for them to settle.
pub(super) const ENDING_WITHIN: Duration =
    Duration::from_secs(CANCELS_WITHIN.as_secs() + CANCEL_SETTLE.as_secs());

/// Cancels those of `ids` that have not finished, waits (bounded) for them
/// to end, and records each with its last state: a task found finished is
/// recorded as not canceled. Gives the tasks found finished on the first
/// read, which ended by themselves; a task the run canceled is recorded
/// only as canceled, so that no check takes the cancel for its end.
pub(super) async fn cancel_unfinished(
    api: &ApiClient,
    ids: &[String],
    events: &Events,
) -> Vec<TaskBody> {
    let mut last: HashMap<String, TaskBody> = HashMap::new();
    let mut active: Vec<String> = Vec::new();
    for chunk in ids.chunks(PAGE) {
        // Unread states count as unfinished: cancelling a finished task
        // changes nothing.
        match api.tasks(chunk).await {
            Ok(bodies) => {
                let read: Vec<&String> = bodies.iter().map(|b| &b.id).collect();
                active.extend(chunk.iter().filter(|id| !read.contains(id)).cloned());
                for b in bodies {
                    if !b.state.is_completed() {
                        active.push(b.id.clone());
                    }
                    last.insert(b.id.clone(), b);
                }
            }
            Err(_) => active.extend(chunk.iter().cloned()),
        }
    }
    let ended_alone: Vec<TaskBody> = last
        .values()
        .filter(|b| b.state.is_completed())
        .cloned()
        .collect();
    // The cancels, a few at a time, all within a bound.
    let mut canceled: HashMap<String, Result<(), String>> = HashMap::new();
    let mut pending = active.iter();
    let mut calls = JoinSet::new();
    let deadline = Instant::now() + CANCELS_WITHIN;
    loop {
        while calls.len() < CANCELS {
            let Some(id) = pending.next() else { break };
            let (api, id) = (api.clone(), id.clone());
            calls.spawn(async move {
                let r = api.cancel_task(&id).await;
                (id, r)
            });
        }
        match tokio::time::timeout_at(deadline, calls.join_next()).await {
            Ok(Some(Ok((id, r)))) => {
                canceled.insert(id, r);
            }
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                calls.abort_all();
                break;
            }
        }
    }
    for id in &active {
        canceled
            .entry(id.clone())
            .or_insert_with(|| Err(format!("not canceled within {}s", CANCELS_WITHIN.as_secs())));
    }
    // Until every canceled task has ended, or the bound.
    let deadline = Instant::now() + CANCEL_SETTLE;
    let mut settling: Vec<String> = canceled
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| id.clone())
        .collect();
    while !settling.is_empty() && Instant::now() < deadline {
        for chunk in settling.clone().chunks(PAGE) {
            if let Ok(bodies) = api.tasks(chunk).await {
                for b in bodies {
                    last.insert(b.id.clone(), b);
                }
            }
        }
        settling.retain(|id| !last.get(id).is_some_and(|b| b.state.is_completed()));
        if !settling.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for id in ids {
        let state = last.get(id).map(|b| b.state);
        let (removed, error) = match canceled.remove(id) {
            Some(Ok(())) if state.is_some_and(TaskState::is_completed) => (true, None),
            Some(Ok(())) => (
                true,
                Some(format!(
                    "canceled, but still {} after {}s",
                    state.map_or("unread", TaskState::as_str),
                    CANCEL_SETTLE.as_secs()
                )),
            ),
            Some(Err(e)) => (false, Some(e)),
            None => (false, None),
        };
        events.send(Event::Removed {
            at_us: events.now_us(),
            kind: "task".into(),
            id: id.clone(),
            removed,
            error,
            state,
        });
    }
    ended_alone
}

pub(super) fn seen(clock: &crate::history::Clock, at_us: u64, b: &TaskBody) -> TaskSeen {
    let time = |t: &Option<String>| t.as_deref().and_then(|t| clock.from_server_time(t));
    TaskSeen {
        at_us,
        id: b.id.clone(),
        state: b.state,
        node: b.server_node.clone().filter(|n| !n.is_empty()),
        queued_us: time(&b.queue_time),
        started_us: time(&b.start_time),
        completed_us: time(&b.completed_time),
        error: b.error_message.clone().filter(|e| !e.is_empty()),
    }
}

/// Reads every followed task's log through every node directly.
async fn read_logs(followed: Vec<Followed>, nodes: Vec<(String, ApiClient)>, events: &Events) {
    let slots = Arc::new(Semaphore::new(LOG_READS));
    let mut reads = JoinSet::new();
    for f in followed {
        for (name, client) in &nodes {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (f, name, client, events) =
                (f.clone(), name.clone(), client.clone(), events.clone());
            reads.spawn(async move {
                let read = client.raw_log(&f.id).await;
                let (status, bytes, sha1, executions, error) = match read {
                    Ok((status, body)) if (200..300).contains(&status) => (
                        Some(status),
                        body.len() as u64,
                        Some(hex(&Sha1::digest(&body))),
                        executions(&body, &f.marker),
                        None,
                    ),
                    Ok((status, _)) => (Some(status), 0, None, 0, Some(format!("status {status}"))),
                    Err(e) => (None, 0, None, 0, Some(e)),
                };
                events.send(Event::TaskLog(TaskLogRead {
                    at_us: events.now_us(),
                    id: f.id,
                    via: name,
                    status,
                    bytes,
                    sha1,
                    executions,
                    error,
                }));
                drop(permit);
            });
        }
    }
    while reads.join_next().await.is_some() {}
}

/// Lines of a log that carry the marker as a word: one per execution.
fn executions(log: &[u8], marker: &str) -> u32 {
    String::from_utf8_lossy(log)
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == marker))
        .count() as u32
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_count_whole_words_only() {
        let log = b"t0  Info  HARNESS-EXEC-ab-1\nt1  Info  HARNESS-EXEC-ab-12\nt2  Info  HARNESS-EXEC-ab-1\n";
        assert_eq!(executions(log, "HARNESS-EXEC-ab-1"), 2);
        assert_eq!(executions(log, "HARNESS-EXEC-ab-12"), 1);
        assert_eq!(executions(b"", "HARNESS-EXEC-ab-1"), 0);
    }

    #[test]
    fn scripts_echo_the_marker_then_sleep() {
        let s = script("M", Duration::from_millis(1500));
        assert_eq!(s, "echo M\nsleep 1.500");
        // The reference node runs it as two commands.
        let commands = reference_cluster::work::parse_script(&s).unwrap();
        assert_eq!(commands.len(), 2);
    }
}
