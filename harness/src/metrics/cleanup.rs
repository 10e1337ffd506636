//! The report's `cleanup` section: everything the run created in the
//! cluster (packages, machines, tasks), each named with the run's ID, and
//! what became of it. Tasks cannot be deleted through the Octopus API, so
//! the run cancels those it left unfinished and lists every one.
//!
//! A package is `removed` only when the server confirmed it had it (an
//! accepted upload, a read that found it, a DELETE that removed it) and the
//! run's last look found it gone; `never_stored` when the server never had
//! it as far as the run saw and no attempt may still land it; `left` when
//! the last look found it, or it was never deleted; `unconfirmed` when the
//! last look failed, or found nothing while an attempt that sent its whole
//! body may still land it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::{Event, History, PackageReadKind};
use crate::upload::{UploadClass, may_land_later};
use crate::vocab::TaskState;

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
    /// Whether the run removed it: the server had it, and has it no more.
    pub removed: bool,
    /// What became of it.
    #[serde(default)]
    pub outcome: Outcome,
    /// Why it is not known to be gone.
    pub error: Option<String>,
}

/// What became of something the run created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The server had it, and the run saw it gone.
    Removed,
    /// The server never had it, as far as the run saw.
    NeverStored,
    /// It is still there, or was never deleted.
    Left,
    /// The run cannot tell: its last look failed, or an attempt may still
    /// land it.
    #[default]
    Unconfirmed,
}

impl Outcome {
    /// The word in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Removed => "removed",
            Outcome::NeverStored => "never stored",
            Outcome::Left => "left",
            Outcome::Unconfirmed => "unconfirmed",
        }
    }
}

impl Removal {
    fn new(id: &str, outcome: Outcome, error: Option<String>) -> Self {
        Self {
            id: id.to_string(),
            removed: outcome == Outcome::Removed,
            outcome,
            error,
        }
    }
}

/// What the history says of one package.
#[derive(Default)]
struct PackageSeen {
    /// Accepted, or found by a read: the server had it.
    had: bool,
    /// A DELETE: whether it found the package, and why it failed.
    deleted: Option<(bool, Option<String>)>,
    /// A DELETE found it, at some point.
    deleted_once: bool,
    /// The last look: whether it watched long enough for a late landing,
    /// and present or not, or why it failed.
    look: Option<(bool, Result<bool, String>)>,
    /// An attempt that sent its whole body and failed: it may still land.
    may_land: Option<String>,
}

impl PackageSeen {
    fn removal(&self, id: &str) -> Removal {
        let had = self.had || self.deleted_once;
        // An attempt that may land late leaves the package's fate open
        // unless it landed (and was deleted) while the clean-up watched for
        // it the whole time it waits: a package never seen may come yet.
        let open = match (&self.look, &self.may_land) {
            (Some((watched, _)), Some(why)) if !(had && *watched) => Some(why),
            _ => None,
        };
        let look = self.look.as_ref().map(|(_, l)| l);
        match (look, &self.deleted) {
            (Some(Ok(false)), _) if open.is_some() => Removal::new(
                id,
                Outcome::Unconfirmed,
                Some(format!(
                    "not there at the run's last look, but {}: the server may still store it",
                    open.map_or("", |w| w.as_str()),
                )),
            ),
            (Some(Ok(true)), d) => Removal::new(
                id,
                Outcome::Left,
                Some(match d.as_ref().and_then(|(_, e)| e.clone()) {
                    Some(e) => format!("still there at the run's last look ({e})"),
                    None => "still there at the run's last look".into(),
                }),
            ),
            (Some(Err(e)), _) => Removal::new(
                id,
                Outcome::Unconfirmed,
                Some(format!("the run's last look failed: {e}")),
            ),
            (Some(Ok(false)), _) if had => Removal::new(id, Outcome::Removed, None),
            (Some(Ok(false)), _) => Removal::new(id, Outcome::NeverStored, None),
            // A history from before the last look: the DELETE's answer.
            (None, Some((_, Some(e)))) => Removal::new(id, Outcome::Left, Some(e.clone())),
            (None, Some(_)) if had => Removal::new(id, Outcome::Removed, None),
            (None, Some(_)) => Removal::new(id, Outcome::NeverStored, None),
            (None, None) => Removal::new(
                id,
                Outcome::Left,
                Some("the run ended before removing it".into()),
            ),
        }
    }
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

/// The section, or None for a history without a run ID (from before
/// run IDs).
pub fn cleanup(history: &History) -> Option<CleanupReport> {
    let run_id = history.events.iter().find_map(|e| match e {
        Event::RunStarted { run_id, .. } if !run_id.is_empty() => Some(run_id.clone()),
        _ => None,
    })?;
    let mut created = Created::default();
    for e in &history.events {
        created.see_package(e);
        created.see_machine(e);
        created.see_task(e);
    }
    Some(created.report(run_id))
}

/// Everything the run created, as its events so far tell it.
#[derive(Default)]
struct Created {
    packages: BTreeMap<String, PackageSeen>,
    machines: BTreeMap<String, Removal>,
    tasks: BTreeMap<String, TaskLeft>,
}

impl Created {
    fn see_package(&mut self, e: &Event) {
        match e {
            Event::Upload(u) => {
                let p = self.packages.entry(u.id.clone()).or_default();
                p.had |= u.class == UploadClass::Accepted;
                if may_land_later(u.class, u.last_byte_us.is_some(), u.body_kind) {
                    p.may_land = Some(format!(
                        "attempt {} ended {} after its whole body went",
                        u.attempt + 1,
                        u.status
                            .map_or_else(|| "with no answer".to_string(), |s| format!("with {s}"))
                    ));
                }
            }
            Event::PackageRead(r)
                if r.kind != PackageReadKind::Download && r.status == Some(200) =>
            {
                self.packages.entry(r.id.clone()).or_default().had = true;
            }
            Event::PackageDeleted {
                id, deleted, error, ..
            } => {
                let p = self.packages.entry(id.clone()).or_default();
                p.deleted = Some((*deleted, error.clone()));
                p.deleted_once |= *deleted;
            }
            Event::PackageLook {
                id,
                present,
                error,
                landing_watched,
                ..
            } => {
                self.packages.entry(id.clone()).or_default().look = Some((
                    *landing_watched,
                    match present {
                        Some(p) => Ok(*p),
                        None => Err(error.clone().unwrap_or_else(|| "no answer".into())),
                    },
                ));
            }
            _ => {}
        }
    }

    fn see_machine(&mut self, e: &Event) {
        match e {
            Event::Fleet(f) => {
                for t in &f.tentacles {
                    self.machines.entry(t.machine.clone()).or_insert_with(|| {
                        Removal::new(
                            &t.machine,
                            Outcome::Left,
                            Some("the run ended before removing it".into()),
                        )
                    });
                }
            }
            Event::Removed {
                kind,
                id,
                removed,
                error,
                ..
            } if kind == "machine" => {
                let outcome = if *removed {
                    Outcome::Removed
                } else {
                    Outcome::Left
                };
                self.machines
                    .insert(id.clone(), Removal::new(id, outcome, error.clone()));
            }
            _ => {}
        }
    }

    fn see_task(&mut self, e: &Event) {
        match e {
            // The run's last look at a task: its state then, and whether
            // the run canceled it.
            Event::Removed {
                kind,
                id,
                removed,
                state,
                ..
            } if kind == "task" => {
                let left = self.task(id);
                left.canceled_by_run = *removed;
                left.state = match state {
                    Some(s) => Some(*s),
                    // A history from before states were recorded
                    // here: its cancels were immediate.
                    None if *removed => Some(TaskState::Canceled),
                    None => left.state,
                };
            }
            Event::TaskSubmitted(t) => {
                if let Some(id) = &t.id {
                    self.task(id);
                }
            }
            Event::HealthTask(t) => {
                if let Some(id) = &t.task {
                    let left = self.task(id);
                    if let Some(state) = t.state {
                        left.state = Some(state);
                    }
                }
            }
            Event::Task(t) => {
                if let Some(left) = self.tasks.get_mut(&t.id) {
                    left.state = Some(t.state);
                }
            }
            _ => {}
        }
    }

    /// Task `id`, met now if not before.
    fn task(&mut self, id: &str) -> &mut TaskLeft {
        self.tasks.entry(id.to_string()).or_insert(TaskLeft {
            id: id.to_string(),
            state: None,
            canceled_by_run: false,
        })
    }

    fn report(self, run_id: String) -> CleanupReport {
        let tasks: Vec<TaskLeft> = self.tasks.into_values().collect();
        // A failed attempt the run never deleted nor looked for (a history
        // from before either) is not shown: nothing says it was ever stored.
        let packages: Vec<Removal> = self
            .packages
            .iter()
            .filter(|(_, p)| p.had || p.deleted.is_some() || p.look.is_some())
            .map(|(id, p)| p.removal(id))
            .collect();
        let machines: Vec<Removal> = self.machines.into_values().collect();
        let mut report = CleanupReport {
            run_id,
            packages,
            machines,
            tasks,
            clean: false,
        };
        report.clean = report.left_behind().is_empty() && report.unconfirmed().is_empty();
        report
    }
}

impl CleanupReport {
    /// What the run cannot say is gone, a line each: a package whose last
    /// look failed, or that an attempt may still land.
    pub fn unconfirmed(&self) -> Vec<String> {
        self.packages
            .iter()
            .chain(&self.machines)
            .filter(|r| r.outcome == Outcome::Unconfirmed)
            .map(|r| {
                format!(
                    "{} may be left: {} (`harness cleanup --run-id {}` removes it if it is)",
                    r.id,
                    r.error.as_deref().unwrap_or("not confirmed gone"),
                    self.run_id
                )
            })
            .collect()
    }

    /// How many packages became what, such as "2 removed, 1 never stored".
    pub fn package_outcomes(&self) -> String {
        let mut parts = Vec::new();
        for o in [
            Outcome::Removed,
            Outcome::NeverStored,
            Outcome::Left,
            Outcome::Unconfirmed,
        ] {
            let n = self.packages.iter().filter(|p| p.outcome == o).count();
            if n > 0 {
                parts.push(format!("{n} {}", o.as_str()));
            }
        }
        parts.join(", ")
    }

    /// What the run left in the cluster, a line each: a package or machine
    /// not removed, a task not finished.
    pub fn left_behind(&self) -> Vec<String> {
        let mut left: Vec<String> = self
            .packages
            .iter()
            .chain(&self.machines)
            .filter(|r| r.outcome == Outcome::Left)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run_started() -> Event {
        Event::RunStarted {
            scenario: "s".into(),
            seed: 1,
            run_id: "ab12cd34".into(),
            target: "t".into(),
            started_at: "2026-12-06T00:00:00Z".into(),
            shard: None,
        }
    }

    fn deleted(id: &str, deleted: bool, error: Option<&str>) -> Event {
        Event::PackageDeleted {
            at_us: 1,
            id: id.into(),
            deleted,
            error: error.map(str::to_string),
        }
    }

    fn look(id: &str, present: Option<bool>) -> Event {
        Event::PackageLook {
            at_us: 2,
            id: id.into(),
            present,
            error: present.is_none().then(|| "GET answered 503".to_string()),
            landing_watched: false,
        }
    }

    fn outcomes(events: Vec<Event>) -> Vec<(String, Outcome, Option<String>)> {
        let mut all = vec![run_started()];
        all.extend(events);
        cleanup(&History { events: all })
            .unwrap()
            .packages
            .into_iter()
            .map(|r| (r.id, r.outcome, r.error))
            .collect()
    }

    #[test]
    fn the_last_look_decides_and_a_404_is_never_stored_not_removed() {
        let got = outcomes(vec![
            // Deleted, and gone at the last look.
            deleted("packages-A", true, None),
            look("packages-A", Some(false)),
            // Not there to delete, nor at the last look.
            deleted("packages-B", false, None),
            look("packages-B", Some(false)),
            // Not there to delete, and there at the last look.
            deleted("packages-C", false, None),
            look("packages-C", Some(true)),
            // The last look failed.
            deleted("packages-D", true, None),
            look("packages-D", None),
            // Found at a look, deleted again, and gone at the last one.
            deleted("packages-E", false, None),
            look("packages-E", Some(true)),
            deleted("packages-E", true, None),
            look("packages-E", Some(false)),
        ]);
        assert_eq!(
            got,
            vec![
                ("packages-A".into(), Outcome::Removed, None),
                ("packages-B".into(), Outcome::NeverStored, None),
                (
                    "packages-C".into(),
                    Outcome::Left,
                    Some("still there at the run's last look".into())
                ),
                (
                    "packages-D".into(),
                    Outcome::Unconfirmed,
                    Some("the run's last look failed: GET answered 503".into())
                ),
                ("packages-E".into(), Outcome::Removed, None),
            ]
        );
    }

    #[test]
    fn a_history_from_before_the_last_look_goes_by_its_deletes() {
        let got = outcomes(vec![
            deleted("packages-A", true, None),
            deleted("packages-B", false, None),
            deleted("packages-C", false, Some("DELETE answered 500")),
        ]);
        assert_eq!(
            got,
            vec![
                ("packages-A".into(), Outcome::Removed, None),
                ("packages-B".into(), Outcome::NeverStored, None),
                (
                    "packages-C".into(),
                    Outcome::Left,
                    Some("DELETE answered 500".into())
                ),
            ]
        );
    }
}
