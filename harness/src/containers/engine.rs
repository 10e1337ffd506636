//! Talking to the container engine (Docker, or Podman's Docker API):
//! whether it answers, starting the cluster's containers through
//! testcontainers, and removing every container, volume and network the
//! cluster made.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::images::{self, StandIn};
use super::spec::{ContainerConfig, ContainerSpec, Images};
use crate::client::{ApiClient, ApiKey};
use testcontainers::bollard::Docker;

/// How long a node may take to answer ping after its container starts
/// (the first real one creates the database).
const NODE_READY: Duration = Duration::from_secs(600);

/// Where the engine is, as testcontainers and the `docker` CLI look.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Asks the engine `GET /_ping`; Err says why nothing answered.
pub async fn docker_answers() -> Result<(), String> {
    let host = docker_host();
    let ask = async {
        let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
        let mut answer = Vec::new();
        if let Some(path) = host.strip_prefix("unix://") {
            let s = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| e.to_string())?;
            exchange(s, request, &mut answer).await?;
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            exchange(s, request, &mut answer).await?;
        } else {
            return Err("DOCKER_HOST is neither unix:// nor tcp://".to_string());
        }
        let text = String::from_utf8_lossy(&answer);
        if text.starts_with("HTTP/1.") && text.contains(" 200 ") {
            Ok(())
        } else {
            Err(format!(
                "it answered {:?}",
                text.lines().next().unwrap_or("nothing")
            ))
        }
    };
    let why = match tokio::time::timeout(Duration::from_secs(3), ask).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(why)) => why,
        Err(_) => "no answer within 3s".to_string(),
    };
    Err(format!(
        "no Docker daemon answers at {host} ({why}); the containers target needs one (DOCKER_HOST chooses another)"
    ))
}

/// Writes a request and reads the answer (at most 4 KiB) until the peer
/// closes.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    answer: &mut Vec<u8>,
) -> Result<(), String> {
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    stream
        .take(4096)
        .read_to_end(answer)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The engine's API client, where DOCKER_HOST (or the default socket)
/// says.
pub fn connect() -> Result<Docker, String> {
    Docker::connect_with_defaults().map_err(|e| format!("failed to reach the engine: {e}"))
}

/// Builds both stand-in images on the engine, saying each as it goes.
pub async fn build_stand_ins() -> Result<(), String> {
    let docker = connect()?;
    for image in [StandIn::node()?, StandIn::haproxy()?] {
        println!(
            "building {} from {}",
            image.reference(),
            image.program.display()
        );
        images::build(&docker, &image).await?;
    }
    Ok(())
}

/// A started containerized cluster; [`Running::remove`] takes it down.
/// Dropped instead, testcontainers removes each container.
pub struct Running {
    sql: Option<testcontainers::ContainerAsync<testcontainers_modules::mssql_server::MssqlServer>>,
    others: Vec<testcontainers::ContainerAsync<testcontainers::GenericImage>>,
    /// Node key and container ID.
    pub ids: Vec<(String, String)>,
}

/// Starts SQL Server (real images only), the nodes (the first alone, as
/// it creates the database, each joined to the LB's and the polling
/// gateway's networks), the LB and the polling gateway, and waits on
/// every node's ping and the LB's.
/// `progress` is told what each step started.
pub async fn up(
    cfg: &ContainerConfig,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Running, String> {
    use testcontainers::ImageExt;
    use testcontainers::runners::AsyncRunner;

    let sql = match cfg.images {
        Images::Real => Some(
            testcontainers_modules::mssql_server::MssqlServer::default()
                .with_accept_eula()
                .with_sa_password(cfg.secrets.sa_password.clone())
                .with_network(cfg.network())
                .with_container_name(cfg.sql_name())
                .start()
                .await
                .map_err(|e| format!("SQL Server did not start: {e}"))?,
        ),
        Images::StandIns => None,
    };
    let mut running = Running {
        sql,
        others: Vec::new(),
        ids: Vec::new(),
    };
    let start = |spec: ContainerSpec| start(cfg, spec);
    let docker = connect()?;
    for network in cfg.side_networks() {
        create_network(&docker, &network).await?;
    }
    for ((spec, names), (web, _)) in cfg
        .node_specs()
        .into_iter()
        .zip(cfg.node_names())
        .zip(&cfg.node_ports)
    {
        let c = start(spec).await?;
        for network in cfg.side_networks() {
            join(&docker, &network, c.id()).await?;
        }
        progress(&format!(
            "{} ({}) started as {} ({})",
            names.key,
            names.name,
            names.container,
            short(c.id())
        ));
        running.ids.push((names.key.clone(), c.id().to_string()));
        running.others.push(c);
        // One at a time: the first creates the schema; the others join.
        let url = format!("http://127.0.0.1:{web}");
        wait_ping(&names.key, &url, &cfg.secrets.api_key).await?;
    }
    let lb = start(cfg.lb_spec().on(cfg.lb_network())).await?;
    progress(&format!(
        "the LB started as {} ({})",
        cfg.lb_name(),
        short(lb.id())
    ));
    running.others.push(lb);
    let gateway = start(cfg.gateway_spec().on(cfg.polling_network())).await?;
    progress(&format!(
        "the polling gateway started as {} ({})",
        cfg.gateway_name(),
        short(gateway.id())
    ));
    running.others.push(gateway);
    wait_ping(
        "the LB",
        &format!("http://127.0.0.1:{}", cfg.lb_port),
        &cfg.secrets.api_key,
    )
    .await?;
    Ok(running)
}

/// Creates a network of the cluster's; the sweep removes it.
async fn create_network(docker: &Docker, name: &str) -> Result<(), String> {
    use testcontainers::bollard::models::NetworkCreateRequest;
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("the network {name} could not be made: {e}"))
}

/// Joins a container to one more network.
async fn join(docker: &Docker, network: &str, container: &str) -> Result<(), String> {
    use testcontainers::bollard::models::NetworkConnectRequest;
    docker
        .connect_network(
            network,
            NetworkConnectRequest {
                container: container.to_string(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("{} could not join {network}: {e}", short(container)))
}

/// Starts one container of the cluster's, as `spec` says, on the
/// cluster's network unless the spec names another.
async fn start(
    cfg: &ContainerConfig,
    spec: ContainerSpec,
) -> Result<testcontainers::ContainerAsync<testcontainers::GenericImage>, String> {
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ImageExt, core::IntoContainerPort, core::Mount};
    let mut req = testcontainers::GenericImage::new(spec.image.0, spec.image.1)
        .with_network(spec.network.clone().unwrap_or_else(|| cfg.network()))
        .with_container_name(spec.name.clone())
        .with_open_stdin(true);
    if !spec.cmd.is_empty() {
        req = req.with_cmd(spec.cmd);
    }
    for (k, v) in spec.env {
        req = req.with_env_var(k, v);
    }
    for (volume, path) in spec.volumes {
        req = req.with_mount(Mount::volume_mount(volume, path));
    }
    for (host, inside) in spec.ports {
        req = req.with_mapped_port(host, inside.tcp());
    }
    // Published on loopback only: the portal and API hold an admin.
    let mut req = req.with_host_config_modifier(|hc| {
        for bindings in hc
            .port_bindings
            .iter_mut()
            .flat_map(|b| b.values_mut())
            .flatten()
        {
            for b in bindings {
                b.host_ip = Some("127.0.0.1".into());
            }
        }
    });
    for (path, text) in spec.files {
        req = req.with_copy_to(path, text.into_bytes());
    }
    req.start()
        .await
        .map_err(|e| format!("{} did not start: {e}", spec.name))
}

/// A container ID as `docker ps` shows it.
fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

async fn wait_ping(what: &str, url: &str, key: &ApiKey) -> Result<(), String> {
    let client = ApiClient::new(url, key.clone())?;
    let deadline = tokio::time::Instant::now() + NODE_READY;
    loop {
        if matches!(
            client.ping_status(Duration::from_secs(5)).await,
            Some(200 | 418)
        ) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{what} did not answer ping within {}s",
                NODE_READY.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

impl Running {
    /// Removes every container; [`sweep`] after it takes the networks and
    /// volumes. Gives what could not be removed.
    pub async fn remove(self) -> Vec<String> {
        let mut errors = Vec::new();
        for c in self.others.into_iter().rev() {
            if let Err(e) = c.rm().await {
                errors.push(e.to_string());
            }
        }
        if let Some(sql) = self.sql
            && let Err(e) = sql.rm().await
        {
            errors.push(e.to_string());
        }
        errors
    }
}

/// Removes the cluster's named volumes (containers do not take theirs with
/// them); gives what could not be removed. A volume that is not there,
/// because no container that mounts it was ever created, is no error.
async fn remove_volumes(docker: &Docker, volumes: &[String]) -> Vec<String> {
    use testcontainers::bollard::errors::Error;
    use testcontainers::bollard::query_parameters::RemoveVolumeOptions;
    let mut errors = Vec::new();
    for v in volumes {
        match docker.remove_volume(v, None::<RemoveVolumeOptions>).await {
            Ok(())
            | Err(Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => errors.push(format!("volume {v}: {e}")),
        }
    }
    errors
}

/// Removes whatever of the cluster named `network` is still in the
/// engine, found by that name, which every container's and volume's name
/// starts with: containers (a start interrupted between create and answer
/// leaves one no handle knows), then the network, then the volumes. What
/// is already gone is no error. Gives what could not be removed.
pub async fn sweep(network: &str) -> Vec<String> {
    use std::collections::HashMap;
    use testcontainers::bollard::errors::Error;
    use testcontainers::bollard::query_parameters::{
        ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
        RemoveContainerOptionsBuilder,
    };
    let gone = |e: &Error| {
        matches!(
            e,
            Error::DockerResponseServerError {
                status_code: 404,
                ..
            }
        )
    };
    let docker = match connect() {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    let prefix = format!("{network}-");
    let filters = HashMap::from([("name".to_string(), vec![prefix.clone()])]);
    let list = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    match docker.list_containers(Some(list)).await {
        Ok(found) => {
            for c in found {
                let Some(id) = c.id else { continue };
                let force = RemoveContainerOptionsBuilder::default().force(true).build();
                if let Err(e) = docker.remove_container(&id, Some(force)).await
                    && !gone(&e)
                {
                    errors.push(format!("container {}: {e}", short(&id)));
                }
            }
        }
        Err(e) => errors.push(format!("failed to list the cluster's containers: {e}")),
    }
    let mut networks = vec![network.to_string()];
    let list = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    match docker.list_networks(Some(list)).await {
        Ok(found) => networks.extend(
            found
                .into_iter()
                .filter_map(|n| n.name)
                .filter(|n| n.starts_with(&prefix)),
        ),
        Err(e) => errors.push(format!("failed to list the cluster's networks: {e}")),
    }
    for n in networks {
        if let Err(e) = docker.remove_network(&n).await
            && !gone(&e)
        {
            errors.push(format!("network {n}: {e}"));
        }
    }
    let list = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    match docker.list_volumes(Some(list)).await {
        Ok(found) => {
            let names: Vec<String> = found
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name)
                .filter(|n| n.starts_with(&prefix))
                .collect();
            errors.extend(remove_volumes(&docker, &names).await);
        }
        Err(e) => errors.push(format!("failed to list the cluster's volumes: {e}")),
    }
    errors
}
