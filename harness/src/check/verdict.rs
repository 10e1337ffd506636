//! What every check answers with: a verdict, and the words of its detail.
//! Here belong the [`Verdict`] and how verdicts merge (fail over unknown
//! over pass, as Jepsen's `merge-valid` does), the per-window outcomes
//! merged into one answer, the answer of a check whose fault never came,
//! and the seconds a detail is written in. What a check judges by (its
//! fault windows, an interruption that cut a bound short) is `windows`'.

use serde::{Deserialize, Serialize};

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

/// The answer of a check whose fault was never injected.
pub(super) fn never_injected(evidence_key: &str) -> (Verdict, String, serde_json::Value) {
    (
        Verdict::Unknown,
        "the fault it judges was never injected".into(),
        serde_json::json!({ evidence_key: [] }),
    )
}

/// Per-window outcomes merged: fail over unknown over pass, and the detail
/// of the first window as bad as the merge speaks for the check.
pub(super) fn worst(outcomes: &[(Verdict, String)]) -> (Verdict, String) {
    let verdict = Verdict::merge(outcomes.iter().map(|(v, _)| *v));
    let detail = outcomes
        .iter()
        .find(|(v, _)| *v == verdict)
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    (verdict, detail)
}

/// Seconds, for details.
pub(super) fn secs(us: u64) -> String {
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
