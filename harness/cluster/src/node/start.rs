//! A node's start-up: the runtime, registration in the shared database,
//! the heartbeat, the polling listener, the task queue and the API listener.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use super::link::Link;
use super::packages;
use super::routes::handle;
use super::state::{Node, NodeConfig, VERSION};
use super::tasks::{run_claimed, spawn_queue};
use crate::db::SharedDb;
use crate::polling::{Polling, PollingConfig, SERVER_CERTIFICATE};
use halibut::tls::TlsIdentity;

/// Runs a node until the process is killed. Prints `READY <addr>` on stdout
/// once it is registered and listening.
pub fn main(cfg: NodeConfig, api_key: String) -> Result<(), String> {
    // Before the runtime exists, so no thread of the node escapes it.
    if let Some(p) = &cfg.cpu {
        crate::cpu::enter(p)?;
    }
    // One thread is plenty for a node and leaves the cores to the LB and the
    // load generator on a small machine.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("failed to bind {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let db = SharedDb::open(&cfg.db)
            .map_err(|e| format!("failed to open the shared database: {e}"))?;
        db.register(&cfg.id, &cfg.name, cfg.task_cap, VERSION)
            .map_err(|e| format!("failed to register in the shared database: {e}"))?;
        let canceled = db
            .cancel_own(&cfg.name)
            .map_err(|e| format!("failed to cancel the tasks of the last run: {e}"))?;
        if canceled > 0 {
            eprintln!("canceled {canceled} tasks this node ran before it restarted");
        }
        packages::remove_stale_uploads(&cfg.storage, &cfg.name);
        let link = Arc::new(Link::new(cfg.behaviour.on_database_loss));
        spawn_heartbeat(&cfg, link.clone())?;
        let server = db
            .certificate(SERVER_CERTIFICATE)
            .map_err(|e| format!("failed to read the server certificate: {e}"))?
            .map(|(cert, key)| TlsIdentity::from_der(cert, key));
        let polling = match &cfg.polling {
            None => None,
            Some(p) => Some(start_polling(&cfg, p, server.as_ref()).await?),
        };
        let claimed = spawn_queue(&cfg, link.clone())?;
        let node = Arc::new(Node {
            cfg,
            api_key,
            db: Mutex::new(db),
            server,
            polling,
            link,
        });
        tokio::spawn(run_claimed(node.clone(), claimed));
        println!("READY {addr}");
        let header_read = node.cfg.timeouts.header_read();
        crate::http::serve(listener, header_read, move |req| {
            let node = node.clone();
            async move { handle(&node, req).await }
        })
        .await;
        Ok(())
    })
}

/// Binds the polling listener before READY, so a Tentacle that connects
/// once the node is up finds it, and serves it on this runtime.
async fn start_polling(
    cfg: &NodeConfig,
    p: &PollingConfig,
    server: Option<&TlsIdentity>,
) -> Result<Arc<Polling>, String> {
    let server = server.ok_or("the shared database holds no server certificate for polling")?;
    let listener = TcpListener::bind(p.listen)
        .await
        .map_err(|e| format!("failed to bind the polling listener on {}: {e}", p.listen))?;
    // Its own connection: trust checks run on every handshake and must not
    // wait behind the API's.
    let db = Mutex::new(
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?,
    );
    let trusted: Arc<dyn Fn(&str) -> bool + Send + Sync> = Arc::new(move |thumbprint: &str| {
        let db = db.lock().unwrap_or_else(|e| e.into_inner());
        db.trusts(thumbprint).unwrap_or_else(|e| {
            eprintln!("trust check failed: {e}");
            false
        })
    });
    let polling = Arc::new(Polling::new(p, &cfg.timeouts));
    let serving = polling.clone();
    let server = TlsIdentity::from_der(server.cert.to_vec(), server.key_der().to_vec());
    tokio::spawn(async move {
        if let Err(e) = serving.serve(listener, &server, trusted).await {
            eprintln!("the polling listener stopped: {e}");
        }
    });
    Ok(polling)
}

/// Heartbeats on a thread of their own with their own connection, so a
/// busy request loop cannot starve them (a real Octopus failure mode). A
/// failed heartbeat is the node's first sign of a lost database; a correct
/// node tries again at the next one.
fn spawn_heartbeat(cfg: &NodeConfig, link: Arc<Link>) -> Result<(), String> {
    let db =
        SharedDb::open(&cfg.db).map_err(|e| format!("failed to open the shared database: {e}"))?;
    let id = cfg.id.clone();
    let every = Duration::from_millis(cfg.heartbeat_ms);
    std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                if link.is_broken() {
                    continue;
                }
                if let Err(e) = db.heartbeat(&id) {
                    link.failed("heartbeat", &e);
                }
            }
        })
        .map_err(|e| format!("failed to start the heartbeat: {e}"))?;
    Ok(())
}
