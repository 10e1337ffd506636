//! The runner: one scenario, start to finish, in fixed phases.
//!
//! 1. **boot**: make the run folder, start the recorder, boot the embedded
//!    cluster (or, on a real target, see that every node and the LB answer
//!    ping) and wait for every node's ping.
//! 2. **warm-up**: start the background load; its requests are recorded
//!    but not judged.
//! 3. **workload**: the load goes on, tasks are submitted, and the
//!    scheduled faults are injected and undone at their times (a
//!    maintenance runs its steps alongside).
//! 4. **heal**: always, after an error or Ctrl-C too: undo every fault still
//!    in effect, then bring every node back whatever its state.
//! 5. **settle**: the load goes on so the checks can see the recovery
//!    (skipped after Ctrl-C).
//! 6. **check**: stop the load, wait for requests in flight and for tasks
//!    to end, read every task log through every node, close the history
//!    and judge it.
//! 7. **teardown**: kill every process of the embedded cluster (also on
//!    drop); a real cluster is left running.
//! 8. **report**: judge the history; report.json, report.html, junit.xml
//!    (the terminal summary is the caller's).
//!
//! [`run`] reads as those phases, each a function of `phases`, beside
//! it; the workloads share one shape (`workload::Workload`) and start
//! from one `workload::RunContext`. The faults, and a maintenance's steps,
//! are [`crate::fault::Faults`]'. Under the phases stand what a run is
//! asked with and gives back (`options`, `outcome`), its seed, folder and
//! time limit (`seed`, `folder`, `wall_time`), what stops it early
//! (`interrupts`), the history's one consumer (`recorder`), what it does
//! with the cluster itself (`cluster`), the API load (`api_load`), and
//! what a shard of a split run agrees with the others (`shard`).
//!
//! The cluster is a [`Target`]: the runner does not know which kind it
//! drives. Everything a run creates in it (packages, machines, tasks)
//! carries the run's ID, and the run removes what it created, after an
//! interrupt too.
//!
//! Throughout, a watcher probes each node's own ping directly and records
//! every change, so drain checks can see 200 → 418 → 200 on any target.
//! The runner never judges anything itself: it only records events.

mod api_load;
mod capacity;
mod cluster;
mod fleet;
mod folder;
mod generator;
mod interrupts;
mod load;
mod options;
mod outcome;
mod phases;
mod recorder;
mod seed;
mod shard;
mod sweep;
mod tasks;
mod uploads;
mod wall_time;
mod workload;

pub use folder::{BASELINE_FILE, create_dir, scenario_run_dir};
pub use interrupts::{interrupted, interrupts};
pub use options::RunOptions;
pub use outcome::{RunError, RunResult};
pub use phases::run;
pub use seed::MAX_DRAWN_SEED;
pub use shard::{ShardPlan, await_start, derived_run_id, publish_start, run_folder};
pub use sweep::{SweepResult, run_sweep};
pub use wall_time::{expected_wall_time, time_limit};
