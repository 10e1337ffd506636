//! The shared database every node of the embedded cluster coordinates
//! through, as Octopus nodes share one SQL Server database: node
//! registrations, heartbeats (LastSeen), drain flags and task caps.
//!
//! It is an SQLite file in WAL mode (embedded; nothing to install), opened
//! by every node process. All SQL lives here, so a second backend can
//! follow behind the same functions.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

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

/// One connection to the shared database.
pub struct SharedDb {
    conn: Connection,
}

/// Writers wait this long for a lock (another node writing) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds since the Unix epoch: every node process shares the wall
/// clock, not a monotonic one.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl SharedDb {
    /// Creates the database and its schema; the supervisor does this once
    /// before any node starts.
    pub fn create(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS nodes (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                max_concurrent_tasks INTEGER NOT NULL,
                is_in_maintenance_mode INTEGER NOT NULL DEFAULT 0,
                last_seen_ms INTEGER NOT NULL,
                version TEXT NOT NULL,
                last_modified_ms INTEGER NOT NULL
            );",
        )?;
        Ok(Self { conn })
    }

    /// Opens an existing database.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // NORMAL is durable enough in WAL mode for a test cluster, and keeps
        // heartbeats off the fsync path.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Self { conn })
    }

    /// Registers a node at start. A node that was registered before keeps
    /// its drain flag and task cap, as an Octopus node does across restarts.
    pub fn register(
        &self,
        id: &str,
        name: &str,
        task_cap: u32,
        version: &str,
    ) -> rusqlite::Result<()> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO nodes (id, name, max_concurrent_tasks, is_in_maintenance_mode, last_seen_ms, version, last_modified_ms)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, ?4)
             ON CONFLICT(id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, version = excluded.version",
            params![id, name, task_cap, now, version],
        )?;
        Ok(())
    }

    /// Writes LastSeen.
    pub fn heartbeat(&self, id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE nodes SET last_seen_ms = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    /// One node, by ID.
    pub fn node(&self, id: &str) -> rusqlite::Result<Option<NodeRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM nodes WHERE id = ?1"))?
            .query_row(params![id], row)
            .optional()
    }

    /// Every node, by name.
    pub fn nodes(&self) -> rusqlite::Result<Vec<NodeRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM nodes ORDER BY name"))?
            .query_map([], row)?
            .collect()
    }

    /// Changes the writable fields; None leaves a field as it is. Returns
    /// the updated row, or None if there is no such node.
    pub fn update(
        &self,
        id: &str,
        maintenance: Option<bool>,
        task_cap: Option<u32>,
    ) -> rusqlite::Result<Option<NodeRow>> {
        let changed = self.conn.execute(
            "UPDATE nodes SET
                is_in_maintenance_mode = COALESCE(?2, is_in_maintenance_mode),
                max_concurrent_tasks = COALESCE(?3, max_concurrent_tasks),
                last_modified_ms = ?4
             WHERE id = ?1",
            params![id, maintenance, task_cap, now_ms()],
        )?;
        if changed == 0 {
            Ok(None)
        } else {
            self.node(id)
        }
    }
}

const COLUMNS: &str = "id, name, max_concurrent_tasks, is_in_maintenance_mode, last_seen_ms, version, last_modified_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRow> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_heartbeat_update_keep_drain_across_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        SharedDb::create(&path).unwrap();
        let a = SharedDb::open(&path).unwrap();
        let b = SharedDb::open(&path).unwrap();
        a.register("OctopusServerNodes-n1", "n1", 5, "v1").unwrap();
        b.register("OctopusServerNodes-n2", "n2", 5, "v1").unwrap();
        let drained = b
            .update("OctopusServerNodes-n1", Some(true), None)
            .unwrap()
            .unwrap();
        assert!(drained.is_in_maintenance_mode);
        assert_eq!(drained.max_concurrent_tasks, 5);
        // A restart registers again and keeps the flag.
        a.register("OctopusServerNodes-n1", "n1", 7, "v2").unwrap();
        let n1 = b.node("OctopusServerNodes-n1").unwrap().unwrap();
        assert!(n1.is_in_maintenance_mode);
        assert_eq!((n1.max_concurrent_tasks, n1.version.as_str()), (5, "v2"));
        a.heartbeat("OctopusServerNodes-n1").unwrap();
        assert_eq!(b.nodes().unwrap().len(), 2);
        assert_eq!(
            b.update("OctopusServerNodes-n9", Some(true), None).unwrap(),
            None
        );
    }
}
