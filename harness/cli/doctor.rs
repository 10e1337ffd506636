//! `harness doctor`: the preflight of a cluster a target file describes,
//! read-only unless `--allow-disruptive` asks it to try a drain.

use std::path::Path;

use crate::args::DoctorArgs;
use crate::shared::{runtime, target_and_key};
use harness::check::Verdict;
use harness::exit::{Failure, Outcome};
use harness::report;

pub(crate) fn doctor(a: DoctorArgs) -> Result<Outcome, Failure> {
    let (target, key) = target_and_key(&a.target)?;
    let rt = runtime()?;
    let d = rt.block_on(async {
        // Ctrl-C during the drain ends the trial, never the undrain.
        let trial = a.allow_disruptive.then(|| harness::doctor::DrainTrial {
            within: a.lb_out_within.get(),
            stop: Box::pin(harness::runner::interrupted(harness::runner::interrupts())),
        });
        harness::doctor::run(&target, key, trial).await
    });
    // Name lookups that outlive their request's deadline run on blocking
    // threads; the preflight does not wait for them.
    rt.shutdown_within(std::time::Duration::from_millis(100));
    let d = d.map_err(|e| Failure::invalid(format!("{}: {e}", a.target.display())))?;
    print!("{}", report::doctor_summary(&d));
    if let Some(path) = &a.json {
        write(
            path,
            serde_json::to_string_pretty(&d).map_err(|e| e.to_string()),
        )?;
    }
    if let Some(path) = &a.junit {
        write(path, report::doctor_junit_xml(&d))?;
    }
    if !d.reachable {
        return Err(Failure::environment(format!(
            "nothing in {} answered: not the LB, not one node",
            a.target.display()
        )));
    }
    Ok(Outcome::of(d.verdict == Verdict::Pass))
}

fn write(path: &Path, text: Result<String, String>) -> Result<(), Failure> {
    text.and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()))
        .map_err(|e| Failure::environment(format!("failed to write {}: {e}", path.display())))
}
