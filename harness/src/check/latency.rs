//! `latency`: a percentile of successful requests' latency, measured from
//! the intended start, stays under a bound; optionally leaving out requests
//! that overlap a fault window.

use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::History;
use crate::metrics::{histogram, percentile_us};
use crate::scenario::Latency;

pub(super) fn judge(c: &Latency, h: &History) -> (Verdict, String, Value) {
    let windows = if c.outside_faults {
        h.fault_windows()
    } else {
        Vec::new()
    };
    let hist = histogram(
        h.measured_requests()
            .filter(|r| !r.is_error())
            .filter(|r| !windows.iter().any(|w| w.overlaps(r, 0))),
    );
    let p = c.percentile.value;
    let scope = if c.outside_faults {
        " outside fault windows"
    } else {
        ""
    };
    let Some(value) = percentile_us(&hist, p) else {
        return (
            Verdict::Unknown,
            format!("no successful requests{scope} to measure"),
            json!({ "samples": 0 }),
        );
    };
    let bound = c.below.as_micros_u64();
    let ms = value as f64 / 1000.0;
    let evidence = json!({
        "percentile": p,
        "value_ms": ms,
        "below_ms": bound as f64 / 1000.0,
        "samples": hist.len(),
        "outside_faults": c.outside_faults,
    });
    if value < bound {
        (
            Verdict::Pass,
            format!("p{p} is {ms:.2}ms{scope}, under {}", c.below),
            evidence,
        )
    } else {
        (
            Verdict::Fail,
            format!("p{p} is {ms:.2}ms{scope}, not under {}", c.below),
            evidence,
        )
    }
}
