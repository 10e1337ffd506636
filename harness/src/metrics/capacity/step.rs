//! One step of a capacity search, judged: REST requests by the latency of
//! each from its intended start, tasks by each one's pick-up or duration
//! from its intended submission, both against the objective and the
//! generator's own figures over the step (docs/capacity.md, "Finding the
//! knee"). The search judges each step as it ends, and the report again
//! from the history, by these same functions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::figures::{histogram, histogram_of, ms, percentile_us, secs};
use super::super::generator::{GeneratorFigures, Sent, figures};
use crate::history::{CapacityStep, GeneratorSample, Outcome, Request, TaskRecord, TaskSubmit};
use crate::scenario::{ApiSearch, GeneratorBound, TaskObjective, TaskSearch};
use crate::vocab::TaskState;

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

impl StepVerdict {
    /// As the run's progress and its page say it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::GeneratorBound => "generator-bound",
        }
    }
}

/// One step, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The rate offered, per second.
    pub offered: f64,
    /// Per second of the hold: successful responses within it, or tasks
    /// started within it that ended well.
    pub achieved: f64,
    /// `ladder` or `bisect`.
    pub part: String,
    /// Requests (or task submissions) intended in the step.
    pub requests: u64,
    /// Of which failed or without an answer (for tasks: a submission
    /// refused, a task Failed or TimedOut).
    pub errors: u64,
    /// Their share.
    pub error_rate: f64,
    /// Median of the search's measure, ms: the latency of successful
    /// requests from their intended start, or the pick-up (or duration)
    /// of the tasks that did not fail, from their intended submission.
    pub p50_ms: f64,
    /// Its 99th percentile, ms.
    pub p99_ms: f64,
    /// What the generator did meanwhile.
    pub generator: GeneratorFigures,
    /// The verdict.
    pub verdict: StepVerdict,
    /// Why: what broke, or why the generator was the limit.
    pub why: String,
}

/// Judges one step of the REST search from its requests (those intended
/// within it are taken) and the generator's samples around it.
pub fn judge_step<'a>(
    step: &CapacityStep,
    requests: impl IntoIterator<Item = &'a Request> + Clone,
    samples: &[GeneratorSample],
    api: &ApiSearch,
    rule: &GeneratorBound,
) -> StepReport {
    let window = (step.from_us, step.to_us);
    let inside: Vec<&Request> = requests
        .clone()
        .into_iter()
        .filter(|r| r.intended_us >= window.0 && r.intended_us < window.1)
        .collect();
    let generator = figures(requests.into_iter().map(Sent::from), samples, window, rule);
    let n = inside.len() as u64;
    let errors = inside.iter().filter(|r| r.is_error()).count() as u64;
    let error_rate = errors as f64 / n.max(1) as f64;
    let hist = histogram(inside.iter().copied().filter(|r| !r.is_error()));
    let pct = |p| percentile_us(&hist, p).map(ms);
    let p99 = pct(99.0);
    let hold = secs(step.to_us.saturating_sub(step.from_us)).max(1e-6);
    // Delivered, not offered: answers that came within the hold.
    let delivered = inside
        .iter()
        .filter(|r| !r.is_error() && r.done_us <= step.to_us)
        .count();
    let objective = &api.objective;
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
    let met = format!(
        "p99 {:.1} ms, {:.1}% errors",
        p99.unwrap_or(0.0),
        error_rate * 100.0
    );
    let (verdict, why) = verdict(&generator, broke, met);
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

/// A step's verdict: the generator's limit first (the step then says
/// nothing of the cluster), else met when nothing broke.
pub(super) fn verdict(
    generator: &GeneratorFigures,
    broke: Vec<String>,
    met: String,
) -> (StepVerdict, String) {
    match (&generator.bound, broke.is_empty()) {
        (Some(bound), _) => (StepVerdict::GeneratorBound, bound.clone()),
        (None, true) => (StepVerdict::Met, met),
        (None, false) => (StepVerdict::Missed, broke.join("; ")),
    }
}

/// A task in a step, as the judgement sees it.
struct Judged<'a> {
    record: &'a TaskRecord<'a>,
    failed: bool,
    /// Pick-up, or its lower bound for a task never seen started: until
    /// the step gave up on it, or it was last seen.
    pickup_us: u64,
    /// Its end from its intended submission, or a lower bound likewise.
    duration_us: u64,
}

/// The tasks due within `window`, each with its pick-up and duration.
fn judged<'a>(tasks: &'a [TaskRecord<'a>], window: (u64, u64), gave_up_us: u64) -> Vec<Judged<'a>> {
    let mut inside = Vec::new();
    for record in tasks {
        let Some(due_us) = record.submit.due_us else {
            continue;
        };
        if due_us < window.0 || due_us >= window.1 {
            continue;
        }
        let end = record.end();
        let failed = record.submit.outcome != Outcome::Ok
            || matches!(end, Some((TaskState::Failed | TaskState::TimedOut, _)));
        // A task never seen to start or to end waited at least until the
        // step gave up on it (and canceled it), or until it was last seen.
        let seen_until = record
            .last()
            .map_or(record.submit.done_us, |s| s.at_us)
            .max(gave_up_us);
        inside.push(Judged {
            record,
            failed,
            pickup_us: record
                .started_us()
                .unwrap_or(seen_until)
                .saturating_sub(due_us),
            duration_us: match end {
                Some((TaskState::Success | TaskState::Failed | TaskState::TimedOut, at)) => at,
                _ => seen_until,
            }
            .saturating_sub(due_us),
        });
    }
    inside
}

/// Judges one step of the task search from the tasks submitted in it
/// (those due within it are taken), the submissions that got no task, and
/// the generator's samples.
pub fn judge_task_step<'a>(
    step: &CapacityStep,
    tasks: &[TaskRecord<'_>],
    submissions: impl IntoIterator<Item = &'a TaskSubmit>,
    samples: &[GeneratorSample],
    search: &TaskSearch,
    rule: &GeneratorBound,
) -> StepReport {
    let window = (step.from_us, step.to_us);
    let gave_up_us = step.to_us + search.wait_after().as_micros() as u64;
    let inside = judged(tasks, window, gave_up_us);
    // Submissions that got no task have no record to follow.
    let refused: Vec<&TaskSubmit> = submissions
        .into_iter()
        .filter(|s| s.id.is_none() && s.due_us.is_some_and(|d| d >= window.0 && d < window.1))
        .collect();
    let sent = inside
        .iter()
        .map(|t| t.record.submit)
        .chain(refused.iter().copied())
        .filter_map(|s| {
            let due_us = s.due_us?;
            Some(Sent {
                due_us,
                lag_us: s.sent_us.saturating_sub(due_us),
                held: false,
            })
        });
    let generator = figures(sent, samples, window, rule);
    let n = (inside.len() + refused.len()) as u64;
    let errors = (inside.iter().filter(|t| t.failed).count() + refused.len()) as u64;
    let error_rate = errors as f64 / n.max(1) as f64;
    let objective = &search.objective;
    // The figure the table shows: pick-up where the objective bounds it.
    let shown = |t: &Judged<'_>| {
        if objective.pickup.is_some() {
            t.pickup_us
        } else {
            t.duration_us
        }
    };
    let hist = histogram_of(inside.iter().filter(|t| !t.failed).map(shown));
    let pct = |p| percentile_us(&hist, p).map(ms);
    let mut broke = Vec::new();
    if n == 0 {
        broke.push("no task was submitted".to_string());
    }
    if n > 0 && error_rate > objective.max_failed.value.fraction() {
        broke.push(format!(
            "{:.1}% of tasks failed, over {}: {}",
            error_rate * 100.0,
            objective.max_failed.value,
            mostly_failed(&inside, &refused)
        ));
    }
    let ok: Vec<&Judged<'_>> = inside.iter().filter(|t| !t.failed).collect();
    broke.extend(over_bounds(&ok, objective, n));
    let hold = secs(step.to_us.saturating_sub(step.from_us)).max(1e-6);
    let met = format!(
        "{} p99 {}, {:.1}% failed",
        objective.measure(),
        seconds(percentile_us(&hist, 99.0).unwrap_or(0)),
        error_rate * 100.0
    );
    let (verdict, why) = verdict(&generator, broke, met);
    StepReport {
        offered: step.rate,
        achieved: started_within(tasks, (step.lead_from_us, window.0, window.1)) as f64 / hold,
        part: step.part.clone(),
        requests: n,
        errors,
        error_rate,
        p50_ms: pct(50.0).unwrap_or(0.0),
        p99_ms: pct(99.0).unwrap_or(0.0),
        generator,
        verdict,
        why,
    }
}

/// What went past the objective's pick-up and duration bounds, among the
/// tasks that did not fail.
fn over_bounds(ok: &[&Judged<'_>], objective: &TaskObjective, n: u64) -> Vec<String> {
    let mut over = Vec::new();
    if ok.is_empty() && n > 0 {
        over.push("no task got through".to_string());
        return over;
    }
    for (what, bound, of) in [
        (
            "pick-up",
            &objective.pickup,
            (|t: &Judged<'_>| t.pickup_us) as fn(&Judged<'_>) -> u64,
        ),
        ("duration", &objective.duration, |t: &Judged<'_>| {
            t.duration_us
        }),
    ] {
        let Some(bound) = bound else { continue };
        let h = histogram_of(ok.iter().map(|t| of(t)));
        if let Some(p) = percentile_us(&h, 99.0)
            && p >= bound.value.as_micros_u64()
        {
            over.push(format!(
                "{what} p99 {}, not under {}{}",
                seconds(p),
                bound.value,
                queued_at_end(ok, bound.value.as_micros_u64(), of)
            ));
        }
    }
    over
}

/// Delivered, not offered: the step's tasks (due from its lead-in on)
/// that started within the hold and ended well, whenever they were due (a
/// queue drains at the rate the caps allow, whatever the rate offered).
fn started_within(
    tasks: &[TaskRecord<'_>],
    (lead_from_us, from_us, to_us): (u64, u64, u64),
) -> usize {
    tasks
        .iter()
        .filter(|t| {
            t.submit
                .due_us
                .is_some_and(|d| d >= lead_from_us && d < to_us)
        })
        .filter(|t| t.started_us().is_some_and(|at| at >= from_us && at < to_us))
        .filter(|t| matches!(t.end(), Some((TaskState::Success, _))))
        .count()
}

/// A time as a task's figures read: `850 ms`, `2.3 s`.
pub(super) fn seconds(us: u64) -> String {
    if us < 1_000_000 {
        format!("{:.0} ms", ms(us))
    } else {
        format!("{:.1} s", secs(us))
    }
}

/// How many of the tasks over the bound were never seen to get there:
/// a queue that outgrew the step.
fn queued_at_end(tasks: &[&Judged<'_>], bound_us: u64, of: fn(&Judged<'_>) -> u64) -> String {
    let over = tasks.iter().filter(|t| of(t) >= bound_us).count();
    let unstarted = tasks
        .iter()
        .filter(|t| of(t) >= bound_us && t.record.started_us().is_none())
        .count();
    match (over, unstarted) {
        (0, _) => String::new(),
        (o, 0) => format!(" ({o} over it)"),
        (o, u) => {
            format!(" ({o} over it, {u} of them never started before the step gave up on them)")
        }
    }
}

/// The commonest way tasks failed, and where.
fn mostly_failed(tasks: &[Judged<'_>], refused: &[&TaskSubmit]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let failed = tasks
        .iter()
        .filter(|t| t.failed)
        .map(|t| (t.record.submit, t.record.last()));
    for (s, last) in failed.chain(refused.iter().map(|s| (*s, None))) {
        let what = if s.outcome == Outcome::Ok && s.id.is_some() {
            let state = last.map_or("failed", |l| l.state.as_str());
            let on = last
                .and_then(|l| l.node.as_deref())
                .map(|n| format!(" on {n}"))
                .unwrap_or_default();
            let why = last
                .and_then(|l| l.error.as_deref())
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            format!("{state}{on}{why}")
        } else {
            match (s.status, &s.error) {
                (Some(code), _) if s.outcome == Outcome::Ok => {
                    format!("submission answered {code} without a task ID")
                }
                (Some(code), _) => format!("submission answered {code}"),
                (None, Some(e)) => format!("submission failed: {e}"),
                (None, None) => "submission unanswered".to_string(),
            }
        };
        *counts.entry(what).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or_else(String::new, |(what, n)| format!("mostly {what} ({n})"))
}
