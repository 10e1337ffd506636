//! `harness merge`: a split run's shard folders merged into one run
//! folder, every check judged once on the merged history
//! (docs/shards.md).

use std::path::{Path, PathBuf};

use crate::args::MergeArgs;
use crate::shared::write_outputs;
use harness::check;
use harness::exit::{Failure, Outcome};
use harness::history::merge::{ShardHistory, merge as merge_histories};
use harness::history::{History, HistoryWriter};
use harness::report;
use harness::runner;
use harness::scenario::{self, ScenarioError, ScenarioErrorKind};

pub(crate) fn merge(args: &MergeArgs) -> Result<Outcome, Failure> {
    let mut source: Option<(String, PathBuf)> = None;
    let mut shards = Vec::new();
    for dir in &expand(&args.shards)? {
        let (text, file) = scenario_of(dir)?;
        // One run's shards ran one scenario file, byte for byte.
        match &source {
            Some((first, first_file)) if *first != text => {
                return Err(Failure::invalid(format!(
                    "{} and {} differ: the shards of one run ran the same scenario",
                    first_file.display(),
                    file.display()
                )));
            }
            Some(_) => {}
            None => source = Some((text, file)),
        }
        let history = History::read(&dir.join("history.jsonl")).map_err(|e| {
            Failure::invalid(format!(
                "{} is not a shard's run folder: {e}",
                dir.display()
            ))
        })?;
        shards.push(ShardHistory {
            folder: dir.display().to_string(),
            history,
        });
    }
    let Some((text, file)) = source else {
        return Err(Failure::invalid("no shard folder was given"));
    };
    let merged = merge_histories(shards).map_err(|e| Failure::invalid(e.to_string()))?;
    // Checked against the nodes the run recorded: the target's names.
    let nodes = merged.target_node_names();
    let scenario = scenario::parse_str_for_nodes(&text, nodes.as_deref()).map_err(|problems| {
        let e = ScenarioError {
            file,
            kind: ScenarioErrorKind::Invalid(problems),
        };
        Failure::invalid(e.to_string())
    })?;
    let name = merged
        .header()
        .map_or_else(|| scenario.name.value.clone(), |h| h.0.to_string());
    let dir = runner::scenario_run_dir(&args.out, &name, &text)
        .map_err(|e| Failure::environment(e.to_string()))?;
    write_history(&dir.join("history.jsonl"), &merged)?;
    let (report, written) = report::judge_and_write(&dir, &scenario, &merged, None, &name);
    written.map_err(Failure::environment)?;
    print!("{}", report::summary(&report));
    println!("run folder: {}", dir.display());
    let pass = report.verdict == check::Verdict::Pass;
    write_outputs(args.json.as_deref(), args.junit.as_deref(), &[report])?;
    Ok(Outcome::of(pass))
}

/// The shard folders named: each folder as given, but a run's folder
/// (`<out>/<scenario>/<run ID>/`, with no history of its own) stands for
/// the `shard-<I>` folders in it, as a Job's merge, with no shell to
/// expand a pattern, names them.
fn expand(given: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut folders = Vec::new();
    for dir in given {
        if dir.join("history.jsonl").exists() || !dir.is_dir() {
            folders.push(dir.clone());
            continue;
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Failure::invalid(format!("failed to read {}: {e}", dir.display())))?;
        let mut inside: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-"))
            })
            .collect();
        if inside.is_empty() {
            return Err(Failure::invalid(format!(
                "{} is neither a shard's run folder (no history.jsonl) nor a run's folder of shard-<I> folders",
                dir.display()
            )));
        }
        inside.sort();
        folders.extend(inside);
    }
    Ok(folders)
}

/// A shard folder's scenario, exactly as it ran, and its file.
fn scenario_of(dir: &Path) -> Result<(String, PathBuf), Failure> {
    let file = dir.join("scenario.yaml");
    let text =
        harness::input::read_text(&file, harness::limits::MAX_SCENARIO_BYTES).map_err(|e| {
            Failure::invalid(format!(
                "{} is not a shard's run folder: failed to read {}: {e}",
                dir.display(),
                file.display()
            ))
        })?;
    Ok((text, file))
}

/// The merged history, as a run writes its own.
fn write_history(path: &Path, history: &History) -> Result<(), Failure> {
    let failed = |e: std::io::Error| {
        Failure::environment(format!("failed to write {}: {e}", path.display()))
    };
    let mut writer = HistoryWriter::create(path).map_err(failed)?;
    for e in &history.events {
        writer.write(e).map_err(failed)?;
    }
    writer.flush().map_err(failed)
}
