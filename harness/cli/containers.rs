//! `harness containers up`: the flags and Docker checked, the ports,
//! secrets, folder and key file made here; the cluster's life is
//! [`harness::containers::serve`]'s.

use std::path::Path;

use crate::shared::{cluster_folder, runtime, write_key_file};
use harness::containers::{self, ContainerConfig, Secrets};
use harness::exit::{Failure, Outcome};
use harness::runner;
use harness::scenario::MAX_NODES;

pub(crate) fn up(
    nodes: u32,
    task_cap: u32,
    octopus_tag: String,
    licence_env: &str,
    out: &Path,
) -> Result<Outcome, Failure> {
    if nodes == 0 || nodes > MAX_NODES {
        return Err(Failure::invalid(format!(
            "--nodes must be from 1 to {MAX_NODES}, not {nodes}"
        )));
    }
    let rt = runtime()?;
    rt.block_on(async move {
        // Docker first: without it nothing else matters.
        containers::docker_answers()
            .await
            .map_err(Failure::environment)?;
        let licence = std::env::var(licence_env)
            .ok()
            .filter(|l| !l.trim().is_empty());
        if nodes > 1 && licence.is_none() {
            return Err(Failure::invalid(format!(
                "a cluster of {nodes} nodes needs an Octopus HA licence: put it, base64, in {licence_env}"
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
        let dir = cluster_folder(out, "containers-up").map_err(Failure::environment)?;
        let cfg = ContainerConfig {
            nodes,
            task_cap,
            octopus_tag,
            licence,
            id: format!("{:08x}", getrandom::u32().unwrap_or(std::process::id())),
            lb_port,
            node_ports,
            secrets,
        };
        let key_file = dir.join("api-key");
        write_key_file(&key_file, &cfg.secrets.api_key)?;
        println!(
            "starting SQL Server, {nodes} Octopus nodes and HAProxy (network {})",
            cfg.network()
        );
        let stop = runner::interrupts();
        containers::serve(&cfg, &dir, &key_file, stop).await?;
        Ok(Outcome::Pass)
    })
}
