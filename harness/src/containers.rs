//! The containerized target: an Octopus HA cluster in containers on a
//! Docker-compatible engine (Docker, or Podman serving the Docker API),
//! started through testcontainers. Two sets of images:
//! - real: SQL Server (the `mssql_server` module, its EULA accepted
//!   explicitly), N `octopusdeploy/octopusdeploy` nodes sharing volumes
//!   for the package feed, artifacts, task logs and event exports, and the
//!   `haproxy` image, all pulled from their registry;
//! - stand-ins (`--stand-ins`), built here with no registry
//!   (`images`): reference nodes (`harness cluster node`) sharing their
//!   SQLite database and store on named volumes, and Debian's HAProxy. No
//!   SQL Server runs.
//!
//! Either way HAProxy is the LB, configured by the same code that
//! configures it for the embedded cluster, another HAProxy passes polling
//! through, every container is on networks of the cluster's own (one
//! each for the LB and the polling gateway, so a partition can take a
//! node off either), and ports are published on loopback only. `harness containers up` starts it, waits on every node's ping and
//! writes a target file whose node commands are `docker kill`, `stop`,
//! `start`, `pause` and `unpause`; scenarios then run against it with
//! `--target` like any real cluster. Ctrl-C, or a failed start, removes
//! every container, volume and network it made (docs/containers.md).

mod engine;
mod images;
mod spec;

pub use engine::{build_stand_ins, connect, docker_answers, sweep};
pub use spec::{ContainerConfig, ContainerSpec, Images, NodeNames, Secrets};

use engine::up;
use std::path::Path;

use tokio::sync::watch;

use crate::exit::{Failure, Kind};
use crate::limits::CONTAINERS_UP_WITHIN;
use crate::scenario;
use reference_cluster::control::TARGET_KEY_ENV;
use reference_cluster::serve::stopped;

/// The `cluster:` section the containers follow: a scenario's
/// (`--like`), or the defaults with Octopus's recommended LB settings.
pub fn cluster_like(like: Option<scenario::Cluster>) -> scenario::Cluster {
    like.unwrap_or_else(|| scenario::Cluster {
        lb: scenario::Lb {
            engine: scenario::LbEngine::Haproxy,
            preset: Some(scenario::LbPreset::OctopusRecommended),
            ..scenario::Lb::default()
        },
        ..scenario::Cluster::default()
    })
}

/// `harness containers up` once its folder and key file exist and its
/// start is announced: builds the stand-in images where asked, starts the
/// cluster (within [`CONTAINERS_UP_WITHIN`], unless `stop` turns first),
/// writes its target file, says where everything is and waits for `stop`
/// (Ctrl-C or SIGTERM); then removes every container, volume and network
/// of the cluster, and the key file. Each error is said on stderr as it
/// happens, before what the clean-up after it says, so a failure comes
/// back already said.
pub async fn serve(
    cfg: &ContainerConfig,
    dir: &Path,
    key_file: &Path,
    stop: watch::Receiver<Option<String>>,
) -> Result<(), Failure> {
    let progress = |line: &str| println!("{line}");
    let start = async {
        if cfg.images == Images::StandIns {
            build_stand_ins().await?;
        }
        up(cfg, &progress).await
    };
    let running = tokio::select! {
        r = tokio::time::timeout(CONTAINERS_UP_WITHIN, start) => {
            r.unwrap_or_else(|_| Err(format!(
                "not up within {}",
                humantime::format_duration(CONTAINERS_UP_WITHIN)
            )))
        }
        _ = stopped(stop.clone()) => Err("interrupted".to_string()),
    };
    let running = match running {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the containerized cluster did not come up: {e}");
            // The containers up() started went as their handles dropped;
            // the sweep finds any a cut start left, the network and the
            // volumes.
            let errors = sweep(&cfg.network()).await;
            say_removed(&errors);
            let _ = std::fs::remove_file(key_file);
            return Err(Failure::said(Kind::Environment));
        }
    };
    let target_file = dir.join("target.yaml");
    let mut written = true;
    if let Err(e) = std::fs::write(&target_file, cfg.target_yaml(&running.ids, TARGET_KEY_ENV)) {
        eprintln!("error: failed to write {}: {e}", target_file.display());
        written = false;
    }
    println!(
        "containerized cluster up; LB http://127.0.0.1:{}",
        cfg.lb_port
    );
    println!("API key: in {} (not printed)", key_file.display());
    println!("target file: {}", target_file.display());
    println!("Ctrl-C removes the containers, their volumes and their networks.");
    if written {
        stopped(stop).await;
    }
    let mut errors = running.remove().await;
    errors.extend(sweep(&cfg.network()).await);
    say_removed(&errors);
    let _ = std::fs::remove_file(key_file);
    if written && errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::said(Kind::Environment))
    }
}

/// Says what the clean-up could not remove, or that it removed all.
fn say_removed(errors: &[String]) {
    for e in errors {
        eprintln!("harness: containers: {e}");
    }
    if errors.is_empty() {
        println!("containers, volumes and networks removed");
    }
}

#[cfg(test)]
mod tests;
