//! The load generator's own figures over a window of a run: how late it
//! sent requests against their intended starts, how much of its CPU it
//! used, its open files and sockets, and whether by the scenario's rule
//! it, not the cluster, was the limit (docs/capacity.md, "The generator's
//! self-check").

use serde::{Deserialize, Serialize};

use super::figures::{histogram_of, ms, percentile_us};
use crate::history::{Event, GeneratorSample, History, Request};
use crate::scenario::GeneratorBound;

/// What the generator did over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorFigures {
    /// Requests it was due to send in the window.
    pub requests: u64,
    /// Of which held back by `max_in_flight` (the cluster's slowness,
    /// not the generator's): left out of the send lag.
    pub held: u64,
    /// Median send lag, in milliseconds.
    pub send_lag_p50_ms: f64,
    /// 99th percentile of the send lag, in milliseconds.
    pub send_lag_p99_ms: f64,
    /// The share of requests sent later than the rule's `late_after`.
    pub late_share: f64,
    /// The share of its CPUs it used, where samples span the window.
    pub cpu_share: Option<f64>,
    /// The CPUs it may use.
    pub cpus: Option<f64>,
    /// Most open file descriptors seen.
    pub peak_fds: Option<u32>,
    /// Most open sockets seen.
    pub peak_sockets: Option<u32>,
    /// Why the generator was the limit, when by the rule it was.
    pub bound: Option<String>,
}

impl GeneratorFigures {
    /// The send lag's p99, ms; None where nothing was scheduled in the
    /// window (an upload step's uploaders go one after another).
    pub fn lag_p99_ms(&self) -> Option<f64> {
        (self.requests > 0).then_some(self.send_lag_p99_ms)
    }
}

/// One request the generator was due to send: a REST request, or a task's
/// submission.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// When it was due.
    pub due_us: u64,
    /// How late it left.
    pub lag_us: u64,
    /// It waited for a slot (`max_in_flight`): the cluster held it.
    pub held: bool,
}

impl From<&Request> for Sent {
    fn from(r: &Request) -> Self {
        Self {
            due_us: r.intended_us,
            lag_us: r.send_lag_us(),
            held: r.held,
        }
    }
}

/// The generator's figures for the requests due from `from_us` until
/// `to_us`, and the samples around that window.
pub fn figures(
    sent: impl IntoIterator<Item = Sent>,
    samples: &[GeneratorSample],
    (from_us, to_us): (u64, u64),
    rule: &GeneratorBound,
) -> GeneratorFigures {
    let late_after = rule.late_after.value.as_micros_u64();
    let mut lags = Vec::new();
    let (mut requests_n, mut held, mut late) = (0u64, 0u64, 0u64);
    for r in sent {
        if r.due_us < from_us || r.due_us >= to_us {
            continue;
        }
        requests_n += 1;
        if r.held {
            held += 1;
            continue;
        }
        let lag = r.lag_us;
        lags.push(lag);
        if lag > late_after {
            late += 1;
        }
    }
    let hist = histogram_of(lags.into_iter());
    let timed = requests_n - held;
    let late_share = if timed == 0 {
        0.0
    } else {
        late as f64 / timed as f64
    };
    // The samples that span the window, or as much of it as was sampled.
    let first = samples
        .iter()
        .rev()
        .find(|s| s.at_us <= from_us)
        .or(samples.first());
    let last = samples.iter().find(|s| s.at_us >= to_us).or(samples.last());
    let cpu_share = first.zip(last).and_then(|(a, b)| {
        let wall = b.at_us.saturating_sub(a.at_us);
        (wall > 0 && b.cpus > 0.0)
            .then(|| b.cpu_us.saturating_sub(a.cpu_us) as f64 / wall as f64 / b.cpus)
    });
    let within = samples
        .iter()
        .filter(|s| s.at_us >= from_us && s.at_us <= to_us);
    let peak_fds = within.clone().map(|s| s.fds).max();
    let peak_sockets = within.map(|s| s.sockets).max();
    let pct = |p| percentile_us(&hist, p).map(ms).unwrap_or(0.0);
    let mut bound = Vec::new();
    if late_share > rule.max_late.value.fraction() {
        bound.push(format!(
            "{:.1}% of requests were sent more than {} late (more than {})",
            late_share * 100.0,
            rule.late_after.value,
            rule.max_late.value
        ));
    }
    if let Some(cpu) = cpu_share
        && cpu > rule.max_cpu.value.fraction()
    {
        bound.push(format!(
            "it used {:.0}% of its {} CPU(s) (more than {})",
            cpu * 100.0,
            last.map_or(0.0, |s| s.cpus),
            rule.max_cpu.value
        ));
    }
    GeneratorFigures {
        requests: requests_n,
        held,
        send_lag_p50_ms: pct(50.0),
        send_lag_p99_ms: pct(99.0),
        late_share,
        cpu_share,
        cpus: last.or(first).map(|s| s.cpus),
        peak_fds,
        peak_sockets,
        bound: (!bound.is_empty()).then(|| bound.join("; ")),
    }
}

/// The generator's samples in a history, in time order.
pub fn samples(history: &History) -> Vec<GeneratorSample> {
    history
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Generator(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// The generator's figures over the judged part of a run (from the end
/// of the warm-up to the end of the history), where it sent requests.
pub fn generator(history: &History, rule: &GeneratorBound) -> Option<GeneratorFigures> {
    let window = (history.measured_from(), history.end_us().saturating_add(1));
    let sent = history.requests().map(Sent::from);
    let figures = figures(sent, &samples(history), window, rule);
    (figures.requests > 0).then_some(figures)
}
