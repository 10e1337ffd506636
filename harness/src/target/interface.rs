//! The one interface a run drives a cluster through, whichever it is: the
//! embedded reference cluster the harness starts, or a real one described
//! by a target file. The runner and the faults ask it for addresses and to
//! act on nodes; the checks never see it, as they judge only the history.

use crate::client::ApiKey;
use reference_cluster::{EmbeddedCluster, PollingEndpoint};

use super::real::{Link, RealCluster, Side, Verb};
use crate::vocab::Trust;

/// A cluster a run can drive.
pub enum Target {
    /// The reference cluster the run started; it goes with the run.
    Embedded(Box<EmbeddedCluster>),
    /// A cluster the harness did not start and leaves running.
    Real(Box<RealCluster>),
}

impl Target {
    /// `embedded`, or the target file's name.
    pub fn name(&self) -> String {
        match self {
            Target::Embedded(_) => "embedded".to_string(),
            Target::Real(r) => r.name().to_string(),
        }
    }

    /// Whether the harness started this cluster (and so may measure its
    /// processes and create whatever it likes in it).
    pub fn is_embedded(&self) -> bool {
        matches!(self, Target::Embedded(_))
    }

    /// The LB's base URL.
    pub fn lb_url(&self) -> String {
        match self {
            Target::Embedded(c) => c.lb_url(),
            Target::Real(r) => r.lb_url(),
        }
    }

    /// Each node's name and own URL.
    pub fn nodes(&self) -> Vec<(String, String)> {
        match self {
            Target::Embedded(c) => c
                .nodes()
                .iter()
                .map(|n| (n.key().to_string(), n.url()))
                .collect(),
            Target::Real(r) => r.nodes(),
        }
    }

    /// A node's own URL.
    pub fn node_url(&self, node: &str) -> Option<String> {
        self.nodes()
            .into_iter()
            .find(|(n, _)| n == node)
            .map(|(_, u)| u)
    }

    /// The API key.
    pub fn api_key(&self) -> &ApiKey {
        match self {
            Target::Embedded(c) => c.api_key(),
            Target::Real(r) => r.api_key(),
        }
    }

    /// How HTTPS servers are trusted.
    pub fn trust(&self) -> Trust {
        match self {
            Target::Embedded(_) => Trust::System,
            Target::Real(r) => r.trust(),
        }
    }

    /// Each node's polling endpoint.
    pub fn polling_endpoints(&self) -> &[PollingEndpoint] {
        match self {
            Target::Embedded(c) => c.polling_endpoints(),
            Target::Real(r) => r.polling_endpoints(),
        }
    }

    /// A polling port the LB forwards to every node, where there is one.
    pub fn lb_polling_endpoint(&self) -> Option<std::net::SocketAddr> {
        match self {
            Target::Embedded(c) => c.lb_polling_endpoint(),
            Target::Real(_) => None,
        }
    }

    /// Kills a node's process at once.
    pub async fn kill(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.kill(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.act(node, Verb::Kill).await,
        }
    }

    /// Stops a node cleanly; the embedded nodes have nothing to lose, so
    /// they are killed.
    pub async fn stop(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.kill(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.act(node, Verb::Stop).await,
        }
    }

    /// Starts a node that is down.
    pub async fn start(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.start(node).await.map_err(|e| e.to_string()),
            Target::Real(r) => r.act(node, Verb::Start).await,
        }
    }

    /// Freezes a node.
    pub async fn pause(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.pause(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.act(node, Verb::Pause).await,
        }
    }

    /// Unfreezes a node.
    pub async fn resume(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.resume(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.act(node, Verb::Resume).await,
        }
    }

    /// Takes the shared database away from every node.
    pub async fn database_outage(&self) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.database_outage().map_err(|e| e.to_string()),
            Target::Real(r) => r.database("outage").await,
        }
    }

    /// Fails the shared database over: on the embedded cluster, away for
    /// `away` and then back; on a real one, its `database.failover`
    /// command, after which the database comes back by itself.
    pub async fn database_failover(&self, away: std::time::Duration) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.database_failover(away).map_err(|e| e.to_string()),
            Target::Real(r) => r.database("failover").await,
        }
    }

    /// The end of a failover's window: the embedded cluster's database is
    /// made sure to be back; a real one's came back by itself.
    pub async fn database_failover_over(&self) -> Result<(), String> {
        match self {
            Target::Embedded(c) => {
                c.database_restore();
                Ok(())
            }
            Target::Real(_) => Ok(()),
        }
    }

    /// Takes the shared store away from a node.
    pub async fn storage_outage(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.storage_outage(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.storage(node, "outage").await,
        }
    }

    /// Points a node at a folder of its own instead of the shared store;
    /// only the embedded cluster can be made to.
    pub async fn storage_unshare(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.storage_unshare(node).map_err(|e| e.to_string()),
            Target::Real(r) => Err(format!(
                "storage_unshared acts on the embedded cluster only; the target {} cannot be made to unshare {node}'s store",
                r.name()
            )),
        }
    }

    /// Gives a node its view of the shared store back.
    pub async fn storage_restore(&self, node: &str) -> Result<(), String> {
        match self {
            Target::Embedded(c) => c.storage_restore(node).map_err(|e| e.to_string()),
            Target::Real(r) => r.storage(node, "restore").await,
        }
    }

    /// Cuts a node off from the LB or the Tentacles, or joins it again:
    /// a real target's `partition` commands; the embedded cluster has no
    /// network to cut (its processes share loopback), so it refuses.
    pub async fn partition(&self, node: &str, side: Side, link: Link) -> Result<(), String> {
        match self {
            Target::Embedded(_) => Err(format!(
                "a partition cuts a network, which the embedded cluster does not have; {node} was not cut off (run on a target with `partition` commands, such as `containers up`'s)"
            )),
            Target::Real(r) => r.partition(node, side, link).await,
        }
    }

    /// Gives the shared database back.
    pub async fn database_restore(&self) -> Result<(), String> {
        match self {
            Target::Embedded(c) => {
                c.database_restore();
                Ok(())
            }
            Target::Real(r) => r.database("restore").await,
        }
    }

    /// Starts a node if it is down (for the embedded cluster, its process
    /// is gone; for a real one, the harness left it down).
    pub async fn ensure_running(&self, node: &str) -> Result<(), String> {
        let down = match self {
            Target::Embedded(c) => !c.is_running(node),
            Target::Real(r) => r.is_down(node),
        };
        if down { self.start(node).await } else { Ok(()) }
    }

    /// Brings every node back, whatever state it was left in.
    pub async fn heal_all(&self) -> Vec<String> {
        match self {
            Target::Embedded(c) => c
                .heal_all()
                .await
                .into_iter()
                .map(|e| e.to_string())
                .collect(),
            Target::Real(r) => r.heal_all().await,
        }
    }

    /// The peak memory of the cluster's processes, where the harness can
    /// see them.
    pub fn peak_memory(&self) -> Vec<(String, u64)> {
        match self {
            Target::Embedded(c) => c.peak_memory(),
            Target::Real(_) => Vec::new(),
        }
    }

    /// Stops what the run started: the embedded cluster's processes; a
    /// real cluster is left as it is.
    pub fn shutdown(&self) {
        if let Target::Embedded(c) = self {
            c.shutdown();
        }
    }
}
