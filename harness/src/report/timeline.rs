//! The run as a time series: per second, the requests that completed in it
//! (successes and errors) and the latency percentiles of its successes, each
//! second from its own HDR histogram. Percentiles of different seconds are
//! never averaged; the whole run's come from one histogram in `metrics`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ms, secs};
use crate::check::{HISTOGRAM_SIGFIG, histogram_of, percentile_us};
use crate::history::History;

/// One point per second, from the start of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of a point, in seconds.
    pub interval_s: f64,
    /// Where the measured part of the run starts (the end of warm-up).
    pub measured_from_s: f64,
    /// The histograms' significant figures.
    pub significant_figures: u8,
    /// Every second from the first completed request to the last, empty
    /// seconds included, so a stall shows as a gap at zero.
    pub points: Vec<TimelinePoint>,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the second, seconds since the start of the run.
    pub t_s: u64,
    /// Requests that completed successfully in this second.
    pub ok: u64,
    /// Requests that failed or gave up in this second.
    pub errors: u64,
    /// Median latency of this second's successes; None without any.
    pub p50_ms: Option<f64>,
    /// 99th percentile of this second's successes.
    pub p99_ms: Option<f64>,
}

const INTERVAL_US: u64 = 1_000_000;

/// Most points kept: two days, past any scenario's duration (at most a
/// day) with its warm-up, heal and settle; a history with a later time is
/// damaged, and its points stop there.
const MAX_POINTS: u64 = 2 * 86_400;

/// The time series of every request in the history, warm-up and settle
/// included, bucketed by when each completed: what a monitor watching the
/// cluster would have seen.
pub fn timeline(history: &History) -> Timeline {
    // Per second: (errors, latencies of successes).
    let mut seconds: BTreeMap<u64, (u64, Vec<u64>)> = BTreeMap::new();
    for r in history.requests() {
        let slot = seconds.entry(r.done_us / INTERVAL_US).or_default();
        if r.is_error() {
            slot.0 += 1;
        } else {
            slot.1.push(r.latency_us());
        }
    }
    let mut points = Vec::new();
    if let (Some(&first), Some(&last)) = (seconds.keys().next(), seconds.keys().next_back()) {
        for t in first..=last.min(first + MAX_POINTS - 1) {
            let (errors, latencies) = seconds.remove(&t).unwrap_or_default();
            let ok = latencies.len() as u64;
            let h = histogram_of(latencies.into_iter());
            let pct = |p| percentile_us(&h, p).map(ms);
            points.push(TimelinePoint {
                t_s: t,
                ok,
                errors,
                p50_ms: pct(50.0),
                p99_ms: pct(99.0),
            });
        }
    }
    Timeline {
        interval_s: secs(INTERVAL_US),
        measured_from_s: secs(history.measured_from()),
        significant_figures: HISTOGRAM_SIGFIG,
        points,
    }
}
