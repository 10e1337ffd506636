//! The command line: `run`, `validate`, `list`, `cluster up`, `report`, and
//! the hidden modes in which the binary runs as a node or as the LB. Each
//! command returns an exit code from [`crate::exit`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::check;
use crate::client::ApiKey;
use crate::cluster::supervisor::{child_config, child_guard};
use crate::cluster::{EmbeddedCluster, lb, node};
use crate::exit::{CHECK_FAILED, ENVIRONMENT, INVALID_INPUT, PASS};
use crate::history::{Clock, Event, Events, History};
use crate::report::{self, Report};
use crate::runner::{self, RunOptions};
use crate::scenario::{self, KINDS, LoadedScenario, MAX_NODES, ScenarioError, ScenarioErrorKind};

/// The hidden argument that runs the binary as an Octopus node.
pub const NODE_MODE: &str = "__node";
/// The hidden argument that runs the binary as the load balancer.
pub const LB_MODE: &str = "__lb";

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
    /// Re-render a finished run from its folder: judge its history again and
    /// rewrite report.json and junit.xml.
    Report {
        /// A run folder, such as runs/latest.
        run_dir: PathBuf,
    },
    #[command(name = NODE_MODE, hide = true)]
    Node,
    #[command(name = LB_MODE, hide = true)]
    Lb,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files, run one after another.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// A target file describing an existing cluster (not available yet:
    /// only the embedded cluster runs scenarios today).
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
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
    /// Seed for every random choice, instead of the scenario's or a random
    /// one.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start the embedded cluster in the foreground, print its endpoints and
    /// run until Ctrl-C.
    Up {
        /// Number of nodes.
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        /// Each node's task cap (MaxConcurrentTasks).
        #[arg(long, default_value_t = 5)]
        task_cap: u32,
        /// Folder under which the cluster's files go (cluster-up/<timestamp>/).
        #[arg(long, value_name = "DIR", default_value = "runs")]
        out: PathBuf,
    },
}

/// Parses the command line and runs it; returns the exit code.
pub fn main() -> u8 {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => list(),
        Command::Cluster(ClusterCommand::Up {
            nodes,
            task_cap,
            out,
        }) => cluster_up(nodes, task_cap, &out),
        Command::Report { run_dir } => report_cmd(&run_dir),
        Command::Node => child(|key| {
            if key.is_empty() {
                return Err("no API key on stdin".into());
            }
            node::main(child_config()?, key)
        }),
        Command::Lb => child(|_| lb::main(child_config()?)),
    }
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

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: failed to start the async runtime: {e}");
            ENVIRONMENT
        })
}

/// Loads every scenario, printing every error; Err if any is invalid.
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

fn validate(files: &[PathBuf]) -> u8 {
    match load_all(files) {
        Ok(loaded) => {
            for l in loaded {
                let s = &l.scenario;
                println!(
                    "ok: {} ({}: {} nodes, {} faults, {} checks, {})",
                    l.file.display(),
                    s.name.value,
                    s.cluster.nodes.value,
                    s.faults.len(),
                    s.checks.len(),
                    s.duration.value
                );
            }
            PASS
        }
        Err(code) => code,
    }
}

fn list() -> u8 {
    let mut out = std::io::stdout().lock();
    let mut section = "";
    for (sec, kind, what) in KINDS {
        if *sec != section {
            let _ = writeln!(out, "{}{sec}s", if section.is_empty() { "" } else { "\n" });
            section = sec;
        }
        let _ = writeln!(out, "  {kind:<27} {what}");
    }
    PASS
}

fn run(args: RunArgs) -> u8 {
    if let Some(target) = &args.target {
        eprintln!(
            "error: --target {}: target files are not supported yet; leave out --target to run on the embedded cluster",
            target.display()
        );
        return INVALID_INPUT;
    }
    let loaded = match load_all(&args.scenarios) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let opts = RunOptions {
        out: args.out.clone(),
        seed: args.seed,
        progress: true,
    };
    let mut reports: Vec<Report> = Vec::new();
    let mut environment_failed = false;
    for l in &loaded {
        match rt.block_on(runner::run(l, &opts)) {
            Ok(result) => {
                print!("\n{}", report::summary(&result.report));
                println!("run folder: {}", result.dir.display());
                reports.push(result.report);
            }
            Err(e) => {
                eprintln!("error: scenario {}: {e}", l.file.display());
                environment_failed = true;
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
    let scenario_file = dir.join("scenario.yaml");
    let source = match std::fs::read_to_string(&scenario_file) {
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
    let report = report::build(&history, check::run_all(&scenario, &history));
    if let Err(e) = runner::write_report(dir, &report) {
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

fn cluster_up(nodes: u32, task_cap: u32, out: &Path) -> u8 {
    if nodes == 0 || nodes > MAX_NODES {
        eprintln!("error: --nodes must be from 1 to {MAX_NODES}, not {nodes}");
        return INVALID_INPUT;
    }
    let mut spec = scenario::Cluster::default();
    spec.nodes.value = nodes;
    spec.task_cap = task_cap;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let dir = match runner::create_run_dir(out, "cluster-up") {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
        let key = match ApiKey::generate() {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e}");
                return ENVIRONMENT;
            }
        };
        // The key goes to a file only the user can read, never to the
        // terminal or a log.
        let key_file = dir.join("api-key");
        if let Err(e) = write_private(&key_file, key.expose()) {
            eprintln!("error: failed to write {}: {e}", key_file.display());
            return ENVIRONMENT;
        }
        let (events, mut rx) = Events::channel(Clock::start());
        let cluster = match EmbeddedCluster::boot(&spec, &dir, key, events).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: the embedded cluster did not boot: {e}");
                return ENVIRONMENT;
            }
        };
        let lb = cluster.lb_url();
        println!("embedded cluster up in {:.2}s; files in {}", cluster.boot_time().as_secs_f64(), dir.display());
        println!("  lb  {lb}");
        for n in cluster.nodes() {
            println!("  {:<3} {}", n.name(), n.url());
        }
        println!("API key: in {} (not printed)", key_file.display());
        println!("try:");
        println!("  curl -i {lb}/api/octopusservernodes/ping");
        println!("  curl -H \"X-Octopus-ApiKey: $(cat {})\" {lb}/api/octopusservernodes", key_file.display());
        println!("Ctrl-C stops the cluster.");
        let stop = runner::interrupts();
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(Event::LbHealth { node, healthy, .. }) => {
                        println!("lb: {node} {}", if healthy { "back in rotation" } else { "out of rotation" });
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = runner::interrupted(stop.clone()) => break,
            }
        }
        cluster.shutdown();
        let _ = std::fs::remove_file(&key_file);
        println!("cluster stopped");
        PASS
    })
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
