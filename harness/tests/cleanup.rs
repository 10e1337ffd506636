//! `harness cleanup --run-id` against a small Octopus of the test's own, on
//! loopback, whose task list answers 404 (a cluster without that API): the
//! run's packages and machines are still found and removed, each kind's
//! outcome is printed, and the command exits 3 at the end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::util::{harness, run_with_timeout};

const RUN_ID: &str = "0a1b2c3d";
const KEY: &str = "API-CLEANUPTESTKEY0000000000";

/// The requests the server was sent that changed something.
type Changes = Arc<Mutex<Vec<String>>>;

fn json(status: u16, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    r
}

/// Packages and machines as Octopus lists them, one of each the run's and
/// a package of another run; no task API at all.
fn answer(req: &Request<Incoming>, changes: &Changes) -> Response<Full<Bytes>> {
    if req
        .headers()
        .get("X-Octopus-ApiKey")
        .and_then(|v| v.to_str().ok())
        != Some(KEY)
    {
        return json(401, r#"{"ErrorMessage":"You must be logged in"}"#);
    }
    let path = req.uri().path();
    let first_page = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "skip=0"));
    match (req.method(), path) {
        (&Method::GET, "/api/Spaces-1/packages") if first_page => json(
            200,
            &format!(
                r#"{{"Items":[{{"Id":"packages-HarnessProbe.1.0.0-r{RUN_ID}","PackageId":"HarnessProbe","Version":"1.0.0-r{RUN_ID}"}},{{"Id":"packages-HarnessProbe.1.0.0-rffffffff","PackageId":"HarnessProbe","Version":"1.0.0-rffffffff"}}],"TotalResults":2}}"#
            ),
        ),
        (&Method::GET, "/api/Spaces-1/machines") if first_page => json(
            200,
            &format!(
                r#"{{"Items":[{{"Id":"Machines-7","Name":"tentacle-0001-{RUN_ID}"}},{{"Id":"Machines-8","Name":"web-01"}}],"TotalResults":2}}"#
            ),
        ),
        (&Method::GET, "/api/Spaces-1/packages" | "/api/Spaces-1/machines") => {
            json(200, r#"{"Items":[],"TotalResults":2}"#)
        }
        (&Method::DELETE, p) if p.starts_with("/api/Spaces-1/") => {
            changes.lock().unwrap().push(format!("DELETE {p}"));
            json(200, "{}")
        }
        _ => json(
            404,
            r#"{"ErrorMessage":"The resource you requested was not found."}"#,
        ),
    }
}

/// The server, on a port of its own; it stops with the runtime.
fn serve(rt: &tokio::runtime::Runtime, changes: Changes) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let changes = changes.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let r = answer(&req, &changes);
                    async move { Ok::<_, std::convert::Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

#[test]
fn cleanup_goes_on_past_a_kind_it_cannot_list_and_exits_3() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let changes: Changes = Arc::default();
    let url = serve(&rt, changes.clone());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: no-task-api\nlb: {url}\napi_key_env: CLEANUP_TEST_KEY\nnodes:\n  - name: octo1\n    url: {url}\n"
        ),
    )
    .unwrap();
    let cleanup = |extra: &[&str]| {
        let mut cmd = harness();
        cmd.args(["cleanup", "--run-id", RUN_ID, "--target"])
            .arg(&target)
            .args(extra)
            .env("CLEANUP_TEST_KEY", KEY);
        run_with_timeout(cmd, Duration::from_secs(30))
    };

    // Listing only: the tasks' failure is said, and is exit 3.
    let dry = cleanup(&["--dry-run"]);
    assert_eq!(dry.code(), 3, "{}{}", dry.stdout, dry.stderr);
    assert!(
        dry.stdout.starts_with(&format!(
            "run {RUN_ID} left 1 packages, unknown unfinished tasks, 1 machines on no-task-api\n"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("tasks: FAILED, could not list them:"),
        "{}",
        dry.stdout
    );
    assert!(
        changes.lock().unwrap().is_empty(),
        "a dry run changed something"
    );

    let out = cleanup(&[]);
    assert_eq!(out.code(), 3, "{}{}", out.stdout, out.stderr);
    let lines: BTreeMap<&str, &str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .collect();
    assert_eq!(
        lines.get("packages"),
        Some(&"1 found, 1 removed"),
        "{}",
        out.stdout
    );
    assert_eq!(
        lines.get("machines"),
        Some(&"1 found, 1 removed"),
        "{}",
        out.stdout
    );
    let tasks = lines.get("tasks").copied().unwrap_or_default();
    assert!(
        tasks.starts_with("FAILED, could not list them:") && tasks.contains("404"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("not everything could be listed or removed"),
        "{}",
        out.stderr
    );
    // The run's package and machine went, and nothing else.
    assert_eq!(
        *changes.lock().unwrap(),
        vec![
            format!("DELETE /api/Spaces-1/packages/packages-HarnessProbe.1.0.0-r{RUN_ID}"),
            "DELETE /api/Spaces-1/machines/Machines-7".to_string(),
        ]
    );
    for text in [&dry.stdout, &dry.stderr, &out.stdout, &out.stderr] {
        assert!(!text.contains(KEY), "the API key was printed");
    }
}
