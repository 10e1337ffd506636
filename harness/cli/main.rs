//! The `harness` binary, the command line and nothing else: the `Cli` and
//! `Command` types clap parses, and the dispatch from a command to the file
//! that runs it. It stands on the `harness` library (scenarios, runs,
//! checks, reports) and the `reference_cluster` library (the embedded
//! cluster and its child processes); neither knows it exists. Nothing else belongs
//! here: each command's body is in a file of its own (`run.rs`,
//! `validate.rs`, ...), its flags in `args.rs`, what several share in
//! `shared.rs`. Every command returns a `Result<Outcome, Failure>`
//! ([`harness::exit`]); [`main`] prints a failure's message and turns the
//! result into the exit code, here and nowhere else.

mod args;
mod child;
mod cleanup;
mod cluster;
mod containers;
mod doctor;
mod kube;
mod list;
mod merge;
mod package;
mod report;
mod run;
mod shared;
mod upload;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use args::{
    CleanupArgs, ClusterCommand, ContainersCommand, DoctorArgs, KubeArgs, MergeArgs, RunArgs,
    UploadArgs,
};
use harness::exit::{self, Failure, Outcome};
use harness::scenario;
use reference_cluster::supervisor::{EXEC_MODE, LB_MODE, NODE_MODE};

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
    /// Judge a split run as one: merge its shards' folders (each made by
    /// `run --shard`) into one run folder and judge every check once on
    /// the merged history. Exit 0 if the merged run passes, 1 if a check
    /// fails or a shard is missing or did not finish (the verdict is then
    /// unknown, naming it), 2 if the folders are not the shards of one run.
    Merge(MergeArgs),
    /// Write the Kubernetes manifests of a split run: a ConfigMap with the
    /// scenario and target file, an Indexed Job of --shards pods (each a
    /// shard, run once), and a Job that merges them; the API key from an
    /// existing Secret, by name (docs/shards.md).
    Kube(KubeArgs),
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

/// Parses the command line and runs it; returns the exit code.
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    shared::raise_open_file_limit();
    let result = dispatch(cli.command);
    if let Err(failure) = &result
        && let Some(message) = failure.message()
    {
        eprintln!("error: {message}");
    }
    std::process::ExitCode::from(exit::code(&result))
}

fn dispatch(command: Command) -> Result<Outcome, Failure> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Merge(args) => merge::merge(&args),
        Command::Kube(args) => kube::kube(&args),
        Command::Validate { scenarios } => validate::validate(&scenarios),
        Command::List => list::list(),
        Command::Cluster(ClusterCommand::Up {
            nodes,
            task_cap,
            like,
            node_names,
            out,
            ready_file,
        }) => cluster::up(&cluster::UpArgs {
            nodes,
            task_cap,
            like: like.as_deref(),
            naming: node_names.into(),
            out: &out,
            ready_file: ready_file.as_deref(),
        }),
        Command::Cluster(ClusterCommand::Start { dir, node }) => cluster::start(&dir, &node),
        Command::Cluster(ClusterCommand::Node(args)) => child::standalone(&args),
        Command::Cluster(ClusterCommand::Database { dir, verb }) => cluster::database(&dir, verb),
        Command::Cluster(ClusterCommand::Storage { dir, node, verb }) => {
            cluster::storage(&dir, &node, verb)
        }
        Command::Containers(ContainersCommand::Up {
            nodes,
            task_cap,
            like,
            stand_ins,
            octopus_tag,
            licence_env,
            out,
        }) => containers::up(&containers::UpArgs {
            nodes,
            task_cap,
            like: like.as_deref(),
            stand_ins,
            octopus_tag,
            licence_env: &licence_env,
            out: &out,
        }),
        Command::Containers(ContainersCommand::Images) => containers::images(),
        Command::Report { run_dir } => report::report(&run_dir),
        Command::Doctor(args) => doctor::doctor(args),
        Command::Cleanup(args) => cleanup::cleanup(args),
        Command::Upload(args) => upload::upload(args),
        Command::Package { size, seed } => package::package(size, seed),
        Command::Node => child::node(),
        Command::Lb => child::lb(),
        Command::Exec { program, args } => child::exec(&program, &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image the Dockerfile builds runs the harness as its entrypoint,
    /// as a user that is not root, and the containers of the manifests
    /// `harness kube` writes run that entrypoint with a command line the
    /// harness takes.
    #[test]
    fn the_kube_manifests_run_the_image_s_entrypoint_with_arguments_it_takes() {
        use harness::kube::{ENTRYPOINT, KubeRun, USER_ID};
        let dockerfile = include_str!("../../Dockerfile");
        let last = |word: &str| {
            dockerfile
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix(word))
                .map(str::trim)
                .unwrap_or_default()
        };
        let entrypoint: Vec<String> = serde_json::from_str(last("ENTRYPOINT ")).unwrap();
        assert_eq!(entrypoint, [ENTRYPOINT]);
        assert_eq!(last("USER "), format!("{USER_ID}:{USER_ID}"));
        let run = KubeRun {
            scenario: "failover".into(),
            scenario_text: String::new(),
            target_text: String::new(),
            ca_file: None,
            key_env: "OCTOPUS_API_KEY".into(),
            secret: ("s".into(), "k".into()),
            shards: 3,
            image: "harness:test".into(),
            run_id: "ab12cd34".into(),
            results_claim: "results".into(),
            namespace: None,
            deadline: std::time::Duration::from_secs(60),
            start_lead: std::time::Duration::from_secs(30),
        };
        let m = run.manifests();
        for job in [&m.shards, &m.merge] {
            let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
            let c = &pod.containers[0];
            assert_eq!(c.command.as_deref(), Some(&[ENTRYPOINT.to_string()][..]));
            let line = std::iter::once("harness".to_string()).chain(c.args.clone().unwrap());
            let cli = Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{e}"));
            match (&cli.command, c.name.as_str()) {
                (Command::Run(a), "shard") => {
                    assert_eq!(a.shards, Some(3));
                    assert_eq!(a.run_id.as_deref(), Some("ab12cd34"));
                    assert!(a.allow_disruptive && a.target.is_some());
                }
                (Command::Merge(a), "merge") => {
                    assert_eq!(a.shards, [PathBuf::from("/results/failover/ab12cd34")]);
                }
                (other, name) => panic!("{name} runs {other:?}"),
            }
        }
    }
}
