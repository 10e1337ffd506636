//! Faults as data with an undo: each planned fault knows how to inject
//! itself into a cluster and how to heal. The runner heals every fault it
//! injected, on error and on Ctrl-C too, and then asks the cluster to bring
//! every node back, whatever state it is in.
//!
//! Process faults (kill, pause, restart) act through the target: on the
//! embedded cluster's processes, or by a real cluster's node commands.
//! A database outage acts through the target too: the embedded cluster's
//! database engine refuses every node, a real cluster's `database`
//! commands run (docs/faults.md). So do partitions, by a target's
//! `partition` commands. Drains go through the REST API, as an
//! operator's would, so they work on any cluster the API reaches.
//!
//! [`Faults`] carries a run's planned faults through it: each injected and
//! healed when the runner's timeline says, a rolling maintenance's steps
//! (drain, wait for the node's tasks, restart, undrain), and the heal of
//! whatever is still in effect.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::{ApiClient, ApiKey};
use crate::history::{Event, Events, FaultAction, FaultEvent, NodeMap, STOPPED_STEP};
use crate::target::{Link, Side, Target};

/// The fault kinds live with the words every layer shares; the history
/// and the checks name them too.
pub use crate::vocab::FaultKind;

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
    /// How long an embedded cluster's database failover keeps the
    /// database away (a real one's takes what it takes).
    pub failover: Option<Duration>,
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
        // On the whole cluster at once, not node by node.
        match self.kind {
            FaultKind::DatabaseOutage => return cluster.database_outage().await,
            FaultKind::DatabaseFailover => {
                let away = self.failover.unwrap_or_default();
                return cluster.database_failover(away).await;
            }
            _ => {}
        }
        for node in &self.nodes {
            match self.kind {
                FaultKind::Kill => cluster.kill(node).await?,
                FaultKind::Pause => cluster.pause(node).await?,
                FaultKind::Restart => restart(cluster, node).await?,
                FaultKind::Drain | FaultKind::Maintenance => api.drain(node).await?,
                FaultKind::StorageOutage => cluster.storage_outage(node).await?,
                FaultKind::StorageUnshared => cluster.storage_unshare(node).await?,
                FaultKind::PartitionFromLb => cluster.partition(node, Side::Lb, Link::Cut).await?,
                FaultKind::PartitionFromTentacles => {
                    cluster.partition(node, Side::Tentacles, Link::Cut).await?;
                }
                FaultKind::DatabaseOutage | FaultKind::DatabaseFailover => {}
            }
        }
        Ok(())
    }

    /// Undoes the fault on every node, trying them all; errors are joined.
    pub async fn heal(&self, cluster: &Target, api: &FaultApi) -> Result<(), String> {
        match self.kind {
            FaultKind::DatabaseOutage => return cluster.database_restore().await,
            // Its window is over: the database is back by itself; the
            // embedded cluster's is made sure of.
            FaultKind::DatabaseFailover => return cluster.database_failover_over().await,
            _ => {}
        }
        let mut errors = Vec::new();
        for node in &self.nodes {
            let done = match self.kind {
                FaultKind::Kill => cluster.start(node).await,
                FaultKind::Pause => cluster.resume(node).await,
                // The restart's new process normally runs already; heal_all
                // starts it if it does not.
                FaultKind::Restart => Ok(()),
                FaultKind::Drain => api.undrain(node).await,
                FaultKind::StorageOutage | FaultKind::StorageUnshared => {
                    cluster.storage_restore(node).await
                }
                FaultKind::PartitionFromLb => cluster.partition(node, Side::Lb, Link::Rejoin).await,
                FaultKind::PartitionFromTentacles => {
                    cluster.partition(node, Side::Tentacles, Link::Rejoin).await
                }
                FaultKind::DatabaseOutage | FaultKind::DatabaseFailover => Ok(()),
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
    for node in nodes {
        let id = id_of(&api.ids, node)?;
        let url = cluster
            .node_url(node)
            .ok_or_else(|| format!("unknown node {node:?}"))?;
        let own = ApiClient::with_trust(&url, cluster.api_key().clone(), &cluster.trust())?;
        confirm_one_drained(&api.api, (node, id), &own, deadline).await?;
    }
    Ok(())
}

/// Waits until one node is confirmed drained: `api` (the LB) reports the
/// node of Id `id` in maintenance mode, and `own`, the node at its own
/// URL, answers ping 418; as [`confirm_drained`].
pub async fn confirm_one_drained(
    api: &ApiClient,
    (node, id): (&str, &str),
    own: &ApiClient,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
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
            (Ok(n), Some(418)) if n.is_in_maintenance_mode => return Ok(()),
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

/// Pings through the LB in a row that must all come from serving nodes
/// before a drained node counts as out of the LB.
pub const OUT_OF_LB_PINGS: u32 = 20;

/// Waits until the LB has stopped sending a drained node requests:
/// [`OUT_OF_LB_PINGS`] pings through `lb` in a row answered 200 by other
/// nodes (as `ids` names who answered), within `within`. An LB that does
/// not honour ping's 418 never gets there, and the error says what it did
/// instead.
pub async fn confirm_out_of_lb(
    lb: &ApiClient,
    ids: &NodeMap,
    node: &str,
    within: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut in_a_row = 0;
    let mut last = String::new();
    while in_a_row < OUT_OF_LB_PINGS {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{node} was drained, but {} later {last}; an LB that does not honour ping's 418 keeps a drained node in rotation",
                humantime::format_duration(within)
            ));
        }
        let seen = lb.invoke(crate::history::Op::Ping, PING_WITHIN).await;
        let by = seen.node.as_deref().and_then(|n| ids.node_of(n));
        match (seen.status, by) {
            (Some(200), Some(by)) if by != node => in_a_row += 1,
            (status, by) => {
                in_a_row = 0;
                last = format!(
                    "a ping through the LB was still answered {} by {}",
                    status.map_or_else(|| "nothing".to_string(), |s| s.to_string()),
                    by.unwrap_or("a node it did not name")
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// A run's faults and what has been done with them: each injected and
/// healed at its time, a maintenance's steps, and the heal of whatever is
/// left. Cheap to clone into a maintenance running alongside the timeline.
#[derive(Clone)]
pub struct Faults {
    events: Events,
    cluster: Arc<Target>,
    /// The cluster's API as faults use it, with who is who.
    api: Arc<FaultApi>,
    plan: Arc<Vec<PlannedFault>>,
    /// Maintenances take turns, as an operator's rolling maintenance
    /// does: a node is drained only once the last one is back.
    turns: Arc<tokio::sync::Mutex<()>>,
    /// Per fault: (injected, healed).
    state: Arc<Mutex<Vec<(bool, bool)>>>,
}

/// How often a maintenance reads the node's running task count.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// How long a restarted node may take to answer ping.
const UP_TIMEOUT: Duration = Duration::from_secs(30);

impl Faults {
    /// The faults of `plan`, none injected yet, acting on `cluster` and
    /// through `api`, recorded to `events`.
    pub fn new(
        events: Events,
        cluster: Arc<Target>,
        api: FaultApi,
        plan: Vec<PlannedFault>,
    ) -> Self {
        let state = vec![(false, false); plan.len()];
        Self {
            events,
            cluster,
            api: Arc::new(api),
            turns: Arc::new(tokio::sync::Mutex::new(())),
            plan: Arc::new(plan),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The planned faults, by index.
    pub fn plan(&self) -> &[PlannedFault] {
        &self.plan
    }

    /// Waits until `nodes` are confirmed drained, as [`confirm_drained`].
    pub async fn confirm_drained(
        &self,
        nodes: &[String],
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        confirm_drained(&self.cluster, &self.api, nodes, deadline).await
    }

    fn mark(&self, i: usize, action: FaultAction) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match action {
            FaultAction::Inject => state[i].0 = true,
            FaultAction::Heal => state[i].1 = true,
            FaultAction::Step => {}
        }
    }

    /// Injects or heals fault `i` and records it at the time it began, so
    /// that requests that failed while a kill or a restart was under way
    /// fall inside the fault's window, and when it returned, by which time
    /// a drain has taken effect.
    pub async fn apply(&self, i: usize, action: FaultAction) -> Result<(), String> {
        let f = &self.plan[i];
        let at_us = self.events.now_us();
        // Marked first: a heal that is cut short must still be retried.
        if action == FaultAction::Inject {
            self.mark(i, action);
        }
        let result = match action {
            FaultAction::Inject => f.inject(&self.cluster, &self.api).await,
            FaultAction::Heal => f.heal(&self.cluster, &self.api).await,
            FaultAction::Step => Ok(()),
        };
        // A heal that failed stays pending, so the heal phase tries again.
        if action == FaultAction::Heal && result.is_ok() {
            self.mark(i, action);
        }
        self.record(i, action, at_us, None, result.clone().err());
        result
    }

    fn record(
        &self,
        i: usize,
        action: FaultAction,
        at_us: u64,
        step: Option<String>,
        error: Option<String>,
    ) {
        let f = &self.plan[i];
        self.events.send(Event::Fault(FaultEvent {
            at_us,
            done_us: Some(self.events.now_us()),
            step,
            name: f.name.clone(),
            kind: f.kind,
            nodes: f.nodes.clone(),
            action,
            error,
        }));
    }

    /// A rolling maintenance, as the Octopus docs describe it: drain; once
    /// the LB has had `restart_after` and the node runs no task (or `wait`
    /// is over), restart it; once it answers, undrain it.
    ///
    /// Each step is taken only once the one before it is confirmed: the
    /// drain, by the cluster reporting the node in maintenance mode and the
    /// node's own ping answering 418; the wait, by a running task count
    /// read as zero, or read at all when the wait is over, and the drain
    /// seen again just before the stop. Otherwise the maintenance stops
    /// there, recorded with the reason, and undrains: a node that was not
    /// drained is never stopped.
    pub async fn maintain(self, i: usize) {
        let f = &self.plan[i];
        let Some(plan) = f.maintenance else { return };
        let _turn = match self.turns.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                eprintln!(
                    "harness: {} waits for the maintenance under way to end",
                    f.name
                );
                self.turns.lock().await
            }
        };
        let drained_at = tokio::time::Instant::now();
        if self.apply(i, FaultAction::Inject).await.is_err() {
            // The drain's own event says why.
            return self
                .stop_short(i, "the drain was not done; no node was stopped".into())
                .await;
        }
        let deadline = drained_at + plan.wait.max(plan.restart_after);
        let confirmed = confirm_drained(&self.cluster, &self.api, &f.nodes, deadline).await;
        if let Err(e) = confirmed {
            return self
                .stop_short(i, format!("{e}; no node was stopped"))
                .await;
        }
        tokio::time::sleep_until(drained_at + plan.restart_after).await;
        let (running, step_at) = loop {
            let at = self.events.now_us();
            let running = self.running_tasks(&f.nodes).await;
            if running == Ok(0) || tokio::time::Instant::now() >= deadline {
                break (running, at);
            }
            tokio::time::sleep(IDLE_POLL).await;
        };
        let idle = match running {
            Ok(0) => "idle".to_string(),
            Ok(n) => format!("wait over with {n} tasks running"),
            Err(e) => {
                return self
                    .stop_short(
                        i,
                        format!(
                            "the running task count could not be read by the end of the wait ({e}); no node was stopped"
                        ),
                    )
                    .await;
            }
        };
        self.record(i, FaultAction::Step, step_at, Some(idle), None);
        // Looked at once more just before the stop: the wait may have been
        // long, and something else (an operator) may have undrained it.
        let still = confirm_drained(
            &self.cluster,
            &self.api,
            &f.nodes,
            tokio::time::Instant::now(),
        )
        .await;
        if let Err(e) = still {
            return self
                .stop_short(
                    i,
                    format!("{e} when its restart was due; no node was stopped"),
                )
                .await;
        }
        // A maintenance has one node (validation sees to it).
        for node in &f.nodes {
            let at_us = self.events.now_us();
            // Cleanly, as an operator would; the embedded nodes are killed.
            // Started only once stopped.
            let result = match self.cluster.stop(node).await {
                Ok(()) => self.cluster.start(node).await,
                Err(e) => Err(e),
            };
            let result = match result {
                Ok(()) => self.wait_up(node).await,
                Err(e) => Err(e),
            };
            self.record(
                i,
                FaultAction::Step,
                at_us,
                Some("restart".into()),
                result.err(),
            );
        }
        let _ = self.apply(i, FaultAction::Heal).await;
    }

    /// Ends a maintenance before its next step: records why, then undoes
    /// what it did.
    async fn stop_short(&self, i: usize, why: String) {
        eprintln!("harness: {} stopped: {why}", self.plan[i].name);
        let at_us = self.events.now_us();
        self.record(
            i,
            FaultAction::Step,
            at_us,
            Some(STOPPED_STEP.into()),
            Some(why),
        );
        let _ = self.apply(i, FaultAction::Heal).await;
    }

    /// The nodes' running tasks, by their Ids; an error when a count
    /// cannot be read (a summary without the count is not "idle").
    async fn running_tasks(&self, nodes: &[String]) -> Result<u32, String> {
        let mut total = 0u32;
        for n in nodes {
            let id = self
                .api
                .ids()
                .identity(n)
                .map(|i| i.id.clone())
                .ok_or_else(|| format!("the cluster never said which of its nodes {n} is"))?;
            total = total.saturating_add(self.api.client().running_tasks(&id).await?);
        }
        Ok(total)
    }

    /// Waits until a restarted node answers ping directly (200 or 418).
    async fn wait_up(&self, node: &str) -> Result<(), String> {
        let url = self
            .cluster
            .node_url(node)
            .ok_or_else(|| format!("unknown node {node:?}"))?;
        let client = ApiClient::with_trust(&url, self.api_key(), &self.cluster.trust())?;
        let deadline = tokio::time::Instant::now() + UP_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if matches!(
                client.ping_status(Duration::from_secs(1)).await,
                Some(200 | 418)
            ) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "{node} did not answer ping within {}s of its restart",
            UP_TIMEOUT.as_secs()
        ))
    }

    fn api_key(&self) -> ApiKey {
        self.cluster.api_key().clone()
    }

    /// Heals every fault injected and not yet healed.
    pub async fn heal_the_rest(&self) {
        let pending: Vec<usize> = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (0..state.len())
                .filter(|&i| state[i].0 && !state[i].1)
                .collect()
        };
        for i in pending {
            let _ = self.apply(i, FaultAction::Heal).await;
        }
    }
}
