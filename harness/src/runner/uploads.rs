//! The upload workload: `count` packages, `concurrency` at a time, each
//! streamed as it is generated, by the retry policy of [`crate::upload`];
//! then, once the run has healed, each accepted package is read back (its
//! resource through the target, its bytes from every node directly) and every
//! package the run created is deleted, and only those. Also the body-limit
//! ladder's uploads, and a capacity step's uploads at once, which are
//! deleted as the step ends.
//!
//! The clean-up tells what it saw, not what it hoped. A run stopped early
//! starts no upload or retry again, ends at once the attempts still sending
//! their body (no server stores an incomplete body) and waits, within
//! [`ATTEMPTS_END_WITHIN`], for those whose body has gone: the node may be
//! storing it. Then it deletes; waits, within [`LATE_LANDING_WITHIN`], for
//! a package an attempt may still land (its body went, its answer failed,
//! and the server said it had none), deleting it when it comes; and looks
//! for every package once more. That last look is what the report says.
//!
//! Package versions carry a tag unique to the run (`1.0.<seq>-r<tag>`), so
//! a run never touches a package it did not make. In a split run each
//! shard uploads, reads back and deletes the packages whose numbers it
//! owns (a slow upload's one package is the conductor's), and only the
//! conductor climbs the ladder.

use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep_until};

use super::workload::{RunContext, Workload};
use crate::history::{
    Event, Events, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose, UploadStart,
};
use crate::limits::{
    ATTEMPTS_END_WITHIN, CLEANUP_WITHIN, CUT_ATTEMPTS_END_WITHIN, LATE_LANDING_WITHIN,
};
use crate::package::{PACKAGE_ID, PackageSpec};
use crate::scenario::{LadderLoad, UploadLoad, UploadSearch};
use crate::target::Target;
use crate::upload::{
    Attempt, Cut, OverwriteMode, UploadClass, Uploader, may_land_later, package_resource_id,
};
use crate::vocab::Shard;

/// An upload workload under way. Dropping it stops the uploads.
pub(super) struct UploadWorkload {
    handle: JoinHandle<()>,
    made: Arc<Mutex<Vec<Made>>>,
    target: Uploader,
    nodes: Vec<(String, Uploader)>,
    events: Events,
    /// Tells the attempts under way when to end early.
    cut: tokio::sync::watch::Sender<Cut>,
    /// How long the clean-up waits for a package an attempt may still land.
    late_within: std::time::Duration,
}

impl Drop for UploadWorkload {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// A package an upload may have created.
#[derive(Clone)]
struct Made {
    seq: u64,
    spec: PackageSpec,
    /// The upload ended in success (accepted, or found intact after a
    /// failure).
    accepted: bool,
    /// When an attempt of it that sent its whole body failed, not refused
    /// by the node: the server may store the package after the client has
    /// given up.
    may_land: Option<tokio::time::Instant>,
}

/// What an upload workload starts from: where it uploads, what it
/// records to, when its `at` counts from, and what seeds and tags its
/// packages.
#[derive(Clone)]
pub(super) struct Plan {
    pub target: Uploader,
    pub events: Events,
    pub start: Instant,
    pub seed: u64,
    /// The run's ID, in every package's version.
    pub tag: String,
    /// Which shard of the run this process is: it uploads the packages
    /// it owns, and only the conductor climbs a ladder.
    pub shard: Shard,
}

impl Plan {
    fn of(ctx: &RunContext, target: Uploader) -> Self {
        Self {
            target,
            events: ctx.events.clone(),
            start: ctx.start,
            seed: ctx.seed,
            tag: ctx.run_id.clone(),
            shard: ctx.shard,
        }
    }
}

/// What the uploads under way share: their plan, what they made, and
/// when to end early.
#[derive(Clone)]
struct Sending {
    plan: Plan,
    made: Arc<Mutex<Vec<Made>>>,
    cut: tokio::sync::watch::Receiver<Cut>,
}

/// The body-limit ladder under way: an upload workload of its own kind.
pub(super) struct LadderWorkload(UploadWorkload);

impl Workload for LadderWorkload {
    type Part = LadderLoad;

    /// Starts the ladder at `start + at`, through the LB or the node it
    /// names.
    fn start(ctx: &RunContext, l: LadderLoad) -> Result<Self, String> {
        let target = Uploader::new(
            &l.via.value,
            &via_url(&ctx.cluster, &l.via.value),
            ctx.key.clone(),
            &ctx.trust,
            std::time::Duration::from_secs(10),
            l.idle_timeout.value.get(),
            None,
        )?;
        Ok(Self(UploadWorkload::spawn_ladder(l, Plan::of(ctx, target))))
    }

    /// As the uploads' finish; accepted steps are deleted, not read back.
    async fn finish(
        self,
        stopped: bool,
        interrupt: tokio::sync::watch::Receiver<Option<String>>,
    ) -> Option<String> {
        self.0.finish(stopped, interrupt).await
    }
}

/// A capacity step's uploads under way: `at_once` uploaders through the
/// LB, each uploading one package after another. Those that start before
/// the step's end are its own; past the end the uploaders go on, so that
/// every upload of the step has that many at once all its life, until the
/// last of the step's own has ended; what they started meanwhile only
/// keeps the load up, and is let end. Whatever still runs the objective's
/// bound after the step's end is cut. Nothing is read back; every package
/// is deleted as the step ends.
pub(super) struct UploadStep {
    uploads: UploadWorkload,
    /// Uploads started before `until` and not yet ended.
    open: Arc<AtomicU64>,
    until: Instant,
}

impl UploadStep {
    /// Starts the uploaders, recorded to `events`, until `until` and
    /// then as the type says; the packages numbered from `numbers.0` and
    /// never past `numbers.1`.
    pub(super) fn spawn(
        ctx: &RunContext,
        search: &UploadSearch,
        (at_once, until, numbers): (u32, Instant, (u64, u64)),
        events: Events,
    ) -> Result<Self, String> {
        let target = Uploader::new(
            crate::history::LB_NAME,
            &ctx.cluster.lb_url(),
            ctx.key.clone(),
            &ctx.trust,
            search.connect_timeout.value.get(),
            search.idle_timeout.value.get(),
            None,
        )?;
        let plan = Plan {
            events,
            ..Plan::of(ctx, target)
        };
        let size = search.size.value.bytes();
        let next = Arc::new(AtomicU64::new(numbers.0));
        let open = Arc::new(AtomicU64::new(0));
        let uploaders = open.clone();
        let uploads = UploadWorkload::spawn_with(plan, Vec::new(), move |sending| async move {
            let mut running = JoinSet::new();
            for _ in 0..at_once {
                let (sending, next, open) = (sending.clone(), next.clone(), uploaders.clone());
                running.spawn(async move {
                    while *sending.cut.borrow() == Cut::Never {
                        // Counted before the clock is read: the step's end,
                        // which looks once `until` has passed, cannot miss
                        // an upload begun just before.
                        open.fetch_add(1, Ordering::SeqCst);
                        let own = Instant::now() < until;
                        if !own {
                            open.fetch_sub(1, Ordering::SeqCst);
                        }
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        if (!own && open.load(Ordering::SeqCst) == 0) || seq > numbers.1 {
                            if own {
                                open.fetch_sub(1, Ordering::SeqCst);
                            }
                            break;
                        }
                        upload_once(&sending, seq, size).await;
                        if own {
                            open.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            while running.join_next().await.is_some() {}
        });
        Ok(Self {
            uploads,
            open,
            until,
        })
    }

    /// Ends the step: waits until its own uploads have ended, or
    /// `give_up`, or an interrupt; stops the rest (see
    /// [`UploadWorkload::stop`]); and deletes every package the step made.
    /// An interrupt ends the wait, not the deletes; it is returned.
    pub(super) async fn end(
        mut self,
        give_up: Instant,
        interrupt: tokio::sync::watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let (open, until) = (self.open.clone(), self.until);
        let handle = &mut self.uploads.handle;
        // Once its own have ended, the uploaders start nothing more, and
        // what they began meanwhile is let end as well: a cut upload whose
        // last byte was going out as it was cut may yet be stored.
        let ended = async move {
            sleep_until(until).await;
            while open.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(OWN_ENDED_EVERY).await;
            }
            let _ = handle.await;
        };
        let mut why = None;
        tokio::select! {
            _ = tokio::time::timeout_at(give_up, ended) => {}
            w = super::interrupts::interrupted(interrupt) => why = Some(w),
        }
        // Not awaited twice: a finished step has nothing to stop.
        if !self.uploads.handle.is_finished() {
            self.uploads.stop().await;
        }
        self.uploads.clean_up().await;
        why
    }
}

/// How often a step's end looks whether its own uploads have ended.
const OWN_ENDED_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// The base URL of `lb` or of a node, by name (validation has checked
/// the name).
fn via_url(cluster: &Target, via: &str) -> String {
    if via == crate::history::LB_NAME {
        cluster.lb_url()
    } else {
        cluster.node_url(via).unwrap_or_default()
    }
}

impl UploadWorkload {
    /// Starts the uploads at `plan.start + at`; accepted packages are read
    /// back from `nodes` at the end.
    pub(super) fn spawn(
        cfg: UploadLoad,
        plan: Plan,
        nodes: Vec<(String, Uploader)>,
        progress: Option<MultiProgress>,
    ) -> Self {
        Self::spawn_with(plan, nodes, |sending| run(cfg, sending, progress))
    }

    /// Spawns `work` with what the uploads under way share, and keeps what
    /// the read-back and the clean-up need.
    fn spawn_with<F>(
        plan: Plan,
        nodes: Vec<(String, Uploader)>,
        work: impl FnOnce(Sending) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let made = Arc::new(Mutex::new(Vec::new()));
        let (cut, cut_rx) = tokio::sync::watch::channel(Cut::Never);
        let sending = Sending {
            plan: plan.clone(),
            made: made.clone(),
            cut: cut_rx,
        };
        let handle = tokio::spawn(work(sending));
        Self {
            handle,
            made,
            target: plan.target,
            nodes,
            events: plan.events,
            cut,
            late_within: LATE_LANDING_WITHIN,
        }
    }

    /// Starts the body-limit ladder at `plan.start + at`: one package per
    /// size, doubling, until the first refusal or the ceiling. Accepted
    /// steps are deleted at the end, not read back.
    pub(super) fn spawn_ladder(cfg: LadderLoad, plan: Plan) -> Self {
        Self::spawn_with(plan, Vec::new(), |sending| ladder(cfg, sending))
    }

    /// Deletes whatever the uploads may have made: a failed attempt can
    /// still land its package, after the clean-up's DELETE too, even when a
    /// retry of it was accepted.
    async fn clean_up(&self) {
        let mut made = self.made.lock().map(|m| m.clone()).unwrap_or_default();
        made.sort_by_key(|m| m.seq);
        let ids = made
            .iter()
            .map(|m| (package_resource_id(&m.spec), m.may_land))
            .collect();
        clean_up_packages(&self.target, ids, self.late_within, &self.events).await;
    }

    /// Stops the uploads early: none starts again, an attempt still sending
    /// its body ends at once, and one whose body has gone is given until
    /// [`ATTEMPTS_END_WITHIN`] for its answer, as the node may be storing
    /// its package; past that it is cut too. Each attempt ends recorded.
    async fn stop(&mut self) {
        let _ = self.cut.send(Cut::BeforeLastByte);
        if tokio::time::timeout(ATTEMPTS_END_WITHIN, &mut self.handle)
            .await
            .is_ok()
        {
            return;
        }
        let _ = self.cut.send(Cut::Now);
        // A cut attempt ends at once; this bounds a retry's read-back.
        if tokio::time::timeout(CUT_ATTEMPTS_END_WITHIN, &mut self.handle)
            .await
            .is_err()
        {
            self.handle.abort();
        }
    }
}

impl Workload for UploadWorkload {
    type Part = UploadLoad;

    /// Starts the uploads at `start + at`, through the LB or the node the
    /// workload names; the read-back goes to every node directly.
    fn start(ctx: &RunContext, u: UploadLoad) -> Result<Self, String> {
        let make = |name: &str, base: &str| {
            Uploader::new(
                name,
                base,
                ctx.key.clone(),
                &ctx.trust,
                u.connect_timeout.value.get(),
                u.idle_timeout.value.get(),
                u.throttle.as_ref().map(|t| t.value.bytes_per_sec()),
            )
        };
        let target = make(&u.via.value, &via_url(&ctx.cluster, &u.via.value))?;
        let nodes = ctx
            .cluster
            .nodes()
            .into_iter()
            .map(|(name, url)| make(&name, &url).map(|u| (name, u)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::spawn(
            u,
            Plan::of(ctx, target),
            nodes,
            ctx.bars.clone(),
        ))
    }

    /// Waits for the uploads (or, after an interrupt, stops them: see the
    /// module's notes), reads back what they made unless interrupted, and
    /// deletes it all. An interrupt while it waits or reads back stops
    /// that, not the deletes; it is returned.
    async fn finish(
        mut self,
        interrupted: bool,
        interrupt: tokio::sync::watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let mut why = None;
        let mut ended = false;
        if !interrupted {
            tokio::select! {
                _ = &mut self.handle => ended = true,
                w = super::interrupts::interrupted(interrupt.clone()) => why = Some(w),
            }
        }
        if !ended {
            self.stop().await;
        }
        if !interrupted && why.is_none() {
            let mut made = self.made.lock().map(|m| m.clone()).unwrap_or_default();
            made.sort_by_key(|m| m.seq);
            let verify_all = async {
                for m in &made {
                    if m.accepted {
                        verify(m, &self.target, &self.nodes, &self.events).await;
                    }
                }
            };
            tokio::select! {
                _ = verify_all => {}
                w = super::interrupts::interrupted(interrupt) => why = Some(w),
            }
        }
        self.clean_up().await;
        why
    }
}

/// Deletes packages the run made (the load phase's), each beside when an
/// attempt that may still land it ended; see [`clean_up_packages`].
pub(super) async fn delete_packages(
    through: &Uploader,
    ids: Vec<(String, Option<tokio::time::Instant>)>,
    events: &Events,
) {
    clean_up_packages(through, ids, LATE_LANDING_WITHIN, events).await;
}

/// How often the clean-up looks for a package that may still land.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Deletes a run's packages one by one, each recorded in the history; for
/// a package that may still land (beside its ID, when the attempt that may
/// land it ended), whatever the DELETE found, looks again and again until
/// `late_within` has passed since that attempt, deleting it each time it
/// is there (a late attempt lands after the DELETE, and a second one after
/// that); then looks for every package once more, deletes what is still
/// there, and looks at that again. Within [`CLEANUP_WITHIN`]
/// in all: what the time did not reach is recorded as not deleted, for
/// `harness cleanup --run-id`.
pub(super) async fn clean_up_packages(
    through: &Uploader,
    ids: Vec<(String, Option<tokio::time::Instant>)>,
    late_within: std::time::Duration,
    events: &Events,
) {
    let deadline = tokio::time::Instant::now() + CLEANUP_WITHIN;
    let mut waiting = Vec::new();
    let mut late_until = tokio::time::Instant::now();
    for (id, may_land) in &ids {
        delete_one(through, id, deadline, events).await;
        if let Some(since) = may_land {
            waiting.push((id.as_str(), *since + late_within));
            late_until = late_until.max(*since + late_within);
        }
    }
    let late_until = late_until.min(deadline);
    while !waiting.is_empty() && tokio::time::Instant::now() < late_until {
        tokio::time::sleep_until((tokio::time::Instant::now() + LOOK_EVERY).min(late_until)).await;
        let now = tokio::time::Instant::now();
        waiting.retain(|(_, until)| *until > now);
        for (id, _) in &waiting {
            if let Ok(Ok(Some(_))) = tokio::time::timeout_at(deadline, through.fetch(id)).await {
                delete_one(through, id, deadline, events).await;
            }
        }
    }
    // The last look, which the report believes (for a package that might
    // land late, only once it was watched for the whole wait); what is
    // still there gets one more delete, and a look after it.
    let watched = |may_land: &Option<tokio::time::Instant>| {
        may_land.is_some_and(|since| tokio::time::Instant::now() >= since + late_within)
    };
    let mut still = Vec::new();
    for (id, may_land) in &ids {
        if look(through, id, watched(may_land), deadline, events).await == Some(true) {
            still.push((id, may_land));
        }
    }
    for (id, may_land) in still {
        delete_one(through, id, deadline, events).await;
        look(through, id, watched(may_land), deadline, events).await;
    }
}

/// One DELETE, recorded: Some(true) if the package was there, Some(false)
/// if the server said it was not, None if that is not known.
async fn delete_one(
    through: &Uploader,
    id: &str,
    deadline: tokio::time::Instant,
    events: &Events,
) -> Option<bool> {
    let result = match tokio::time::timeout_at(deadline, through.delete(id)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "not deleted: the clean-up's {}s ran out",
            CLEANUP_WITHIN.as_secs()
        )),
    };
    events.send(Event::PackageDeleted {
        at_us: events.now_us(),
        id: id.to_string(),
        deleted: result.as_ref().is_ok_and(|d| *d),
        error: result.as_ref().err().cloned(),
    });
    result.ok()
}

/// Whether the server has a package, recorded.
async fn look(
    through: &Uploader,
    id: &str,
    landing_watched: bool,
    deadline: tokio::time::Instant,
    events: &Events,
) -> Option<bool> {
    let seen = match tokio::time::timeout_at(deadline, through.fetch(id)).await {
        Ok(r) => r.map(|p| p.is_some()),
        Err(_) => Err(format!(
            "not looked at: the clean-up's {}s ran out",
            CLEANUP_WITHIN.as_secs()
        )),
    };
    events.send(Event::PackageLook {
        at_us: events.now_us(),
        id: id.to_string(),
        present: seen.as_ref().ok().copied(),
        error: seen.as_ref().err().cloned(),
        landing_watched,
    });
    seen.ok()
}

async fn run(cfg: UploadLoad, sending: Sending, progress: Option<MultiProgress>) {
    let Plan {
        start,
        seed,
        tag,
        shard,
        ..
    } = &sending.plan;
    let (made, cut) = (&sending.made, &sending.cut);
    tokio::select! {
        _ = sleep_until(*start + cfg.at.value.get()) => {}
        _ = stopping(cut.clone()) => return,
    }
    // A shard uploads the packages it owns, with its share of the slots:
    // together the shards upload each package once, as many at once.
    let slots = Arc::new(Semaphore::new(
        shard.share(cfg.concurrency.value).max(1) as usize
    ));
    let mut running = JoinSet::new();
    let mine = (0..u64::from(cfg.count.value)).filter(|&seq| shard.owns(seq));
    for seq in mine {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        // Stopped while it waited for a slot: no new upload.
        if *cut.borrow() != Cut::Never {
            break;
        }
        let spec = PackageSpec {
            package_id: PACKAGE_ID.into(),
            version: format!("1.0.{seq}-r{tag}"),
            content: PackageSpec::content_for_total(cfg.size.value.bytes()),
            seed: seed.wrapping_add(seq),
        };
        let bar = progress.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(spec.len()));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(spec.file_name());
            bar
        });
        // Known before the first byte, so even an interrupted upload is
        // cleaned up.
        known(made, seq, &spec);
        let (cfg, sending) = (cfg.clone(), sending.clone());
        running.spawn(async move {
            upload_one(&cfg, &sending, seq, &spec, bar.clone()).await;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            drop(permit);
        });
    }
    while running.join_next().await.is_some() {}
}

async fn ladder(cfg: LadderLoad, sending: Sending) {
    let Plan {
        target,
        events,
        start,
        seed,
        tag,
        shard,
    } = &sending.plan;
    let (made, cut) = (&sending.made, &sending.cut);
    // One climb, each step waiting on the last: the conductor's alone,
    // under the other shards' load.
    if !shard.is_conductor() {
        return;
    }
    tokio::select! {
        _ = sleep_until(*start + cfg.at.value.get()) => {}
        _ = stopping(cut.clone()) => return,
    }
    for (step, size) in crate::scenario::ladder_sizes(cfg.from.value.bytes(), cfg.to.value.bytes())
        .into_iter()
        .enumerate()
    {
        if *cut.borrow() != Cut::Never {
            break;
        }
        let seq = step as u64;
        let spec = PackageSpec {
            package_id: PACKAGE_ID.into(),
            version: format!("0.{seq}.0-ladder{tag}"),
            content: PackageSpec::content_for_total(size),
            seed: seed.wrapping_add(1000 + seq),
        };
        known(made, seq, &spec);
        let mode = OverwriteMode::FailIfExists;
        let tried = started(events, UploadPurpose::Ladder, seq, 0, &spec, target);
        let a = target.attempt_until(&spec, mode, None, cut.clone()).await;
        let id = package_resource_id(&spec);
        record(events, tried, &spec, &id, target, mode, &a);
        if let Ok(mut m) = made.lock()
            && let Some(entry) = m.iter_mut().find(|e| e.seq == seq)
        {
            entry.may_land = lands_later(&a).then(tokio::time::Instant::now);
        }
        if a.class != UploadClass::Accepted {
            break;
        }
    }
}

/// One package of a capacity step: a single attempt, never retried (a
/// step counts what fails), recorded and noted for the clean-up.
async fn upload_once(sending: &Sending, seq: u64, size: u64) {
    let Plan {
        target,
        events,
        seed,
        tag,
        ..
    } = &sending.plan;
    let spec = PackageSpec {
        package_id: PACKAGE_ID.into(),
        version: format!("1.0.{seq}-r{tag}"),
        content: PackageSpec::content_for_total(size),
        seed: seed.wrapping_add(seq),
    };
    // Known before the first byte, so even a cut upload is cleaned up.
    known(&sending.made, seq, &spec);
    let mode = OverwriteMode::FailIfExists;
    let tried = started(events, UploadPurpose::Capacity, seq, 0, &spec, target);
    let a = target
        .attempt_until(&spec, mode, None, sending.cut.clone())
        .await;
    record(
        events,
        tried,
        &spec,
        &package_resource_id(&spec),
        target,
        mode,
        &a,
    );
    note(
        &sending.made,
        seq,
        a.class == UploadClass::Accepted,
        lands_later(&a),
    );
}

/// Resolves once the workload is told to stop.
async fn stopping(mut cut: tokio::sync::watch::Receiver<Cut>) {
    while *cut.borrow_and_update() == Cut::Never {
        if cut.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Whether the attempt may still leave its package on the server.
fn lands_later(a: &Attempt) -> bool {
    may_land_later(a.class, a.last_byte.is_some(), a.body_kind)
}

/// Notes a package before its first byte, so that even a cut upload is
/// cleaned up.
fn known(made: &Mutex<Vec<Made>>, seq: u64, spec: &PackageSpec) {
    if let Ok(mut m) = made.lock() {
        m.push(Made {
            seq,
            spec: spec.clone(),
            accepted: false,
            may_land: None,
        });
    }
}

/// Notes what an upload's attempts have shown so far, as each ends, so the
/// clean-up knows it even if the upload is cut off later.
fn note(made: &Mutex<Vec<Made>>, seq: u64, accepted: bool, may_land: bool) {
    if let Ok(mut m) = made.lock()
        && let Some(entry) = m.iter_mut().find(|e| e.seq == seq)
    {
        entry.accepted |= accepted;
        if may_land {
            entry.may_land = Some(tokio::time::Instant::now());
        }
    }
}

/// One package, by the retry policy, until it is known to be there or the
/// workload is stopped; each attempt noted in `made`.
async fn upload_one(
    cfg: &UploadLoad,
    sending: &Sending,
    seq: u64,
    spec: &PackageSpec,
    bar: Option<ProgressBar>,
) {
    let (target, events) = (&sending.plan.target, &sending.plan.events);
    let (made, cut) = (&*sending.made, &sending.cut);
    let id = package_resource_id(spec);
    let mut mode = cfg.overwrite_mode;
    let mut expected: Option<String> = None;
    for attempt in 0..=cfg.retries.value {
        if *cut.borrow() != Cut::Never {
            return;
        }
        if let Some(b) = &bar {
            b.set_position(0);
        }
        let tried = started(events, UploadPurpose::Workload, seq, attempt, spec, target);
        let a = target
            .attempt_until(spec, mode, bar.clone(), cut.clone())
            .await;
        record(events, tried, spec, &id, target, mode, &a);
        note(made, seq, a.class == UploadClass::Accepted, lands_later(&a));
        if a.class == UploadClass::Accepted {
            return;
        }
        // Worth another try: a timeout or reset; a 502 or 503 from an LB
        // still sending to a dead node; and a 409 on a retry, which may be
        // the first attempt landing late.
        let again = a.class.retryable()
            || matches!(a.status, Some(502 | 503))
            || (attempt > 0 && a.class == UploadClass::Exists);
        if !again {
            return;
        }
        // Did it arrive anyway? (Octopus.Client's VerifyTransfer.)
        let want = match (&a.sha1, &expected) {
            (Some(s), _) => s.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => {
                let spec = spec.clone();
                let s = tokio::task::spawn_blocking(move || spec.sha1())
                    .await
                    .unwrap_or_default();
                expected = Some(s.clone());
                s
            }
        };
        let found = fetch_and_record(
            events,
            target,
            seq,
            &id,
            PackageReadKind::AfterFailure,
            Some(want.clone()),
        )
        .await;
        match found {
            Ok(Some(p)) if p.hash == want && p.package_size_bytes == spec.len() => {
                note(made, seq, true, false);
                return;
            }
            // Something else is there under the name: replace it.
            Ok(Some(_)) => mode = OverwriteMode::OverwriteExisting,
            Ok(None) | Err(_) => {}
        }
        if attempt == cfg.retries.value {
            break;
        }
        // Give the LB's health checks time to take a dead node out.
        tokio::select! {
            _ = tokio::time::sleep(RETRY_PAUSE * (attempt + 1)) => {}
            _ = stopping(cut.clone()) => return,
        }
    }
}

/// The pause before a retry, times the attempt's number.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// One attempt: what it is for, its package's number and its own, and
/// when it began.
#[derive(Clone, Copy)]
struct Tried {
    purpose: UploadPurpose,
    seq: u64,
    attempt: u32,
    sent_us: u64,
}

/// Records that an attempt begins, before its first byte, so one whose
/// end never reaches the history (aborted, or the harness killed) is known
/// to have been in flight; gives the attempt, with its start.
fn started(
    events: &Events,
    purpose: UploadPurpose,
    seq: u64,
    attempt: u32,
    spec: &PackageSpec,
    target: &Uploader,
) -> Tried {
    let sent_us = events.now_us();
    events.send(Event::UploadStarted(UploadStart {
        purpose,
        seq,
        attempt,
        file: spec.file_name(),
        via: via_name(target),
        size: spec.len(),
        sent_us,
    }));
    Tried {
        purpose,
        seq,
        attempt,
        sent_us,
    }
}

/// Records how an attempt ended.
fn record(
    events: &Events,
    tried: Tried,
    spec: &PackageSpec,
    id: &str,
    target: &Uploader,
    mode: OverwriteMode,
    a: &Attempt,
) {
    let Tried {
        purpose,
        seq,
        attempt,
        sent_us,
    } = tried;
    let last_byte_us = a.last_byte.map(|d| sent_us + d.as_micros() as u64);
    let mib_s = a
        .last_byte
        .filter(|d| !d.is_zero())
        .map(|d| a.bytes_sent as f64 / (1024.0 * 1024.0) / d.as_secs_f64());
    events.send(Event::Upload(UploadAttempt {
        purpose,
        seq,
        attempt,
        file: spec.file_name(),
        id: id.to_string(),
        via: via_name(target),
        size: spec.len(),
        overwrite_mode: mode,
        sent_us,
        last_byte_us,
        done_us: sent_us + a.done.as_micros() as u64,
        bytes_sent: a.bytes_sent,
        class: a.class,
        status: a.status,
        error: a.error.clone(),
        sha1: a.sha1.clone(),
        server_hash: a.server_hash.clone(),
        mib_s,
        server: a.server.clone(),
        content_type: a.content_type.clone(),
        body_kind: a.body_kind,
    }));
}

/// The uploader's name in the history: `lb` or the node.
fn via_name(u: &Uploader) -> String {
    u.name().to_string()
}

/// Reads a package's resource through `target` and records what came back.
async fn fetch_and_record(
    events: &Events,
    target: &Uploader,
    seq: u64,
    id: &str,
    kind: PackageReadKind,
    expected: Option<String>,
) -> Result<Option<crate::upload::PackageBody>, String> {
    let found = target.fetch(id).await;
    let package = found.as_ref().ok().and_then(Option::as_ref);
    events.send(Event::PackageRead(PackageRead {
        at_us: events.now_us(),
        seq,
        id: id.to_string(),
        via: via_name(target),
        kind,
        status: found
            .as_ref()
            .ok()
            .map(|f| if f.is_some() { 200 } else { 404 }),
        size: package.map(|p| p.package_size_bytes),
        sha1: package.map(|p| p.hash.clone()),
        expected,
        error: found.as_ref().err().cloned(),
    }));
    found
}

/// Reads an accepted package back: its resource through the target, its
/// bytes from every node directly.
async fn verify(m: &Made, target: &Uploader, nodes: &[(String, Uploader)], events: &Events) {
    let id = package_resource_id(&m.spec);
    // Recorded for the checks; nothing to decide here.
    let _ = fetch_and_record(events, target, m.seq, &id, PackageReadKind::Metadata, None).await;
    for (name, node) in nodes {
        let got = node.download_sha1(&id).await;
        let (status, size, sha1, error) = match got {
            Ok((status, len, sha)) if (200..300).contains(&status) => {
                (Some(status), Some(len), Some(sha), None)
            }
            Ok((status, _, _)) => (Some(status), None, None, Some(format!("status {status}"))),
            Err(e) => (None, None, None, Some(e)),
        };
        events.send(Event::PackageRead(PackageRead {
            at_us: events.now_us(),
            seq: m.seq,
            id: id.clone(),
            via: name.clone(),
            kind: PackageReadKind::Download,
            status,
            size,
            sha1,
            expected: None,
            error,
        }));
    }
}

/// The clean-up against a small server of the test's own, which answers an
/// upload as an LB would (any status, any time after the body) and stores
/// the package when the test says, whatever became of the connection: what
/// a real node does once it has the whole body.
#[cfg(test)]
mod tests;
