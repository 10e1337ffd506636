//! The command line: `run`, `validate`, `list`, `cluster up`, `report`,
//! `upload` and `package`, and the hidden modes in which the binary runs as
//! a node or as the LB. Each command returns an exit code from
//! [`crate::exit`].

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::check;
use crate::client::{ApiClient, ApiKey};
use crate::cluster::control::{self, TARGET_KEY_ENV};
use crate::cluster::supervisor::{child_config, child_guard};
use crate::cluster::{EmbeddedCluster, NodeNaming, lb, node};
use crate::exit::{CHECK_FAILED, ENVIRONMENT, INVALID_INPUT, PASS};
use crate::history::{Clock, Event, Events, History};
use crate::limits::{CLEANUP_COMMAND_WITHIN, CONTAINERS_UP_WITHIN};
use crate::report::{self, Report};
use crate::runner::{self, RunOptions};
use crate::scenario::{self, KINDS, LoadedScenario, MAX_NODES, ScenarioError, ScenarioErrorKind};
use crate::target::TargetFile;

use crate::cluster::supervisor::{EXEC_MODE, LB_MODE, NODE_MODE};

/// Conformance and load tests for Octopus Deploy High Availability clusters.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios and judge them; without --target, on the embedded
    /// reference cluster.
    Run(RunArgs),
    /// Parse and validate scenarios without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List every workload, fault and check kind.
    List,
    /// The embedded reference cluster, to explore by hand.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// A real Octopus HA cluster in containers (needs Docker and, for more
    /// than one node, a licence): SQL Server, the nodes and HAProxy.
    #[command(subcommand)]
    Containers(ContainersCommand),
    /// Re-render a finished run from its folder: judge its history again and
    /// rewrite report.json, report.html and junit.xml.
    Report {
        /// A run folder, such as runs/latest.
        run_dir: PathBuf,
    },
    /// A read-only preflight of a cluster described by a target file: ping
    /// of each node directly and through the LB, the API key, versions,
    /// the node list, the LB's spread, drained or offline nodes, polling
    /// endpoints. Exit 0 if every check passes, 1 if one fails, 2 for an
    /// invalid target file, 3 if nothing answers.
    Doctor(DoctorArgs),
    /// Remove what a run left on a real cluster, found by the run ID in
    /// its report (`cleanup.run_id`): its packages and machines are
    /// deleted, its unfinished tasks canceled, each listed as it goes, then
    /// each kind's outcome. A kind that cannot be listed does not stop the
    /// others. Exit 0 when nothing is left (with --dry-run, once every kind
    /// is listed), 2 for a bad run ID or target file, 3 at the end if any
    /// kind could not be listed or removed.
    Cleanup(CleanupArgs),
    /// Upload one synthetic package to an Octopus server or LB, streamed
    /// as it is generated, and print how it went (exit 0 if accepted).
    Upload(UploadArgs),
    /// Write a synthetic package (a ZIP of seeded, incompressible bytes)
    /// to standard output: the same bytes `upload` sends for the seed.
    Package {
        /// The file's size, such as 1GiB.
        size: scenario::units::Size,
        /// Seed of the content.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    #[command(name = NODE_MODE, hide = true)]
    Node,
    #[command(name = LB_MODE, hide = true)]
    Lb,
    #[command(name = EXEC_MODE, hide = true)]
    Exec {
        program: std::ffi::OsString,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files, run one after another.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// A target file describing an existing cluster to run on instead of
    /// the embedded one. Scenarios are checked against it first (its node
    /// names and commands), and disruptive steps are refused without
    /// --allow-disruptive.
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Let the scenarios' disruptive steps (faults, task bursts, uploads
    /// over 100 MiB) run on a real target.
    #[arg(long)]
    allow_disruptive: bool,
    /// Folder for run folders (<scenario>/<timestamp>/) and `latest`.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    out: PathBuf,
    /// Also write the report here (a JSON array when several scenarios run).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write JUnit XML here: one testsuite per scenario, one testcase
    /// per check.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Compare with an earlier run: its report.json, its run folder, or a
    /// suite's --json array. Each scenario's no_regression check is judged
    /// against its run there (with default tolerances when the scenario
    /// declares none).
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Seed for every random choice, instead of the scenario's or a random
    /// one.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The LB in front of the embedded nodes, instead of the scenario's:
    /// builtin, haproxy or nginx (configured from the scenario's LB
    /// settings; nginx checks passively).
    #[arg(long, value_name = "LB")]
    lb: Option<scenario::LbEngine>,
    /// Run only the scenarios with at least one of these tags
    /// (comma-separated), for example `nightly`.
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    tags: Vec<String>,
    /// Leave out the scenarios with any of these tags, for example
    /// `disruptive`.
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    skip_tags: Vec<String>,
    /// The longest each run may take (such as 20m), instead of its
    /// warm-up, duration, settle and task time plus 10 minutes. A run
    /// past it is stopped, healed and reported as a harness error (exit 3).
    #[arg(long, value_name = "DURATION")]
    time_limit: Option<scenario::units::Duration>,
}

#[derive(Debug, clap::Args)]
struct CleanupArgs {
    /// The run's ID: 8 hexadecimal digits.
    #[arg(long, value_name = "ID")]
    run_id: String,
    /// The target file of the cluster the run used.
    #[arg(long, value_name = "FILE")]
    target: PathBuf,
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct DoctorArgs {
    /// The target file.
    #[arg(long, value_name = "FILE")]
    target: PathBuf,
    /// Also write the result as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write JUnit XML here: one testcase per check.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct UploadArgs {
    /// The server or LB, such as http://127.0.0.1:8080.
    url: String,
    /// The package file's size, such as 1GiB.
    #[arg(long)]
    size: scenario::units::Size,
    /// Seed of the content.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The package version (the ID is HarnessProbe).
    #[arg(long, default_value = "1.0.0")]
    version: String,
    /// A file holding the API key.
    #[arg(long, value_name = "FILE", conflicts_with = "api_key_env")]
    api_key_file: Option<PathBuf>,
    /// The environment variable holding the API key.
    #[arg(long, value_name = "NAME", default_value = "OCTOPUS_API_KEY")]
    api_key_env: String,
    /// overwriteMode: FailIfExists, OverwriteExisting or IgnoreIfExists.
    #[arg(long, default_value = "FailIfExists")]
    overwrite_mode: String,
    /// A slow link: at most this many bytes a second, such as 4MiB/s.
    #[arg(long)]
    throttle: Option<scenario::units::Bandwidth>,
    /// No byte either way for this long ends the upload.
    #[arg(long, default_value = "120s")]
    idle_timeout: scenario::units::Duration,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
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
}

/// `cluster up --node-names`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NodeNamesArg {
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
enum ContainersCommand {
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

/// Parses the command line and runs it; returns the exit code.
pub fn main() -> u8 {
    let cli = Cli::parse();
    raise_open_file_limit();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => list(),
        Command::Cluster(ClusterCommand::Up {
            nodes,
            task_cap,
            like,
            node_names,
            out,
            ready_file,
        }) => cluster_up(
            nodes,
            task_cap,
            like.as_deref(),
            node_names.into(),
            &out,
            ready_file.as_deref(),
        ),
        Command::Cluster(ClusterCommand::Start { dir, node }) => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            match rt.block_on(control::request_start(&dir, &node)) {
                Ok(()) => PASS,
                Err(control::StartError::Invalid(e)) => {
                    eprintln!("error: {e}");
                    INVALID_INPUT
                }
                Err(control::StartError::Failed(e)) => {
                    eprintln!("error: {e}");
                    ENVIRONMENT
                }
            }
        }
        Command::Containers(ContainersCommand::Up {
            nodes,
            task_cap,
            octopus_tag,
            licence_env,
            out,
        }) => containers_up(nodes, task_cap, octopus_tag, &licence_env, &out),
        Command::Report { run_dir } => report_cmd(&run_dir),
        Command::Doctor(args) => doctor_cmd(args),
        Command::Cleanup(args) => cleanup_cmd(args),
        Command::Upload(args) => upload_cmd(args),
        Command::Package { size, seed } => package_cmd(size, seed),
        Command::Node => child(|key| {
            if key.is_empty() {
                return Err("no API key on stdin".into());
            }
            node::main(child_config()?, key)
        }),
        Command::Lb => child(|_| lb::main(child_config()?)),
        Command::Exec { program, args } => {
            eprintln!(
                "error: {}",
                crate::cluster::supervisor::exec_guarded(&program, &args)
            );
            ENVIRONMENT
        }
    }
}

/// A fleet of a thousand polling Tentacles holds thousands of sockets, and
/// each node a thousand: lift the soft limit on open files (often 1024) to
/// the hard one, for this process and the nodes it starts, as load
/// generators do. Where that is refused, the old limit stays.
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// A target file and the API key its variable holds, or exit 2 having
/// said why.
fn target_and_key(file: &Path) -> Result<(TargetFile, ApiKey), u8> {
    let target = crate::target::load(file).map_err(|e| {
        eprintln!("error: {e}");
        INVALID_INPUT
    })?;
    let key = target.api_key().map_err(|e| {
        eprintln!("error: {}: {e}", file.display());
        INVALID_INPUT
    })?;
    Ok((target, key))
}

fn cleanup_cmd(a: CleanupArgs) -> u8 {
    if !crate::cleanup::valid_run_id(&a.run_id) {
        eprintln!(
            "error: --run-id: {:?} is not a run ID (8 hexadecimal digits, as in the report's cleanup.run_id)",
            a.run_id
        );
        return INVALID_INPUT;
    }
    let (target, key) = match target_and_key(&a.target) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let api = match ApiClient::with_trust(&target.lb.value, key, &target.trust()) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("error: {}: {e}", a.target.display());
            return INVALID_INPUT;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let work = async {
        // Each kind on its own: one that cannot be listed (a cluster
        // without that API) is reported, and the others are still done.
        let left = crate::cleanup::find(&api, &a.run_id).await;
        println!(
            "run {} left {} on {}",
            a.run_id,
            left.counts(),
            target.name.value
        );
        if a.dry_run {
            for id in left.packages.iter().flatten() {
                println!("  package {id}");
            }
            for id in left.tasks.iter().flatten() {
                println!("  task {id}");
            }
            for (id, name) in left.machines.iter().flatten() {
                println!("  machine {id} ({name})");
            }
            let failed: Vec<String> = [
                ("packages", &left.packages.as_ref().err()),
                ("tasks", &left.tasks.as_ref().err()),
                ("machines", &left.machines.as_ref().err()),
            ]
            .iter()
            .filter_map(|(kind, e)| e.map(|e| format!("{kind}: FAILED, could not list them: {e}")))
            .collect();
            for line in &failed {
                println!("{line}");
            }
            return failed.is_empty();
        }
        let outcomes = crate::cleanup::remove(&api, &left, |line| println!("  {line}")).await;
        for o in &outcomes {
            println!("{}", o.line());
        }
        outcomes.iter().all(|o| o.ok())
    };
    match rt.block_on(async { tokio::time::timeout(CLEANUP_COMMAND_WITHIN, work).await }) {
        Ok(true) => PASS,
        Ok(false) => {
            eprintln!(
                "error: not everything could be listed or removed (see FAILED above); run the command again"
            );
            ENVIRONMENT
        }
        Err(_) => {
            eprintln!(
                "error: the clean-up did not end within {}",
                humantime::format_duration(CLEANUP_COMMAND_WITHIN)
            );
            ENVIRONMENT
        }
    }
}

fn doctor_cmd(a: DoctorArgs) -> u8 {
    let (target, key) = match target_and_key(&a.target) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let d = rt.block_on(crate::doctor::run(&target, key));
    // Name lookups that outlive their request's deadline run on blocking
    // threads; the preflight does not wait for them.
    rt.shutdown_within(std::time::Duration::from_millis(100));
    let d = match d {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", a.target.display());
            return INVALID_INPUT;
        }
    };
    print!("{}", report::doctor_summary(&d));
    let write = |path: &Path, text: Result<String, String>| {
        let done = text.and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()));
        if let Err(e) = &done {
            eprintln!("error: failed to write {}: {e}", path.display());
        }
        done.is_ok()
    };
    if let Some(path) = &a.json
        && !write(
            path,
            serde_json::to_string_pretty(&d).map_err(|e| e.to_string()),
        )
    {
        return ENVIRONMENT;
    }
    if let Some(path) = &a.junit
        && !write(path, report::doctor_junit_xml(&d))
    {
        return ENVIRONMENT;
    }
    if !d.reachable {
        eprintln!(
            "error: nothing in {} answered: not the LB, not one node",
            a.target.display()
        );
        return ENVIRONMENT;
    }
    match d.verdict {
        crate::check::Verdict::Pass => PASS,
        _ => CHECK_FAILED,
    }
}

fn upload_cmd(a: UploadArgs) -> u8 {
    use crate::upload::{OverwriteMode, UploadClass, Uploader};
    let key = match &a.api_key_file {
        Some(f) => crate::input::read_text(f, crate::limits::MAX_KEY_FILE_BYTES)
            .map(|k| k.trim().to_string())
            .map_err(|e| format!("failed to read the API key from {}: {e}", f.display())),
        None => std::env::var(&a.api_key_env)
            .map_err(|_| format!("no API key: set {} or give --api-key-file", a.api_key_env)),
    };
    let key = match key {
        Ok(k) if !k.is_empty() => ApiKey::new(k),
        Ok(_) => {
            eprintln!("error: the API key is empty");
            return INVALID_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID_INPUT;
        }
    };
    let mode = match a.overwrite_mode.as_str() {
        "FailIfExists" => OverwriteMode::FailIfExists,
        "OverwriteExisting" => OverwriteMode::OverwriteExisting,
        "IgnoreIfExists" => OverwriteMode::IgnoreIfExists,
        other => {
            eprintln!(
                "error: --overwrite-mode {other:?}: use FailIfExists, OverwriteExisting or IgnoreIfExists"
            );
            return INVALID_INPUT;
        }
    };
    let spec = crate::package::PackageSpec {
        package_id: crate::package::PACKAGE_ID.into(),
        version: a.version.clone(),
        content: crate::package::PackageSpec::content_for_total(a.size.bytes()),
        seed: a.seed,
    };
    if crate::package::parse_file_name(&spec.file_name()).is_none() {
        eprintln!("error: --version {:?} is not a package version", a.version);
        return INVALID_INPUT;
    }
    let uploader = match Uploader::new(
        "target",
        &a.url,
        key,
        &crate::target::Trust::System,
        std::time::Duration::from_secs(10),
        a.idle_timeout.get(),
        a.throttle.map(|t| t.bytes_per_sec()),
    ) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ENVIRONMENT;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let bar = indicatif::ProgressBar::new(spec.len());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let a = rt.block_on(uploader.attempt(&spec, mode, Some(bar.clone())));
    bar.finish_and_clear();
    let secs = a.done.as_secs_f64();
    let to_last = a.last_byte.map(|d| d.as_secs_f64());
    println!("file:      {}", spec.file_name());
    println!("size:      {} bytes", spec.len());
    println!(
        "outcome:   {:?}{}",
        a.class,
        a.status.map(|s| format!(" ({s})")).unwrap_or_default()
    );
    if let Some(server) = &a.server {
        println!("server:    {server}");
    }
    if let Some(e) = &a.error {
        println!("error:     {e}");
    }
    println!("sent:      {} bytes", a.bytes_sent);
    if let Some(t) = to_last {
        println!(
            "last byte: {t:.3}s ({:.1} MiB/s)",
            a.bytes_sent as f64 / 1048576.0 / t.max(1e-9)
        );
    }
    println!("response:  {secs:.3}s");
    if let Some(h) = &a.sha1 {
        println!("sha1:      {h}");
    }
    if let Some(h) = &a.server_hash {
        println!("server:    {h}");
    }
    if a.class == UploadClass::Accepted {
        PASS
    } else if a.unreachable {
        // As every command that cannot reach its cluster.
        ENVIRONMENT
    } else {
        CHECK_FAILED
    }
}

fn package_cmd(size: scenario::units::Size, seed: u64) -> u8 {
    let spec = crate::package::PackageSpec {
        package_id: crate::package::PACKAGE_ID.into(),
        version: "1.0.0".into(),
        content: crate::package::PackageSpec::content_for_total(size.bytes()),
        seed,
    };
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        eprintln!(
            "error: refusing to write a binary package to a terminal; redirect it, as in: harness package {size} > package.zip"
        );
        return INVALID_INPUT;
    }
    let mut stream = spec.stream();
    while let Some(chunk) = stream.next_chunk(crate::package::CHUNK) {
        match out.write_all(&chunk) {
            Ok(()) => {}
            // A reader that has read enough (`| head -c 10`) ends it
            // quietly, as it does any Unix tool.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return PASS,
            Err(e) => {
                eprintln!("error: failed to write the package: {e}");
                return ENVIRONMENT;
            }
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: failed to write the package: {e}");
        return ENVIRONMENT;
    }
    PASS
}

fn child(body: impl FnOnce(String) -> Result<(), String>) -> u8 {
    let stdin_line = child_guard();
    match body(stdin_line) {
        Ok(()) => PASS,
        Err(e) => {
            eprintln!("error: {e}");
            ENVIRONMENT
        }
    }
}

fn runtime() -> Result<Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map(|rt| Runtime(Some(rt)))
        .map_err(|e| {
            eprintln!("error: failed to start the async runtime: {e}");
            ENVIRONMENT
        })
}

/// The async runtime, which does not wait long for blocking work still
/// running when it is dropped: a name lookup that outlived its request's
/// deadline, a hash of a package no one waits for any more.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    /// Drops the runtime, waiting at most `within` for blocking work.
    fn shutdown_within(mut self, within: std::time::Duration) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(within);
        }
    }
}

impl std::ops::Deref for Runtime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("the runtime lives until dropped")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// Loads every scenario, printing every error; Err if any is invalid.
/// `run --target`: the scenarios are validated with the target's node
/// names, their faults checked against the target's commands, and their
/// disruptive steps refused unless allowed, before anything reaches the
/// target.
fn prepare_target(args: &RunArgs, file: &Path) -> Result<(Vec<LoadedScenario>, TargetFile), u8> {
    let target = match crate::target::load(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(INVALID_INPUT);
        }
    };
    if args.lb.is_some() {
        eprintln!("error: --lb chooses the embedded cluster's LB; a target brings its own");
        return Err(INVALID_INPUT);
    }
    // The package, machine and task paths are the default space's.
    if target.space.value != crate::cluster::api::SPACE_ID {
        let problem = scenario::Problem::at(
            &target.space.referenced,
            "space",
            format!(
                "runs work in {} only for now, not {}",
                crate::cluster::api::SPACE_ID,
                target.space.value
            ),
        );
        let e = crate::target::TargetError::Invalid(file.to_path_buf(), vec![problem]);
        eprintln!("error: {e}");
        return Err(INVALID_INPUT);
    }
    let names: Vec<String> = target
        .nodes
        .iter()
        .map(|n| n.value.name.value.clone())
        .collect();
    let mut bad = false;
    let mut disruptive = Vec::new();
    let mut all = Vec::new();
    for f in &args.scenarios {
        // Left out before it is fitted to the target or its steps are
        // weighed: `--skip-tags disruptive` is how a suite runs on a cluster
        // that must not be disturbed, and the scenarios left out may name
        // the embedded cluster's nodes.
        let tags_only = scenario::load_for_nodes(f, None);
        if let Ok(l) = &tags_only
            && left_out_by_tags(&l.scenario, &args.tags, &args.skip_tags).is_some()
        {
            all.extend(tags_only);
            continue;
        }
        let loaded = match scenario::load_for_nodes(f, Some(&names)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
                continue;
            }
        };
        let lacking = crate::target::check_scenario(&target, &loaded.scenario);
        if !lacking.is_empty() {
            let e = ScenarioError {
                file: f.clone(),
                kind: ScenarioErrorKind::Invalid(lacking),
            };
            eprintln!("error: for target {}: {e}", file.display());
            bad = true;
        }
        for step in crate::target::disruptive_steps(&loaded.scenario) {
            disruptive.push(format!("{}: {step}", f.display()));
        }
        all.push(loaded);
    }
    if bad {
        return Err(INVALID_INPUT);
    }
    if !disruptive.is_empty() && !args.allow_disruptive {
        eprintln!(
            "error: refusing to disrupt {} ({}) without --allow-disruptive; these steps would:",
            target.name.value,
            file.display()
        );
        for d in &disruptive {
            eprintln!("  {d}");
        }
        return Err(INVALID_INPUT);
    }
    if let Err(e) = target.api_key() {
        eprintln!("error: {}: {e}", file.display());
        return Err(INVALID_INPUT);
    }
    eprintln!(
        "note: on {}, the scenarios' `cluster` sections are not applied: the cluster is as it is (`harness cluster up --like SCENARIO` starts one set up as a scenario says)",
        target.name.value
    );
    Ok((all, target))
}

/// Why `--tags` and `--skip-tags` leave a scenario out, if they do.
fn left_out_by_tags(s: &scenario::Scenario, tags: &[String], skip: &[String]) -> Option<String> {
    let has = |t: &String| s.tags.iter().any(|u| &u.value == t);
    if let Some(t) = skip.iter().find(|t| has(t)) {
        Some(format!("tagged {t}"))
    } else if !tags.is_empty() && !tags.iter().any(has) {
        Some(format!("not tagged {}", tags.join(" or ")))
    } else {
        None
    }
}

/// The scenarios `--tags` and `--skip-tags` select, each left out said on
/// stderr; none selected is an error (a suite that runs nothing must not
/// pass).
fn select_by_tags(
    loaded: Vec<LoadedScenario>,
    tags: &[String],
    skip: &[String],
) -> Result<Vec<LoadedScenario>, u8> {
    let mut chosen = Vec::new();
    for l in loaded {
        match left_out_by_tags(&l.scenario, tags, skip) {
            Some(why) => eprintln!("skipped: {} ({why})", l.file.display()),
            None => chosen.push(l),
        }
    }
    if chosen.is_empty() {
        eprintln!("error: no scenario is selected by --tags and --skip-tags");
        return Err(INVALID_INPUT);
    }
    Ok(chosen)
}

fn load_all(files: &[PathBuf]) -> Result<Vec<LoadedScenario>, u8> {
    let mut loaded = Vec::new();
    let mut bad = false;
    for f in files {
        match scenario::load(f) {
            Ok(l) => loaded.push(l),
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
            }
        }
    }
    if bad { Err(INVALID_INPUT) } else { Ok(loaded) }
}

/// Each file's verdict in turn: an invalid file does not hide that the
/// others are valid.
fn validate(files: &[PathBuf]) -> u8 {
    let mut code = PASS;
    for f in files {
        match scenario::load(f) {
            Ok(l) => {
                let s = &l.scenario;
                // Whole seconds: an estimate has no use for milliseconds.
                let expect = std::time::Duration::from_secs(
                    runner::expected_wall_time(s).as_secs_f64().ceil() as u64,
                );
                println!(
                    "ok: {} ({}: {} nodes, {} faults, {} checks, duration {}; a run takes about {})",
                    l.file.display(),
                    s.name.value,
                    s.cluster.nodes.value,
                    s.faults.len(),
                    s.checks.len(),
                    s.duration.value,
                    humantime::format_duration(expect)
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = INVALID_INPUT;
            }
        }
    }
    code
}

fn list() -> u8 {
    let _ = std::io::stdout()
        .lock()
        .write_all(list_text(KINDS).as_bytes());
    PASS
}

/// `harness list`'s text: the kinds by section, in a column as wide as
/// the longest name, so every description starts in the same place.
fn list_text(kinds: &[(&str, &str, &str)]) -> String {
    let width = kinds
        .iter()
        .map(|(_, k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut section = "";
    for (sec, kind, what) in kinds {
        if *sec != section {
            let _ = writeln!(out, "{}{sec}s", if section.is_empty() { "" } else { "\n" });
            section = sec;
        }
        let _ = writeln!(out, "  {kind:<width$}  {what}");
    }
    out
}

fn run(args: RunArgs) -> u8 {
    for t in args.tags.iter().chain(&args.skip_tags) {
        if !scenario::is_tag(t) {
            eprintln!("error: {t:?} is not a tag (1 to 32 lower-case letters, digits or '-')");
            return INVALID_INPUT;
        }
    }
    let (loaded, target) = match &args.target {
        Some(file) => match prepare_target(&args, file) {
            Ok((l, t)) => (l, Some(t)),
            Err(code) => return code,
        },
        None => match load_all(&args.scenarios) {
            Ok(l) => (l, None),
            Err(code) => return code,
        },
    };
    let mut loaded = match select_by_tags(loaded, &args.tags, &args.skip_tags) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if target.is_some()
        && let Some(l) = loaded.iter().find(|l| l.scenario.sweep.is_some())
    {
        eprintln!(
            "error: {}: a sweep runs on the embedded cluster only, where node counts and sizes can change; leave out --target",
            l.file.display()
        );
        return INVALID_INPUT;
    }
    let baseline = match &args.baseline {
        Some(path) => match check::Baselines::load(path) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID_INPUT;
            }
        },
        None => {
            for l in &loaded {
                let declared = l
                    .scenario
                    .checks
                    .iter()
                    .any(|c| matches!(c.value, scenario::Check::NoRegression(_)));
                if declared {
                    eprintln!(
                        "note: {}: no_regression is not judged without --baseline",
                        l.file.display()
                    );
                }
            }
            None
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let opts = RunOptions {
        out: args.out.clone(),
        seed: args.seed,
        progress: true,
        target,
        baseline,
        time_limit: args.time_limit.map(|d| d.get()),
    };
    if opts.time_limit.is_some_and(|t| t.is_zero()) {
        eprintln!("error: --time-limit must be longer than 0s");
        return INVALID_INPUT;
    }
    let mut reports: Vec<Report> = Vec::new();
    let mut environment_failed = false;
    if let Some(engine) = args.lb {
        for l in &mut loaded {
            l.scenario.cluster.lb.engine = engine;
            // Some settings need what only some LBs do (L4 polling ports).
            if let Err(problems) = scenario::validate(&l.scenario) {
                let e = ScenarioError {
                    file: l.file.clone(),
                    kind: ScenarioErrorKind::Invalid(problems),
                };
                eprintln!("error: with --lb: {e}");
                return INVALID_INPUT;
            }
        }
    }
    for l in &loaded {
        if l.scenario.sweep.is_some() {
            let interrupted = match rt.block_on(runner::run_sweep(l, &opts)) {
                Ok(result) => {
                    print!(
                        "\nsweep {}\n{}",
                        result.report.scenario,
                        result.report.table()
                    );
                    println!("verdict: {}", result.report.verdict.as_str().to_uppercase());
                    println!("sweep folder: {}", result.dir.display());
                    reports.extend(result.runs);
                    result.error.is_some_and(|e| {
                        eprintln!("error: scenario {}: {e}", l.file.display());
                        environment_failed = true;
                        e.interrupted
                    })
                }
                Err(e) => {
                    eprintln!("error: scenario {}: {e}", l.file.display());
                    environment_failed = true;
                    e.interrupted
                }
            };
            if interrupted {
                break;
            }
            continue;
        }
        match rt.block_on(runner::run(l, &opts)) {
            Ok(result) => {
                print!("\n{}", report::summary(&result.report));
                println!("run folder: {}", result.dir.display());
                reports.push(result.report);
            }
            Err(mut e) => {
                eprintln!("error: scenario {}: {e}", l.file.display());
                environment_failed = true;
                // A run stopped early still has a report: --json and
                // --junit get it, so CI shows what was cut.
                reports.extend(e.report.take().map(|r| *r));
                if e.interrupted {
                    break;
                }
            }
        }
    }
    if let Err(code) = write_outputs(&args, &reports) {
        return code;
    }
    if environment_failed {
        ENVIRONMENT
    } else if reports.iter().all(|r| r.verdict == check::Verdict::Pass) {
        PASS
    } else {
        CHECK_FAILED
    }
}

fn write_outputs(args: &RunArgs, reports: &[Report]) -> Result<(), u8> {
    let fail = |path: &Path, e: String| {
        eprintln!("error: failed to write {}: {e}", path.display());
        ENVIRONMENT
    };
    if let Some(path) = &args.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(reports)
        };
        let text = text.map_err(|e| fail(path, e.to_string()))?;
        std::fs::write(path, text).map_err(|e| fail(path, e.to_string()))?;
    }
    if let Some(path) = &args.junit {
        let xml = report::junit_xml(reports).map_err(|e| fail(path, e))?;
        std::fs::write(path, xml).map_err(|e| fail(path, e.to_string()))?;
    }
    Ok(())
}

fn report_cmd(dir: &Path) -> u8 {
    if dir.join("sweep.json").is_file() {
        eprintln!(
            "error: {} is a sweep's folder; its table is sweep.json, and each of its runs, under {}, is a run folder `harness report` takes",
            dir.display(),
            dir.join("runs").display()
        );
        return INVALID_INPUT;
    }
    let scenario_file = dir.join("scenario.yaml");
    let source = match crate::input::read_text(&scenario_file, crate::limits::MAX_SCENARIO_BYTES) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: {} is not a run folder: failed to read {}: {e}",
                dir.display(),
                scenario_file.display()
            );
            return INVALID_INPUT;
        }
    };
    let scenario = match scenario::parse_str(&source) {
        Ok(s) => s,
        Err(problems) => {
            let e = ScenarioError {
                file: scenario_file,
                kind: ScenarioErrorKind::Invalid(problems),
            };
            eprintln!("error: {e}");
            return INVALID_INPUT;
        }
    };
    let history = match History::read(&dir.join("history.jsonl")) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID_INPUT;
        }
    };
    // A run compared with a baseline kept it in its folder.
    let kept = dir.join(runner::BASELINE_FILE);
    let baseline = if kept.exists() {
        match check::Baselines::load(&kept) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID_INPUT;
            }
        }
    } else {
        None
    };
    // By the name the run had, from its history: runs of sweeps from
    // before combinations were printed hold the sweep's scenario.yaml.
    let name = history
        .header()
        .map_or_else(|| scenario.name.value.clone(), |h| h.0.to_string());
    let (report, written) =
        report::judge_and_write(dir, &scenario, &history, baseline.as_ref(), &name);
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ENVIRONMENT;
    }
    print!("{}", report::summary(&report));
    if report.verdict == check::Verdict::Pass {
        PASS
    } else {
        CHECK_FAILED
    }
}

fn cluster_up(
    nodes: Option<u32>,
    task_cap: Option<u32>,
    like: Option<&Path>,
    naming: NodeNaming,
    out: &Path,
    ready_file: Option<&Path>,
) -> u8 {
    // Checked before anything starts.
    let ready = match ready_file.map(control::ReadyFile::prepare).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID_INPUT;
        }
    };
    let mut spec = match like {
        Some(file) => match scenario::load(file) {
            Ok(l) => l.scenario.cluster,
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID_INPUT;
            }
        },
        None => scenario::Cluster::default(),
    };
    if let Some(n) = nodes {
        if n == 0 || n > MAX_NODES {
            eprintln!("error: --nodes must be from 1 to {MAX_NODES}, not {n}");
            return INVALID_INPUT;
        }
        spec.nodes.value = n;
    }
    if let Some(cap) = task_cap {
        spec.task_cap = cap;
    }
    // Polling listeners too, so the cluster is a whole target: doctor
    // probes them and a fleet can poll them.
    if spec.polling.is_none() {
        spec.polling = Some(scenario::PollingListeners {
            layout: scenario::spanned(scenario::PollingLayout::UniqueAddress),
            poll_wait: scenario::spanned("30s".parse().expect("a valid duration")),
            pickup_timeout: scenario::spanned("2m".parse().expect("a valid duration")),
        });
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        // Caught from the start: a signal before the handler is in place
        // would end the process at once and leave the socket and PID files.
        let stop = runner::interrupts();
        let dir = match cluster_folder(out, "cluster-up") {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
        let key_file = dir.join("api-key");
        // Whatever way this ends, the files that only a running cluster
        // may have go with it.
        let mut tidy = control::Tidy::new(&dir, &key_file, ready);
        let key = match ApiKey::generate() {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
        // The key goes to a file only the user can read, never to the
        // terminal or a log.
        if let Err(e) = write_private(&key_file, key.expose()) {
            eprintln!("error: failed to write {}: {e}", key_file.display());
            return ENVIRONMENT;
        }
        let (events, mut rx) = Events::channel(Clock::start());
        let cluster = match EmbeddedCluster::boot(&spec, naming, &dir, key, events).await {
            Ok(c) => std::sync::Arc::new(c),
            Err(e) => {
                eprintln!("error: the embedded cluster did not boot: {e}");
                return ENVIRONMENT;
            }
        };
        let lb = cluster.lb_url();
        let control = match control::listen(&dir) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
        let pids = cluster.pids();
        for (name, pid) in &pids {
            if let Err(e) = control::write_pid(&dir, name, *pid) {
                eprintln!("error: failed to write {name}'s process ID: {e}");
                return ENVIRONMENT;
            }
        }
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("harness"));
        let target_file = dir.join("target.yaml");
        if let Err(e) = std::fs::write(&target_file, control::target_yaml(&cluster, &dir, &exe)) {
            eprintln!("error: failed to write {}: {e}", target_file.display());
            return ENVIRONMENT;
        }
        if stop.borrow().is_some() {
            // Interrupted while it booted: it was never ready.
            cluster.shutdown();
            drop(tidy);
            println!("cluster stopped");
            return PASS;
        }
        if let Some(ready) = tidy.ready()
            && let Err(e) = ready.write(&target_file, &key_file, &dir)
        {
            eprintln!("error: {e}");
            cluster.shutdown();
            return ENVIRONMENT;
        }
        let pid = |name: &str| pids.iter().find(|(n, _)| n == name).map_or(0, |(_, p)| *p);
        println!("embedded cluster up in {:.2}s; files in {}", cluster.boot_time().as_secs_f64(), dir.display());
        println!("  lb  {lb} pid {}", pid(crate::history::LB_NAME));
        for n in cluster.nodes() {
            println!(
                "  {:<3} {} pid {}  Name {}  Id {}",
                n.key(),
                n.url(),
                pid(n.key()),
                n.cluster_name(),
                n.id()
            );
        }
        println!("API key: in {} (not printed)", key_file.display());
        println!("target file: {}", target_file.display());
        println!("  {TARGET_KEY_ENV}=$(cat {}) harness doctor --target {}", key_file.display(), target_file.display());
        println!("try:");
        println!("  curl -i {lb}/api/octopusservernodes/ping");
        println!("  curl -H \"X-Octopus-ApiKey: $(cat {})\" {lb}/api/octopusservernodes", key_file.display());
        println!("Ctrl-C stops the cluster.");
        // Boot's own events are the lines above.
        while rx.try_recv().is_ok() {}
        let starting = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(Event::LbHealth { node, healthy, .. }) => {
                        println!("lb: {node} {}", if healthy { "back in rotation" } else { "out of rotation" });
                    }
                    Some(Event::NodeUp { node, pid: Some(pid), .. }) => {
                        println!("{node} started, pid {pid}");
                        if let Err(e) = control::write_pid(&dir, &node, pid) {
                            eprintln!("error: failed to write {node}'s process ID: {e}");
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
                conn = control.accept() => {
                    // Each request on its own, so a slow start holds up
                    // neither Ctrl-C nor another node's start.
                    if let Ok((stream, _)) = conn {
                        let (cluster, dir, starting) = (cluster.clone(), dir.clone(), starting.clone());
                        tokio::spawn(async move {
                            control::serve(&cluster, &dir, &starting, stream).await
                        });
                    }
                }
                _ = runner::interrupted(stop.clone()) => break,
            }
        }
        cluster.shutdown();
        drop(tidy);
        println!("cluster stopped");
        PASS
    })
}

fn containers_up(
    nodes: u32,
    task_cap: u32,
    octopus_tag: String,
    licence_env: &str,
    out: &Path,
) -> u8 {
    use crate::containers::{ContainerConfig, Secrets};
    if nodes == 0 || nodes > MAX_NODES {
        eprintln!("error: --nodes must be from 1 to {MAX_NODES}, not {nodes}");
        return INVALID_INPUT;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        // Docker first: without it nothing else matters.
        if let Err(e) = crate::containers::docker_answers().await {
            eprintln!("error: {e}");
            return ENVIRONMENT;
        }
        let licence = std::env::var(licence_env).ok().filter(|l| !l.trim().is_empty());
        if nodes > 1 && licence.is_none() {
            eprintln!(
                "error: a cluster of {nodes} nodes needs an Octopus HA licence: put it, base64, in {licence_env}"
            );
            return INVALID_INPUT;
        }
        // Published later by the engine: chosen where no outgoing
        // connection takes them meanwhile.
        let ports = crate::cluster::free_ports(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            1 + 2 * nodes as usize,
        )
        .map(|p| (p[0], p[1..].chunks(2).map(|c| (c[0], c[1])).collect::<Vec<_>>()));
        let (Ok((lb_port, node_ports)), Ok(secrets)) = (ports, Secrets::generate()) else {
            eprintln!("error: no free ports or no randomness for the cluster");
            return ENVIRONMENT;
        };
        let dir = match cluster_folder(out, "containers-up") {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
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
        if let Err(e) = write_private(&key_file, cfg.secrets.api_key.expose()) {
            eprintln!("error: failed to write {}: {e}", key_file.display());
            return ENVIRONMENT;
        }
        println!("starting SQL Server, {nodes} Octopus nodes and HAProxy (network {})", cfg.network());
        let stop = runner::interrupts();
        let running = tokio::select! {
            r = tokio::time::timeout(CONTAINERS_UP_WITHIN, crate::containers::up(&cfg)) => {
                r.unwrap_or_else(|_| Err(format!(
                    "not up within {}",
                    humantime::format_duration(CONTAINERS_UP_WITHIN)
                )))
            }
            _ = runner::interrupted(stop.clone()) => Err("interrupted".to_string()),
        };
        let running = match running {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: the containerized cluster did not come up: {e}");
                // The containers started go as their handles drop (up()
                // has returned); the volumes and the key file do not.
                let volumes: Vec<String> = cfg.volumes().into_iter().map(|(v, _)| v).collect();
                for e in crate::containers::remove_volumes(&volumes).await {
                    eprintln!("harness: containers: {e}");
                }
                let _ = std::fs::remove_file(&key_file);
                return ENVIRONMENT;
            }
        };
        let target_file = dir.join("target.yaml");
        let mut code = PASS;
        if let Err(e) = std::fs::write(&target_file, cfg.target_yaml(&running.ids, TARGET_KEY_ENV)) {
            eprintln!("error: failed to write {}: {e}", target_file.display());
            code = ENVIRONMENT;
        }
        println!("containerized cluster up; LB http://127.0.0.1:{}", cfg.lb_port);
        println!("API key: in {} (not printed)", key_file.display());
        println!("target file: {}", target_file.display());
        println!("Ctrl-C removes the containers and their volumes.");
        if code == PASS {
            let _ = runner::interrupted(stop).await;
        }
        let errors = running.remove().await;
        for e in &errors {
            eprintln!("harness: containers: {e}");
        }
        let _ = std::fs::remove_file(&key_file);
        if errors.is_empty() {
            println!("containers removed");
        } else {
            code = ENVIRONMENT;
        }
        code
    })
}

/// A new folder `<out>/<name>/<timestamp>/` for `cluster up` or
/// `containers up`, as an absolute path: the target file written there
/// names files in it, and must work from any folder. `<out>/latest` is
/// left alone, as it names the last scenario run (README, "What a run
/// leaves behind").
fn cluster_folder(out: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = runner::create_dir(out, name).map_err(|e| e.to_string())?;
    std::fs::canonicalize(&dir)
        .map_err(|e| format!("failed to find the absolute path of {}: {e}", dir.display()))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every description starts in the same column, however long the
    /// longest kind (`every_node_reaches_every_tentacle`). See: issue 17.
    #[test]
    fn r17_list_sizes_its_column_to_the_longest_name() {
        let text = list_text(KINDS);
        let longest = KINDS.iter().map(|(_, k, _)| k.len()).max().unwrap();
        assert!(longest > 27, "the test needs a name past the old column");
        let mut rows = 0;
        for (_, kind, what) in KINDS {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{kind} ")))
                .unwrap_or_else(|| panic!("{kind} missing:\n{text}"));
            // Two spaces of indent, the column, two spaces, the description.
            assert_eq!(line.find(what), Some(2 + longest + 2), "{line:?}");
            assert_eq!(&line[2..2 + kind.len()], *kind);
            rows += 1;
        }
        assert_eq!(rows, KINDS.len());
    }
}
