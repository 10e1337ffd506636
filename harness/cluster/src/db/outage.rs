//! A database outage the nodes cannot tell from a lost SQL Server: the
//! database engine itself refuses them, not a flag in their code.
//!
//! The shared database is an SQLite file in WAL mode. Every read and
//! every write of every connection takes a lock on one of eight bytes of
//! the WAL index (the `-shm` file, bytes 120 to 127: the write,
//! checkpoint and recovery locks and the five read marks, as SQLite's
//! file format documents them). An outage holds all eight exclusively, so
//! every call of every node blocks in SQLite's own retries and then fails
//! (`locking protocol`, after about ten seconds: a connection timeout's
//! worth), a transaction in flight is lost, and what was committed stays.
//! Ending it releases the lock; the nodes' next calls go through. What
//! this does not model: connections that break and must be opened again
//! (the nodes' connections stay open), and a database that comes back as
//! another server (docs/faults.md, "database_outage").

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

/// The first byte of the WAL index's locks and how many there are.
const LOCK_START: i64 = 120;
const LOCK_LEN: i64 = 8;

/// Time between two tries while a node holds one of the locks for a
/// moment (a read or write in progress).
const RETRY: Duration = Duration::from_millis(1);

/// The database held unreachable until this is dropped.
#[derive(Debug)]
pub struct Outage {
    /// An open file description lock: the kernel releases it when the
    /// file closes, even when the process that held it dies.
    _index: File,
}

/// The WAL index of the database at `db`.
fn index_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push("-shm");
    PathBuf::from(name)
}

impl Outage {
    /// Takes the database away from every connection, waiting up to
    /// `within` for the calls in progress to end.
    pub fn begin(db: &Path, within: Duration) -> Result<Self, String> {
        let path = index_path(db);
        let index = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "failed to open the database's WAL index {}: {e}",
                    path.display()
                )
            })?;
        let lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: LOCK_START,
            l_len: LOCK_LEN,
            // Must be 0 for an open file description lock.
            l_pid: 0,
        };
        let deadline = Instant::now() + within;
        loop {
            match fcntl(&index, FcntlArg::F_OFD_SETLK(&lock)) {
                Ok(_) => return Ok(Self { _index: index }),
                Err(Errno::EAGAIN | Errno::EACCES) if Instant::now() < deadline => {
                    std::thread::sleep(RETRY);
                }
                Err(e) => {
                    return Err(format!(
                        "failed to take the database's locks within {}s: {e}",
                        within.as_secs_f64()
                    ));
                }
            }
        }
    }
}
