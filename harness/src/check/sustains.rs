//! `sustains`: the capacity search found the cluster, with a given number
//! of nodes drained, sustaining at least a rate (or a number of uploads at
//! once) under its objective, the
//! generator not being the limit. Judged on the search's steps as the
//! history holds them, by the figures the report shows.

use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::History;
use crate::metrics::{amount, capacity, node_count as nodes};
use crate::scenario::{Scenario, Sustains};

pub(super) fn judge(c: &Sustains, history: &History, s: &Scenario) -> (Verdict, String, Value) {
    // Validation has given the one the search counts in.
    let want = match (&c.rate, &c.at_once) {
        (Some(r), _) => r.value.get(),
        (None, Some(n)) => f64::from(n.value),
        (None, None) => 0.0,
    };
    let drained = c.drained.value as usize;
    let Some(cap) = &s.capacity else {
        return (
            Verdict::Unknown,
            "the scenario has no capacity search".into(),
            json!({}),
        );
    };
    let Some(kind) = c
        .search
        .as_ref()
        .map(|k| k.value)
        .or_else(|| cap.value.searches().first().copied())
    else {
        return (
            Verdict::Unknown,
            "the capacity section asks for no search".into(),
            json!({}),
        );
    };
    let Some(report) = capacity(history, &cap.value, &s.generator)
        .into_iter()
        .find(|r| r.search == kind)
    else {
        return (
            Verdict::Unknown,
            format!(
                "the scenario's capacity section has no {} search",
                kind.name()
            ),
            json!({}),
        );
    };
    let with = if drained == 0 {
        "every node serving".to_string()
    } else {
        format!("{drained} drained")
    };
    let Some(level) = report.levels.iter().find(|l| l.drained.len() == drained) else {
        return (
            Verdict::Unknown,
            format!("the search never measured the cluster with {with}"),
            json!({ "drained": drained }),
        );
    };
    let evidence = json!({
        "drained": level.drained,
        "nodes": level.nodes,
        "sustained": level.sustained,
        "missed": level.missed,
        "generator_bound": level.generator_bound,
        "want": want,
    });
    if level.error.is_none() && level.sustained.is_some_and(|s| s >= want) {
        let got = level.sustained.unwrap_or_default();
        return (
            Verdict::Pass,
            format!(
                "{} ({with}) sustained {}, at least {}",
                nodes(level.nodes),
                amount(kind, got),
                amount(kind, want)
            ),
            evidence,
        );
    }
    let missed_at_or_below = level
        .steps
        .iter()
        .filter(|s| s.verdict == crate::metrics::StepVerdict::Missed && s.offered <= want)
        .min_by(|a, b| a.offered.total_cmp(&b.offered));
    match missed_at_or_below {
        Some(step) => (
            Verdict::Fail,
            format!(
                "{} ({with}) missed the objective at {}, under {}: {}",
                nodes(level.nodes),
                amount(kind, step.offered),
                amount(kind, want),
                step.why
            ),
            evidence,
        ),
        None => (
            Verdict::Unknown,
            format!(
                "{} ({with}) were not shown to sustain {}: {}",
                nodes(level.nodes),
                amount(kind, want),
                level.limit
            ),
            evidence,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::capacity_tests::{Went, history_of, scenario, three_levels};

    fn judged(check: &str, h: &History) -> (Verdict, String) {
        let s = scenario(2, &format!("\n  - sustains: {check}"));
        let crate::scenario::Check::Sustains(c) = &s.checks[0].value else {
            unreachable!()
        };
        let (v, detail, _) = judge(c, h, &s);
        (v, detail)
    }

    #[test]
    fn a_rate_at_or_under_the_knee_passes_and_one_past_a_missed_step_fails() {
        let h = three_levels();
        let (v, d) = judged("{ rate: 500/s, drained: 1 }", &h);
        assert_eq!(v, Verdict::Pass, "{d}");
        assert_eq!(d, "2 nodes (1 drained) sustained 600/s, at least 500/s");
        let (v, d) = judged("{ rate: 1000/s }", &h);
        assert_eq!(v, Verdict::Fail, "{d}");
        assert!(
            d.starts_with("3 nodes (every node serving) missed the objective at 950/s, under 1,000/s: p99 100.0 ms"),
            "{d}"
        );
    }

    #[test]
    fn a_generator_that_fell_behind_or_a_node_count_never_measured_is_unknown() {
        let h = history_of(&[(3, &[], &[(100.0, Went::Fast), (200.0, Went::SentLate)])]);
        let (v, d) = judged("{ rate: 150/s }", &h);
        assert_eq!(v, Verdict::Unknown, "{d}");
        assert!(d.contains("the generator's ceiling at 200/s"), "{d}");
        let (v, d) = judged("{ rate: 50/s, drained: 2 }", &h);
        assert_eq!(v, Verdict::Unknown, "{d}");
        assert_eq!(d, "the search never measured the cluster with 2 drained");
    }
}
