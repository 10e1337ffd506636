//! What several commands share: the async runtime, a target file with its
//! API key, the open-file limit, and the folder and key file of `cluster
//! up` and `containers up`, and the reports `--json` and `--junit` ask for.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use harness::client::ApiKey;
use harness::exit::Failure;
use harness::report::Report;
use harness::runner;
use harness::target::TargetFile;

/// A fleet of a thousand polling Tentacles holds thousands of sockets, and
/// each node a thousand: lift the soft limit on open files (often 1024) to
/// the hard one, for this process and the nodes it starts, as load
/// generators do. Where that is refused, the old limit stays.
pub(crate) fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// A target file and the API key its variable holds, or invalid input
/// saying why.
pub(crate) fn target_and_key(file: &Path) -> Result<(TargetFile, ApiKey), Failure> {
    let target = harness::target::load(file).map_err(|e| Failure::invalid(e.to_string()))?;
    let key = target
        .api_key()
        .map_err(|e| Failure::invalid(format!("{}: {e}", file.display())))?;
    Ok((target, key))
}

pub(crate) fn runtime() -> Result<Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The open-model load's requests are spawned from its pacing
        // thread into the runtime's shared queue; a busy worker looks
        // there every 61 tasks by default, which at ten thousand requests
        // a second sends them a millisecond late. Every 8 keeps that
        // under a tenth (docs/performance.md, "The generator").
        .global_queue_interval(8)
        .build()
        .map(|rt| Runtime(Some(rt)))
        .map_err(|e| Failure::environment(format!("failed to start the async runtime: {e}")))
}

/// The async runtime, which does not wait long for blocking work still
/// running when it is dropped: a name lookup that outlived its request's
/// deadline, a hash of a package no one waits for any more.
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    /// Drops the runtime, waiting at most `within` for blocking work.
    pub(crate) fn shutdown_within(mut self, within: std::time::Duration) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(within);
        }
    }
}

impl std::ops::Deref for Runtime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("the runtime lives until dropped")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// A new folder `<out>/<name>/<timestamp>/` for `cluster up` or
/// `containers up`, as an absolute path: the target file written there
/// names files in it, and must work from any folder. `<out>/latest` is
/// left alone, as it names the last scenario run (docs/scenarios.md, "What a
/// run leaves behind").
pub(crate) fn cluster_folder(out: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = runner::create_dir(out, name).map_err(|e| e.to_string())?;
    std::fs::canonicalize(&dir)
        .map_err(|e| format!("failed to find the absolute path of {}: {e}", dir.display()))
}

/// Writes a key to a new file only the user can read; fails, saying which
/// file, if it cannot.
pub(crate) fn write_key_file(path: &Path, key: &ApiKey) -> Result<(), Failure> {
    write_private(path, key.expose())
        .map_err(|e| Failure::environment(format!("failed to write {}: {e}", path.display())))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Writes the reports where `--json` and `--junit` ask: one report as an
/// object, several as an array; one testsuite per report.
pub(crate) fn write_outputs(
    json: Option<&Path>,
    junit: Option<&Path>,
    reports: &[Report],
) -> Result<(), Failure> {
    let fail = |path: &Path, e: String| {
        Failure::environment(format!("failed to write {}: {e}", path.display()))
    };
    if let Some(path) = json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(reports)
        };
        let text = text.map_err(|e| fail(path, e.to_string()))?;
        std::fs::write(path, text).map_err(|e| fail(path, e.to_string()))?;
    }
    if let Some(path) = junit {
        let xml = harness::report::junit_xml(reports).map_err(|e| fail(path, e))?;
        std::fs::write(path, xml).map_err(|e| fail(path, e.to_string()))?;
    }
    Ok(())
}
