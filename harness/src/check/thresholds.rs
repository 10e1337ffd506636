//! `load_threshold`: each goose threshold rule of the scenario's load phase
//! is a check of its own, judged from the `load_ended` event in which goose
//! gave its finding at the end of the phase. A rule the history has no
//! finding for (goose failed to run, or the run ended first) is unknown.

use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::{Event, History};

/// The rule's verdict, detail and evidence.
pub(super) fn judge(rule: &str, h: &History) -> (Verdict, String, Value) {
    let ended = h.events.iter().find_map(|e| match e {
        Event::LoadEnded {
            thresholds, error, ..
        } => Some((thresholds, error)),
        _ => None,
    });
    let Some((thresholds, error)) = ended else {
        return (
            Verdict::Unknown,
            "the load phase did not end: goose gave no finding".into(),
            json!({ "rule": rule }),
        );
    };
    match thresholds.iter().find(|t| t.rule == rule) {
        Some(t) => {
            let evidence = json!({ "rule": rule, "observed": t.observed });
            if t.passed {
                (
                    Verdict::Pass,
                    format!("{rule}: goose observed {}", t.observed),
                    evidence,
                )
            } else {
                (
                    Verdict::Fail,
                    format!("{rule} failed: goose observed {}", t.observed),
                    evidence,
                )
            }
        }
        None => (
            Verdict::Unknown,
            match error {
                Some(e) => format!("goose did not judge it: {e}"),
                None => "goose did not judge it".into(),
            },
            json!({ "rule": rule }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ThresholdOutcome;

    fn ended(passed: bool, error: Option<&str>) -> History {
        History {
            events: vec![Event::LoadEnded {
                at_us: 1,
                requests: 10,
                failed: 1,
                thresholds: if error.is_some() {
                    Vec::new()
                } else {
                    vec![ThresholdOutcome {
                        rule: "p95<500ms".into(),
                        observed: "812ms".into(),
                        passed,
                    }]
                },
                error: error.map(str::to_string),
                reports: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_rule_passes_fails_or_is_unknown_as_goose_found() {
        let (v, d, _) = judge("p95<500ms", &ended(true, None));
        assert_eq!(
            (v, d.as_str()),
            (Verdict::Pass, "p95<500ms: goose observed 812ms")
        );
        let (v, d, _) = judge("p95<500ms", &ended(false, None));
        assert_eq!(
            (v, d.as_str()),
            (Verdict::Fail, "p95<500ms failed: goose observed 812ms")
        );
        let (v, d, _) = judge("p95<500ms", &ended(false, Some("goose refused x")));
        assert_eq!(
            (v, d.as_str()),
            (Verdict::Unknown, "goose did not judge it: goose refused x")
        );
        let (v, _, _) = judge("p95<500ms", &History::default());
        assert_eq!(v, Verdict::Unknown);
    }
}
