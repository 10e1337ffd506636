//! `harness cleanup --run-id ID`: what a run left on a real cluster, found
//! by the run ID in each thing's name, and removed. A run normally removes
//! what it made; a run that was killed (or whose clean-up ran out of time)
//! cannot, and this finds it afterwards. Everything a run makes carries its
//! ID: packages `HarnessProbe` (uploads) and `HarnessLoad` (load phases)
//! with a version ending `-r<ID>` or `-ladder<ID>`, tasks described
//! `harness run <ID>, …`, machines named `tentacle-NNNN-<ID>`. Tasks cannot
//! be deleted through the API: unfinished ones are canceled.

use reqwest::Method;
use serde::Deserialize;

use crate::client::{ApiClient, CALL_TIMEOUT};
use reference_cluster::api::{SPACE_ID, TaskState};

/// Items read per page.
const PAGE: usize = 500;

/// Most pages read of one list: far past any cluster, and a bound on a
/// server that pages forever.
const MAX_PAGES: usize = 2_000;

use crate::package::{LOAD_PACKAGE_ID, PACKAGE_ID};

/// Whether `id` is a run ID as runs make them: 8 lowercase hex digits.
pub fn valid_run_id(id: &str) -> bool {
    id.len() == 8
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a run left, kind by kind: resource IDs, with a name to show, or
/// why that kind could not be listed. One kind's listing failing (a 404
/// where a cluster lacks an API) does not stop the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftovers {
    /// Packages, by resource ID.
    pub packages: Result<Vec<String>, String>,
    /// Unfinished tasks, by ID.
    pub tasks: Result<Vec<String>, String>,
    /// Machines: resource ID and name.
    pub machines: Result<Vec<(String, String)>, String>,
}

impl Leftovers {
    /// Nothing left, and every kind listed.
    pub fn is_empty(&self) -> bool {
        self.packages.as_ref().is_ok_and(Vec::is_empty)
            && self.tasks.as_ref().is_ok_and(Vec::is_empty)
            && self.machines.as_ref().is_ok_and(Vec::is_empty)
    }

    /// Every kind was listed.
    pub fn all_listed(&self) -> bool {
        self.packages.is_ok() && self.tasks.is_ok() && self.machines.is_ok()
    }

    /// "N packages, N unfinished tasks, N machines", with "unknown" for a
    /// kind that could not be listed.
    pub fn counts(&self) -> String {
        fn n<T>(r: &Result<Vec<T>, String>) -> String {
            r.as_ref()
                .map_or_else(|_| "unknown".to_string(), |v| v.len().to_string())
        }
        format!(
            "{} packages, {} unfinished tasks, {} machines",
            n(&self.packages),
            n(&self.tasks),
            n(&self.machines)
        )
    }
}

/// What became of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindOutcome {
    /// `packages`, `tasks` or `machines`.
    pub kind: &'static str,
    /// How many were found, or why they could not be listed.
    pub listed: Result<usize, String>,
    /// How many were removed (tasks: canceled).
    pub removed: usize,
}

impl KindOutcome {
    /// The kind was listed and all of it removed.
    pub fn ok(&self) -> bool {
        self.listed.as_ref().is_ok_and(|n| *n == self.removed)
    }

    /// A line for the person running the command.
    pub fn line(&self) -> String {
        let done = if self.kind == "tasks" {
            "canceled"
        } else {
            "removed"
        };
        match &self.listed {
            Err(e) => format!("{}: FAILED, could not list them: {e}", self.kind),
            Ok(n) if *n == self.removed => format!("{}: {n} found, {n} {done}", self.kind),
            Ok(n) => format!(
                "{}: FAILED, {n} found, {} {done}, {} not",
                self.kind,
                self.removed,
                n - self.removed
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page<T> {
    items: Vec<T>,
    #[serde(default)]
    total_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Package {
    id: String,
    package_id: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Task {
    id: String,
    #[serde(default)]
    description: String,
    state: TaskState,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Machine {
    id: String,
    name: String,
}

/// Every item of a paged collection.
async fn all<T: for<'de> Deserialize<'de>>(api: &ApiClient, path: &str) -> Result<Vec<T>, String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        // From what has come so far: a server may give fewer than asked.
        let p: Page<T> = api
            .get_json(&format!("{path}{sep}skip={}&take={PAGE}", items.len()))
            .await?;
        let n = p.items.len();
        items.extend(p.items);
        if n == 0 || p.total_results.is_some_and(|t| items.len() >= t) {
            return Ok(items);
        }
    }
    Err(format!("{path}: more than {} pages", MAX_PAGES))
}

/// Finds what run `run_id` left, listing each kind even when another
/// kind's listing failed.
pub async fn find(api: &ApiClient, run_id: &str) -> Leftovers {
    let made_by_run = |description: &str| {
        description
            .strip_prefix("harness run ")
            .and_then(|rest| rest.strip_prefix(run_id))
            .is_some_and(|rest| rest.starts_with(','))
    };
    let packages = all::<Package>(api, &format!("/api/{SPACE_ID}/packages"))
        .await
        .map(|packages| {
            packages
                .into_iter()
                .filter(|p| {
                    [PACKAGE_ID, LOAD_PACKAGE_ID].contains(&p.package_id.as_str())
                        && (p.version.ends_with(&format!("-r{run_id}"))
                            || p.version.ends_with(&format!("-ladder{run_id}")))
                })
                .map(|p| p.id)
                .collect()
        });
    let tasks = all::<Task>(api, "/api/tasks?states=Queued,Executing,Cancelling")
        .await
        .map(|tasks| {
            tasks
                .into_iter()
                .filter(|t| !t.state.is_completed() && made_by_run(&t.description))
                .map(|t| t.id)
                .collect()
        });
    let machines = all::<Machine>(api, &format!("/api/{SPACE_ID}/machines"))
        .await
        .map(|machines| {
            machines
                .into_iter()
                .filter(|m| fleet_machine_of(&m.name, run_id))
                .map(|m| (m.id, m.name))
                .collect()
        });
    Leftovers {
        packages,
        tasks,
        machines,
    }
}

/// Whether a machine's name is one a run's fleet gives: `tentacle-NNNN-`
/// and the run ID.
fn fleet_machine_of(name: &str, run_id: &str) -> bool {
    name.strip_prefix("tentacle-")
        .and_then(|rest| rest.strip_suffix(run_id)?.strip_suffix('-'))
        .is_some_and(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes what [`find`] found: deletes packages and machines, cancels
/// tasks, telling `say_line` of each as it goes; a kind that could not be
/// listed is passed over, and the others go on. Gives each kind's outcome.
pub async fn remove(
    api: &ApiClient,
    left: &Leftovers,
    mut say_line: impl FnMut(String),
) -> Vec<KindOutcome> {
    let mut say = |what: String, result: Result<(), String>| match result {
        Ok(()) => {
            say_line(format!("removed {what}"));
            1
        }
        Err(e) => {
            say_line(format!("FAILED {what}: {e}"));
            0
        }
    };
    let mut outcomes = Vec::new();
    let mut removed = 0;
    for id in left.packages.iter().flatten() {
        let path = format!("/api/{SPACE_ID}/packages/{id}");
        removed += say(format!("package {id}"), delete(api, &path).await);
    }
    outcomes.push(KindOutcome {
        kind: "packages",
        listed: left.packages.as_ref().map(Vec::len).map_err(Clone::clone),
        removed,
    });
    let mut removed = 0;
    for id in left.tasks.iter().flatten() {
        removed += say(format!("task {id} (canceled)"), api.cancel_task(id).await);
    }
    outcomes.push(KindOutcome {
        kind: "tasks",
        listed: left.tasks.as_ref().map(Vec::len).map_err(Clone::clone),
        removed,
    });
    let mut removed = 0;
    for (id, name) in left.machines.iter().flatten() {
        removed += say(
            format!("machine {id} ({name})"),
            api.delete_machine(id).await,
        );
    }
    outcomes.push(KindOutcome {
        kind: "machines",
        listed: left.machines.as_ref().map(Vec::len).map_err(Clone::clone),
        removed,
    });
    outcomes
}

/// DELETE; gone already counts as removed.
async fn delete(api: &ApiClient, path: &str) -> Result<(), String> {
    match api.call(Method::DELETE, path, None, CALL_TIMEOUT).await {
        Ok((s, _)) if (200..300).contains(&s) || s == 404 => Ok(()),
        Ok((s, _)) => Err(format!("DELETE {path} answered {s}")),
        Err(e) => Err(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_run_s_own_fleet_machines_match() {
        assert!(fleet_machine_of("tentacle-0001-0a1b2c3d", "0a1b2c3d"));
        assert!(fleet_machine_of("tentacle-12345-0a1b2c3d", "0a1b2c3d"));
        for other in [
            "web-0a1b2c3d",
            "tentacle-01-0a1b2c3d",
            "tentacle-0001-ff0a1b2c3d",
            "tentacle-0001-0a1b2c3d-x",
            "mytentacle-0001-0a1b2c3d",
        ] {
            assert!(!fleet_machine_of(other, "0a1b2c3d"), "{other}");
        }
    }

    #[test]
    fn run_ids_are_eight_lowercase_hex_digits() {
        assert!(valid_run_id("0a1b2c3d"));
        for bad in [
            "",
            "0a1b2c3",
            "0A1B2C3D",
            "0a1b2c3g",
            "0a1b2c3d0",
            "../../x",
        ] {
            assert!(!valid_run_id(bad), "{bad}");
        }
    }
}
