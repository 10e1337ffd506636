//! No node or LB process outlives the harness: not after a normal run, not
//! after Ctrl-C mid-run, not after SIGKILL of the harness mid-run, even
//! while a node is stopped by SIGSTOP.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::{ChildGuard, alive, child_pids, harness, poll, wait_all_gone, wait_with_timeout};

const LIMIT: Duration = Duration::from_secs(30);

/// Starts the long-pause scenario and waits until n1 is paused.
fn start_and_wait_for_pause(out: &Path) -> (ChildGuard, Vec<u32>) {
    let mut cmd = harness();
    cmd.args(["run", "fixtures/scenarios/valid/long-pause.yaml", "--out"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard(cmd.spawn().unwrap());
    let history = out.join("latest/history.jsonl");
    poll(LIMIT, || {
        let text = std::fs::read_to_string(&history).ok()?;
        text.contains(r#""kind":"pause","nodes":["n1"],"action":"inject""#)
            .then_some(())
    })
    .expect("n1 paused in time");
    let pids = child_pids(&history);
    assert_eq!(pids.len(), 4, "three nodes and the LB: {pids:?}");
    assert!(pids.iter().all(|p| alive(*p)));
    (guard, pids)
}

#[test]
fn ctrl_c_mid_run_heals_reports_and_leaves_no_process() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut guard, pids) = start_and_wait_for_pause(tmp.path());
    kill(Pid::from_raw(guard.0.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_with_timeout(&mut guard.0, LIMIT).expect("harness exits after Ctrl-C");
    assert_eq!(status.code(), Some(3), "an interrupted run is exit 3");
    assert_eq!(
        wait_all_gone(&pids, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
    // The heal phase ran: the pause was undone before teardown.
    let history = std::fs::read_to_string(tmp.path().join("latest/history.jsonl")).unwrap();
    assert!(
        history.contains(r#""kind":"pause","nodes":["n1"],"action":"heal""#),
        "{history}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("latest/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (report["verdict"].as_str(), report["interrupted"].as_str()),
        (Some("unknown"), Some("Ctrl-C"))
    );
}

#[test]
fn sigkill_of_the_harness_leaves_no_process_even_a_stopped_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut guard, pids) = start_and_wait_for_pause(tmp.path());
    guard.0.kill().unwrap();
    wait_with_timeout(&mut guard.0, LIMIT).expect("reaped");
    assert_eq!(
        wait_all_gone(&pids, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
}

#[test]
fn cluster_up_serves_until_ctrl_c_and_keeps_the_key_off_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut guard, printed) = crate::util::cluster_up(&["--nodes", "2"], tmp.path(), LIMIT);
    let lb = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("lb  "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the LB's URL")
        .to_string();
    assert_eq!(
        printed
            .iter()
            .filter(|l| l.trim_start().starts_with('n'))
            .count(),
        2,
        "{printed:?}"
    );
    let key_file = std::fs::read_dir(tmp.path().join("cluster-up"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("api-key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert!(key.starts_with("API-"));
    assert!(
        !printed.iter().any(|l| l.contains(&key)),
        "the key was printed"
    );
    // The cluster answers on the printed address, with the key from the file.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let page: serde_json::Value = rt.block_on(async {
        let client = harness::client::http_builder(&harness::target::Trust::System)
            .unwrap()
            .no_proxy()
            .build()
            .unwrap();
        let req = client
            .get(format!("{lb}/api/octopusservernodes"))
            .header("X-Octopus-ApiKey", key.as_str());
        let resp = tokio::time::timeout(LIMIT, req.send())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        tokio::time::timeout(LIMIT, resp.json())
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(page["TotalResults"], 2);
    let pids = child_pids_of(guard.0.id());
    assert_eq!(pids.len(), 3, "two nodes and the LB: {pids:?}");
    kill(Pid::from_raw(guard.0.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_with_timeout(&mut guard.0, LIMIT).expect("exits after Ctrl-C");
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        wait_all_gone(&pids, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
}

/// Issue 17: `cluster up` pointed `runs/latest` at its own folder, so
/// `harness report runs/latest` failed ("not a run folder"). `latest`
/// names the last scenario run only.
#[test]
fn r17_cluster_up_leaves_latest_naming_the_last_run() {
    let tmp = tempfile::tempdir().unwrap();
    let last_run = Path::new("drain/20260101T000000Z");
    std::fs::create_dir_all(tmp.path().join(last_run)).unwrap();
    std::os::unix::fs::symlink(last_run, tmp.path().join("latest")).unwrap();
    let (_guard, printed) = crate::util::cluster_up(&["--nodes", "1"], tmp.path(), LIMIT);
    assert!(
        tmp.path().join("cluster-up").is_dir(),
        "the cluster's folder: {printed:?}"
    );
    assert_eq!(
        std::fs::read_link(tmp.path().join("latest")).unwrap(),
        last_run
    );
}

/// The folder `cluster up` printed ("...; files in DIR").
fn printed_folder(printed: &[String]) -> std::path::PathBuf {
    printed
        .iter()
        .find_map(|l| l.split_once("; files in ").map(|(_, d)| d.into()))
        .unwrap_or_else(|| panic!("no folder in {printed:?}"))
}

/// Issue 17: after Ctrl-C or SIGTERM, `cluster up` left `control.sock` and
/// `pids/` behind, so the target file's kill commands could signal a PID
/// that was no longer a node's. They go, with the key file; the target
/// file stays as the record of the cluster.
#[test]
fn r17_cluster_up_removes_its_socket_and_pid_files_when_stopped() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let tmp = tempfile::tempdir().unwrap();
        let (mut guard, printed) = crate::util::cluster_up(&["--nodes", "1"], tmp.path(), LIMIT);
        let dir = printed_folder(&printed);
        let running = ["control.sock", "pids/n1", "api-key", "target.yaml"];
        for f in running {
            assert!(dir.join(f).exists(), "{signal}: {f} while it runs");
        }
        kill(Pid::from_raw(guard.0.id() as i32), signal).unwrap();
        let status = wait_with_timeout(&mut guard.0, LIMIT).expect("exits after the signal");
        assert_eq!(status.code(), Some(0), "{signal}");
        for f in ["control.sock", "pids", "api-key"] {
            assert!(!dir.join(f).exists(), "{signal}: {f} left behind");
        }
        assert!(dir.join("target.yaml").is_file(), "{signal}");
    }
}

/// Issue 17: the documented recipe (now docs/targets.md) started `cluster up` in the background and
/// read its files at once, before they were there, and a second cluster's
/// folder made its glob match two. `--ready-file` appears, whole, once
/// everything listens, replacing an earlier cluster's, and holds the
/// absolute paths of the target file and the key file (never the key);
/// it goes when the cluster stops.
#[test]
fn r17_cluster_up_hands_over_through_a_ready_file() {
    let tmp = tempfile::tempdir().unwrap();
    let handover = tmp.path().join("handover");
    std::fs::create_dir(&handover).unwrap();
    let ready = handover.join("up.yaml");
    std::fs::write(&ready, "target: /an/earlier/cluster/target.yaml\n").unwrap();
    let mut cmd = harness();
    cmd.args(["cluster", "up", "--nodes", "2", "--out"])
        .arg(tmp.path().join("runs"))
        .arg("--ready-file")
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("stderr")).unwrap());
    let mut guard = ChildGuard(cmd.spawn().unwrap());
    let text = poll(LIMIT, || {
        if let Some(status) = guard.0.try_wait().unwrap() {
            panic!(
                "cluster up ended ({status}): {}",
                std::fs::read_to_string(tmp.path().join("stderr")).unwrap_or_default()
            );
        }
        std::fs::read_to_string(&ready)
            .ok()
            .filter(|t| !t.contains("/an/earlier/"))
    })
    .expect("the ready file in time");
    let up = crate::util::read_ready(&ready);
    for p in [&up.target, &up.api_key_file, &up.dir] {
        assert!(p.is_absolute() && p.exists(), "{p:?} in\n{text}");
    }
    let key = std::fs::read_to_string(&up.api_key_file).unwrap();
    assert!(!text.contains(key.trim()), "the key is in the ready file");
    // Nothing else beside it: the temporary file was renamed into place.
    let beside: Vec<_> = std::fs::read_dir(&handover)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, [std::ffi::OsString::from("up.yaml")]);
    // Everything listens: doctor passes through the target file, run from
    // another folder than the cluster's.
    let mut doctor = harness();
    doctor
        .args(["doctor", "--target"])
        .arg(&up.target)
        .env("HARNESS_API_KEY", key.trim());
    let out = crate::util::run_with_timeout(doctor, LIMIT);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    kill(Pid::from_raw(guard.0.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_with_timeout(&mut guard.0, LIMIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(!ready.exists(), "the ready file outlived the cluster");
}

/// A ready file `cluster up` could not write is refused before anything
/// starts: exit 2, naming it and why.
#[test]
fn a_ready_file_cluster_up_cannot_write_is_exit_2_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-folder/up.yaml");
    for (path, why) in [
        (tmp.path().to_path_buf(), "it is a folder".to_string()),
        (
            missing.clone(),
            format!("there is no folder {}", missing.parent().unwrap().display()),
        ),
    ] {
        let mut cmd = harness();
        cmd.args(["cluster", "up", "--out"])
            .arg(tmp.path().join("runs"))
            .arg("--ready-file")
            .arg(&path);
        let out = crate::util::run_with_timeout(cmd, LIMIT);
        assert_eq!(out.code(), 2, "{}", out.stderr);
        assert_eq!(
            out.stderr.trim(),
            format!(
                "error: failed to use --ready-file {}: {why}",
                path.display()
            )
        );
        assert!(!tmp.path().join("runs").exists(), "something started");
    }
}

/// Direct children of a process, from /proc.
fn child_pids_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")
                        .map(|(_, rest)| rest.split(' ').nth(1) == Some(&parent.to_string()))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Every process started for the harness with this PID: the supervisor
/// marks each (node, LB, HAProxy or nginx) with `HARNESS_PARENT_PID`.
fn children_of_harness(pid: u32) -> Vec<u32> {
    let mark = format!("HARNESS_PARENT_PID={pid}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| alive(*p))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == mark.as_bytes()))
        })
        .collect()
}

/// Kills, when dropped, whatever the harness with this PID started: a
/// failing assertion must not leave the cluster running.
struct KillChildrenOf(u32);

impl Drop for KillChildrenOf {
    fn drop(&mut self) {
        for pid in children_of_harness(self.0) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// The phase a run's history last recorded, or "none".
fn last_phase(history: &Path) -> String {
    std::fs::read_to_string(history)
        .unwrap_or_default()
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "phase")
        .and_then(|v| v["phase"].as_str().map(str::to_string))
        .unwrap_or_else(|| "none".into())
}

#[test]
fn the_harness_killed_at_random_points_in_20_runs_leaves_no_process_and_the_next_run_works() {
    use rand_core::{Rng, SeedableRng};
    // One unit: its short runs took 0.38 cores on average alone, but the
    // kills are timed against a run's phases, which a saturated machine
    // would stretch past them.
    let _share = crate::util::timed();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let scenario = "fixtures/scenarios/kill/every-phase.yaml";
    // A whole run takes about 5 s in the test build. The kills are spread
    // over its first 4.8 s, one at a random point in each 240 ms: they land
    // in boot, warm-up, the workload, heal, settle and the checks.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let mut seen_children = 0;
    let mut phases = std::collections::BTreeSet::new();
    for run in 0..20u64 {
        let at = Duration::from_millis(run * 240 + u64::from(rng.next_u32() % 240));
        let mut cmd = harness();
        cmd.args(["run", scenario, "--out"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut guard = ChildGuard(cmd.spawn().unwrap());
        let pid = guard.0.id();
        let _reap = KillChildrenOf(pid);
        // Note who the harness has started just before the kill.
        let deadline = std::time::Instant::now() + at;
        let mut children = Vec::new();
        while std::time::Instant::now() < deadline {
            for c in children_of_harness(pid) {
                if !children.contains(&c) {
                    children.push(c);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            matches!(guard.0.try_wait(), Ok(None)),
            "run {run} ended before its kill at {at:?}"
        );
        guard.0.kill().unwrap();
        wait_with_timeout(&mut guard.0, LIMIT).expect("reaped");
        seen_children += children.len();
        phases.insert(last_phase(&out.join("latest/history.jsonl")));
        // Found by the mark the harness puts on each process it starts, so
        // a PID another test reuses is not taken for a survivor.
        let gone = poll(Duration::from_secs(10), || {
            children_of_harness(pid).is_empty().then_some(())
        });
        assert!(
            gone.is_some(),
            "run {run}, killed at {at:?}: {:?} survived",
            children_of_harness(pid)
        );
    }
    assert!(
        seen_children > 20,
        "the kills came before any child started"
    );
    assert!(
        phases.len() >= 4,
        "the kills landed in too few phases: {phases:?}"
    );

    // The same output folder still takes a whole run.
    let mut cmd = harness();
    cmd.args(["run", scenario, "--out"]).arg(out);
    let done = crate::util::run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(done.code(), 0, "{}", done.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("latest/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["verdict"], "pass");
}

#[test]
fn a_run_past_its_time_limit_is_stopped_healed_and_reported_as_a_harness_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args([
        "run",
        "fixtures/scenarios/valid/long-pause.yaml",
        "--time-limit",
        "6s",
        "--out",
    ])
    .arg(tmp.path())
    .arg("--json")
    .arg(tmp.path().join("out.json"));
    let started = std::time::Instant::now();
    let done = crate::util::run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(done.code(), 3, "{}", done.stderr);
    assert!(
        done.stderr.contains(
            "the run was stopped (it overran its time limit of 6s); the cluster was healed"
        ),
        "{}",
        done.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );
    let history = tmp.path().join("latest/history.jsonl");
    let pids = child_pids(&history);
    assert!(!pids.is_empty());
    assert_eq!(
        wait_all_gone(&pids, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
    let text = std::fs::read_to_string(&history).unwrap();
    // long-pause pauses n1 from 1s for 50s of its 60s: the stop came in
    // the middle, and the heal phase undid the pause.
    assert!(
        text.contains(r#""kind":"pause","nodes":["n1"],"action":"heal""#),
        "{text}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("latest/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["verdict"], "unknown");
    assert_eq!(report["interrupted"], "it overran its time limit of 6s");
    assert_eq!(report["interrupted_phase"], "workload");
    // Issue 17: --json gets the stopped run's report too.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("out.json")).unwrap())
            .unwrap();
    assert_eq!(json, report);
}

/// What a run stopped with Ctrl-C left: its exit code, the `--json`
/// report, the `--junit` file, and the run folder.
struct Stopped {
    code: Option<i32>,
    json: serde_json::Value,
    junit: String,
    dir: std::path::PathBuf,
}

/// `harness run SCENARIO --json --junit`, sent `signal` (SIGINT is Ctrl-C)
/// `then` after `ready` holds for its run folder (polled for at most
/// [`LIMIT`]).
fn stop_when(
    signal: Signal,
    scenario: &str,
    out: &Path,
    ready: impl Fn(&Path) -> bool,
    then: Duration,
) -> Stopped {
    let (json, junit) = (out.join("out.json"), out.join("junit.xml"));
    let mut cmd = harness();
    cmd.args(["run", scenario, "--out"])
        .arg(out)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out.join("stderr")).unwrap());
    let mut guard = ChildGuard(cmd.spawn().unwrap());
    let _reap = KillChildrenOf(guard.0.id());
    let dir = out.join("latest");
    let seen = poll(LIMIT, || ready(&dir).then_some(()));
    assert!(
        seen.is_some(),
        "the run never got there; it said: {}",
        std::fs::read_to_string(out.join("stderr")).unwrap_or_default()
    );
    std::thread::sleep(then);
    kill(Pid::from_raw(guard.0.id() as i32), signal).unwrap();
    let status = wait_with_timeout(&mut guard.0, Duration::from_secs(60))
        .expect("harness exits after the signal");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Stopped {
        code: status.code(),
        json: serde_json::from_str(&read(&json)).unwrap_or(serde_json::Value::Null),
        junit: read(&junit),
        dir: std::fs::canonicalize(&dir).unwrap(),
    }
}

/// True once the run's history holds `text`.
fn history_has(dir: &Path, text: &str) -> bool {
    std::fs::read_to_string(dir.join("history.jsonl")).is_ok_and(|h| h.contains(text))
}

/// The checks of a report whose verdict is `verdict`, by name.
fn checks_with(report: &serde_json::Value, verdict: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `--json` report of a stopped run is the one in its folder, matches
/// the schema, and the JUnit file has a testcase per check (and one for
/// the run), each undecided check an error that names the interruption.
fn assert_reported_everywhere(s: &Stopped, says: &str) {
    assert_eq!(s.code, Some(3), "an interrupted run is exit 3");
    assert!(s.json.is_object(), "--json got {}", s.json);
    let in_folder: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(s.json, in_folder);
    crate::run::assert_matches_schema(&s.json);
    assert_eq!(s.json["verdict"], "unknown");
    let checks = s.json["checks"].as_array().unwrap().len();
    assert!(checks > 0);
    assert!(
        s.junit.contains(&format!("tests=\"{}\"", checks + 1)),
        "{}",
        s.junit
    );
    let unknown = checks_with(&s.json, "unknown");
    assert!(!unknown.is_empty(), "{}", s.json["checks"]);
    let message = format!("message=\"{says}\"");
    assert_eq!(
        s.junit.matches(&message).count(),
        unknown.len(),
        "{message} on each of {unknown:?}: {}",
        s.junit
    );
    for name in &unknown {
        assert!(
            s.junit.contains(&format!("<testcase name=\"{name}\"")),
            "{}",
            s.junit
        );
    }
}

/// The detail of the check named `name`.
fn detail_of(report: &serde_json::Value, name: &str) -> (String, String) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {}", report["checks"]));
    (
        c["verdict"].as_str().unwrap().to_string(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

/// Issue 17, interrupted runs: Ctrl-C a moment after a pause, long before
/// routes_around_failed_node's bound. The report goes to --json and JUnit
/// as well as the run folder, and the window the interruption cut short is
/// unknown, not a failure of the LB.
#[test]
fn r17_ctrl_c_mid_workload_reports_to_json_and_junit_and_fails_no_cut_window() {
    let tmp = tempfile::tempdir().unwrap();
    let s = stop_when(
        Signal::SIGINT,
        "fixtures/scenarios/interrupt/pause-cut-short.yaml",
        tmp.path(),
        |d| history_has(d, r#""kind":"pause","nodes":["n1"],"action":"inject""#),
        Duration::from_millis(1500),
    );
    assert_reported_everywhere(&s, "interrupted: Ctrl-C during workload");
    assert_eq!(s.json["interrupted"], "Ctrl-C");
    assert_eq!(s.json["interrupted_phase"], "workload");
    assert_eq!(checks_with(&s.json, "fail"), Vec::<String>::new());
    let (verdict, detail) = detail_of(&s.json, "routes_around_failed_node");
    assert_eq!(verdict, "unknown", "{detail}");
    assert!(
        detail.contains("was cut short by the interruption (Ctrl-C during workload)")
            && detail.contains("before its bound of 30.0s elapsed"),
        "{detail}"
    );
    let history = std::fs::read_to_string(s.dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains(r#""event":"interrupted""#) && history.contains(r#""phase":"workload""#),
        "{history}"
    );
}

/// Issue 17, interrupted runs: a drain cut short by SIGTERM two seconds
/// in, while the LB had its 30 s to take the node out, is unknown, not
/// failed.
#[test]
fn r17_a_drain_cut_short_by_sigterm_is_unknown_not_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = stop_when(
        Signal::SIGTERM,
        "fixtures/scenarios/interrupt/drain-cut-short.yaml",
        tmp.path(),
        |d| history_has(d, r#""kind":"drain","nodes":["n2"],"action":"inject""#),
        Duration::from_secs(2),
    );
    assert_reported_everywhere(&s, "interrupted: SIGTERM during workload");
    let (verdict, detail) = detail_of(&s.json, "drain_contract");
    assert_eq!(verdict, "unknown", "{detail}");
    assert!(
        detail.contains("drain-n2 was cut short by the interruption (SIGTERM during workload)"),
        "{detail}"
    );
}

/// Issue 17, interrupted runs: Ctrl-C while the cluster boots still writes
/// a report (unknown, the phase named) to the run folder, --json and JUnit.
#[test]
fn r17_ctrl_c_during_boot_still_reports_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let s = stop_when(
        Signal::SIGINT,
        "fixtures/scenarios/valid/long-pause.yaml",
        tmp.path(),
        |d| history_has(d, r#""phase":"boot""#),
        Duration::ZERO,
    );
    assert_reported_everywhere(&s, "interrupted: Ctrl-C during boot");
    assert_eq!(s.json["interrupted_phase"], "boot");
    let (verdict, detail) = detail_of(&s.json, "availability");
    assert_eq!(verdict, "unknown");
    assert!(
        detail.contains("interrupted (Ctrl-C during boot) before its workload began"),
        "{detail}"
    );
}

/// Issue 17, interrupted runs: an upload in flight at Ctrl-C leaves no
/// partial file in the embedded cluster's storage, the report says it was
/// in flight, and upload_intact is unknown for it.
#[test]
fn r17_an_upload_in_flight_at_ctrl_c_leaves_nothing_and_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = |d: &Path| d.join("cluster/shared-storage/.incoming");
    let parts = |d: &Path| -> Vec<(std::path::PathBuf, u64)> {
        std::fs::read_dir(incoming(d))
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| (e.path(), e.metadata().map_or(0, |m| m.len())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = stop_when(
        Signal::SIGINT,
        "fixtures/scenarios/interrupt/upload-in-flight.yaml",
        tmp.path(),
        |d| parts(d).iter().any(|(_, len)| *len > 0),
        Duration::from_millis(500),
    );
    assert_eq!(parts(&s.dir), Vec::new(), "left in the cluster's storage");
    assert_reported_everywhere(&s, "interrupted: Ctrl-C during workload");
    let in_flight = s.json["uploads_in_flight"].as_array().unwrap();
    assert_eq!(in_flight.len(), 1, "{in_flight:?}");
    assert_eq!(in_flight[0]["seq"], 0);
    let (verdict, detail) = detail_of(&s.json, "upload_intact");
    assert_eq!(verdict, "unknown", "{detail}");
    assert!(
        detail.contains("upload 0 (")
            && detail.contains("was in flight when the run")
            && !detail.contains("no upload was attempted"),
        "{detail}"
    );
}
