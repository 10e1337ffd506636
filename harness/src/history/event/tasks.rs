//! The events of the tasks workload: each submission, each state a task
//! was seen in, and each read of its log.

use serde::{Deserialize, Serialize};

use super::requests::Outcome;
use crate::vocab::TaskState;

/// One task submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSubmit {
    /// Sequence number in the workload.
    pub seq: u64,
    /// The marker the task's script echoes: one line per execution.
    pub marker: String,
    /// `lb`, or the node it was sent to.
    pub via: String,
    /// When it was due: its intended submission, where a rate set one
    /// (a capacity search's pick-up counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_us: Option<u64>,
    /// When it was sent.
    pub sent_us: u64,
    /// When the response came, or the request gave up.
    pub done_us: u64,
    /// The outcome of the POST.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The task's ID, from a 201.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A task as the harness saw it when its state or node changed. Server
/// times are converted to the run's clock through the wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSeen {
    /// When the harness read it.
    pub at_us: u64,
    /// `ServerTasks-<n>`.
    pub id: String,
    /// Its state.
    pub state: TaskState,
    /// ServerNode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// QueueTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_us: Option<u64>,
    /// StartTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_us: Option<u64>,
    /// CompletedTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_us: Option<u64>,
    /// ErrorMessage, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One read of a task's raw log through one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLogRead {
    /// When.
    pub at_us: u64,
    /// `ServerTasks-<n>`.
    pub id: String,
    /// The node read from directly.
    pub via: String,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes of log.
    pub bytes: u64,
    /// SHA-1 of the log, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// Lines with the task's marker: how many times its script ran.
    pub executions: u32,
    /// What went wrong, in a word or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
