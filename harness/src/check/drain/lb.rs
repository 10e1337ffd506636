//! Parts b and c of the contract, seen through the LB: it stops routing to
//! the drained node in time, and no request fails meanwhile.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::lb_windows::{Drained418, LbWindows, drained_by};
use super::part::Part;
use crate::check::verdict::{Verdict, secs};
use crate::history::{FaultWindow, History, Op, Request};
use crate::scenario::DrainContract;

/// The LB still sending the node requests this close to the undrain means
/// it never stopped.
const LAST_SECOND_US: u64 = 1_000_000;

/// What usually keeps an LB routing to a node whose ping answers 418.
const LIKELY_CAUSE: &str = "the usual cause is a health check that accepts 4xx (an ALB matcher of 200-499, an HAProxy `http-check expect status` range that takes 418) or passive checks only (nginx open source), which never probe the ping";

/// What the LB part measured.
pub(super) struct Lb {
    pub(super) convergence: Option<u64>,
    pub(super) to_drained: usize,
    pub(super) after_bound: usize,
}

/// b: the LB stops routing to the drained node within the bound.
pub(super) fn lb_part(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    all_nodes: &[String],
    ping_said_418: bool,
) -> (Part, Lb) {
    const NAME: &str = "lb";
    let cause = if ping_said_418 {
        LIKELY_CAUSE
    } else {
        "the node's own ping did not say 418 in time, and an LB that follows the ping keeps routing to it"
    };
    let within = c.lb_within.value.as_micros_u64();
    let drained = |r: &Request| r.node.as_ref().is_some_and(|n| w.nodes.contains(n));
    // The LB routes a request when it arrives, not when the schedule meant
    // it to: one the generator sent late, past the undrain, may rightly
    // reach the node again. So the routing is judged on the requests sent
    // after the drain began and answered before the undrain began.
    let routed: Vec<&Request> = h
        .requests()
        .filter(|r| r.sent_us >= w.start_us && r.done_us <= w.end_us)
        .collect();
    let to_drained: Vec<u64> = routed
        .iter()
        .filter(|r| drained(r))
        .map(|r| r.sent_us)
        .collect();
    let bound_at = w.start_us.saturating_add(within);
    let mut lb = Lb {
        convergence: None,
        to_drained: to_drained.len(),
        after_bound: to_drained.iter().filter(|&&t| t > bound_at).count(),
    };
    // Only ping bodies name the serving node: without pings the LB's
    // routing cannot be seen.
    if !routed.iter().any(|r| r.op == Op::Ping) {
        let d = format!(
            "no ping went through the LB during {}; cannot see where it routed",
            w.name
        );
        return (Part::new(NAME, Verdict::Unknown, d), lb);
    }
    if !all_nodes.is_empty() && all_nodes.iter().all(|n| w.nodes.contains(n)) {
        let d = format!("{} drained every node; there was nowhere to route", w.name);
        return (Part::new(NAME, Verdict::Unknown, d), lb);
    }
    let last = to_drained.iter().copied().max();
    let convergence = last.map_or(0, |t| t - w.start_us);
    lb.convergence = Some(convergence);
    let who = drained_nodes(h, w);
    let still_at_end = last.is_some_and(|t| w.end_us.saturating_sub(t) < LAST_SECOND_US);
    if still_at_end {
        let d = format!(
            "LB kept routing to {who} for the whole {} ({} requests); {cause}",
            w.kind, lb.to_drained
        );
        return (Part::new(NAME, Verdict::Fail, d), lb);
    }
    if convergence > within {
        let d = format!(
            "LB kept routing to {who} for {} after {}, more than {} ({} requests after the bound); {cause}",
            secs(convergence),
            w.name,
            secs(within),
            lb.after_bound
        );
        return (Part::new(NAME, Verdict::Fail, d), lb);
    }
    let d = format!("LB stopped routing after {}", secs(convergence));
    (Part::new(NAME, Verdict::Pass, d), lb)
}

fn drained_nodes(h: &History, w: &FaultWindow) -> String {
    let labels: Vec<String> = w.nodes.iter().map(|n| h.label(n)).collect();
    match labels.as_slice() {
        [one] => format!("drained node {one}"),
        many => format!("drained nodes {}", many.join(", ")),
    }
}

/// What the failed-requests part counted.
pub(super) struct Failed {
    /// Failures by status or error, drained nodes' late 418s included.
    pub(super) by: BTreeMap<String, usize>,
    /// Drained nodes' 418s within the LB's window: its reaction time.
    pub(super) in_window: usize,
    /// Drained nodes' 418s after it, counted in `by` too.
    pub(super) after_window: usize,
}

/// c: no request through the LB fails during the window. A drained node's
/// 418 within `lb_within` of its drain (this one or one beside it) is the
/// LB's reaction time, reported but not a failure; a later one is a
/// failure, as `availability` counts it too.
pub(super) fn failed_part(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    drains: &[FaultWindow],
    in_window: &[&Request],
) -> (Part, Failed) {
    const NAME: &str = "failed_requests";
    let within = c.lb_within.value.as_micros_u64();
    let lb = LbWindows::every(within);
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let (mut reaction, mut late): (Vec<&Request>, Vec<&Request>) = (Vec::new(), Vec::new());
    for r in in_window {
        if !r.is_error() {
            continue;
        }
        match lb.classify(r, drains) {
            Some(Drained418::InWindow) => {
                reaction.push(r);
                continue;
            }
            Some(Drained418::AfterWindow) => late.push(r),
            None => {}
        }
        *by.entry(failure_label(r)).or_default() += 1;
    }
    // "67 answered 418 by drained node n1", and "it" or "them".
    let label = |rs: &[&Request]| {
        let nodes: Vec<String> = nodes_of(rs).iter().map(|n| h.label(n)).collect();
        let (who, them) = drained_by(&nodes);
        (format!("{} answered 418 by {who}", rs.len()), them)
    };
    let failed = Failed {
        by,
        in_window: reaction.len(),
        after_window: late.len(),
    };
    let before_out = (!reaction.is_empty()).then(|| {
        let (what, them) = label(&reaction);
        format!(
            "{what} before the LB took {them} out, within {}",
            secs(within)
        )
    });
    let total: usize = failed.by.values().sum();
    if total == 0 {
        let d = match &before_out {
            Some(b) => format!("0 failed requests ({b})"),
            None => "0 failed requests".into(),
        };
        return (Part::new(NAME, Verdict::Pass, d), failed);
    }
    let mut kinds: Vec<(&String, &usize)> = failed.by.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let mut d = format!(
        "{total} {} failed through the LB during {} ({})",
        if total == 1 { "request" } else { "requests" },
        w.name,
        kinds.join(", ")
    );
    if !late.is_empty() {
        let (what, them) = label(&late);
        let _ = write!(
            d,
            "; {what} more than {} after the drain, when the LB should have taken {them} out",
            secs(within)
        );
    }
    d.push_str("; a drain must not fail requests");
    if let Some(b) = &before_out {
        let _ = write!(d, " (not counted: {b})");
    }
    (Part::new(NAME, Verdict::Fail, d), failed)
}

/// How a request failed, in a word: its status, else its error.
fn failure_label(r: &Request) -> String {
    match (&r.status, &r.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(e)) => e.clone(),
        (None, None) => format!("{:?}", r.outcome).to_lowercase(),
    }
}

/// The drained nodes named in 418s among `requests`, sorted.
fn nodes_of(requests: &[&Request]) -> Vec<String> {
    let mut nodes: Vec<String> = requests.iter().filter_map(|r| r.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    nodes
}
