//! The `fleet` workload: registers a fleet of simulated polling Tentacles
//! through the API, starts their polling connections, probes each node's
//! polling endpoint, runs the health-check rounds (one `Health` task per
//! node, pinned to it, over every Tentacle) and records what each task's
//! log says of each machine; at the end it stops the fleet and removes
//! every machine it registered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand_core::SeedableRng;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::workload::{RunContext, Workload};
use crate::client::ApiClient;
use crate::fleet::{self, Fleet, FleetSpec, Target, Tentacle};
use crate::history::{
    Event, Events, FleetStarted, FleetTentacle, HealthSeen, HealthTaskSeen, NodeMap,
};
use crate::limits::CLEANUP_WITHIN;
use crate::scenario::{FleetLoad, PollingListeners, Polls};
use crate::vocab::Shard;
use reference_cluster::PollingEndpoint;
use reference_cluster::api::{NewTask, TaskState};

/// Registrations in flight at once.
const REGISTER_CONCURRENCY: usize = 16;

/// Time between two reads of a health task's state.
const TASK_POLL: Duration = Duration::from_millis(250);

/// The log line prefix the reference node writes per machine.
const HEALTH_LINE: &str = "Info  HEALTH ";

/// Where the cluster's polling endpoints are.
struct Endpoints {
    /// Each node's, as the layout has Tentacles reach it.
    pub nodes: Vec<PollingEndpoint>,
    /// The LB's shared polling port, if any.
    pub lb: Option<SocketAddr>,
    /// The poll wait and the pick-up timeout of the nodes.
    pub poll_wait: Duration,
    /// How long a request may wait to be collected.
    pub pickup: Duration,
    /// Which cluster node each node is: a health task is pinned by the
    /// Name the cluster knows its node by.
    pub ids: NodeMap,
}

/// A running fleet workload.
pub(super) struct FleetWorkload {
    handle: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Workload for FleetWorkload {
    /// The fleet, and the nodes' polling listeners it reaches.
    type Part = (FleetLoad, PollingListeners);

    /// Starts it now; rounds run at their offsets from `start`.
    fn start(ctx: &RunContext, (cfg, polling): Self::Part) -> Result<Self, String> {
        let endpoints = Endpoints {
            nodes: ctx.cluster.polling_endpoints().to_vec(),
            lb: ctx.cluster.lb_polling_endpoint(),
            poll_wait: polling.poll_wait.value.get(),
            pickup: polling.pickup_timeout.value.get(),
            ids: ctx.ids.clone(),
        };
        let setup = Setup {
            lb: ctx.lb.clone(),
            events: ctx.events.clone(),
            start: ctx.start,
            seed: ctx.seed,
            run_id: ctx.run_id.clone(),
            shard: ctx.shard,
        };
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(run(cfg, endpoints, setup, stop_rx));
        Ok(Self { handle, stop })
    }

    /// Stopping the fleet and removing its machines is clean-up: it runs
    /// after an interrupt too, and no interrupt cuts it short.
    async fn finish(
        self,
        _stopped: bool,
        _interrupt: watch::Receiver<Option<String>>,
    ) -> Option<String> {
        self.stop_and_remove().await;
        None
    }
}

impl FleetWorkload {
    /// Stops the rounds, waits for the fleet to stop and for its machines
    /// to be removed, within [`CLEANUP_WITHIN`]; past it the fleet is
    /// dropped where it is (its machines carry the run ID, for `harness
    /// cleanup --run-id`).
    async fn stop_and_remove(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(CLEANUP_WITHIN, &mut self.handle)
            .await
            .is_err()
        {
            self.handle.abort();
            eprintln!(
                "harness: the fleet did not stop and remove its machines within {}s",
                CLEANUP_WITHIN.as_secs()
            );
        }
    }
}

/// What the fleet's work goes through, records to, and counts from.
struct Setup {
    lb: ApiClient,
    events: Events,
    /// When the health-check rounds' offsets count from.
    start: Instant,
    seed: u64,
    /// In every machine's name, for `harness cleanup --run-id`.
    run_id: String,
    /// The shard whose Tentacles these are: every `count`-th of the
    /// fleet, from `index` (all of them unless the run is split).
    shard: Shard,
}

async fn run(cfg: FleetLoad, endpoints: Endpoints, setup: Setup, mut stop: watch::Receiver<bool>) {
    let Setup {
        lb,
        events,
        start,
        seed,
        run_id,
        shard,
    } = setup;
    let tentacles = match generate(cfg.tentacles.value as usize, seed, shard).await {
        Ok(t) => t,
        Err(e) => return eprintln!("harness: fleet: {e}"),
    };
    let thumbprint = match lb.server_thumbprint().await {
        Ok(t) => t,
        Err(e) => return eprintln!("harness: fleet: cannot read the server thumbprint: {e}"),
    };
    let (machines, errors) = register(&lb, &tentacles, &run_id).await;
    let targets = targets(&cfg.polls.value, &endpoints);
    // Each node's endpoint, as a browser on port 10943 sees it; before the
    // fleet starts, so the fan-out is timed on its own.
    for e in &endpoints.nodes {
        events.send(Event::PollingProbe(
            fleet::probe(&e.node, e.addr, &events).await,
        ));
    }
    events.send(Event::Fleet(FleetStarted {
        at_us: events.now_us(),
        // The whole fleet's: a merge of the shards' fleets holds them all.
        requested: cfg.tentacles.value,
        tentacles: tentacles
            .iter()
            .zip(&machines)
            .filter_map(|(t, m)| {
                Some(FleetTentacle {
                    name: t.name.clone(),
                    machine: m.clone()?,
                })
            })
            .collect(),
        registration_errors: errors,
        endpoints: targets
            .iter()
            .map(|t| (t.node.clone(), t.addr.to_string()))
            .collect(),
        nodes: endpoints.nodes.iter().map(|e| e.node.clone()).collect(),
        connections: cfg.connections.value,
        server_thumbprint: thumbprint.clone(),
    }));
    let spec = FleetSpec {
        connections: cfg.connections.value,
        script: cfg.script.value.get(),
        reconnect_min: cfg.reconnect.min.value.get(),
        reconnect_max: cfg.reconnect.max.value.get(),
        receive_timeout: endpoints.poll_wait.saturating_add(Duration::from_secs(30)),
    };
    // Each shard's reconnect jitter its own, as one process's Tentacles'
    // are: the same stream in every shard would bring them back in step.
    let jitter = shard.seed(seed);
    let running = match Fleet::start(&tentacles, &targets, &spec, &thumbprint, &events, jitter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("harness: fleet: {e}");
            remove(&lb, &machines, &events).await;
            return;
        }
    };
    // The rounds wait for the fleet to connect, within a bound; the
    // checks judge whether it did.
    let expected = tentacles.len() * targets.len() * spec.connections as usize;
    let connected = async {
        while running.open_connections() < expected {
            sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = timeout(cfg.connect_within.value.get(), connected) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    let nodes: Vec<String> = endpoints.nodes.iter().map(|e| e.node.clone()).collect();
    let rounds = Rounds {
        lb: lb.clone(),
        events: events.clone(),
        machines: machines.iter().flatten().cloned().collect(),
        // A pinned task waits for its node's queue check, then each call
        // for a connection: bounded by the pick-up timeout, with room for
        // the rest.
        within: endpoints
            .pickup
            .saturating_mul(3)
            .saturating_add(endpoints.poll_wait)
            .saturating_add(Duration::from_secs(60)),
        run_id,
        created: Arc::new(std::sync::Mutex::new(Vec::new())),
        ids: endpoints.ids.clone(),
    };
    health_rounds(&cfg, &rounds, &nodes, start, &mut stop).await;
    let _ = stop.wait_for(|s| *s).await;
    running.stop().await;
    // A round cut short leaves its health tasks behind.
    let created = rounds
        .created
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    super::tasks::cancel_unfinished(&lb, &created, &events).await;
    remove(&lb, &machines, &events).await;
}

/// The shard's Tentacles of the fleet, each with a certificate of its
/// own. The whole fleet is drawn from the run's seed, the same in every
/// shard; each shard keeps its slice.
async fn generate(n: usize, seed: u64, shard: Shard) -> Result<Vec<Arc<Tentacle>>, String> {
    // Certificates take a little CPU each: off the runtime's threads.
    let tentacles = tokio::task::spawn_blocking(move || {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut kept = Vec::new();
        for i in 0..n {
            let t = Tentacle::generate(&format!("tentacle-{:04}", i + 1), &mut rng)?;
            if shard.owns(i as u64) {
                kept.push(Arc::new(t));
            }
        }
        Ok(kept)
    })
    .await;
    tentacles.unwrap_or_else(|e| Err(e.to_string()))
}

/// Where the Tentacles poll, as the workload's `polls` says.
fn targets(polls: &Polls, endpoints: &Endpoints) -> Vec<Target> {
    match polls {
        Polls::AllNodes => endpoints
            .nodes
            .iter()
            .map(|e| Target {
                node: e.node.clone(),
                addr: e.addr,
            })
            .collect(),
        Polls::Node(name) => endpoints
            .nodes
            .iter()
            .filter(|e| &e.node == name)
            .map(|e| Target {
                node: e.node.clone(),
                addr: e.addr,
            })
            .collect(),
        Polls::Lb => endpoints
            .lb
            .map(|addr| Target {
                node: crate::history::LB_NAME.into(),
                addr,
            })
            .into_iter()
            .collect(),
    }
}

/// The health-check rounds, each at its offset from `start`, until they
/// are done or the fleet is stopped.
async fn health_rounds(
    cfg: &FleetLoad,
    rounds: &Rounds,
    nodes: &[String],
    start: Instant,
    stop: &mut watch::Receiver<bool>,
) {
    for (round, at) in cfg.health_checks.iter().enumerate() {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = sleep_until(start + at.value.get()) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        // Stopping (an interrupt) abandons a round under way.
        tokio::select! {
            _ = health_round(rounds, nodes, round as u32) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// Registers every Tentacle; gives each one's machine ID (None where it
/// failed) and the errors.
async fn register(
    lb: &ApiClient,
    tentacles: &[Arc<Tentacle>],
    run_id: &str,
) -> (Vec<Option<String>>, Vec<String>) {
    let mut ids = vec![None; tentacles.len()];
    let mut errors = Vec::new();
    let mut pending = JoinSet::new();
    let mut next = 0;
    loop {
        while pending.len() < REGISTER_CONCURRENCY && next < tentacles.len() {
            let t = tentacles[next].clone();
            let lb = lb.clone();
            let i = next;
            // The run's ID in the machine's name marks it as the run's.
            let name = format!("{}-{run_id}", t.name);
            pending.spawn(async move {
                (
                    i,
                    lb.register_machine(&name, &t.subscription, t.thumbprint())
                        .await,
                )
            });
            next += 1;
        }
        match pending.join_next().await {
            Some(Ok((i, Ok(id)))) => ids[i] = Some(id),
            Some(Ok((i, Err(e)))) => errors.push(format!("registering {}: {e}", tentacles[i].name)),
            Some(Err(e)) => errors.push(e.to_string()),
            None => break,
        }
    }
    (ids, errors)
}

/// Removes every machine the run registered.
async fn remove(lb: &ApiClient, machines: &[Option<String>], events: &Events) {
    let mut removed = 0;
    let mut errors = Vec::new();
    let mut pending = JoinSet::new();
    let mut ids = machines.iter().flatten();
    loop {
        while pending.len() < REGISTER_CONCURRENCY {
            let Some(id) = ids.next() else { break };
            let lb = lb.clone();
            let id = id.clone();
            pending.spawn(async move {
                let result = lb.delete_machine(&id).await;
                (id, result)
            });
        }
        let (id, result) = match pending.join_next().await {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                errors.push(e.to_string());
                continue;
            }
            None => break,
        };
        match &result {
            Ok(()) => removed += 1,
            Err(e) => errors.push(e.clone()),
        }
        events.send(Event::Removed {
            at_us: events.now_us(),
            kind: "machine".into(),
            id,
            removed: result.is_ok(),
            error: result.err(),
            state: None,
        });
    }
    events.send(Event::FleetRemoved {
        at_us: events.now_us(),
        removed,
        errors,
    });
}

/// What every health round shares.
#[derive(Clone)]
struct Rounds {
    lb: ApiClient,
    events: Events,
    /// The machines each task checks.
    machines: Vec<String>,
    /// How long one task may take.
    within: Duration,
    run_id: String,
    /// Every health task created, to cancel the unfinished at the end.
    created: Arc<std::sync::Mutex<Vec<String>>>,
    ids: NodeMap,
}

/// One round: a health task pinned to each node, all at once, each
/// followed to its end and its log read.
async fn health_round(r: &Rounds, nodes: &[String], round: u32) {
    let mut tasks = JoinSet::new();
    for node in nodes {
        let r = r.clone();
        let node = node.clone();
        tasks.spawn(async move {
            let seen = health_task(&r, &node, round).await;
            r.events.send(Event::HealthTask(seen));
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn health_task(r: &Rounds, node: &str, round: u32) -> HealthTaskSeen {
    let (lb, events, machines, within) = (&r.lb, &r.events, &r.machines, r.within);
    let description = format!(
        "harness run {}, health check round {}, on {node}",
        r.run_id,
        round + 1
    );
    let queued_us = events.now_us();
    let mut seen = HealthTaskSeen {
        queued_us,
        done_us: queued_us,
        round,
        node: node.to_string(),
        ran_on: None,
        task: None,
        state: None,
        error: None,
    };
    let Some(pinned) = r.ids.identity(node).map(|i| i.name.clone()) else {
        seen.error = Some(format!(
            "the cluster never said which of its nodes {node} is, so no task was pinned to it"
        ));
        seen.done_us = events.now_us();
        return seen;
    };
    let task = NewTask {
        name: "Health".into(),
        description,
        arguments: Some(json!({ "MachineIds": machines, "PinnedNode": pinned })),
        space_id: None,
    };
    let created = lb.create_task(&task, Duration::from_secs(30)).await;
    let Some(id) = created.id else {
        seen.error = Some(format!(
            "the health task was not created: {}",
            created.error.unwrap_or_default()
        ));
        seen.done_us = events.now_us();
        return seen;
    };
    seen.task = Some(id.clone());
    r.created
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(id.clone());
    let deadline = Instant::now() + within;
    let end = loop {
        if Instant::now() > deadline {
            break None;
        }
        match lb.tasks(std::slice::from_ref(&id)).await {
            Ok(t) => match t.first() {
                Some(t) if t.state.is_completed() => break Some(t.clone()),
                _ => {}
            },
            Err(e) => seen.error = Some(e),
        }
        sleep(TASK_POLL).await;
    };
    seen.done_us = events.now_us();
    let Some(end) = end else {
        seen.error = Some(format!(
            "the health task did not finish within {}s",
            within.as_secs()
        ));
        return seen;
    };
    seen.state = Some(end.state);
    seen.error = end.error_message.filter(|e| !e.is_empty());
    // Results count for the node that ran the task, which is the pinned
    // one unless something moved it.
    seen.ran_on = end.server_node.clone();
    // As the cluster names nodes, like a ServerNode: the recorder names it
    // by the run's name.
    let ran_on = end.server_node.as_deref().unwrap_or(&pinned);
    // The node names the machines it reached, and how, in the task log.
    match lb.raw_log(&id).await {
        Ok((200, log)) => {
            for line in String::from_utf8_lossy(&log).lines() {
                if let Some(h) = parse_line(line, round, ran_on, events.now_us()) {
                    events.send(Event::Health(h));
                }
            }
        }
        Ok((status, _)) => seen.error = Some(format!("reading the task log answered {status}")),
        Err(e) => seen.error = Some(e),
    }
    if end.state != TaskState::Success && seen.error.is_none() {
        seen.error = Some(format!("the health task ended {}", end.state.as_str()));
    }
    seen
}

/// One machine's outcome from a log line: `HEALTH <machine> ok
/// rtt_us=1,2` or `HEALTH <machine> failed rtt_us=1,2 <why>`.
fn parse_line(line: &str, round: u32, node: &str, at_us: u64) -> Option<HealthSeen> {
    let rest = &line[line.find(HEALTH_LINE)? + HEALTH_LINE.len()..];
    let (machine, rest) = rest.split_once(' ')?;
    let (ok, rest) = match rest.split_once(' ') {
        Some(("ok", rest)) => (true, rest),
        Some(("failed", rest)) => (false, rest),
        _ => return None,
    };
    let (list, why) = rest.split_once(' ').unwrap_or((rest, ""));
    let rtt_us = list
        .strip_prefix("rtt_us=")?
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    Some(HealthSeen {
        at_us,
        round,
        node: node.to_string(),
        machine: machine.to_string(),
        ok,
        error: (!ok).then(|| why.to_string()),
        rtt_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_lines_parse_both_ways_and_others_are_ignored() {
        let ok = parse_line(
            "2026-11-26T10:00:00.000Z  Info  HEALTH Machines-3 ok rtt_us=120,340,99",
            0,
            "n1",
            5,
        )
        .unwrap();
        assert_eq!(
            (ok.machine.as_str(), ok.ok, ok.rtt_us.clone()),
            ("Machines-3", true, vec![120, 340, 99])
        );
        let bad = parse_line(
            "2026-11-26T10:00:00.000Z  Info  HEALTH Machines-4 failed rtt_us=120000000 ICapabilitiesServiceV2.GetCapabilities: A request was sent",
            1,
            "n2",
            5,
        )
        .unwrap();
        assert!(!bad.ok);
        assert_eq!(bad.rtt_us, vec![120_000_000]);
        assert!(
            bad.error
                .unwrap()
                .starts_with("ICapabilitiesServiceV2.GetCapabilities: A request")
        );
        assert!(
            parse_line(
                "2026-11-26T10:00:00.000Z  Info  finished: Success",
                0,
                "n1",
                5
            )
            .is_none()
        );
    }
}
