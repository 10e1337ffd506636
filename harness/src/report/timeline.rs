//! The run as a time series: per second, the requests that completed in it
//! (successes and errors) and the latency percentiles of its successes, each
//! second from its own HDR histogram. Percentiles of different seconds are
//! never averaged; the whole run's come from one histogram in `metrics`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::metrics::{HISTOGRAM_SIGFIG, histogram_of, percentile_us};
use crate::metrics::{ms, secs};

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
    /// How much of this second the run's requests spanned, from the first
    /// one's intended start to the last one's end: 1 but at the ends. A
    /// rate over a part of a second is no rate, so `report.html` plots
    /// throughput over whole seconds only.
    #[serde(default = "whole")]
    pub covered_s: f64,
}

fn whole() -> f64 {
    1.0
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
    let (mut from_us, mut to_us) = (u64::MAX, 0u64);
    for r in history.requests() {
        from_us = from_us.min(r.intended_us);
        to_us = to_us.max(r.done_us);
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
            let start = t.saturating_mul(INTERVAL_US);
            let end = start.saturating_add(INTERVAL_US);
            let covered = end.min(to_us).saturating_sub(start.max(from_us));
            points.push(TimelinePoint {
                t_s: t,
                ok,
                errors,
                p50_ms: pct(50.0),
                p99_ms: pct(99.0),
                covered_s: secs(covered),
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

#[cfg(test)]
pub(in crate::report) mod tests {
    use super::*;
    use crate::history::{Event, Op, Outcome, Request};

    /// 250 requests a second intended from 0.4 s to 25.4 s, each done 1 ms
    /// later.
    pub(in crate::report) fn steady() -> History {
        let events = (0..25 * 250u64)
            .map(|seq| {
                let t = 400_000 + seq * 4_000;
                Event::Request(Request {
                    seq,
                    op: Op::Ping,
                    intended_us: t,
                    sent_us: t,
                    done_us: t + 1_000,
                    outcome: Outcome::Ok,
                    status: Some(200),
                    error: None,
                    bytes: 1,
                    node: Some("n1".into()),
                    held: false,
                    load: false,
                })
            })
            .collect();
        History { events }
    }

    #[test]
    fn r17_the_first_and_last_seconds_say_how_much_of_them_the_run_covered() {
        let t = timeline(&steady());
        let first = &t.points[0];
        let last = t.points.last().unwrap();
        assert_eq!((first.t_s, first.covered_s), (0, 0.6));
        assert_eq!(last.t_s, 25);
        assert!((last.covered_s - 0.397).abs() < 1e-9, "{last:?}");
        assert!(
            t.points[1..t.points.len() - 1]
                .iter()
                .all(|p| p.covered_s == 1.0 && p.ok == 250)
        );
    }
}
