//! What goes into the shared database and comes out of it: a row of each
//! table (nodes, tasks, packages, machines) and how each is read from its
//! columns, and what the queries take (the filters of a list, how a node
//! claims, an upload's `overwriteMode`) and give (what storing a package
//! did).

use std::time::Duration;

use crate::vocab::TaskState;

/// A node's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// `OctopusServerNodes-<name>`.
    pub id: String,
    /// The node's name.
    pub name: String,
    /// MaxConcurrentTasks.
    pub max_concurrent_tasks: u32,
    /// Drained.
    pub is_in_maintenance_mode: bool,
    /// Last heartbeat, milliseconds since the Unix epoch.
    pub last_seen_ms: i64,
    /// The node's version.
    pub version: String,
    /// Last change through the API, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
}

/// A task's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The number in `ServerTasks-<seq>`.
    pub seq: i64,
    /// `Spaces-1`.
    pub space_id: String,
    /// The task type, such as `AdHocScript`.
    pub name: String,
    /// What the submitter said it is.
    pub description: String,
    /// The Arguments object, as JSON text.
    pub arguments: String,
    /// Its state.
    pub state: TaskState,
    /// The node that claimed it; None while queued.
    pub server_node: Option<String>,
    /// Queued at, milliseconds since the Unix epoch.
    pub queue_ms: i64,
    /// Claimed at.
    pub start_ms: Option<i64>,
    /// Reached a final state at.
    pub completed_ms: Option<i64>,
    /// Why it failed or was canceled.
    pub error: Option<String>,
}

/// Which tasks a list wants; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Any of these states.
    pub states: Vec<TaskState>,
    /// Claimed by this node.
    pub node: Option<String>,
    /// Any of these task numbers.
    pub ids: Vec<i64>,
    /// Skipped from the newest.
    pub skip: usize,
    /// Page size.
    pub take: usize,
}

/// How a node claims work: atomically (Octopus), or with the read and the
/// write apart, as Octopus 2023.3 did after its queue write lock was
/// removed, so that two nodes can run one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimMode {
    /// One write transaction reads the queue and claims.
    Atomic,
    /// Read, wait this long, then write without checking the state again.
    Racy(Duration),
}

pub(super) const TASK_COLUMNS: &str = "seq, space_id, name, description, arguments, state, server_node, queue_ms, start_ms, completed_ms, error";

pub(super) fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    let state: String = r.get(5)?;
    Ok(TaskRow {
        seq: r.get(0)?,
        space_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        arguments: r.get(4)?,
        state: state.parse().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown task state {state:?}").into(),
            )
        })?,
        server_node: r.get(6)?,
        queue_ms: r.get(7)?,
        start_ms: r.get(8)?,
        completed_ms: r.get(9)?,
        error: r.get(10)?,
    })
}

/// Which packages a list wants; empty fields match every package.
#[derive(Debug, Clone, Default)]
pub struct PackageFilter {
    /// This package ID only, in any case.
    pub package_id: Option<String>,
    /// Package IDs that contain this, in any case.
    pub term: Option<String>,
}

/// A package in the built-in feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    /// `packages-<PackageId>.<Version>`.
    pub id: String,
    /// The package ID.
    pub package_id: String,
    /// The version.
    pub version: String,
    /// `.zip`, `.tar.gz`, ...
    pub extension: String,
    /// Bytes.
    pub size: i64,
    /// SHA-1, lowercase hex.
    pub hash: String,
    /// The file, relative to the storage folder.
    pub path: String,
    /// Published at, milliseconds since the Unix epoch.
    pub published_ms: i64,
}

/// `overwriteMode` of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// 409 when the package exists (Octopus's default).
    FailIfExists,
    /// Replace it.
    OverwriteExisting,
    /// Keep the existing one and answer 200.
    IgnoreIfExists,
}

/// What storing an uploaded package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A new package.
    Created(PackageRow),
    /// It replaced this older one, whose file the caller removes.
    Replaced(PackageRow, PackageRow),
    /// It existed; the upload was dropped (IgnoreIfExists).
    Ignored(PackageRow),
    /// It existed; the upload was refused (FailIfExists).
    Conflict(PackageRow),
}

pub(super) const PACKAGE_COLUMNS: &str =
    "id, package_id, version, extension, size, hash, path, published_ms";

pub(super) fn package_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    Ok(PackageRow {
        id: r.get(0)?,
        package_id: r.get(1)?,
        version: r.get(2)?,
        extension: r.get(3)?,
        size: r.get(4)?,
        hash: r.get(5)?,
        path: r.get(6)?,
        published_ms: r.get(7)?,
    })
}

/// A registered polling Tentacle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRow {
    /// The number in `Machines-<seq>`.
    pub seq: i64,
    /// Its space.
    pub space_id: String,
    /// Its name.
    pub name: String,
    /// Its subscription, `poll://.../`.
    pub uri: String,
    /// Its certificate's thumbprint.
    pub thumbprint: String,
}

pub(super) const MACHINE_COLUMNS: &str = "seq, space_id, name, uri, thumbprint";

pub(super) fn machine_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MachineRow> {
    Ok(MachineRow {
        seq: r.get(0)?,
        space_id: r.get(1)?,
        name: r.get(2)?,
        uri: r.get(3)?,
        thumbprint: r.get(4)?,
    })
}

pub(super) const COLUMNS: &str = "id, name, max_concurrent_tasks, is_in_maintenance_mode, last_seen_ms, version, last_modified_ms";

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRow> {
    Ok(NodeRow {
        id: r.get(0)?,
        name: r.get(1)?,
        max_concurrent_tasks: r.get(2)?,
        is_in_maintenance_mode: r.get(3)?,
        last_seen_ms: r.get(4)?,
        version: r.get(5)?,
        last_modified_ms: r.get(6)?,
    })
}
