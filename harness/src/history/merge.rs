//! One history from a split run's shards (docs/shards.md): the folders
//! must be shards of one run (the same scenario, seed, run ID, start and
//! shard count, no shard twice); their events are merged in time order,
//! the cluster's side (phases, faults, node watching, identities) from
//! the conductor alone and the load from every shard; and the merged
//! history says which shards it holds. A shard missing, killed or stopped
//! early ends the merged run as interrupted, naming it, so nothing judged
//! on it can pass.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::event::{Event, ShardSeen, ShardsMerged};
use super::views::History;
use crate::vocab::Shard;

/// One shard's history, with the folder it came from.
pub struct ShardHistory {
    /// Its run folder, as the user named it.
    pub folder: String,
    /// Its events.
    pub history: History,
}

/// What a shard's `run_started` says of the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
struct RunOf {
    scenario: String,
    seed: u64,
    run_id: String,
    started_at: String,
    count: u32,
}

/// Why folders cannot be merged: they are not the shards of one run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(String);

/// Merges the shards' histories into one, judged as a single run's.
pub fn merge(shards: Vec<ShardHistory>) -> Result<History, MergeError> {
    let (run, mut indexed) = check_one_run(shards)?;
    indexed.sort_by_key(|(shard, _)| shard.index);
    let conductor = indexed.iter().position(|(s, _)| s.is_conductor());
    let seen: Vec<ShardSeen> = indexed.iter().map(|(s, h)| seen(*s, h)).collect();
    let mut problems: Vec<String> = (0..run.count)
        .filter(|i| !indexed.iter().any(|(s, _)| s.index == *i))
        .map(|i| {
            format!(
                "shard {i}/{} is missing: no folder given holds it",
                run.count
            )
        })
        .collect();
    for s in &seen {
        if let Some(why) = &s.unfinished {
            problems.push(format!(
                "shard {}/{} ({}) {why}",
                s.index, run.count, s.folder
            ));
        }
    }
    let mut header = indexed
        .get(conductor.unwrap_or(0))
        .and_then(|(_, h)| h.history.events.first().cloned())
        .unwrap_or(Event::RunStarted {
            scenario: run.scenario.clone(),
            seed: run.seed,
            run_id: run.run_id.clone(),
            target: String::new(),
            started_at: run.started_at.clone(),
            shard: None,
        });
    if let Event::RunStarted { shard, .. } = &mut header {
        *shard = None;
    }
    // The merged run ends when its last shard did.
    let end = indexed
        .iter()
        .flat_map(|(_, h)| h.history.events.iter().map(Event::stamp_us))
        .max()
        .unwrap_or(0);
    let streams: Vec<Vec<Event>> = indexed
        .into_iter()
        .map(|(s, h)| {
            h.history
                .events
                .into_iter()
                .filter(|e| kept(e, s.is_conductor()))
                .collect()
        })
        .collect();
    let mut events = vec![
        header,
        Event::Shards(ShardsMerged {
            count: run.count,
            skew_bound_us: skew_bound(&seen),
            shards: seen,
        }),
    ];
    events.extend(one_fleet(in_time_order(streams)));
    events.push(Event::RunEnded {
        at_us: end,
        interrupted: (!problems.is_empty()).then(|| problems.join("; ")),
    });
    Ok(History { events })
}

/// Each folder's shard and run, all one run's, no shard twice.
fn check_one_run(
    shards: Vec<ShardHistory>,
) -> Result<(RunOf, Vec<(Shard, ShardHistory)>), MergeError> {
    let mut run: Option<(RunOf, String)> = None;
    let mut indexed: Vec<(Shard, ShardHistory)> = Vec::new();
    for h in shards {
        let Some(Event::RunStarted {
            scenario,
            seed,
            run_id,
            started_at,
            shard: Some(shard),
            ..
        }) = h.history.events.first()
        else {
            return Err(MergeError(format!(
                "{}: not a shard's history: its first event is not a run_started naming a shard (was it run with --shard?)",
                h.folder
            )));
        };
        let this = RunOf {
            scenario: scenario.clone(),
            seed: *seed,
            run_id: run_id.clone(),
            started_at: started_at.clone(),
            count: shard.count,
        };
        match &run {
            None => run = Some((this, h.folder.clone())),
            Some((first, folder)) if *first != this => {
                return Err(MergeError(format!(
                    "{} and {} are not shards of one run: {}",
                    folder,
                    h.folder,
                    differences(first, &this)
                )));
            }
            Some(_) => {}
        }
        if let Some((_, other)) = indexed.iter().find(|(s, _)| s.index == shard.index) {
            return Err(MergeError(format!(
                "shard {shard} is given twice: {} and {}",
                other.folder, h.folder
            )));
        }
        indexed.push((*shard, h));
    }
    match run {
        Some((run, _)) => Ok((run, indexed)),
        None => Err(MergeError("no shard folder was given".into())),
    }
}

/// What two shards' runs differ in, said field by field.
fn differences(a: &RunOf, b: &RunOf) -> String {
    let mut said = Vec::new();
    if a.scenario != b.scenario {
        said.push(format!(
            "scenario {:?} against {:?}",
            a.scenario, b.scenario
        ));
    }
    if a.seed != b.seed {
        said.push(format!("seed {} against {}", a.seed, b.seed));
    }
    if a.run_id != b.run_id {
        said.push(format!("run ID {} against {}", a.run_id, b.run_id));
    }
    if a.started_at != b.started_at {
        said.push(format!("start {} against {}", a.started_at, b.started_at));
    }
    if a.count != b.count {
        said.push(format!("{} shards against {}", a.count, b.count));
    }
    said.join(", ")
}

/// What the merge says of one shard.
fn seen(shard: Shard, h: &ShardHistory) -> ShardSeen {
    let events = &h.history.events;
    let end = events.iter().map(Event::stamp_us).max().unwrap_or(0);
    let unfinished = match events.iter().find_map(|e| match e {
        Event::RunEnded { interrupted, .. } => Some(interrupted.clone()),
        _ => None,
    }) {
        None => Some(format!(
            "did not finish: its history ends at {:.1}s with no run_ended (killed, or it died)",
            end as f64 / 1e6
        )),
        Some(Some(why)) => Some(format!("stopped early: {why}")),
        Some(None) => None,
    };
    let clock = events.iter().find_map(|e| match e {
        Event::ClockOffset(c) => Some(c),
        _ => None,
    });
    ShardSeen {
        index: shard.index,
        folder: h.folder.clone(),
        events: events.len() as u64,
        requests: h.history.requests().count() as u64,
        unfinished,
        offset_us: clock.and_then(|c| c.offset_us),
        within_us: clock.and_then(|c| c.within_us),
    }
}

/// The most two shards' times may be apart, as the clock readings bound
/// it: the spread of the offsets plus the two least sure readings. None
/// when a shard has no reading.
fn skew_bound(seen: &[ShardSeen]) -> Option<u64> {
    let readings: Vec<(i64, u64)> = seen
        .iter()
        .map(|s| s.offset_us.zip(s.within_us))
        .collect::<Option<_>>()?;
    let low = readings.iter().map(|r| r.0).min()?;
    let high = readings.iter().map(|r| r.0).max()?;
    let mut within: Vec<u64> = readings.iter().map(|r| r.1).collect();
    within.sort_unstable_by(|a, b| b.cmp(a));
    let sure = within.iter().take(2).sum::<u64>();
    Some(high.abs_diff(low) + sure)
}

/// Whether a shard's event goes into the merged history. The conductor's
/// all go but its run_started and run_ended, as the merge writes its own;
/// every other shard gives its load, its fleet and what it saw of it, what
/// became of what it created, and its interruptions.
fn kept(e: &Event, conductor: bool) -> bool {
    match e {
        Event::RunStarted { .. } | Event::RunEnded { .. } | Event::Shards(_) => false,
        // Every shard's clock reading is in the `shards` event.
        Event::ClockOffset(_) => false,
        Event::Request(_)
        | Event::TaskSubmitted(_)
        | Event::Task(_)
        | Event::TaskLog(_)
        | Event::Upload(_)
        | Event::UploadStarted(_)
        | Event::PackageRead(_)
        | Event::PackageDeleted { .. }
        | Event::PackageLook { .. }
        | Event::Removed { .. }
        | Event::LoadEnded { .. }
        | Event::Fleet(_)
        | Event::Polling(_)
        | Event::HealthTask(_)
        | Event::Health(_)
        | Event::FleetRemoved { .. }
        | Event::Interrupted { .. } => true,
        // The cluster as the conductor saw and disrupted it, and the
        // conductor's own generator: samples of several processes in one
        // stream would read as one process's.
        _ => conductor,
    }
}

/// The shards' fleets as one, where the first of them started: every
/// shard's Tentacles, from the first start, so that the checks judge the
/// whole fleet.
fn one_fleet(events: Vec<Event>) -> Vec<Event> {
    let mut fleets = events.iter().filter_map(|e| match e {
        Event::Fleet(f) => Some(f),
        _ => None,
    });
    let Some(first) = fleets.next() else {
        return events;
    };
    let mut whole = first.clone();
    for f in fleets {
        whole.at_us = whole.at_us.min(f.at_us);
        whole.tentacles.extend(f.tentacles.iter().cloned());
        whole
            .registration_errors
            .extend(f.registration_errors.iter().cloned());
    }
    whole.tentacles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut whole = Some(whole);
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Fleet(_) => whole.take().map(Event::Fleet),
            other => Some(other),
        })
        .collect()
}

/// The streams merged by when each event was recorded; each stream keeps
/// its own order, and at equal times the lower shard goes first.
fn in_time_order(streams: Vec<Vec<Event>>) -> Vec<Event> {
    let total = streams.iter().map(Vec::len).sum();
    let mut iters: Vec<std::vec::IntoIter<Event>> =
        streams.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<Event>> = iters.iter_mut().map(Iterator::next).collect();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.as_ref().map(|e| Reverse((e.stamp_us(), i))))
        .collect();
    let mut out = Vec::with_capacity(total);
    while let Some(Reverse((_, i))) = heap.pop() {
        if let Some(e) = heads[i].take() {
            out.push(e);
        }
        heads[i] = iters[i].next();
        if let Some(e) = &heads[i] {
            heap.push(Reverse((e.stamp_us(), i)));
        }
    }
    out
}

#[cfg(test)]
mod tests;
