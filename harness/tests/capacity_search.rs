//! The capacity search end to end: on the embedded cluster it finds the
//! knee of three nodes, of two and of one, by drains it undoes; and a
//! generator held to a sliver of a CPU says it was the limit, never the
//! cluster (issue 20). The search through `cluster up`'s target file,
//! ended and interrupted, is in `real_target`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{harness, run_with_timeout};

/// A bound against a hang: the search below takes about 20 s on a debug
/// build.
const LIMIT: Duration = Duration::from_secs(300);

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_search_of_three_nodes_finds_each_knee_by_drains_it_undoes() {
    // The generator must not share its cores with another test's load,
    // or its steps would be generator-bound; nor with the containers',
    // which no share counts.
    let _alone = crate::util::measuring();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args(["run", "fixtures/scenarios/search/three-nodes.yaml", "--out"])
        .arg(tmp.path().join("runs"));
    let out = run_with_timeout(cmd, LIMIT);
    if out.code() == 3 && out.stderr.contains("needs a CPU quota") {
        eprintln!(
            "skipped: the nodes' twentieth of a CPU needs a writable cgroup: {}",
            out.stderr
        );
        return;
    }
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let run = tmp.path().join("runs/latest");
    let report = read(&run.join("report.json"));
    crate::run::assert_matches_schema(&report);
    let cap = &report["capacity"][0];
    let levels = cap["levels"].as_array().unwrap();
    let nodes: Vec<u64> = levels
        .iter()
        .map(|l| l["nodes"].as_u64().unwrap())
        .collect();
    assert_eq!(nodes, [3, 2, 1], "{cap}");
    let mut capacities = Vec::new();
    for level in levels {
        // Each knee found, bracketed to the scenario's 15%, by steps the
        // generator kept up with.
        let (Some(lo), Some(hi)) = (level["capacity"].as_f64(), level["missed"].as_f64()) else {
            panic!("no knee at {} nodes: {}", level["nodes"], level["limit"]);
        };
        assert!((hi - lo) / lo <= 0.15 + 1e-9, "{level}");
        assert_eq!(level["generator_bound"], false, "{level}");
        capacities.push(lo);
    }
    // Three nodes against one: a step's p99 is one sample of a noisy
    // machine, so neighbouring counts may tie within the 15% resolution,
    // but a third of the nodes never sustains as much.
    assert!(
        capacities[0] > capacities[2] && capacities[1] > capacities[2],
        "fewer nodes sustain less: {capacities:?}"
    );
    assert_eq!(levels[1]["drained"], serde_json::json!(["n3"]));
    assert_eq!(levels[2]["drained"], serde_json::json!(["n3", "n2"]));
    // The conclusion states each figure the levels hold.
    let conclusion = cap["conclusion"].as_str().unwrap();
    assert!(conclusion.starts_with("3 nodes sustain "), "{conclusion}");
    assert!(
        conclusion.contains("with one drained, ") && conclusion.contains("with two drained, "),
        "{conclusion}"
    );
    assert!(
        out.stdout.contains(&format!("conclusion: {conclusion}")),
        "{}",
        out.stdout
    );
    // Three node counts: a law, or the reason there is none.
    assert!(
        cap["fit"].is_object() || cap["fit_error"].is_string(),
        "{cap}"
    );
    drains_made_and_undone(&run, &["n3", "n2"]);
    crate::util::assert_chromium_draws(&run.join("report.html"), tmp.path(), 5);
}

/// Each drain of the search was made, confirmed and undone: its node
/// answered 418, then 200 again at the end.
fn drains_made_and_undone(run: &Path, nodes: &[&str]) {
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let events: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for node in nodes {
        let name = format!("capacity-drain-{node}");
        let actions: Vec<(&str, bool)> = events
            .iter()
            .filter(|e| e["event"] == "fault" && e["name"] == name.as_str())
            .map(|e| (e["action"].as_str().unwrap(), e["error"].is_null()))
            .collect();
        assert_eq!(actions, [("inject", true), ("heal", true)], "{name}");
        let statuses: Vec<u64> = events
            .iter()
            .filter(|e| e["event"] == "node_status" && e["node"] == *node)
            .filter_map(|e| e["status"].as_u64())
            .collect();
        assert!(
            statuses.contains(&418) && statuses.last() == Some(&200),
            "{node}: {statuses:?}"
        );
    }
}

#[test]
fn a_task_search_finds_the_knee_of_the_task_caps_with_every_node_and_one_drained() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args(["run", "fixtures/scenarios/search/tasks.yaml", "--out"])
        .arg(tmp.path().join("runs"));
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let run = tmp.path().join("runs/latest");
    let report = read(&run.join("report.json"));
    crate::run::assert_matches_schema(&report);
    let searches = report["capacity"].as_array().unwrap();
    assert_eq!(searches.len(), 1, "{searches:?}");
    let cap = &searches[0];
    assert_eq!(
        (&cap["search"], &cap["unit"], &cap["measure"]),
        (
            &Value::from("tasks"),
            &Value::from("tasks/s"),
            &Value::from("pick-up")
        )
    );
    let levels = cap["levels"].as_array().unwrap();
    let knee = |i: usize| {
        let level = &levels[i];
        let (Some(lo), Some(hi)) = (level["capacity"].as_f64(), level["missed"].as_f64()) else {
            panic!("no knee at {} nodes: {}", level["nodes"], level["limit"]);
        };
        assert!((hi - lo) / lo <= 0.15 + 1e-9, "{level}");
        lo
    };
    // Two nodes of two slots each, 200ms tasks: at most 20 a second; one
    // node at most 10. Their looks at the queue every 50ms cost a little,
    // and a busy machine more, so the knees are bounds, not figures.
    let (two, one) = (knee(0), knee(1));
    assert!((10.0..=20.0).contains(&two), "two nodes: {two}");
    assert!((5.0..=10.0).contains(&one), "one node: {one}");
    assert!(two > one, "{two} against {one}");
    assert_eq!(levels[1]["drained"], serde_json::json!(["n2"]));
    let conclusion = cap["conclusion"].as_str().unwrap();
    assert!(conclusion.starts_with("2 nodes sustain "), "{conclusion}");
    assert!(
        conclusion.contains(" tasks/s at pick-up p99 < 500ms"),
        "{conclusion}"
    );
    assert!(
        out.stdout.contains(&format!("conclusion: {conclusion}")),
        "{}",
        out.stdout
    );
    // A missed step names what broke: the pick-up past its bound.
    let missed = levels[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verdict"] == "missed")
        .unwrap();
    assert!(
        missed["why"].as_str().unwrap().starts_with("pick-up p99 "),
        "{missed}"
    );
    let sustains = crate::util::check_of(&report, "sustains");
    assert_eq!(sustains["verdict"], "pass", "{sustains}");
    drains_made_and_undone(&run, &["n2"]);
    // The tasks left by each step were canceled: nothing runs on after.
    let left_clean = crate::util::check_of(&report, "left_clean");
    assert_eq!(left_clean["verdict"], "pass", "{left_clean}");
}

/// `cmd`, run inside the cgroup of `limits`: the child joins it before it
/// execs, so every thread of it is held.
fn held_to(
    cmd: &std::process::Command,
    limits: &reference_cluster::cpu::CpuLimits,
) -> Option<std::process::Command> {
    let Some(reference_cluster::cpu::CpuPlacement::Cgroup(dir)) = limits.placement(0) else {
        return None;
    };
    let mut held = std::process::Command::new("sh");
    held.arg("-c")
        .arg("echo $$ > \"$1/cgroup.procs\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(dir)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            held.env(k, v);
        }
    }
    if let Some(cwd) = cmd.get_current_dir() {
        held.current_dir(cwd);
    }
    Some(held)
}

#[test]
fn a_starved_generator_is_reported_generator_bound_and_never_as_a_capacity() {
    let _share = crate::util::latency_bound();
    const CORES: f64 = 0.05;
    let limits = match reference_cluster::cpu::CpuLimits::prepare(CORES, 1) {
        Ok(l)
            if matches!(
                l.placement(0),
                Some(reference_cluster::cpu::CpuPlacement::Cgroup(_))
            ) =>
        {
            l
        }
        other => {
            eprintln!(
                "skipped: holding the harness to {CORES} CPU needs a writable cgroup: {:?}",
                other.err()
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    // The cluster runs apart, unheld; only the generator is starved.
    let up =
        crate::real_target::up_like_file("fixtures/scenarios/search/starved.yaml", dir.path(), &[]);
    let run = |scenario: &str, runs: &str| {
        let mut cmd = harness();
        cmd.args(["run", "--allow-disruptive", "--target"])
            .arg(&up.target)
            .arg(scenario)
            .arg("--out")
            .arg(dir.path().join(runs))
            .env("HARNESS_API_KEY", &up.key);
        let held = held_to(&cmd, &limits).unwrap();
        let out = run_with_timeout(held, LIMIT);
        let report = read(&dir.path().join(runs).join("latest/report.json"));
        (out, report)
    };
    let (out, report) = run("fixtures/scenarios/search/starved.yaml", "search");
    let level = &report["capacity"][0]["levels"][0];
    assert_eq!(level["generator_bound"], true, "{}\n{level}", out.stderr);
    assert!(level["capacity"].is_null(), "{level}");
    let bound = level["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verdict"] == "generator_bound")
        .expect("a generator-bound step");
    assert!(bound["generator"]["bound"].is_string(), "{bound}");
    let cpus = bound["generator"]["cpus"].as_f64().unwrap();
    assert!(
        (cpus - CORES).abs() < 1e-6,
        "the generator knew its quota: {cpus}"
    );
    let conclusion = report["capacity"][0]["conclusion"].as_str().unwrap();
    assert!(
        conclusion.contains("the generator's ceiling"),
        "{conclusion}"
    );
    assert!(out.stdout.contains("GENERATOR-BOUND"), "{}", out.stdout);
    // Its check cannot say the cluster sustains a rate the generator
    // could not offer, nor that it does not.
    let sustains = crate::util::check_of(&report, "sustains");
    assert_eq!(sustains["verdict"], "unknown", "{sustains}");
    // An ordinary run says so too.
    let (out, report) = run("fixtures/scenarios/search/starved-api.yaml", "api");
    let generator = &report["generator"];
    assert!(generator["bound"].is_string(), "{generator}");
    assert!(
        out.stdout.contains("\ngenerator: fell behind ("),
        "{}",
        out.stdout
    );
}

#[test]
fn an_upload_search_finds_how_many_uploads_at_once_and_deletes_every_package_even_on_ctrl_c() {
    // The whole machine: the search loads the cluster until uploads
    // take over 1 s, which saturates both cores. With one unit, the
    // containers' failover beside it once failed availability (5.99%,
    // over failover.yaml's 5%): HAProxy's health checks in its containers,
    // which no quota holds, took the whole 5 s bound to see n2 gone.
    let _share = crate::util::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let scenario = "fixtures/scenarios/search/uploads.yaml";
    let mut cmd = harness();
    cmd.args(["run", scenario, "--out"])
        .arg(tmp.path().join("runs"));
    let out = run_with_timeout(cmd, LIMIT);
    if out.code() == 3 && out.stderr.contains("needs a CPU quota") {
        eprintln!(
            "skipped: the nodes' tenth of a CPU needs a writable cgroup: {}",
            out.stderr
        );
        return;
    }
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let report = read(&tmp.path().join("runs/latest/report.json"));
    crate::run::assert_matches_schema(&report);
    let cap = &report["capacity"][0];
    assert_eq!(
        (&cap["search"], &cap["unit"], &cap["measure"]),
        (
            &Value::from("uploads"),
            &Value::from("uploads at once"),
            &Value::from("duration")
        )
    );
    let level = &cap["levels"][0];
    let (Some(lo), Some(hi)) = (level["capacity"].as_f64(), level["missed"].as_f64()) else {
        panic!("no knee: {}", level["limit"]);
    };
    // Whole uploads at once, bracketed to the resolution or to neighbours.
    assert_eq!(lo.fract(), 0.0, "{level}");
    assert!(hi - lo <= 1.0 || (hi - lo) / lo <= 0.25, "{level}");
    assert!((4.0..64.0).contains(&lo), "{level}");
    let steps = level["steps"].as_array().unwrap();
    for s in steps {
        // A step met judged uploads that got through; past the knee, on a
        // busy machine, an uploader's upload may outlast the hold.
        if s["verdict"] == "met" {
            assert!(s["requests"].as_u64().unwrap() > 0, "{s}");
            assert!(s["achieved"].as_f64().unwrap() > 0.0, "MiB/s through: {s}");
        }
        // Nothing scheduled, so no send lag: the generator is judged by
        // its CPU.
        assert!(s["generator"]["cpu_share"].is_number(), "{s}");
    }
    let missed = steps
        .iter()
        .find(|s| s["offered"].as_f64() == Some(hi) && s["verdict"] == "missed")
        .expect("the missed step");
    let why = missed["why"].as_str().unwrap();
    assert!(
        (why.starts_with("duration p99 ") && why.contains("not under 1s"))
            || why == "no upload started within the hold",
        "{why}"
    );
    let conclusion = cap["conclusion"].as_str().unwrap();
    assert!(
        conclusion.starts_with(&format!(
            "2 nodes sustain {lo} uploads at once at 8MiB each"
        )),
        "{conclusion}"
    );
    // The step's own line tells its hundreds of uploads, not a line each.
    assert!(
        !out.stderr.contains("upload HarnessProbe"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("capacity: uploads at 2 nodes, 4 at once offered")
    );
    // Every package removed, but those the steps cut mid-body once their
    // own uploads had ended, which were never stored: the clean-up looked
    // for each.
    let cleanup = &report["cleanup"];
    let packages = cleanup["packages"].as_array().unwrap();
    let removed = packages.iter().filter(|p| p["removed"] == true).count();
    assert!(removed > steps.len(), "{cleanup}");
    assert!(
        packages
            .iter()
            .all(|p| p["removed"] == true || p["outcome"] == "never_stored"),
        "{cleanup}"
    );
    assert_eq!(cleanup["clean"], true, "{cleanup}");

    // Ctrl-C in the second step: its uploads are cut and every package
    // made so far is deleted all the same.
    let runs = tmp.path().join("interrupted");
    let mut cmd = harness();
    cmd.args(["run", scenario, "--out"])
        .arg(&runs)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut run = crate::util::ChildGuard(cmd.spawn().unwrap());
    let history = runs.join("latest/history.jsonl");
    crate::util::poll(Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&history).ok()?;
        // The first step recorded, and the second's uploads under way.
        let after = text.split_once("\"event\":\"capacity_step\"")?.1;
        after.contains("\"event\":\"upload_started\"").then_some(())
    })
    .expect("the second step never started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = crate::util::wait_with_timeout(&mut run.0, Duration::from_secs(120))
        .expect("the interrupted run ends");
    assert_eq!(status.code(), Some(3));
    let report = read(&runs.join("latest/report.json"));
    assert!(
        report["interrupted"].is_string(),
        "{}",
        report["interrupted"]
    );
    let cleanup = &report["cleanup"];
    let outcomes: Vec<&str> = cleanup["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["outcome"].as_str().unwrap())
        .collect();
    // The first step's packages removed; the second's, cut mid-body,
    // never stored: the clean-up looked for each.
    assert!(outcomes.contains(&"removed"), "{cleanup}");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == "removed" || *o == "never_stored"),
        "{cleanup}"
    );
    assert_eq!(cleanup["clean"], true, "{cleanup}");
}
