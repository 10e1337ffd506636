//! `harness cluster up` as a target: the target file it writes for itself,
//! with node commands that act on its processes by PID, and the control
//! socket through which a `start` command asks it for a new node process
//! (a node must be its child, to be watched and reaped).
//!
//! Files in the cluster's folder: `pids/<node>` holds each node's current
//! process ID; `control.sock` takes one line, `start <node>`, `database
//! outage`, `database restore`, `database failover`, or `storage
//! outage|restore <node>`, and answers `ok`, `invalid: <why>` (no
//! such node or verb) or `error: <why>`. The socket's server holds a
//! database outage for as long as it lasts (docs/faults.md). Both go when
//! `cluster up` stops (with the API key file), so no command of the target
//! file acts on a PID that is no longer the node's.
//!
//! The ready file (`--ready-file`) hands the cluster over to a script
//! without a race: it appears, whole, once everything listens, and holds
//! the absolute paths of the target file and the key file
//! (docs/targets.md, "Handing the cluster to a script").

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::cluster::EmbeddedCluster;
use crate::limits::CONTROL_MAX_LINE;

/// The variable that the target file names for the API key.
pub const TARGET_KEY_ENV: &str = "HARNESS_API_KEY";

/// The control socket's file name in the cluster's folder.
const SOCKET: &str = "control.sock";

/// How long `start` waits for a node's old process to be gone (a `kill`
/// or `stop` signals it and returns at once); one still running after that
/// is taken as running, and left.
const OLD_PROCESS_GONE: Duration = Duration::from_secs(1);

/// How long `cluster up`'s own database failover keeps the database away
/// before it comes back by itself.
pub const FAILOVER_AWAY: Duration = Duration::from_secs(10);

/// How long a client waits for a start.
const START_WITHIN: Duration = Duration::from_secs(60);

/// The file holding a node's process ID.
pub fn pid_file(dir: &Path, node: &str) -> PathBuf {
    dir.join("pids").join(node)
}

/// Writes a node's current process ID.
pub fn write_pid(dir: &Path, node: &str, pid: u32) -> std::io::Result<()> {
    let path = pid_file(dir, node);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Renamed into place, so a command never reads half a number. The
    // temporary name is the writer's own: a start through the socket and
    // the node's start event write the same file at the same moment, and
    // with one shared name the second rename found nothing to rename.
    let tmp = path.with_extension(format!("{:016x}.new", getrandom::u64().unwrap_or(0)));
    std::fs::write(&tmp, pid.to_string())?;
    std::fs::rename(tmp, path)
}

/// Listens on the cluster folder's control socket.
pub fn listen(dir: &Path) -> Result<UnixListener, String> {
    let path = dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path).map_err(|e| format!("failed to listen on {}: {e}", path.display()))
}

/// Serves one control connection: reads its request and answers it.
/// Starts take `starting` one at a time, so two requests for one node
/// never both start it.
pub async fn serve(
    cluster: &EmbeddedCluster,
    dir: &Path,
    starting: &tokio::sync::Mutex<()>,
    mut stream: UnixStream,
) {
    let mut line = String::new();
    let read = {
        let mut reader = BufReader::new((&mut stream).take(CONTROL_MAX_LINE as u64));
        tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await
    };
    let answer = match read {
        Ok(Ok(_)) => match line.trim().split_once(' ') {
            Some(("start", node)) if !cluster.nodes().iter().any(|n| n.key() == node) => {
                format!("invalid: unknown node {node:?}")
            }
            Some(("start", node)) => {
                let _one_at_a_time = starting.lock().await;
                match start(cluster, dir, node).await {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("error: {e}"),
                }
            }
            Some(("database", "outage")) => answer(cluster.database_outage()),
            Some(("database", "restore")) => {
                cluster.database_restore();
                "ok".to_string()
            }
            Some(("database", "failover")) => answer(cluster.database_failover(FAILOVER_AWAY)),
            Some(("storage", rest)) => match rest.split_once(' ') {
                Some((verb, node)) if !cluster.nodes().iter().any(|n| n.key() == node) => {
                    format!("invalid: unknown node {node:?} for storage {verb}")
                }
                Some(("outage", node)) => answer(cluster.storage_outage(node)),
                Some(("restore", node)) => answer(cluster.storage_restore(node)),
                _ => "invalid: the request must be `storage outage|restore <node>`".to_string(),
            },
            Some(("database", verb)) => {
                format!(
                    "invalid: the database's verbs are outage, restore and failover, not {verb:?}"
                )
            }
            _ => {
                "invalid: the request must be `start <node>`, `storage outage|restore <node>` or `database outage|restore|failover`"
                    .to_string()
            }
        },
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: no request within 5s".to_string(),
    };
    let _ = stream.write_all(format!("{answer}\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The answer to a request the cluster did or could not do.
fn answer(done: Result<(), crate::error::ClusterError>) -> String {
    match done {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// Starts a node once its old process is gone, and writes its process ID
/// before answering; a node that runs is left as it is.
async fn start(cluster: &EmbeddedCluster, dir: &Path, node: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + OLD_PROCESS_GONE;
    while cluster.is_running(node) {
        if tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.start(node).await.map_err(|e| e.to_string())?;
    let pid = cluster
        .pids()
        .into_iter()
        .find(|(n, _)| n == node)
        .map(|(_, p)| p)
        .ok_or_else(|| format!("{node} started but has no process"))?;
    write_pid(dir, node, pid).map_err(|e| format!("failed to write {node}'s process ID: {e}"))
}

/// Why a request (a start, a storage or database verb) was not done:
/// it was wrong (exit 2), or the cluster could not do it (exit 3).
#[derive(Debug)]
pub enum StartError {
    /// No such node.
    Invalid(String),
    /// Anything else.
    Failed(String),
}

/// `harness cluster start DIR NODE`: asks the `cluster up` whose folder is
/// `dir` to start a node, and waits for it.
pub async fn request_start(dir: &Path, node: &str) -> Result<(), StartError> {
    request(
        dir,
        &format!("start {node}"),
        &format!("{node} was not started"),
    )
    .await
}

/// `harness cluster storage DIR NODE VERB`: asks the `cluster up` whose
/// folder is `dir` to take the shared store away from a node (`outage`)
/// or give it back (`restore`).
pub async fn request_storage(dir: &Path, node: &str, verb: &str) -> Result<(), StartError> {
    request(
        dir,
        &format!("storage {verb} {node}"),
        &format!("{node}'s storage {verb} was not done"),
    )
    .await
}

/// `harness cluster database DIR VERB`: asks the `cluster up` whose folder
/// is `dir` to take its database away (`outage`) or give it back
/// (`restore`).
pub async fn request_database(dir: &Path, verb: &str) -> Result<(), StartError> {
    request(
        dir,
        &format!("database {verb}"),
        &format!("the database's {verb} was not done"),
    )
    .await
}

/// Sends one request line and waits for its answer; `late` says what was
/// not done when no answer comes in time.
async fn request(dir: &Path, line: &str, late: &str) -> Result<(), StartError> {
    let path = dir.join(SOCKET);
    let failed = StartError::Failed;
    let talk = async {
        let mut stream = UnixStream::connect(&path).await.map_err(|e| {
            failed(format!(
                "no `harness cluster up` answers on {}: {e}",
                path.display()
            ))
        })?;
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut answer = String::new();
        BufReader::new(stream.take(4096))
            .read_line(&mut answer)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let answer = answer.trim();
        if answer == "ok" {
            Ok(())
        } else if let Some(why) = answer.strip_prefix("invalid: ") {
            Err(StartError::Invalid(why.to_string()))
        } else if answer.is_empty() {
            Err(failed(
                "the cluster closed the connection without an answer".into(),
            ))
        } else {
            Err(failed(
                answer.strip_prefix("error: ").unwrap_or(answer).to_string(),
            ))
        }
    };
    tokio::time::timeout(START_WITHIN, talk)
        .await
        .map_err(|_| failed(format!("{late} within {}s", START_WITHIN.as_secs())))?
}

/// The files `cluster up` leaves only while it runs: the control socket,
/// the PID files, the API key file and the ready file. They go when this
/// drops, on Ctrl-C, SIGTERM or an error alike.
pub struct Tidy {
    dir: PathBuf,
    key_file: PathBuf,
    ready: Option<ReadyFile>,
}

impl Tidy {
    /// Tidies `dir` (the cluster's folder) and the ready file when dropped.
    pub fn new(dir: &Path, key_file: &Path, ready: Option<ReadyFile>) -> Self {
        Tidy {
            dir: dir.to_path_buf(),
            key_file: key_file.to_path_buf(),
            ready,
        }
    }

    /// The ready file, to write once the cluster listens.
    pub fn ready(&mut self) -> Option<&mut ReadyFile> {
        self.ready.as_mut()
    }
}

impl Drop for Tidy {
    fn drop(&mut self) {
        // The ready file first: a script that sees it may use the rest.
        if let Some(r) = &self.ready {
            r.remove();
        }
        let _ = std::fs::remove_file(self.dir.join(SOCKET));
        let _ = std::fs::remove_dir_all(self.dir.join("pids"));
        let _ = std::fs::remove_file(&self.key_file);
    }
}

/// `cluster up --ready-file PATH`: written atomically once the cluster
/// listens (a temporary file in the same folder, renamed into place), so a
/// script that waits for it never reads half of it or an older cluster's.
/// A YAML mapping with three keys, each an absolute path: `target` (the
/// target file), `api_key_file` (the key's file; never the key) and `dir`
/// (the cluster's folder). A value is plain unless the path holds a
/// character YAML or `sh` would read otherwise; then it is double-quoted
/// as JSON quotes strings.
#[derive(Debug)]
pub struct ReadyFile {
    path: PathBuf,
    /// What was written, so that only this cluster's file is removed.
    written: Option<String>,
}

impl ReadyFile {
    /// Checks the path before anything starts, and removes an earlier
    /// cluster's file there, so that whoever waits for it waits for this
    /// cluster. Its error is the user's to fix (exit 2).
    pub fn prepare(path: &Path) -> Result<Self, String> {
        let fail = |why: String| format!("failed to use --ready-file {}: {why}", path.display());
        if path.is_dir() {
            return Err(fail("it is a folder".into()));
        }
        let folder = folder_of(path);
        if !folder.is_dir() {
            return Err(fail(format!("there is no folder {}", folder.display())));
        }
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path)
                .map_err(|e| fail(format!("failed to remove the one already there: {e}")))?;
        }
        Ok(ReadyFile {
            path: path.to_path_buf(),
            written: None,
        })
    }

    /// Writes the file: a temporary file in its folder, renamed into place.
    pub fn write(&mut self, target: &Path, api_key_file: &Path, dir: &Path) -> Result<(), String> {
        let fail = |why: String| format!("failed to write {}: {why}", self.path.display());
        let mut text = String::from(
            "# Written by `harness cluster up` once its cluster listens; removed when it stops.\n",
        );
        for (key, path) in [
            ("target", target),
            ("api_key_file", api_key_file),
            ("dir", dir),
        ] {
            let value = path
                .to_str()
                .ok_or_else(|| fail(format!("{} is not UTF-8", path.display())))?;
            let _ = writeln!(text, "{key}: {}", yaml_scalar(value));
        }
        let name = self
            .path
            .file_name()
            .map_or_else(|| "ready".to_string(), |n| n.to_string_lossy().into_owned());
        let tmp = folder_of(&self.path).join(format!(
            ".{name}.{:016x}.tmp",
            getrandom::u64().unwrap_or(u64::from(std::process::id()))
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| {
                use std::io::Write as _;
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e.to_string()));
        }
        self.written = Some(text);
        Ok(())
    }

    /// Removes the file if it is still the one this cluster wrote.
    fn remove(&self) {
        if let Some(text) = &self.written
            && std::fs::read_to_string(&self.path).is_ok_and(|t| &t == text)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The folder a file is in; `.` for a bare file name.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A path as a YAML scalar: plain when it holds only characters that YAML
/// and `sh` both take as they are, else double-quoted (a JSON string is a
/// YAML double-quoted scalar).
fn yaml_scalar(s: &str) -> String {
    let plain = s.starts_with('/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%,=".contains(c));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// Quotes a string for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The running cluster as a target file. Kill, stop, pause and resume
/// signal the node's current PID; start, and the database's outage and
/// restore, go through the control socket.
pub fn target_yaml(cluster: &EmbeddedCluster, dir: &Path, exe: &Path) -> String {
    let mut t = format!(
        "# Written by `harness cluster up`: this cluster as a target file.\n\
         # The API key is in the api-key file beside it; put it in {TARGET_KEY_ENV}.\n\
         name: cluster-up\nlb: {}\napi_key_env: {TARGET_KEY_ENV}\ncommand_timeout: 1m\nnodes:\n",
        cluster.lb_url()
    );
    let polling = cluster.polling_endpoints();
    // YAML single quotes around sh single quotes: each ' doubled.
    let yaml = |s: String| format!("'{}'", s.replace('\'', "''"));
    for n in cluster.nodes() {
        let _ = writeln!(t, "  - name: {}\n    url: {}", n.key(), n.url());
        if let Some(p) = polling.iter().find(|p| p.node == n.key()) {
            let _ = writeln!(t, "    polling: {}", p.addr);
        }
        let pid = sh_quote(&pid_file(dir, n.key()).display().to_string());
        let signal = |sig: &str| yaml(format!("kill -{sig} \"$(cat {pid})\""));
        let start = yaml(format!(
            "{} cluster start {} {}",
            sh_quote(&exe.display().to_string()),
            sh_quote(&dir.display().to_string()),
            n.key()
        ));
        let _ = writeln!(
            t,
            "    commands:\n      kill: {}\n      stop: {}\n      start: {start}\n      pause: {}\n      resume: {}",
            signal("KILL"),
            signal("TERM"),
            signal("STOP"),
            signal("CONT"),
        );
        let storage = |verb: &str| {
            yaml(format!(
                "{} cluster storage {} {} {verb}",
                sh_quote(&exe.display().to_string()),
                sh_quote(&dir.display().to_string()),
                n.key()
            ))
        };
        let _ = writeln!(
            t,
            "    storage:\n      outage: {}\n      restore: {}",
            storage("outage"),
            storage("restore")
        );
    }
    let database = |verb: &str| {
        yaml(format!(
            "{} cluster database {} {verb}",
            sh_quote(&exe.display().to_string()),
            sh_quote(&dir.display().to_string()),
        ))
    };
    let _ = writeln!(
        t,
        "database:\n  outage: {}\n  restore: {}\n  failover: {}",
        database("outage"),
        database("restore"),
        database("failover")
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by CI: a restart's start request and the node's start event
    /// wrote a PID file at once, and one of them failed ("No such file or
    /// directory") because both renamed the same temporary file.
    #[test]
    fn two_writers_of_one_pid_file_at_once_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for w in 0..4u32 {
                let dir = dir.path();
                s.spawn(move || {
                    for i in 0..200u32 {
                        write_pid(dir, "n1", w * 1000 + i).unwrap();
                    }
                });
            }
        });
        let pid: u32 = std::fs::read_to_string(pid_file(dir.path(), "n1"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(pid % 1000 == 199, "{pid}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("pids"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
    }

    /// Whatever the paths, the ready file reads back as written, and a
    /// plain path stays plain for `sed`.
    #[test]
    fn a_ready_file_reads_back_whatever_its_paths() {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ready {
            target: String,
            api_key_file: String,
            dir: String,
        }
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("up.yaml");
        for dir in [
            "/plain/runs/cluster-up/20261206T000000Z",
            "/a b/it's: #x",
            "/\"q\"/- [x]",
        ] {
            let mut ready = ReadyFile::prepare(&file).unwrap();
            let dir = Path::new(dir);
            let (target, key) = (dir.join("target.yaml"), dir.join("api-key"));
            ready.write(&target, &key, dir).unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            let back: Ready = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(
                (
                    back.target.as_str(),
                    back.api_key_file.as_str(),
                    back.dir.as_str()
                ),
                (
                    target.to_str().unwrap(),
                    key.to_str().unwrap(),
                    dir.to_str().unwrap()
                ),
                "{text}"
            );
            if dir.starts_with("/plain") {
                assert!(
                    text.contains(&format!("\ntarget: {}\n", target.display())),
                    "{text}"
                );
            }
            let left: Vec<_> = std::fs::read_dir(folder.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "only the ready file: {left:?}");
        }
    }

    #[test]
    fn a_quoted_path_reaches_sh_intact() {
        for path in ["/a b/it's", "/plain", "/$HOME `x` \"q\""] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(path)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), path);
        }
    }
}
