//! What the containerized cluster is, as plain data: each container's
//! image, environment, command, volumes and published ports, the HAProxy
//! configuration and the target file. Built apart from starting anything,
//! so tests check it without an engine.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::images::{HAPROXY_CFG, STAND_IN_TAG, StandIn};
use crate::client::ApiKey;
use reference_cluster::real_lb;
use reference_cluster::spec::{LbEngine, Spec};

/// The Octopus Server image.
pub const OCTOPUS_IMAGE: &str = "octopusdeploy/octopusdeploy";

/// The HAProxy image.
pub const HAPROXY_IMAGE: (&str, &str) = ("haproxy", "lts");

/// The volumes every Octopus node shares, by their path in the container
/// (docs/octopus-surface.md, "Running Octopus in containers").
pub const SHARED_PATHS: [&str; 4] = ["/repository", "/artifacts", "/taskLogs", "/eventExports"];

/// What stand-in nodes share: the SQLite database in place of SQL Server,
/// and the store.
pub const STAND_IN_PATHS: [&str; 2] = ["/database", "/repository"];

/// Ports inside a node's container: the API and portal, and polling.
pub const WEB_PORT: u16 = 8080;
const POLLING_PORT: u16 = 10943;

/// Where the polling gateway listens for the first node; the next node's
/// port is one more.
const GATEWAY_PORT: u16 = 20000;

/// Which images the cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Images {
    /// `octopusdeploy/octopusdeploy`, SQL Server and `haproxy`, pulled
    /// from their registry.
    Real,
    /// The images `harness containers images` builds here: the reference
    /// node and Debian's HAProxy; no SQL Server.
    StandIns,
}

/// What `containers up` is asked for.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// Real images or stand-ins.
    pub images: Images,
    /// Number of Octopus nodes.
    pub nodes: u32,
    /// The cluster's settings: each node's task cap, heartbeats and task
    /// queue (stand-ins only), its polling waits, and the LB.
    pub spec: Spec,
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
    /// Arguments after the image's entrypoint; empty keeps its own.
    pub cmd: Vec<String>,
    /// Named volumes: (volume, path in the container).
    pub volumes: Vec<(String, String)>,
    /// Published ports: (host, container).
    pub ports: Vec<(u16, u16)>,
    /// Files copied in before start: (path, text).
    pub files: Vec<(String, String)>,
    /// The network it starts on, where not the cluster's own.
    pub network: Option<String>,
}

impl ContainerSpec {
    /// The same container, started on `network`.
    pub fn on(mut self, network: String) -> Self {
        self.network = Some(network);
        self
    }
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
            .field("cmd", &self.cmd)
            .field("volumes", &self.volumes)
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

/// One node: its key in the target file and scenarios (`n1`), its
/// Octopus Name (`octo1`, unlike the key, as a real installation's
/// differs) and its container's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNames {
    /// The scenario's and target file's key.
    pub key: String,
    /// The node's Octopus Name.
    pub name: String,
    /// Its container's name, also its host name on the network.
    pub container: String,
}

impl ContainerConfig {
    /// The network the containers share.
    pub fn network(&self) -> String {
        format!("harness-{}", self.id)
    }

    /// The SQL Server container's name.
    pub fn sql_name(&self) -> String {
        format!("harness-{}-sql", self.id)
    }

    /// The LB container's name.
    pub fn lb_name(&self) -> String {
        format!("harness-{}-lb", self.id)
    }

    /// The network between the LB and the nodes: the LB is on it alone of
    /// the others, so a node taken off it is cut off from the LB only.
    pub fn lb_network(&self) -> String {
        format!("harness-{}-lb", self.id)
    }

    /// The polling gateway's container: where the Tentacles' connections
    /// come in, passed on to each node's polling port.
    pub fn gateway_name(&self) -> String {
        format!("harness-{}-polling", self.id)
    }

    /// The network between the polling gateway and the nodes.
    pub fn polling_network(&self) -> String {
        format!("harness-{}-polling", self.id)
    }

    /// The networks every node joins after its own: the LB's and the
    /// polling gateway's.
    pub fn side_networks(&self) -> [String; 2] {
        [self.lb_network(), self.polling_network()]
    }

    /// Every node's key, Name and container.
    pub fn node_names(&self) -> Vec<NodeNames> {
        (1..=self.nodes)
            .map(|i| NodeNames {
                key: format!("n{i}"),
                name: format!("octo{i}"),
                container: format!("harness-{}-octo{i}", self.id),
            })
            .collect()
    }

    /// The shared volumes' names, by path.
    pub fn volumes(&self) -> Vec<(String, String)> {
        let paths: &[&str] = match self.images {
            Images::Real => &SHARED_PATHS,
            Images::StandIns => &STAND_IN_PATHS,
        };
        paths
            .iter()
            .map(|p| {
                let suffix = p.to_ascii_lowercase().replace('/', "-");
                (format!("harness-{}{suffix}", self.id), p.to_string())
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
            .enumerate()
            .map(|(i, (names, (web, _)))| {
                let (image, env, cmd) = match self.images {
                    Images::Real => (
                        (OCTOPUS_IMAGE.to_string(), self.octopus_tag.clone()),
                        self.octopus_env(&names.name),
                        Vec::new(),
                    ),
                    Images::StandIns => self.stand_in_node(i, &names.name),
                };
                ContainerSpec {
                    name: names.container,
                    image,
                    env,
                    cmd,
                    volumes: self.volumes(),
                    // Polling is published by the gateway, so that a
                    // partition can cut it.
                    ports: vec![(*web, WEB_PORT)],
                    files: Vec::new(),
                    network: None,
                }
            })
            .collect()
    }

    /// The Octopus image's environment for the node named `name`.
    fn octopus_env(&self, name: &str) -> Vec<(String, String)> {
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
            ("OCTOPUS_SERVER_NODE_NAME".into(), name.to_string()),
            ("TASK_CAP".into(), self.spec.task_cap.to_string()),
            // Scripts run in the container itself, not in Docker.
            ("DISABLE_DIND".into(), "Y".into()),
        ];
        if let Some(l) = &self.licence {
            env.push(("OCTOPUS_SERVER_BASE64_LICENSE".into(), l.clone()));
        }
        env
    }

    /// The stand-in node image, its API key in its environment and the
    /// rest as `cluster node`'s flags. Ids are Octopus-shaped and unique
    /// to the cluster, unlike the keys.
    #[allow(clippy::type_complexity)]
    fn stand_in_node(
        &self,
        i: usize,
        name: &str,
    ) -> ((String, String), Vec<(String, String)>, Vec<String>) {
        let image = (StandIn::NODE.to_string(), STAND_IN_TAG.to_string());
        let env = vec![(
            "HARNESS_API_KEY".to_string(),
            self.secrets.api_key.expose().to_string(),
        )];
        let d = |d: std::time::Duration| format!("{}ms", d.as_millis());
        let s = &self.spec;
        let mut cmd = vec![
            format!("--name={name}"),
            format!(
                "--id=OctopusServerNodes-{}{:02}",
                &self.id[..6.min(self.id.len())],
                i + 1
            ),
            format!("--listen=0.0.0.0:{WEB_PORT}"),
            format!("--database={}/shared.db", STAND_IN_PATHS[0]),
            format!("--storage={}", STAND_IN_PATHS[1]),
            format!("--installation-id=containers-{}", self.id),
            format!("--task-cap={}", s.task_cap),
            format!("--heartbeat={}", d(s.heartbeat)),
            format!("--offline-after={}", d(s.offline_after)),
            format!("--queue-poll={}", d(s.queue_poll)),
            format!("--orphan-after={}", d(s.orphan_after)),
            format!("--polling-listen=0.0.0.0:{POLLING_PORT}"),
        ];
        if let Some(p) = &s.polling {
            cmd.push(format!("--poll-wait={}", d(p.poll_wait)));
            cmd.push(format!("--pickup-timeout={}", d(p.pickup_timeout)));
        }
        (image, env, cmd)
    }

    /// The HAProxy container, configured by the embedded cluster's HAProxy
    /// code with the cluster's LB settings.
    pub fn lb_spec(&self) -> ContainerSpec {
        let image = match self.images {
            Images::Real => (HAPROXY_IMAGE.0.to_string(), HAPROXY_IMAGE.1.to_string()),
            Images::StandIns => (StandIn::HAPROXY.to_string(), STAND_IN_TAG.to_string()),
        };
        ContainerSpec {
            name: self.lb_name(),
            image,
            env: Vec::new(),
            cmd: Vec::new(),
            volumes: Vec::new(),
            ports: vec![(self.lb_port, WEB_PORT)],
            files: vec![(HAPROXY_CFG.into(), self.haproxy_config())],
            network: None,
        }
    }

    /// The polling gateway: HAProxy passing each node's polling port
    /// through at L4 (TLS ends at the node), on the polling network only,
    /// published on the host where the target file says the node's
    /// polling endpoint is.
    pub fn gateway_spec(&self) -> ContainerSpec {
        let mut lb = self.lb_spec();
        lb.name = self.gateway_name();
        lb.ports = self
            .node_ports
            .iter()
            .enumerate()
            .map(|(i, (_, polling))| (*polling, GATEWAY_PORT + i as u16))
            .collect();
        lb.files = vec![(HAPROXY_CFG.into(), self.gateway_config())];
        lb
    }

    /// The gateway's HAProxy configuration: a TCP listener per node, for
    /// up to 8,000 connections in all (two descriptors each stay within
    /// the engine's default open-file limit, docs/containers.md). A
    /// node the gateway cannot reach fails its checks and its sessions
    /// are shut, as a cut network ends a Tentacle's connections; connections
    /// are held as long as polling holds them.
    pub fn gateway_config(&self) -> String {
        let mut c = String::from(
            "global\n  maxconn 8000\n\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout check 500ms\n  timeout client 10m\n  timeout server 10m\n\nresolvers engine\n  parse-resolv-conf\n  hold valid 1s\n",
        );
        for (i, n) in self.node_names().iter().enumerate() {
            let _ = write!(
                c,
                "\nlisten {}\n  bind 0.0.0.0:{}\n  server {} {}:{POLLING_PORT} check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions resolvers engine init-addr last,libc,none\n",
                n.key,
                GATEWAY_PORT + i as u16,
                n.key,
                n.container
            );
        }
        c
    }

    /// HAProxy in front of every node's port 8080, by container name.
    pub fn haproxy_config(&self) -> String {
        let mut lb = self.spec.lb.clone();
        // HAProxy whatever the scenario's engine: it is what runs here.
        lb.engine = LbEngine::Haproxy;
        let names = self.node_names();
        let backends: Vec<real_lb::Backend<'_>> = names
            .iter()
            .map(|n| real_lb::Backend {
                name: &n.key,
                addr: format!("{}:{WEB_PORT}", n.container),
            })
            .collect();
        let listen = SocketAddr::from(([0, 0, 0, 0], WEB_PORT));
        let text = real_lb::config(&lb, listen, &backends, &[], Path::new("/"))
            .map(|c| c.text)
            .unwrap_or_default();
        // A container started again after a stop or kill may get a new
        // address on the network: HAProxy asks the network's DNS server
        // (Docker's 127.0.0.11, or Podman's, as the container's
        // resolv.conf names it) again rather than keeping the address it
        // resolved at start.
        let mut out = String::from("resolvers engine\n  parse-resolv-conf\n  hold valid 1s\n\n");
        for line in text.lines() {
            out.push_str(line);
            if line.trim_start().starts_with("server ") {
                out.push_str(" resolvers engine init-addr last,libc,none");
            }
            out.push('\n');
        }
        out
    }

    /// The cluster as a target file, its nodes by key (`n1`, as scenarios
    /// name them), its node commands acting on the containers by ID, its
    /// partition commands taking a node off the LB's or the polling
    /// gateway's network and back and, with real images, its database commands on SQL Server's: paused,
    /// its connections hang and time out as a lost SQL Server's do, and
    /// unpaused it carries on with nothing committed lost; restarted, it
    /// goes and comes back by itself, as a failover does (docs/faults.md).
    pub fn target_yaml(&self, ids: &[(String, String)], api_key_env: &str) -> String {
        let mut t = format!(
            "# Written by `harness containers up`: the containerized cluster as a target file.\n\
             # The API key is in the api-key file beside it; put it in {api_key_env}.\n\
             # The commands run `docker` with your DOCKER_HOST.\n\
             name: containers-{}\nlb: http://127.0.0.1:{}\napi_key_env: {api_key_env}\ncommand_timeout: 2m\nnodes:\n",
            self.id, self.lb_port
        );
        let (lb, polling) = (self.lb_network(), self.polling_network());
        for (names, (web, poll)) in self.node_names().iter().zip(&self.node_ports) {
            let id = ids
                .iter()
                .find(|(n, _)| *n == names.key)
                .map_or("", |(_, id)| id.as_str());
            let _ = writeln!(
                t,
                "  - name: {}\n    url: http://127.0.0.1:{web}\n    polling: 127.0.0.1:{poll}\n    commands:\n      kill: docker kill {id}\n      stop: docker stop {id}\n      start: docker start {id}\n      pause: docker pause {id}\n      resume: docker unpause {id}\n    partition:\n      from_lb: docker network disconnect {lb} {id}\n      rejoin_lb: docker network connect {lb} {id}\n      from_tentacles: docker network disconnect {polling} {id}\n      rejoin_tentacles: docker network connect {polling} {id}",
                names.key
            );
        }
        if self.images == Images::Real {
            let sql = self.sql_name();
            let _ = writeln!(
                t,
                "database:\n  outage: docker pause {sql}\n  restore: docker unpause {sql}\n  failover: docker restart {sql}"
            );
        }
        t
    }
}
