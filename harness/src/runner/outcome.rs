//! What a run gives back: the [`RunResult`] of a run that finished,
//! passed or not, or the [`RunError`] of one that could not be finished
//! (the environment, the harness, an interrupt or its own time limit),
//! with the report of a run stopped early when there is one.

use std::path::{Path, PathBuf};

use super::interrupts::interrupts;
use crate::report::Report;

/// A run that finished, passed or not.
#[derive(Debug)]
pub struct RunResult {
    /// The run folder.
    pub dir: PathBuf,
    /// The report written there.
    pub report: Report,
}

/// Why a run could not be finished: the environment, the harness, or an
/// interrupt.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// What happened.
    pub message: String,
    /// Ctrl-C or SIGTERM: the caller should not start another run.
    pub interrupted: bool,
    /// The report of a run stopped early (interrupted, or past its time
    /// limit), as written to its folder: it goes to `--json` and
    /// `--junit` too, so CI shows what was cut (docs/robustness.md,
    /// "Interrupted runs").
    pub report: Option<Box<Report>>,
}

impl RunError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            interrupted: false,
            report: None,
        }
    }

    pub(super) fn with_report(mut self, report: Report) -> Self {
        self.report = Some(Box::new(report));
        self
    }
}

/// The error of a run stopped early. An overrun is the harness's error,
/// not the user's stop: a suite goes on with its next scenario, unless a
/// Ctrl-C came too.
pub(super) fn stopped(why: &str, overran: bool, dir: &Path) -> RunError {
    let user_stop = !overran || interrupts().borrow().is_some();
    let what = if overran { "stopped" } else { "interrupted" };
    RunError {
        message: format!(
            "the run was {what} ({why}); the cluster was healed and shut down, and the run's partial history is in {}",
            dir.display()
        ),
        interrupted: user_stop,
        report: None,
    }
}
