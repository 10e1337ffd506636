//! The commands' arguments: the flags and help texts clap shows for `run`,
//! `cleanup`, `doctor`, `upload`, `cluster` and `containers`.

use std::path::PathBuf;

use clap::Subcommand;

use harness::scenario;
use reference_cluster::NodeNaming;

#[derive(Debug, clap::Args)]
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
    /// write a target file for it and run until Ctrl-C, which removes the
    /// containers and their volumes. Exits 3 at once if no Docker daemon
    /// answers (DOCKER_HOST chooses one).
    Up {
        /// Number of Octopus nodes.
        #[arg(long, default_value_t = 2)]
        nodes: u32,
        /// Each node's task cap (TASK_CAP).
        #[arg(long, default_value_t = 20)]
        task_cap: u32,
        /// The octopusdeploy/octopusdeploy tag.
        #[arg(long, default_value = "latest")]
        octopus_tag: String,
        /// The environment variable holding the licence, base64 (an HA
        /// cluster needs one; a single node may try a free licence).
        #[arg(long, default_value = "OCTOPUS_LICENSE_BASE64")]
        licence_env: String,
        /// Folder under which the cluster's files go
        /// (containers-up/<timestamp>/).
        #[arg(long, value_name = "DIR", default_value = "runs")]
        out: PathBuf,
    },
}
