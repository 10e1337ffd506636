//! The recorder, the one consumer of the event stream: it writes the
//! history file, feeds the live progress and keeps the events for the
//! checks; and how the history is closed, at the end of a run or when one
//! gives up before anything was disrupted.

use tokio::sync::mpsc;

use super::outcome::RunError;
use crate::history::{Event, Events, History, HistoryWriter, NodeMap};
use crate::report::LiveProgress;
use crate::target::Target;

/// The recorder: the one consumer of the event stream. It writes the
/// history file, feeds the live progress and keeps the events for checks,
/// until `run_ended` (other holders of the stream, such as the cluster's
/// threads, may outlive the run by a moment; their events are dropped).
pub(super) async fn record(
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

/// Records the end of the run, and why it ended early if it did.
pub(super) fn end_run(events: &Events, interrupted: Option<String>) {
    events.send(Event::RunEnded {
        at_us: events.now_us(),
        interrupted,
    });
}

/// Ends a run before anything was disrupted: the history closed with why,
/// and what the run started shut down. Gives the history, if the recorder
/// kept it.
pub(super) async fn give_up(
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
pub(super) async fn finish(
    events: Events,
    recorder: tokio::task::JoinHandle<Result<History, String>>,
) -> Result<History, RunError> {
    drop(events);
    match recorder.await {
        Ok(result) => result.map_err(RunError::new),
        Err(e) => Err(RunError::new(format!("the recorder failed: {e}"))),
    }
}
