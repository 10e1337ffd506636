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
