//! `latency`: a percentile of successful requests' latency, measured from
//! the intended start, stays under a bound; optionally leaving out requests
//! that overlap a fault window.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::Verdict;
use crate::history::{History, Request};
use crate::scenario::Latency;

/// Significant figures of every latency histogram; the report states it.
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// Largest latency a histogram holds, in microseconds (an hour); longer
/// ones are clamped to it. Fixed bounds keep every histogram mergeable.
pub const HISTOGRAM_MAX_US: u64 = 3_600_000_000;

/// An HDR histogram of requests' latencies in microseconds.
pub fn histogram<'a>(requests: impl Iterator<Item = &'a Request>) -> Histogram<u64> {
    histogram_of(requests.map(Request::latency_us))
}

/// An HDR histogram of any durations in microseconds, with the same bounds
/// and precision as every other, so they merge.
pub fn histogram_of(values_us: impl Iterator<Item = u64>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_US, HISTOGRAM_SIGFIG)
        .expect("constant bounds are valid");
    for v in values_us {
        h.saturating_record(v.max(1));
    }
    h
}

/// The `p`th percentile (0 to 100) in microseconds; None when empty.
pub fn percentile_us(h: &Histogram<u64>, p: f64) -> Option<u64> {
    (!h.is_empty()).then(|| h.value_at_percentile(p))
}

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
