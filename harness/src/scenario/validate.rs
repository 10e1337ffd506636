//! The second pass: checks that need more than one field at a time (node
//! names against the cluster size, times against the duration, checks
//! against the faults they judge) and reports every problem, not just the
//! first, each located by line, column and field path.

use super::model::{
    ApiLoad, FleetLoad, LadderLoad, LoadPhase, Mix, Scenario, TaskLoad, UploadLoad, Workload,
};
use super::problem::Problem;

mod capacity;
mod checks;
mod cluster;
mod faults;
mod validator;
mod workloads;

pub use capacity::{MAX_TASKS_PER_STEP, planned_steps};
pub use validator::{MAX_NODES, node_names};
use validator::{MAX_USERS, Validator};

/// Every problem in a parsed scenario, sorted by position.
pub fn validate(s: &Scenario) -> Result<(), Vec<Problem>> {
    validate_for_nodes(s, None)
}

/// As [`validate`], with the node names of a real target instead of the
/// embedded cluster's n1, n2, ...
pub fn validate_for_nodes(s: &Scenario, nodes: Option<&[String]>) -> Result<(), Vec<Problem>> {
    let mut v = Validator {
        nodes: nodes.map(<[String]>::to_vec),
        ..Validator::default()
    };
    v.scenario(s);
    if v.problems.is_empty() {
        Ok(())
    } else {
        v.problems.sort_by_key(|p| (p.line, p.column));
        Err(v.problems)
    }
}

/// A tag as scenarios and `--tags` spell it.
pub fn is_tag(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Why a scenario cannot run split into `count` shards (docs/shards.md),
/// each problem located: every workload splits (the faults and a ladder
/// are the conductor's), but each shard that has work runs one user, one
/// upload and one task client at least, so fewer than that many would not
/// be the scenario's; and a capacity search and a sweep run from one
/// process.
pub fn shard_problems(s: &Scenario, count: u32) -> Vec<Problem> {
    let mut problems: Vec<Problem> = Vec::new();
    for (i, w) in s.workload.iter().enumerate() {
        let key = w.value.key();
        let (field, what, busy) = match &w.value {
            Workload::Load(l) => (&l.users, "users", count),
            Workload::Upload(u) => (&u.concurrency, "concurrency", u.count.value.min(count)),
            Workload::Tasks(t) => {
                let tasks = t.burst.as_ref().map_or(u32::MAX, |b| b.value);
                (&t.clients, "clients", tasks.min(count))
            }
            _ => continue,
        };
        if field.value < busy {
            problems.push(Problem::at(
                &field.referenced,
                format!("workload[{i}].{key}.{what}"),
                format!(
                    "{} cannot be shared among {count} shards: each shard with work to do takes one at least, so {busy} would be at work at once; give {busy} or more, or run fewer shards",
                    field.value
                ),
            ));
        }
    }
    for (at, path, what) in [
        (
            s.capacity.as_ref().map(|c| &c.referenced),
            "capacity",
            "a capacity search",
        ),
        (s.sweep.as_ref().map(|w| &w.referenced), "sweep", "a sweep"),
    ] {
        if let Some(at) = at {
            let why = format!("{what} runs from one process: run it without shards");
            problems.push(Problem::at(at, path, why));
        }
    }
    problems
}

impl Scenario {
    /// The API workload, if the scenario has one.
    pub fn api_load(&self) -> Option<&ApiLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Api(api) => Some(api),
            _ => None,
        })
    }

    /// The upload workload, if the scenario has one (a slow upload is
    /// one, throttled and without retries).
    pub fn upload_load(&self) -> Option<UploadLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Upload(u) => Some(u.clone()),
            Workload::SlowUpload(u) => Some(u.as_upload()),
            _ => None,
        })
    }

    /// The most package bytes a run keeps on the cluster's storage at
    /// once: every upload's package (the run deletes them at its end, not
    /// as it goes), each step of the body-limit ladder, and, where the LB
    /// buffers request bodies, a spooled copy of each upload in flight.
    /// The load phase's small packages are left out: how many it makes
    /// depends on the cluster's speed; of an upload search's step, one
    /// package for each uploader at its ceiling is counted.
    pub fn stored_at_most(&self) -> u64 {
        let upload = self.upload_load().map_or(0, |u| {
            let size = u.size.value.bytes();
            let kept = size.saturating_mul(u.count.value.into());
            let spooled = if self.cluster.lb.limits().request_buffering {
                size.saturating_mul(u.concurrency.value.min(u.count.value).into())
            } else {
                0
            };
            kept.saturating_add(spooled)
        });
        let ladder = self.ladder().map_or(0, |l| {
            super::model::ladder_sizes(l.from.value.bytes(), l.to.value.bytes())
                .into_iter()
                .fold(0u64, u64::saturating_add)
        });
        // A step of the upload search keeps what it made until it ends:
        // at least one package for each uploader at the ceiling (how many
        // more depends on the cluster's speed).
        let search = self
            .capacity
            .as_ref()
            .and_then(|c| c.value.uploads.as_ref())
            .map_or(0, |u| {
                u.size.value.bytes().saturating_mul(u.ceiling.value.into())
            });
        upload.saturating_add(ladder).saturating_add(search)
    }

    /// The body-limit ladder, if the scenario has one.
    pub fn ladder(&self) -> Option<&LadderLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::BodyLimitLadder(l) => Some(l),
            _ => None,
        })
    }

    /// The fleet of polling Tentacles, if the scenario has one.
    pub fn fleet(&self) -> Option<&FleetLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Fleet(f) => Some(f),
            _ => None,
        })
    }

    /// The goose load phase, if the scenario has one.
    pub fn load_phase(&self) -> Option<&LoadPhase> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Load(l) => Some(l),
            _ => None,
        })
    }

    /// The task workload, if the scenario has one.
    pub fn task_load(&self) -> Option<&TaskLoad> {
        self.workload.iter().find_map(|w| match &w.value {
            Workload::Tasks(t) => Some(t),
            _ => None,
        })
    }
}

impl ApiLoad {
    /// The request mix, or the default one.
    pub fn mix(&self) -> Mix {
        self.mix.as_ref().map(|m| m.value).unwrap_or_default()
    }
}

/// A whole-number field's bounds, where validation sets them, by its
/// path: a value that is no whole number is then told what would be.
pub(crate) fn whole_number_bounds(path: &str) -> Option<(u32, u32)> {
    if path == "cluster.nodes" || path.starts_with("sweep.") && path.ends_with(".nodes") {
        Some((1, MAX_NODES))
    } else if path.starts_with("workload[") && path.ends_with(".load.users") {
        Some((1, MAX_USERS))
    } else {
        None
    }
}

impl Validator {
    /// Every check of the scenario, each area's in its own file.
    fn scenario(&mut self, s: &Scenario) {
        let name = &s.name;
        if name.value.is_empty()
            || name.value.len() > 64
            || !name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.value.starts_with('.')
        {
            self.problem(
                &name.referenced,
                "name",
                "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (it names the run folder)",
            );
        }
        for (i, t) in s.tags.iter().enumerate() {
            if !is_tag(&t.value) {
                self.problem(
                    &t.referenced,
                    format!("tags[{i}]"),
                    "must be 1 to 32 lower-case letters, digits or '-'",
                );
            } else if s.tags[..i].iter().any(|u| u.value == t.value) {
                self.problem(
                    &t.referenced,
                    format!("tags[{i}]"),
                    format!("{:?} is listed twice", t.value),
                );
            }
        }
        self.positive(&s.duration, "duration");
        self.bounded(&s.warmup, "warmup");
        self.bounded(&s.settle, "settle");
        self.cluster(s);
        self.workload(s);
        self.stored(s);
        self.faults(s);
        self.checks(s);
        self.capacity(s);
        // Each combination is validated as a scenario of its own, once the
        // scenario itself is sound, so a problem is not said once per
        // combination.
        if let Some(sweep) = &s.sweep
            && self.problems.is_empty()
        {
            self.problems
                .extend(super::sweep::problems(s, sweep, validate));
        }
    }
}

#[cfg(test)]
mod tests;
