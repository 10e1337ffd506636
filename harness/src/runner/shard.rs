//! A run split into shards (docs/shards.md): what every shard agrees on
//! (the start, the run ID), where a shard keeps its history,
//! how the conductor publishes the start when none was given, a shard's
//! reading of its clock against the cluster's, and its wait for the start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha1::Digest;

use super::outcome::RunError;
use crate::client::ApiClient;
use crate::history::{ClockOffset, DateLook, Event, Events, offset_from_tick};
use crate::vocab::Shard;

/// What a shard runs by: its index, and what every shard of the run
/// agreed on.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    /// This process's shard.
    pub shard: Shard,
    /// The run's one start, when every shard's warm-up begins: time 0 of
    /// every shard's history.
    pub start: SystemTime,
    /// The run's ID, every shard's.
    pub run_id: String,
}

/// The run ID shards derive when none is given: from the scenario's name
/// and the agreed start, so shards given the same `--start-at` agree
/// without a word between them.
pub fn derived_run_id(scenario: &str, start: SystemTime) -> String {
    let at = humantime::format_rfc3339_micros(start).to_string();
    let digest = sha1::Sha1::digest(format!("{scenario}\n{at}").as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The folder of a run's shards: `<out>/<scenario>/<run ID>/`.
pub fn run_folder(out: &Path, scenario: &str, run_id: &str) -> PathBuf {
    out.join(scenario).join(run_id)
}

/// Where the conductor publishes the start, in the run's folder.
const START_FILE: &str = "start-at";

/// A shard's run folder, `<out>/<scenario>/<run ID>/shard-<i>/`, with an
/// exact copy of the scenario; refused if it exists, as that shard ran
/// already and a second run of it would double its load.
pub(super) fn shard_dir(
    out: &Path,
    scenario: &str,
    plan: &ShardPlan,
    source: &str,
) -> Result<PathBuf, RunError> {
    let dir = run_folder(out, scenario, &plan.run_id).join(format!("shard-{}", plan.shard.index));
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| RunError::new(format!("failed to create {}: {e}", parent.display())))?;
    }
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RunError::new(format!(
                "{} exists: shard {} of run {} ran already, and a second run of it would double its load",
                dir.display(),
                plan.shard,
                plan.run_id
            )));
        }
        Err(e) => {
            return Err(RunError::new(format!(
                "failed to create the shard's folder {}: {e}",
                dir.display()
            )));
        }
    }
    let copy = dir.join("scenario.yaml");
    std::fs::write(&copy, source)
        .map_err(|e| RunError::new(format!("failed to write {}: {e}", copy.display())))?;
    Ok(dir)
}

/// The conductor's side of a start nobody gave: `lead` from now, written
/// to the run's folder for the other shards (whole, by a rename), unless
/// a start is there already, which is kept.
pub fn publish_start(run: &Path, lead: Duration) -> Result<SystemTime, String> {
    let file = run.join(START_FILE);
    if let Some(start) = read_start(&file)? {
        return Ok(start);
    }
    std::fs::create_dir_all(run).map_err(|e| format!("failed to create {}: {e}", run.display()))?;
    let start = SystemTime::now() + lead;
    let text = humantime::format_rfc3339_micros(start).to_string();
    let part = run.join(format!("{START_FILE}.part"));
    std::fs::write(&part, format!("{text}\n"))
        .and_then(|()| std::fs::rename(&part, &file))
        .map_err(|e| format!("failed to publish the start in {}: {e}", file.display()))?;
    Ok(start)
}

/// The other shards' side: the start the conductor published in the
/// run's folder, looked for every 200 ms for up to `within`.
pub fn await_start(run: &Path, within: Duration) -> Result<SystemTime, String> {
    let file = run.join(START_FILE);
    let until = std::time::Instant::now() + within;
    loop {
        if let Some(start) = read_start(&file)? {
            return Ok(start);
        }
        if std::time::Instant::now() >= until {
            return Err(format!(
                "the conductor (shard 0) published no start in {} within {}s: is it running, with the same --out and --run-id?",
                file.display(),
                within.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read_start(file: &Path) -> Result<Option<SystemTime>, String> {
    match std::fs::read_to_string(file) {
        Ok(text) => humantime::parse_rfc3339(text.trim())
            .map(Some)
            .map_err(|e| format!("{}: not an RFC 3339 time: {e}", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("failed to read {}: {e}", file.display())),
    }
}

/// Time between two looks at the node's `Date`.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// Looks at the node's `Date` until its second ticks over (a little over
/// a second at most) and records the offset it shows. Nothing is judged
/// on it; the merge states the bound it gives.
pub(super) async fn read_clock(node: &str, client: &ApiClient, events: &Events) {
    let wall = || {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64)
    };
    let mut looks: Vec<DateLook> = Vec::new();
    let mut error = None;
    let until = tokio::time::Instant::now() + Duration::from_millis(1_300);
    while tokio::time::Instant::now() < until {
        let sent_us = wall();
        match client.server_date(Duration::from_secs(2)).await {
            Ok(date_s) => looks.push(DateLook {
                sent_us,
                answered_us: wall(),
                date_s,
            }),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        if offset_from_tick(&looks).is_some() {
            break;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
    let reading = offset_from_tick(&looks);
    events.send(Event::ClockOffset(ClockOffset {
        at_us: events.now_us(),
        node: node.to_string(),
        offset_us: reading.map(|r| r.0),
        within_us: reading.map(|r| r.1),
        error: match reading {
            Some(_) => None,
            None => Some(error.unwrap_or_else(|| "its Date did not tick over".into())),
        },
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_given_one_start_agree_on_the_run_id() {
        let start = humantime::parse_rfc3339("2026-12-07T21:00:00Z").unwrap();
        let id = derived_run_id("failover", start);
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, derived_run_id("failover", start));
        assert_ne!(id, derived_run_id("drain", start));
        assert_ne!(
            id,
            derived_run_id("failover", start + Duration::from_secs(1))
        );
    }

    #[test]
    fn the_conductor_publishes_one_start_and_the_others_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("failover").join("ab12cd34");
        let none = await_start(&run, Duration::from_millis(300)).unwrap_err();
        assert!(none.contains("published no start"), "{none}");
        let start = publish_start(&run, Duration::from_secs(5)).unwrap();
        // A second publish keeps the first start.
        let again = publish_start(&run, Duration::from_secs(50)).unwrap();
        let read = await_start(&run, Duration::from_secs(1)).unwrap();
        let micros = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_micros()
        };
        assert_eq!(micros(again), micros(start));
        assert_eq!(micros(read), micros(start));
    }

    #[test]
    fn a_shard_runs_once_in_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let plan = ShardPlan {
            shard: Shard { index: 2, count: 3 },
            start: SystemTime::now(),
            run_id: "ab12cd34".into(),
        };
        let made = shard_dir(dir.path(), "failover", &plan, "name: failover\n").unwrap();
        assert_eq!(made, dir.path().join("failover/ab12cd34/shard-2"));
        assert!(made.join("scenario.yaml").is_file());
        let again = shard_dir(dir.path(), "failover", &plan, "").unwrap_err();
        assert!(again.to_string().contains("ran already"), "{again}");
    }
}
