//! The modes in which the binary is one server of a cluster: the hidden
//! ones of a child of the harness (a node, the LB, a program started under
//! the supervisor's guard), and `cluster node`, a node on its own.

use crate::args::NodeArgs;
use harness::exit::{Failure, Outcome};
use reference_cluster::node::NodeConfig;
use reference_cluster::polling::PollingConfig;
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

/// `cluster node`: a node set by its flags, its API key from the variable
/// they name; it runs until SIGTERM or SIGINT.
pub(crate) fn standalone(a: &NodeArgs) -> Result<Outcome, Failure> {
    let key = std::env::var(&a.api_key_env)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Failure::invalid(format!(
                "no API key: put the key clients must send in {}",
                a.api_key_env
            ))
        })?;
    let ms = |d: &harness::scenario::units::Duration| d.get().as_millis() as u64;
    let cfg = NodeConfig {
        key: a.name.clone(),
        name: a.name.clone(),
        id: a
            .id
            .clone()
            .unwrap_or_else(|| format!("OctopusServerNodes-{}", a.name)),
        listen: a.listen,
        db: a.database.clone(),
        task_cap: a.task_cap,
        heartbeat_ms: ms(&a.heartbeat),
        offline_after_ms: ms(&a.offline_after),
        installation_id: a.installation_id.clone(),
        storage: a.storage.clone(),
        queue_poll_ms: ms(&a.queue_poll),
        orphan_after_ms: ms(&a.orphan_after),
        racy_claim_ms: None,
        upload_delay_ms_per_gib: 0,
        upload_store_first: false,
        polling: a.polling_listen.map(|listen| PollingConfig {
            listen,
            poll_wait_ms: ms(&a.poll_wait),
            pickup_timeout_ms: ms(&a.pickup_timeout),
        }),
        timeouts: reference_cluster::ServerTimeouts::default(),
        cpu: None,
        behaviour: node::Behaviour::default(),
    };
    node::standalone(cfg, key.trim().to_string()).map_err(Failure::environment)?;
    Ok(Outcome::Pass)
}
