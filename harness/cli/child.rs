//! The hidden modes in which the binary runs as a child of the harness: a
//! node, the LB, or a program started under the supervisor's guard.

use harness::exit::{Failure, Outcome};
use reference_cluster::supervisor::{child_config, child_guard, exec_guarded};
use reference_cluster::{lb, node};

/// A node: its configuration from the supervisor, its API key on stdin.
pub(crate) fn node() -> Result<Outcome, Failure> {
    child(|key| {
        if key.is_empty() {
            return Err("no API key on stdin".into());
        }
        node::main(child_config()?, key)
    })
}

/// The LB: its configuration from the supervisor.
pub(crate) fn lb() -> Result<Outcome, Failure> {
    child(|_| lb::main(child_config()?))
}

/// Runs `program` in place of this process, dying with its parent; it
/// returns only if the program could not be started.
pub(crate) fn exec(
    program: &std::ffi::OsStr,
    args: &[std::ffi::OsString],
) -> Result<Outcome, Failure> {
    Err(Failure::environment(exec_guarded(program, args)))
}

fn child(body: impl FnOnce(String) -> Result<(), String>) -> Result<Outcome, Failure> {
    let stdin_line = child_guard();
    body(stdin_line).map_err(Failure::environment)?;
    Ok(Outcome::Pass)
}
