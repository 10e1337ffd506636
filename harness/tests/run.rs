//! `harness run` end to end, as a user runs it: the shipped scenarios pass
//! with every report written, and each fixture of a misconfigured cluster
//! fails the check that exists to catch it.

use std::time::Duration;

use serde_json::Value;

use crate::util::{alive, child_pids, harness, run_with_timeout};

/// A bound against a hang: the README shows failover.yaml done in about
/// 30 s.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs a scenario into `out` and checks the exit code, showing both
/// streams when it is wrong.
fn run_scenario(
    scenario: &str,
    out: &std::path::Path,
    extra: &[&std::ffi::OsStr],
    code: i32,
) -> crate::util::Output {
    let mut cmd = harness();
    cmd.args(["run", scenario, "--out"]).arg(out).args(extra);
    let result = run_with_timeout(cmd, LIMIT);
    assert_eq!(
        result.code(),
        code,
        "stdout:\n{}\nstderr:\n{}",
        result.stdout,
        result.stderr
    );
    result
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn failover_passes_and_writes_every_report() {
    let _share = crate::util::latency_bound();
    let tmp = tempfile::tempdir().unwrap();
    let json_path = tmp.path().join("report.json");
    let junit_path = tmp.path().join("junit.xml");
    let out = run_scenario(
        "scenarios/failover.yaml",
        &tmp.path().join("runs"),
        &[
            "--seed".as_ref(),
            "42".as_ref(),
            "--json".as_ref(),
            json_path.as_os_str(),
            "--junit".as_ref(),
            junit_path.as_os_str(),
        ],
        0,
    );
    assert!(out.stdout.contains("verdict: PASS"), "{}", out.stdout);
    assert!(out.stdout.contains("seed 42"), "{}", out.stdout);

    let run_dir = tmp.path().join("runs/latest");
    let report = read_json(&run_dir.join("report.json"));
    assert_eq!(report, read_json(&json_path));
    assert_matches_schema(&report);

    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["seed"], 42);
    assert!(report["nodes"].as_array().unwrap().len() >= 3);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5, "four declared, and left_clean");
    assert!(checks.iter().all(|c| c["verdict"] == "pass"), "{checks:?}");
    assert!(report["metrics"]["requests"].as_u64().unwrap() > 1000);
    assert!(report["metrics"]["rps"].as_f64().unwrap() > 250.0);
    assert!(report["metrics"]["latency_ms"]["p99"].as_f64().unwrap() > 0.0);

    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(history.lines().any(|l| l.contains(r#""event":"fault""#)
        && l.contains(r#""kind":"kill""#)
        && l.contains(r#""action":"inject""#)));

    let junit = std::fs::read_to_string(&junit_path).unwrap();
    assert!(
        junit.contains(r#"<testsuite name="failover" tests="5""#),
        "{junit}"
    );
    assert!(!junit.contains("<failure"), "{junit}");

    // The run folder re-renders to the same verdict.
    let mut cmd = harness();
    cmd.arg("report").arg(&run_dir);
    let again = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(again.code(), 0, "{}", again.stderr);
    assert!(again.stdout.contains("verdict: PASS"));

    // No API key (API- and 26 capitals or digits) in anything the run
    // printed or wrote.
    assert!(!contains_api_key(out.stdout.as_bytes()) && !contains_api_key(out.stderr.as_bytes()));
    for file in files_under(&tmp.path().join("runs")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains_api_key(&bytes),
            "{} holds an API key",
            file.display()
        );
    }

    // Nothing of the cluster is left.
    let pids = child_pids(&run_dir.join("history.jsonl"));
    assert!(pids.len() >= 5, "{pids:?}");
    assert!(pids.iter().all(|p| !alive(*p)), "survivors among {pids:?}");
}

#[test]
fn a_lb_without_health_checks_fails_routes_around_failed_node() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario(
        "fixtures/scenarios/valid/failover-lb-no-health-check.yaml",
        tmp.path(),
        &[],
        1,
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("routes_around_failed_node"))
        .unwrap_or_default();
    assert!(line.trim_start().starts_with("FAIL"), "{}", out.stdout);
    // The node as the scenario names it, and as the cluster does.
    assert!(
        line.contains("kept sending requests to n2 (OCTO-HA-02)"),
        "{line}"
    );
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_eq!(report["verdict"], "fail");
    let check = find(&report["checks"], "kind", "routes_around_failed_node");
    assert_eq!(check["verdict"], "fail");
}

#[test]
fn a_restart_under_load_stays_inside_its_fault_window_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    run_scenario("fixtures/scenarios/valid/restart.yaml", tmp.path(), &[], 0);
    let report = read_json(&tmp.path().join("latest/report.json"));
    let faults = report["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1);
    // Undone as soon as the new process answers.
    let held = faults[0]["end_s"].as_f64().unwrap() - faults[0]["start_s"].as_f64().unwrap();
    assert!(held < 1.0, "the restart held {held}s");
    assert_eq!(find(&report["nodes"], "name", "n2")["starts"], 2);
}

#[test]
fn the_drain_scenario_keeps_the_drain_contract_and_reports_each_step() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario("scenarios/drain.yaml", tmp.path(), &[], 0);
    assert!(out.stdout.contains("verdict: PASS"), "{}", out.stdout);
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_matches_schema(&report);
    for kind in [
        "drain_contract",
        "exactly_once",
        "task_cap",
        "shared_storage",
    ] {
        assert_eq!(find(&report["checks"], "kind", kind)["verdict"], "pass");
    }
    // Each maintenance, in order: drain, 418, out of the LB, idle,
    // restart, undrain, 200, back in the LB.
    let drains = report["drains"].as_array().unwrap();
    assert_eq!(drains.len(), 2, "{drains:?}");
    for d in drains {
        let steps: Vec<&str> = d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["idle", "restart"], "{d}");
        let times: Vec<f64> = [
            &d["drained_s"],
            &d["ping_418_s"],
            &d["lb_out_s"],
            &d["steps"][0]["at_s"],
            &d["steps"][1]["at_s"],
            &d["undrained_s"],
            &d["ping_200_s"],
            &d["lb_in_s"],
        ]
        .iter()
        .map(|t| {
            t.as_f64()
                .unwrap_or_else(|| panic!("a step is missing: {d}"))
        })
        .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }
    let tasks = &report["tasks"];
    assert!(tasks["submitted"].as_u64().unwrap() >= 50, "{tasks}");
    assert_eq!(tasks["submit_failures"], 0);
    // Task logs, shared storage and drain requests are output too: no
    // API key in any of it.
    assert!(!contains_api_key(out.stdout.as_bytes()) && !contains_api_key(out.stderr.as_bytes()));
    for file in files_under(tmp.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains_api_key(&bytes),
            "{} holds an API key",
            file.display()
        );
    }
}

#[test]
fn the_tasks_scenario_reports_distribution_and_pick_up_latency() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario("scenarios/tasks.yaml", tmp.path(), &[], 0);
    assert!(out.stdout.contains("pick-up latency"), "{}", out.stdout);
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_matches_schema(&report);
    let tasks = &report["tasks"];
    assert_eq!(tasks["submitted"], 200);
    assert_eq!(tasks["by_state"]["Success"], 200);
    let by_node = tasks["by_node"].as_object().unwrap();
    assert_eq!(by_node.len(), 3, "every node took work: {by_node:?}");
    assert_eq!(
        by_node.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        200
    );
    assert!(tasks["pickup_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(tasks["throughput_per_s"].as_f64().unwrap() > 0.0);
    let cap = find(&report["checks"], "kind", "task_cap");
    assert_eq!(cap["verdict"], "pass", "{cap}");
}

/// A fixture that must fail one check: exit 1, the check named FAIL, and
/// its detail says what happened.
fn fails_with(fixture: &str, kind: &str, says: &str) -> Value {
    fails_with_args(fixture, &[], kind, says)
}

/// Runs a fixture that must fail `kind` with a detail that `says`; gives
/// the report.
fn fails_with_args(fixture: &str, args: &[&str], kind: &str, says: &str) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let out = run_scenario(fixture, tmp.path(), &args, 1);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(kind))
        .unwrap_or_default();
    assert!(line.trim_start().starts_with("FAIL"), "{}", out.stdout);
    assert!(line.contains(says), "{line}");
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_eq!(find(&report["checks"], "kind", kind)["verdict"], "fail");
    report
}

#[test]
fn an_lb_that_accepts_418_fails_the_drain_contract() {
    fails_with(
        "fixtures/scenarios/valid/drain-lb-accepts-4xx.yaml",
        "drain_contract",
        "LB kept routing to drained node n1 (OCTO-HA-01) for the whole maintenance",
    );
}

#[test]
fn an_lb_with_passive_checks_only_fails_the_drain_contract() {
    fails_with(
        "fixtures/scenarios/valid/drain-lb-passive.yaml",
        "drain_contract",
        "LB kept routing to drained node n1 (OCTO-HA-01) for the whole maintenance",
    );
}

#[test]
fn racy_claims_fail_exactly_once() {
    fails_with(
        "fixtures/scenarios/valid/tasks-racy-claim.yaml",
        "exactly_once",
        "ran more than once",
    );
}

#[test]
fn task_logs_in_a_folder_per_node_fail_shared_storage() {
    fails_with(
        "fixtures/scenarios/valid/tasks-per-node-storage.yaml",
        "shared_storage",
        "differs between nodes",
    );
}

#[test]
fn a_kill_mid_task_cancels_the_tasks_without_running_them_again() {
    let tmp = tempfile::tempdir().unwrap();
    run_scenario(
        "fixtures/scenarios/valid/orphaned-tasks.yaml",
        tmp.path(),
        &[],
        0,
    );
    let report = read_json(&tmp.path().join("latest/report.json"));
    let check = find(&report["checks"], "kind", "orphaned_tasks");
    assert_eq!(check["verdict"], "pass", "{check}");
    assert!(report["tasks"]["by_state"]["Canceled"].as_u64().unwrap() >= 1);
}

#[test]
fn a_gigabyte_upload_through_the_lb_reads_back_intact_on_every_node() {
    let _exclusive = crate::util::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario("scenarios/upload-1gb.yaml", tmp.path(), &[], 0);
    assert!(out.stdout.contains("verdict: PASS"), "{}", out.stdout);
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_matches_schema(&report);
    let uploads = report["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    let u = &uploads[0];
    assert_eq!(u["class"], "accepted");
    assert!(u["size"].as_u64().unwrap() >= 1_200 << 20, "{u}");
    assert_eq!(u["intact_on"], serde_json::json!(["n1", "n2", "n3"]));
    assert_eq!(u["deleted"], true);
    // Deleted means gone: no package file is left in shared storage.
    let packages = tmp.path().join("latest/cluster/shared-storage/Packages");
    let left: Vec<_> = std::fs::read_dir(&packages)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Whether a real LB is installed; when it is not, the test says it was
/// skipped and why (.ci/run installs both).
fn installed(program: &str) -> bool {
    let found = [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ]
    .iter()
    .any(|d| std::path::Path::new(d).join(program).is_file());
    if !found {
        eprintln!("skipped: {program} is not installed (apt-get install {program}; .ci/run does)");
    }
    found
}

#[test]
fn a_gigabyte_upload_passes_through_real_haproxy_and_nginx() {
    let _exclusive = crate::util::exclusive();
    for lb in ["haproxy", "nginx"] {
        if !installed(lb) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = run_scenario(
            "scenarios/upload-1gb.yaml",
            tmp.path(),
            &["--lb".as_ref(), lb.as_ref()],
            0,
        );
        assert!(out.stdout.contains("verdict: PASS"), "{lb}: {}", out.stdout);
        let report = read_json(&tmp.path().join("latest/report.json"));
        assert_eq!(
            report["uploads"][0]["intact_on"],
            serde_json::json!(["n1", "n2", "n3"])
        );
        // The real LB was a child of the run, and is gone with it.
        let pids = child_pids(&tmp.path().join("latest/history.jsonl"));
        assert!(
            pids.iter().all(|p| !alive(*p)),
            "{lb}: survivors among {pids:?}"
        );
    }
}

#[test]
fn real_nginx_with_its_default_body_limit_refuses_the_upload_with_413() {
    if installed("nginx") {
        fails_with(
            "fixtures/scenarios/valid/upload-nginx-default.yaml",
            "upload_intact",
            "rejected as too large (status 413",
        );
    }
}

#[test]
fn real_haproxy_with_a_short_timeout_server_cuts_a_slow_node_with_504() {
    if installed("haproxy") {
        fails_with(
            "fixtures/scenarios/valid/upload-haproxy-short-timeout-server.yaml",
            "upload_intact",
            "timed out (status 504",
        );
    }
}

#[test]
fn a_node_killed_mid_upload_fails_cleanly_and_the_retry_lands_on_the_survivor() {
    let tmp = tempfile::tempdir().unwrap();
    run_scenario(
        "fixtures/scenarios/valid/upload-node-killed-mid-stream.yaml",
        tmp.path(),
        &[],
        0,
    );
    let run = tmp.path().join("latest");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let attempts: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "upload")
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    // Cut cleanly: the connection reset, or the LB's 502 for the node that
    // went away, whichever reaches the client first.
    let first = &attempts[0];
    assert!(
        first["class"] == "reset" || first["status"] == 502,
        "{attempts:?}"
    );
    assert!(first["bytes_sent"].as_u64().unwrap() < first["size"].as_u64().unwrap());
    assert_eq!(attempts[1]["class"], "accepted", "{attempts:?}");
    // Before the retry the harness asked whether the package had arrived.
    assert!(
        history
            .lines()
            .any(|l| l.contains(r#""kind":"after_failure""#))
    );
    let report = read_json(&run.join("report.json"));
    assert_eq!(
        report["uploads"][0]["intact_on"],
        serde_json::json!(["n1", "n2"])
    );
    // No partial upload and no package left in shared storage.
    for sub in [".incoming", "Packages"] {
        let dir = run.join("cluster/shared-storage").join(sub);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

#[test]
fn an_lb_response_timeout_after_the_body_cuts_a_slow_node_with_504() {
    fails_with(
        "fixtures/scenarios/valid/upload-lb-response-timeout.yaml",
        "upload_intact",
        "timed out (status 504: gateway timeout (no response in time)",
    );
}

#[test]
fn a_slow_upload_is_cut_by_a_body_read_timeout_with_408() {
    fails_with(
        "fixtures/scenarios/valid/slow-upload-body-read-timeout.yaml",
        "upload_intact",
        "timed out (status 408",
    );
}

#[test]
fn the_ladder_finds_nginx_default_body_limit_and_says_so() {
    fails_with(
        "fixtures/scenarios/valid/ladder-nginx-default.yaml",
        "ladder_reaches",
        "refused 1.0 MiB: rejected as too large (status 413",
    );
}

#[test]
fn an_lb_with_nginx_default_limits_refuses_the_upload_with_413() {
    let report = fails_with(
        "fixtures/scenarios/valid/upload-lb-nginx-default-limits.yaml",
        "upload_intact",
        "rejected as too large (status 413",
    );
    // Refused before it was stored: the client saw it fail too, and the LB
    // said so on its own.
    let answered = find(&report["checks"], "kind", "upload_answered");
    assert_eq!(answered["verdict"], "fail", "{answered}");
    let detail = answered["detail"].as_str().unwrap();
    for want in [
        "answered 413",
        "from the LB, the built-in LB (Server: harness-lb",
        "the package did not arrive",
        "client_max_body_size",
    ] {
        assert!(detail.contains(want), "{want:?} not in {detail}");
    }
    // Never stored, and said so: not "removed".
    let package = &report["cleanup"]["packages"][0];
    assert_eq!(package["outcome"], "never_stored", "{package}");
    assert_eq!(package["removed"], false, "{package}");
    assert_eq!(report["cleanup"]["clean"], true);
}

const STORED_THEN_504: &str = "fixtures/scenarios/valid/upload-stored-then-lb-timeout.yaml";

/// What the stored-then-504 fixture must show through any LB: the client
/// saw a 504 from the LB after its last byte, naming the LB and its setting
/// as `says`, though the package arrived intact.
fn stored_then_504(args: &[&str], says: &[&str]) {
    let report = fails_with_args(
        STORED_THEN_504,
        args,
        "upload_answered",
        "attempt 1 of 1 answered 504",
    );
    let answered = find(&report["checks"], "kind", "upload_answered");
    let detail = answered["detail"].as_str().unwrap();
    for want in [
        "s after its last byte from the LB, ",
        "yet the package was stored (found intact after the failure)",
        "HAProxy `timeout server`, the AWS ALB idle timeout (60s), nginx `proxy_read_timeout` (60s), IIS/ARR's proxy timeout",
    ]
    .iter()
    .chain(says)
    {
        assert!(detail.contains(want), "{args:?}: {want:?} not in {detail}");
    }
    let failed = &answered["evidence"]["failed"][0];
    assert_eq!(failed["answered_by"], "lb", "{failed}");
    let after = failed["after_last_byte_s"].as_f64().unwrap();
    assert!((0.4..3.0).contains(&after), "{failed}");
    // Integrity is upload_intact's verdict, and the bytes did arrive.
    let intact = find(&report["checks"], "kind", "upload_intact");
    assert_eq!(intact["verdict"], "pass", "{intact}");
    // Stored, then deleted, and gone at the run's last look.
    let package = &report["cleanup"]["packages"][0];
    assert_eq!(package["outcome"], "removed", "{package}");
    assert_matches_schema(&report);
}

#[test]
fn a_package_stored_before_the_lb_answers_504_fails_upload_answered() {
    // It bounds when the LB answers, as the test below: with no share, in
    // CI, the node had not stored the package when the LB gave up, so the
    // run tried again ("attempt 1 of 2").
    let _share = crate::util::latency_bound();
    stored_then_504(
        &[],
        &[
            "the built-in LB (Server: harness-lb; not Octopus's JSON): \"gateway timeout (no response in time)\"",
            "its response timeout (`lb.backend_timeout`",
        ],
    );
}

#[test]
fn real_haproxy_and_nginx_answering_504_for_a_stored_package_fail_upload_answered() {
    // Two 4 MiB uploads: it bounds when the LB answers (0.4 s to 3 s
    // after the last byte), and computes little.
    let _share = crate::util::latency_bound();
    for (lb, setting) in [
        ("haproxy", "HAProxy's `timeout server` is shorter"),
        ("nginx", "nginx's `proxy_read_timeout` is shorter"),
    ] {
        if installed(lb) {
            stored_then_504(&["--lb", lb], &[setting]);
        }
    }
}

#[test]
fn an_alb_idle_timeout_cuts_a_slow_node_with_504() {
    fails_with(
        "fixtures/scenarios/valid/upload-alb-slow-node.yaml",
        "upload_intact",
        "timed out (status 504",
    );
}

pub fn assert_matches_schema(report: &Value) {
    let schema = read_json(&crate::util::root().join("harness/schemas/report.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "report.json does not match its schema: {errors:?}"
    );
}

/// The element of a JSON array whose `key` is `value`.
fn find<'a>(array: &'a Value, key: &str, value: &str) -> &'a Value {
    let items = array.as_array().expect("an array");
    items
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {array}"))
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains_api_key(bytes: &[u8]) -> bool {
    bytes.windows(30).any(|w| {
        w.starts_with(b"API-")
            && w[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// A shipped polling scenario passes every check, and the report shows
/// the whole fleet on every node and every health check reaching it.
fn polling_scenario_passes(scenario: &str) {
    let tmp = tempfile::tempdir().unwrap();
    run_scenario(scenario, tmp.path(), &[], 0);
    let report = read_json(&tmp.path().join("latest/report.json"));
    assert_matches_schema(&report);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 6, "five declared, and left_clean");
    assert!(checks.iter().all(|c| c["verdict"] == "pass"), "{checks:?}");
    let polling = &report["polling"];
    assert_eq!(polling["tentacles"], 50);
    for n in polling["nodes"].as_array().unwrap() {
        assert_eq!(n["tentacles_connected"], 50, "{n}");
        // Two rounds of 50 machines each.
        assert_eq!(
            (n["health_ok"].as_u64(), n["health_failed"].as_u64()),
            (Some(100), Some(0)),
            "{n}"
        );
    }
    let storm = &find(&report["checks"], "kind", "reconnect_storm")["evidence"]["restarts"][0];
    assert_eq!(storm["node"], "n2");
    // Halibut waits at least 5s after a connection drops before it tries
    // again.
    let back =
        storm["node_up_s"].as_f64().unwrap() + storm["time_to_full_fan_out_s"].as_f64().unwrap();
    assert!(
        back - storm["first_drop_s"].as_f64().unwrap() >= 5.0,
        "{storm}"
    );
}

#[test]
fn the_polling_fan_out_scenario_passes_with_unique_addresses() {
    polling_scenario_passes("scenarios/polling-fanout.yaml");
}

#[test]
fn the_polling_scenario_passes_through_the_lb_unique_ports() {
    polling_scenario_passes("scenarios/polling-unique-port.yaml");
}

#[test]
fn a_fleet_that_polls_only_the_lb_fails_and_names_the_unreachable_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario(
        "fixtures/scenarios/valid/polling-fleet-polls-lb.yaml",
        tmp.path(),
        &[],
        1,
    );
    let line = |kind: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(kind))
            .unwrap_or_default()
            .trim_start()
            .to_string()
    };
    let reach = line("every_node_reaches_every_tentacle");
    assert!(reach.starts_with("FAIL"), "{}", out.stdout);
    for node in ["n1", "n2", "n3"] {
        assert!(
            reach.contains(&format!("{node} could not reach")),
            "{reach}"
        );
    }
    assert!(
        reach.contains("did not collect the request within the allowed time (00:00:04)"),
        "{reach}"
    );
    let fan_out = line("polling_fan_out");
    assert!(fan_out.starts_with("FAIL"), "{fan_out}");
    assert!(
        fan_out.contains("60 of 60 Tentacle–node pairs"),
        "{fan_out}"
    );
    assert!(fan_out.contains("tentacle-0001↔n1"), "{fan_out}");
    // The certificate is right: the LB passes TCP through; the fault is
    // where the fleet polls.
    assert!(
        line("polling_certificate").starts_with("PASS"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_unique_port_layout_passes_through_real_haproxy_in_tcp_mode() {
    if !installed("haproxy") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario(
        "scenarios/polling-unique-port.yaml",
        tmp.path(),
        &["--lb".as_ref(), "haproxy".as_ref()],
        0,
    );
    assert!(out.stdout.contains("verdict: PASS"), "{}", out.stdout);
    // HAProxy's configuration passes each node's polling port through.
    let cfg = std::fs::read_to_string(tmp.path().join("latest/cluster/lb/haproxy.cfg")).unwrap();
    assert_eq!(cfg.matches("mode tcp").count(), 4, "{cfg}");
}

#[test]
fn nginx_cannot_carry_per_node_polling_ports_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario(
        "scenarios/polling-unique-port.yaml",
        tmp.path(),
        &["--lb".as_ref(), "nginx".as_ref()],
        2,
    );
    // The error points at the layout's value in the file.
    let text =
        std::fs::read_to_string(crate::util::root().join("scenarios/polling-unique-port.yaml"))
            .unwrap();
    let line = text
        .lines()
        .position(|l| l.trim() == "layout: unique_port")
        .unwrap()
        + 1;
    let at = format!("scenarios/polling-unique-port.yaml:{line}:13: cluster.polling.layout");
    assert!(out.stderr.contains(&at), "{}", out.stderr);
}

#[test]
fn a_fleet_that_polls_one_node_fails_on_the_other_nodes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_scenario(
        "fixtures/scenarios/valid/polling-fleet-polls-one-node.yaml",
        tmp.path(),
        &[],
        1,
    );
    let reach = out
        .stdout
        .lines()
        .find(|l| l.contains("every_node_reaches_every_tentacle"))
        .unwrap_or_default();
    assert!(reach.trim_start().starts_with("FAIL"), "{}", out.stdout);
    assert!(reach.contains("n2 could not reach 20 of 20"), "{reach}");
    assert!(reach.contains("n3 could not reach 20 of 20"), "{reach}");
    assert!(!reach.contains("n1 could not"), "{reach}");
    let report = read_json(&tmp.path().join("latest/report.json"));
    let nodes = report["polling"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["health_ok"], 20, "{nodes:?}");
    assert_eq!(nodes[1]["health_failed"], 20, "{nodes:?}");
}

#[test]
fn a_suite_selected_by_tags_writes_one_junit_file_a_consumer_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let mut cmd = harness();
    cmd.args(["run", "--tags", "nightly", "--out"])
        .arg(tmp.path().join("runs"))
        .arg("--junit")
        .arg(&junit)
        .args([
            "fixtures/scenarios/suite/quick-nightly-disruptive.yaml",
            "fixtures/scenarios/suite/quick-nightly.yaml",
            "fixtures/scenarios/suite/quick-weekly.yaml",
        ]);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("skipped: fixtures/scenarios/suite/quick-weekly.yaml (not tagged nightly)"),
        "{}",
        out.stderr
    );
    // One file, one testsuite per scenario that ran, read back by a JUnit
    // library.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    let suites: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["quick-nightly-disruptive", "quick-nightly"]);
    for s in &parsed.test_suites {
        // The declared check, and left_clean.
        assert_eq!(s.test_cases.len(), 2, "{}", s.name.as_str());
        assert_eq!(s.failures, 0, "{}", s.name.as_str());
    }

    // --skip-tags leaves the disruptive one out; nothing selected is an
    // error, not a pass.
    let mut cmd = harness();
    cmd.args([
        "run",
        "--tags",
        "nightly",
        "--skip-tags",
        "disruptive,nightly",
        "--out",
    ])
    .arg(tmp.path().join("runs"))
    .arg("fixtures/scenarios/suite/quick-nightly.yaml");
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no scenario is selected by --tags and --skip-tags"),
        "{}",
        out.stderr
    );
    let mut cmd = harness();
    cmd.args([
        "run",
        "--tags",
        "Nightly!",
        "fixtures/scenarios/suite/quick-nightly.yaml",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"Nightly!\" is not a tag"),
        "{}",
        out.stderr
    );
}
