//! Faults as data with an undo: each planned fault knows how to inject
//! itself into a cluster and how to heal. The runner heals every fault it
//! injected, on error and on Ctrl-C too, and then asks the cluster to bring
//! every node back, whatever state it is in.
//!
//! Process faults (kill, pause, restart) act through the target: on the
//! embedded cluster's processes, or by a real cluster's node commands.
//! Drains go through the REST API, as an operator's would, so they work on
//! any cluster the API reaches.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use crate::client::ApiClient;
use crate::history::NodeMap;
use crate::target::Target;

/// The fault kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL (a real target's `kill` command); the undo starts it.
    Kill,
    /// SIGSTOP (`pause`); the undo is SIGCONT (`resume`).
    Pause,
    /// Kill and start at once; the undo makes sure it runs.
    Restart,
    /// `IsInMaintenanceMode: true`; the undo sets it false.
    Drain,
    /// Drain, wait for the node's tasks, restart, undrain; the undo
    /// undrains and makes sure the node runs.
    Maintenance,
}

impl FaultKind {
    /// The kind as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Restart => "restart",
            FaultKind::Drain => "drain",
            FaultKind::Maintenance => "maintenance",
        }
    }
}

/// The steps of a maintenance after its drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenancePlan {
    /// Least time from the drain to the restart.
    pub restart_after: Duration,
    /// Longest wait for the node's running tasks.
    pub wait: Duration,
}

/// A fault with its nodes chosen and its times fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFault {
    /// Name checks refer to.
    pub name: String,
    /// Kind.
    pub kind: FaultKind,
    /// Nodes it acts on.
    pub nodes: Vec<String>,
    /// Microseconds after warm-up.
    pub inject_us: u64,
    /// Microseconds after warm-up; None means the heal phase (or, for a
    /// maintenance, the end of its steps).
    pub heal_us: Option<u64>,
    /// A maintenance's steps.
    pub maintenance: Option<MaintenancePlan>,
}

/// How faults reach the cluster's API: the client, which cluster node each
/// of the run's nodes is, and the nodes the run drained, so that a heal
/// undrains those and no other (a node an operator drained before the run
/// stays drained).
pub struct FaultApi {
    api: ApiClient,
    ids: NodeMap,
    drained: Mutex<BTreeSet<String>>,
}

impl FaultApi {
    /// Drains and undrains through `api` (the LB), by the Ids in `ids`.
    pub fn new(api: ApiClient, ids: NodeMap) -> Self {
        Self {
            api,
            ids,
            drained: Mutex::new(BTreeSet::new()),
        }
    }

    /// Which cluster node each of the run's nodes is.
    pub fn ids(&self) -> &NodeMap {
        &self.ids
    }

    /// The client.
    pub fn client(&self) -> &ApiClient {
        &self.api
    }

    fn mark(&self, node: &str, drained: bool) {
        let mut set = self.drained.lock().unwrap_or_else(|e| e.into_inner());
        if drained {
            set.insert(node.to_string());
        } else {
            set.remove(node);
        }
    }

    fn marked(&self, node: &str) -> bool {
        let set = self.drained.lock().unwrap_or_else(|e| e.into_inner());
        set.contains(node)
    }

    /// Drains a node the run may drain: one not drained already.
    async fn drain(&self, node: &str) -> Result<(), String> {
        let id = id_of(&self.ids, node)?;
        if self.api.node(id).await?.is_in_maintenance_mode {
            return Err(format!(
                "{node} was in maintenance mode already, drained by someone else; the run leaves it as it found it"
            ));
        }
        // Marked first: a drain whose answer was lost may have been done.
        self.mark(node, true);
        let done = self.api.set_drain(id, true).await;
        if done.is_err() && matches!(self.api.node(id).await, Ok(n) if !n.is_in_maintenance_mode) {
            // Not drained after all: nothing to undo.
            self.mark(node, false);
        }
        done
    }

    /// Undrains a node the run drained; any other is left alone.
    async fn undrain(&self, node: &str) -> Result<(), String> {
        if !self.marked(node) {
            return Ok(());
        }
        self.api.set_drain(id_of(&self.ids, node)?, false).await?;
        self.mark(node, false);
        Ok(())
    }
}

impl PlannedFault {
    /// Applies the fault to every node; the first error stops it. Drains
    /// go to the node by the Id the cluster gave it.
    pub async fn inject(&self, cluster: &Target, api: &FaultApi) -> Result<(), String> {
        for node in &self.nodes {
            match self.kind {
                FaultKind::Kill => cluster.kill(node).await?,
                FaultKind::Pause => cluster.pause(node).await?,
                FaultKind::Restart => restart(cluster, node).await?,
                FaultKind::Drain | FaultKind::Maintenance => api.drain(node).await?,
            }
        }
        Ok(())
    }

    /// Undoes the fault on every node, trying them all; errors are joined.
    pub async fn heal(&self, cluster: &Target, api: &FaultApi) -> Result<(), String> {
        let mut errors = Vec::new();
        for node in &self.nodes {
            let done = match self.kind {
                FaultKind::Kill => cluster.start(node).await,
                FaultKind::Pause => cluster.resume(node).await,
                // The restart's new process normally runs already; heal_all
                // starts it if it does not.
                FaultKind::Restart => Ok(()),
                FaultKind::Drain => api.undrain(node).await,
                FaultKind::Maintenance => {
                    // A maintenance cut short may have left the node down;
                    // it is undrained either way, so that once it runs it
                    // takes tasks again.
                    let running = cluster.ensure_running(node).await;
                    let undrained = api.undrain(node).await;
                    match (running, undrained) {
                        (Ok(()), Ok(())) => Ok(()),
                        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
                        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
                    }
                }
            };
            if let Err(e) = done {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Kills a node and starts it again at once: the start only once the kill
/// was done.
pub async fn restart(cluster: &Target, node: &str) -> Result<(), String> {
    cluster.kill(node).await?;
    cluster.start(node).await
}

/// The cluster's Id of one of the run's nodes.
fn id_of<'a>(ids: &'a NodeMap, node: &str) -> Result<&'a str, String> {
    ids.identity(node)
        .map(|i| i.id.as_str())
        .ok_or_else(|| format!("the cluster never said which of its nodes {node} is"))
}

/// Time between two looks at a node that should have drained.
const CONFIRM_POLL: Duration = Duration::from_millis(200);

/// Longest wait for one answer of a node's own ping.
const PING_WITHIN: Duration = Duration::from_secs(2);

/// Waits until every node is confirmed drained: the cluster reports it in
/// maintenance mode and its own ping answers 418. What a maintenance must
/// see before it stops a node; an error at `deadline` says what was seen
/// instead. A deadline already past looks once.
pub async fn confirm_drained(
    cluster: &Target,
    api: &FaultApi,
    nodes: &[String],
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let (ids, api) = (&api.ids, &api.api);
    for node in nodes {
        let id = id_of(ids, node)?;
        let url = cluster
            .node_url(node)
            .ok_or_else(|| format!("unknown node {node:?}"))?;
        let own = ApiClient::with_trust(&url, cluster.api_key().clone(), &cluster.trust())?;
        loop {
            // Each look within what is left of the wait (a second at least).
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_secs(1));
            let look = async { tokio::join!(api.node(id), own.ping_status(left.min(PING_WITHIN))) };
            let Ok((resource, ping)) = tokio::time::timeout(left, look).await else {
                return Err(format!(
                    "{node} was not confirmed drained: the cluster did not answer within {}s",
                    left.as_secs()
                ));
            };
            let saw = match (&resource, ping) {
                (Ok(n), Some(418)) if n.is_in_maintenance_mode => break,
                (Ok(n), ping) => format!(
                    "the cluster reports IsInMaintenanceMode {} and its own ping answers {}",
                    n.is_in_maintenance_mode,
                    ping.map_or_else(|| "nothing".to_string(), |p| p.to_string())
                ),
                (Err(e), _) => format!("its resource could not be read ({e})"),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{node} was not confirmed drained: {saw}"));
            }
            tokio::time::sleep(CONFIRM_POLL).await;
        }
    }
    Ok(())
}
