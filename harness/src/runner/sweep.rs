//! A sweep: every combination of the scenario's matrix, run one after
//! another on the embedded cluster (and again with one node down where the
//! sweep asks), each an ordinary run with its own folder and report under
//! the sweep's; then the sweep's table as `sweep.csv` and `sweep.json`, and
//! its plot as `report.html`.

use std::path::PathBuf;

use super::folder::scenario_run_dir;
use super::options::RunOptions;
use super::outcome::RunError;
use super::phases::run;
use super::seed::seed_of;
use crate::report::{Report, SweepReport, SweepRow};
use crate::scenario::LoadedScenario;
use crate::scenario::sweep::combinations;

/// A finished sweep.
#[derive(Debug)]
pub struct SweepResult {
    /// The sweep's folder.
    pub dir: PathBuf,
    /// Its table.
    pub report: SweepReport,
    /// Every finished run's report, in order.
    pub runs: Vec<Report>,
    /// The first run that could not be made, if one could not: the sweep
    /// went on past it (its row says why), unless it was interrupted.
    pub error: Option<RunError>,
}

/// Runs every combination of `loaded`'s sweep; each combination's runs
/// share one seed, so they differ only by the matrix's values. A run that
/// cannot be made gives its combination a row that says why, and the
/// sweep goes on; an interrupt ends it. Either way the table is written
/// for what ran. Errs only when the sweep's own folder cannot be made.
pub async fn run_sweep(
    loaded: &LoadedScenario,
    opts: &RunOptions,
) -> Result<SweepResult, RunError> {
    let s = &loaded.scenario;
    let combos = combinations(s);
    let dir = scenario_run_dir(&opts.out, &s.name.value, &loaded.source)?;
    let seed = seed_of(opts, s)?;
    let sub = RunOptions {
        out: dir.join("runs"),
        seed: Some(seed),
        ..opts.clone()
    };
    let started_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let params: Vec<String> = combos
        .first()
        .map(|c| c.params.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let total = combos.len();
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let mut error: Option<RunError> = None;
    for c in combos {
        let label = c.label();
        eprintln!(
            "sweep {}: combination {}/{total} ({label}), seed {seed}",
            s.name.value, c.index
        );
        // Each run's folder holds its combination as a scenario of its
        // own, so `harness report` there judges exactly what ran.
        let run_one = |scenario: crate::scenario::Scenario| LoadedScenario {
            file: loaded.file.clone(),
            source: crate::scenario::print(&scenario).unwrap_or_else(|_| loaded.source.clone()),
            scenario,
        };
        let rel = |p: &PathBuf| p.strip_prefix(&dir).unwrap_or(p).display().to_string();
        let values: Vec<String> = c.params.into_iter().map(|(_, v)| v).collect();
        let up = match run(&run_one(c.scenario.clone()), &sub).await {
            Ok(up) => up,
            Err(mut e) => {
                eprintln!("  could not run: {e}");
                rows.push(SweepRow::failed(c.index, values, None, e.message.clone()));
                runs.extend(e.report.take().map(|r| *r));
                let stop = e.interrupted;
                error.get_or_insert(e);
                if stop {
                    break;
                }
                continue;
            }
        };
        let down = match &c.one_down {
            Some(d) => match run(&run_one(d.clone()), &sub).await {
                Ok(d) => Some(d),
                Err(mut e) => {
                    eprintln!("  one node down could not run: {e}");
                    rows.push(SweepRow::failed(
                        c.index,
                        values,
                        Some((&up.report, rel(&up.dir))),
                        format!("one node down: {}", e.message),
                    ));
                    runs.push(up.report);
                    runs.extend(e.report.take().map(|r| *r));
                    let stop = e.interrupted;
                    error.get_or_insert(e);
                    if stop {
                        break;
                    }
                    continue;
                }
            },
            None => None,
        };
        let row = SweepRow::new(
            c.index,
            values,
            (&up.report, rel(&up.dir)),
            down.as_ref().map(|d| (&d.report, rel(&d.dir))),
        );
        say(&row);
        rows.push(row);
        runs.push(up.report);
        runs.extend(down.map(|d| d.report));
    }
    let report = SweepReport {
        scenario: s.name.value.clone(),
        started_at,
        params,
        verdict: crate::check::Verdict::merge(rows.iter().map(|r| r.verdict)),
        rows,
    };
    crate::report::write_sweep(&dir, &report).map_err(RunError::new)?;
    Ok(SweepResult {
        dir,
        report,
        runs,
        error,
    })
}

/// Tells how a combination did.
fn say(row: &SweepRow) {
    eprintln!(
        "  {:.1} req/s, p99 {:.2} ms{}: {}",
        row.throughput,
        row.p99_ms,
        match (row.down_throughput, row.capacity_lost) {
            (Some(d), Some(l)) => format!("; one node down {d:.1} req/s ({:.1}% lost)", l * 100.0),
            _ => String::new(),
        },
        row.verdict.as_str().to_uppercase()
    );
}
