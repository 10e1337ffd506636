//! The report's `cleanup` section: everything the run created in the
//! cluster (packages, machines, tasks), each named with the run's ID, and
//! what became of it. Tasks cannot be deleted through the Octopus API, so
//! the run cancels those it left unfinished and lists every one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::api::TaskState;
use crate::history::{Event, History};
use crate::upload::UploadClass;

/// What the run created and what it removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// The ID in the name of everything the run created.
    pub run_id: String,
    /// Each package the run uploaded.
    pub packages: Vec<Removal>,
    /// Each machine the run registered.
    pub machines: Vec<Removal>,
    /// Each task the run created, with its last state.
    pub tasks: Vec<TaskLeft>,
    /// True when nothing the run created is left: every package and
    /// machine removed, every task finished or canceled.
    pub clean: bool,
}

/// One package or machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    /// Its resource ID.
    pub id: String,
    /// Whether the run removed it.
    pub removed: bool,
    /// Why not.
    pub error: Option<String>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLeft {
    /// Its ID.
    pub id: String,
    /// Its last state as the run read it; null if never read.
    pub state: Option<TaskState>,
    /// The run canceled it because it had not finished.
    pub canceled_by_run: bool,
}

fn new_task(id: &str, tasks: &mut BTreeMap<String, TaskLeft>) {
    tasks.entry(id.to_string()).or_insert(TaskLeft {
        id: id.to_string(),
        state: None,
        canceled_by_run: false,
    });
}

/// The section, or None for a history without a run ID (from before
/// run IDs).
pub fn cleanup(history: &History) -> Option<CleanupReport> {
    let run_id = history.events.iter().find_map(|e| match e {
        Event::RunStarted { run_id, .. } if !run_id.is_empty() => Some(run_id.clone()),
        _ => None,
    })?;
    let mut packages: BTreeMap<String, Removal> = BTreeMap::new();
    let mut machines: BTreeMap<String, Removal> = BTreeMap::new();
    let mut tasks: BTreeMap<String, TaskLeft> = BTreeMap::new();
    let not_yet = |id: &str| Removal {
        id: id.to_string(),
        removed: false,
        error: Some("the run ended before removing it".into()),
    };
    for e in &history.events {
        match e {
            Event::Upload(u) if u.class == UploadClass::Accepted => {
                packages
                    .entry(u.id.clone())
                    .or_insert_with(|| not_yet(&u.id));
            }
            // Not there to delete is as good as deleted.
            Event::PackageDeleted { id, error, .. } => {
                packages.insert(
                    id.clone(),
                    Removal {
                        id: id.clone(),
                        removed: error.is_none(),
                        error: error.clone(),
                    },
                );
            }
            Event::Fleet(f) => {
                for t in &f.tentacles {
                    machines
                        .entry(t.machine.clone())
                        .or_insert_with(|| not_yet(&t.machine));
                }
            }
            Event::Removed {
                kind,
                id,
                removed,
                error,
                ..
            } if kind == "machine" => {
                machines.insert(
                    id.clone(),
                    Removal {
                        id: id.clone(),
                        removed: *removed,
                        error: error.clone(),
                    },
                );
            }
            // The run's last look at a task: its state then, and whether
            // the run canceled it.
            Event::Removed {
                kind,
                id,
                removed,
                state,
                ..
            } if kind == "task" => {
                new_task(id, &mut tasks);
                if let Some(left) = tasks.get_mut(id) {
                    left.canceled_by_run = *removed;
                    left.state = match state {
                        Some(s) => Some(*s),
                        // A history from before states were recorded
                        // here: its cancels were immediate.
                        None if *removed => Some(TaskState::Canceled),
                        None => left.state,
                    };
                }
            }
            Event::TaskSubmitted(t) => {
                if let Some(id) = &t.id {
                    new_task(id, &mut tasks);
                }
            }
            Event::HealthTask(t) => {
                if let Some(id) = &t.task {
                    new_task(id, &mut tasks);
                    if let Some(state) = t.state
                        && let Some(left) = tasks.get_mut(id)
                    {
                        left.state = Some(state);
                    }
                }
            }
            Event::Task(t) => {
                if let Some(left) = tasks.get_mut(&t.id) {
                    left.state = Some(t.state);
                }
            }
            _ => {}
        }
    }
    let tasks: Vec<TaskLeft> = tasks.into_values().collect();
    let packages: Vec<Removal> = packages.into_values().collect();
    let machines: Vec<Removal> = machines.into_values().collect();
    let mut report = CleanupReport {
        run_id,
        packages,
        machines,
        tasks,
        clean: false,
    };
    report.clean = report.left_behind().is_empty();
    Some(report)
}

impl CleanupReport {
    /// What the run left in the cluster, a line each: a package or machine
    /// not removed, a task not finished.
    pub fn left_behind(&self) -> Vec<String> {
        let mut left: Vec<String> = self
            .packages
            .iter()
            .chain(&self.machines)
            .filter(|r| !r.removed)
            .map(|r| {
                format!(
                    "{} is left: {}",
                    r.id,
                    r.error.as_deref().unwrap_or("not removed")
                )
            })
            .collect();
        left.extend(
            self.tasks
                .iter()
                .filter(|t| !t.state.is_some_and(TaskState::is_completed))
                .map(|t| {
                    format!(
                        "{} is left {}",
                        t.id,
                        t.state.map_or("in a state never read", TaskState::as_str)
                    )
                }),
        );
        left
    }
}
