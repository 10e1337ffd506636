//! What a node is: its configuration (the JSON the supervisor hands its
//! process) and the state its routes and threads share, with the bounds
//! on a page of results.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::behaviour::Behaviour;
use super::link::Link;
use crate::db::{ClaimMode, SharedDb};
use crate::polling::{Polling, PollingConfig};
use halibut::tls::TlsIdentity;

/// The version every reference node reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-reference");

/// Largest page of tasks, and most IDs in one filter.
pub(super) const MAX_TAKE: usize = 1000;

/// Largest `skip`: far past any page, and within SQLite's integers.
pub(super) const MAX_SKIP: usize = 1 << 40;

/// What a node process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The harness's name for the node (n1, n2, ...): its process, its
    /// log, its key in scenarios.
    pub key: String,
    /// The node's Octopus `Name`, which need not be its key.
    pub name: String,
    /// The node's Octopus `Id`.
    pub id: String,
    /// Address to bind; port 0 on first start, the same port on restarts.
    pub listen: SocketAddr,
    /// The shared database.
    pub db: PathBuf,
    /// MaxConcurrentTasks on first registration.
    pub task_cap: u32,
    /// Time between heartbeats.
    pub heartbeat_ms: u64,
    /// LastSeen older than this shows IsOffline.
    pub offline_after_ms: u64,
    /// The cluster's installation ID, shared by every node.
    pub installation_id: String,
    /// Task logs go here: the shared storage, or the node's own folder.
    pub storage: PathBuf,
    /// Time between two checks of the task queue.
    pub queue_poll_ms: u64,
    /// Another node's active tasks are canceled once it has not been seen
    /// for this long.
    pub orphan_after_ms: u64,
    /// Claim with a gap of this many milliseconds between reading the queue
    /// and writing the claim (the Octopus 2023.3 bug); atomic when None.
    #[serde(default)]
    pub racy_claim_ms: Option<u64>,
    /// Work after an upload's body has arrived, per GiB, before the answer:
    /// the server's post-upload processing that trips response timeouts.
    #[serde(default)]
    pub upload_delay_ms_per_gib: u64,
    /// The package is stored before that work rather than after it.
    #[serde(default)]
    pub upload_store_first: bool,
    /// The polling listener, where the cluster has one.
    #[serde(default)]
    pub polling: Option<PollingConfig>,
    /// How long it waits for its clients.
    #[serde(default)]
    pub timeouts: crate::timeouts::ServerTimeouts,
    /// The node's CPU limit, where the scenario gives one.
    #[serde(default)]
    pub cpu: Option<crate::cpu::CpuPlacement>,
    /// How it departs from a correct node, if it does.
    #[serde(default)]
    pub behaviour: Behaviour,
}

impl NodeConfig {
    pub(super) fn claim_mode(&self) -> ClaimMode {
        match self.racy_claim_ms {
            Some(ms) => ClaimMode::Racy(Duration::from_millis(ms)),
            None => ClaimMode::Atomic,
        }
    }
}

pub(super) struct Node {
    pub(super) cfg: NodeConfig,
    pub(super) api_key: String,
    pub(super) db: Mutex<SharedDb>,
    /// The cluster's server certificate, from the shared database.
    pub(super) server: Option<TlsIdentity>,
    /// The pending-request queues of the polling listener.
    pub(super) polling: Option<Arc<Polling>>,
    /// Whether its database calls have been failing.
    pub(super) link: Arc<Link>,
}

impl Node {
    /// The API's connection to the shared database.
    pub(super) fn db(&self) -> std::sync::MutexGuard<'_, SharedDb> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}
