//! Tests of the HTML report; `fleet` is shared with the terminal report's tests.

use super::*;
use crate::check::{CheckResult, Verdict};
use crate::history::{Event, History};
use crate::report::{PollingNode, PollingReport, build};

fn node_up(node: &str) -> Event {
    Event::NodeUp {
        at_us: 0,
        node: node.into(),
        address: format!("{node}:1"),
        pid: None,
        boot_ms: 0,
    }
}

fn check(name: &str, kind: &str) -> CheckResult {
    CheckResult {
        name: name.into(),
        kind: kind.into(),
        verdict: Verdict::Pass,
        detail: "fine".into(),
        evidence: serde_json::Value::Null,
    }
}

/// The y of each point of a series' path.
fn ys(page: &str, class: &str) -> Vec<f64> {
    let start = format!("<path class=\"series {class}\" d=\"");
    let at = page.find(&start).expect("the series") + start.len();
    let d = &page[at..at + page[at..].find('"').unwrap()];
    d.split_whitespace()
        .map(|p| p[1..].split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

/// A steady 250/s plots flat: the last 0.4 s is not drawn as a drop to
/// 100/s, nor the first 0.6 s as a climb. See: issue 17.
#[test]
fn r17_throughput_is_plotted_over_whole_seconds_only() {
    let mut h = crate::report::timeline::tests::steady();
    h.events.insert(0, node_up("n1"));
    let page = html(&build(&h, Vec::new()));
    let ok = ys(&page, "ok");
    assert_eq!(ok.len(), 24, "{ok:?}");
    assert!(ok.iter().all(|y| *y == ok[0]), "{ok:?}");
}

/// The kind column speaks only where the name does not say it.
/// See: issue 17.
#[test]
fn r17_a_check_named_for_its_kind_shows_it_once() {
    let mut r = build(&History::default(), Vec::new());
    r.checks = vec![
        check("availability", "availability"),
        check("drain-n1", "drain_contract"),
    ];
    let page = html(&r);
    assert!(
        page.contains("<tr><td>availability</td><td></td><td class=\"pass\">"),
        "{page}"
    );
    assert!(
        page.contains("<tr><td>drain-n1</td><td>drain_contract</td>"),
        "{page}"
    );
}

/// A polling fleet alone sent no request: no table of zeros, no share
/// chart of 0% bars, but each node's fan-out. See: issue 17.
#[test]
fn r17_a_run_without_requests_shows_its_nodes_fan_out_not_zeros() {
    let h = History {
        events: vec![node_up("n1"), node_up("n2")],
    };
    let mut r = build(&h, Vec::new());
    r.polling = Some(fleet());
    let page = html(&r);
    assert!(!page.contains("<h2>Requests</h2>"), "{page}");
    assert!(!page.contains("chart-nodes"), "{page}");
    assert!(page.contains("<table id=\"nodes\">"), "{page}");
    assert!(
        page.contains(
            "<td>n2</td><td>n2:1</td><td class=\"num\">1×</td><td class=\"num\">48 / 50</td>"
        ),
        "{page}"
    );
}

pub(in crate::report) fn fleet() -> PollingReport {
    PollingReport {
        tentacles: 50,
        connections: 1,
        endpoints: vec![("n1".into(), "n1:2".into()), ("n2".into(), "n2:2".into())],
        time_to_full_fan_out_s: Some(1.5),
        handshakes_per_s: Some(66.0),
        connection_attempts: 100,
        failed_attempts: 0,
        nodes: vec![
            PollingNode {
                node: "n1".into(),
                tentacles_connected: 50,
                health_ok: 50,
                health_failed: 0,
            },
            PollingNode {
                node: "n2".into(),
                tentacles_connected: 48,
                health_ok: 48,
                health_failed: 2,
            },
        ],
        rpc_ms: None,
    }
}

#[test]
fn text_from_the_run_is_escaped() {
    assert_eq!(
        esc("<script>\"a\" & 'b'</script>"),
        "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
    );
}

#[test]
fn axes_are_round_and_cover_the_data() {
    for (top, want) in [
        (1.0, 1.0),
        (7.0, 10.0),
        (38.0, 50.0),
        (120.0, 200.0),
        (999.0, 1000.0),
    ] {
        let (max, step) = nice_axis(top);
        assert_eq!(max, want, "top {top}");
        assert!(max >= top && step > 0.0 && (max / step - 5.0).abs() < 1e-9);
    }
}

#[test]
fn a_missing_point_breaks_the_line() {
    let mut o = String::new();
    series(
        &mut o,
        "p50",
        [Some((1.0, 2.0)), Some((2.0, 3.0)), None, Some((4.0, 5.0))].into_iter(),
    );
    assert_eq!(
        o,
        "<path class=\"series p50\" d=\"M1.0,2.0 L2.0,3.0 M4.0,5.0\"/>\n"
    );
    let mut empty = String::new();
    series(&mut empty, "p50", [None, None].into_iter());
    assert!(empty.is_empty(), "no path for a series with no point");
}
