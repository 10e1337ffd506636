//! A running embedded cluster: booting it from a [`crate::spec::Spec`]
//! (the shared database and storage, every node, then the LB), its nodes'
//! names and addresses, and the acts its owner asks of it (kill, pause,
//! resume, start, heal, shut down); with the ports it hands from one
//! process to another.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::disrupt::Disruptions;
use crate::error::ClusterError;
use crate::events::{ClusterEvent, EventSink};
use crate::lb::LB_NAME;
use crate::lb::{BackendConfig, LbConfig};
use crate::node::NodeConfig;
use crate::polling::PollingConfig;
use crate::spec::{LbEngine, PollingLayout, Spec, Storage};
use crate::supervisor::{ChildKind, Started, Supervisor};
use crate::timeouts::ServerTimeouts;
use crate::vocab::ApiKey;
use crate::{api, cpu, db, lb, node, polling, real_lb, supervisor};
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long boot waits for every node to answer ping with 200.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);

/// A node of the running cluster.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// Its configuration; `listen` holds the bound address after boot.
    pub config: NodeConfig,
}

impl NodeHandle {
    /// Its owner's name for it: the spec's key (n1, n2, ...).
    pub fn key(&self) -> &str {
        &self.config.key
    }

    /// Its Octopus `Name`.
    pub fn cluster_name(&self) -> &str {
        &self.config.name
    }

    /// Its Octopus `Id`.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// Its HTTP base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.config.listen)
    }
}

/// Where a Tentacle polls: a node's own endpoint, or the LB's shared one
/// (`node` is then `lb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollingEndpoint {
    /// The node this endpoint reaches, or `lb`.
    pub node: String,
    /// Its address.
    pub addr: SocketAddr,
}

/// How the embedded cluster's nodes name themselves to Octopus clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeNaming {
    /// As a real installation's do, unlike the spec's keys: Names like
    /// host names (`OCTO-HA-01`) and Ids unique to the cluster, so every
    /// run goes through the mapping a real cluster needs.
    #[default]
    Host,
    /// Name as the key (`n1`), Id `OctopusServerNodes-n1`.
    Key,
}

impl NodeNaming {
    /// The Octopus Name and Id of the `i`th node (from 0), keyed `key`, of
    /// a cluster tagged `tag`.
    fn name_and_id(self, i: usize, key: &str, tag: &str) -> (String, String) {
        match self {
            NodeNaming::Host => (
                format!("OCTO-HA-{:02}", i + 1),
                format!("OctopusServerNodes-{tag}{:02}", i + 1),
            ),
            NodeNaming::Key => (key.to_string(), format!("OctopusServerNodes-{key}")),
        }
    }
}

/// A running embedded cluster. Dropping it kills every process.
pub struct EmbeddedCluster {
    supervisor: Supervisor,
    /// The nodes' CPU limits; after the supervisor, so its cgroups are
    /// removed once the supervisor's drop has reaped the nodes.
    cpu: Option<cpu::CpuLimits>,
    nodes: Vec<NodeHandle>,
    lb: SocketAddr,
    api_key: ApiKey,
    events: EventSink,
    boot_time: Duration,
    /// The cluster's folder.
    dir: PathBuf,
    /// Each node's polling endpoint, as Tentacles reach it.
    polling: Vec<PollingEndpoint>,
    /// The LB's shared polling port, round robin over the nodes.
    lb_polling: Option<SocketAddr>,
    /// How long its nodes and LB wait for their clients.
    timeouts: ServerTimeouts,
    /// What the cluster can take away from its nodes: the database, and
    /// each node's view of the store.
    disruptions: Disruptions,
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        // A run that stops on an error drops its cluster without calling
        // shutdown: its partial uploads go all the same.
        self.shutdown();
    }
}

impl EmbeddedCluster {
    /// Starts the cluster `spec` describes in `dir`: the shared database
    /// and storage, every node (waiting for each ping to answer 200), then
    /// the LB. Every start is a `node_up` event. The nodes and the LB are
    /// this executable, run in its hidden modes.
    pub async fn boot(
        spec: &Spec,
        naming: NodeNaming,
        dir: &Path,
        api_key: ApiKey,
        events: EventSink,
    ) -> Result<Self, ClusterError> {
        let exe = std::env::current_exe().map_err(|e| {
            ClusterError::new(format!("failed to find the harness executable: {e}"))
        })?;
        let timeouts = ServerTimeouts::default();
        Self::boot_with_exe(spec, naming, timeouts, dir, api_key, events, &exe).await
    }

    /// As [`EmbeddedCluster::boot`], with the `harness` executable named
    /// and the servers' waits set: tests, whose own executable is the test
    /// binary, use this, and set short waits where they wait them out.
    pub async fn boot_with_exe(
        spec: &Spec,
        naming: NodeNaming,
        timeouts: ServerTimeouts,
        dir: &Path,
        api_key: ApiKey,
        events: EventSink,
        exe: &Path,
    ) -> Result<Self, ClusterError> {
        let begun = Instant::now();
        let polling_port = create_shared(spec, dir)?;
        let db_path = dir.join("shared.db");
        let poll = spec.queue_poll;
        let supervisor = Supervisor::new(exe, &dir.join("logs"), api_key.clone())?;
        let installation_id = format!("{:016x}", getrandom::u64().unwrap_or(0));
        let cpu = match &spec.node_cpus {
            Some(cores) => Some(cpu::CpuLimits::prepare(*cores, spec.nodes.len())?),
            None => None,
        };
        if let Some(limits) = &cpu {
            events.send(ClusterEvent::CpuLimit {
                method: limits.method().as_str().to_string(),
                cores_per_node: limits.effective_cores(),
                asked: spec.node_cpus.unwrap_or(0.0),
            });
        }
        let mut cluster = Self {
            supervisor,
            cpu,
            nodes: Vec::new(),
            lb: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            api_key,
            events,
            boot_time: Duration::ZERO,
            dir: dir.to_path_buf(),
            polling: Vec::new(),
            lb_polling: None,
            timeouts,
            disruptions: Disruptions::new(dir),
        };
        for (i, key) in spec.nodes.iter().cloned().enumerate() {
            let home = match spec.storage {
                Storage::Shared => dir.join("shared-storage"),
                Storage::PerNode => dir.join("node-storage").join(&key),
            };
            // Each node through a view of its own, which a fault can move.
            let storage = cluster.disruptions.view(&key, &home)?;
            let (name, id) = naming.name_and_id(i, &key, &installation_id[..6]);
            let behaviour = spec.behaviour.get(&key).copied().unwrap_or_default();
            let config =
                NodeConfig {
                    key,
                    id,
                    name,
                    // Each node on its own loopback address, so "unique address,
                    // same port" polling layouts work later.
                    listen: SocketAddr::new(node_ips(i + 1)[i], 0),
                    db: db_path.clone(),
                    task_cap: spec.task_cap,
                    heartbeat_ms: spec.heartbeat.as_millis() as u64,
                    offline_after_ms: spec.offline_after.as_millis() as u64,
                    installation_id: installation_id.clone(),
                    storage,
                    queue_poll_ms: poll.as_millis() as u64,
                    orphan_after_ms: spec.orphan_after.as_millis() as u64,
                    // A gap of a quarter of the poll lets two nodes' checks
                    // overlap often, as under the load that exposed the bug.
                    racy_claim_ms: spec
                        .racy_claim
                        .then(|| (poll.as_millis() as u64 / 4).max(1)),
                    upload_delay_ms_per_gib: spec
                        .upload_delay_per_gib
                        .map_or(0, |d| d.as_millis() as u64),
                    upload_store_first: spec.upload_store_first,
                    polling: spec.polling.as_ref().zip(polling_port).map(|(p, port)| {
                        PollingConfig {
                            listen: SocketAddr::new(node_ips(i + 1)[i], port),
                            poll_wait_ms: p.poll_wait.as_millis() as u64,
                            pickup_timeout_ms: p.pickup_timeout.as_millis() as u64,
                        }
                    }),
                    cpu: cluster.cpu.as_ref().and_then(|l| l.placement(i)),
                    timeouts,
                    behaviour,
                };
            cluster.nodes.push(NodeHandle { config });
        }
        for i in 0..cluster.nodes.len() {
            let started = cluster.start_node_at(i).await?;
            cluster.nodes[i].config.listen = started.addr;
        }
        for node in &cluster.nodes {
            cluster.wait_until_online(node).await?;
        }
        cluster.start_lb(spec).await?;
        cluster.boot_time = begun.elapsed();
        Ok(cluster)
    }

    async fn start_node_at(&self, i: usize) -> Result<Started, ClusterError> {
        let node = &self.nodes[i];
        let json =
            serde_json::to_string(&node.config).map_err(|e| ClusterError::new(e.to_string()))?;
        let started = self
            .supervisor
            .start(node.key(), ChildKind::Node, json, None)
            .await?;
        self.announce(node.key(), &started);
        Ok(started)
    }

    /// Says that `name`'s process started and listens.
    fn announce(&self, name: &str, started: &Started) {
        self.events.send(ClusterEvent::NodeUp {
            node: name.to_string(),
            address: started.addr.to_string(),
            pid: Some(started.pid),
            boot_ms: started.boot.as_millis() as u64,
        });
    }

    async fn wait_until_online(&self, node: &NodeHandle) -> Result<(), ClusterError> {
        // Ping needs no key; a plain client keeps the reference cluster
        // apart from the harness's own.
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let uri: hyper::Uri = format!("{}{}", node.url(), api::PING_PATH)
            .parse()
            .map_err(|e| ClusterError::new(format!("{}: no usable ping URL: {e}", node.key())))?;
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let answer =
                tokio::time::timeout(Duration::from_secs(1), client.get(uri.clone())).await;
            if matches!(answer, Ok(Ok(r)) if r.status() == hyper::StatusCode::OK) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::new(format!(
                    "{} did not answer ping with 200 within {}s; see {}",
                    node.key(),
                    BOOT_TIMEOUT.as_secs(),
                    self.supervisor.log_path(node.key()).display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a real HAProxy or nginx in front of the nodes, with the
    /// configuration `real_lb` writes from the spec's LB settings.
    async fn start_real_lb(&mut self, spec: &Spec) -> Result<(), ClusterError> {
        let engine = spec.lb.engine;
        // A port checked free on loopback, for the program's own bind.
        let lb_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let listen = SocketAddr::new(lb_ip, free_ports(lb_ip, 1)?[0]);
        // HAProxy forwards polling ports in mode tcp; nginx cannot here.
        let tcp = self.plan_polling(spec, engine == LbEngine::Haproxy)?;
        let backends: Vec<real_lb::Backend<'_>> = self
            .nodes
            .iter()
            .map(|n| real_lb::Backend {
                name: n.key(),
                addr: n.config.listen.to_string(),
            })
            .collect();
        let lb_dir = self.dir.join("lb");
        // Absolute: nginx reads paths relative to its prefix, not to here.
        let lb_dir = std::fs::create_dir_all(&lb_dir)
            .and_then(|()| std::fs::canonicalize(&lb_dir))
            .map_err(|e| {
                ClusterError::new(format!("failed to create {}: {e}", lb_dir.display()))
            })?;
        let Some(real_lb::RealLb {
            program,
            file,
            text,
            args,
        }) = real_lb::config(&spec.lb, listen, &backends, &tcp, &lb_dir)
        else {
            return Err(ClusterError::new("not a real LB"));
        };
        let path = supervisor::find_program(program).ok_or_else(|| {
            ClusterError::new(format!(
                "the scenario asks for {program} in front of the nodes, and {program} is not installed (apt-get install {program})"
            ))
        })?;
        std::fs::write(&file, text)
            .map_err(|e| ClusterError::new(format!("failed to write {}: {e}", file.display())))?;
        let started = self
            .supervisor
            .start_external(LB_NAME, &path, &args, listen)
            .await?;
        self.lb = started.addr;
        self.announce(LB_NAME, &started);
        Ok(())
    }

    async fn start_lb(&mut self, spec: &Spec) -> Result<(), ClusterError> {
        if spec.lb.engine != LbEngine::Builtin {
            return self.start_real_lb(spec).await;
        }
        let config = LbConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            backends: self
                .nodes
                .iter()
                .map(|n| BackendConfig {
                    name: n.key().to_string(),
                    addr: n.config.listen,
                })
                .collect(),
            health: spec.lb.health.clone(),
            limits: spec.lb.limits,
            spool_dir: self.dir.join("lb-spool"),
            tcp: self.plan_polling(spec, true)?,
            timeouts: self.timeouts,
        };
        let json = serde_json::to_string(&config).map_err(|e| ClusterError::new(e.to_string()))?;
        // The LB reports health changes on stdout; turn them into events.
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let events = self.events.clone();
        std::thread::spawn(move || {
            for line in lines_rx {
                let mut words = line.split_whitespace();
                if let (Some("HEALTH"), Some(node), Some(state)) =
                    (words.next(), words.next(), words.next())
                {
                    events.send(ClusterEvent::LbHealth {
                        node: node.to_string(),
                        healthy: state == "up",
                    });
                }
            }
        });
        let started = self
            .supervisor
            .start(LB_NAME, ChildKind::Lb, json, Some(lines_tx))
            .await?;
        self.lb = started.addr;
        self.announce(LB_NAME, &started);
        Ok(())
    }

    /// Decides where Tentacles reach each node's polling listener, and the
    /// LB's forwarded ports that this takes when the LB can forward them
    /// (`can_forward`): a port per node in the unique-port layout, and one
    /// shared port (the misconfiguration of polling "the LB").
    fn plan_polling(
        &mut self,
        spec: &Spec,
        can_forward: bool,
    ) -> Result<Vec<lb::TcpForward>, ClusterError> {
        let Some(p) = &spec.polling else {
            return Ok(Vec::new());
        };
        let listeners: Vec<(String, SocketAddr)> = self
            .nodes
            .iter()
            .filter_map(|n| Some((n.key().to_string(), n.config.polling.as_ref()?.listen)))
            .collect();
        let lb_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut forwards = Vec::new();
        self.polling = match p.layout {
            PollingLayout::UniqueAddress => listeners
                .iter()
                .map(|(node, addr)| PollingEndpoint {
                    node: node.clone(),
                    addr: *addr,
                })
                .collect(),
            // Validation refuses this layout with an LB that cannot forward.
            PollingLayout::UniquePort if can_forward => {
                let ports = free_ports(lb_ip, listeners.len())?;
                listeners
                    .iter()
                    .zip(ports)
                    .map(|((node, addr), port)| {
                        let listen = SocketAddr::new(lb_ip, port);
                        forwards.push(lb::TcpForward {
                            listen,
                            backends: vec![*addr],
                        });
                        PollingEndpoint {
                            node: node.clone(),
                            addr: listen,
                        }
                    })
                    .collect()
            }
            PollingLayout::UniquePort => Vec::new(),
        };
        if !can_forward {
            return Ok(forwards);
        }
        let shared = SocketAddr::new(lb_ip, free_ports(lb_ip, 1)?[0]);
        forwards.push(lb::TcpForward {
            listen: shared,
            backends: listeners.iter().map(|(_, a)| *a).collect(),
        });
        self.lb_polling = Some(shared);
        Ok(forwards)
    }

    /// Each node's polling endpoint, as the layout has Tentacles reach it;
    /// empty without polling.
    pub fn polling_endpoints(&self) -> &[PollingEndpoint] {
        &self.polling
    }

    /// The LB's shared polling port, where the cluster has polling and the
    /// built-in LB.
    pub fn lb_polling_endpoint(&self) -> Option<SocketAddr> {
        self.lb_polling
    }

    /// The LB's base URL.
    pub fn lb_url(&self) -> String {
        format!("http://{}", self.lb)
    }

    /// The nodes.
    pub fn nodes(&self) -> &[NodeHandle] {
        &self.nodes
    }

    /// The API key every node accepts.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// From the first spawn until the LB answered.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    fn index(&self, node: &str) -> Result<usize, ClusterError> {
        self.nodes
            .iter()
            .position(|n| n.key() == node)
            .ok_or_else(|| ClusterError::new(format!("unknown node {node:?}")))
    }

    /// SIGKILLs a node.
    pub fn kill(&self, node: &str) -> Result<(), ClusterError> {
        self.index(node)?;
        self.supervisor.kill(node)
    }

    /// SIGSTOPs a node.
    pub fn pause(&self, node: &str) -> Result<(), ClusterError> {
        self.index(node)?;
        self.supervisor.pause(node)
    }

    /// SIGCONTs a paused node.
    pub fn resume(&self, node: &str) -> Result<(), ClusterError> {
        self.index(node)?;
        self.supervisor.resume(node)
    }

    /// Starts a new process for a node that is not running, on its old
    /// address and port.
    pub async fn start(&self, node: &str) -> Result<(), ClusterError> {
        let i = self.index(node)?;
        self.start_node_at(i).await.map(|_| ())
    }

    /// Whether a node's process runs (paused counts as running).
    pub fn is_running(&self, node: &str) -> bool {
        self.supervisor.is_running(node)
    }

    /// Takes the shared database away from every node until
    /// [`EmbeddedCluster::database_restore`] (docs/faults.md,
    /// "database_outage"). One at a time.
    pub fn database_outage(&self) -> Result<(), ClusterError> {
        self.disruptions.database_outage()
    }

    /// A failover of the shared database: away from every node for `away`,
    /// then back by itself (docs/faults.md, "database_failover").
    pub fn database_failover(&self, away: Duration) -> Result<(), ClusterError> {
        self.disruptions.database_failover(away)
    }

    /// Gives the shared database back; nothing to do when it is there.
    pub fn database_restore(&self) {
        self.disruptions.database_restore();
    }

    /// Takes the shared store away from a node (docs/faults.md,
    /// "storage_outage").
    pub fn storage_outage(&self, node: &str) -> Result<(), ClusterError> {
        self.disruptions.storage_outage(node)
    }

    /// Gives a node a folder of its own instead of the shared store
    /// (docs/faults.md, "storage_unshared").
    pub fn storage_unshare(&self, node: &str) -> Result<(), ClusterError> {
        self.disruptions.storage_unshare(node)
    }

    /// Gives a node its usual view of the store back.
    pub fn storage_restore(&self, node: &str) -> Result<(), ClusterError> {
        self.disruptions.storage_restore(node)
    }

    /// Brings everything back: the database and every node's view of the
    /// store, then every node (resumes paused ones, starts dead ones).
    pub async fn heal_all(&self) -> Vec<ClusterError> {
        let mut errors = self.disruptions.restore_all();
        for n in &self.nodes {
            let name = n.key();
            let result = if self.supervisor.is_paused(name) {
                self.supervisor.resume(name)
            } else if !self.supervisor.is_running(name) {
                self.start(name).await
            } else {
                Ok(())
            };
            errors.extend(result.err());
        }
        errors
    }

    /// Each running process of the cluster (the LB and the nodes) and its
    /// process ID.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.supervisor.pids()
    }

    /// The peak resident memory of every process of the cluster now
    /// running (the LB and each node since its last start), in KiB.
    pub fn peak_memory(&self) -> Vec<(String, u64)> {
        self.pids()
            .into_iter()
            .filter_map(|(name, pid)| Some((name, peak_rss_kib(&format!("/proc/{pid}/status"))?)))
            .collect()
    }

    /// Kills every process now, rather than at drop; then removes the
    /// uploads the nodes left in flight, which they, killed, cannot.
    pub fn shutdown(&self) {
        self.supervisor.shutdown();
        let mut storages: Vec<&Path> = self
            .nodes
            .iter()
            .map(|n| n.config.storage.as_path())
            .collect();
        storages.dedup();
        for storage in storages {
            node::clear_incoming(storage);
        }
    }
}

/// Creates the cluster's folder, its shared storage and its shared
/// database; where the cluster has polling listeners, stores the one
/// server certificate every node serves (as Octopus keeps it, in the
/// database) and picks the port they share. Gives that port.
fn create_shared(spec: &Spec, dir: &Path) -> Result<Option<u16>, ClusterError> {
    let io =
        |what: &str, e: std::io::Error| ClusterError::new(format!("failed to create {what}: {e}"));
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| io("the cluster folder", e))?;
    std::fs::create_dir_all(dir.join("shared-storage")).map_err(|e| io("the shared storage", e))?;
    let db = db::SharedDb::create(&dir.join("shared.db"))
        .map_err(|e| ClusterError::new(format!("failed to create the shared database: {e}")))?;
    if spec.polling.is_none() {
        return Ok(None);
    }
    let id = halibut::tls::TlsIdentity::generate("Octopus Deploy").map_err(ClusterError::new)?;
    db.put_certificate(polling::SERVER_CERTIFICATE, &id.cert, id.key_der())
        .map_err(|e| ClusterError::new(format!("failed to store the server certificate: {e}")))?;
    Ok(Some(free_port_on(&node_ips(spec.nodes.len()))?))
}

/// The loopback addresses of the first `n` nodes: 127.0.0.2, .3, ...
fn node_ips(n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
        .collect()
}

/// A port free on every one of `ips`, so every node can listen on the same
/// port at its own address (Octopus's "unique address, same port").
fn free_port_on(ips: &[IpAddr]) -> Result<u16, ClusterError> {
    if ips.is_empty() {
        return Err(ClusterError::new("no nodes"));
    }
    let range = unclaimed_range();
    for _ in 0..200 {
        let port = random_port(&range);
        if ips.iter().all(|ip| free(*ip, port)) {
            return Ok(port);
        }
    }
    Err(ClusterError::new(format!(
        "found no port in {}..{} free on every node address",
        range.start, range.end
    )))
}

/// `n` consecutive ports free on `ip` (10943, 10944, ... in Octopus's
/// docs), for the LB's forwarded polling ports.
pub fn free_ports(ip: IpAddr, n: usize) -> Result<Vec<u16>, ClusterError> {
    let range = unclaimed_range();
    let span = n as u16;
    if range.len() <= n {
        return Err(ClusterError::new(format!("no room for {n} ports on {ip}")));
    }
    for _ in 0..200 {
        let base = random_port(&(range.start..range.end - span));
        let ports: Vec<u16> = (base..base + span).collect();
        if ports.iter().all(|p| free(ip, *p)) {
            return Ok(ports);
        }
    }
    Err(ClusterError::new(format!(
        "found no {n} free ports on {ip} in {}..{}",
        range.start, range.end
    )))
}

/// Where the cluster picks the ports it hands from one process to another
/// (a node's polling port, the LB's forwarded ports): below the kernel's
/// ephemeral range. A port is chosen here and bound later by a child; one
/// from the ephemeral range could meanwhile become the local port of any
/// outgoing connection on the machine, and the child's bind then fails
/// with "Address already in use". Nothing takes a port below the range
/// without asking for it by number.
fn unclaimed_range() -> std::ops::Range<u16> {
    const FLOOR: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    // A machine whose ephemeral range starts low leaves no such room; take
    // the ports above it then, as before.
    if ephemeral_low > FLOOR + 1_000 {
        FLOOR..ephemeral_low
    } else {
        1_025..u16::MAX
    }
}

/// A port drawn at random from `range`, so clusters booting side by side
/// (tests in parallel) seldom try the same one.
fn random_port(range: &std::ops::Range<u16>) -> u16 {
    let width = u64::from(range.end - range.start).max(1);
    let draw = getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64)
            ^ u64::from(std::process::id())
    });
    range.start + (draw % width) as u16
}

/// Whether `ip:port` can be bound now.
fn free(ip: IpAddr, port: u16) -> bool {
    std::net::TcpListener::bind((ip, port)).is_ok()
}

/// `VmHWM` (the peak resident set) from a `/proc/<pid>/status` file, in
/// KiB; None where there is no such file (not Linux, or gone).
pub fn peak_rss_kib(status_path: &str) -> Option<u64> {
    std::fs::read_to_string(status_path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handed_on_ports_lie_below_the_ephemeral_range_and_are_free() {
        let range = unclaimed_range();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let ports = free_ports(ip, 3).expect("three ports");
        assert_eq!(ports[1], ports[0] + 1);
        assert_eq!(ports[2], ports[0] + 2);
        for p in &ports {
            assert!(range.contains(p), "{p} outside {range:?}");
            assert!(free(ip, *p), "{p} was handed on but is taken");
        }
        let shared = free_port_on(&node_ips(2)).expect("a shared port");
        assert!(range.contains(&shared));
        // A bound port is never handed on.
        let held = std::net::TcpListener::bind((ip, shared)).expect("bind");
        assert!(!free(ip, shared));
        drop(held);
    }
}
