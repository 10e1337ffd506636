//! The history: every event of a run, in the order the harness saw it, and
//! the `history.jsonl` file that holds it.
//!
//! The runner emits events on one stream; the recorder keeps them for the
//! checks and writes them, one JSON object per line, as they arrive. Checks
//! and reports read only this, so `harness report` can rebuild a run from
//! its folder. Times are microseconds since the run started (a monotonic
//! clock); `run_started` also gives the wall-clock start.
//!
//! [`event`] holds the schema, [`views`] what is derived from a run's
//! events, [`file`] the `history.jsonl` format, [`clock`] the run's
//! clock and event stream, and [`merge`] one history from a split run's
//! shards.

pub mod clock;
pub mod event;
pub mod file;
pub mod merge;
pub mod views;

pub use crate::vocab::TaskState;
pub use clock::{Clock, DateLook, Events, offset_from_tick, parse_server_time};
pub use event::*;
pub use file::{HistoryError, HistoryWriter};
pub use views::{FaultWindow, History, Interruption, NodeMap, TaskRecord};
