//! Helpers shared by the integration tests.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The harness binary, run from the repository root.
pub fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(root());
    cmd
}

/// A child that is killed and reaped when dropped, whatever happens.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished command printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// Runs a command to the end, killing it after `limit`.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard(cmd.spawn().expect("spawn"));
    let mut out = guard.0.stdout.take().unwrap();
    let mut err = guard.0.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_with_timeout(&mut guard.0, limit).unwrap_or_else(|| {
        panic!("command did not finish within {limit:?}");
    });
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Waits for a child at most `limit`.
pub fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` until it gives Some, at most `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True if the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The PIDs of every node and LB process a run's history records.
pub fn child_pids(history: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(history).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "node_up")
        .filter_map(|v| v["pid"].as_u64().map(|p| p as u32))
        .collect()
}

/// Waits until none of `pids` is alive; returns the survivors otherwise.
pub fn wait_all_gone(pids: &[u32], limit: Duration) -> Vec<u32> {
    let gone = poll(limit, || pids.iter().all(|p| !alive(*p)).then_some(()));
    if gone.is_some() {
        Vec::new()
    } else {
        pids.iter().copied().filter(|p| alive(*p)).collect()
    }
}

/// `harness cluster up --nodes N --out DIR` in the background, and what it
/// printed up to "Ctrl-C stops": the child is killed (its nodes with it)
/// when the guard drops.
pub fn cluster_up(args: &[&str], out: &Path, limit: Duration) -> (ChildGuard, Vec<String>) {
    let mut cmd = harness();
    cmd.args(["cluster", "up"]).args(args).arg("--out").arg(out);
    spawn_cluster_up(cmd, &out.join("cluster-up.stderr"), limit)
}

/// As [`cluster_up`], started in the folder `cwd` with only `args` (an
/// `--out` among them is read from `cwd`); its stderr goes to
/// `cwd/cluster-up.stderr`.
pub fn cluster_up_in(cwd: &Path, args: &[&str], limit: Duration) -> (ChildGuard, Vec<String>) {
    let mut cmd = harness();
    cmd.args(["cluster", "up"]).args(args).current_dir(cwd);
    spawn_cluster_up(cmd, &cwd.join("cluster-up.stderr"), limit)
}

fn spawn_cluster_up(mut cmd: Command, stderr: &Path, limit: Duration) -> (ChildGuard, Vec<String>) {
    use std::io::{BufRead, BufReader};
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        // To a file, so a cluster that did not come up says why.
        .stderr(std::fs::File::create(stderr).expect("stderr file"));
    let mut guard = ChildGuard(cmd.spawn().expect("spawn cluster up"));
    let stdout = guard.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end, after the caller stops listening too: a closed
        // pipe would fail the cluster's later lines.
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let mut printed: Vec<String> = Vec::new();
    while !printed.iter().any(|l| l.starts_with("Ctrl-C stops")) {
        match rx.recv_timeout(limit) {
            Ok(line) => printed.push(line),
            Err(e) => panic!(
                "cluster up did not print its endpoints ({e}); it printed {printed:?} and on stderr: {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            ),
        }
    }
    (guard, printed)
}

/// What `cluster up --ready-file` wrote.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    pub target: PathBuf,
    pub api_key_file: PathBuf,
    pub dir: PathBuf,
}

/// Reads and parses a ready file.
pub fn read_ready(path: &Path) -> Ready {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the ready file {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("the ready file: {e}\n{text}"))
}

/// The machine's share for the tests that load it, in units: a test that
/// saturates the CPU (gigabyte uploads, an upload search, fifty 100 MiB
/// bodies) or whose measurement any load beside it would falsify (a
/// baseline's p99, a search's knees) takes all of it; a test whose
/// scenario bounds latency, whose nodes CPU quotas hold to one core, or
/// whose steps are timed against a run's phases takes one unit, so two
/// of those may overlap but never one with a CPU-saturating test, which
/// on a 2-core machine would starve it. Other tests take none. Which is
/// which was measured: a test's busy time in /proc/stat over its wall
/// time, alone (the killed runs 0.38 cores, the gigabyte uploads 1.2 to
/// 1.3, the 100 MiB bodies 1.9), and what an average hides (goose's
/// users without a pause, 0.69 on average, saturate both cores while
/// they hold; 900/s with a p99 under 100 ms has no room for a neighbour).
const MACHINE: u32 = 2;

/// Who has the machine now, under one lock, so that a test takes all it
/// needs at once or waits holding nothing: a test that held one part
/// while it waited for another would idle what it held, and could wait on
/// a test waiting on it.
struct Machine {
    /// Units of [`MACHINE`] taken.
    taken: u32,
    /// Tests putting load on the machine that no share counts (the
    /// containers' engine and containers, whose CPU no quota caps).
    uncapped: u32,
    /// A test whose measurement that load would falsify has the machine.
    measuring: bool,
    /// Such tests waiting for it.
    measurements_due: u32,
}

static STATE: std::sync::Mutex<Machine> = std::sync::Mutex::new(Machine {
    taken: 0,
    uncapped: 0,
    measuring: false,
    measurements_due: 0,
});
static FREED: std::sync::Condvar = std::sync::Condvar::new();

/// Waits until `ready` holds of the machine, then applies `take` to it.
fn acquire(ready: impl Fn(&Machine) -> bool, take: impl FnOnce(&mut Machine)) {
    let mut m = STATE.lock().unwrap_or_else(|e| e.into_inner());
    while !ready(&m) {
        m = FREED.wait(m).unwrap_or_else(|e| e.into_inner());
    }
    take(&mut m);
}

/// Gives back with `give`, a failed test's too, and wakes the waiting.
fn release(give: impl FnOnce(&mut Machine)) {
    let mut m = STATE.lock().unwrap_or_else(|e| e.into_inner());
    give(&mut m);
    FREED.notify_all();
}

/// A share of the machine, held for a test's whole run and given back
/// when dropped, a failed test's too.
pub struct Share(Kind);

/// What a [`Share`] holds.
#[derive(Clone, Copy)]
enum Kind {
    Units(u32),
    Measuring,
}

impl Drop for Share {
    fn drop(&mut self) {
        let kind = self.0;
        release(|m| match kind {
            Kind::Units(units) => m.taken -= units,
            Kind::Measuring => {
                m.taken = 0;
                m.measuring = false;
            }
        });
    }
}

fn take(units: u32) -> Share {
    acquire(|m| m.taken + units <= MACHINE, |m| m.taken += units);
    Share(Kind::Units(units))
}

/// The whole machine, for a test that saturates the CPU.
pub fn exclusive() -> Share {
    take(MACHINE)
}

/// One unit, for a test whose scenario bounds latency.
pub fn latency_bound() -> Share {
    take(1)
}

/// One unit, for a test whose steps are timed against the phases of the
/// runs it drives (kills at points of a run), which a saturated machine
/// would stretch.
pub fn timed() -> Share {
    take(1)
}

/// One unit, for a test whose cluster CPU quotas hold to one core in all
/// (the capacity sweep): it cannot saturate the machine, whatever load it
/// puts on its nodes.
pub fn quota_capped() -> Share {
    take(1)
}

/// Held by a test that puts load on the machine that no share counts
/// (the containers' tests: their engine, image builds and containers);
/// many may at once, never beside [`measuring`]. Such a test may take a
/// share as well, while it holds this.
pub struct Uncapped(());

impl Drop for Uncapped {
    fn drop(&mut self) {
        release(|m| m.uncapped -= 1);
    }
}

/// Waits while a measurement has the machine or waits for it.
pub fn uncapped_load() -> Uncapped {
    acquire(
        |m| !m.measuring && m.measurements_due == 0,
        |m| m.uncapped += 1,
    );
    Uncapped(())
}

/// The whole machine, with no uncapped load on it either, for a test
/// whose measurement such load would falsify (the capacity search's
/// knees): taken at once, once every uncapped load has ended. Uncapped
/// load waits for it from when it asks: the knee search, run after the
/// containers' tests, found its generator behind (4.3% of requests sent
/// late at 300/s in CI) or a p99 over its bound, and never when it ran
/// before any container had.
pub fn measuring() -> Share {
    STATE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .measurements_due += 1;
    acquire(
        |m| m.taken == 0 && m.uncapped == 0,
        |m| {
            m.taken = MACHINE;
            m.measuring = true;
            m.measurements_due -= 1;
        },
    );
    Share(Kind::Measuring)
}

/// Debian's Chromium, which .ci/run installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The page as Chromium has it once loaded and its script has run.
fn chromium_dom(page: &Path, profile: &Path) -> String {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    );
    let out_file = profile.join("dom.html");
    let stdout = std::fs::File::create(&out_file).unwrap();
    // These flags keep a headless Chromium from reaching for the network,
    // which this machine refuses; its own process group lets the test kill
    // every helper process it starts.
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn chromium");
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    // Whatever happened, no Chromium process outlives the test.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let status = status.expect("chromium did not finish within 60s");
    assert!(status.success(), "chromium exited with {status}");
    std::fs::read_to_string(out_file).unwrap()
}

/// Asserts that Chromium shows `page` with a PASS verdict and draws all
/// `charts` of its charts (the page's own probe counts them once laid out).
pub fn assert_chromium_draws(page: &Path, scratch: &Path, charts: usize) {
    let profile = scratch.join("chromium");
    std::fs::create_dir(&profile).unwrap();
    let dom = chromium_dom(page, &profile);
    assert!(
        dom.contains("<span id=\"verdict\" class=\"badge pass\">PASS</span>"),
        "{dom}"
    );
    assert!(
        dom.contains(&format!(
            "data-charts=\"{charts}\" data-charts-drawn=\"{charts}\""
        )),
        "Chromium did not draw every chart: {}",
        dom.lines()
            .find(|l| l.contains("<body"))
            .unwrap_or("no body")
    );
}

/// Runs `harness run SCENARIO --seed 7` into a folder of its own within
/// `limit`; gives its exit code, both streams (for messages), and its
/// report.
pub fn run_report(scenario: &str, limit: Duration) -> (i32, String, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args(["run", scenario, "--seed", "7", "--out"])
        .arg(tmp.path());
    let out = run_with_timeout(cmd, limit);
    let report = std::fs::read_to_string(tmp.path().join("latest/report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}\n{}", out.stdout, out.stderr));
    (
        out.code(),
        format!("{}\n{}", out.stdout, out.stderr),
        report,
    )
}

/// The report's check of `kind`.
pub fn check_of<'a>(report: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    check_where(report, "kind", kind)
}

/// The report's check of this name (a load phase's rules share a kind).
pub fn check_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    check_where(report, "name", name)
}

fn check_where<'a>(report: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[key] == value)
        .unwrap_or_else(|| panic!("no check of {key} {value} in {report}"))
}
