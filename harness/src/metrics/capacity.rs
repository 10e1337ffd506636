//! A capacity search's figures, from its steps in the history: each step
//! judged against the objective by the same histograms the checks use,
//! each node count's sustained rate and what broke past it, the share of
//! capacity each drained node cost, the scaling law fitted to them, and
//! one line of conclusion, for each search the scenario asks for
//! (docs/capacity.md, "Finding the knee"). The search judges each step as
//! it goes by the judgements of `step`, which the report makes again from
//! the history.

mod step;
mod uploads;

use serde::{Deserialize, Serialize};

use super::figures::ms;
use super::generator::samples;
use super::usl::{self, Fit};
use crate::history::{Event, GeneratorSample, History, Request, TaskRecord, UploadAttempt};
use crate::scenario::{Capacity, GeneratorBound, SearchKind};
pub use step::{StepReport, StepVerdict, judge_step, judge_task_step};
pub use uploads::judge_upload_step;

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
    /// Which search: `api`, `tasks` or `uploads`.
    pub search: SearchKind,
    /// What its steps offer: `req/s`, `tasks/s` or `uploads at once`.
    pub unit: String,
    /// What a step's achieved figure counts: `req/s`, `tasks/s` or
    /// `MiB/s` through the hold.
    pub achieved_unit: String,
    /// What its steps' p50 and p99 measure: `latency` (from each
    /// request's intended start), `pick-up` or `duration` (from each
    /// task's intended submission), or an upload's `duration` (from its
    /// start, connecting included).
    pub measure: String,
    /// The objective, in words.
    pub objective: String,
    /// The objective's bound on that p99, ms (for the latency curve).
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

/// Each search's result from a history, in the order they ran.
pub fn capacity(history: &History, cap: &Capacity, rule: &GeneratorBound) -> Vec<CapacityReport> {
    // Read out of the history once, for every search.
    let seen = Seen {
        samples: samples(history),
        requests: history.requests().collect(),
        tasks: history.task_records(),
        uploads: history.uploads().collect(),
    };
    cap.searches()
        .into_iter()
        .map(|kind| search_report(history, &seen, cap, kind, rule))
        .collect()
}

/// What a search's steps are judged from.
struct Seen<'a> {
    samples: Vec<GeneratorSample>,
    requests: Vec<&'a Request>,
    tasks: Vec<TaskRecord<'a>>,
    uploads: Vec<&'a UploadAttempt>,
}

/// One search's result.
fn search_report(
    history: &History,
    seen: &Seen<'_>,
    cap: &Capacity,
    kind: SearchKind,
    rule: &GeneratorBound,
) -> CapacityReport {
    let Seen {
        samples,
        requests,
        tasks,
        uploads,
    } = seen;
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
            Event::CapacityStep(step) if step.search == kind.name() => {
                let judged = match (kind, &cap.api, &cap.tasks, &cap.uploads) {
                    (SearchKind::Api, Some(api), _, _) => {
                        judge_step(step, requests.iter().copied(), samples, api, rule)
                    }
                    (SearchKind::Tasks, _, Some(search), _) => judge_task_step(
                        step,
                        tasks,
                        history.task_submissions(),
                        samples,
                        search,
                        rule,
                    ),
                    (SearchKind::Uploads, _, _, Some(search)) => {
                        judge_upload_step(step, uploads.iter().copied(), samples, search, rule)
                    }
                    _ => continue,
                };
                if let Some(level) = levels.iter_mut().rev().find(|l| l.nodes == step.nodes) {
                    level.steps.push(judged);
                }
            }
            _ => {}
        }
    }
    if let Some(l) = cap.ladder(kind) {
        for level in &mut levels {
            conclude(level, kind, l.start, l.ceiling);
        }
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
    let (measure, objective, bound_ms) = objective(cap, kind);
    let mut report = CapacityReport {
        search: kind,
        unit: kind.unit().to_string(),
        achieved_unit: kind.achieved_unit().to_string(),
        measure,
        objective,
        objective_p99_ms: bound_ms,
        levels,
        fit,
        fit_error,
        predictions,
        conclusion: String::new(),
    };
    report.conclusion = conclusion(&report);
    report
}

/// A search's measure, its objective in words, and the bound on the
/// measure's p99 in ms.
fn objective(cap: &Capacity, kind: SearchKind) -> (String, String, f64) {
    match (kind, &cap.api, &cap.tasks, &cap.uploads) {
        (SearchKind::Api, Some(api), _, _) => (
            "latency".to_string(),
            format!(
                "p99 < {}, errors ≤ {}",
                api.objective.p99.value, api.objective.max_error_rate.value
            ),
            ms(api.objective.p99.value.as_micros_u64()),
        ),
        (SearchKind::Tasks, _, Some(t), _) => {
            let o = &t.objective;
            let mut words = Vec::new();
            if let Some(p) = &o.pickup {
                words.push(format!("pick-up p99 < {}", p.value));
            }
            if let Some(d) = &o.duration {
                words.push(format!("duration p99 < {}", d.value));
            }
            words.push(format!("failures ≤ {}", o.max_failed.value));
            let bound = o.bound().map_or(0, |b| b.value.as_micros_u64());
            (o.measure().to_string(), words.join(", "), ms(bound))
        }
        (SearchKind::Uploads, _, _, Some(u)) => (
            "duration".to_string(),
            format!(
                "{} each, duration p99 < {}, failures ≤ {}",
                u.size.value, u.objective.duration.value, u.objective.max_failed.value
            ),
            ms(u.objective.duration.value.as_micros_u64()),
        ),
        _ => (String::new(), String::new(), 0.0),
    }
}

/// A level's sustained rate, its bracket, and what ended its search.
fn conclude(level: &mut LevelReport, kind: SearchKind, start: f64, ceiling: f64) {
    let at = |r: f64| amount(kind, r);
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
        |s| format!("the cluster took at least {}", at(s)),
    );
    level.limit = if let Some(e) = &level.error {
        format!("not measured: {e}")
    } else if let (true, Some(b)) = (level.generator_bound, bound) {
        format!(
            "the generator's ceiling at {} ({}): {took}; raise the ceiling with a bigger machine or more CPUs for the harness, or shards of the load",
            at(b.offered),
            b.why,
        )
    } else if let Some(m) = level.missed {
        let why = level
            .steps
            .iter()
            .find(|s| s.offered == m && s.verdict == StepVerdict::Missed)
            .map_or("", |s| s.why.as_str());
        let below = if level.sustained.is_none() {
            format!("the knee is below the start, {}: ", at(start))
        } else {
            String::new()
        };
        let coarse = bound.map_or_else(String::new, |b| {
            format!(
                " (the bisection stopped at {}, where the generator fell behind)",
                at(b.offered)
            )
        });
        format!("{below}at {}: {why}{coarse}", at(m))
    } else if level.sustained.is_some_and(|s| s >= ceiling) {
        format!(
            "met the objective up to the ceiling, {}: the cluster's knee is higher",
            at(ceiling)
        )
    } else {
        "no step finished".to_string()
    };
}

/// A rate as the conclusion writes it: whole, with thousands grouped; a
/// tenth kept under 100 where there is one (a task search's 12.5/s).
pub fn rate(r: f64) -> String {
    if r < 100.0 && (r - r.round()).abs() >= 0.05 {
        return format!("{r:.1}");
    }
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

/// A step's load as the report writes it: `3,100/s` of requests or
/// tasks, `8 at once` of uploads.
pub fn amount(kind: SearchKind, r: f64) -> String {
    match kind {
        SearchKind::Api | SearchKind::Tasks => format!("{}/s", rate(r)),
        SearchKind::Uploads => format!("{} at once", rate(r)),
    }
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
            "{} sustain{} {} {} at {}",
            node_count(full.nodes),
            if full.nodes == 1 { "s" } else { "" },
            rate(c),
            r.unit,
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
