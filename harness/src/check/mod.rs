//! Checks: each one judges the recorded history, never the live run, and
//! returns pass, fail or unknown with a one-line detail and its evidence.
//!
//! One file per check kind. Verdicts merge with fail over unknown over
//! pass, as Jepsen's `merge-valid` does.

mod availability;
mod latency;
mod recovers;
mod routes_around;

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::scenario::{Check, Scenario};

pub use latency::{HISTOGRAM_SIGFIG, histogram, percentile_us};

/// A check's judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The history shows the property holds.
    Pass,
    /// The history shows it does not.
    Fail,
    /// The history cannot tell.
    Unknown,
}

impl Verdict {
    /// Fail beats unknown, which beats pass; no checks at all is unknown.
    pub fn merge(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut any = false;
        let mut merged = Verdict::Pass;
        for v in verdicts {
            any = true;
            merged = match (merged, v) {
                (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
                (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
                _ => Verdict::Pass,
            };
        }
        if any { merged } else { Verdict::Unknown }
    }

    /// Lowercase word for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// The judgement.
    pub verdict: Verdict,
    /// One line a person can act on.
    pub detail: String,
    /// The figures behind the verdict.
    pub evidence: serde_json::Value,
}

/// Judges every check of a scenario.
pub fn run_all(scenario: &Scenario, history: &History) -> Vec<CheckResult> {
    scenario
        .checks
        .iter()
        .map(|c| judge(&c.value, history))
        .collect()
}

/// Judges one check.
pub fn judge(check: &Check, history: &History) -> CheckResult {
    let (verdict, detail, evidence) = match check {
        Check::Availability(c) => availability::judge(c, history),
        Check::RoutesAroundFailedNode(c) => routes_around::judge(c, history),
        Check::Recovers(c) => recovers::judge(c, history),
        Check::Latency(c) => latency::judge(c, history),
    };
    CheckResult {
        name: check.name(),
        kind: check.kind().to_string(),
        verdict,
        detail,
        evidence,
    }
}

/// Seconds, for details.
fn secs(us: u64) -> String {
    format!("{:.1}s", us as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;
    use super::*;

    #[test]
    fn merge_orders_fail_unknown_pass() {
        assert_eq!(Verdict::merge([Pass, Unknown, Pass]), Unknown);
        assert_eq!(Verdict::merge([Pass, Fail, Unknown]), Fail);
        assert_eq!(Verdict::merge([Pass, Pass]), Pass);
        assert_eq!(Verdict::merge([]), Unknown);
    }
}
