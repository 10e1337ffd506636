//! `availability`: the error rate through the LB stays under a bound, and
//! no request fails outside a fault window (widened by a grace period).
//!
//! A drained node's 418 is counted as `drain_contract` counts it: within
//! the LB's allowed window (`lb_within` of the scenario's
//! `drain_contract`) it is the LB's reaction time, reported and not an
//! error; after it, or with no `drain_contract`, it is an error.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::drain::{Drained418, LbWindows, drained_by};
use super::verdict::{Verdict, secs};
use super::windows::judged_windows;
use crate::history::History;
use crate::scenario::Availability;
use crate::vocab::FaultKind;

pub(super) fn judge(c: &Availability, h: &History, lb: &LbWindows) -> (Verdict, String, Value) {
    let windows = h.fault_windows();
    let drains = judged_windows(h, None, &[FaultKind::Drain, FaultKind::Maintenance]);
    let grace = c.grace.as_micros_u64();
    let (mut total, mut errors, mut outside) = (0u64, 0u64, 0u64);
    let (mut in_lb_window, mut after_lb_window) = (0usize, 0usize);
    let mut drained_nodes: Vec<String> = Vec::new();
    let mut first_outside = None;
    for r in h.measured_requests() {
        total += 1;
        if !r.is_error() {
            continue;
        }
        if let Some(how) = lb.classify(r, &drains) {
            if let Some(n) = &r.node
                && !drained_nodes.contains(n)
            {
                drained_nodes.push(n.clone());
            }
            if how == Drained418::InWindow {
                in_lb_window += 1;
                continue;
            }
            after_lb_window += 1;
        }
        errors += 1;
        if !windows.iter().any(|w| w.overlaps(r, grace)) {
            outside += 1;
            first_outside.get_or_insert(r);
        }
    }
    if total == 0 {
        return (
            Verdict::Unknown,
            "no requests were recorded after warm-up".into(),
            json!({ "requests": 0 }),
        );
    }
    let rate = errors as f64 / total as f64;
    let evidence = json!({
        "requests": total,
        "errors": errors,
        "error_rate": rate,
        "max_error_rate": c.max_error_rate.fraction(),
        "errors_outside_fault_windows": outside,
        "grace_s": c.grace.get().as_secs_f64(),
        "drained_418_in_lb_window": in_lb_window,
        "drained_418_after_lb_window": after_lb_window,
    });
    drained_nodes.sort();
    let labels: Vec<String> = drained_nodes.iter().map(|n| h.label(n)).collect();
    // What the drained nodes' 418s were, said the way drain_contract says
    // it.
    let mut drained = String::new();
    let (who, them) = drained_by(&labels);
    if after_lb_window > 0 {
        let why = if lb.is_empty() {
            format!("no drain_contract gives the LB a window to take {them} out in")
        } else {
            format!(
                "later than the drain_contract's lb_within, when the LB should have taken {them} out"
            )
        };
        let _ = write!(
            drained,
            "; {after_lb_window} of the errors answered 418 by {who} ({why})"
        );
    }
    if in_lb_window > 0 {
        let _ = write!(
            drained,
            " (not counted: {in_lb_window} answered 418 by {who} before the LB took {them} out, within the drain_contract's lb_within)"
        );
    }
    let pct = rate * 100.0;
    if rate > c.max_error_rate.fraction() {
        let detail = format!(
            "error rate {pct:.2}% is above {}: {errors} of {total} requests failed{drained}",
            c.max_error_rate
        );
        return (Verdict::Fail, detail, evidence);
    }
    if let Some(r) = first_outside {
        let what = match (r.status, &r.error) {
            (Some(s), _) => format!("status {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "an error".into(),
        };
        let detail = format!(
            "{outside} errors outside fault windows (+{} grace); the first at {} was {what}{drained}",
            c.grace,
            secs(r.intended_us)
        );
        return (Verdict::Fail, detail, evidence);
    }
    let detail = format!(
        "error rate {pct:.2}% ({errors} of {total}) is within {}, none outside fault windows{drained}",
        c.max_error_rate
    );
    (Verdict::Pass, detail, evidence)
}
