//! What the runner does with the cluster itself, whichever [`Target`] it
//! is: readies it (boots the embedded one, or sees that a real one
//! answers), records which cluster node each of the run's nodes is,
//! watches each node's own ping for every change of answer, and records
//! the peak memory of its processes at the end.

use std::path::Path;
use std::time::Duration;

use reference_cluster::NodeNaming;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::client::{ApiClient, ApiKey};
use crate::history::{ClusterNode, Event, Events, NodeMap};
use crate::identity;
use crate::target::{RealCluster, Target, TargetFile};

/// Readies the cluster: boots the embedded one, or checks that a real one
/// answers.
pub(super) async fn ready_cluster(
    s: &crate::scenario::Scenario,
    target: Option<TargetFile>,
    dir: &Path,
    events: Events,
) -> Result<Target, String> {
    match target {
        None => {
            crate::embedded::check_room(dir, s.stored_at_most())?;
            let key = ApiKey::generate()?;
            crate::embedded::boot(
                &s.cluster,
                NodeNaming::Host,
                &dir.join("cluster"),
                key,
                events,
            )
            .await
            .map(|c| Target::Embedded(Box::new(c)))
            .map_err(|e| format!("the embedded cluster did not boot: {e}"))
        }
        Some(file) => {
            let key = file.api_key()?;
            let real = RealCluster::new(file, key, events).await?;
            real.wait_ready().await?;
            Ok(Target::Real(Box::new(real)))
        }
    }
}

/// Records which cluster node each of the run's nodes is, and the
/// cluster's nodes and task caps as its API lists them; gives the map.
pub(super) fn record_identities(events: &Events, learnt: identity::Learnt) -> NodeMap {
    for ghost in &learnt.offline_unclaimed {
        eprintln!(
            "harness: the cluster also lists {ghost}, which it reports offline and the run leaves alone"
        );
    }
    let map = NodeMap::new(learnt.identities.clone());
    for n in learnt.listed.iter().filter(|n| n.is_in_maintenance_mode) {
        let who = map
            .node_of(&n.id)
            .map_or_else(|| n.name.clone(), |k| map.label(k));
        eprintln!(
            "harness: {who} is in maintenance mode as the run starts; the run will neither drain nor undrain it"
        );
    }
    events.send(Event::NodeIdentities {
        at_us: events.now_us(),
        nodes: learnt.identities.clone(),
    });
    events.send(Event::ClusterNodes {
        at_us: events.now_us(),
        nodes: learnt
            .listed
            .into_iter()
            .map(|n| ClusterNode {
                name: n.name,
                task_cap: n.max_concurrent_tasks,
                drained: n.is_in_maintenance_mode,
            })
            .collect(),
    });
    map
}

/// Time between two direct pings of one node.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Probes each node's own ping (not through the LB) and records each change
/// of answer, and each change of the heartbeat its body reports, until
/// told to stop.
pub(super) async fn watch_nodes(
    nodes: Vec<(String, ApiClient)>,
    events: Events,
    stop: watch::Receiver<bool>,
) {
    let mut probes = JoinSet::new();
    for (name, client) in nodes {
        let events = events.clone();
        let mut stop = stop.clone();
        probes.spawn(async move {
            let mut last: Option<Option<u16>> = None;
            let mut last_seen = None;
            let mut ticker = tokio::time::interval(WATCH_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                let at_us = events.now_us();
                let (status, heartbeat) = client.ping_heartbeat(WATCH_EVERY * 2).await;
                if last != Some(status) {
                    last = Some(status);
                    events.send(Event::NodeStatus {
                        at_us,
                        node: name.clone(),
                        status,
                    });
                }
                if let Some(h) = heartbeat
                    && last_seen.as_ref() != Some(&h)
                {
                    events.send(Event::NodeSeen {
                        at_us,
                        node: name.clone(),
                        last_seen: h.last_seen.clone(),
                        offline: h.offline,
                    });
                    last_seen = Some(h);
                }
            }
        });
    }
    while probes.join_next().await.is_some() {}
}

/// The peak memory of the harness and of every cluster process, for
/// capacity planning and the fleet's memory bound.
pub(super) fn record_memory(events: &Events, cluster: &Target) {
    let own =
        reference_cluster::peak_rss_kib("/proc/self/status").map(|k| ("harness".to_string(), k));
    for (process, peak_rss_kib) in own.into_iter().chain(cluster.peak_memory()) {
        events.send(Event::PeakMemory {
            at_us: events.now_us(),
            process,
            peak_rss_kib,
        });
    }
}
