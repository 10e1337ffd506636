//! The official Octopus TypeScript client (`@octopusdeploy/api-client`, at
//! the version fixtures/clients/octopus-api-client pins) against `harness
//! cluster up`, run by Node.js: it connects, resolves the space by name,
//! pushes a package in each overwrite mode, lists packages with a filter
//! and reads a task, and every step must pass. The client is installed by
//! `npm ci` in that folder, which .ci/run does; without it the test fails
//! and says so.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::client::{ApiClient, ApiKey};
use reference_cluster::api::NewTask;
use serde_json::json;

use crate::util::{root, run_with_timeout};

/// Where the script, package.json and package-lock.json live.
const CLIENT_DIR: &str = "fixtures/clients/octopus-api-client";

/// The whole script: about two seconds here, far more on a busy machine.
const SCRIPT: Duration = Duration::from_secs(120);

/// The installed client's version, after checking that it is the one the
/// lock file pins (a stale node_modules would test another client).
fn installed_client(dir: &Path) -> String {
    let installed = dir.join("node_modules/@octopusdeploy/api-client/package.json");
    let text = std::fs::read_to_string(&installed).unwrap_or_else(|e| {
        panic!(
            "the Octopus TypeScript client is not installed ({}: {e}): run `npm ci` in {CLIENT_DIR} (.ci/run does)",
            installed.display()
        )
    });
    let version = |text: &str, what: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(text).expect(what);
        v["version"].as_str().expect(what).to_string()
    };
    let lock = std::fs::read_to_string(dir.join("package-lock.json")).expect("package-lock.json");
    let lock: serde_json::Value = serde_json::from_str(&lock).expect("package-lock.json is JSON");
    let pinned = lock["packages"]["node_modules/@octopusdeploy/api-client"]["version"]
        .as_str()
        .expect("the lock file pins @octopusdeploy/api-client")
        .to_string();
    let got = version(&text, "the installed client's package.json");
    assert_eq!(
        got, pinned,
        "node_modules holds another client than the lock file pins: run `npm ci` in {CLIENT_DIR}"
    );
    got
}

/// Node.js from PATH, or a failure that says what is missing.
fn node_version() -> String {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("Node.js is needed to run the Octopus TypeScript client: {e}"));
    assert!(out.status.success(), "node --version failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Queues an AdHocScript task through the REST API and waits until it has
/// succeeded, so that the script reads a task with a log.
fn finished_task(lb: &str, key: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let api = ApiClient::new(lb, ApiKey::new(key.to_string())).unwrap();
        let task = NewTask {
            name: "AdHocScript".into(),
            description: "read by the TypeScript client".into(),
            arguments: Some(json!({ "ScriptBody": "echo \"hello from the task\"" })),
            space_id: None,
        };
        let created = api.create_task(&task, Duration::from_secs(10)).await;
        let id = created
            .id
            .clone()
            .unwrap_or_else(|| panic!("no task: {created:?}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let tasks = tokio::time::timeout(
                Duration::from_secs(10),
                api.tasks(std::slice::from_ref(&id)),
            )
            .await
            .expect("the task list answers in time")
            .expect("the task list");
            let state = tasks.first().map(|t| t.state);
            if state.is_some_and(|s| s.is_completed()) {
                assert_eq!(
                    state,
                    Some(reference_cluster::api::TaskState::Success),
                    "{tasks:?}"
                );
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "the task did not finish within 60s: {tasks:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[test]
fn the_official_typescript_client_pushes_lists_and_reads_a_task_on_cluster_up() {
    let client_dir = root().join(CLIENT_DIR);
    let version = installed_client(&client_dir);
    let node = node_version();

    let dir = tempfile::tempdir().unwrap();
    // tasks.yaml's cluster checks its queue every 500 ms instead of
    // Octopus's 20 s, so the task is done in a moment.
    let up =
        crate::real_target::up_like_file("scenarios/tasks.yaml", dir.path(), &["--nodes", "2"]);
    let (key, lb) = (up.key.clone(), up.lb.clone());
    let task = finished_task(&lb, &key);

    let work = dir.path().join("client-work");
    std::fs::create_dir(&work).unwrap();
    let mut cmd = Command::new("node");
    // A clean environment: the key reaches the script only through it, and
    // no proxy setting can send the client's traffic off loopback.
    cmd.arg("check.js")
        .current_dir(&client_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_PROXY", "*")
        .env("OCTOPUS_URL", &lb)
        .env("OCTOPUS_API_KEY", &key)
        .env("OCTOPUS_SPACE", "Default")
        .env("OCTOPUS_TASK_ID", &task)
        .env("WORK_DIR", &work);
    let started = Instant::now();
    let out = run_with_timeout(cmd, SCRIPT);
    let took = started.elapsed();
    let said = format!(
        "@octopusdeploy/api-client {version} on Node.js {node}, {took:.1?}:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        !out.stdout.contains(&key) && !out.stderr.contains(&key),
        "the API key was printed"
    );
    assert_eq!(out.code(), 0, "{said}");
    assert!(out.stdout.lines().all(|l| !l.starts_with("FAIL")), "{said}");
    assert!(
        out.stdout.contains("steps ok: 15, steps failed: 0"),
        "{said}"
    );
    // The client made the requests that used to fail, and was answered as
    // Octopus answers them.
    for request in [
        "GET /api/spaces?partialName=Default&skip=0&take=2147483647 200",
        "POST /api/Spaces-1/packages/raw?overwriteMode=FailIfExists 201",
        "POST /api/Spaces-1/packages/raw?overwriteMode=FailIfExists 409",
        "POST /api/Spaces-1/packages/raw?overwriteMode=OverwriteExisting 200",
        "POST /api/Spaces-1/packages/raw?overwriteMode=IgnoreIfExists 200",
        "GET /api/Spaces-1/packages?filter=no-such-package 200",
        &format!("GET /api/Spaces-1/tasks/{task} 200"),
        &format!("GET /api/Spaces-1/tasks/{task}/details 200"),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l == format!("request {request}")),
            "no request {request}: {said}"
        );
    }
}
