//! `left_clean`, the check every run gets without asking: the run left the
//! cluster as it found it. Every fault it injected was undone, every node
//! brought back, and everything it created (packages, machines) removed,
//! every task it created finished or canceled. On a real cluster this is
//! what makes a run safe to repeat; on the embedded one it catches a
//! harness that forgets its own mess. A package the run cannot say is gone
//! (its last look failed, or an attempt may still land it) makes it
//! unknown, unless something else fails it.

use serde_json::json;

use super::verdict::Verdict;
use crate::history::{Event, FaultAction, History};

/// Judges what the run left behind.
pub fn judge(history: &History) -> (Verdict, String, serde_json::Value) {
    let mut problems = Vec::new();
    // The last heal of each fault decides: a heal retried in the heal
    // phase may succeed after one that failed.
    let mut heals: Vec<(&str, Option<&str>)> = Vec::new();
    for e in &history.events {
        match e {
            Event::Fault(f) if f.action == FaultAction::Heal => {
                heals.retain(|(n, _)| *n != f.name);
                heals.push((&f.name, f.error.as_deref()));
            }
            Event::HealFailed { error, .. } => {
                problems.push(format!("a node was not brought back: {error}"));
            }
            _ => {}
        }
    }
    for (name, error) in &heals {
        if let Some(e) = error {
            problems.push(format!("{name} was not undone: {e}"));
        }
    }
    let injected: Vec<&str> = history
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Fault(f) if f.action == FaultAction::Inject => Some(f.name.as_str()),
            _ => None,
        })
        .collect();
    for name in &injected {
        if !heals.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name} was injected and never undone"));
        }
    }
    let cleanup = crate::metrics::cleanup(history);
    let mut unsure = Vec::new();
    let (packages, machines, tasks) = match &cleanup {
        Some(c) => {
            problems.extend(c.left_behind());
            unsure = c.unconfirmed();
            (
                match c.package_outcomes() {
                    o if o.is_empty() => "0 packages".to_string(),
                    o => format!("packages: {o}"),
                },
                c.machines.len(),
                c.tasks.len(),
            )
        }
        None => ("0 packages".to_string(), 0, 0),
    };
    // A long list is cut; the report's cleanup section has all of it.
    let shown: Vec<&String> = problems.iter().take(5).collect();
    let detail = if problems.is_empty() && !unsure.is_empty() {
        format!(
            "{}{}",
            unsure[0],
            if unsure.len() > 1 {
                format!("; and {} more", unsure.len() - 1)
            } else {
                String::new()
            }
        )
    } else if problems.is_empty() {
        format!(
            "{} faults undone; {packages}; {machines} machines removed; {tasks} tasks finished or canceled",
            injected.len()
        )
    } else {
        format!(
            "{}{}",
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            if problems.len() > shown.len() {
                format!("; and {} more", problems.len() - shown.len())
            } else {
                String::new()
            }
        )
    };
    let verdict = if !problems.is_empty() {
        Verdict::Fail
    } else if !unsure.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    (
        verdict,
        detail,
        json!({ "problems": problems, "unconfirmed": unsure }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::FaultEvent;
    use crate::vocab::FaultKind;
    use reference_cluster::api::TaskState;

    fn fault(name: &str, action: FaultAction, error: Option<&str>) -> Event {
        Event::Fault(FaultEvent {
            at_us: 1,
            done_us: Some(2),
            step: None,
            name: name.into(),
            kind: FaultKind::Kill,
            nodes: vec!["n2".into()],
            action,
            error: error.map(str::to_string),
        })
    }

    fn history(mut events: Vec<Event>) -> History {
        events.insert(
            0,
            Event::RunStarted {
                scenario: "s".into(),
                seed: 1,
                run_id: "ab12cd34".into(),
                target: "t".into(),
                started_at: "2026-11-27T00:00:00Z".into(),
                shard: None,
            },
        );
        History { events }
    }

    fn task(id: &str, removed: bool, state: Option<TaskState>) -> Event {
        Event::Removed {
            at_us: 3,
            kind: "task".into(),
            id: id.into(),
            removed,
            error: None,
            state,
        }
    }

    #[test]
    fn a_run_that_undid_everything_passes() {
        let h = history(vec![
            fault("kill-n2", FaultAction::Inject, None),
            fault("kill-n2", FaultAction::Heal, Some("start failed")),
            // Retried in the heal phase, and done.
            fault("kill-n2", FaultAction::Heal, None),
            task("ServerTasks-1", true, Some(TaskState::Canceled)),
        ]);
        let (v, detail, _) = judge(&h);
        assert_eq!(v, Verdict::Pass, "{detail}");
        assert!(detail.contains("1 faults undone"), "{detail}");
    }

    #[test]
    fn a_fault_not_undone_a_node_not_back_or_a_task_left_running_fails() {
        let h = history(vec![
            fault("kill-n2", FaultAction::Inject, None),
            fault("pause-n1", FaultAction::Inject, None),
            fault("pause-n1", FaultAction::Heal, Some("resume failed")),
            Event::HealFailed {
                at_us: 4,
                error: "n3's `start` command failed".into(),
            },
            task("ServerTasks-7", true, Some(TaskState::Cancelling)),
            Event::PackageDeleted {
                at_us: 5,
                id: "packages-P.1.0.0-rab12cd34".into(),
                deleted: false,
                error: Some("DELETE answered 500".into()),
            },
        ]);
        let (v, detail, evidence) = judge(&h);
        assert_eq!(v, Verdict::Fail);
        let problems = evidence["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 5, "{problems:?}");
        for want in [
            "kill-n2 was injected and never undone",
            "pause-n1 was not undone: resume failed",
            "a node was not brought back: n3's `start` command failed",
            "ServerTasks-7 is left Cancelling",
            "packages-P.1.0.0-rab12cd34 is left: DELETE answered 500",
        ] {
            assert!(
                problems.iter().any(|p| p == want),
                "{want} not in {problems:?}"
            );
        }
        assert!(detail.contains("kill-n2"), "{detail}");
    }
}
