//! The events of the API load: each request, its kind, and what the
//! client knows of its outcome, with the intended start beside the sent
//! one so latency is free of coordinated omission.

use serde::{Deserialize, Serialize};

pub use crate::vocab::Op;

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
    /// It fell due while `max_in_flight` requests were in flight, so it
    /// was sent late for the cluster's slowness, not the generator's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// A load phase's closed-model user sent it, not the `api` workload's
    /// schedule: the load phase's threshold rules judge these alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub load: bool,
}

impl Request {
    /// Latency from the intended start.
    pub fn latency_us(&self) -> u64 {
        self.done_us.saturating_sub(self.intended_us)
    }

    /// How late it was sent against its intended start.
    pub fn send_lag_us(&self) -> u64 {
        self.sent_us.saturating_sub(self.intended_us)
    }

    /// True unless the outcome is `Ok`.
    pub fn is_error(&self) -> bool {
        self.outcome != Outcome::Ok
    }
}
