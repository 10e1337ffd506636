//! Faults as data with an undo: each planned fault knows how to inject
//! itself into a cluster and how to heal. The runner heals every fault it
//! injected, on error and on Ctrl-C too, and then asks the cluster to bring
//! every node back, whatever state it is in.
//!
//! Process faults (kill, pause, restart) act through the target: on the
//! embedded cluster's processes, or by a real cluster's node commands.
//! Drains go through the REST API, as an operator's would, so they work on
//! any cluster the API reaches.

use std::time::Duration;

use crate::client::ApiClient;
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

impl PlannedFault {
    /// Applies the fault to every node; the first error stops it.
    pub async fn inject(&self, cluster: &Target, api: &ApiClient) -> Result<(), String> {
        for node in &self.nodes {
            match self.kind {
                FaultKind::Kill => cluster.kill(node).await?,
                FaultKind::Pause => cluster.pause(node).await?,
                FaultKind::Restart => restart(cluster, node).await?,
                FaultKind::Drain | FaultKind::Maintenance => api.set_drain(node, true).await?,
            }
        }
        Ok(())
    }

    /// Undoes the fault on every node, trying them all; errors are joined.
    pub async fn heal(&self, cluster: &Target, api: &ApiClient) -> Result<(), String> {
        let mut errors = Vec::new();
        for node in &self.nodes {
            let done = match self.kind {
                FaultKind::Kill => cluster.start(node).await,
                FaultKind::Pause => cluster.resume(node).await,
                // The restart's new process normally runs already; heal_all
                // starts it if it does not.
                FaultKind::Restart => Ok(()),
                FaultKind::Drain => api.set_drain(node, false).await,
                FaultKind::Maintenance => {
                    // A maintenance cut short may have left the node down;
                    // it is undrained either way, so that once it runs it
                    // takes tasks again.
                    let running = cluster.ensure_running(node).await;
                    let undrained = api.set_drain(node, false).await;
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

/// Kills a node and starts it again at once.
pub async fn restart(cluster: &Target, node: &str) -> Result<(), String> {
    cluster.kill(node).await?;
    cluster.start(node).await
}
