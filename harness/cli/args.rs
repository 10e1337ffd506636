//! The commands' arguments: the flags and help texts clap shows for `run`,
//! `cleanup`, `doctor`, `upload`, `cluster` and `containers`.

use std::path::PathBuf;

use clap::Subcommand;

use harness::scenario;
use reference_cluster::NodeNaming;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("shard_given").args(["shard", "shards"])))]
pub(crate) struct RunArgs {
    /// Scenario files, run one after another.
    #[arg(required = true)]
    pub(crate) scenarios: Vec<PathBuf>,
    /// A target file describing an existing cluster to run on instead of
    /// the embedded one. Scenarios are checked against it first (its node
    /// names and commands), and disruptive steps are refused without
    /// --allow-disruptive.
    #[arg(long, value_name = "FILE")]
    pub(crate) target: Option<PathBuf>,
    /// Let the scenarios' disruptive steps (faults, task bursts, uploads
    /// over 100 MiB) run on a real target.
    #[arg(long)]
    pub(crate) allow_disruptive: bool,
    /// Folder for run folders (<scenario>/<timestamp>/) and `latest`.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub(crate) out: PathBuf,
    /// Also write the report here (a JSON array when several scenarios run).
    #[arg(long, value_name = "PATH")]
    pub(crate) json: Option<PathBuf>,
    /// Also write JUnit XML here: one testsuite per scenario, one testcase
    /// per check.
    #[arg(long, value_name = "PATH")]
    pub(crate) junit: Option<PathBuf>,
    /// Compare with an earlier run: its report.json, its run folder, or a
    /// suite's --json array. Each scenario's no_regression check is judged
    /// against its run there (with default tolerances when the scenario
    /// declares none).
    #[arg(long, value_name = "PATH")]
    pub(crate) baseline: Option<PathBuf>,
    /// Seed for every random choice, instead of the scenario's or a random
    /// one.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// The LB in front of the embedded nodes, instead of the scenario's:
    /// builtin, haproxy or nginx (configured from the scenario's LB
    /// settings; nginx checks passively).
    #[arg(long, value_name = "LB")]
    pub(crate) lb: Option<scenario::LbEngine>,
    /// Run only the scenarios with at least one of these tags
    /// (comma-separated), for example `nightly`.
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub(crate) tags: Vec<String>,
    /// Leave out the scenarios with any of these tags, for example
    /// `disruptive`.
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub(crate) skip_tags: Vec<String>,
    /// The longest each run may take (such as 20m), instead of its
    /// warm-up, duration, settle and task time plus 10 minutes. A run
    /// past it is stopped, healed and reported as a harness error (exit 3).
    #[arg(long, value_name = "DURATION")]
    pub(crate) time_limit: Option<scenario::units::Duration>,
    /// Run as one shard of a run split across processes or pods: I/N is
    /// shard I (from 0) of N. Each shard sends its slice of the load;
    /// shard 0, the conductor, also injects the faults. Needs --target;
    /// `harness merge` judges the shards' folders as one run
    /// (docs/shards.md).
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub(crate) shard: Option<String>,
    /// As --shard, this shard's index read from JOB_COMPLETION_INDEX, as a
    /// Kubernetes Indexed Job sets it in each pod.
    #[arg(long, value_name = "N")]
    pub(crate) shards: Option<u32>,
    /// The split run's start, RFC 3339 (such as 2026-12-07T21:00:00Z),
    /// when every shard's warm-up begins. Without it, shard 0 publishes a
    /// start --start-lead ahead in the run's folder under --out, a folder
    /// every shard must share, and the others wait for it.
    #[arg(long, value_name = "TIME", requires = "shard_given")]
    pub(crate) start_at: Option<String>,
    /// The split run's ID, 8 hexadecimal digits, the same for every shard;
    /// derived from the scenario's name and --start-at when not given.
    #[arg(long, value_name = "ID", requires = "shard_given")]
    pub(crate) run_id: Option<String>,
    /// How far ahead of its own start shard 0 puts the start it
    /// publishes, for every shard (itself too) to ready the cluster.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15s",
        requires = "shard_given"
    )]
    pub(crate) start_lead: scenario::units::Duration,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CleanupArgs {
    /// The run's ID: 8 hexadecimal digits.
    #[arg(long, value_name = "ID")]
    pub(crate) run_id: String,
    /// The target file of the cluster the run used.
    #[arg(long, value_name = "FILE")]
    pub(crate) target: PathBuf,
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// The target file.
    #[arg(long, value_name = "FILE")]
    pub(crate) target: PathBuf,
    /// Also write the result as JSON here.
    #[arg(long, value_name = "PATH")]
    pub(crate) json: Option<PathBuf>,
    /// Also write JUnit XML here: one testcase per check.
    #[arg(long, value_name = "PATH")]
    pub(crate) junit: Option<PathBuf>,
    /// Also try whether the LB takes a drained node out: drains the last
    /// serving node for a moment, and undrains it.
    #[arg(long)]
    pub(crate) allow_disruptive: bool,
    /// With --allow-disruptive: how long the cluster may take to confirm
    /// the drain, and the LB then to stop sending the node requests (at
    /// least its health check's interval times its fall count).
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub(crate) lb_out_within: scenario::units::Duration,
}

#[derive(Debug, clap::Args)]
pub(crate) struct UploadArgs {
    /// The server or LB, such as http://127.0.0.1:8080.
    pub(crate) url: String,
    /// The package file's size, such as 1GiB.
    #[arg(long)]
    pub(crate) size: scenario::units::Size,
    /// Seed of the content.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// The package version (the ID is HarnessProbe).
    #[arg(long, default_value = "1.0.0")]
    pub(crate) version: String,
    /// A file holding the API key.
    #[arg(long, value_name = "FILE", conflicts_with = "api_key_env")]
    pub(crate) api_key_file: Option<PathBuf>,
    /// The environment variable holding the API key.
    #[arg(long, value_name = "NAME", default_value = "OCTOPUS_API_KEY")]
    pub(crate) api_key_env: String,
    /// overwriteMode: FailIfExists, OverwriteExisting or IgnoreIfExists.
    #[arg(long, default_value = "FailIfExists")]
    pub(crate) overwrite_mode: String,
    /// A slow link: at most this many bytes a second, such as 4MiB/s.
    #[arg(long)]
    pub(crate) throttle: Option<scenario::units::Bandwidth>,
    /// No byte either way for this long ends the upload.
    #[arg(long, default_value = "120s")]
    pub(crate) idle_timeout: scenario::units::Duration,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Start the embedded cluster in the foreground, print its endpoints and
    /// run until Ctrl-C.
    ///
    /// Its files go in DIR/cluster-up/<timestamp>/: the API key file and
    /// target.yaml, a target file for the cluster whose paths are all
    /// absolute. Ctrl-C or SIGTERM stops it and removes its control socket,
    /// PID files, key file and ready file; target.yaml stays.
    Up {
        /// Number of nodes [default: 3, or the scenario's].
        #[arg(long)]
        nodes: Option<u32>,
        /// Each node's task cap (MaxConcurrentTasks) [default: 5, or the
        /// scenario's].
        #[arg(long)]
        task_cap: Option<u32>,
        /// Configure the cluster as this scenario's `cluster` section says
        /// (LB, heartbeats, task queue), so the scenario can then run
        /// against it with --target.
        #[arg(long, value_name = "SCENARIO")]
        like: Option<PathBuf>,
        /// How the nodes name themselves to the API: `host` gives Names
        /// like a real installation's host names (OCTO-HA-01) and Ids
        /// unique to the cluster, unlike the target file's n1, n2, ...;
        /// `key` gives each node its target file's name.
        #[arg(long, value_enum, default_value = "host")]
        node_names: NodeNamesArg,
        /// Folder under which the cluster's files go (cluster-up/<timestamp>/).
        /// `DIR/latest` is left alone: it names the last scenario run.
        #[arg(long, value_name = "DIR", default_value = "runs")]
        out: PathBuf,
        /// Once everything listens, write this file (atomically: it appears
        /// whole) holding the absolute paths of the target file
        /// (`target:`), the API key file (`api_key_file:`, never the key)
        /// and the cluster's folder (`dir:`), as YAML; removed when the
        /// cluster stops. A script waits for it instead of guessing.
        #[arg(long, value_name = "PATH")]
        ready_file: Option<PathBuf>,
    },
    /// Start a node of a running `cluster up` after its target file's
    /// kill or stop command (what that file's `start` commands run).
    Start {
        /// The folder `cluster up` printed.
        dir: PathBuf,
        /// The node.
        node: String,
    },
    /// Run one node of the reference cluster in the foreground, set by its
    /// flags: the entrypoint of the stand-in node image (`containers up
    /// --stand-ins`). It creates the shared database and store where
    /// they are missing, logs to standard output and stops on SIGTERM or
    /// SIGINT.
    Node(Box<NodeArgs>),
    /// Take a running `cluster up`'s shared store away from one node
    /// (`outage`) or give it back (`restore`): what its target file's
    /// `storage` commands run.
    Storage {
        /// The folder `cluster up` printed.
        dir: PathBuf,
        /// The node.
        node: String,
        /// `outage` or `restore`.
        verb: StorageVerb,
    },
    /// Take a running `cluster up`'s shared database away from every node
    /// (`outage`), give it back (`restore`), or fail it over (`failover`:
    /// away for 10 s, then back by itself): what its target file's
    /// `database` commands run.
    Database {
        /// The folder `cluster up` printed.
        dir: PathBuf,
        /// `outage`, `restore` or `failover`.
        verb: DatabaseVerb,
    },
}

/// `cluster node`'s flags: a node's identity, where its shared database
/// and store are, and the waits a scenario's `cluster:` section sets.
#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// Its Octopus Name.
    #[arg(long)]
    pub(crate) name: String,
    /// Its Octopus Id [default: OctopusServerNodes-NAME].
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Where the API listens.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// Where Tentacles poll; no polling listener without it.
    #[arg(long, value_name = "ADDR")]
    pub(crate) polling_listen: Option<std::net::SocketAddr>,
    /// The shared database, a SQLite file every node opens.
    #[arg(long, value_name = "PATH", default_value = "/database/shared.db")]
    pub(crate) database: PathBuf,
    /// The shared store (packages, task logs).
    #[arg(long, value_name = "DIR", default_value = "/repository")]
    pub(crate) storage: PathBuf,
    /// The environment variable holding the API key clients must send.
    #[arg(long, default_value = "HARNESS_API_KEY")]
    pub(crate) api_key_env: String,
    /// One value for every node of the cluster: its installation ID.
    #[arg(long, default_value = "standalone")]
    pub(crate) installation_id: String,
    /// MaxConcurrentTasks on first registration.
    #[arg(long, default_value_t = 5)]
    pub(crate) task_cap: u32,
    /// Time between heartbeats.
    #[arg(long, default_value = "1s")]
    pub(crate) heartbeat: scenario::units::Duration,
    /// A node not seen for this long shows IsOffline.
    #[arg(long, default_value = "5s")]
    pub(crate) offline_after: scenario::units::Duration,
    /// Time between two checks of the task queue.
    #[arg(long, default_value = "20s")]
    pub(crate) queue_poll: scenario::units::Duration,
    /// Another node's tasks are canceled once it is unseen for this long.
    #[arg(long, default_value = "1h")]
    pub(crate) orphan_after: scenario::units::Duration,
    /// How long a polling Tentacle's request is held open.
    #[arg(long, default_value = "30s")]
    pub(crate) poll_wait: scenario::units::Duration,
    /// How long a request may wait to be collected by a Tentacle.
    #[arg(long, default_value = "2m")]
    pub(crate) pickup_timeout: scenario::units::Duration,
}

/// `cluster storage`'s verb.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum StorageVerb {
    /// Take the store away from the node.
    Outage,
    /// Give it back.
    Restore,
}

/// `cluster database`'s verb.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum DatabaseVerb {
    /// Take the database away.
    Outage,
    /// Give it back.
    Restore,
    /// Take it away for 10 s, after which it comes back by itself.
    Failover,
}

/// `cluster up --node-names`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum NodeNamesArg {
    /// Host-like Names and cluster-unique Ids.
    Host,
    /// The target file's node names.
    Key,
}

impl From<NodeNamesArg> for NodeNaming {
    fn from(a: NodeNamesArg) -> Self {
        match a {
            NodeNamesArg::Host => NodeNaming::Host,
            NodeNamesArg::Key => NodeNaming::Key,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContainersCommand {
    /// Start the cluster in the foreground, wait on every node's ping,
    /// write a target file for it and run until Ctrl-C, which removes its
    /// containers, volumes and network. Exits 3 at once if no Docker
    /// daemon or Podman API answers (DOCKER_HOST chooses one).
    Up {
        /// Number of Octopus nodes [default: 2, or the scenario's].
        #[arg(long)]
        nodes: Option<u32>,
        /// Each node's task cap (TASK_CAP) [default: 20, or the
        /// scenario's].
        #[arg(long)]
        task_cap: Option<u32>,
        /// Configure the cluster as this scenario's `cluster` section says
        /// (the LB's health checks and timeouts; with --stand-ins also the
        /// nodes' heartbeats and task queue), so the scenario can then run
        /// against it with --target.
        #[arg(long, value_name = "SCENARIO")]
        like: Option<PathBuf>,
        /// Run the stand-in images built here (`containers images`: the
        /// reference node and Debian's HAProxy), not the registry's
        /// Octopus, SQL Server and HAProxy images. Needs no registry and
        /// no licence; no SQL Server runs.
        #[arg(long)]
        stand_ins: bool,
        /// The octopusdeploy/octopusdeploy tag.
        #[arg(long, default_value = "latest")]
        octopus_tag: String,
        /// The environment variable holding the licence, base64 (an HA
        /// cluster of real images needs one; a single node may try a free
        /// licence).
        #[arg(long, default_value = "OCTOPUS_LICENSE_BASE64")]
        licence_env: String,
        /// Folder under which the cluster's files go
        /// (containers-up/<timestamp>/).
        #[arg(long, value_name = "DIR", default_value = "runs")]
        out: PathBuf,
    },
    /// Build the stand-in images on the engine, with no registry:
    /// harness-node:stand-in (this harness binary and the libraries it
    /// links, run as `cluster node`) and harness-haproxy:stand-in (this
    /// machine's HAProxy and its libraries). `containers up --stand-ins`
    /// builds them too.
    Images,
}

#[derive(Debug, clap::Args)]
pub(crate) struct MergeArgs {
    /// Every shard's run folder, such as runs/failover/ab12cd34/shard-*,
    /// or the run's folder that holds them (runs/failover/ab12cd34).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub(crate) shards: Vec<PathBuf>,
    /// Folder for the merged run's folder (<scenario>/<timestamp>/) and
    /// `latest`.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub(crate) out: PathBuf,
    /// Also write the merged report here.
    #[arg(long, value_name = "PATH")]
    pub(crate) json: Option<PathBuf>,
    /// Also write the merged run's JUnit XML here.
    #[arg(long, value_name = "PATH")]
    pub(crate) junit: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct KubeArgs {
    /// The scenario the shards run.
    pub(crate) scenario: PathBuf,
    /// The target file of the cluster they run against; its commands run
    /// in the conductor's pod.
    #[arg(long, value_name = "FILE")]
    pub(crate) target: PathBuf,
    /// How many shards: pods of the Indexed Job.
    #[arg(long, value_name = "N")]
    pub(crate) shards: u32,
    /// The image that holds the harness, built from the Dockerfile.
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: String,
    /// The existing Secret that holds the API key; the manifests name it,
    /// never its value.
    #[arg(long, value_name = "NAME", default_value = "harness-api-key")]
    pub(crate) secret: String,
    /// The key in that Secret.
    #[arg(long, value_name = "KEY", default_value = "api-key")]
    pub(crate) secret_key: String,
    /// An existing ReadWriteMany PersistentVolumeClaim every pod mounts:
    /// where the shards meet and leave their histories, and the merge its
    /// run folder.
    #[arg(long, value_name = "NAME", default_value = "harness-results")]
    pub(crate) results_claim: String,
    /// The namespace, instead of kubectl's current one.
    #[arg(long, value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// The run's ID (8 hexadecimal digits); a new one when not given.
    #[arg(long, value_name = "ID")]
    pub(crate) run_id: Option<String>,
    /// The longest the shards' Job may take, instead of the scenario's
    /// time limit plus the start's lead and the wait for it.
    #[arg(long, value_name = "DURATION")]
    pub(crate) deadline: Option<scenario::units::Duration>,
    /// How far ahead of its own start shard 0 puts the start it
    /// publishes, for every pod to be scheduled and ready.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub(crate) start_lead: scenario::units::Duration,
    /// Let the scenario's disruptive steps (faults) run on the target.
    #[arg(long)]
    pub(crate) allow_disruptive: bool,
    /// Folder the manifests are written to.
    #[arg(long, value_name = "DIR", default_value = "kube")]
    pub(crate) out: PathBuf,
}
