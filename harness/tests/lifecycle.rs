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
    let _one = crate::util::exclusive();
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
    .arg(tmp.path());
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
}
