//! `availability`: the error rate through the LB stays under a bound, and
//! no request fails outside a fault window (widened by a grace period).

use serde_json::{Value, json};

use super::{Verdict, secs};
use crate::history::History;
use crate::scenario::Availability;

pub(super) fn judge(c: &Availability, h: &History) -> (Verdict, String, Value) {
    let windows = h.fault_windows();
    let grace = c.grace.as_micros_u64();
    let (mut total, mut errors, mut outside) = (0u64, 0u64, 0u64);
    let mut first_outside = None;
    for r in h.measured_requests() {
        total += 1;
        if !r.is_error() {
            continue;
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
    });
    let pct = rate * 100.0;
    if rate > c.max_error_rate.fraction() {
        let detail = format!(
            "error rate {pct:.2}% is above {}: {errors} of {total} requests failed",
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
            "{outside} errors outside fault windows (+{} grace); the first at {} was {what}",
            c.grace,
            secs(r.intended_us)
        );
        return (Verdict::Fail, detail, evidence);
    }
    let detail = format!(
        "error rate {pct:.2}% ({errors} of {total}) is within {}, none outside fault windows",
        c.max_error_rate
    );
    (Verdict::Pass, detail, evidence)
}
