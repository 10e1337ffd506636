//! The real-target path end to end, without a real Octopus: `harness
//! cluster up --like SCENARIO` runs in the background and writes a target
//! file for itself, whose node commands signal node processes by PID and
//! start them through its control socket. The shipped scenarios then run
//! against it with `--target` and must pass, leave nothing they created
//! behind, and never print the API key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::client::{ApiClient, ApiKey};
use serde_json::Value;

use crate::util::{ChildGuard, harness, poll, run_with_timeout, wait_with_timeout};

/// Boot of `cluster up`.
const BOOT: Duration = Duration::from_secs(30);

/// A whole run, the 1.2 GiB upload on a debug build included.
const RUN: Duration = Duration::from_secs(600);

/// A `cluster up --like scenario` in the background.
pub(crate) struct Up {
    _guard: ChildGuard,
    pub(crate) target: PathBuf,
    pub(crate) key: String,
    pub(crate) lb: String,
    /// Each node's name and own URL.
    pub(crate) nodes: Vec<(String, String)>,
}

fn up_like(scenario: &str, dir: &Path) -> Up {
    up_like_file(&format!("scenarios/{scenario}"), dir, &[])
}

/// As [`up_like`], for any scenario file under the repository, with more
/// `cluster up` arguments.
pub(crate) fn up_like_file(scenario: &str, dir: &Path, more: &[&str]) -> Up {
    // The ready file is written before `cluster up` prints its endpoints,
    // which the helper waits for.
    let ready_file = dir.join("ready.yaml");
    let ready_arg = ready_file.display().to_string();
    let mut args = vec!["--like", scenario, "--ready-file", &ready_arg];
    args.extend(more);
    let (guard, printed) = crate::util::cluster_up(&args, dir, BOOT);
    let ready = crate::util::read_ready(&ready_file);
    let target = ready.target;
    let key = std::fs::read_to_string(&ready.api_key_file)
        .unwrap()
        .trim()
        .to_string();
    let lb = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("lb  "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the LB's URL")
        .to_string();
    // "  n2  http://127.0.0.3:PORT pid 1234"
    let nodes = printed
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4 && w[2] == "pid" && w[0] != "lb")
                .then(|| (w[0].to_string(), w[1].to_string()))
        })
        .collect();
    Up {
        _guard: guard,
        target,
        key,
        lb,
        nodes,
    }
}

/// Starts `cluster up --like scenario`, runs the scenario against it as a
/// real target, and checks the run passed and cleaned up after itself.
/// The cluster's nodes name themselves as a real installation's do, unlike
/// the target file. Returns the report.
fn passes_on_cluster_up(scenario: &str) -> Value {
    passes_on_cluster_up_named(scenario, "host")
}

/// As [`passes_on_cluster_up`], the nodes named as `--node-names` says.
fn passes_on_cluster_up_named(scenario: &str, node_names: &str) -> Value {
    // A gigabyte saturates the machine; a database or storage outage
    // leaves the nodes waiting, bounds nothing tight, and needs no share;
    // the others bound latency.
    let _share = if scenario.starts_with("upload") {
        Some(crate::util::exclusive())
    } else if scenario.starts_with("database") || scenario.starts_with("storage") {
        None
    } else {
        Some(crate::util::latency_bound())
    };
    let dir = tempfile::tempdir().unwrap();
    let file = format!("scenarios/{scenario}");
    let up = up_like_file(&file, dir.path(), &["--node-names", node_names]);
    passes_on_up(&up, &file, dir.path(), node_names == "key")
}

/// Runs the scenario `file` on `up` as a real target, in `dir`, and checks
/// it passed, leaked no key and cleaned up after itself; `named_as_keys`:
/// the cluster's nodes are named as the target file's. Returns the report.
pub(crate) fn passes_on_up(up: &Up, file: &str, dir: &Path, named_as_keys: bool) -> Value {
    let scenario = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file);
    let (target, key) = (&up.target, &up.key);
    // Without --allow-disruptive the run is refused before anything is
    // sent, and the disruptive steps are listed.
    let mut refused = harness();
    refused
        .args(["run", "--target"])
        .arg(target)
        .arg(file)
        .env("HARNESS_API_KEY", key);
    let out = run_with_timeout(refused, Duration::from_secs(30));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("refusing to disrupt cluster-up")
            && out.stderr.contains(&format!("{file}: ")),
        "{}",
        out.stderr
    );
    let json = dir.join("report.json");
    let junit = dir.join("junit.xml");
    let mut cmd = harness();
    cmd.args(["run", "--allow-disruptive", "--target"])
        .arg(target)
        .arg(file)
        .arg("--out")
        .arg(dir.join("runs"))
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("HARNESS_API_KEY", key);
    let out = run_with_timeout(cmd, RUN);
    assert_eq!(
        out.code(),
        0,
        "{scenario} on the real target:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    crate::run::assert_matches_schema(&report);
    assert_eq!(report["target"], "cluster-up");
    assert_eq!(report["verdict"], "pass");
    // Each node is known by the target's name and the cluster's, which
    // differ unless the nodes were named after the target's keys.
    for n in report["nodes"].as_array().expect("nodes") {
        let (name, theirs) = (&n["name"], &n["cluster_name"]);
        assert!(theirs.is_string(), "{n}");
        assert_eq!(name == theirs, named_as_keys, "{n}");
        assert!(n["pings_served"].as_u64() > Some(0), "{n}");
    }
    // The key is in no output, report, history or log of the run.
    let mut texts = vec![out.stdout.clone(), out.stderr.clone()];
    texts.push(std::fs::read_to_string(&junit).unwrap());
    texts.extend(files_under(&dir.join("runs")));
    for t in &texts {
        assert!(!t.contains(key.as_str()), "the API key leaked");
    }
    // Nothing the run created is left in the cluster.
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["clean"], true, "{cleanup}");
    let run_id = cleanup["run_id"].as_str().unwrap().to_string();
    assert_nothing_left(up, &run_id);
    report
}

/// Every file the run wrote, as text.
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    texts
}

/// Asks the cluster itself: no package or machine with the run's ID, no
/// task still queued or running, no node drained; and every node runs,
/// answers its own ping with 200, and is not frozen.
fn assert_nothing_left(up: &Up, run_id: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let api = ApiClient::new(&up.lb, ApiKey::new(up.key.clone())).unwrap();
        let get = |path: &'static str| {
            let api = api.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(10), api.get_json::<Value>(path))
                    .await
                    .expect("in time")
                    .expect("the cluster answers")
            }
        };
        let packages = get("/api/Spaces-1/packages?take=1000").await;
        let machines = get("/api/Spaces-1/machines?take=1000").await;
        let active = get("/api/tasks?states=Queued,Executing,Cancelling&take=1000").await;
        for (what, list) in [("package", &packages), ("machine", &machines)] {
            for item in list["Items"].as_array().expect("a collection") {
                let text = item.to_string();
                assert!(
                    !text.contains(run_id),
                    "a {what} of the run is left: {text}"
                );
            }
        }
        assert_eq!(
            active["Items"].as_array().expect("a collection").len(),
            0,
            "tasks still active: {active}"
        );
        let nodes = get("/api/octopusservernodes?take=100").await;
        for n in nodes["Items"].as_array().expect("a collection") {
            assert_eq!(n["IsInMaintenanceMode"], false, "left drained: {n}");
        }
        assert!(!up.nodes.is_empty());
        for (name, url) in &up.nodes {
            let client = ApiClient::new(url, ApiKey::new(up.key.clone())).unwrap();
            assert_eq!(
                client.ping_status(Duration::from_secs(5)).await,
                Some(200),
                "{name} does not answer its ping with 200"
            );
            let pid: i32 = std::fs::read_to_string(up.target.with_file_name("pids").join(name))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
            assert!(
                matches!(state, Some('S' | 'R' | 'D')),
                "{name} (pid {pid}) is in state {state:?}"
            );
        }
    });
}

#[test]
fn a_database_outage_passes_through_a_real_target_by_its_database_commands() {
    let report = passes_on_cluster_up("database-outage.yaml");
    assert_eq!(report["faults"][0]["name"], "database_outage");
    let checks = report["checks"].as_array().unwrap();
    let survives = checks
        .iter()
        .find(|c| c["kind"] == "survives_database_outage")
        .expect("the check");
    // A real cluster gives no start time, and the detail says so rather
    // than claiming it.
    let detail = survives["detail"].as_str().unwrap();
    assert!(detail.contains("could not be judged"), "{detail}");
}

#[test]
fn a_storage_outage_passes_through_a_real_target_by_its_storage_commands() {
    let report = passes_on_cluster_up("storage-outage.yaml");
    assert_eq!(report["faults"][0]["name"], "storage_outage-n2");
    assert_eq!(
        report["faults"][0]["outcome"], "done",
        "{}",
        report["faults"]
    );
}

/// Through nodes named unlike the target file's keys; a run through
/// nodes named as the keys is the one process of
/// `distributed::failover_at_900_per_second_...`.
#[test]
fn drain_passes_through_a_real_target_and_its_tasks_are_all_ended() {
    let report = passes_on_cluster_up("drain.yaml");
    assert_eq!(report["drains"].as_array().unwrap().len(), 2);
    let tasks = report["cleanup"]["tasks"].as_array().unwrap();
    assert!(
        tasks.len() >= 20,
        "the run's tasks are listed: {}",
        tasks.len()
    );
    assert!(tasks.iter().all(|t| t["state"] == "Success"), "{tasks:?}");
}

#[test]
fn a_gigabyte_upload_passes_through_a_real_target_and_its_package_is_deleted() {
    let report = passes_on_cluster_up("upload-1gb.yaml");
    let packages = report["cleanup"]["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{packages:?}");
    assert_eq!(packages[0]["removed"], true);
    let run_id = report["cleanup"]["run_id"].as_str().unwrap();
    assert!(
        packages[0]["id"].as_str().unwrap().contains(run_id),
        "the package carries the run's ID: {packages:?}"
    );
}

#[test]
fn a_polling_fleet_passes_through_a_real_target_and_its_machines_are_removed() {
    let report = passes_on_cluster_up("polling-fanout.yaml");
    let machines = report["cleanup"]["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 50, "every Tentacle's machine is listed");
    assert!(
        machines.iter().all(|m| m["removed"] == true),
        "{machines:?}"
    );
}

/// Issue 17: with a relative `--out`, `cluster up`'s target file named its
/// PID files relatively (`cat runs/cluster-up/.../pids/n2`), so from any
/// other folder the kill failed, the heal failed, and the summary still
/// showed the kill as done. Its target file and the paths it prints are
/// absolute, and a kill through them works from anywhere.
#[test]
fn r17_cluster_up_s_target_file_works_from_another_folder() {
    let _share = crate::util::latency_bound();
    let tmp = tempfile::tempdir().unwrap();
    let (up_dir, elsewhere) = (tmp.path().join("up"), tmp.path().join("elsewhere"));
    std::fs::create_dir(&up_dir).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let (_guard, printed) =
        crate::util::cluster_up_in(&up_dir, &["--nodes", "3", "--out", "runs"], BOOT);
    let printed_path = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|p| PathBuf::from(p.trim_end_matches(" (not printed)")))
            .unwrap_or_else(|| panic!("no {prefix:?} in {printed:?}"))
    };
    let (target, key_file) = (printed_path("target file: "), printed_path("API key: in "));
    // Found as `cluster up` meant them, whatever they are.
    let key = std::fs::read_to_string(up_dir.join(&key_file))
        .unwrap()
        .trim()
        .to_string();
    let scenario = elsewhere.join("kill.yaml");
    std::fs::write(
        &scenario,
        "name: kill-from-elsewhere\nduration: 5s\nwarmup: 1s\nsettle: 1s\n\
         workload:\n  - api: { rate: 20/s, mix: { ping: 1 }, timeout: 2s }\n\
         faults:\n  - kill: { name: kill-n2, node: n2, at: 1s, for: 2s }\n\
         checks:\n  - recovers: { fault: kill-n2, within: 15s }\n",
    )
    .unwrap();
    let mut cmd = harness();
    cmd.current_dir(&elsewhere)
        .args(["run", "--allow-disruptive", "--out", "runs", "--target"])
        .arg(up_dir.join(&target))
        .arg(&scenario)
        .env("HARNESS_API_KEY", &key);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let said = format!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.code(), 0, "{said}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(elsewhere.join("runs/latest/report.json")).unwrap(),
    )
    .unwrap();
    crate::run::assert_matches_schema(&report);
    let fault = &report["faults"][0];
    assert_eq!(
        (fault["name"].as_str(), fault["outcome"].as_str()),
        (Some("kill-n2"), Some("done")),
        "{fault}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.ends_with("kill-n2 kill on n2"))
            && out.stdout.lines().any(|l| l.ends_with("kill-n2 undone")),
        "{said}"
    );
    assert!(
        target.is_absolute() && key_file.is_absolute(),
        "printed {target:?} and {key_file:?}"
    );
    // Every command names its files by absolute paths: `cat '/...'` for a
    // PID, `cluster start '/...'` for the control socket's folder.
    let folder = format!(
        "'{}/",
        up_dir
            .canonicalize()
            .unwrap()
            .join("runs/cluster-up")
            .display()
    );
    let file = harness::target::load(&target).unwrap();
    for n in &file.nodes {
        let c = &n.value.commands;
        for cmd in [&c.kill, &c.stop, &c.start] {
            let cmd = &cmd.as_ref().expect("a command").value;
            assert!(cmd.contains(&folder), "{folder} in {cmd:?}");
        }
    }
}

/// Starts `harness run --target` of a scenario file in the background and
/// waits until its history holds every marker; gives the run and its
/// history's text.
fn run_until(
    up: &Up,
    scenario: &str,
    runs: &Path,
    markers: &[&str],
    within: Duration,
) -> (ChildGuard, String) {
    let mut cmd = harness();
    cmd.args(["run", "--allow-disruptive", "--target"])
        .arg(&up.target)
        .arg(scenario)
        .arg("--out")
        .arg(runs)
        .env("HARNESS_API_KEY", &up.key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let run = ChildGuard(cmd.spawn().unwrap());
    let history = runs.join("latest").join("history.jsonl");
    let text = poll(within, || {
        let text = std::fs::read_to_string(&history).ok()?;
        markers.iter().all(|m| text.contains(m)).then_some(text)
    })
    .unwrap_or_else(|| panic!("{markers:?} never all appeared in the history"));
    (run, text)
}

/// Runs `scenario` against `up` as a real target, sends SIGINT once its
/// history contains every one of `markers` (within `within`), and gives the
/// report of the
/// interrupted run, after checking it exited 3 and says it was interrupted.
fn interrupted_run(up: &Up, scenario: &str, markers: &[&str], within: Duration) -> Value {
    interrupted_run_of(up, &format!("scenarios/{scenario}"), markers, within)
}

/// As [`interrupted_run`], for any scenario file under the repository.
fn interrupted_run_of(up: &Up, scenario: &str, markers: &[&str], within: Duration) -> Value {
    let runs = up.target.with_file_name("runs-interrupted");
    let (mut run, _) = run_until(up, scenario, &runs, markers, within);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_with_timeout(&mut run.0, Duration::from_secs(120)).expect("it ends");
    assert_eq!(status.code(), Some(3), "an interrupted run exits 3");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(runs.join("latest").join("report.json")).unwrap(),
    )
    .unwrap();
    assert!(
        report["interrupted"].is_string(),
        "{}",
        report["interrupted"]
    );
    report
}

#[test]
fn an_interrupted_run_heals_the_target_and_cancels_its_tasks() {
    let _share = crate::util::latency_bound();
    let dir = tempfile::tempdir().unwrap();
    let up = up_like("drain.yaml", dir.path());
    // Ctrl-C while n1 is drained for its maintenance, with tasks running.
    let report = interrupted_run(
        &up,
        "drain.yaml",
        &["maintain-n1", "\"Executing\""],
        Duration::from_secs(60),
    );
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["clean"], true, "{cleanup}");
    let tasks = cleanup["tasks"].as_array().unwrap();
    assert!(
        tasks.iter().any(|t| t["canceled_by_run"] == true),
        "the unfinished tasks were canceled: {tasks:?}"
    );
    assert_nothing_left(&up, cleanup["run_id"].as_str().unwrap());
}

#[test]
fn an_upload_interrupted_while_it_is_read_back_is_still_deleted() {
    let _exclusive = crate::util::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let up = up_like("upload-1gb.yaml", dir.path());
    // Ctrl-C once the read-back through the nodes has begun.
    let report = interrupted_run(
        &up,
        "upload-1gb.yaml",
        &["\"package_read\""],
        Duration::from_secs(300),
    );
    let cleanup = &report["cleanup"];
    assert_eq!(
        cleanup["packages"].as_array().unwrap().len(),
        1,
        "{cleanup}"
    );
    assert_eq!(cleanup["clean"], true, "{cleanup}");
    let left_clean = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "left_clean")
        .expect("left_clean is judged");
    assert_eq!(left_clean["verdict"], "pass", "{left_clean}");
    assert_nothing_left(&up, cleanup["run_id"].as_str().unwrap());
}

/// What `harness cleanup --dry-run` says a run left: packages, tasks and
/// machines.
fn left_by(up: &Up, run_id: &str) -> (u32, u32, u32) {
    let mut cmd = harness();
    cmd.args(["cleanup", "--dry-run", "--run-id", run_id, "--target"])
        .arg(&up.target)
        .env("HARNESS_API_KEY", &up.key);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    // "run ID left N packages, N unfinished tasks, N machines on NAME"
    let line = out.stdout.lines().next().unwrap_or_default().to_string();
    let counts = line.split_once(" left ").map_or("", |(_, c)| c);
    let n: Vec<u32> = counts
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 3, "{line}");
    (n[0], n[1], n[2])
}

#[test]
fn cleanup_by_run_id_removes_what_a_killed_run_left_on_a_real_target() {
    let _exclusive = crate::util::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let scenario = "fixtures/scenarios/kill/left-behind.yaml";
    let up = up_like_file(scenario, dir.path(), &[]);
    // Killed once its package is in, its tasks are submitted and its fleet
    // is registered: nothing of that is removed by the run.
    let (mut run, history) = run_until(
        &up,
        scenario,
        &dir.path().join("runs"),
        &[
            r#""class":"accepted""#,
            r#""event":"fleet""#,
            r#""event":"task_submitted","seq":2"#,
        ],
        Duration::from_secs(60),
    );
    run.0.kill().unwrap();
    wait_with_timeout(&mut run.0, Duration::from_secs(10)).expect("reaped");
    let run_id = history
        .lines()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["event"] == "run_started").then(|| v["run_id"].as_str().map(str::to_string))?
        })
        .expect("the run's ID");

    let (packages, tasks, machines) = left_by(&up, &run_id);
    assert!(
        packages >= 1 && tasks >= 1 && machines == 2,
        "{packages} {tasks} {machines}"
    );
    // Another run's ID finds nothing of it.
    assert_eq!(left_by(&up, "00000000"), (0, 0, 0));

    let mut cmd = harness();
    cmd.args(["cleanup", "--run-id", &run_id, "--target"])
        .arg(&up.target)
        .env("HARNESS_API_KEY", &up.key);
    let done = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(done.code(), 0, "{}{}", done.stdout, done.stderr);
    assert!(
        done.stdout
            .contains("removed package packages-HarnessProbe."),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("(canceled)"), "{}", done.stdout);
    assert!(!done.stdout.contains(&up.key) && !done.stderr.contains(&up.key));
    assert_eq!(left_by(&up, &run_id), (0, 0, 0));

    // Checked through the API too: no package of the run, no task of it
    // still running, no machine.
    let api = ApiClient::new(&up.lb, ApiKey::new(up.key.clone())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (packages, machines, tasks): (Value, Value, Value) = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            (
                api.get_json("/api/Spaces-1/packages?take=1000")
                    .await
                    .unwrap(),
                api.get_json("/api/Spaces-1/machines?take=1000")
                    .await
                    .unwrap(),
                api.get_json("/api/tasks?states=Queued,Executing,Cancelling&take=1000")
                    .await
                    .unwrap(),
            )
        })
        .await
        .unwrap()
    });
    let text = format!("{packages}{machines}{tasks}");
    assert!(!text.contains(&run_id), "{text}");
    // The run's tasks are all there, ended: three canceled.
    let all: Value = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            api.get_json("/api/tasks?take=1000"),
        )
        .await
        .unwrap()
        .unwrap()
    });
    let canceled = all["Items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["Description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("harness run {run_id},")))
                && t["State"] == "Canceled"
        })
        .count();
    assert_eq!(canceled, 3, "{all}");

    // A bad run ID is refused before anything is sent.
    let mut cmd = harness();
    cmd.args(["cleanup", "--run-id", "../x", "--target"])
        .arg(&up.target)
        .env("HARNESS_API_KEY", &up.key);
    let bad = run_with_timeout(cmd, Duration::from_secs(20));
    assert_eq!(bad.code(), 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("not a run ID"), "{}", bad.stderr);
}

/// Issue 20: the capacity search through `cluster up`'s target file. It
/// is refused without `--allow-disruptive`, which lists its drains; with
/// it, it measures three node counts by drains and undrains every node at
/// its end; and a Ctrl-C while two nodes are drained undrains both.
#[test]
fn a_capacity_search_through_a_real_target_undrains_every_node_at_its_end_and_on_ctrl_c() {
    // Rates far under the knee: latency matters, the whole machine not.
    let _share = crate::util::latency_bound();
    let dir = tempfile::tempdir().unwrap();
    let scenario = "fixtures/scenarios/search/through-target.yaml";
    let up = up_like_file(scenario, dir.path(), &[]);
    let mut refused = harness();
    refused
        .args(["run", "--target"])
        .arg(&up.target)
        .arg(scenario)
        .env("HARNESS_API_KEY", &up.key);
    let out = run_with_timeout(refused, Duration::from_secs(30));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("capacity: drains 2 node(s), one at a time, undone at the end"),
        "{}",
        out.stderr
    );
    let mut cmd = harness();
    cmd.args(["run", "--allow-disruptive", "--target"])
        .arg(&up.target)
        .arg(scenario)
        .arg("--out")
        .arg(dir.path().join("runs"))
        .env("HARNESS_API_KEY", &up.key);
    let out = run_with_timeout(cmd, RUN);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/latest/report.json")).unwrap(),
    )
    .unwrap();
    // Every search at every node count, in order.
    let searches = report["capacity"].as_array().unwrap();
    let kinds: Vec<&str> = searches
        .iter()
        .map(|c| c["search"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["api", "tasks", "uploads"]);
    for search in searches {
        let levels = search["levels"].as_array().unwrap();
        let nodes: Vec<u64> = levels
            .iter()
            .map(|l| l["nodes"].as_u64().unwrap())
            .collect();
        assert_eq!(nodes, [3, 2, 1], "{search}");
        assert!(
            levels
                .iter()
                .all(|l| l["error"].is_null() && l["sustained"].is_number()),
            "{search}"
        );
    }
    let verdicts: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("sustains", "pass"),
            ("tasks-sustained", "pass"),
            ("uploads-sustained", "pass"),
            ("left_clean", "pass")
        ]
    );
    // The task steps' tasks carry the run's ID, so cleanup finds them.
    assert!(
        report["cleanup"]["tasks"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{}",
        report["cleanup"]
    );
    // And the upload steps' packages, which it deleted step by step (but
    // those cut mid-body, never stored).
    let packages = report["cleanup"]["packages"].as_array().unwrap();
    assert!(
        packages.iter().filter(|p| p["removed"] == true).count() >= 6
            && packages
                .iter()
                .all(|p| p["removed"] == true || p["outcome"] == "never_stored"),
        "{}",
        report["cleanup"]
    );
    assert_nothing_left(&up, report["cleanup"]["run_id"].as_str().unwrap());
    // Ctrl-C in the first task step: its tasks are canceled, not left
    // queued in the cluster.
    let report = interrupted_run_of(
        &up,
        scenario,
        &["\"event\":\"task_submitted\""],
        Duration::from_secs(120),
    );
    assert_eq!(report["cleanup"]["clean"], true, "{}", report["cleanup"]);
    assert_nothing_left(&up, report["cleanup"]["run_id"].as_str().unwrap());
    // Ctrl-C once the first drain is under way (this run's history
    // replaces the last one's, which never got that far).
    let report = interrupted_run_of(
        &up,
        scenario,
        &["\"name\":\"capacity-drain-n3\""],
        Duration::from_secs(120),
    );
    assert_eq!(report["cleanup"]["clean"], true, "{}", report["cleanup"]);
    assert_nothing_left(&up, report["cleanup"]["run_id"].as_str().unwrap());
}
