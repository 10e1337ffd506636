//! The scenario's API load, open-model: each request starts at its
//! scheduled time whatever happened to the ones before, from the warm-up
//! until the check phase, every one recorded with its intended start.

use std::sync::Arc;

use tokio::sync::{Semaphore, watch};
use tokio::time::sleep_until;

use crate::client::ApiClient;
use crate::history::{Event, Events, Request};
use crate::scenario::ApiLoad;
use crate::schedule::RequestSchedule;

/// Open-model load: each request starts at its scheduled time whatever
/// happened to the ones before; waiting for a free slot counts in its
/// latency, measured from the intended start.
pub(super) async fn drive_load(
    client: ApiClient,
    api: ApiLoad,
    seed: u64,
    events: Events,
    mut stop: watch::Receiver<bool>,
) {
    let clock = events.clock();
    let base_us = clock.now_us();
    let slots = api.max_in_flight.value as usize;
    let in_flight = Arc::new(Semaphore::new(slots));
    let timeout = api.timeout.value.get();
    for planned in RequestSchedule::new(api.rate.get(), api.mix(), seed) {
        if *stop.borrow() {
            break;
        }
        let intended_us = base_us.saturating_add(planned.at_us);
        tokio::select! {
            _ = sleep_until(clock.instant(intended_us)) => {}
            _ = stop.changed() => break,
        }
        let permit = tokio::select! {
            p = in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let client = client.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let sent_us = events.now_us();
            let seen = client.invoke(planned.op, timeout).await;
            events.send(Event::Request(Request {
                seq: planned.seq,
                op: planned.op,
                intended_us,
                sent_us,
                done_us: events.now_us(),
                outcome: seen.outcome,
                status: seen.status,
                error: seen.error,
                bytes: seen.bytes,
                node: seen.node,
            }));
            drop(permit);
        });
    }
    // Wait for every request in flight; each ends within its timeout.
    let _ = in_flight.acquire_many(slots as u32).await;
}
