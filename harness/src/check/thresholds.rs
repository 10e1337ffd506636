//! `load_threshold`: each goose threshold rule of the scenario's load phase
//! is a check of its own, judged on the history's load requests (those the
//! phase's users sent), so a split run's rules judge the load of every
//! shard together, as one process's judge its own. A rule reads as goose
//! reads it (docs/scenarios.md, "What each check judges, in detail"): a
//! percentile, `avg` or `max` of the response times, `error-rate` in
//! percent, or `rps` over the hold, optionally ` for ` one request as goose
//! names it. goose's own finding, where one process ran the whole phase,
//! is given beside; a history from before the harness judged the rules
//! itself (its requests unmarked) is judged by that finding alone.

use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::{Event, History, Request, ThresholdOutcome};
use crate::metrics::{histogram_of, percentile_us};

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Percentile(f64),
    Average,
    Maximum,
    ErrorRate,
    PerSecond,
}

/// A rule, read: `metric op limit [for request]`.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    metric: Metric,
    /// `<`, `<=`, `>` or `>=`.
    op: &'static str,
    /// Microseconds for a time, a percent, or requests a second.
    limit: f64,
    request: Option<String>,
}

/// A rule as goose reads it; None where its syntax is not goose's. A rule
/// goose refuses for its value (`p100<1s`, `error-rate>100`) reads here,
/// but validation refused it, with goose's reason, before any run.
fn parse(text: &str) -> Option<Rule> {
    let rule = text.trim();
    let at = rule.find(['<', '>', '='])?;
    let metric = match rule[..at].trim() {
        "avg" => Metric::Average,
        "max" => Metric::Maximum,
        "error-rate" => Metric::ErrorRate,
        "rps" => Metric::PerSecond,
        other => Metric::Percentile(number(other.strip_prefix('p')?)?),
    };
    let rest = &rule[at..];
    let op = ["<=", ">=", "<", ">"]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    // The value ends where ` for ` names the request.
    let rest = format!(" {}", rest[op.len()..].trim());
    let (value, request) = match rest.find(" for ") {
        Some(i) => (rest[..i].trim(), Some(rest[i + 5..].trim().to_string())),
        None => (rest.trim(), None),
    };
    let limit = match metric {
        Metric::ErrorRate => number(value.strip_suffix('%').unwrap_or(value))?,
        Metric::PerSecond => number(value)?,
        _ => {
            // A bare number is milliseconds.
            let (n, scale) = [("us", 1.0), ("ms", 1e3), ("s", 1e6)]
                .into_iter()
                .find_map(|(unit, scale)| Some((value.strip_suffix(unit)?, scale)))
                .unwrap_or((value, 1e3));
            number(n)? * scale
        }
    };
    Some(Rule {
        metric,
        op,
        limit,
        request: request.filter(|r| !r.is_empty()),
    })
}

/// Digits with at most one point: no sign, exponent or infinity.
fn number(text: &str) -> Option<f64> {
    let plain = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    plain.then(|| text.parse().ok()).flatten()
}

fn holds(observed: f64, op: &str, limit: f64) -> bool {
    match op {
        "<" => observed < limit,
        "<=" => observed <= limit,
        ">" => observed > limit,
        _ => observed >= limit,
    }
}

/// What the load phases of the history said as they ended: every
/// shard's, in a merged run.
struct Ended<'a> {
    /// The planned hold; None in a history from before it was recorded.
    hold_us: Option<(u64, u64)>,
    /// When the last of the phases ended: a hold cut short counts only
    /// up to it.
    at_us: u64,
    error: Option<&'a String>,
    /// goose's findings, where one process ran the whole phase.
    goose: Option<&'a [ThresholdOutcome]>,
}

fn ended(h: &History) -> Option<Ended<'_>> {
    let all: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::LoadEnded {
                at_us,
                hold_us,
                error,
                thresholds,
                ..
            } => Some((*at_us, hold_us, error, thresholds)),
            _ => None,
        })
        .collect();
    let first = all.first()?;
    Some(Ended {
        hold_us: *first.1,
        at_us: all.iter().map(|e| e.0).max().unwrap_or(0),
        error: all.iter().find_map(|e| e.2.as_ref()),
        goose: (all.len() == 1).then_some(first.3.as_slice()),
    })
}

impl Ended<'_> {
    /// What goose found of this rule, where one process ran the phase.
    fn goose_finding(&self, rule: &str) -> Option<&ThresholdOutcome> {
        self.goose?.iter().find(|t| t.rule == rule)
    }
}

/// A check's verdict and detail, in one wording for every rule.
fn verdict(text: &str, passed: bool, shown: &str) -> (Verdict, String) {
    if passed {
        (Verdict::Pass, format!("{text}: {shown}"))
    } else {
        (Verdict::Fail, format!("{text} failed: {shown}"))
    }
}

/// A rule as goose judged it, for a history whose requests do not say
/// which the load phase sent.
fn as_goose_judged(text: &str, ended: &Ended<'_>) -> (Verdict, String, Value) {
    let Some(t) = ended.goose_finding(text) else {
        let why = "goose did not judge it".to_string();
        return (Verdict::Unknown, why, json!({ "rule": text }));
    };
    let shown = format!("goose observed {}", t.observed);
    let (v, detail) = verdict(text, t.passed, &shown);
    (
        v,
        detail,
        json!({ "rule": text, "goose_observed": t.observed }),
    )
}

/// The rule's verdict, detail and evidence.
pub(super) fn judge(text: &str, h: &History) -> (Verdict, String, Value) {
    let unknown = |why: String| (Verdict::Unknown, why, json!({ "rule": text }));
    let Some(ended) = ended(h) else {
        return unknown("the load phase did not end: no finding".into());
    };
    if let Some(e) = ended.error {
        return unknown(format!("goose did not run the phase: {e}"));
    }
    let Some(hold_us) = ended.hold_us else {
        return as_goose_judged(text, &ended);
    };
    let Some(rule) = parse(text) else {
        return unknown("the rule does not read as goose's rules do".into());
    };
    let requests: Vec<&Request> = h
        .requests()
        .filter(|r| r.load)
        .filter(|r| {
            rule.request
                .as_deref()
                .is_none_or(|n| r.op.goose_name() == n)
        })
        .collect();
    // The hold as it was: a phase stopped early held its users only
    // until it ended.
    let held = (hold_us.0, hold_us.1.min(ended.at_us));
    let observed = observe(&rule, &requests, held);
    let goose = ended.goose_finding(text).map(|t| t.observed.clone());
    let mut evidence = json!({
        "rule": text,
        "observed": observed.as_ref().map(|o| o.0),
        "requests": requests.len(),
    });
    if let Some(g) = &goose {
        evidence["goose_observed"] = json!(g);
    }
    let besides = goose.map_or(String::new(), |g| format!("; goose observed {g}"));
    // As goose has it at the end: a rule with nothing to judge fails.
    let (passed, shown) = match observed {
        None => (
            false,
            format!("no samples among {} load requests", requests.len()),
        ),
        Some((value, shown)) => (holds(value, rule.op, rule.limit), shown),
    };
    let (v, detail) = verdict(text, passed, &format!("{shown}{besides}"));
    (v, detail, evidence)
}

/// The rule's figure in its own unit and as shown, with what it counted;
/// None without samples.
fn observe(rule: &Rule, requests: &[&Request], (from, until): (u64, u64)) -> Option<(f64, String)> {
    let n = requests.len();
    if n == 0 {
        return None;
    }
    let time = |us: f64| (us, format!("{}ms over {n} requests", trimmed(us / 1e3)));
    let latencies = || requests.iter().map(|r| r.latency_us());
    let (fastest, slowest) = (latencies().min()?, latencies().max()?);
    Some(match rule.metric {
        Metric::Percentile(p) => {
            // A histogram bucket's top may pass the slowest time; goose
            // keeps a percentile within the times it saw.
            let hist = histogram_of(latencies());
            let value = percentile_us(&hist, p).unwrap_or(0);
            time(value.clamp(fastest, slowest) as f64)
        }
        Metric::Average => time(latencies().sum::<u64>() as f64 / n as f64),
        Metric::Maximum => time(slowest as f64),
        Metric::ErrorRate => {
            let failed = requests.iter().filter(|r| r.is_error()).count();
            let percent = 100.0 * failed as f64 / n as f64;
            (
                percent,
                format!("{}% ({failed} of {n} requests)", trimmed(percent)),
            )
        }
        Metric::PerSecond => {
            let held = requests
                .iter()
                .filter(|r| (from..until).contains(&r.sent_us))
                .count();
            if held == 0 {
                return None;
            }
            let secs = (until - from) as f64 / 1e6;
            let rate = held as f64 / secs;
            (
                rate,
                format!(
                    "{} a second ({held} requests in the {}s hold)",
                    trimmed(rate),
                    trimmed(secs)
                ),
            )
        }
    })
}

/// At most two decimals, no trailing zeros.
fn trimmed(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests;
