//! `harness validate`: each scenario's verdict, without running it.

use std::path::PathBuf;

use harness::exit::{Failure, Kind, Outcome};
use harness::runner;
use harness::scenario;

/// Each file's verdict in turn: an invalid file does not hide that the
/// others are valid.
pub(crate) fn validate(files: &[PathBuf]) -> Result<Outcome, Failure> {
    let mut valid = true;
    for f in files {
        match scenario::load(f) {
            Ok(l) => {
                let s = &l.scenario;
                // Whole seconds: an estimate has no use for milliseconds.
                let expect = std::time::Duration::from_secs(
                    runner::expected_wall_time(s).as_secs_f64().ceil() as u64,
                );
                println!(
                    "ok: {} ({}: {} nodes, {} faults, {} checks, duration {}; a run takes about {})",
                    l.file.display(),
                    s.name.value,
                    s.cluster.nodes.value,
                    s.faults.len(),
                    s.checks.len(),
                    s.duration.value,
                    humantime::format_duration(expect)
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                valid = false;
            }
        }
    }
    if valid {
        Ok(Outcome::Pass)
    } else {
        // Each invalid file was said as it came.
        Err(Failure::said(Kind::InvalidInput))
    }
}
