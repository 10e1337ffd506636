//! Where a run leaves what it did: `<out>/<scenario>/<timestamp>/`, with
//! `<out>/latest` pointing at it and an exact copy of the scenario file
//! in it, and the name of the baseline kept beside the history. Folders
//! for what is not a scenario's run leave `latest` alone.

use std::path::{Path, PathBuf};

use super::outcome::RunError;

/// A new run folder named for `name`, holding an exact copy of the
/// scenario file as `scenario.yaml`.
pub fn scenario_run_dir(out: &Path, name: &str, source: &str) -> Result<PathBuf, RunError> {
    let dir = create_run_dir(out, name)?;
    let copy = dir.join("scenario.yaml");
    std::fs::write(&copy, source)
        .map_err(|e| RunError::new(format!("failed to write {}: {e}", copy.display())))?;
    Ok(dir)
}

/// The copy of a run's baseline in its folder.
pub const BASELINE_FILE: &str = "baseline.json";

/// Creates `<out>/<scenario>/<timestamp>/` and points `<out>/latest` at it.
pub(super) fn create_run_dir(out: &Path, scenario: &str) -> Result<PathBuf, RunError> {
    let dir = create_dir(out, scenario)?;
    let latest = out.join("latest");
    let _ = std::fs::remove_file(&latest);
    let relative = dir.strip_prefix(out).unwrap_or(&dir);
    if let Err(e) = std::os::unix::fs::symlink(relative, &latest) {
        eprintln!(
            "harness: could not point {} at the run: {e}",
            latest.display()
        );
    }
    Ok(dir)
}

/// Creates `<out>/<name>/<timestamp>/` and leaves `<out>/latest` alone:
/// for what is not a scenario's run (`cluster up`, `containers up`), as
/// `latest` names the last run, which `harness report` reads
/// (docs/scenarios.md, "What a run leaves behind").
pub fn create_dir(out: &Path, name: &str) -> Result<PathBuf, RunError> {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = out.join(name);
    let mut dir = base.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        RunError::new(format!(
            "failed to create the run folder {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir)
}
