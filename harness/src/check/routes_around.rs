//! `routes_around_failed_node`: after a node is killed, paused or cut off
//! from the LB, the LB stops sending it requests within a bound.
//!
//! A request the failed node was sent either fails (refused, 502, 504) or,
//! for a ping, names that node in its body. So convergence is the time from
//! the fault to the last request started inside the window that failed or
//! was served by the failed node. A real LB does not say where it routed;
//! this works on any target. A window the run's interruption ended before
//! the bound elapsed is unknown where it would fail (docs/robustness.md,
//! "Interrupted runs").

use serde_json::{Value, json};

use super::verdict::{Verdict, never_injected, secs, worst};
use super::windows::{judged_windows, window_cut_short};
use crate::history::{FaultWindow, History, Request};
use crate::scenario::RoutesAround;
use crate::vocab::FaultKind;

pub(super) fn judge(c: &RoutesAround, h: &History) -> (Verdict, String, Value) {
    let all_nodes = h.node_names();
    let windows = judged_windows(
        h,
        c.fault.as_ref(),
        &[
            FaultKind::Kill,
            FaultKind::Pause,
            FaultKind::PartitionFromLb,
        ],
    );
    if windows.is_empty() {
        return never_injected("faults");
    }
    let within = c.within.value.as_micros_u64();
    let mut results = Vec::new();
    let mut outcomes = Vec::new();
    for w in &windows {
        let (verdict, detail, evidence) = judge_window(c, h, w, within, all_nodes.len());
        outcomes.push((verdict, detail));
        results.push(evidence);
    }
    let (verdict, detail) = worst(&outcomes);
    (verdict, detail, json!({ "faults": results }))
}

fn judge_window(
    c: &RoutesAround,
    h: &History,
    w: &FaultWindow,
    within: u64,
    node_count: usize,
) -> (Verdict, String, Value) {
    let nodes = w
        .nodes
        .iter()
        .map(|n| h.label(n))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(e) = &w.inject_error {
        return (
            Verdict::Unknown,
            format!("{} could not be injected: {e}", w.name),
            json!({ "fault": w.name, "inject_error": e }),
        );
    }
    if w.nodes.len() >= node_count {
        return (
            Verdict::Unknown,
            format!(
                "{} took down every node; there was nowhere to route",
                w.name
            ),
            json!({ "fault": w.name, "nodes": w.nodes }),
        );
    }
    // One pass over the history; the rest works on the window's requests.
    let in_window: Vec<&Request> = h
        .requests()
        .filter(|r| r.intended_us >= w.start_us && r.intended_us <= w.end_us)
        .collect();
    let bad = |r: &Request| r.is_error() || r.node.as_ref().is_some_and(|n| w.nodes.contains(n));
    let last_bad = in_window
        .iter()
        .filter(|r| bad(r))
        .map(|r| r.intended_us)
        .max();
    let bad_count = in_window.iter().filter(|r| bad(r)).count();
    let converged_at = last_bad.unwrap_or(w.start_us);
    let convergence = converged_at.saturating_sub(w.start_us);
    let window = w.end_us.saturating_sub(w.start_us);
    // Bad requests in the last second of the window: the LB never stopped.
    let still_bad_at_end = last_bad.is_some_and(|t| w.end_us.saturating_sub(t) < 1_000_000);
    let good_after = in_window
        .iter()
        .filter(|r| r.intended_us > converged_at && !r.is_error())
        .count() as u32;
    let evidence = json!({
        "fault": w.name,
        "nodes": w.nodes,
        "convergence_s": convergence as f64 / 1e6,
        "within_s": within as f64 / 1e6,
        "requests_to_failed_node": bad_count,
        "good_requests_after": good_after,
        "window_s": window as f64 / 1e6,
    });
    if still_bad_at_end || convergence > within {
        // A window the interruption ended before the bound elapsed cannot
        // show the LB failing to stop in time.
        if let Some(why) = window_cut_short(h, w, w.start_us, within) {
            return (Verdict::Unknown, why, evidence);
        }
        let detail = if still_bad_at_end {
            format!(
                "the LB kept sending requests to {nodes} for the whole {} of {} (bound {})",
                secs(window),
                w.name,
                secs(within)
            )
        } else {
            format!(
                "the LB stopped sending requests to {nodes} {} after {}, more than {}",
                secs(convergence),
                w.name,
                secs(within)
            )
        };
        return (Verdict::Fail, detail, evidence);
    }
    if good_after < c.min_requests {
        let detail = format!(
            "only {good_after} successful requests after {} converged (need {}); cannot tell",
            w.name, c.min_requests
        );
        return (Verdict::Unknown, detail, evidence);
    }
    let detail = format!(
        "the LB stopped sending requests to {nodes} {} after {} (bound {})",
        secs(convergence),
        w.name,
        secs(within)
    );
    (Verdict::Pass, detail, evidence)
}
