//! Tests of the terminal report.

use super::*;
use crate::history::History;

/// A polling fleet alone sent no request: no throughput of zeros, no
/// "0.0% 0 pings", but each node's fan-out. See: issue 17.
#[test]
fn r17_a_run_without_requests_shows_its_nodes_fan_out_not_zeros() {
    let up = |node: &str| Event::NodeUp {
        at_us: 0,
        node: node.into(),
        address: format!("{node}:1"),
        pid: None,
        boot_ms: 0,
    };
    let h = History {
        events: vec![up("n1"), up("n2")],
    };
    let mut r = crate::report::build(&h, Vec::new());
    r.polling = Some(crate::report::html::tests::fleet());
    let text = summary(&r);
    for absent in ["throughput", "latency", "0.0%", "pings"] {
        assert!(!text.contains(absent), "{absent:?} in\n{text}");
    }
    assert!(
        text.contains("nodes (polling Tentacles connected at the end of the workload)\n"),
        "{text}"
    );
    let n2 = text.lines().find(|l| l.starts_with("  n2 ")).unwrap();
    assert!(n2.contains("48/50 Tentacles"), "{n2}");
    assert!(n2.ends_with("0 restarts"), "{n2}");
}

/// A check name longer than the column widens it for every row, as
/// `harness list` does. See: issue 17.
#[test]
fn r17_the_checks_column_fits_the_longest_name() {
    let check = |name: &str| crate::check::CheckResult {
        name: name.into(),
        kind: name.into(),
        verdict: Verdict::Pass,
        detail: "detail".into(),
        evidence: serde_json::Value::Null,
    };
    let text = checks_table(&[
        check("availability"),
        check("every_node_reaches_every_tentacle"),
    ]);
    let at: Vec<Option<usize>> = text.lines().map(|l| l.find("detail")).collect();
    assert_eq!(at, [Some(45), Some(45)], "{text}");
}

/// A run with pings keeps its shares, and its throughput.
#[test]
fn a_run_with_pings_shows_shares_and_throughput() {
    let mut h = crate::report::timeline::tests::steady();
    h.events.insert(
        0,
        Event::NodeUp {
            at_us: 0,
            node: "n1".into(),
            address: "n1:1".into(),
            pid: None,
            boot_ms: 0,
        },
    );
    let text = summary(&crate::report::build(&h, Vec::new()));
    assert!(text.contains("\nthroughput\n  6250 requests"), "{text}");
    assert!(text.contains("latency from intended start: p50"), "{text}");
    assert!(
        text.contains("nodes (share of successful pings)\n"),
        "{text}"
    );
    assert!(text.contains("100.0%     6250 pings  0 restarts"), "{text}");
}
