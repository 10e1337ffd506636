//! `harness kube`: the manifests of a split run on Kubernetes, written to
//! a folder with the commands that apply them (docs/shards.md, "On
//! Kubernetes"). Nothing is sent to a cluster, and no API key is read.

use std::path::Path;

use crate::args::KubeArgs;
use harness::exit::{Failure, Outcome};
use harness::kube::KubeRun;
use harness::scenario::{self, Problem, ScenarioError, ScenarioErrorKind};
use harness::target::{TargetError, TargetFile};

pub(crate) fn kube(args: &KubeArgs) -> Result<Outcome, Failure> {
    let target =
        harness::target::load(&args.target).map_err(|e| Failure::invalid(e.to_string()))?;
    let target_text = read(&args.target, harness::limits::MAX_TARGET_BYTES)?;
    let names: Vec<String> = target
        .nodes
        .iter()
        .map(|n| n.value.name.value.clone())
        .collect();
    let loaded = scenario::load_for_nodes(&args.scenario, Some(&names))
        .map_err(|e| Failure::invalid(e.to_string()))?;
    let s = &loaded.scenario;
    let mut problems = harness::target::check_scenario(&target, s);
    problems.extend(scenario::shard_problems(s, args.shards));
    if !problems.is_empty() {
        let e = ScenarioError {
            file: args.scenario.clone(),
            kind: ScenarioErrorKind::Invalid(problems),
        };
        return Err(Failure::invalid(format!(
            "for target {}: {e}",
            args.target.display()
        )));
    }
    let disruptive = harness::target::disruptive_steps(s);
    if !disruptive.is_empty() && !args.allow_disruptive {
        return Err(Failure::invalid(format!(
            "refusing to write manifests that disrupt {} without --allow-disruptive; these steps would:\n  {}",
            target.name.value,
            disruptive.join("\n  ")
        )));
    }
    if !(2..=harness::vocab::Shard::MAX).contains(&args.shards) {
        return Err(Failure::invalid(format!(
            "--shards: {} is not from 2 to {}",
            args.shards,
            harness::vocab::Shard::MAX
        )));
    }
    let run_id = match &args.run_id {
        Some(id) if harness::cleanup::valid_run_id(id) => id.clone(),
        Some(id) => {
            return Err(Failure::invalid(format!(
                "--run-id: {id:?} is not a run ID (8 hexadecimal digits)"
            )));
        }
        None => getrandom::u32()
            .map(|n| format!("{n:08x}"))
            .map_err(|e| Failure::environment(format!("failed to draw a run ID: {e}")))?,
    };
    let lead = args.start_lead.get();
    let run = KubeRun {
        scenario: s.name.value.clone(),
        scenario_text: loaded.source.clone(),
        ca_file: ca_file(&args.target, &target)?,
        target_text,
        key_env: target.api_key_env.value.clone(),
        secret: (args.secret.clone(), args.secret_key.clone()),
        shards: args.shards,
        image: args.image.clone(),
        run_id,
        results_claim: args.results_claim.clone(),
        namespace: args.namespace.clone(),
        deadline: args.deadline.map_or_else(
            || harness::runner::time_limit(s) + lead + harness::limits::SHARD_START_WAIT,
            |d| d.get(),
        ),
        start_lead: lead,
    };
    write(args, &run)?;
    Ok(Outcome::of(true))
}

/// The CA file the target file names, to carry beside it in the
/// ConfigMap: its name as written (a bare file name, as the ConfigMap's
/// files sit in one folder) and its text.
fn ca_file(file: &Path, target: &TargetFile) -> Result<Option<(String, String)>, Failure> {
    let Some(loaded) = &target.tls.ca_file else {
        return Ok(None);
    };
    // The name as written: the loader put the target file's folder before it.
    let base = file.parent().unwrap_or(Path::new(""));
    let written = Path::new(&loaded.value)
        .strip_prefix(base)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| loaded.value.clone());
    let bare = !written.is_empty() && !written.contains('/') && written != "." && written != "..";
    if !bare {
        let problem = Problem::at(
            &loaded.referenced,
            "tls.ca_file",
            format!(
                "{written:?} is carried into the pods only as a file beside the target file: name it by its file name alone, or pin the certificate with tls.thumbprint"
            ),
        );
        return Err(Failure::invalid(
            TargetError::Invalid(file.to_path_buf(), vec![problem]).to_string(),
        ));
    }
    let ca = read(Path::new(&loaded.value), harness::limits::MAX_TARGET_BYTES)?;
    Ok(Some((written, ca)))
}

fn read(path: &Path, limit: u64) -> Result<String, Failure> {
    harness::input::read_text(path, limit)
        .map_err(|e| Failure::invalid(format!("failed to read {}: {e}", path.display())))
}

/// Writes the shards' and the merge's manifests into `--out`, and says how
/// to run them.
fn write(args: &KubeArgs, run: &KubeRun) -> Result<(), Failure> {
    let manifests = run.manifests();
    let name = run.name();
    let shards = args.out.join(format!("{name}.yaml"));
    let merge = args.out.join(format!("{name}-merge.yaml"));
    let failed = |path: &Path, e: String| {
        Failure::environment(format!("failed to write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(&args.out).map_err(|e| failed(&args.out, e.to_string()))?;
    let text = manifests.shards_yaml().map_err(|e| failed(&shards, e))?;
    std::fs::write(&shards, text).map_err(|e| failed(&shards, e.to_string()))?;
    let text = manifests.merge_yaml().map_err(|e| failed(&merge, e))?;
    std::fs::write(&merge, text).map_err(|e| failed(&merge, e.to_string()))?;
    let ns = run
        .namespace
        .as_ref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    println!(
        "run {} in {} shards; the manifests:",
        run.run_id, run.shards
    );
    println!(
        "  {}  the scenario and target file, and the shards' Indexed Job",
        shards.display()
    );
    println!(
        "  {}  the merge, once the shards' Job has ended",
        merge.display()
    );
    let place = run
        .namespace
        .as_ref()
        .map(|n| format!(", in the namespace {n}"))
        .unwrap_or_default();
    println!(
        "needs: the Secret {} with the key {}, and the ReadWriteMany claim {}{place}",
        run.secret.0, run.secret.1, run.results_claim
    );
    println!("run:");
    println!("  kubectl{ns} apply -f {}", shards.display());
    println!(
        "  kubectl{ns} wait --for=condition=complete --timeout={}s job/{name}",
        run.deadline.as_secs()
    );
    println!("  kubectl{ns} apply -f {}", merge.display());
    println!("  kubectl{ns} wait --for=condition=complete --timeout=600s job/{name}-merge");
    println!("  kubectl{ns} logs job/{name}-merge");
    Ok(())
}
