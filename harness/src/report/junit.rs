//! JUnit XML: one testsuite per scenario, one testcase per check, so a CI
//! system shows each check like a test. Unknown verdicts are errors: the
//! gate cannot call them passed. In a run stopped early every check is
//! still a testcase, and those the stop left undecided are errors whose
//! message says so (`interrupted: Ctrl-C during workload`), so CI shows
//! what was cut (docs/robustness.md, "Interrupted runs").

use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use super::model::Report;
use crate::check::{CheckResult, Verdict};

/// The JUnit XML of one or more runs.
pub fn junit_xml(reports: &[Report]) -> Result<String, String> {
    let mut junit = JUnit::new("harness");
    for r in reports {
        let mut suite = TestSuite::new(r.scenario.as_str());
        suite.add_property(("seed", r.seed.to_string().as_str()));
        suite.add_property(("target", r.target.as_str()));
        let cut = r
            .interrupted
            .as_ref()
            .map(|why| match &r.interrupted_phase {
                Some(phase) => format!("interrupted: {why} during {phase}"),
                None => format!("interrupted: {why}"),
            });
        add_checks(&mut suite, &r.scenario, &r.checks, cut.as_deref());
        if let Some(why) = &r.interrupted {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!("the run was interrupted: {why}"))
                .set_type("interrupted");
            suite.add_test_case(TestCase::new("run", s));
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .map_err(|e| format!("failed to write JUnit XML: {e}"))
}

/// The JUnit XML of `harness doctor`: one testsuite, one testcase per
/// check.
pub fn doctor_junit_xml(d: &crate::doctor::DoctorReport) -> Result<String, String> {
    let mut junit = JUnit::new("harness");
    let name = format!("doctor {}", d.target);
    let mut suite = TestSuite::new(name.as_str());
    suite.add_property(("target", d.target.as_str()));
    add_checks(&mut suite, "doctor", &d.checks, None);
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map_err(|e| format!("failed to write JUnit XML: {e}"))
}

/// A testcase per check; a fail is a failure, an unknown an error. In a
/// run stopped early (`cut` says how), an unknown is an error of type
/// `interrupted` with that message and the check's detail beneath.
fn add_checks(suite: &mut TestSuite, class: &str, checks: &[CheckResult], cut: Option<&str>) {
    for c in checks {
        let status = match c.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(c.detail.as_str()).set_type("fail");
                s
            }
            Verdict::Unknown => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                match cut {
                    Some(cut) => s
                        .set_message(cut)
                        .set_type("interrupted")
                        .set_description(c.detail.as_str()),
                    None => s.set_message(c.detail.as_str()).set_type("unknown"),
                };
                s
            }
        };
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(format!("{class}.{}", c.kind));
        if c.verdict == Verdict::Pass {
            case.set_system_out(c.detail.as_str());
        }
        suite.add_test_case(case);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, History, Phase};

    fn check(name: &str, verdict: Verdict) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind: name.into(),
            verdict,
            detail: format!("{name} says so"),
            evidence: serde_json::Value::Null,
        }
    }

    /// Issue 17: a run stopped early keeps a testcase per check; those it
    /// left undecided are errors that name the stop and its phase, a
    /// failure stays a failure and a pass a pass.
    #[test]
    fn r17_an_interrupted_run_names_the_stop_on_each_undecided_check() {
        let h = History {
            events: vec![
                Event::Phase {
                    at_us: 0,
                    phase: Phase::Workload,
                },
                Event::Interrupted {
                    at_us: 5,
                    why: "Ctrl-C".into(),
                    phase: Phase::Workload,
                },
                Event::RunEnded {
                    at_us: 9,
                    interrupted: Some("Ctrl-C".into()),
                },
            ],
        };
        let r = crate::report::build(
            &h,
            vec![
                check("a", Verdict::Pass),
                check("b", Verdict::Unknown),
                check("c", Verdict::Fail),
            ],
        );
        let xml = junit_xml(&[r]).unwrap();
        assert!(xml.contains("tests=\"4\""), "{xml}");
        assert_eq!(
            xml.matches(r#"<error message="interrupted: Ctrl-C during workload" type="interrupted">b says so</error>"#)
                .count(),
            1,
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="c says so" type="fail""#),
            "{xml}"
        );
        assert!(xml.contains("the run was interrupted: Ctrl-C"), "{xml}");
    }
}
