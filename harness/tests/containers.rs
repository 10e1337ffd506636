//! The containerized target. Without an engine `containers up` exits 3 at
//! once and says where it looked; with a fake daemon that answers its
//! ping, the next problem (no licence for an HA cluster of real images) is
//! named with exit 2.
//!
//! Where an engine answers (Docker, or Podman's API, which .ci/run
//! starts), the stand-in cluster runs for real: three reference-node
//! containers, HAProxy and the polling gateway on networks of their own,
//! `doctor`, failover.yaml and drain.yaml through its target file, a
//! partition from the LB routed around and one from the Tentacles caught,
//! Ctrl-C during a run and during `containers up`, and nothing of any
//! cluster left in the engine afterwards, asked through its API. Real images without a
//! registry fail at the pull and leave nothing. Without an engine these
//! say they were skipped and why. The real Octopus images run only where
//! a licence is given and HARNESS_CONTAINER_TESTS=1 asks for them.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::util::{ChildGuard, harness, run_with_timeout, wait_with_timeout};

const LIMIT: Duration = Duration::from_secs(30);

/// From `containers up` to its target file: building the stand-ins
/// (the debug binary is over 100 MB) and starting four containers.
const UP: Duration = Duration::from_secs(240);

/// One test at a time drives the engine: an image build beside a
/// running cluster's scenario (failover's p99 bound) would stall it.
static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The engine to this test alone, and the machine's uncapped-load guard
/// (util.rs): its containers' CPU has no quota.
fn engine_to_myself() -> (std::sync::MutexGuard<'static, ()>, crate::util::Uncapped) {
    let engine = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    (engine, crate::util::uncapped_load())
}

/// Says something past the test harness's output capture, so CI's log
/// shows it.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Why there is no engine to run containers on, if there is none.
fn no_engine() -> Option<String> {
    runtime()
        .block_on(harness::containers::docker_answers())
        .err()
}

/// The names of the engine's containers, networks and volumes that
/// start with `prefix`, asked through its API.
fn left_in_engine(prefix: &str) -> Vec<String> {
    runtime().block_on(async {
        let docker = harness::containers::connect().unwrap();
        let mut left = Vec::new();
        let all =
            testcontainers::bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .build();
        for c in docker.list_containers(Some(all)).await.unwrap() {
            for name in c.names.unwrap_or_default() {
                left.push(format!("container {}", name.trim_start_matches('/')));
            }
        }
        let networks = docker
            .list_networks(None::<testcontainers::bollard::query_parameters::ListNetworksOptions>)
            .await
            .unwrap();
        left.extend(
            networks
                .into_iter()
                .filter_map(|n| n.name)
                .map(|n| format!("network {n}")),
        );
        let volumes = docker
            .list_volumes(None::<testcontainers::bollard::query_parameters::ListVolumesOptions>)
            .await
            .unwrap();
        left.extend(
            volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| format!("volume {}", v.name)),
        );
        left.retain(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with(prefix))
        });
        left
    })
}

/// Every port the engine publishes for containers named `prefix...`, as
/// (container, host address).
fn published(prefix: &str) -> Vec<(String, String)> {
    runtime().block_on(async {
        let docker = harness::containers::connect().unwrap();
        let all =
            testcontainers::bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .build();
        let mut out = Vec::new();
        for c in docker.list_containers(Some(all)).await.unwrap() {
            let name = c.names.unwrap_or_default().join(",");
            if !name.trim_start_matches('/').starts_with(prefix) {
                continue;
            }
            for p in c.ports.unwrap_or_default() {
                if p.public_port.is_some() {
                    out.push((name.clone(), p.ip.unwrap_or_default()));
                }
            }
        }
        out
    })
}

/// The address of container `name` on `network`, as the engine says.
fn address(name: &str, network: &str) -> String {
    runtime().block_on(async {
        let docker = harness::containers::connect().unwrap();
        let c = docker
            .inspect_container(
                name,
                None::<testcontainers::bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .unwrap();
        c.network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(network).and_then(|e| e.ip_address.clone()))
            .unwrap_or_default()
    })
}

/// A `containers up` in the background. Dropped, it is sent Ctrl-C and
/// reaped (killed if it does not end), and whatever of its cluster is
/// still in the engine is removed, so a failed test leaves nothing.
struct Up {
    child: ChildGuard,
    lines: Receiver<String>,
    /// `harness-<id>`: the network's name, and every container's and
    /// volume's prefix.
    network: String,
}

impl Up {
    fn start(dir: &Path, args: &[&str]) -> Up {
        let mut cmd = harness();
        cmd.args(["containers", "up", "--out"])
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = ChildGuard(cmd.spawn().unwrap());
        let stdout = child.0.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap_or_default();
                say(&format!("containers up: {line}"));
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(LIMIT).expect("containers up starts");
        let network = first
            .split("(network ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("the network in {first:?}"))
            .to_string();
        Up {
            child,
            lines,
            network,
        }
    }

    /// Waits for a line starting `prefix`; gives the rest of it.
    fn wait_for(&self, prefix: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("containers up printed no {prefix:?} within {limit:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
        }
    }

    /// Sends Ctrl-C and waits for the exit code.
    fn interrupt(&mut self) -> Option<i32> {
        let _ = kill(Pid::from_raw(self.child.0.id() as i32), Signal::SIGINT);
        wait_with_timeout(&mut self.child.0, Duration::from_secs(120)).and_then(|s| s.code())
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.child.0.try_wait().ok().flatten().is_none() {
            let _ = self.interrupt();
        }
        // What a failed test's cluster left, removed as the harness does.
        let _ = runtime().block_on(harness::containers::sweep(&self.network));
    }
}

/// Runs a scenario through the cluster's target file; gives the exit code
/// and report.
fn run_through(target: &Path, key: &str, scenario: &str, dir: &Path) -> (i32, Value, String) {
    let json = dir.join(format!("{}.json", scenario.replace('/', "-")));
    let mut run = harness();
    run.args(["run", "--allow-disruptive", "--target"])
        .arg(target)
        .arg(scenario)
        .arg("--out")
        .arg(dir.join("runs"))
        .arg("--json")
        .arg(&json)
        .env("HARNESS_API_KEY", key);
    let out = run_with_timeout(run, Duration::from_secs(300));
    say(&format!(
        "{scenario} through the containers:\n{}",
        out.stdout
    ));
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        out.code(),
        report,
        format!("{}\n{}", out.stdout, out.stderr),
    )
}

#[test]
fn without_a_docker_daemon_containers_up_exits_3_and_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let mut cmd = harness();
    cmd.args(["containers", "up", "--out"])
        .arg(dir.path())
        .env("DOCKER_HOST", format!("unix://{}", socket.display()));
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "no Docker daemon answers at unix://{}",
            socket.display()
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("DOCKER_HOST"), "{}", out.stderr);
    // Nothing was started or written.
    assert!(!dir.path().join("containers-up").exists());
}

#[test]
fn with_a_daemon_an_ha_cluster_without_a_licence_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    // A daemon that answers its ping and nothing else.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(false).unwrap();
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            s.set_read_timeout(Some(LIMIT)).unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
        }
    });
    let mut cmd = harness();
    cmd.args(["containers", "up", "--nodes", "2", "--out"])
        .arg(dir.path())
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env_remove("OCTOPUS_LICENSE_BASE64");
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("a cluster of 2 nodes needs an Octopus HA licence: put it, base64, in OCTOPUS_LICENSE_BASE64 (or run --stand-ins)"),
        "{}",
        out.stderr
    );
    server.join().unwrap();
}

#[test]
fn a_stand_in_cluster_in_containers_passes_doctor_failover_drain_and_partitions_and_leaves_nothing()
{
    if let Some(why) = no_engine() {
        return say(&format!("skipped: stand-in containers: {why}"));
    }
    // The image build, the containers and their load use CPU that no
    // quota caps: the capacity search's knees must not be measured beside
    // them, nor another test's image build run beside this one's failover.
    let _engine = engine_to_myself();
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        &[
            "--stand-ins",
            "--nodes",
            "3",
            "--like",
            "scenarios/drain.yaml",
        ],
    );
    let target = PathBuf::from(up.wait_for("target file: ", UP));
    let key = std::fs::read_to_string(target.with_file_name("api-key")).unwrap();
    let key = key.trim();
    let before = left_in_engine(&up.network);
    say(&format!("in the engine: {before:?}"));
    for c in ["octo1", "octo2", "octo3", "lb", "polling"] {
        let name = format!("container {}-{c}", up.network);
        assert!(before.contains(&name), "{name} not in {before:?}");
    }
    assert!(
        before.contains(&format!("network {}", up.network)),
        "{before:?}"
    );
    assert!(
        before.contains(&format!("volume {}-database", up.network)),
        "{before:?}"
    );

    // Published on loopback only: the LB, each node's API, and each
    // node's polling port on the gateway.
    let ports = published(&up.network);
    assert_eq!(ports.len(), 1 + 3 + 3, "{ports:?}");
    assert!(ports.iter().all(|(_, ip)| ip == "127.0.0.1"), "{ports:?}");

    let mut doctor = harness();
    doctor
        .args(["doctor", "--target"])
        .arg(&target)
        .env("HARNESS_API_KEY", key);
    let out = run_with_timeout(doctor, Duration::from_secs(60));
    say(&format!("doctor on the containers:\n{}", out.stdout));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    // The nodes' Names and Ids are learned, not the target file's keys.
    assert!(
        out.stdout.contains("n2 is octo2 (OctopusServerNodes-"),
        "{}",
        out.stdout
    );

    // A kill through `docker kill`, routed around; the restarted
    // container found again by HAProxy through the network's DNS, at the
    // new address an engine may give it.
    let lb_network = format!("{}-lb", up.network);
    let n2 = format!("{}-octo2", up.network);
    let before = address(&n2, &lb_network);
    // The whole machine for failover.yaml's p99 bound of 100 ms: with one
    // unit, beside another test's run and the suite's first tests, its
    // p99 came to 659 ms.
    let (code, report, said) = {
        let _share = crate::util::exclusive();
        run_through(&target, key, "scenarios/failover.yaml", dir.path())
    };
    assert_eq!(code, 0, "{said}");
    let verdict = |r: &Value, check: &str| {
        crate::util::check_of(r, check)["verdict"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    for check in ["routes_around_failed_node", "recovers", "availability"] {
        assert_eq!(verdict(&report, check), "pass", "{check}: {said}");
    }
    assert!(said.contains("kill-n2 kill on n2"), "{said}");
    say(&format!(
        "n2 on the LB's network: {before} before the kill, {} after its restart",
        address(&n2, &lb_network)
    ));

    // Drains and restarts through the API and `docker stop`/`start`.
    // One unit: with none, beside a test that had the whole machine, six
    // requests timed out (p99 2.5 s) and failed availability.
    let (code, report, said) = {
        let _share = crate::util::latency_bound();
        run_through(&target, key, "scenarios/drain.yaml", dir.path())
    };
    assert_eq!(code, 0, "{said}");
    assert_eq!(verdict(&report, "drain_contract"), "pass", "{said}");

    // n2 cut off from the LB by `docker network disconnect`, still
    // running: routed around, and taken back once joined again.
    let (code, report, said) = {
        let _share = crate::util::exclusive();
        run_through(
            &target,
            key,
            "fixtures/targets/scenarios/partition-lb.yaml",
            dir.path(),
        )
    };
    assert_eq!(code, 0, "{said}");
    for check in ["routes_around_failed_node", "recovers"] {
        assert_eq!(verdict(&report, check), "pass", "{check}: {said}");
    }
    assert!(said.contains("cut-n2 partition_from_lb on n2"), "{said}");

    // The fleet cut off from n2 over a health round: polling_fan_out
    // catches it, naming n2, and the fleet is back on n2 once the network
    // is joined again.
    let (code, report, said) = run_through(
        &target,
        key,
        "fixtures/targets/scenarios/partition-tentacles.yaml",
        dir.path(),
    );
    assert_eq!(code, 1, "{said}");
    assert_eq!(verdict(&report, "polling_fan_out"), "fail", "{said}");
    let detail = crate::util::check_of(&report, "polling_fan_out")["detail"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(detail.contains("↔n2"), "{detail}");
    assert!(
        !detail.contains("↔n1") && !detail.contains("↔n3"),
        "{detail}"
    );
    assert_eq!(verdict(&report, "reconnect_storm"), "pass", "{said}");
    assert!(
        said.contains("cut-tentacles-n2 partition_from_tentacles on n2"),
        "{said}"
    );

    // Ctrl-C while n2's container is killed: the run heals it and stops.
    let mut run = harness();
    run.args(["run", "--allow-disruptive", "--target"])
        .arg(&target)
        .arg("scenarios/failover.yaml")
        .arg("--out")
        .arg(dir.path().join("runs"))
        .env("HARNESS_API_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut interrupted = ChildGuard(run.spawn().unwrap());
    std::thread::sleep(Duration::from_secs(10));
    kill(Pid::from_raw(interrupted.0.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_with_timeout(&mut interrupted.0, Duration::from_secs(120));
    let mut stderr = String::new();
    let _ = interrupted
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr);
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{stderr}");
    // The heal waits for n2's own ping; the LB and the gateway take it
    // back at their next checks, so doctor is asked until it passes.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let healed = loop {
        let mut after = harness();
        after
            .args(["doctor", "--target"])
            .arg(&target)
            .env("HARNESS_API_KEY", key);
        let out = run_with_timeout(after, Duration::from_secs(60));
        if out.code() == 0 || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(
        healed.code(),
        0,
        "the interrupted run healed n2:\n{}",
        healed.stdout
    );

    // Ctrl-C takes the cluster down, and the engine holds nothing of it.
    assert_eq!(up.interrupt(), Some(0));
    let left = left_in_engine(&up.network);
    assert!(left.is_empty(), "left in the engine: {left:?}");
    say(&format!(
        "after Ctrl-C, nothing of {} is left in the engine",
        up.network
    ));
}

#[test]
fn ctrl_c_during_containers_up_leaves_no_container_volume_or_network() {
    if let Some(why) = no_engine() {
        return say(&format!("skipped: stand-in containers: {why}"));
    }
    // Building the images takes CPU no quota caps.
    let _engine = engine_to_myself();
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &["--stand-ins", "--nodes", "3"]);
    // Once the first node's container runs and before the cluster is up.
    up.wait_for("n1 (octo1) started as ", UP);
    assert_eq!(up.interrupt(), Some(3));
    let left = left_in_engine(&up.network);
    assert!(left.is_empty(), "left in the engine: {left:?}");
}

#[test]
fn real_images_without_a_registry_fail_at_the_pull_and_leave_nothing() {
    if let Some(why) = no_engine() {
        return say(&format!("skipped: real images: {why}"));
    }
    if std::env::var("HARNESS_CONTAINER_TESTS").as_deref() == Ok("1") {
        return say("skipped: real images: HARNESS_CONTAINER_TESTS=1 pulls them for real");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args([
        "containers",
        "up",
        "--nodes",
        "1",
        "--octopus-tag",
        "no-such-tag",
        "--out",
    ])
    .arg(dir.path())
    .env_remove("OCTOPUS_LICENSE_BASE64");
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    let network = out
        .stdout
        .split("(network ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("the network")
        .to_string();
    assert_eq!(out.code(), 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the containerized cluster did not come up"),
        "{}",
        out.stderr
    );
    // Nothing about volumes that were never made.
    assert!(!out.stderr.contains("volume"), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("containers, volumes and networks removed"),
        "{}",
        out.stdout
    );
    let left = left_in_engine(&network);
    assert!(left.is_empty(), "left in the engine: {left:?}");
}

#[test]
fn a_real_octopus_cluster_in_containers_passes_doctor_and_a_kill() {
    if let Some(why) = no_engine() {
        return say(&format!("skipped: real Octopus containers: {why}"));
    }
    if std::env::var("HARNESS_CONTAINER_TESTS").as_deref() != Ok("1") {
        return say(
            "skipped: real Octopus containers: an engine answers, but HARNESS_CONTAINER_TESTS=1 is not set (the images are several GB and need a registry)",
        );
    }
    if std::env::var("OCTOPUS_LICENSE_BASE64").is_err() {
        return say("skipped: real Octopus containers: no licence in OCTOPUS_LICENSE_BASE64");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(
        dir.path(),
        &["--nodes", "3", "--like", "scenarios/failover.yaml"],
    );
    let target = PathBuf::from(up.wait_for("target file: ", Duration::from_secs(1800)));
    let key = std::fs::read_to_string(target.with_file_name("api-key")).unwrap();
    let mut doctor = harness();
    doctor
        .args(["doctor", "--target"])
        .arg(&target)
        .env("HARNESS_API_KEY", key.trim());
    let out = run_with_timeout(doctor, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let (code, _, said) = run_through(&target, key.trim(), "scenarios/failover.yaml", dir.path());
    assert_eq!(code, 0, "{said}");
    assert_eq!(up.interrupt(), Some(0));
    let left = left_in_engine(&up.network);
    assert!(left.is_empty(), "left in the engine: {left:?}");
}

#[test]
fn a_partition_is_refused_on_the_embedded_cluster_naming_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args([
        "run",
        "fixtures/targets/scenarios/partition-lb.yaml",
        "--out",
    ])
    .arg(dir.path());
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "fixtures/targets/scenarios/partition-lb.yaml:30:5: faults[0].partition: cuts a node off the network, which the embedded cluster cannot"
        ),
        "{}",
        out.stderr
    );
    // Refused before a cluster started or a run folder was made.
    assert!(!dir.path().join("partition-lb").exists());
}

#[test]
fn a_node_on_its_own_makes_the_shared_database_logs_to_stdout_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db").join("shared.db");
    let mut cmd = harness();
    cmd.args([
        "cluster",
        "node",
        "--name",
        "OCTO-A",
        "--listen",
        "127.0.0.1:0",
    ])
    .args(["--polling-listen", "127.0.0.1:0"])
    .arg("--database")
    .arg(&db)
    .arg("--storage")
    .arg(dir.path().join("store"))
    .env("HARNESS_API_KEY", "API-STANDALONE0000000000000000")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut node = ChildGuard(cmd.spawn().unwrap());
    let mut stdout = BufReader::new(node.0.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = tx.send(std::mem::take(&mut line));
        }
    });
    let ready = rx.recv_timeout(LIMIT).expect("a READY line");
    let addr = ready
        .trim()
        .strip_prefix("READY ")
        .expect(&ready)
        .to_string();
    // It made the schema, and serves its ping with its own Name.
    assert!(db.is_file());
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(b"GET /api/octopusservernodes/ping HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.contains("\"Name\":\"OCTO-A\""), "{answer}");
    assert!(
        answer.contains("\"Id\":\"OctopusServerNodes-OCTO-A\""),
        "{answer}"
    );
    // SIGTERM, as `docker stop` sends it: exit 0 at once, and says so.
    kill(Pid::from_raw(node.0.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_with_timeout(&mut node.0, Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let said = rx.recv_timeout(LIMIT).unwrap_or_default();
    assert_eq!(said.trim(), "stopping on SIGTERM");
}
