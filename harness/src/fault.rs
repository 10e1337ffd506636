//! Faults as data with an undo: each planned fault knows how to inject
//! itself into a cluster and how to heal. The runner heals every fault it
//! injected, on error and on Ctrl-C too, and then asks the cluster to bring
//! every node back, whatever state it is in.

use crate::cluster::EmbeddedCluster;

/// The fault kinds on the embedded target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL; the undo starts a new process.
    Kill,
    /// SIGSTOP; the undo is SIGCONT.
    Pause,
    /// SIGKILL and a new process at once; the undo makes sure it runs.
    Restart,
}

impl FaultKind {
    /// The kind as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Restart => "restart",
        }
    }
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
    /// Microseconds after warm-up; None means the heal phase.
    pub heal_us: Option<u64>,
}

impl PlannedFault {
    /// Applies the fault to every node; the first error stops it.
    pub async fn inject(&self, cluster: &EmbeddedCluster) -> Result<(), String> {
        for node in &self.nodes {
            let done = match self.kind {
                FaultKind::Kill => cluster.kill(node),
                FaultKind::Pause => cluster.pause(node),
                FaultKind::Restart => match cluster.kill(node) {
                    Ok(()) => cluster.start(node).await,
                    Err(e) => Err(e),
                },
            };
            done.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Undoes the fault on every node, trying them all; errors are joined.
    pub async fn heal(&self, cluster: &EmbeddedCluster) -> Result<(), String> {
        let mut errors = Vec::new();
        for node in &self.nodes {
            let done = match self.kind {
                FaultKind::Kill => cluster.start(node).await,
                FaultKind::Pause => cluster.resume(node),
                // The restart's new process normally runs already; heal_all
                // starts it if it does not.
                FaultKind::Restart => Ok(()),
            };
            if let Err(e) = done {
                errors.push(e.to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}
