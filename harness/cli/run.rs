//! `harness run`: scenarios run one after another, on the embedded cluster
//! or a target, each judged, with the reports written where asked.

use std::path::{Path, PathBuf};

use crate::args::RunArgs;
use crate::shared::{Runtime, runtime, write_outputs};
use harness::check;
use harness::exit::{Failure, Kind, Outcome};
use harness::report::{self, Report};
use harness::runner::{self, RunOptions, ShardPlan};
use harness::scenario::{self, LoadedScenario, ScenarioError, ScenarioErrorKind};
use harness::target::TargetFile;
use harness::vocab::Shard;

pub(crate) fn run(args: RunArgs) -> Result<Outcome, Failure> {
    for t in args.tags.iter().chain(&args.skip_tags) {
        if !scenario::is_tag(t) {
            return Err(Failure::invalid(format!(
                "{t:?} is not a tag (1 to 32 lower-case letters, digits or '-')"
            )));
        }
    }
    let (loaded, target) = match &args.target {
        Some(file) => {
            let (l, t) = prepare_target(&args, file)?;
            (l, Some(t))
        }
        None => (load_all(&args.scenarios)?, None),
    };
    let mut loaded = select_by_tags(loaded, &args.tags, &args.skip_tags)?;
    if target.is_none() {
        refuse_on_embedded(&loaded)?;
    }
    if target.is_some()
        && let Some(l) = loaded.iter().find(|l| l.scenario.sweep.is_some())
    {
        return Err(Failure::invalid(format!(
            "{}: a sweep runs on the embedded cluster only, where node counts and sizes can change; leave out --target",
            l.file.display()
        )));
    }
    let baseline = match &args.baseline {
        Some(path) => {
            Some(check::Baselines::load(path).map_err(|e| Failure::invalid(e.to_string()))?)
        }
        None => {
            note_unjudged_regressions(&loaded);
            None
        }
    };
    if args.time_limit.is_some_and(|t| t.get().is_zero()) {
        return Err(Failure::invalid("--time-limit must be longer than 0s"));
    }
    // Last of the checks: shard 0 publishes the start only once
    // everything else about the run was accepted.
    let shard = shard_plan(&args, &loaded, target.is_some())?;
    let rt = runtime()?;
    let opts = RunOptions {
        out: args.out.clone(),
        seed: args.seed,
        progress: true,
        target,
        baseline,
        time_limit: args.time_limit.map(|d| d.get()),
        shard,
    };
    if let Some(engine) = args.lb {
        for l in &mut loaded {
            l.scenario.cluster.lb.engine = engine;
            // Some settings need what only some LBs do (L4 polling ports).
            if let Err(problems) = scenario::validate(&l.scenario) {
                let e = ScenarioError {
                    file: l.file.clone(),
                    kind: ScenarioErrorKind::Invalid(problems),
                };
                return Err(Failure::invalid(format!("with --lb: {e}")));
            }
        }
    }
    let (reports, environment_failed) = run_each(&rt, &loaded, &opts);
    write_outputs(args.json.as_deref(), args.junit.as_deref(), &reports)?;
    if environment_failed {
        // Each scenario's error was said as it ended.
        Err(Failure::said(Kind::Environment))
    } else if opts.shard.is_some() {
        // A shard judges nothing: it ran and recorded its slice.
        Ok(Outcome::of(true))
    } else {
        Ok(Outcome::of(
            reports.iter().all(|r| r.verdict == check::Verdict::Pass),
        ))
    }
}

/// What this process runs by when it is a shard of a split run (--shard
/// or --shards): its index, and the start and run ID every shard agrees
/// on, waiting for the conductor's start where none was given. None when
/// the run is not split.
fn shard_plan(
    args: &RunArgs,
    loaded: &[LoadedScenario],
    on_target: bool,
) -> Result<Option<ShardPlan>, Failure> {
    let shard = match (&args.shard, args.shards) {
        (Some(text), _) => {
            Shard::parse(text).map_err(|e| Failure::invalid(format!("--shard: {e}")))?
        }
        (None, Some(count)) => {
            let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                Failure::invalid("--shards: JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it in each pod; elsewhere give --shard I/N)")
            })?;
            Shard::parse(&format!("{}/{count}", index.trim()))
                .map_err(|e| Failure::invalid(format!("--shards with JOB_COMPLETION_INDEX: {e}")))?
        }
        (None, None) => return Ok(None),
    };
    if !shard.is_split() {
        return Err(Failure::invalid(format!(
            "--shard {shard}: a split run has 2 shards or more; without --shard a run is one process"
        )));
    }
    if !on_target {
        return Err(Failure::invalid(
            "--shard needs --target: every shard drives one cluster, which the embedded default would start anew in each",
        ));
    }
    let [one] = loaded else {
        return Err(Failure::invalid(format!(
            "--shard runs one scenario; {} were given",
            loaded.len()
        )));
    };
    let problems = scenario::shard_problems(&one.scenario, shard.count);
    if !problems.is_empty() {
        let e = ScenarioError {
            file: one.file.clone(),
            kind: ScenarioErrorKind::Invalid(problems),
        };
        return Err(Failure::invalid(e.to_string()));
    }
    if let Some(id) = &args.run_id
        && !harness::cleanup::valid_run_id(id)
    {
        return Err(Failure::invalid(format!(
            "--run-id: {id:?} is not a run ID (8 hexadecimal digits)"
        )));
    }
    let name = &one.scenario.name.value;
    let (start, run_id) = match (&args.start_at, &args.run_id) {
        (Some(text), id) => {
            // `Z` or an offset, as `date -Iseconds` writes it.
            let start = harness::history::parse_server_time(text)
                .and_then(|us| u64::try_from(us).ok())
                .map(|us| std::time::UNIX_EPOCH + std::time::Duration::from_micros(us))
                .ok_or_else(|| {
                    Failure::invalid(format!(
                        "--start-at: {text:?} is not an RFC 3339 time such as 2026-12-07T21:00:00Z or 2026-12-07T22:00:00+01:00"
                    ))
                })?;
            let id = id
                .clone()
                .unwrap_or_else(|| runner::derived_run_id(name, start));
            (start, id)
        }
        (None, None) => {
            return Err(Failure::invalid(
                "a split run needs --start-at, or --run-id for shard 0 to publish the start under --out",
            ));
        }
        (None, Some(id)) => {
            let folder = runner::run_folder(&args.out, name, id);
            let start = if shard.is_conductor() {
                runner::publish_start(&folder, args.start_lead.get())
            } else {
                eprintln!(
                    "shard {shard}: waiting for shard 0 to publish the start in {}",
                    folder.display()
                );
                runner::await_start(&folder, harness::limits::SHARD_START_WAIT)
            };
            (start.map_err(Failure::environment)?, id.clone())
        }
    };
    eprintln!(
        "shard {shard} of run {run_id}: starts at {}",
        humantime::format_rfc3339_millis(start)
    );
    Ok(Some(ShardPlan {
        shard,
        start,
        run_id,
    }))
}

/// The faults the embedded cluster cannot inject, each scenario's said
/// with its file, line and column; a failure if there are any.
fn refuse_on_embedded(loaded: &[LoadedScenario]) -> Result<(), Failure> {
    let mut bad = false;
    for l in loaded {
        let problems = harness::target::embedded_problems(&l.scenario);
        if !problems.is_empty() {
            let e = ScenarioError {
                file: l.file.clone(),
                kind: ScenarioErrorKind::Invalid(problems),
            };
            eprintln!("error: on the embedded cluster: {e}");
            bad = true;
        }
    }
    if bad {
        Err(Failure::said(Kind::InvalidInput))
    } else {
        Ok(())
    }
}

/// Without --baseline, a scenario's no_regression check is not judged:
/// said on stderr for each scenario that declares one.
fn note_unjudged_regressions(loaded: &[LoadedScenario]) {
    for l in loaded {
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
}

/// Runs each scenario (or sweep) in turn, printing each summary and each
/// error; stops after one that was interrupted. The reports, and whether
/// any run failed for the environment's or the harness's sake.
fn run_each(rt: &Runtime, loaded: &[LoadedScenario], opts: &RunOptions) -> (Vec<Report>, bool) {
    let mut reports: Vec<Report> = Vec::new();
    let mut environment_failed = false;
    for l in loaded {
        let interrupted = if l.scenario.sweep.is_some() {
            match rt.block_on(runner::run_sweep(l, opts)) {
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
            }
        } else {
            match rt.block_on(runner::run(l, opts)) {
                Ok(result) if opts.shard.is_some() => {
                    println!(
                        "shard recorded in {}; `harness merge` with every shard's folder judges the run",
                        result.dir.display()
                    );
                    reports.push(result.report);
                    false
                }
                Ok(result) => {
                    print!("\n{}", report::summary(&result.report));
                    println!("run folder: {}", result.dir.display());
                    reports.push(result.report);
                    false
                }
                Err(mut e) => {
                    eprintln!("error: scenario {}: {e}", l.file.display());
                    environment_failed = true;
                    // A run stopped early still has a report: --json and
                    // --junit get it, so CI shows what was cut.
                    reports.extend(e.report.take().map(|r| *r));
                    e.interrupted
                }
            }
        };
        if interrupted {
            break;
        }
    }
    (reports, environment_failed)
}

/// `run --target`: the scenarios are validated with the target's node
/// names, their faults checked against the target's commands, and their
/// disruptive steps refused unless allowed, before anything reaches the
/// target.
fn prepare_target(
    args: &RunArgs,
    file: &Path,
) -> Result<(Vec<LoadedScenario>, TargetFile), Failure> {
    let target = harness::target::load(file).map_err(|e| Failure::invalid(e.to_string()))?;
    if args.lb.is_some() {
        return Err(Failure::invalid(
            "--lb chooses the embedded cluster's LB; a target brings its own",
        ));
    }
    // The package, machine and task paths are the default space's.
    if target.space.value != reference_cluster::api::SPACE_ID {
        let problem = scenario::Problem::at(
            &target.space.referenced,
            "space",
            format!(
                "runs work in {} only for now, not {}",
                reference_cluster::api::SPACE_ID,
                target.space.value
            ),
        );
        let e = harness::target::TargetError::Invalid(file.to_path_buf(), vec![problem]);
        return Err(Failure::invalid(e.to_string()));
    }
    let (all, disruptive) = fit_to_target(args, &target, file)?;
    if !disruptive.is_empty() && !args.allow_disruptive {
        let mut message = format!(
            "refusing to disrupt {} ({}) without --allow-disruptive; these steps would:",
            target.name.value,
            file.display()
        );
        for d in &disruptive {
            message.push_str("\n  ");
            message.push_str(d);
        }
        return Err(Failure::invalid(message));
    }
    if let Err(e) = target.api_key() {
        return Err(Failure::invalid(format!("{}: {e}", file.display())));
    }
    eprintln!(
        "note: on {}, the scenarios' `cluster` sections are not applied: the cluster is as it is (`harness cluster up --like SCENARIO` starts one set up as a scenario says)",
        target.name.value
    );
    Ok((all, target))
}

/// Loads each scenario for the target, printing every error: the
/// scenarios, and their steps that would disrupt the target; a failure,
/// already said, if any scenario does not fit.
fn fit_to_target(
    args: &RunArgs,
    target: &TargetFile,
    file: &Path,
) -> Result<(Vec<LoadedScenario>, Vec<String>), Failure> {
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
        let lacking = harness::target::check_scenario(target, &loaded.scenario);
        if !lacking.is_empty() {
            let e = ScenarioError {
                file: f.clone(),
                kind: ScenarioErrorKind::Invalid(lacking),
            };
            eprintln!("error: for target {}: {e}", file.display());
            bad = true;
        }
        for step in harness::target::disruptive_steps(&loaded.scenario) {
            disruptive.push(format!("{}: {step}", f.display()));
        }
        all.push(loaded);
    }
    if bad {
        // Each scenario that does not fit was said as it came.
        return Err(Failure::said(Kind::InvalidInput));
    }
    Ok((all, disruptive))
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
) -> Result<Vec<LoadedScenario>, Failure> {
    let mut chosen = Vec::new();
    for l in loaded {
        match left_out_by_tags(&l.scenario, tags, skip) {
            Some(why) => eprintln!("skipped: {} ({why})", l.file.display()),
            None => chosen.push(l),
        }
    }
    if chosen.is_empty() {
        return Err(Failure::invalid(
            "no scenario is selected by --tags and --skip-tags",
        ));
    }
    Ok(chosen)
}

/// Loads every scenario, printing every error; a failure, already said,
/// if any is invalid.
fn load_all(files: &[PathBuf]) -> Result<Vec<LoadedScenario>, Failure> {
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
    if bad {
        Err(Failure::said(Kind::InvalidInput))
    } else {
        Ok(loaded)
    }
}
