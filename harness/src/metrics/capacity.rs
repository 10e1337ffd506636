//! A capacity search's figures, from its steps in the history: each step
//! judged against the objective by the same histograms the checks use,
//! each node count's sustained rate and what broke past it, the share of
//! capacity each drained node cost, the scaling law fitted to them, and
//! one line of conclusion (docs/capacity.md, "Finding the knee"). The
//! search judges each step as it goes with [`judge_step`], the one
//! judgement the report makes again from the history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::figures::{histogram, ms, percentile_us, secs};
use super::generator::{GeneratorFigures, figures, samples};
use super::usl::{self, Fit};
use crate::history::{CapacityStep, Event, GeneratorSample, History, Request};
use crate::scenario::{Capacity, GeneratorBound};

/// What a step showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    /// The cluster met the objective at this rate.
    Met,
    /// It did not.
    Missed,
    /// The generator fell behind: the step says nothing of the cluster.
    GeneratorBound,
}

/// One step, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The rate offered, per second.
    pub offered: f64,
    /// Successful responses per second of the step.
    pub achieved: f64,
    /// `ladder` or `bisect`.
    pub part: String,
    /// Requests intended in the step.
    pub requests: u64,
    /// Of which failed or without an answer.
    pub errors: u64,
    /// Their share.
    pub error_rate: f64,
    /// Median latency of successful requests from the intended start, ms.
    pub p50_ms: f64,
    /// Their 99th percentile, ms.
    pub p99_ms: f64,
    /// What the generator did meanwhile.
    pub generator: GeneratorFigures,
    /// The verdict.
    pub verdict: StepVerdict,
    /// Why: what broke, or why the generator was the limit.
    pub why: String,
}

/// The search at one node count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelReport {
    /// Nodes serving.
    pub nodes: u32,
    /// The nodes drained.
    pub drained: Vec<String>,
    /// Its steps in the order they ran.
    pub steps: Vec<StepReport>,
    /// The highest rate that met the objective.
    pub sustained: Option<f64>,
    /// The lowest rate above it that missed: with `sustained`, the bracket
    /// the knee is in.
    pub missed: Option<f64>,
    /// The capacity: `sustained`, when a missed step bounds it from above
    /// (not a ceiling reached, nor the generator's limit).
    pub capacity: Option<f64>,
    /// Capacity lost against every node serving, as a share.
    pub lost: Option<f64>,
    /// What ended the search here.
    pub limit: String,
    /// The generator was the limit: no capacity is claimed.
    pub generator_bound: bool,
    /// Why this node count could not be measured.
    pub error: Option<String>,
}

/// What the scaling law predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Nodes.
    pub nodes: u32,
    /// The predicted capacity, per second.
    pub rate: f64,
    /// Against the largest node count measured, as a share.
    pub gain: f64,
}

/// A capacity search's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Which search: `api`.
    pub search: String,
    /// The objective, in words.
    pub objective: String,
    /// The objective's p99 bound, ms (for the latency curve).
    pub objective_p99_ms: f64,
    /// Each node count, most nodes first.
    pub levels: Vec<LevelReport>,
    /// The Universal Scalability Law fitted to the capacities.
    pub fit: Option<Fit>,
    /// Why no law was fitted.
    pub fit_error: Option<String>,
    /// Its predictions for one and two nodes more.
    pub predictions: Vec<Prediction>,
    /// One line: what the cluster sustains, what a lost node costs, and
    /// what another would add.
    pub conclusion: String,
}

/// Judges one step from its requests (those intended within it are
/// taken) and the generator's samples around it.
pub fn judge_step<'a>(
    step: &CapacityStep,
    requests: impl IntoIterator<Item = &'a Request> + Clone,
    samples: &[GeneratorSample],
    cap: &Capacity,
    rule: &GeneratorBound,
) -> StepReport {
    let window = (step.from_us, step.to_us);
    let inside: Vec<&Request> = requests
        .clone()
        .into_iter()
        .filter(|r| r.intended_us >= window.0 && r.intended_us < window.1)
        .collect();
    let generator = figures(requests, samples, window, rule);
    let n = inside.len() as u64;
    let errors = inside.iter().filter(|r| r.is_error()).count() as u64;
    let error_rate = if n == 0 {
        0.0
    } else {
        errors as f64 / n as f64
    };
    let hist = histogram(inside.iter().copied().filter(|r| !r.is_error()));
    let pct = |p| percentile_us(&hist, p).map(ms);
    let p99 = pct(99.0);
    let hold = secs(step.to_us.saturating_sub(step.from_us)).max(1e-6);
    // Delivered, not offered: answers that came within the hold.
    let delivered = inside
        .iter()
        .filter(|r| !r.is_error() && r.done_us <= step.to_us)
        .count();
    let objective = &cap.api.objective;
    let mut broke = Vec::new();
    if n == 0 {
        broke.push("no request was made".to_string());
    }
    if n > 0 && error_rate > objective.max_error_rate.value.fraction() {
        broke.push(format!(
            "{:.1}% errors, over {}: {}",
            error_rate * 100.0,
            objective.max_error_rate.value,
            mostly(&inside)
        ));
    }
    let bound_ms = ms(objective.p99.value.as_micros_u64());
    match p99 {
        Some(p) if p >= bound_ms => broke.push(format!(
            "p99 {p:.1} ms, not under {}{}",
            objective.p99.value,
            slowest(&inside)
        )),
        None if n > 0 => broke.push("no request succeeded".to_string()),
        _ => {}
    }
    let (verdict, why) = match (&generator.bound, broke.is_empty()) {
        (Some(bound), _) => (StepVerdict::GeneratorBound, bound.clone()),
        (None, true) => (
            StepVerdict::Met,
            format!(
                "p99 {:.1} ms, {:.1}% errors",
                p99.unwrap_or(0.0),
                error_rate * 100.0
            ),
        ),
        (None, false) => (StepVerdict::Missed, broke.join("; ")),
    };
    StepReport {
        offered: step.rate,
        achieved: delivered as f64 / hold,
        part: step.part.clone(),
        requests: n,
        errors,
        error_rate,
        p50_ms: pct(50.0).unwrap_or(0.0),
        p99_ms: p99.unwrap_or(0.0),
        generator,
        verdict,
        why,
    }
}

/// The commonest failure among the requests, and who gave it.
fn mostly(requests: &[&Request]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.is_error()) {
        let what = match (r.status, &r.error) {
            (Some(s), _) => format!("{s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".to_string(),
        };
        let who = match (&r.node, r.status) {
            (Some(node), _) => format!("from {node}"),
            (None, Some(_)) => "through the LB".to_string(),
            (None, None) => "at the LB's address".to_string(),
        };
        *counts.entry(format!("{what} {who}")).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or_else(String::new, |(what, n)| format!("mostly {what} ({n})"))
}

/// The node whose successful requests were slowest, where requests name
/// their node and more than one did.
fn slowest(requests: &[&Request]) -> String {
    let mut by_node: BTreeMap<&str, Vec<&Request>> = BTreeMap::new();
    for r in requests.iter().filter(|r| !r.is_error()) {
        if let Some(node) = &r.node {
            by_node.entry(node).or_default().push(r);
        }
    }
    if by_node.len() < 2 {
        return String::new();
    }
    by_node
        .into_iter()
        .filter_map(|(node, rs)| percentile_us(&histogram(rs.into_iter()), 99.0).map(|p| (node, p)))
        .max_by_key(|(_, p)| *p)
        .map_or_else(String::new, |(node, p)| {
            format!(" (slowest: {node}, p99 {:.1} ms)", ms(p))
        })
}

/// The search's result from a history.
pub fn capacity(history: &History, cap: &Capacity, rule: &GeneratorBound) -> CapacityReport {
    let samples = samples(history);
    let requests: Vec<&Request> = history.requests().collect();
    let mut levels: Vec<LevelReport> = Vec::new();
    for e in &history.events {
        match e {
            Event::CapacityLevel(l) => levels.push(LevelReport {
                nodes: l.nodes,
                drained: l.drained.clone(),
                steps: Vec::new(),
                sustained: None,
                missed: None,
                capacity: None,
                lost: None,
                limit: String::new(),
                generator_bound: false,
                error: l.error.clone(),
            }),
            Event::CapacityStep(step) => {
                let judged = judge_step(step, requests.iter().copied(), &samples, cap, rule);
                if let Some(level) = levels.iter_mut().rev().find(|l| l.nodes == step.nodes) {
                    level.steps.push(judged);
                }
            }
            _ => {}
        }
    }
    let (start, ceiling) = (cap.api.start.value.get(), cap.api.ceiling.value.get());
    for level in &mut levels {
        conclude(level, start, ceiling);
    }
    let full = levels.first().and_then(|l| l.capacity);
    for level in levels.iter_mut().skip(1) {
        level.lost = full.zip(level.capacity).map(|(f, c)| 1.0 - c / f);
    }
    let points: Vec<(u32, f64)> = levels
        .iter()
        .filter_map(|l| l.capacity.map(|c| (l.nodes, c)))
        .collect();
    let (fit, fit_error) = match usl::fit(&points) {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    let most = levels.iter().map(|l| l.nodes).max().unwrap_or(0);
    let predictions = fit
        .as_ref()
        .zip(full)
        .map(|(f, full)| {
            (1..=2)
                .map(|more| {
                    let rate = f.predict(f64::from(most + more));
                    Prediction {
                        nodes: most + more,
                        rate,
                        gain: rate / full - 1.0,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let objective = format!(
        "p99 < {}, errors ≤ {}",
        cap.api.objective.p99.value, cap.api.objective.max_error_rate.value
    );
    let mut report = CapacityReport {
        search: "api".to_string(),
        objective,
        objective_p99_ms: ms(cap.api.objective.p99.value.as_micros_u64()),
        levels,
        fit,
        fit_error,
        predictions,
        conclusion: String::new(),
    };
    report.conclusion = conclusion(&report);
    report
}

/// A level's sustained rate, its bracket, and what ended its search.
fn conclude(level: &mut LevelReport, start: f64, ceiling: f64) {
    let rate_of = |v: StepVerdict| {
        level
            .steps
            .iter()
            .filter(move |s| s.verdict == v)
            .map(|s| s.offered)
    };
    level.sustained = rate_of(StepVerdict::Met).reduce(f64::max);
    let above = |r: &f64| level.sustained.is_none_or(|s| *r > s);
    level.missed = rate_of(StepVerdict::Missed).filter(above).reduce(f64::min);
    let bound = level
        .steps
        .iter()
        .filter(|s| s.verdict == StepVerdict::GeneratorBound && above(&s.offered))
        .min_by(|a, b| a.offered.total_cmp(&b.offered));
    // A step met and one missed bracket the knee whatever a step between
    // them says of the generator; without a missed one, the generator's
    // ceiling came first.
    level.generator_bound = bound.is_some() && level.missed.is_none();
    level.capacity = level.sustained.filter(|_| level.missed.is_some());
    let took = level.sustained.map_or_else(
        || "no step met the objective".to_string(),
        |s| format!("the cluster took at least {}/s", rate(s)),
    );
    level.limit = if let Some(e) = &level.error {
        format!("not measured: {e}")
    } else if let (true, Some(b)) = (level.generator_bound, bound) {
        format!(
            "the generator's ceiling at {}/s ({}): {took}; raise the ceiling with a bigger machine or more CPUs for the harness, or shards of the load",
            rate(b.offered),
            b.why,
        )
    } else if let Some(m) = level.missed {
        let why = level
            .steps
            .iter()
            .find(|s| s.offered == m && s.verdict == StepVerdict::Missed)
            .map_or("", |s| s.why.as_str());
        let below = if level.sustained.is_none() {
            format!("the knee is below the start, {}/s: ", rate(start))
        } else {
            String::new()
        };
        let coarse = bound.map_or_else(String::new, |b| {
            format!(
                " (the bisection stopped at {}/s, where the generator fell behind)",
                rate(b.offered)
            )
        });
        format!("{below}at {}/s: {why}{coarse}", rate(m))
    } else if level.sustained.is_some_and(|s| s >= ceiling) {
        format!(
            "met the objective up to the ceiling, {}/s: the cluster's knee is higher",
            rate(ceiling)
        )
    } else {
        "no step finished".to_string()
    };
}

/// A rate as the conclusion writes it: whole, with thousands grouped.
pub fn rate(r: f64) -> String {
    let whole = r.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 node`, `3 nodes`.
pub fn node_count(n: u32) -> String {
    format!("{n} node{}", if n == 1 { "" } else { "s" })
}

/// The one line of conclusion.
fn conclusion(r: &CapacityReport) -> String {
    let Some(full) = r.levels.first() else {
        return "the search measured nothing".to_string();
    };
    let mut line = match full.capacity {
        Some(c) => format!(
            "{} sustain{} {} req/s at {}",
            node_count(full.nodes),
            if full.nodes == 1 { "s" } else { "" },
            rate(c),
            r.objective
        ),
        None => format!("{}: {}", node_count(full.nodes), full.limit),
    };
    for level in r.levels.iter().skip(1) {
        let drained = full.nodes.saturating_sub(level.nodes);
        let with = match drained {
            1 => "one drained".to_string(),
            2 => "two drained".to_string(),
            n => format!("{n} drained"),
        };
        line.push_str(&match (level.capacity, level.lost) {
            (Some(c), Some(l)) => format!("; with {with}, {} ({})", rate(c), signed(-l)),
            (Some(c), None) => format!("; with {with}, {}", rate(c)),
            (None, _) => format!("; with {with}, {}", level.limit),
        });
    }
    match (r.predictions.first(), &r.fit_error, &r.fit) {
        (Some(p), _, Some(f)) => {
            let verb = if p.gain >= 0.0 { "add" } else { "take away" };
            line.push_str(&format!(
                "; a node more ({}) would {verb} about {:.0}%",
                p.nodes,
                p.gain.abs() * 100.0
            ));
            // Three figures for three unknowns: the law passes through
            // them, and predicts no better than they were measured.
            if f.points == 3 {
                line.push_str(" (by a law through three points)");
            }
        }
        (None, Some(e), _) => line.push_str(&format!("; no scaling law: {e}")),
        _ => {}
    }
    line
}

/// A share with its sign: `−24%`, `+3%`.
fn signed(share: f64) -> String {
    let pct = (share * 100.0).round();
    if pct < 0.0 {
        format!("−{:.0}%", -pct)
    } else {
        format!("+{pct:.0}%")
    }
}

#[cfg(test)]
pub(crate) mod tests;
