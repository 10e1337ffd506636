//! A node on its own, as a container's entrypoint (`harness cluster node`):
//! no supervisor starts it, so it makes what the supervisor would have
//! made (the shared database's schema, the polling certificate) if no other
//! node has yet, and it stops on SIGTERM or SIGINT by itself, since as a
//! container's first process the kernel gives it no default handler for
//! either (docs/containers.md).

use nix::sys::signal::{SigSet, Signal};

use super::start::main;
use super::state::NodeConfig;
use crate::db::SharedDb;
use crate::polling::SERVER_CERTIFICATE;

/// Runs `cfg` until SIGTERM or SIGINT, after which it exits 0. Logs go
/// to standard output and error, which a container engine keeps.
pub fn standalone(cfg: NodeConfig, api_key: String) -> Result<(), String> {
    // Blocked before any thread starts, so every thread inherits the mask
    // and only the waiter below takes the signal.
    let mut stops = SigSet::empty();
    stops.add(Signal::SIGTERM);
    stops.add(Signal::SIGINT);
    stops
        .thread_block()
        .map_err(|e| format!("failed to block SIGTERM: {e}"))?;
    std::thread::Builder::new()
        .name("stop".into())
        .spawn(move || {
            let signal = stops.wait().map_or("a signal", Signal::as_str);
            println!("stopping on {signal}");
            std::process::exit(0);
        })
        .map_err(|e| format!("failed to start the signal thread: {e}"))?;
    prepare_shared(&cfg)?;
    main(cfg, api_key)
}

/// Creates the shared database and store if they are not there yet, and
/// the one server certificate every node's polling listener serves. Both
/// are idempotent: the schema is created only where missing and the first
/// certificate written wins, so nodes starting together agree.
fn prepare_shared(cfg: &NodeConfig) -> Result<(), String> {
    for dir in [cfg.db.parent(), Some(cfg.storage.as_path())]
        .into_iter()
        .flatten()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    }
    let db = SharedDb::create(&cfg.db).map_err(|e| {
        format!(
            "failed to create the shared database {}: {e}",
            cfg.db.display()
        )
    })?;
    if cfg.polling.is_some()
        && db
            .certificate(SERVER_CERTIFICATE)
            .map_err(|e| format!("failed to read the server certificate: {e}"))?
            .is_none()
    {
        let id = halibut::tls::TlsIdentity::generate("Octopus Deploy")?;
        db.put_certificate(SERVER_CERTIFICATE, &id.cert, id.key_der())
            .map_err(|e| format!("failed to store the server certificate: {e}"))?;
    }
    Ok(())
}
