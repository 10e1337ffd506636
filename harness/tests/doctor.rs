//! `harness doctor` against a cluster started with `harness cluster up`,
//! which writes a target file for itself: every check passes; with one
//! node frozen by SIGSTOP the preflight fails and names it; a refused key
//! fails `api_key`; the key never appears in any output. Invalid target
//! files give their exact located errors and exit 2.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::{ChildGuard, harness, root, run_with_timeout};

const LIMIT: Duration = Duration::from_secs(30);

/// A `cluster up` in the background, killed (with its nodes) when dropped.
struct ClusterUp {
    _guard: ChildGuard,
    target: PathBuf,
    key: String,
    pids: Vec<(String, u32)>,
    /// Each node's own address, `127.0.0.3:PORT`.
    addresses: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn cluster_up() -> ClusterUp {
    cluster_up_with(&["--nodes", "3"])
}

fn cluster_up_with(args: &[&str]) -> ClusterUp {
    let dir = tempfile::tempdir().unwrap();
    let (guard, printed) = crate::util::cluster_up(args, dir.path(), LIMIT);
    let target = printed
        .iter()
        .find_map(|l| l.strip_prefix("target file: "))
        .map(PathBuf::from)
        .expect("the target file");
    let key = std::fs::read_to_string(target.with_file_name("api-key")).unwrap();
    // "  n2  http://127.0.0.3:PORT pid 1234"
    let pids = printed
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4 && w[2] == "pid").then(|| (w[0].to_string(), w[3].parse().unwrap()))
        })
        .collect();
    let addresses = printed
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let address = w.get(1)?.strip_prefix("http://")?;
            (w.len() >= 4 && w[2] == "pid").then(|| (w[0].to_string(), address.to_string()))
        })
        .collect();
    ClusterUp {
        _guard: guard,
        target,
        key,
        pids,
        addresses,
        _dir: dir,
    }
}

/// The status a node's own ping answers with, or 0 when it does not.
fn own_ping(c: &ClusterUp, node: &str) -> u16 {
    use std::io::{Read, Write};
    let address = &c.addresses.iter().find(|(n, _)| n == node).expect(node).1;
    let Ok(mut s) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(
        b"GET /api/octopusservernodes/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let mut head = [0u8; 12];
    match s.read_exact(&mut head) {
        Ok(()) => String::from_utf8_lossy(&head[9..12]).parse().unwrap_or(0),
        Err(_) => 0,
    }
}

fn doctor(c: &ClusterUp, key: &str, extra: &[&std::ffi::OsStr]) -> crate::util::Output {
    run_with_timeout(doctor_command(c, key, extra), LIMIT)
}

fn doctor_command(c: &ClusterUp, key: &str, extra: &[&std::ffi::OsStr]) -> std::process::Command {
    let mut cmd = harness();
    cmd.arg("doctor")
        .arg("--target")
        .arg(&c.target)
        .args(extra)
        .env("HARNESS_API_KEY", key);
    cmd
}

fn line<'a>(out: &'a str, kind: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(kind))
        .unwrap_or_default()
}

#[test]
fn doctor_passes_on_a_healthy_cluster_and_names_a_frozen_node() {
    let c = cluster_up();
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("doctor.json");
    let junit = out_dir.path().join("doctor.xml");
    let ok = doctor(
        &c,
        &c.key,
        &[
            "--json".as_ref(),
            json.as_os_str(),
            "--junit".as_ref(),
            junit.as_os_str(),
        ],
    );
    assert_eq!(ok.code(), 0, "{}\n{}", ok.stdout, ok.stderr);
    for kind in [
        "ping_direct",
        "ping_via_lb",
        "api_key",
        "same_version",
        "node_list_agrees",
        "lb_spreads",
        "no_unexpected_drain",
        "polling_endpoints",
    ] {
        assert!(
            line(&ok.stdout, kind).trim_start().starts_with("PASS"),
            "{kind}: {}",
            ok.stdout
        );
    }
    assert!(
        line(&ok.stdout, "polling_endpoints").contains("all 3 polling endpoints serve thumbprint")
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["checks"].as_array().unwrap().len(), 8);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites[0].test_cases.len(), 8);

    // A wrong key fails api_key.
    let refused = doctor(&c, "API-WRONGWRONGWRONGWRONGWRONG", &[]);
    assert_eq!(refused.code(), 1);
    assert!(
        line(&refused.stdout, "api_key").contains("was refused (401)"),
        "{}",
        refused.stdout
    );
    // The LB is not blamed for the key: each node's own ping says which
    // node it is, and the LB reached them all.
    assert!(
        line(&refused.stdout, "lb_spreads")
            .trim_start()
            .starts_with("PASS"),
        "{}",
        refused.stdout
    );

    // n2 frozen: it keeps its sockets and answers nothing.
    let n2 = c.pids.iter().find(|(n, _)| n == "n2").expect("n2's pid").1;
    kill(Pid::from_raw(n2 as i32), Signal::SIGSTOP).unwrap();
    // Allowed to disrupt, it still tries no drain on a cluster in doubt.
    let frozen = doctor(&c, &c.key, &["--allow-disruptive".as_ref()]);
    kill(Pid::from_raw(n2 as i32), Signal::SIGCONT).unwrap();
    let trial = line(&frozen.stdout, "lb_honours_drain");
    assert!(
        trial.trim_start().starts_with("UNKNOWN") && trial.contains("not tried: ping_direct"),
        "{}",
        frozen.stdout
    );
    assert_eq!(own_ping(&c, "n3"), 200);
    assert_eq!(frozen.code(), 1, "{}", frozen.stdout);
    let ping = line(&frozen.stdout, "ping_direct");
    assert!(
        ping.trim_start().starts_with("FAIL") && ping.contains("n2 did not answer ping"),
        "{ping}"
    );
    assert!(!ping.contains("n1") && !ping.contains("n3"), "{ping}");
    assert!(
        line(&frozen.stdout, "polling_endpoints").contains("n2"),
        "{}",
        frozen.stdout
    );
    // No output holds either key.
    for text in [
        &ok.stdout,
        &ok.stderr,
        &frozen.stdout,
        &refused.stdout,
        &refused.stderr,
        &xml,
    ] {
        assert!(!text.contains(c.key.trim()), "the key leaked");
        assert!(!text.contains("API-WRONG"), "the wrong key leaked");
    }
    assert!(
        !std::fs::read_to_string(&json)
            .unwrap()
            .contains(c.key.trim())
    );
}

#[test]
fn invalid_target_files_give_their_located_errors_and_exit_2() {
    let dir = root().join("fixtures/targets/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2);
    for f in files {
        let rel = f.strip_prefix(root()).unwrap();
        let mut cmd = harness();
        cmd.arg("doctor")
            .arg("--target")
            .arg(rel)
            .env("OCTOPUS_API_KEY", "x");
        let out = run_with_timeout(cmd, LIMIT);
        assert_eq!(out.code(), 2, "{}", rel.display());
        let expected = std::fs::read_to_string(f.with_extension("expected")).unwrap();
        assert_eq!(out.stderr, expected, "{}", rel.display());
        assert!(!out.stderr.contains("ABCDEFGHIJ") && !out.stderr.contains("hunter2"));
    }
    // The example is valid; without its variable, doctor says which.
    let mut cmd = harness();
    cmd.args(["doctor", "--target", "fixtures/targets/example.yaml"])
        .env_remove("OCTOPUS_API_KEY");
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("api_key_env names OCTOPUS_API_KEY, which is not set"),
        "{}",
        out.stderr
    );
}

fn run_on_example(args: &[&str]) -> crate::util::Output {
    let mut cmd = harness();
    cmd.arg("run")
        .args(args)
        .args(["--target", "fixtures/targets/example.yaml"])
        .env_remove("OCTOPUS_API_KEY");
    run_with_timeout(cmd, LIMIT)
}

#[test]
fn run_on_a_target_checks_nodes_and_commands_and_refuses_disruption() {
    // The shipped failover names n2, which the example target has not.
    let out = run_on_example(&["scenarios/failover.yaml"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("faults[0].kill.node: unknown node \"n2\"; known nodes: octo1, octo2"),
        "{}",
        out.stderr
    );
    // A fault needs the commands to inject and to undo it.
    let out = run_on_example(&["fixtures/targets/scenarios/pause-octo1.yaml"]);
    assert_eq!(out.code(), 2);
    for cmd in ["pause", "resume"] {
        assert!(
            out.stderr.contains(&format!(
                "pause-octo1.yaml:8:5: faults[0].pause: needs the `{cmd}` command of octo1"
            )),
            "{}",
            out.stderr
        );
    }
    // Disruptive steps are listed and refused without --allow-disruptive.
    let out = run_on_example(&[
        "fixtures/targets/scenarios/kill-octo2.yaml",
        "scenarios/upload-1gb.yaml",
    ]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("refusing to disrupt production-ha"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("kill-octo2.yaml: faults[0]: kill of octo2 at 5s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("upload-1gb.yaml: workload[1]: 1 upload(s) of 1.20GiB (over 100MiB)"),
        "{}",
        out.stderr
    );
    // --skip-tags disruptive leaves failover out before it is fitted to
    // the target (it names n2) or refused; throughput fits and is not
    // disruptive, so only the missing key stops the run.
    let out = run_on_example(&[
        "scenarios/failover.yaml",
        "scenarios/throughput.yaml",
        "--skip-tags",
        "disruptive",
    ]);
    assert_eq!(out.code(), 2);
    assert!(!out.stderr.contains("unknown node"), "{}", out.stderr);
    assert!(!out.stderr.contains("refusing"), "{}", out.stderr);
    assert!(
        out.stderr.contains("OCTOPUS_API_KEY, which is not set"),
        "{}",
        out.stderr
    );
    // Allowed, the scenarios fit; without the key nothing is sent (the
    // example's hosts are not on loopback).
    let out = run_on_example(&[
        "fixtures/targets/scenarios/kill-octo2.yaml",
        "--allow-disruptive",
    ]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("api_key_env names OCTOPUS_API_KEY, which is not set or empty"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_allowed_to_disrupt_finds_whether_the_lb_takes_a_drained_node_out_and_always_undrains_it()
{
    // An LB that probes the ping path takes the drained node out.
    let c = cluster_up();
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("doctor.json");
    let ok = doctor(
        &c,
        &c.key,
        &[
            "--allow-disruptive".as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
        ],
    );
    assert_eq!(ok.code(), 0, "{}\n{}", ok.stdout, ok.stderr);
    let honours = line(&ok.stdout, "lb_honours_drain");
    assert!(
        honours.trim_start().starts_with("PASS")
            && honours.contains(
                "drained n3; 20 pings in a row through the LB then came from the other nodes"
            )
            && honours.ends_with("n3 undrained"),
        "{}",
        ok.stdout
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["checks"].as_array().unwrap().len(), 9);
    assert_eq!(own_ping(&c, "n3"), 200);
    drop(c);

    // An LB with passive health checks only (nginx OSS) keeps sending the
    // drained node requests: the check fails, naming what it saw, and the
    // node is undrained all the same.
    let passive = "fixtures/scenarios/valid/drain-lb-passive.yaml";
    let c = cluster_up_with(&["--nodes", "3", "--like", passive]);
    let kept = doctor(
        &c,
        &c.key,
        &[
            "--allow-disruptive".as_ref(),
            "--lb-out-within".as_ref(),
            "2s".as_ref(),
        ],
    );
    assert_eq!(kept.code(), 1, "{}\n{}", kept.stdout, kept.stderr);
    let honours = line(&kept.stdout, "lb_honours_drain");
    assert!(
        honours.trim_start().starts_with("FAIL")
            && honours.contains("a ping through the LB was still answered 418 by n3")
            && honours.contains("keeps a drained node in rotation")
            && honours.ends_with("n3 undrained"),
        "{}",
        kept.stdout
    );
    assert_eq!(own_ping(&c, "n3"), 200);

    // Ctrl-C while n3 is drained: the trial stops, n3 is undrained.
    let mut trial = ChildGuard(
        doctor_command(
            &c,
            &c.key,
            &[
                "--allow-disruptive".as_ref(),
                "--lb-out-within".as_ref(),
                "60s".as_ref(),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap(),
    );
    crate::util::poll(LIMIT, || (own_ping(&c, "n3") == 418).then_some(()))
        .expect("n3 was never drained");
    kill(Pid::from_raw(trial.0.id() as i32), Signal::SIGINT).unwrap();
    let status = crate::util::wait_with_timeout(&mut trial.0, LIMIT).expect("doctor ends");
    assert_eq!(status.code(), Some(1));
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut trial.0.stdout.take().unwrap(), &mut printed).unwrap();
    let honours = line(&printed, "lb_honours_drain");
    assert!(
        honours.trim_start().starts_with("UNKNOWN")
            && honours.contains("stopped before the LB was seen to take n3 out; n3 undrained"),
        "{printed}"
    );
    assert_eq!(own_ping(&c, "n3"), 200);
}
