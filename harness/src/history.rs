//! The history: every event of a run, in the order the harness saw it, and
//! the `history.jsonl` file that holds it.
//!
//! The runner emits events on one stream; the recorder keeps them for the
//! checks and writes them, one JSON object per line, as they arrive. Checks
//! and reports read only this, so `harness report` can rebuild a run from
//! its folder. Times are microseconds since the run started (a monotonic
//! clock); `run_started` also gives the wall-clock start.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The name under which the load balancer appears in `node_up` events.
pub const LB_NAME: &str = "lb";

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The first event of every run.
    RunStarted {
        /// Scenario name.
        scenario: String,
        /// Seed of every random choice.
        seed: u64,
        /// `embedded`, or the target file.
        target: String,
        /// Wall clock at time 0, RFC 3339.
        started_at: String,
    },
    /// A runner phase begins.
    Phase {
        /// Microseconds since the start.
        at_us: u64,
        /// The phase.
        phase: Phase,
    },
    /// A node (or the LB) answers after a start or restart.
    NodeUp {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name, or `lb`.
        node: String,
        /// Its HTTP address.
        address: String,
        /// Its process ID, so tests can prove it is gone afterwards.
        pid: u32,
        /// From spawn until it answered.
        boot_ms: u64,
    },
    /// One API request.
    Request(Request),
    /// A fault was injected or undone.
    Fault(FaultEvent),
    /// The built-in LB changed its mind about a node: informational, never
    /// judged, because a real LB does not say.
    LbHealth {
        /// Microseconds since the start.
        at_us: u64,
        /// Node name.
        node: String,
        /// In rotation or not.
        healthy: bool,
    },
    /// The last event of a run that ended in an orderly way.
    RunEnded {
        /// Microseconds since the start.
        at_us: u64,
        /// Why it ended early, if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interrupted: Option<String>,
    },
}

/// Phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Start the cluster.
    Boot,
    /// Traffic that no check judges.
    Warmup,
    /// The workload with its scheduled faults.
    Workload,
    /// Undo every fault still in effect.
    Heal,
    /// Traffic after the heal.
    Settle,
    /// Judge the history.
    Check,
}

/// What kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `GET /api/octopusservernodes/ping`.
    Ping,
    /// `GET /api/octopusservernodes`.
    Nodes,
    /// `GET /api`.
    Root,
}

impl Op {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Op::Ping => "/api/octopusservernodes/ping",
            Op::Nodes => "/api/octopusservernodes",
            Op::Root => "/api",
        }
    }
}

/// What a client knows about one request: it happened, it did not, or it
/// cannot tell (a timeout or a reset after the request was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx response.
    Ok,
    /// A response that says no, or a connection that was refused.
    Fail,
    /// No complete response.
    Indeterminate,
}

/// One API request, with the intended start so latency is free of
/// coordinated omission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Sequence number in the schedule.
    pub seq: u64,
    /// The request kind.
    pub op: Op,
    /// When the schedule wanted it to start.
    pub intended_us: u64,
    /// When it was sent.
    pub sent_us: u64,
    /// When the response was complete, or the request gave up.
    pub done_us: u64,
    /// The outcome.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Response body bytes.
    pub bytes: u64,
    /// The node that served it, from a ping body's `Name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Request {
    /// Latency from the intended start.
    pub fn latency_us(&self) -> u64 {
        self.done_us.saturating_sub(self.intended_us)
    }

    /// True unless the outcome is `Ok`.
    pub fn is_error(&self) -> bool {
        self.outcome != Outcome::Ok
    }
}

/// A fault injected or undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Microseconds since the start.
    pub at_us: u64,
    /// The fault's name.
    pub name: String,
    /// `kill`, `pause` or `restart`.
    pub kind: String,
    /// The nodes it acts on.
    pub nodes: Vec<String>,
    /// Inject or heal.
    pub action: FaultAction,
    /// Why it did not work, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The two halves of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// The fault begins.
    Inject,
    /// The undo.
    Heal,
}

/// A fault's time in effect, read back from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    /// The fault's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// The nodes it acted on.
    pub nodes: Vec<String>,
    /// Injected at.
    pub start_us: u64,
    /// Healed at; the end of the run if it never was.
    pub end_us: u64,
    /// Whether a heal was recorded.
    pub healed: bool,
    /// Why the injection did not work, if it did not.
    pub inject_error: Option<String>,
}

impl FaultWindow {
    /// True if a request overlaps the window widened by `grace_us` at the
    /// end; a request in flight when the fault struck overlaps it.
    pub fn overlaps(&self, r: &Request, grace_us: u64) -> bool {
        r.done_us >= self.start_us && r.intended_us <= self.end_us.saturating_add(grace_us)
    }
}

/// A whole run's events.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// In arrival order.
    pub events: Vec<Event>,
}

impl History {
    /// Every request, in arrival order.
    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.events.iter().filter_map(|e| match e {
            Event::Request(r) => Some(r),
            _ => None,
        })
    }

    /// When a phase began.
    pub fn phase_start(&self, phase: Phase) -> Option<u64> {
        self.events.iter().find_map(|e| match e {
            Event::Phase { at_us, phase: p } if *p == phase => Some(*at_us),
            _ => None,
        })
    }

    /// Start of the judged part of the run: the end of warm-up.
    pub fn measured_from(&self) -> u64 {
        self.phase_start(Phase::Workload).unwrap_or(0)
    }

    /// The last time seen in the history.
    pub fn end_us(&self) -> u64 {
        self.events
            .iter()
            .map(|e| match e {
                Event::RunStarted { .. } => 0,
                Event::Phase { at_us, .. }
                | Event::NodeUp { at_us, .. }
                | Event::LbHealth { at_us, .. }
                | Event::RunEnded { at_us, .. } => *at_us,
                Event::Request(r) => r.done_us,
                Event::Fault(f) => f.at_us,
            })
            .max()
            .unwrap_or(0)
    }

    /// Requests that the checks judge: those intended after warm-up.
    pub fn measured_requests(&self) -> impl Iterator<Item = &Request> {
        let from = self.measured_from();
        self.requests().filter(move |r| r.intended_us >= from)
    }

    /// Every fault's window, in injection order.
    pub fn fault_windows(&self) -> Vec<FaultWindow> {
        let end = self.end_us();
        let mut windows: Vec<FaultWindow> = Vec::new();
        for e in &self.events {
            let Event::Fault(f) = e else { continue };
            match f.action {
                FaultAction::Inject => windows.push(FaultWindow {
                    name: f.name.clone(),
                    kind: f.kind.clone(),
                    nodes: f.nodes.clone(),
                    start_us: f.at_us,
                    end_us: end,
                    healed: false,
                    inject_error: f.error.clone(),
                }),
                FaultAction::Heal => {
                    if let Some(w) = windows
                        .iter_mut()
                        .rev()
                        .find(|w| w.name == f.name && !w.healed)
                    {
                        w.end_us = f.at_us;
                        w.healed = true;
                    }
                }
            }
        }
        windows
    }

    /// Names of the cluster's nodes (not the LB), in first-boot order.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in &self.events {
            if let Event::NodeUp { node, .. } = e
                && node != LB_NAME
                && !names.contains(node)
            {
                names.push(node.clone());
            }
        }
        names
    }

    /// The run's header, if present.
    pub fn header(&self) -> Option<(&str, u64, &str, &str)> {
        self.events.iter().find_map(|e| match e {
            Event::RunStarted {
                scenario,
                seed,
                target,
                started_at,
            } => Some((
                scenario.as_str(),
                *seed,
                target.as_str(),
                started_at.as_str(),
            )),
            _ => None,
        })
    }

    /// Reads a `history.jsonl` file.
    pub fn read(path: &Path) -> Result<History, HistoryError> {
        let file = File::open(path).map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
        let mut events = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(&line).map_err(|e| HistoryError::Parse {
                file: path.display().to_string(),
                line: i + 1,
                error: e,
            })?;
            events.push(event);
        }
        Ok(History { events })
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("failed to read history {0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A line is not an event.
    #[error("failed to parse history {file}:{line}: {error}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The JSON error.
        #[source]
        error: serde_json::Error,
    },
}

/// Appends events to `history.jsonl` as they arrive.
pub struct HistoryWriter {
    out: BufWriter<File>,
}

impl HistoryWriter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
        })
    }

    /// Writes one event. Events other than requests are flushed at once, so
    /// someone watching the file (a person, or a test waiting for the nodes)
    /// sees them while the run goes on.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        if !matches!(event, Event::Request(_)) {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The run's clock: microseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        Self {
            start: std::time::Instant::now(),
        }
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The instant `us` microseconds after the start, or a year on if that
    /// is not representable.
    pub fn instant(&self, us: u64) -> tokio::time::Instant {
        let at = self
            .start
            .checked_add(std::time::Duration::from_micros(us))
            .unwrap_or_else(|| self.start + std::time::Duration::from_secs(365 * 86_400));
        tokio::time::Instant::from_std(at)
    }
}

/// The sending end of the run's one event stream.
#[derive(Debug, Clone)]
pub struct Events {
    tx: tokio::sync::mpsc::UnboundedSender<Event>,
    clock: Clock,
}

impl Events {
    /// A stream and its receiving end.
    pub fn channel(clock: Clock) -> (Self, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx, clock }, rx)
    }

    /// The run's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    /// Sends an event; after the recorder has stopped, events are dropped.
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}
