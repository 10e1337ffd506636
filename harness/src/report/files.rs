//! A run folder's report: the history judged (against the run's baseline,
//! if it has one) and written as `report.json`, `report.html` and
//! `junit.xml`. What a run does as it ends, and what `harness report`
//! does again from the folder. A sweep's folder holds its table.

use std::path::Path;

use super::build::build;
use super::html::{html, sweep_html};
use super::junit::junit_xml;
use super::model::Report;
use super::sweep::SweepReport;
use crate::check;
use crate::history::History;
use crate::scenario::Scenario;

/// Judges `history` by `scenario`'s checks, against the run of scenario
/// `name` in `baselines` if given, and writes the report into the run
/// folder `dir`. Gives the report, written or not, and whether it was.
pub fn judge_and_write(
    dir: &Path,
    scenario: &Scenario,
    history: &History,
    baselines: Option<&check::Baselines>,
    name: &str,
) -> (Report, Result<(), String>) {
    let against = baselines.map(|b| against(b, name));
    let mut report = build(history, check::run_all(scenario, history, against.as_ref()));
    // What the scenario's rules say of the generator and of its search.
    report.generator = crate::metrics::generator(history, &scenario.generator);
    if let Some(c) = &scenario.capacity {
        report.capacity = crate::metrics::capacity(history, &c.value, &scenario.generator);
    }
    let written = write(dir, &report);
    (report, written)
}

/// What a scenario's run is compared with, out of `baselines`.
pub fn against<'a>(baselines: &'a check::Baselines, scenario: &str) -> check::Against<'a> {
    match baselines.of(scenario) {
        Some(b) => check::Against::Baseline(b),
        None => check::Against::Missing(format!(
            "the baseline {} holds no run of scenario {scenario}",
            baselines.path.display()
        )),
    }
}

/// Writes report.json, report.html and junit.xml into a run folder.
pub fn write(dir: &Path, report: &Report) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    let xml = junit_xml(std::slice::from_ref(report))?;
    let page = html(report);
    for (name, text) in [
        ("report.json", json),
        ("report.html", page),
        ("junit.xml", xml),
    ] {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("failed to write {}: {e}", dir.join(name).display()))?;
    }
    Ok(())
}

/// Writes a sweep's table (sweep.json, sweep.csv) and its plot
/// (report.html) into the sweep's folder.
pub fn write_sweep(dir: &Path, report: &SweepReport) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    for (name, text) in [
        ("sweep.json", json),
        ("sweep.csv", report.csv()),
        ("report.html", sweep_html(report)),
    ] {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("failed to write {}: {e}", dir.join(name).display()))?;
    }
    Ok(())
}
