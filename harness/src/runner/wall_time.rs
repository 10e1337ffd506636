//! How long a run of a scenario takes: the longest it may (its time
//! limit, past which it stops as on Ctrl-C), and about how long it will,
//! for `harness validate` to say before anything starts.

use std::time::Duration;

use crate::limits::{ATTEMPTS_END_WITHIN, CLEANUP_WITHIN, CUT_ATTEMPTS_END_WITHIN, RUN_ALLOWANCE};
use crate::scenario::SearchKind;

/// The longest a run of `s` may take: the time it states, its tasks' time
/// to finish, and [`RUN_ALLOWANCE`] for the rest.
pub fn time_limit(s: &crate::scenario::Scenario) -> Duration {
    let tasks = s
        .task_load()
        .map_or(Duration::ZERO, |t| t.finish_within.value.get());
    let workload = search_time(s, true).unwrap_or(s.duration.value.get());
    s.warmup.value.get() + workload + s.settle.value.get() + tasks + RUN_ALLOWANCE
}

/// How long a capacity search takes at most: every node count's planned
/// steps of each search, each its lead-in, hold and pause (and, at
/// `worst`, a request timeout for the last requests in flight, or a task
/// submission's and the cancels' bounds; for a task step, always, the
/// time its tasks get to start and end), and each drain's wait for the
/// LB.
fn search_time(s: &crate::scenario::Scenario, worst: bool) -> Option<Duration> {
    let cap = &s.capacity.as_ref()?.value;
    let step = s.warmup.value.get() + s.duration.value.get() + cap.between.value.get();
    let mut level = Duration::ZERO;
    for kind in cap.searches() {
        let Some(l) = cap.ladder(kind) else { continue };
        let steps = crate::scenario::planned_steps(l.start, l.ceiling, l.growth, l.resolution);
        let tail = match kind {
            SearchKind::Api if worst => cap.api.as_ref().map(|a| a.timeout.value.get()),
            // And at `worst`, a submission's timeout and the cancels.
            SearchKind::Tasks if worst => cap.tasks.as_ref().map(|t| {
                t.wait_after() + crate::client::CALL_TIMEOUT + super::tasks::ENDING_WITHIN
            }),
            SearchKind::Tasks => cap.tasks.as_ref().map(|t| t.wait_after()),
            // The uploads' bound after the hold; at `worst`, the cut
            // uploads' ends and the step's clean-up, late landings
            // included.
            SearchKind::Uploads => cap.uploads.as_ref().map(|u| {
                let bound = u.objective.duration.value.get();
                if worst {
                    bound + ATTEMPTS_END_WITHIN + CUT_ATTEMPTS_END_WITHIN + CLEANUP_WITHIN
                } else {
                    bound
                }
            }),
            SearchKind::Api => None,
        }
        .unwrap_or_default();
        level += (step + tail) * steps;
    }
    let levels = cap.drain.value + 1;
    Some(level * levels + cap.lb_out_within.value.get() * 2 * cap.drain.value)
}

/// The transfer speed estimates assume: the embedded cluster moves
/// packages at several hundred MiB/s on loopback, a real one through its
/// LB often at less.
const ESTIMATE_BYTES_PER_SEC: f64 = 100.0 * 1024.0 * 1024.0;

/// About how long a boot (or a real target's readiness check) takes.
const ESTIMATE_BOOT: Duration = Duration::from_secs(2);

/// About how long `harness run` of `s` takes from start to end, for
/// `harness validate` to say: each run of a sweep (twice with one node
/// down), each with its boot, warm-up, duration and settle, and the
/// workloads that outlast the duration (a slow upload at its link's
/// speed, uploads and their read-back through every node, the ladder's
/// steps, a load phase's test plan, tasks still at work).
pub fn expected_wall_time(s: &crate::scenario::Scenario) -> Duration {
    let combinations = crate::scenario::sweep::combinations(s);
    if combinations.is_empty() {
        return one_run(s);
    }
    combinations
        .iter()
        .map(|c| one_run(&c.scenario) + c.one_down.as_ref().map_or(Duration::ZERO, one_run))
        .sum()
}

fn one_run(s: &crate::scenario::Scenario) -> Duration {
    let secs = |bytes: f64, per_sec: f64| Duration::from_secs_f64(bytes / per_sec.max(1.0));
    let warmup = s.warmup.value.get();
    let mut workload = search_time(s, false).unwrap_or(s.duration.value.get());
    if let Some(u) = s.upload_load() {
        let size = u.size.value.bytes() as f64;
        let speed = u
            .throttle
            .as_ref()
            .map_or(ESTIMATE_BYTES_PER_SEC, |t| t.value.bytes_per_sec());
        let waves = u.count.value.div_ceil(u.concurrency.value.max(1));
        let read_back = size * f64::from(u.count.value) * f64::from(s.cluster.nodes.value);
        let uploads =
            u.at.value.get() + secs(size, speed) * waves + secs(read_back, ESTIMATE_BYTES_PER_SEC);
        workload = workload.max(uploads);
    }
    if let Some(l) = s.ladder() {
        let total = crate::scenario::ladder_sizes(l.from.value.bytes(), l.to.value.bytes())
            .into_iter()
            .map(|b| b as f64)
            .sum::<f64>();
        workload = workload.max(l.at.value.get() + secs(total, ESTIMATE_BYTES_PER_SEC));
    }
    if let Some(l) = s.load_phase() {
        let plan =
            l.at.value.get() + l.ramp_up.value.get() + l.hold.value.get() + l.ramp_down.value.get();
        workload = workload.max(plan);
    }
    if let Some(t) = s.task_load() {
        workload += t.work.value.get();
    }
    ESTIMATE_BOOT + warmup + workload + s.settle.value.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `validate` says a run takes counts what outlasts the stated
    /// duration: a slow upload at its link's speed, the ladder, a sweep's
    /// every run. See: issue 17.
    #[test]
    fn the_expected_wall_time_counts_what_outlasts_the_duration() {
        let load = |file: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            crate::scenario::load(&path).expect(file).scenario
        };
        let secs = |file: &str| expected_wall_time(&load(file)).as_secs();
        // 1 GiB at 4 MiB/s is 256 s, whatever the 2 s duration says.
        let lb_limits = secs("scenarios/lb-limits.yaml");
        assert!((256..400).contains(&lb_limits), "{lb_limits}");
        // Four combinations, each run twice (one node down), each over 12 s.
        let capacity = secs("scenarios/capacity.yaml");
        assert!((4 * 2 * 14..300).contains(&capacity), "{capacity}");
        // No workload past the duration: boot, warm-up, duration, settle.
        let failover = load("scenarios/failover.yaml");
        let stated = failover.warmup.value.get()
            + failover.duration.value.get()
            + failover.settle.value.get();
        assert_eq!(expected_wall_time(&failover), ESTIMATE_BOOT + stated);
    }
}
