//! The task executor: the queue thread that claims tasks, and the running
//! of each claimed task to its end.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::health;
use super::link::Link;
use super::state::{Node, NodeConfig};
use crate::api::{self, TaskState};
use crate::db::{SharedDb, TaskRow};
use crate::work;

/// The queue thread: its own connection and its own timer, so that neither
/// requests nor a slow claim hold up the other. Claimed tasks go to the
/// runtime, which runs them.
pub(super) fn spawn_queue(
    cfg: &NodeConfig,
    link: Arc<Link>,
) -> Result<mpsc::UnboundedReceiver<TaskRow>, String> {
    let db =
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = cfg.clone();
    std::thread::Builder::new()
        .name("task-queue".into())
        .spawn(move || {
            let every = Duration::from_millis(cfg.queue_poll_ms);
            let mut next = std::time::Instant::now() + every;
            loop {
                std::thread::sleep(next.saturating_duration_since(std::time::Instant::now()));
                // Keep the phase, but after a pause (SIGSTOP) do not catch
                // up on the checks missed.
                next = (next + every).max(std::time::Instant::now());
                if link.is_broken() {
                    continue;
                }
                // Not while this node's own calls failed lately: the others'
                // LastSeen is then as stale as its own (docs/faults.md).
                if link.clear_for(cfg.orphan_after_ms as i64)
                    && let Err(e) = db.cancel_orphans(&cfg.name, cfg.orphan_after_ms as i64)
                {
                    link.failed("the orphan check", &e);
                    continue;
                }
                match db.claim(
                    &cfg.id,
                    &cfg.name,
                    cfg.offline_after_ms as i64,
                    cfg.claim_mode(),
                ) {
                    Ok(tasks) => {
                        for t in tasks {
                            if tx.send(t).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => link.failed("the claim", &e),
                }
            }
        })
        .map_err(|e| format!("failed to start the task queue: {e}"))?;
    Ok(rx)
}

/// Runs each claimed task on the runtime.
pub(super) async fn run_claimed(node: Arc<Node>, mut claimed: mpsc::UnboundedReceiver<TaskRow>) {
    while let Some(task) = claimed.recv().await {
        tokio::spawn(execute(node.clone(), task));
    }
}

/// Runs one claimed task to its end and records the outcome.
async fn execute(node: Arc<Node>, task: TaskRow) {
    let storage = node.cfg.storage.clone();
    // The first line that could not be written: a task whose log is lost
    // (its share gone) fails saying so, rather than succeeding silently
    // with a log other nodes cannot read (docs/faults.md).
    let unwritten = std::sync::Mutex::new(None::<String>);
    let log = |text: String| {
        if let Err(e) = work::log_line(&storage, task.seq, &text) {
            eprintln!("failed to write the log of {}: {e}", api::task_id(task.seq));
            unwritten
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| format!("failed to write the task log: {e}"));
        }
    };
    let lost = |state: TaskState, error: Option<String>| match unwritten
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        Some(why) if error.is_none() => (TaskState::Failed, Some(why)),
        _ => (state, error),
    };
    log(format!(
        "{} ({}) started on node {}",
        api::task_id(task.seq),
        task.name,
        node.cfg.name
    ));
    if task.name == "Health" {
        let error = health::run(&node, &api::task_id(task.seq), &task.arguments, &log).await;
        let state = if error.is_some() {
            TaskState::Failed
        } else {
            TaskState::Success
        };
        let (state, error) = lost(state, error);
        return finish(&node, &task, state, error, &log).await;
    }
    // Only a script task has work; other task types end at once.
    let script = if task.name == "AdHocScript" {
        serde_json::from_str::<Value>(&task.arguments)
            .ok()
            .and_then(|a| a.get("ScriptBody")?.as_str().map(str::to_string))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let (state, error) = match work::parse_script(&script) {
        Err(e) => (TaskState::Failed, Some(e)),
        Ok(commands) => {
            let mut end = (TaskState::Success, None);
            for c in commands {
                match c {
                    work::Command::Echo(text) => log(text),
                    work::Command::Sleep(d) => tokio::time::sleep(d).await,
                    work::Command::Exit(0) => break,
                    work::Command::Exit(code) => {
                        end = (
                            TaskState::Failed,
                            Some(format!("the script exited with code {code}")),
                        );
                        break;
                    }
                }
            }
            end
        }
    };
    let (state, error) = lost(state, error);
    finish(&node, &task, state, error, &log).await;
}

/// How long a node waits before it tries again to record a task's end.
const FINISH_RETRY: Duration = Duration::from_secs(1);

/// Records a task's end; while the database refuses, tries again, so a
/// task that ran through an outage ends once it is back rather than
/// staying Executing (OctopusDeploy/Issues #3388). A node that has given
/// up on its database gives up on the task too.
async fn finish(
    node: &Node,
    task: &TaskRow,
    state: TaskState,
    error: Option<String>,
    log: &(dyn Fn(String) + Sync),
) {
    loop {
        let ended = node.db().complete(
            task.seq,
            &node.cfg.name,
            state,
            error.as_deref(),
            node.cfg.claim_mode(),
        );
        match ended {
            Ok(true) => return log(format!("finished: {}", state.as_str())),
            // Canceled meanwhile (the orphan rule): the log says so.
            Ok(false) => {
                return log(format!(
                    "finished as {}, but the task had already been ended elsewhere",
                    state.as_str()
                ));
            }
            Err(e) => {
                node.link
                    .failed(&format!("ending {}", api::task_id(task.seq)), &e);
                if node.link.is_broken() {
                    return;
                }
                tokio::time::sleep(FINISH_RETRY).await;
            }
        }
    }
}
