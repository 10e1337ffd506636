//! `harness report`: a finished run's folder judged again, and its
//! report.json, report.html and junit.xml rewritten.

use std::path::Path;

use harness::check;
use harness::exit::{Failure, Outcome};
use harness::history::History;
use harness::report;
use harness::runner;
use harness::scenario::{self, ScenarioError, ScenarioErrorKind};

pub(crate) fn report(dir: &Path) -> Result<Outcome, Failure> {
    if dir.join("sweep.json").is_file() {
        return Err(Failure::invalid(format!(
            "{} is a sweep's folder; its table is sweep.json, and each of its runs, under {}, is a run folder `harness report` takes",
            dir.display(),
            dir.join("runs").display()
        )));
    }
    let scenario_file = dir.join("scenario.yaml");
    let source = harness::input::read_text(&scenario_file, harness::limits::MAX_SCENARIO_BYTES)
        .map_err(|e| {
            Failure::invalid(format!(
                "{} is not a run folder: failed to read {}: {e}",
                dir.display(),
                scenario_file.display()
            ))
        })?;
    let history =
        History::read(&dir.join("history.jsonl")).map_err(|e| Failure::invalid(e.to_string()))?;
    // Checked against the nodes the run recorded: a real target's names.
    let scenario = scenario::parse_str_for_nodes(&source, history.target_node_names().as_deref())
        .map_err(|problems| {
        let e = ScenarioError {
            file: scenario_file,
            kind: ScenarioErrorKind::Invalid(problems),
        };
        Failure::invalid(e.to_string())
    })?;
    // A shard's history is a slice of its run: judged alone, its checks
    // would pass or fail for the wrong reasons.
    if let Some(harness::history::Event::RunStarted {
        shard: Some(shard),
        run_id,
        ..
    }) = history.events.first()
    {
        return Err(Failure::invalid(format!(
            "{} is shard {shard} of the split run {run_id}: `harness merge` judges the run from every shard's folder (docs/shards.md)",
            dir.display()
        )));
    }
    // A run compared with a baseline kept it in its folder.
    let kept = dir.join(runner::BASELINE_FILE);
    let baseline = if kept.exists() {
        Some(check::Baselines::load(&kept).map_err(|e| Failure::invalid(e.to_string()))?)
    } else {
        None
    };
    // By the name the run had, from its history: runs of sweeps from
    // before combinations were printed hold the sweep's scenario.yaml.
    let name = history
        .header()
        .map_or_else(|| scenario.name.value.clone(), |h| h.0.to_string());
    let (report, written) =
        report::judge_and_write(dir, &scenario, &history, baseline.as_ref(), &name);
    written.map_err(Failure::environment)?;
    print!("{}", report::summary(&report));
    Ok(Outcome::of(report.verdict == check::Verdict::Pass))
}
