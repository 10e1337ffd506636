//! What every figure is made with: the latency histogram (its bounds and
//! precision, the same for all so any two merge), a percentile read from
//! it, and microseconds in the seconds and milliseconds reports give.

use hdrhistogram::Histogram;

use crate::history::Request;

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

/// Microseconds as seconds.
pub(crate) fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Microseconds as milliseconds.
pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}
