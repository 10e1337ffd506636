//! The capacity search and the generator's self-check as the terminal
//! summary shows them: each node count's steps as a table (offered,
//! achieved, p50, p99, errors, send lag, verdict), what ended each
//! search, the scaling law, and the one line of conclusion.

use std::fmt::Write as _;

use crate::metrics::{CapacityReport, GeneratorFigures, StepVerdict, amount, node_count, rate};

/// The search's tables, fit and conclusion.
pub(super) fn capacity(s: &mut String, c: &CapacityReport) {
    let _ = writeln!(
        s,
        "\ncapacity ({}: {}; p50 and p99 of {}; offered in {}, achieved in {})",
        c.search.name(),
        c.objective,
        c.measure,
        c.unit,
        c.achieved_unit
    );
    for level in &c.levels {
        let drained = if level.drained.is_empty() {
            String::new()
        } else {
            format!(", {} drained", level.drained.join(", "))
        };
        let _ = writeln!(s, "{}{drained}", node_count(level.nodes));
        if !level.steps.is_empty() {
            let _ = writeln!(
                s,
                "  {:>9}  {:>9}  {:>8}  {:>8}  {:>7}  {:>11}  verdict",
                "offered", "achieved", "p50 ms", "p99 ms", "errors", "lag p99 ms"
            );
        }
        for step in &level.steps {
            let _ = writeln!(
                s,
                "  {:>9}  {:>9}  {:>8.2}  {:>8.2}  {:>6.1}%  {:>11}  {}",
                rate(step.offered),
                rate(step.achieved),
                step.p50_ms,
                step.p99_ms,
                step.error_rate * 100.0,
                step.generator
                    .lag_p99_ms()
                    .map_or_else(|| "-".to_string(), |l| format!("{l:.2}")),
                match step.verdict {
                    StepVerdict::Met => "met",
                    StepVerdict::Missed => "MISSED",
                    StepVerdict::GeneratorBound => "GENERATOR-BOUND",
                }
            );
        }
        match (level.sustained, level.missed) {
            (Some(lo), Some(hi)) if !level.generator_bound => {
                let _ = writeln!(
                    s,
                    "  sustained {} (the knee is between {} and {}); past it {}",
                    amount(c.search, lo),
                    rate(lo),
                    rate(hi),
                    level.limit
                );
            }
            _ => {
                let _ = writeln!(s, "  {}", level.limit);
            }
        }
    }
    match (&c.fit, &c.fit_error) {
        (Some(f), _) => {
            let _ = writeln!(
                s,
                "scaling law: λ {} per node, σ {:.4}, κ {:.5}, R² {:.3} over {} node counts{}",
                amount(c.search, f.lambda),
                f.sigma,
                f.kappa,
                f.r_squared,
                f.points,
                match f.peak_nodes {
                    Some(p) => format!("; adding nodes stops helping past {p:.1}"),
                    None if f.sigma >= 1.0 => "; adding nodes never helps (σ is 1)".to_string(),
                    None => "; no peak (κ is 0)".to_string(),
                }
            );
            for p in &c.predictions {
                let _ = writeln!(
                    s,
                    "  {}: about {} ({:+.0}%)",
                    node_count(p.nodes),
                    amount(c.search, p.rate),
                    p.gain * 100.0
                );
            }
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "scaling law: none: {e}");
        }
        (None, None) => {}
    }
    let _ = writeln!(s, "conclusion: {}", c.conclusion);
}

/// A line when the generator was the limit over the run; none otherwise.
pub(super) fn generator(s: &mut String, g: &GeneratorFigures) {
    if let Some(bound) = &g.bound {
        let _ = writeln!(
            s,
            "\ngenerator: fell behind ({bound}); the figures above are the generator's limit, not the cluster's: give the harness more CPU or a machine of its own"
        );
    }
}
