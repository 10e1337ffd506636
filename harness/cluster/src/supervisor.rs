//! The supervisor: owns every child process of the embedded cluster (nodes
//! and the LB), starts, kills, pauses and resumes them, and makes sure none
//! outlives the harness.
//!
//! Three mechanisms keep that promise for the harness's own children, each
//! covering a different death (a real HAProxy or nginx, which does not
//! read the pipe, has the first and the last):
//! - `Drop` SIGKILLs and reaps every child (normal end, error, Ctrl-C);
//! - each child holds a pipe to the harness on its stdin and exits when it
//!   reads end-of-file, which the kernel delivers when the harness dies,
//!   even by SIGKILL;
//! - each child asks for SIGKILL on parent death (`PR_SET_PDEATHSIG`), which
//!   also reaches a child that is stopped (SIGSTOP) and cannot read its pipe.
//!
//! PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not
//! the process, so every child is forked from one long-lived spawner thread
//! rather than from tokio's worker threads, which may come and go.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::ClusterError;
use crate::vocab::ApiKey;

/// Environment variable that carries a child's JSON configuration.
pub const CONFIG_ENV: &str = "HARNESS_CHILD_CONFIG";
/// Environment variable with the supervisor's PID, so a child can tell
/// whether its parent died before it asked for a parent-death signal.
const PARENT_PID_ENV: &str = "HARNESS_PARENT_PID";

/// How long a child may take to print its READY line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The hidden argument that runs the binary as an Octopus node.
pub const NODE_MODE: &str = "__node";
/// The hidden argument that runs the binary as the load balancer.
pub const LB_MODE: &str = "__lb";
/// The hidden argument that runs another program as a cluster child.
pub const EXEC_MODE: &str = "__exec";

/// Which hidden mode of the harness binary a child runs.
#[derive(Debug, Clone, Copy)]
pub enum ChildKind {
    /// An Octopus node.
    Node,
    /// The load balancer.
    Lb,
}

impl ChildKind {
    fn arg(self) -> &'static str {
        match self {
            ChildKind::Node => NODE_MODE,
            ChildKind::Lb => LB_MODE,
        }
    }
}

/// A child that answered.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// Its HTTP address, from its READY line.
    pub addr: SocketAddr,
    /// Its process ID.
    pub pid: u32,
    /// From spawn to READY.
    pub boot: Duration,
}

struct Managed {
    child: Child,
    /// Held open: closing it tells the child to exit.
    _stdin: Option<ChildStdin>,
    paused: bool,
}

/// Owns the cluster's child processes.
pub struct Supervisor {
    exe: PathBuf,
    log_dir: PathBuf,
    api_key: ApiKey,
    spawner: Spawner,
    children: Mutex<HashMap<String, Managed>>,
}

impl Supervisor {
    /// A supervisor that runs `exe` (the harness binary) in its hidden
    /// modes, its children writing their logs into `log_dir`.
    pub fn new(exe: &Path, log_dir: &Path, api_key: ApiKey) -> Result<Self, ClusterError> {
        Ok(Self {
            exe: exe.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
            api_key,
            spawner: Spawner::new()?,
            children: Mutex::new(HashMap::new()),
        })
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Managed>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log file of a child.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }

    /// Starts a child and waits for its READY line. Lines it prints after
    /// READY go to `lines`.
    pub async fn start(
        &self,
        name: &str,
        kind: ChildKind,
        config_json: String,
        lines: Option<mpsc::Sender<String>>,
    ) -> Result<Started, ClusterError> {
        if self.is_running(name) {
            return Err(ClusterError::new(format!("{name} is already running")));
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .map_err(|e| ClusterError::new(format!("failed to open the log of {name}: {e}")))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg(kind.arg())
            .env(CONFIG_ENV, config_json)
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let begun = Instant::now();
        let mut child = self
            .spawner
            .spawn(cmd)
            .map_err(|e| ClusterError::new(format!("failed to start {name}: {e}")))?;
        let pid = child.id();
        let mut stdin = child.stdin.take();
        // The first line on stdin is the API key (empty for the LB): not the
        // command line, which `ps` shows, nor the environment, which
        // /proc/<pid>/environ shows and children inherit.
        let key_line = match kind {
            ChildKind::Node => format!("{}\n", self.api_key.expose()),
            ChildKind::Lb => "\n".to_string(),
        };
        if let Some(pipe) = stdin.as_mut() {
            let _ = pipe.write_all(key_line.as_bytes());
        }
        let stdout = child.stdout.take();
        self.children().insert(
            name.to_string(),
            Managed {
                child,
                _stdin: stdin,
                paused: false,
            },
        );
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || read_child_stdout(stdout, ready_tx, lines));
        }
        let addr = match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(addr)) => addr,
            outcome => {
                let _ = self.kill(name);
                let why = if outcome.is_err() {
                    "did not answer in time"
                } else {
                    "exited"
                };
                return Err(ClusterError::new(format!(
                    "{name} {why} while starting; its log {} ends with: {}",
                    self.log_path(name).display(),
                    log_tail(&self.log_path(name))
                )));
            }
        };
        Ok(Started {
            addr,
            pid,
            boot: begun.elapsed(),
        })
    }

    /// Starts a program that is not the harness (HAProxy, nginx) through
    /// the harness's exec mode, which arms the parent-death signal and then
    /// becomes the program, and waits until it accepts connections on
    /// `addr`. Its output goes to its log.
    pub async fn start_external(
        &self,
        name: &str,
        program: &Path,
        args: &[String],
        addr: SocketAddr,
    ) -> Result<Started, ClusterError> {
        if self.is_running(name) {
            return Err(ClusterError::new(format!("{name} is already running")));
        }
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path(name))
                .map_err(|e| ClusterError::new(format!("failed to open the log of {name}: {e}")))
        };
        let mut cmd = Command::new(&self.exe);
        cmd.arg(EXEC_MODE)
            .arg(program)
            .args(args)
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(open_log()?))
            .stderr(Stdio::from(open_log()?));
        let begun = Instant::now();
        let child = self
            .spawner
            .spawn(cmd)
            .map_err(|e| ClusterError::new(format!("failed to start {name}: {e}")))?;
        let pid = child.id();
        self.children().insert(
            name.to_string(),
            Managed {
                child,
                _stdin: None,
                paused: false,
            },
        );
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let connect = tokio::net::TcpStream::connect(addr);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
                return Ok(Started {
                    addr,
                    pid,
                    boot: begun.elapsed(),
                });
            }
            if !self.is_running(name) || Instant::now() > deadline {
                let _ = self.kill(name);
                return Err(ClusterError::new(format!(
                    "{name} ({}) did not start; its log {} ends with: {}",
                    program.display(),
                    self.log_path(name).display(),
                    log_tail(&self.log_path(name))
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Each running child's name and process ID.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut pids: Vec<(String, u32)> = self
            .children()
            .iter()
            .map(|(name, m)| (name.clone(), m.child.id()))
            .collect();
        pids.sort();
        pids
    }

    /// True if the child exists and has not exited.
    pub fn is_running(&self, name: &str) -> bool {
        match self.children().get_mut(name) {
            Some(m) => matches!(m.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs a child and reaps it.
    pub fn kill(&self, name: &str) -> Result<(), ClusterError> {
        let mut managed = self
            .children()
            .remove(name)
            .ok_or_else(|| ClusterError::new(format!("{name} is not running")))?;
        reap(&mut managed.child);
        Ok(())
    }

    /// SIGSTOPs a child: it keeps its sockets, so connections are accepted
    /// by the kernel but never answered.
    pub fn pause(&self, name: &str) -> Result<(), ClusterError> {
        self.signal(name, Signal::SIGSTOP, true)
    }

    /// SIGCONTs a paused child.
    pub fn resume(&self, name: &str) -> Result<(), ClusterError> {
        self.signal(name, Signal::SIGCONT, false)
    }

    /// True if the child is stopped by [`Supervisor::pause`].
    pub fn is_paused(&self, name: &str) -> bool {
        self.children().get(name).is_some_and(|m| m.paused)
    }

    fn signal(&self, name: &str, sig: Signal, paused: bool) -> Result<(), ClusterError> {
        let mut children = self.children();
        let m = children
            .get_mut(name)
            .ok_or_else(|| ClusterError::new(format!("{name} is not running")))?;
        kill(Pid::from_raw(m.child.id() as i32), sig)
            .map_err(|e| ClusterError::new(format!("failed to send {sig} to {name}: {e}")))?;
        m.paused = paused;
        Ok(())
    }

    /// Kills and reaps every child.
    pub fn shutdown(&self) {
        let drained: Vec<Managed> = self.children().drain().map(|(_, m)| m).collect();
        for mut m in drained {
            reap(&mut m.child);
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// SIGKILL, then wait: SIGKILL also ends a stopped process. A process in
/// an uninterruptible wait (a hung network file system) is not waited for
/// past a few seconds; it dies when its wait ends.
fn reap(child: &mut Child) {
    let _ = child.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("harness: process {} did not end after SIGKILL", child.id());
}

/// The last line of a child's log, for error messages.
fn log_tail(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "(nothing)".to_string())
}

fn read_child_stdout(
    stdout: impl Read,
    ready: tokio::sync::oneshot::Sender<SocketAddr>,
    lines: Option<mpsc::Sender<String>>,
) {
    let mut ready = Some(ready);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(addr) = line.strip_prefix("READY ") {
            if let (Some(tx), Ok(addr)) = (ready.take(), addr.trim().parse()) {
                let _ = tx.send(addr);
            }
        } else if let Some(lines) = &lines {
            let _ = lines.send(line);
        }
    }
}

/// A long-lived thread that forks every child (see the module doc).
struct Spawner {
    tx: Mutex<mpsc::Sender<(Command, mpsc::SyncSender<std::io::Result<Child>>)>>,
}

impl Spawner {
    fn new() -> Result<Self, ClusterError> {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::SyncSender<std::io::Result<Child>>)>();
        std::thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map_err(|e| ClusterError::new(format!("failed to start the spawner thread: {e}")))?;
        Ok(Self { tx: Mutex::new(tx) })
    }

    fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let gone = || std::io::Error::other("the spawner thread is gone");
        self.tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((cmd, reply_tx))
            .map_err(|_| gone())?;
        reply_rx.recv().map_err(|_| gone())?
    }
}

/// Called first in every child: die with the harness (see the module doc).
/// Returns the first line the supervisor wrote on stdin: the API key for a
/// node, empty for the LB.
pub fn child_guard() -> String {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let parent = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    if parent.is_some_and(|p| nix::unistd::getppid().as_raw() != p) {
        // The harness died before the signal was armed.
        std::process::exit(1);
    }
    let mut stdin = BufReader::new(std::io::stdin());
    let mut first = String::new();
    if !matches!(stdin.read_line(&mut first), Ok(n) if n > 0) {
        std::process::exit(0);
    }
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    first.trim_end().to_string()
}

/// The exec mode: arm the parent-death signal, which survives exec, check
/// the harness is still there, and become `program`. Returns only on error.
pub fn exec_guarded(program: &std::ffi::OsStr, args: &[std::ffi::OsString]) -> String {
    use std::os::unix::process::CommandExt;
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let parent = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    if parent.is_some_and(|p| nix::unistd::getppid().as_raw() != p) {
        std::process::exit(1);
    }
    let e = Command::new(program).args(args).exec();
    format!("failed to run {}: {e}", program.to_string_lossy())
}

/// A program's path if it is on the PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A child's configuration, read from [`CONFIG_ENV`].
pub fn child_config<T: serde::de::DeserializeOwned>() -> Result<T, String> {
    let text = std::env::var(CONFIG_ENV).map_err(|_| format!("{CONFIG_ENV} is not set"))?;
    serde_json::from_str(&text).map_err(|e| format!("{CONFIG_ENV} is not valid: {e}"))
}
