//! `harness containers up` and `containers images`: the flags and the
//! engine checked, the ports, secrets, folder and key file made here; the
//! cluster's life is [`harness::containers::serve`]'s.

use std::path::Path;

use crate::shared::{cluster_folder, runtime, write_key_file};
use harness::containers::{self, ContainerConfig, Images, Secrets};
use harness::exit::{Failure, Outcome};
use harness::runner;
use harness::scenario::{self, MAX_NODES};

/// `containers up`'s flags.
pub(crate) struct UpArgs<'a> {
    pub(crate) nodes: Option<u32>,
    pub(crate) task_cap: Option<u32>,
    pub(crate) like: Option<&'a Path>,
    pub(crate) stand_ins: bool,
    pub(crate) octopus_tag: String,
    pub(crate) licence_env: &'a str,
    pub(crate) out: &'a Path,
}

/// The task cap without a scenario: as before scenarios could set it.
const TASK_CAP: u32 = 20;

pub(crate) fn up(a: &UpArgs<'_>) -> Result<Outcome, Failure> {
    let like = match a.like {
        Some(file) => Some(
            scenario::load(file)
                .map_err(|e| Failure::invalid(e.to_string()))?
                .scenario
                .cluster,
        ),
        None => None,
    };
    let mut cluster = containers::cluster_like(like.clone());
    let nodes = a.nodes.unwrap_or(if like.is_some() {
        cluster.nodes.value
    } else {
        2
    });
    if nodes == 0 || nodes > MAX_NODES {
        return Err(Failure::invalid(format!(
            "--nodes must be from 1 to {MAX_NODES}, not {nodes}"
        )));
    }
    cluster.nodes.value = nodes;
    cluster.task_cap = a.task_cap.unwrap_or(if like.is_some() {
        cluster.task_cap
    } else {
        TASK_CAP
    });
    let images = if a.stand_ins {
        Images::StandIns
    } else {
        Images::Real
    };
    let rt = runtime()?;
    rt.block_on(async move {
        // The engine first: without it nothing else matters.
        containers::docker_answers()
            .await
            .map_err(Failure::environment)?;
        let licence = std::env::var(a.licence_env)
            .ok()
            .filter(|l| !l.trim().is_empty());
        if images == Images::Real && nodes > 1 && licence.is_none() {
            return Err(Failure::invalid(format!(
                "a cluster of {nodes} nodes needs an Octopus HA licence: put it, base64, in {} (or run --stand-ins)",
                a.licence_env
            )));
        }
        // Published later by the engine: chosen where no outgoing
        // connection takes them meanwhile.
        let ports = reference_cluster::free_ports(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            1 + 2 * nodes as usize,
        )
        .map(|p| (p[0], p[1..].chunks(2).map(|c| (c[0], c[1])).collect::<Vec<_>>()));
        let (Ok((lb_port, node_ports)), Ok(secrets)) = (ports, Secrets::generate()) else {
            return Err(Failure::environment(
                "no free ports or no randomness for the cluster",
            ));
        };
        let dir = cluster_folder(a.out, "containers-up").map_err(Failure::environment)?;
        let cfg = ContainerConfig {
            images,
            nodes,
            spec: harness::embedded::spec_of(&cluster),
            octopus_tag: a.octopus_tag.clone(),
            licence,
            id: format!("{:08x}", getrandom::u32().unwrap_or(std::process::id())),
            lb_port,
            node_ports,
            secrets,
        };
        let key_file = dir.join("api-key");
        write_key_file(&key_file, &cfg.secrets.api_key)?;
        match images {
            Images::Real => println!(
                "starting SQL Server, {nodes} Octopus nodes and HAProxy (network {})",
                cfg.network()
            ),
            Images::StandIns => println!(
                "starting {nodes} stand-in nodes and HAProxy (network {}); no SQL Server: the nodes share a SQLite database on a volume",
                cfg.network()
            ),
        }
        let stop = runner::interrupts();
        containers::serve(&cfg, &dir, &key_file, stop).await?;
        Ok(Outcome::Pass)
    })
}

/// `containers images`: builds both stand-ins.
pub(crate) fn images() -> Result<Outcome, Failure> {
    runtime()?.block_on(async {
        containers::docker_answers()
            .await
            .map_err(Failure::environment)?;
        containers::build_stand_ins()
            .await
            .map_err(Failure::environment)?;
        Ok(Outcome::Pass)
    })
}
