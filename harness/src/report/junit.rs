//! JUnit XML: one testsuite per scenario, one testcase per check, so a CI
//! system shows each check like a test. Unknown verdicts are errors: the
//! gate cannot call them passed.

use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::check::{CheckResult, Verdict};

/// The JUnit XML of one or more runs.
pub fn junit_xml(reports: &[Report]) -> Result<String, String> {
    let mut junit = JUnit::new("harness");
    for r in reports {
        let mut suite = TestSuite::new(r.scenario.as_str());
        suite.add_property(("seed", r.seed.to_string().as_str()));
        suite.add_property(("target", r.target.as_str()));
        add_checks(&mut suite, &r.scenario, &r.checks);
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
    add_checks(&mut suite, "doctor", &d.checks);
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map_err(|e| format!("failed to write JUnit XML: {e}"))
}

/// A testcase per check; a fail is a failure, an unknown an error.
fn add_checks(suite: &mut TestSuite, class: &str, checks: &[CheckResult]) {
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
                s.set_message(c.detail.as_str()).set_type("unknown");
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
