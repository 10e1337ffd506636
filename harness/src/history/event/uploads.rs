//! The events of uploads: each attempt begun and ended, and each read of
//! a package back from the cluster.

use serde::{Deserialize, Serialize};

/// One upload attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadAttempt {
    /// A package upload, or a step of the body-limit ladder.
    #[serde(default)]
    pub purpose: UploadPurpose,
    /// The upload's number in the workload (the step, for the ladder).
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name sent.
    pub file: String,
    /// The package's resource ID.
    pub id: String,
    /// `lb`, or the node it went to.
    pub via: String,
    /// The package file's bytes.
    pub size: u64,
    /// `overwriteMode` sent.
    pub overwrite_mode: crate::vocab::OverwriteMode,
    /// When the attempt started.
    pub sent_us: u64,
    /// When the last byte went out, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_byte_us: Option<u64>,
    /// When the attempt ended.
    pub done_us: u64,
    /// Body bytes handed to the connection.
    pub bytes_sent: u64,
    /// How it ended.
    pub class: crate::vocab::UploadClass,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SHA-1 of the bytes sent, when all were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// The `Hash` the server answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hash: Option<String>,
    /// MiB a second to the last byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mib_s: Option<f64>,
    /// The answer's `Server` header: an LB often names itself there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The answer's `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The shape of the answer's body: Octopus's JSON error, or an LB's
    /// page. With `server`, what tells an LB's answer from a node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_kind: Option<crate::vocab::BodyKind>,
}

/// The start of one upload attempt; its end is an [`UploadAttempt`] with
/// the same purpose, sequence number and attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadStart {
    /// A package upload, or a step of the body-limit ladder.
    #[serde(default)]
    pub purpose: UploadPurpose,
    /// The upload's number in the workload (the step, for the ladder).
    pub seq: u64,
    /// 0 for the first attempt, then the retries.
    pub attempt: u32,
    /// The file name sent.
    pub file: String,
    /// `lb`, or the node it went to.
    pub via: String,
    /// The package file's bytes.
    pub size: u64,
    /// When the attempt started.
    pub sent_us: u64,
}

/// Why an upload was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    /// The upload workload: it must arrive.
    #[default]
    Workload,
    /// A step of `body_limit_ladder`: it finds where the LB refuses.
    Ladder,
    /// A step of the capacity search's uploads at once: judged by its
    /// step, deleted after it.
    Capacity,
}

/// What a package read was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageReadKind {
    /// After a timeout or reset: did the package arrive anyway?
    AfterFailure,
    /// The package resource (size, Hash) after the upload.
    Metadata,
    /// The package's bytes, from one node directly.
    Download,
}

/// A package read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRead {
    /// When.
    pub at_us: u64,
    /// The upload's number.
    pub seq: u64,
    /// The package's resource ID.
    pub id: String,
    /// `lb`, or the node read from directly.
    pub via: String,
    /// What for.
    pub kind: PackageReadKind,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes, from the metadata or counted in the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The metadata's Hash, or the download's SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// The SHA-1 the package must have, when the harness knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
