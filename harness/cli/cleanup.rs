//! `harness cleanup`: removes what a run left on a real cluster, found by
//! its run ID.

use crate::args::CleanupArgs;
use crate::shared::{runtime, target_and_key};
use harness::cleanup::{self, Leftovers};
use harness::client::ApiClient;
use harness::exit::{Failure, Outcome};
use harness::limits::CLEANUP_COMMAND_WITHIN;

pub(crate) fn cleanup(a: CleanupArgs) -> Result<Outcome, Failure> {
    if !cleanup::valid_run_id(&a.run_id) {
        return Err(Failure::invalid(format!(
            "--run-id: {:?} is not a run ID (8 hexadecimal digits, as in the report's cleanup.run_id)",
            a.run_id
        )));
    }
    let (target, key) = target_and_key(&a.target)?;
    let api = ApiClient::with_trust(&target.lb.value, key, &target.trust())
        .map_err(|e| Failure::invalid(format!("{}: {e}", a.target.display())))?;
    let rt = runtime()?;
    let work = async {
        // Each kind on its own: one that cannot be listed (a cluster
        // without that API) is reported, and the others are still done.
        let left = cleanup::find(&api, &a.run_id).await;
        println!(
            "run {} left {} on {}",
            a.run_id,
            left.counts(),
            target.name.value
        );
        if a.dry_run {
            return list(&left);
        }
        let outcomes = cleanup::remove(&api, &left, |line| println!("  {line}")).await;
        for o in &outcomes {
            println!("{}", o.line());
        }
        outcomes.iter().all(|o| o.ok())
    };
    match rt.block_on(async { tokio::time::timeout(CLEANUP_COMMAND_WITHIN, work).await }) {
        Ok(true) => Ok(Outcome::Pass),
        Ok(false) => Err(Failure::environment(
            "not everything could be listed or removed (see FAILED above); run the command again",
        )),
        Err(_) => Err(Failure::environment(format!(
            "the clean-up did not end within {}",
            humantime::format_duration(CLEANUP_COMMAND_WITHIN)
        ))),
    }
}

/// `--dry-run`: lists what would be removed, and each kind that could not
/// be listed; true if every kind was.
fn list(left: &Leftovers) -> bool {
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
    failed.is_empty()
}
