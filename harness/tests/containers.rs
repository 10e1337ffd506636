//! The containerized target. Without a Docker daemon `containers up`
//! exits 3 at once and says where it looked; with a fake daemon that
//! answers its ping, the next problem (no licence for an HA cluster) is
//! named with exit 2. The whole cluster (SQL Server, Octopus nodes,
//! HAProxy) starts only where a daemon answers, a licence is given and
//! HARNESS_CONTAINER_TESTS=1 asks for it; otherwise that test says it was
//! skipped and why.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::util::{ChildGuard, harness, run_with_timeout};

const LIMIT: Duration = Duration::from_secs(30);

/// Says a test was skipped, past the test harness's output capture.
fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "skipped: {why}");
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
            .contains("a cluster of 2 nodes needs an Octopus HA licence: put it, base64, in OCTOPUS_LICENSE_BASE64"),
        "{}",
        out.stderr
    );
    server.join().unwrap();
}

#[test]
fn a_containerized_cluster_passes_doctor_and_a_kill() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Err(why) = rt.block_on(harness::containers::docker_answers()) {
        return skipped(&format!("containerized cluster: {why}"));
    }
    if std::env::var("HARNESS_CONTAINER_TESTS").as_deref() != Ok("1") {
        return skipped(
            "containerized cluster: a daemon answers, but HARNESS_CONTAINER_TESTS=1 is not set (the images are several GB)",
        );
    }
    if std::env::var("OCTOPUS_LICENSE_BASE64").is_err() {
        return skipped("containerized cluster: no licence in OCTOPUS_LICENSE_BASE64");
    }
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args(["containers", "up", "--nodes", "2", "--out"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut up = ChildGuard(cmd.spawn().unwrap());
    let stdout = up.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let target = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(1800))
            .expect("containers up prints its target file");
        if let Some(t) = line.strip_prefix("target file: ") {
            break PathBuf::from(t);
        }
    };
    let key = std::fs::read_to_string(target.with_file_name("api-key")).unwrap();
    let mut doctor = harness();
    doctor
        .args(["doctor", "--target"])
        .arg(&target)
        .env("HARNESS_API_KEY", key.trim());
    let out = run_with_timeout(doctor, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let mut run = harness();
    run.args(["run", "--allow-disruptive", "--target"])
        .arg(&target)
        .arg("fixtures/targets/scenarios/kill-octo2.yaml")
        .arg("--out")
        .arg(dir.path().join("runs"))
        .env("HARNESS_API_KEY", key.trim());
    let out = run_with_timeout(run, Duration::from_secs(900));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    // Ctrl-C removes the containers.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = crate::util::wait_with_timeout(&mut up.0, Duration::from_secs(300));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}
