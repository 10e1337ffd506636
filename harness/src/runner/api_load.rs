//! The open-model API load: each request starts at its scheduled time
//! whatever happened to the ones before, every one recorded with its
//! intended start. The scenario's `api` workload runs it from the warm-up
//! until the check phase; each step of a capacity search runs it for the
//! step's hold and keeps the step's requests to judge it. A shard of a
//! split run sends its slice of the one schedule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use crate::client::ApiClient;
use crate::history::{Event, Events, Request};
use crate::scenario::{ApiLoad, Mix};
use crate::schedule::RequestSchedule;
use crate::vocab::Shard;

/// What an open-model load offers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer {
    /// Requests started each second.
    pub rate: f64,
    /// Their kinds.
    pub mix: Mix,
    /// A request without a complete response in this time gives up.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub max_in_flight: u32,
    /// The slice of the schedule this process sends: every `count`-th
    /// request from `index` (the whole schedule unless the run is split).
    pub shard: Shard,
}

impl Offer {
    pub fn of(api: &ApiLoad) -> Self {
        Self {
            rate: api.rate.get(),
            mix: api.mix(),
            timeout: api.timeout.value.get(),
            max_in_flight: api.max_in_flight.value,
            shard: Shard::WHOLE,
        }
    }
}

/// The scenario's API load, or the shard's slice of it, scheduled from
/// `from_us` on the run's clock until `stop`.
pub(super) async fn drive_load(
    client: ApiClient,
    (api, shard): (ApiLoad, Shard),
    seed: u64,
    events: Events,
    (stop, from_us): (watch::Receiver<bool>, u64),
) {
    let offer_of = Offer {
        shard,
        ..Offer::of(&api)
    };
    offer(client, offer_of, seed, events, stop, (from_us, None)).await;
}

/// Longest a pacer sleeps before it looks at `stop` again.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Offers `load` from `base_us` on the run's clock until `stop` (or until
/// its sender is gone), or for `hold` when one is given, and then waits
/// for every request in flight (each ends within its timeout). Each
/// request starts at its scheduled time whatever happened to the ones
/// before; waiting for a free slot counts in its latency, measured from
/// the intended start. With a `hold`, a request still waiting for a slot
/// when the hold is over is not sent but recorded as failed, so a step
/// ends on time whatever the cluster does; and the requests it made are
/// given back, as the history records them.
///
/// A thread of its own paces the requests: the runtime's timer wakes on
/// whole milliseconds, which alone would send the median request half a
/// millisecond late, while a thread's sleep ends within tens of
/// microseconds of its time (docs/performance.md, "The generator").
pub(super) async fn offer(
    client: ApiClient,
    load: Offer,
    seed: u64,
    events: Events,
    stop: watch::Receiver<bool>,
    (base_us, hold): (u64, Option<Duration>),
) -> Vec<Request> {
    let slots = load.max_in_flight as usize;
    let in_flight = Arc::new(Semaphore::new(slots));
    let kept = Arc::new(Mutex::new(Vec::new()));
    let pacer = Pacer {
        client,
        load,
        seed,
        events,
        stop,
        base_us,
        hold,
        in_flight: in_flight.clone(),
        kept: kept.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let (done, paced) = tokio::sync::oneshot::channel();
    let started = std::thread::Builder::new()
        .name("harness-pacer".into())
        .spawn(move || {
            pacer.run();
            let _ = done.send(());
        });
    match started {
        Ok(_) => {
            let _ = paced.await;
        }
        Err(e) => eprintln!("harness: the load's pacing thread did not start: {e}"),
    }
    let _ = in_flight.acquire_many(slots as u32).await;
    std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()))
}

/// What the pacing thread needs.
struct Pacer {
    client: ApiClient,
    load: Offer,
    seed: u64,
    events: Events,
    stop: watch::Receiver<bool>,
    base_us: u64,
    hold: Option<Duration>,
    in_flight: Arc<Semaphore>,
    kept: Arc<Mutex<Vec<Request>>>,
    runtime: tokio::runtime::Handle,
}

impl Pacer {
    /// Stopped, or nobody left to say so.
    fn stopped(&self) -> bool {
        self.stop.has_changed().is_err() || *self.stop.borrow()
    }

    /// Sleeps until `at_us` on the run's clock; false if stopped first.
    fn sleep_until(&self, at_us: u64) -> bool {
        loop {
            if self.stopped() {
                return false;
            }
            let left = at_us.saturating_sub(self.events.now_us());
            if left == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_micros(left).min(LOOK_EVERY));
        }
    }

    fn run(self) {
        let base_us = self.base_us;
        let end_us = self.hold.map(|h| h.as_micros() as u64);
        // Until when the schedule was held up by a full set of slots: what
        // fell due before then was sent late for the cluster's slowness.
        let mut held_until_us = 0;
        let schedule = RequestSchedule::new(self.load.rate, self.load.mix, self.seed);
        for planned in schedule.filter(|p| self.load.shard.owns(p.seq)) {
            if end_us.is_some_and(|end| planned.at_us >= end) {
                break;
            }
            let intended_us = base_us.saturating_add(planned.at_us);
            if !self.sleep_until(intended_us) {
                break;
            }
            let permit = match self.in_flight.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    // Waits for a slot, looking at `stop` now and then.
                    let waited = self.runtime.block_on(async {
                        let mut stop = self.stop.clone();
                        tokio::select! {
                            p = self.in_flight.clone().acquire_owned() => p.ok(),
                            _ = stop.changed() => None,
                        }
                    });
                    let Some(p) = waited else { break };
                    held_until_us = self.events.now_us();
                    if end_us.is_some_and(|end| held_until_us >= base_us.saturating_add(end)) {
                        drop(p);
                        self.not_sent(base_us, planned.seq, end_us.unwrap_or(0));
                        break;
                    }
                    p
                }
            };
            let held = intended_us <= held_until_us;
            self.send(planned, intended_us, held, permit);
        }
    }

    /// The rest of a hold's requests, from `seq` on, recorded as failed
    /// and never sent: the hold was over while they waited for a slot.
    fn not_sent(&self, base_us: u64, seq: u64, end_us: u64) {
        let now = self.events.now_us();
        let rest = RequestSchedule::new(self.load.rate, self.load.mix, self.seed)
            .skip_while(|p| p.seq < seq)
            .take_while(|p| p.at_us < end_us)
            .filter(|p| self.load.shard.owns(p.seq));
        for planned in rest {
            let request = Request {
                seq: planned.seq,
                op: planned.op,
                intended_us: base_us.saturating_add(planned.at_us),
                sent_us: now,
                done_us: now,
                outcome: crate::history::Outcome::Fail,
                status: None,
                error: Some("not sent: max_in_flight requests were in flight all the step".into()),
                bytes: 0,
                node: None,
                held: true,
                load: false,
            };
            self.kept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(request.clone());
            self.events.send(Event::Request(request));
        }
    }

    /// Sends one request on the runtime, with its slot.
    fn send(
        &self,
        planned: crate::schedule::Planned,
        intended_us: u64,
        held: bool,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let client = self.client.clone();
        let events = self.events.clone();
        let kept = self.hold.is_some().then(|| self.kept.clone());
        let timeout = self.load.timeout;
        self.runtime.spawn(async move {
            let sent_us = events.now_us();
            let seen = client.invoke(planned.op, timeout).await;
            let request = Request {
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
                held,
                load: false,
            };
            if let Some(kept) = kept {
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(request.clone());
            }
            events.send(Event::Request(request));
            drop(permit);
        });
    }
}
