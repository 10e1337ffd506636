//! Figures derived from a recorded history, which the checks judge and the
//! report shows alike: latency histograms and percentiles, throughput, the
//! tasks', drains' and uploads' figures, and what clean-up left. They live
//! below both, so a check that compares figures (`no_regression`) and the
//! report that prints them compute them the one same way, and neither
//! imports the other for it.

mod capacity;
mod cleanup;
mod figures;
mod generator;
mod tasks;
pub mod usl;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::History;

#[cfg(test)]
pub(crate) use capacity::tests as capacity_tests;
pub use capacity::{
    CapacityReport, LevelReport, Prediction, StepReport, StepVerdict, amount, capacity, judge_step,
    judge_task_step, judge_upload_step, node_count, rate,
};
pub use cleanup::{CleanupReport, Outcome, Removal, TaskLeft, cleanup};
pub use figures::{HISTOGRAM_MAX_US, HISTOGRAM_SIGFIG, histogram, histogram_of, percentile_us};
pub(crate) use figures::{ms, secs};
pub use generator::{GeneratorFigures, generator, samples as generator_samples};
pub use tasks::tasks as task_report;
pub use tasks::{DrainReport, DrainStep, Percentiles, TaskReport, UploadReport};
pub(crate) use tasks::{drains, uploads};

/// Throughput and latency of requests intended after warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Requests judged.
    pub requests: u64,
    /// Of which failed or indeterminate.
    pub errors: u64,
    /// Of which indeterminate.
    pub indeterminate: u64,
    /// Requests completed per second.
    pub rps: f64,
    /// Seconds the judged part of the run lasted.
    pub duration_s: f64,
    /// Latency of successful requests, from the intended start.
    pub latency_ms: LatencyMs,
    /// Requests per kind.
    pub by_op: BTreeMap<String, u64>,
}

/// Latency percentiles in milliseconds, from an HDR histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// The histogram's significant figures.
    pub significant_figures: u8,
}

/// Throughput and latency of the requests intended after warm-up.
pub fn metrics(history: &History) -> Metrics {
    let from = history.measured_from();
    let (mut requests, mut errors, mut indeterminate, mut last_done) = (0u64, 0u64, 0u64, from);
    let mut by_op: BTreeMap<String, u64> = BTreeMap::new();
    for r in history.measured_requests() {
        requests += 1;
        last_done = last_done.max(r.done_us);
        if r.is_error() {
            errors += 1;
        }
        if r.outcome == crate::history::Outcome::Indeterminate {
            indeterminate += 1;
        }
        *by_op.entry(r.op.as_str().to_string()).or_default() += 1;
    }
    let duration_us = last_done.saturating_sub(from);
    let hist = histogram(history.measured_requests().filter(|r| !r.is_error()));
    let pct = |p| percentile_us(&hist, p).map(ms).unwrap_or(0.0);
    Metrics {
        requests,
        errors,
        indeterminate,
        rps: if duration_us > 0 {
            requests as f64 / secs(duration_us)
        } else {
            0.0
        },
        duration_s: secs(duration_us),
        latency_ms: LatencyMs {
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
            max: if hist.is_empty() { 0.0 } else { ms(hist.max()) },
            significant_figures: HISTOGRAM_SIGFIG,
        },
        by_op,
    }
}
