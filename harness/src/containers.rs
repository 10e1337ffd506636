//! The containerized target: a real Octopus HA cluster in containers,
//! started through testcontainers where a Docker daemon answers. SQL
//! Server (the `mssql_server` module, its EULA accepted explicitly), N
//! `octopusdeploy/octopusdeploy` nodes sharing volumes for the package
//! feed, artifacts, task logs and event exports, and an HAProxy container
//! as the LB, its configuration written by the same code that configures
//! HAProxy for the embedded cluster.
//!
//! `harness containers up` starts it, waits on every node's ping and
//! writes a target file whose node commands are `docker kill`, `stop`,
//! `start`, `pause` and `unpause`; scenarios then run against it with
//! `--target` like any real cluster. Ctrl-C removes the containers and
//! their volumes. Without a Docker daemon it fails at once, naming the
//! address it tried.
//!
//! The specifications are plain data, built apart from starting them, so
//! that tests check them without Docker.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::client::{ApiClient, ApiKey};
use crate::exit::{Failure, Kind};
use crate::limits::CONTAINERS_UP_WITHIN;
use crate::scenario::{Lb, LbEngine, LbPreset};
use reference_cluster::control::TARGET_KEY_ENV;
use reference_cluster::real_lb;
use reference_cluster::serve::stopped;

/// The Octopus Server image.
pub const OCTOPUS_IMAGE: &str = "octopusdeploy/octopusdeploy";

/// The HAProxy image, and where it reads its configuration.
pub const HAPROXY_IMAGE: (&str, &str) = ("haproxy", "lts");
const HAPROXY_CFG: &str = "/usr/local/etc/haproxy/haproxy.cfg";

/// The volumes every node shares, by their path in the container
/// (docs/octopus-surface.md, "Running Octopus in containers").
pub const SHARED_PATHS: [&str; 4] = ["/repository", "/artifacts", "/taskLogs", "/eventExports"];

/// Ports inside an Octopus container: the API and portal, and polling.
const WEB_PORT: u16 = 8080;
const POLLING_PORT: u16 = 10943;

/// How long a node may take to answer ping after its container starts
/// (the first one creates the database).
const NODE_READY: Duration = Duration::from_secs(600);

/// What `containers up` is asked for.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// Number of Octopus nodes.
    pub nodes: u32,
    /// Each node's task cap.
    pub task_cap: u32,
    /// The Octopus image's tag.
    pub octopus_tag: String,
    /// The licence, base64, as the image takes it; None lets a single node
    /// try a free licence.
    pub licence: Option<String>,
    /// A short ID in every container's, volume's and network's name.
    pub id: String,
    /// Host ports: the LB's, and each node's web and polling ports.
    pub lb_port: u16,
    /// Per node: (web, polling).
    pub node_ports: Vec<(u16, u16)>,
    /// Generated secrets: the SA password, the master key, the admin's
    /// password and API key.
    pub secrets: Secrets,
}

/// Secrets made for the cluster; never printed.
#[derive(Clone)]
pub struct Secrets {
    /// SQL Server's `sa` password.
    pub sa_password: String,
    /// Octopus's master key: base64 of 128 random bits.
    pub master_key: String,
    /// The admin's password.
    pub admin_password: String,
    /// The admin's API key.
    pub api_key: ApiKey,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets([hidden])")
    }
}

impl Secrets {
    /// Fresh secrets from the OS's randomness.
    pub fn generate() -> Result<Self, String> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| format!("failed to read OS randomness: {e}"))?;
        let api_key = ApiKey::generate()?;
        // Passwords from the API key's alphabet, with the classes SQL
        // Server's policy asks for.
        let word = |k: &ApiKey| k.expose().trim_start_matches("API-").to_string();
        Ok(Self {
            sa_password: format!("Hx{}a1!", word(&ApiKey::generate()?)),
            master_key: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key),
            admin_password: format!("Hx{}a1!", word(&ApiKey::generate()?)),
            api_key,
        })
    }
}

/// One container to start. Its environment holds secrets, so its Debug
/// shows only the variables' names.
#[derive(Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Its name, also its host name on the cluster's network.
    pub name: String,
    /// Image and tag.
    pub image: (String, String),
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Named volumes: (volume, path in the container).
    pub volumes: Vec<(String, String)>,
    /// Published ports: (host, container).
    pub ports: Vec<(u16, u16)>,
    /// Files copied in before start: (path, text).
    pub files: Vec<(String, String)>,
}

impl std::fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("volumes", &self.volumes)
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl ContainerConfig {
    /// The Docker network the containers share.
    pub fn network(&self) -> String {
        format!("harness-{}", self.id)
    }

    /// The SQL Server container's name.
    pub fn sql_name(&self) -> String {
        format!("harness-{}-sql", self.id)
    }

    /// A node's name as scenarios see it, and its container's.
    pub fn node_names(&self) -> Vec<(String, String)> {
        (1..=self.nodes)
            .map(|i| (format!("octo{i}"), format!("harness-{}-octo{i}", self.id)))
            .collect()
    }

    /// The shared volumes' names, by path.
    pub fn volumes(&self) -> Vec<(String, String)> {
        SHARED_PATHS
            .iter()
            .map(|p| {
                (
                    format!(
                        "harness-{}{}",
                        self.id,
                        p.to_ascii_lowercase().replace('/', "-")
                    ),
                    p.to_string(),
                )
            })
            .collect()
    }

    /// The connection string every node uses.
    fn connection_string(&self) -> String {
        format!(
            "Server={},1433;Database=OctopusDeploy;User=sa;Password={};TrustServerCertificate=True",
            self.sql_name(),
            self.secrets.sa_password
        )
    }

    /// The Octopus nodes, in the order they start (the first creates the
    /// database).
    pub fn node_specs(&self) -> Vec<ContainerSpec> {
        self.node_names()
            .into_iter()
            .zip(&self.node_ports)
            .map(|((node, container), (web, polling))| {
                let mut env = vec![
                    ("ACCEPT_EULA".to_string(), "Y".to_string()),
                    ("DB_CONNECTION_STRING".into(), self.connection_string()),
                    ("MASTER_KEY".into(), self.secrets.master_key.clone()),
                    ("ADMIN_USERNAME".into(), "admin".into()),
                    ("ADMIN_PASSWORD".into(), self.secrets.admin_password.clone()),
                    ("ADMIN_EMAIL".into(), "admin@example.local".into()),
                    (
                        "ADMIN_API_KEY".into(),
                        self.secrets.api_key.expose().to_string(),
                    ),
                    ("OCTOPUS_SERVER_NODE_NAME".into(), node),
                    ("TASK_CAP".into(), self.task_cap.to_string()),
                    // Scripts run in the container itself, not in Docker.
                    ("DISABLE_DIND".into(), "Y".into()),
                ];
                if let Some(l) = &self.licence {
                    env.push(("OCTOPUS_SERVER_BASE64_LICENSE".into(), l.clone()));
                }
                ContainerSpec {
                    name: container,
                    image: (OCTOPUS_IMAGE.into(), self.octopus_tag.clone()),
                    env,
                    volumes: self.volumes(),
                    ports: vec![(*web, WEB_PORT), (*polling, POLLING_PORT)],
                    files: Vec::new(),
                }
            })
            .collect()
    }

    /// The HAProxy container, its configuration from the embedded
    /// cluster's HAProxy code with Octopus's recommended LB settings.
    pub fn lb_spec(&self) -> ContainerSpec {
        ContainerSpec {
            name: format!("harness-{}-lb", self.id),
            image: (HAPROXY_IMAGE.0.into(), HAPROXY_IMAGE.1.into()),
            env: Vec::new(),
            volumes: Vec::new(),
            ports: vec![(self.lb_port, WEB_PORT)],
            files: vec![(HAPROXY_CFG.into(), self.haproxy_config())],
        }
    }

    /// HAProxy in front of every node's port 8080, by container name.
    pub fn haproxy_config(&self) -> String {
        let lb = Lb {
            engine: LbEngine::Haproxy,
            preset: Some(LbPreset::OctopusRecommended),
            ..Lb::default()
        };
        let names = self.node_names();
        let backends: Vec<real_lb::Backend<'_>> = names
            .iter()
            .map(|(node, container)| real_lb::Backend {
                name: node,
                addr: format!("{container}:{WEB_PORT}"),
            })
            .collect();
        let listen = SocketAddr::from(([0, 0, 0, 0], WEB_PORT));
        let text = real_lb::config(
            &crate::embedded::lb_spec(&lb),
            listen,
            &backends,
            &[],
            Path::new("/"),
        )
        .map(|c| c.text)
        .unwrap_or_default();
        // A container started again after a stop or kill may get a new
        // address on the network: HAProxy asks Docker's DNS again, rather
        // than keeping the one it resolved at start.
        let mut out =
            String::from("resolvers docker\n  nameserver dns 127.0.0.11:53\n  hold valid 1s\n\n");
        for line in text.lines() {
            out.push_str(line);
            if line.trim_start().starts_with("server ") {
                out.push_str(" resolvers docker init-addr last,libc,none");
            }
            out.push('\n');
        }
        out
    }

    /// The cluster as a target file, its node commands acting on the
    /// containers and its database commands on SQL Server's: paused, its
    /// connections hang and time out as a lost SQL Server's do, and
    /// unpaused it carries on with nothing committed lost; restarted, it
    /// goes and comes back by itself, as a failover does (docs/faults.md).
    pub fn target_yaml(&self, ids: &[(String, String)], api_key_env: &str) -> String {
        let mut t = format!(
            "# Written by `harness containers up`: the containerized cluster as a target file.\n\
             # The API key is in the api-key file beside it; put it in {api_key_env}.\n\
             name: containers-{}\nlb: http://127.0.0.1:{}\napi_key_env: {api_key_env}\ncommand_timeout: 2m\nnodes:\n",
            self.id, self.lb_port
        );
        for ((node, _), (web, polling)) in self.node_names().iter().zip(&self.node_ports) {
            let id = ids
                .iter()
                .find(|(n, _)| n == node)
                .map_or("", |(_, id)| id.as_str());
            let _ = writeln!(
                t,
                "  - name: {node}\n    url: http://127.0.0.1:{web}\n    polling: 127.0.0.1:{polling}\n    commands:\n      kill: docker kill {id}\n      stop: docker stop {id}\n      start: docker start {id}\n      pause: docker pause {id}\n      resume: docker unpause {id}"
            );
        }
        let sql = self.sql_name();
        let _ = writeln!(
            t,
            "database:\n  outage: docker pause {sql}\n  restore: docker unpause {sql}\n  failover: docker restart {sql}"
        );
        t
    }
}

/// Where the Docker daemon is, as testcontainers and the CLI look for it.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Asks the daemon `GET /_ping`; Err says why nothing answered.
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

/// A started containerized cluster; [`Running::remove`] takes it down.
pub struct Running {
    sql: testcontainers::ContainerAsync<testcontainers_modules::mssql_server::MssqlServer>,
    others: Vec<testcontainers::ContainerAsync<testcontainers::GenericImage>>,
    /// Node name and container ID.
    pub ids: Vec<(String, String)>,
    volumes: Vec<String>,
}

/// Starts SQL Server, the nodes (the first alone, as it creates the
/// database) and the LB, and waits on every node's ping.
pub async fn up(cfg: &ContainerConfig) -> Result<Running, String> {
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ImageExt, core::IntoContainerPort, core::Mount};

    let sql = testcontainers_modules::mssql_server::MssqlServer::default()
        .with_accept_eula()
        .with_sa_password(cfg.secrets.sa_password.clone())
        .with_network(cfg.network())
        .with_container_name(cfg.sql_name())
        .start()
        .await
        .map_err(|e| format!("SQL Server did not start: {e}"))?;
    let mut running = Running {
        sql,
        others: Vec::new(),
        ids: Vec::new(),
        volumes: cfg.volumes().into_iter().map(|(v, _)| v).collect(),
    };
    let start = |spec: ContainerSpec| {
        let mut req = testcontainers::GenericImage::new(spec.image.0, spec.image.1)
            .with_network(cfg.network())
            .with_container_name(spec.name.clone())
            .with_open_stdin(true);
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
        async move {
            req.start()
                .await
                .map_err(|e| format!("{} did not start: {e}", spec.name))
        }
    };
    for (spec, (node, _)) in cfg.node_specs().into_iter().zip(cfg.node_names()) {
        let c = start(spec).await?;
        running.ids.push((node.clone(), c.id().to_string()));
        running.others.push(c);
        // One at a time: the first creates the schema; the others join.
        let url = format!(
            "http://127.0.0.1:{}",
            cfg.node_ports[running.ids.len() - 1].0
        );
        wait_ping(&node, &url, &cfg.secrets.api_key).await?;
    }
    let lb = start(cfg.lb_spec()).await?;
    running.others.push(lb);
    wait_ping(
        "the LB",
        &format!("http://127.0.0.1:{}", cfg.lb_port),
        &cfg.secrets.api_key,
    )
    .await?;
    Ok(running)
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
    /// Removes every container, then the shared volumes.
    pub async fn remove(self) -> Vec<String> {
        let mut errors = Vec::new();
        for c in self.others.into_iter().rev() {
            if let Err(e) = c.rm().await {
                errors.push(e.to_string());
            }
        }
        if let Err(e) = self.sql.rm().await {
            errors.push(e.to_string());
        }
        errors.extend(remove_volumes(&self.volumes).await);
        errors
    }
}

/// Removes the cluster's named volumes (containers do not take theirs with
/// them); gives what could not be removed.
pub async fn remove_volumes(volumes: &[String]) -> Vec<String> {
    use testcontainers::bollard::query_parameters::RemoveVolumeOptions;
    let docker = match testcontainers::bollard::Docker::connect_with_defaults() {
        Ok(d) => d,
        Err(e) => return vec![e.to_string()],
    };
    let mut errors = Vec::new();
    for v in volumes {
        if let Err(e) = docker.remove_volume(v, None::<RemoveVolumeOptions>).await {
            errors.push(format!("volume {v}: {e}"));
        }
    }
    errors
}

/// `harness containers up` once its folder and key file exist and its
/// start is announced: starts the cluster (within
/// [`CONTAINERS_UP_WITHIN`], unless `stop` turns first), writes its target
/// file, says where everything is and waits for `stop` (Ctrl-C or
/// SIGTERM); then removes the containers, their volumes and the key file.
/// Each error is said on stderr as it happens, before what the clean-up
/// after it says, so a failure comes back already said.
pub async fn serve(
    cfg: &ContainerConfig,
    dir: &Path,
    key_file: &Path,
    stop: watch::Receiver<Option<String>>,
) -> Result<(), Failure> {
    let running = tokio::select! {
        r = tokio::time::timeout(CONTAINERS_UP_WITHIN, up(cfg)) => {
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
            // The containers started go as their handles drop (up()
            // has returned); the volumes and the key file do not.
            let volumes: Vec<String> = cfg.volumes().into_iter().map(|(v, _)| v).collect();
            for e in remove_volumes(&volumes).await {
                eprintln!("harness: containers: {e}");
            }
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
    println!("Ctrl-C removes the containers and their volumes.");
    if written {
        stopped(stop).await;
    }
    let errors = running.remove().await;
    for e in &errors {
        eprintln!("harness: containers: {e}");
    }
    let _ = std::fs::remove_file(key_file);
    if errors.is_empty() {
        println!("containers removed");
    }
    if written && errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::said(Kind::Environment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(nodes: u32, licence: Option<&str>) -> ContainerConfig {
        ContainerConfig {
            nodes,
            task_cap: 20,
            octopus_tag: "2025.1".into(),
            licence: licence.map(str::to_string),
            id: "ab12".into(),
            lb_port: 18080,
            node_ports: (0..nodes as u16).map(|i| (18081 + i, 20943 + i)).collect(),
            secrets: Secrets::generate().expect("randomness"),
        }
    }

    fn env<'a>(s: &'a ContainerSpec, k: &str) -> Option<&'a str> {
        s.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn nodes_share_the_database_and_the_volumes_and_differ_in_name() {
        let c = cfg(3, Some("TElDRU5TRQ=="));
        let specs = c.node_specs();
        assert_eq!(specs.len(), 3);
        for (i, s) in specs.iter().enumerate() {
            assert_eq!(s.image, (OCTOPUS_IMAGE.to_string(), "2025.1".to_string()));
            assert_eq!(s.name, format!("harness-ab12-octo{}", i + 1));
            assert_eq!(env(s, "ACCEPT_EULA"), Some("Y"));
            assert_eq!(
                env(s, "OCTOPUS_SERVER_NODE_NAME"),
                Some(format!("octo{}", i + 1).as_str())
            );
            assert_eq!(env(s, "TASK_CAP"), Some("20"));
            assert_eq!(
                env(s, "OCTOPUS_SERVER_BASE64_LICENSE"),
                Some("TElDRU5TRQ==")
            );
            assert_eq!(env(s, "ADMIN_API_KEY"), Some(c.secrets.api_key.expose()));
            let db = env(s, "DB_CONNECTION_STRING").expect("a connection string");
            assert!(db.starts_with("Server=harness-ab12-sql,1433;"), "{db}");
            assert!(db.contains(&c.secrets.sa_password), "{db}");
            assert_eq!(env(s, "MASTER_KEY"), Some(c.secrets.master_key.as_str()));
            let paths: Vec<&str> = s.volumes.iter().map(|(_, p)| p.as_str()).collect();
            assert_eq!(paths, SHARED_PATHS);
            assert_eq!(s.volumes, specs[0].volumes, "one set of volumes for all");
            assert_eq!(
                s.ports,
                vec![(18081 + i as u16, 8080), (20943 + i as u16, 10943)]
            );
        }
        // The master key is base64 of 16 bytes.
        assert_eq!(c.secrets.master_key.len(), 24);
        assert!(c.secrets.master_key.ends_with("=="));
        // Without a licence, none is passed (one node tries a free one).
        let one = cfg(1, None);
        assert_eq!(
            env(&one.node_specs()[0], "OCTOPUS_SERVER_BASE64_LICENSE"),
            None
        );
        assert!(!format!("{:?}", c.secrets).contains(&c.secrets.sa_password));
        let shown = format!("{:?}", specs[0]);
        assert!(shown.contains("MASTER_KEY"), "{shown}");
        for secret in [
            &c.secrets.sa_password,
            &c.secrets.master_key,
            &c.secrets.admin_password,
        ] {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
        assert!(!shown.contains(c.secrets.api_key.expose()), "{shown}");
    }

    #[test]
    fn the_lb_is_haproxy_configured_by_the_embedded_code_for_every_node() {
        let c = cfg(2, Some("x"));
        let lb = c.lb_spec();
        assert_eq!(lb.image, ("haproxy".to_string(), "lts".to_string()));
        assert_eq!(lb.ports, vec![(18080, 8080)]);
        let (path, text) = &lb.files[0];
        assert_eq!(path, HAPROXY_CFG);
        assert!(text.contains("bind 0.0.0.0:8080"), "{text}");
        assert!(
            text.contains("server octo1 harness-ab12-octo1:8080 check"),
            "{text}"
        );
        assert!(
            text.contains("server octo2 harness-ab12-octo2:8080 check"),
            "{text}"
        );
        assert!(
            text.contains("option httpchk GET /api/octopusservernodes/ping"),
            "{text}"
        );
        // Octopus's recommendation: no body limit.
        assert!(!text.contains("deny_status 413"), "{text}");
    }

    #[test]
    fn the_target_file_acts_on_the_containers_and_loads() {
        let c = cfg(2, Some("x"));
        let ids = vec![
            ("octo1".to_string(), "c0ffee01".to_string()),
            ("octo2".to_string(), "c0ffee02".to_string()),
        ];
        let yaml = c.target_yaml(&ids, "HARNESS_API_KEY");
        let t = crate::target::parse_str(&yaml, Path::new(".")).expect("a valid target file");
        assert_eq!(t.nodes.len(), 2);
        let n2 = &t.nodes[1].value;
        assert_eq!(n2.url.value, "http://127.0.0.1:18082");
        assert_eq!(
            n2.commands.get("kill").expect("kill").value,
            "docker kill c0ffee02"
        );
        assert_eq!(
            n2.commands.get("resume").expect("resume").value,
            "docker unpause c0ffee02"
        );
        // The database's commands act on SQL Server's container, by name.
        let database = |verb: &str| t.database.get(verb).expect(verb).value.clone();
        assert_eq!(database("outage"), "docker pause harness-ab12-sql");
        assert_eq!(database("restore"), "docker unpause harness-ab12-sql");
        assert_eq!(database("failover"), "docker restart harness-ab12-sql");
        assert!(!yaml.contains(c.secrets.api_key.expose()));
    }
}
