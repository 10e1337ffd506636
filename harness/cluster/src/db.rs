//! The shared database every node of the embedded cluster coordinates
//! through, as Octopus nodes share one SQL Server database: node
//! registrations, heartbeats (LastSeen), drain flags and task caps, and the
//! task queue with its atomic claims and orphan rules.
//!
//! It is an SQLite file in WAL mode (embedded; nothing to install), opened
//! by every node process. All SQL lives in this module (the rows' columns
//! in `rows`), so a second backend can follow behind the same functions.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

mod outage;
mod rows;

pub use outage::Outage;
pub use rows::{
    ClaimMode, MachineRow, NodeRow, Overwrite, PackageFilter, PackageRow, Stored, TaskFilter,
    TaskRow,
};

use crate::vocab::TaskState;
use rows::{
    COLUMNS, MACHINE_COLUMNS, PACKAGE_COLUMNS, TASK_COLUMNS, machine_row, package_row, row,
    task_row,
};

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
            );
            CREATE TABLE IF NOT EXISTS tasks (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                space_id TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                arguments TEXT NOT NULL,
                state TEXT NOT NULL,
                server_node TEXT,
                queue_ms INTEGER NOT NULL,
                start_ms INTEGER,
                completed_ms INTEGER,
                error TEXT
            );
            CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, seq);
            CREATE INDEX IF NOT EXISTS tasks_by_node ON tasks (server_node, state);
            CREATE TABLE IF NOT EXISTS packages (
                id TEXT PRIMARY KEY,
                package_id TEXT NOT NULL,
                version TEXT NOT NULL,
                extension TEXT NOT NULL,
                size INTEGER NOT NULL,
                hash TEXT NOT NULL,
                path TEXT NOT NULL,
                published_ms INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS machines (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                space_id TEXT NOT NULL,
                name TEXT NOT NULL,
                uri TEXT NOT NULL,
                thumbprint TEXT NOT NULL,
                created_ms INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS machines_by_thumbprint ON machines (thumbprint);
            CREATE TABLE IF NOT EXISTS certificates (
                name TEXT PRIMARY KEY,
                cert BLOB NOT NULL,
                key BLOB NOT NULL
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

/// A task this node may claim: not pinned, or pinned to it (`?1` is the
/// node's name). Pinning is the reference cluster's way to force a health
/// check onto one node; on Octopus the harness drains the others instead.
const PINNED_TO_ME: &str = "(json_extract(arguments, '$.PinnedNode') IS NULL OR json_extract(arguments, '$.PinnedNode') = ?1)";

/// The states in which a task holds a slot of its node's cap.
const ACTIVE: &str = "('Executing', 'Cancelling')";

impl SharedDb {
    /// Runs `f` in a write transaction taken at once (`BEGIN IMMEDIATE`),
    /// so a read inside it cannot go stale before the write: the one lock
    /// that makes claims atomic across node processes.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        // Rolled back when dropped, so a failed commit cannot leave the
        // connection holding the lock.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    /// Queues a task.
    pub fn create_task(
        &self,
        space_id: &str,
        name: &str,
        description: &str,
        arguments: &str,
    ) -> rusqlite::Result<TaskRow> {
        let seq = self.write(|c| {
            c.execute(
                "INSERT INTO tasks (space_id, name, description, arguments, state, queue_ms)
                 VALUES (?1, ?2, ?3, ?4, 'Queued', ?5)",
                params![space_id, name, description, arguments, now_ms()],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        self.task(seq)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    /// One task.
    pub fn task(&self, seq: i64) -> rusqlite::Result<Option<TaskRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE seq = ?1"))?
            .query_row(params![seq], task_row)
            .optional()
    }

    /// A page of tasks, newest first, and how many match in all.
    pub fn tasks(&self, f: &TaskFilter) -> rusqlite::Result<(usize, Vec<TaskRow>)> {
        // Only fixed SQL and numbers go into the text; values are bound.
        let mut clauses = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if !f.states.is_empty() {
            clauses.push(format!(
                "state IN ({})",
                vec!["?"; f.states.len()].join(", ")
            ));
            values.extend(f.states.iter().map(|s| s.as_str().to_string().into()));
        }
        if let Some(node) = &f.node {
            clauses.push("server_node = ?".to_string());
            values.push(node.clone().into());
        }
        if !f.ids.is_empty() {
            clauses.push(format!("seq IN ({})", vec!["?"; f.ids.len()].join(", ")));
            values.extend(f.ids.iter().map(|id| (*id).into()));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM tasks {filter}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let mut page = values;
        page.push((f.take as i64).into());
        page.push((f.skip as i64).into());
        let rows = self
            .conn
            .prepare(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks {filter} ORDER BY seq DESC LIMIT ? OFFSET ?"
            ))?
            .query_map(rusqlite::params_from_iter(page.iter()), task_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as usize, rows))
    }

    /// Claims queued tasks for a node, oldest first, by Octopus's rules: a
    /// drained node takes none; a node never goes past its cap; and it
    /// stops once its own load ratio (active / cap) passes the cluster's
    /// ((active + queued) / the caps of online, undrained nodes), which
    /// spreads a burst over the cluster. Returns the claimed tasks.
    pub fn claim(
        &self,
        node_id: &str,
        node_name: &str,
        offline_after_ms: i64,
        mode: ClaimMode,
    ) -> rusqlite::Result<Vec<TaskRow>> {
        match mode {
            ClaimMode::Atomic => self.write(|c| {
                let k = claimable(c, node_id, node_name, offline_after_ms)?;
                if k == 0 {
                    return Ok(Vec::new());
                }
                let now = now_ms();
                c.prepare_cached(&format!(
                    "UPDATE tasks SET state = 'Executing', server_node = ?1, start_ms = ?2
                     WHERE seq IN (SELECT seq FROM tasks WHERE state = 'Queued' AND {PINNED_TO_ME} ORDER BY seq LIMIT ?3)
                     RETURNING {TASK_COLUMNS}"
                ))?
                .query_map(params![node_name, now, k as i64], task_row)?
                .collect()
            }),
            ClaimMode::Racy(gap) => {
                let k = claimable(&self.conn, node_id, node_name, offline_after_ms)?;
                if k == 0 {
                    return Ok(Vec::new());
                }
                let seqs: Vec<i64> = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT seq FROM tasks WHERE state = 'Queued' AND {} ORDER BY seq LIMIT ?1",
                        PINNED_TO_ME.replace("?1", "?2")
                    ))?
                    .query_map(params![k as i64, node_name], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                // The gap between read and write is the bug.
                std::thread::sleep(gap);
                let mut claimed = Vec::new();
                for seq in seqs {
                    self.conn.execute(
                        "UPDATE tasks SET state = 'Executing', server_node = ?1, start_ms = ?2 WHERE seq = ?3",
                        params![node_name, now_ms(), seq],
                    )?;
                    claimed.extend(self.task(seq)?);
                }
                Ok(claimed)
            }
        }
    }

    /// Ends a task its node ran. Only the node that holds the task may end
    /// it, and only while it is active, so a task the orphan rule canceled
    /// stays canceled. In racy mode the first node to finish wins, as
    /// nothing checks. Returns whether the row changed.
    pub fn complete(
        &self,
        seq: i64,
        node_name: &str,
        state: TaskState,
        error: Option<&str>,
        mode: ClaimMode,
    ) -> rusqlite::Result<bool> {
        let sql = match mode {
            ClaimMode::Atomic => format!(
                "UPDATE tasks SET state = ?2, completed_ms = ?3, error = ?4
                 WHERE seq = ?1 AND server_node = ?5 AND state IN {ACTIVE}"
            ),
            ClaimMode::Racy(_) => format!(
                "UPDATE tasks SET state = ?2, completed_ms = ?3, error = ?4
                 WHERE seq = ?1 AND state IN {ACTIVE} AND ?5 IS NOT NULL"
            ),
        };
        let changed = self.conn.execute(
            &sql,
            params![seq, state.as_str(), now_ms(), error, node_name],
        )?;
        Ok(changed > 0)
    }

    /// Cancels one task that has not finished, as `POST .../cancel` asks;
    /// a finished one is left as it is. The node running it finds it
    /// canceled when it completes, and its result is not recorded.
    pub fn cancel(&self, seq: i64) -> rusqlite::Result<bool> {
        let changed = self.conn.execute(
            "UPDATE tasks SET state = 'Canceled', completed_ms = ?2,
             error = 'The task was canceled.'
             WHERE seq = ?1 AND state IN ('Queued', 'Executing', 'Cancelling')",
            params![seq, now_ms()],
        )?;
        Ok(changed > 0)
    }

    /// A node that starts cancels what it was running before it died, as
    /// an Octopus node does when it comes back. Returns how many.
    pub fn cancel_own(&self, node_name: &str) -> rusqlite::Result<usize> {
        self.conn.execute(
            &format!(
                "UPDATE tasks SET state = 'Canceled', completed_ms = ?2,
                 error = 'The node running this task restarted; the task was canceled.'
                 WHERE server_node = ?1 AND state IN {ACTIVE}"
            ),
            params![node_name, now_ms()],
        )
    }

    /// Cancels the active tasks of other nodes not seen for
    /// `orphan_after_ms`, as any Octopus node does (after about an hour).
    /// The tasks are never queued again. Returns how many.
    pub fn cancel_orphans(&self, me: &str, orphan_after_ms: i64) -> rusqlite::Result<usize> {
        self.conn.execute(
            &format!(
                "UPDATE tasks SET state = 'Canceled', completed_ms = ?1,
                 error = 'The node running this task went offline; the task was canceled by another node.'
                 WHERE state IN {ACTIVE} AND server_node <> ?3
                   AND server_node IN (SELECT name FROM nodes WHERE last_seen_ms < ?1 - ?2)"
            ),
            params![now_ms(), orphan_after_ms, me],
        )
    }

    /// Active tasks per node name.
    pub fn running_counts(&self) -> rusqlite::Result<Vec<(String, u32)>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT server_node, COUNT(*) FROM tasks WHERE state IN {ACTIVE} AND server_node IS NOT NULL GROUP BY server_node"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }
}

impl SharedDb {
    /// One package by its ID.
    pub fn package(&self, id: &str) -> rusqlite::Result<Option<PackageRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = ?1"
            ))?
            .query_row(params![id], package_row)
            .optional()
    }

    /// A page of the packages `f` selects, newest first, and how many it
    /// selects in all.
    pub fn packages(
        &self,
        f: &PackageFilter,
        skip: usize,
        take: usize,
    ) -> rusqlite::Result<(usize, Vec<PackageRow>)> {
        // Package IDs are case-insensitive, as in NuGet; the term matches
        // anywhere in the ID. instr, not LIKE, so % and _ in a term are
        // plain characters.
        const WHERE: &str = "WHERE (?1 IS NULL OR package_id = ?1 COLLATE NOCASE)
            AND (?2 IS NULL OR instr(lower(package_id), lower(?2)) > 0)";
        let (id, term) = (f.package_id.as_deref(), f.term.as_deref());
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM packages {WHERE}"))?
            .query_row(params![id, term], |r| r.get(0))?;
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM packages {WHERE} ORDER BY published_ms DESC, id LIMIT ?3 OFFSET ?4"
            ))?
            .query_map(params![id, term, take as i64, skip as i64], package_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as usize, rows))
    }

    /// Stores an uploaded package under the write lock: `place` moves its
    /// file into place and runs only when the package is to be kept, so the
    /// file and the row appear together and two uploads of one package
    /// cannot both win.
    pub fn store_package(
        &self,
        row: &PackageRow,
        mode: Overwrite,
        place: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<Stored, String> {
        let mut place = Some(place);
        let mut placed = Ok(());
        let stored = self
            .write(|c| {
                let existing = c
                    .prepare_cached(&format!(
                        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = ?1"
                    ))?
                    .query_row(params![row.id], package_row)
                    .optional()?;
                match (&existing, mode) {
                    (Some(e), Overwrite::FailIfExists) => return Ok(Stored::Conflict(e.clone())),
                    (Some(e), Overwrite::IgnoreIfExists) => return Ok(Stored::Ignored(e.clone())),
                    _ => {}
                }
                if let Some(place) = place.take() {
                    placed = place();
                    if placed.is_err() {
                        return Err(rusqlite::Error::InvalidQuery);
                    }
                }
                c.execute(
                    &format!(
                        "INSERT OR REPLACE INTO packages ({PACKAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    ),
                    params![
                        row.id,
                        row.package_id,
                        row.version,
                        row.extension,
                        row.size,
                        row.hash,
                        row.path,
                        row.published_ms
                    ],
                )?;
                Ok(match existing {
                    Some(old) => Stored::Replaced(row.clone(), old),
                    None => Stored::Created(row.clone()),
                })
            });
        match (stored, placed) {
            (Ok(s), _) => Ok(s),
            (Err(_), Err(e)) => Err(format!("failed to move the package into place: {e}")),
            (Err(e), Ok(())) => Err(format!("database error: {e}")),
        }
    }

    /// Removes a package's row and gives it back, so the caller can remove
    /// its file.
    pub fn delete_package(&self, id: &str) -> rusqlite::Result<Option<PackageRow>> {
        self.write(|c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = ?1"
                ))?
                .query_row(params![id], package_row)
                .optional()?;
            if row.is_some() {
                c.execute("DELETE FROM packages WHERE id = ?1", params![id])?;
            }
            Ok(row)
        })
    }
}

impl SharedDb {
    /// Registers a machine.
    pub fn add_machine(
        &self,
        space_id: &str,
        name: &str,
        uri: &str,
        thumbprint: &str,
    ) -> rusqlite::Result<MachineRow> {
        self.write(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO machines (space_id, name, uri, thumbprint, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {MACHINE_COLUMNS}"
            ))?
            .query_row(
                params![
                    space_id,
                    name,
                    uri,
                    thumbprint.to_ascii_uppercase(),
                    now_ms()
                ],
                machine_row,
            )
        })
    }

    /// One machine.
    pub fn machine(&self, seq: i64) -> rusqlite::Result<Option<MachineRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {MACHINE_COLUMNS} FROM machines WHERE seq = ?1"
            ))?
            .query_row(params![seq], machine_row)
            .optional()
    }

    /// A page of machines, oldest first, and how many there are.
    pub fn machines(&self, skip: usize, take: usize) -> rusqlite::Result<(usize, Vec<MachineRow>)> {
        let total: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM machines", [], |r| r.get(0))?;
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MACHINE_COLUMNS} FROM machines ORDER BY seq LIMIT ?1 OFFSET ?2"
            ))?
            .query_map(params![take as i64, skip as i64], machine_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as usize, rows))
    }

    /// Removes a machine; returns whether it was there.
    pub fn delete_machine(&self, seq: i64) -> rusqlite::Result<bool> {
        self.write(|c| c.execute("DELETE FROM machines WHERE seq = ?1", params![seq]))
            .map(|n| n > 0)
    }

    /// Whether a polling client with this thumbprint is trusted: the
    /// listener's trust list is the registered machines, as Octopus's is.
    pub fn trusts(&self, thumbprint: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM machines WHERE thumbprint = ?1 LIMIT 1")?
            .query_row(params![thumbprint.to_ascii_uppercase()], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }

    /// Stores a certificate and its key under a name, once: the first
    /// writer wins, so every node serves the same one.
    pub fn put_certificate(&self, name: &str, cert: &[u8], key: &[u8]) -> rusqlite::Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT OR IGNORE INTO certificates (name, cert, key) VALUES (?1, ?2, ?3)",
                params![name, cert, key],
            )
        })
        .map(|_| ())
    }

    /// A stored certificate and its key.
    pub fn certificate(&self, name: &str) -> rusqlite::Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.conn
            .prepare_cached("SELECT cert, key FROM certificates WHERE name = ?1")?
            .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }
}

/// How many tasks a node may claim now.
fn claimable(
    c: &Connection,
    node_id: &str,
    node_name: &str,
    offline_after_ms: i64,
) -> rusqlite::Result<u64> {
    let Some((cap, drained)) = c
        .prepare_cached(
            "SELECT max_concurrent_tasks, is_in_maintenance_mode FROM nodes WHERE id = ?1",
        )?
        .query_row(params![node_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
        })
        .optional()?
    else {
        return Ok(0);
    };
    if drained || cap <= 0 {
        return Ok(0);
    }
    let (mine, all, queued): (i64, i64, i64) = c
        .prepare_cached(&format!(
            "SELECT COALESCE(SUM(state IN {ACTIVE} AND server_node = ?1), 0),
                    COALESCE(SUM(state IN {ACTIVE}), 0),
                    COALESCE(SUM(state = 'Queued'), 0)
             FROM tasks WHERE state IN ('Queued', 'Executing', 'Cancelling')"
        ))?
        .query_row(params![node_name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let cluster_cap: i64 = c
        .prepare_cached(
            "SELECT COALESCE(SUM(max_concurrent_tasks), 0) FROM nodes
             WHERE is_in_maintenance_mode = 0 AND (last_seen_ms >= ?1 OR id = ?2)",
        )?
        .query_row(params![now_ms() - offline_after_ms, node_id], |r| r.get(0))?;
    Ok(claim_count(mine, cap, all, queued, cluster_cap))
}

/// The ratio rule on numbers: claim one at a time while the node is under
/// its cap and its ratio `mine / cap` is at most the cluster's
/// `(all + queued) / cluster_cap`. Claiming moves a task from queued to
/// active, so the cluster's ratio does not change as the node claims.
fn claim_count(mut mine: i64, cap: i64, all: i64, mut queued: i64, cluster_cap: i64) -> u64 {
    let mut k = 0;
    let cluster_cap = cluster_cap.max(cap);
    let load = all + queued;
    // mine / cap <= load / cluster_cap, without division.
    while queued > 0 && mine < cap && mine * cluster_cap <= load * cap {
        mine += 1;
        queued -= 1;
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests;
