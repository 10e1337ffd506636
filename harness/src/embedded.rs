//! The reference cluster as a scenario asks for it: the scenario's
//! `cluster:` section turned into the reference cluster's own spec, the
//! cluster's events stamped into the run's history, and the room on disk
//! its packages need. The reference cluster knows nothing of scenarios or
//! histories; this is the one place the two meet.

use std::path::Path;

use reference_cluster::events::{ClusterEvent, EventSink};
use reference_cluster::lb::{HealthConfig, Limits};
use reference_cluster::spec::{self, Spec};
use reference_cluster::{ClusterError, EmbeddedCluster, NodeNaming};

use crate::history::{Event, Events};
use crate::limits::STORAGE_HEADROOM;
use crate::scenario::{self, node_names, units::Size};
use crate::vocab::ApiKey;

/// Boots the embedded cluster a scenario's `cluster:` section describes,
/// its events into `events`.
pub async fn boot(
    cluster: &scenario::Cluster,
    naming: NodeNaming,
    dir: &Path,
    key: ApiKey,
    events: Events,
) -> Result<EmbeddedCluster, ClusterError> {
    EmbeddedCluster::boot(&spec_of(cluster), naming, dir, key, sink(events)).await
}

/// The reference cluster's spec for a scenario's `cluster:` section.
pub fn spec_of(c: &scenario::Cluster) -> Spec {
    Spec {
        nodes: node_names(c.nodes.value),
        storage: match c.storage {
            scenario::Storage::Shared => spec::Storage::Shared,
            scenario::Storage::PerNode => spec::Storage::PerNode,
        },
        task_cap: c.task_cap,
        heartbeat: c.heartbeat.value.get(),
        offline_after: c.offline_after.value.get(),
        queue_poll: c.tasks.poll.value.get(),
        orphan_after: c.tasks.orphan_after.value.get(),
        racy_claim: c.tasks.claim == scenario::Claim::Racy,
        upload_delay_per_gib: c.packages.delay_per_gib.as_ref().map(|d| d.value.get()),
        upload_store_first: c.packages.store_first,
        polling: c.polling.as_ref().map(|p| spec::Polling {
            layout: match p.layout.value {
                scenario::PollingLayout::UniqueAddress => spec::PollingLayout::UniqueAddress,
                scenario::PollingLayout::UniquePort => spec::PollingLayout::UniquePort,
            },
            poll_wait: p.poll_wait.value.get(),
            pickup_timeout: p.pickup_timeout.value.get(),
        }),
        node_cpus: c.node_cpus.as_ref().map(|c| c.value),
        lb: lb_spec(&c.lb),
        behaviour: c
            .behaviour
            .iter()
            .map(|(node, b)| {
                let on_database_loss = match b.value.on_database_loss {
                    scenario::OnDatabaseLoss::Reconnect => spec::DatabaseLoss::Reconnect,
                    scenario::OnDatabaseLoss::Exit => spec::DatabaseLoss::Exit,
                    scenario::OnDatabaseLoss::NoReconnect => spec::DatabaseLoss::NoReconnect,
                };
                let behaviour = spec::Behaviour {
                    on_database_loss,
                    acknowledge_before_commit: b.value.acknowledge_before_commit,
                };
                (node.clone(), behaviour)
            })
            .collect(),
    }
}

/// The reference cluster's LB for a scenario's `lb:` section: its engine,
/// its health checks, and its limits with the preset applied.
pub fn lb_spec(lb: &scenario::Lb) -> spec::Lb {
    let hc = &lb.health_check;
    let l = lb.limits();
    spec::Lb {
        engine: match lb.engine {
            scenario::LbEngine::Builtin => spec::LbEngine::Builtin,
            scenario::LbEngine::Haproxy => spec::LbEngine::Haproxy,
            scenario::LbEngine::Nginx => spec::LbEngine::Nginx,
        },
        health: HealthConfig {
            enabled: hc.enabled,
            path: hc.path.clone(),
            interval_ms: hc.interval.value.get().as_millis() as u64,
            timeout_ms: hc.timeout.value.get().as_millis() as u64,
            healthy_threshold: hc.healthy_threshold.value,
            unhealthy_threshold: hc.unhealthy_threshold.value,
            accept: hc.accept.value.ranges().to_vec(),
            passive: hc.mode == scenario::HealthMode::Passive,
            max_fails: hc.max_fails.value,
            fail_timeout_ms: hc.fail_timeout.value.get().as_millis() as u64,
        },
        limits: Limits {
            backend_timeout: l.backend_timeout,
            max_body: l.max_body,
            too_large_status: l.too_large_status,
            idle_timeout: l.idle_timeout,
            body_read_timeout: l.body_read_timeout,
            request_buffering: l.request_buffering,
        },
    }
}

/// A sink that stamps each of the cluster's events with the run's clock
/// as it comes, and records it.
pub fn sink(events: Events) -> EventSink {
    EventSink::new(move |e| {
        let at_us = events.now_us();
        events.send(match e {
            ClusterEvent::NodeUp {
                node,
                address,
                pid,
                boot_ms,
            } => Event::NodeUp {
                at_us,
                node,
                address,
                pid,
                boot_ms,
            },
            ClusterEvent::CpuLimit {
                method,
                cores_per_node,
                asked,
            } => Event::CpuLimit {
                at_us,
                method,
                cores_per_node,
                asked,
            },
            ClusterEvent::LbHealth { node, healthy } => Event::LbHealth {
                at_us,
                node,
                healthy,
            },
        })
    })
}

/// Refuses a run whose packages would not fit in `dir`'s file system,
/// where the embedded cluster keeps its storage: `stored` bytes at once
/// (`Scenario::stored_at_most`), and [`STORAGE_HEADROOM`] more for the
/// database and logs. A disk filled mid-run fails every node at once, and
/// looks like a cluster fault.
pub fn check_room(dir: &Path, stored: u64) -> Result<(), String> {
    if stored == 0 {
        return Ok(());
    }
    let stat = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| format!("failed to read the free space of {}: {e}", dir.display()))?;
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    let needed = stored.saturating_add(STORAGE_HEADROOM);
    if needed <= free {
        return Ok(());
    }
    let size = Size::from_bytes;
    Err(format!(
        "not enough free space in {}: the scenario keeps up to {} of packages on the cluster's storage at once, and the cluster needs {} more for its database and logs, but {} is free",
        dir.display(),
        size(stored),
        size(STORAGE_HEADROOM),
        size(free)
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use reference_cluster::real_lb::{Backend, RealLb, config};

    use super::*;

    /// The reference cluster's LB for a scenario's `lb:` section, as
    /// `engine`.
    fn lb(engine: &str, yaml: &str) -> spec::Lb {
        let s = crate::scenario::parse_str(&format!(
            "name: t\nduration: 10s\ncluster:\n  lb:\n    engine: {engine}\n{yaml}"
        ))
        .unwrap();
        lb_spec(&s.cluster.lb)
    }

    #[test]
    fn nginx_defaults_and_passive_checks_are_written_out() {
        let dir = Path::new("/tmp/x");
        let backends = [Backend {
            name: "n1",
            addr: "127.0.0.2:5000".parse().unwrap(),
        }];
        let l = lb(
            "nginx",
            "    preset: nginx-default\n    health_check: { max_fails: 2, fail_timeout: 5s }\n",
        );
        let RealLb {
            program,
            file,
            text,
            args,
        } = config(&l, "127.0.0.1:9".parse().unwrap(), &backends, &[], dir).unwrap();
        assert_eq!(program, "nginx");
        assert_eq!(file, dir.join("nginx.conf"));
        assert!(text.contains("client_max_body_size 1048576;"), "{text}");
        assert!(text.contains("proxy_request_buffering on;"), "{text}");
        assert!(
            text.contains("server 127.0.0.2:5000 max_fails=2 fail_timeout=5s;"),
            "{text}"
        );
        assert_eq!(args[0], "-c");
    }

    #[test]
    fn haproxy_gets_checks_matchers_and_timeouts() {
        let backends = [Backend {
            name: "n1",
            addr: "127.0.0.2:5000".parse().unwrap(),
        }];
        let l = lb(
            "haproxy",
            "    backend_timeout: 2s\n    max_body: 1MiB\n    health_check: { interval: 1s, accept: \"200,418\" }\n",
        );
        let polling = [reference_cluster::lb::TcpForward {
            listen: "127.0.0.1:10943".parse().unwrap(),
            backends: vec!["127.0.0.2:7000".parse().unwrap()],
        }];
        let RealLb { text, .. } = config(
            &l,
            "127.0.0.1:9".parse().unwrap(),
            &backends,
            &polling,
            Path::new("/tmp"),
        )
        .unwrap();
        // The polling port is TCP pass-through: TLS ends at the node.
        assert!(
            text.contains("listen polling0\n  mode tcp\n  bind 127.0.0.1:10943\n")
                && text.contains("server p0 127.0.0.2:7000"),
            "{text}"
        );
        assert!(text.contains("timeout server 2000ms"), "{text}");
        assert!(text.contains("gt 1048576"), "{text}");
        assert!(text.contains("rstatus ^(200|418)$"), "{text}");
        assert!(
            text.contains("server n1 127.0.0.2:5000 check inter 1000ms rise 2 fall 2"),
            "{text}"
        );
    }

    #[test]
    fn a_run_that_would_fill_the_disk_is_refused_with_the_figures() {
        let dir = tempfile::tempdir().unwrap();
        let stat = nix::sys::statvfs::statvfs(dir.path()).unwrap();
        let free = stat.blocks_available() * stat.fragment_size();
        check_room(dir.path(), 1 << 20).expect("a MiB fits");
        check_room(dir.path(), 0).expect("nothing stored needs no room");
        let e = check_room(dir.path(), free).unwrap_err();
        assert!(e.contains("not enough free space in "), "{e}");
        assert!(
            e.contains("at once, and the cluster needs 1GiB more"),
            "{e}"
        );
        let e = check_room(Path::new("/no/such/dir"), 1).unwrap_err();
        assert!(
            e.contains("failed to read the free space of /no/such/dir"),
            "{e}"
        );
    }
}
