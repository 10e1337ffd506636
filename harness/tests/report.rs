//! `report.html`: a run writes it, `harness report` rebuilds it byte for
//! byte, it fetches nothing, and headless Chromium lays out its verdict and
//! every chart.

use std::time::Duration;

use serde_json::Value;

use crate::util::{harness, run_with_timeout};

#[test]
fn a_run_writes_a_self_contained_html_report_that_chromium_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = harness();
    cmd.args([
        "run",
        "fixtures/scenarios/report/every-section.yaml",
        "--seed",
        "7",
        "--out",
    ])
    .arg(tmp.path().join("runs"));
    let run = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout, run.stderr);
    let dir = tmp.path().join("runs/latest");
    let page_path = dir.join("report.html");
    let page = std::fs::read_to_string(&page_path).unwrap();

    // Self-contained: nothing is loaded from anywhere.
    for outside in [" src=", "<link", "@import", "url(", "http://", "https://"] {
        assert!(!page.contains(outside), "report.html holds {outside:?}");
    }
    // Every section the run has something for.
    for section in [
        "id=\"checks\"",
        "id=\"chart-throughput\"",
        "id=\"chart-latency\"",
        "id=\"chart-nodes\"",
        "<h2>Tasks</h2>",
        "<h2>Uploads</h2>",
        "id=\"fan-out\"",
        "class=\"fault\"",
        "Nothing left behind.",
    ] {
        assert!(page.contains(section), "report.html lacks {section}");
    }

    // The per-second series behind the charts is in report.json, and the
    // fault's window falls inside it.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let points = report["timeline"]["points"].as_array().unwrap();
    assert!(points.len() >= 9, "{} points", points.len());
    let seconds: Vec<u64> = points.iter().map(|p| p["t_s"].as_u64().unwrap()).collect();
    assert!(seconds.windows(2).all(|w| w[1] == w[0] + 1), "{seconds:?}");
    let ok: u64 = points.iter().map(|p| p["ok"].as_u64().unwrap()).sum();
    let errors: u64 = points.iter().map(|p| p["errors"].as_u64().unwrap()).sum();
    assert!(errors > 0, "the kill of n2 shows as errors");
    assert!(ok > 500, "{ok} successes");
    assert_eq!(report["timeline"]["significant_figures"], 3);

    // `harness report` rebuilds the same page from the run folder.
    std::fs::remove_file(&page_path).unwrap();
    let mut cmd = harness();
    cmd.arg("report").arg(&dir);
    let again = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(again.code(), 0, "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&page_path).unwrap(), page);

    // Chromium lays out the verdict and all three charts.
    crate::util::assert_chromium_draws(&page_path, tmp.path(), 3);
}

#[test]
fn a_failed_check_shows_in_the_page_and_text_from_the_run_is_escaped() {
    // A history-only run folder: the page is built from report.json's
    // source, the history, so `harness report` alone exercises it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("scenario.yaml"),
        "name: tricky\nduration: 1s\nworkload:\n  - api: { rate: 10/s }\n\
         checks:\n  - latency: { percentile: 50, below: 1ms }\n",
    )
    .unwrap();
    let history = [
        r#"{"event":"run_started","scenario":"tricky","seed":1,"target":"<b>targets</b>/a&b.yaml","started_at":"2026-11-27T00:00:00Z","run_id":"abc"}"#,
        r#"{"event":"phase","at_us":0,"phase":"workload"}"#,
        r#"{"event":"request","seq":0,"op":"ping","intended_us":100000,"sent_us":100000,"done_us":150000,"outcome":"ok","status":200,"bytes":10,"node":"n1"}"#,
        r#"{"event":"request","seq":1,"op":"ping","intended_us":1100000,"sent_us":1100000,"done_us":1180000,"outcome":"ok","status":200,"bytes":10,"node":"n1"}"#,
        r#"{"event":"run_ended","at_us":1200000,"interrupted":null}"#,
    ]
    .join("\n");
    std::fs::write(dir.join("history.jsonl"), history + "\n").unwrap();
    let mut cmd = harness();
    cmd.arg("report").arg(dir);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout, out.stderr);
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains("<span id=\"verdict\" class=\"badge fail\">FAIL</span>"));
    assert!(page.contains("<td class=\"fail\">FAIL</td>"));
    assert!(page.contains("target &lt;b&gt;targets&lt;/b&gt;/a&amp;b.yaml"));
    assert!(!page.contains("<b>targets</b>"));
}
