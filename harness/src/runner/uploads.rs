//! The upload workload: `count` packages, `concurrency` at a time, each
//! streamed as it is generated, by the retry policy of [`crate::upload`];
//! then, once the run has healed, each accepted package is read back (its
//! resource through the target, its bytes from every node directly) and every
//! package the run created is deleted, and only those.
//!
//! Package versions carry a tag unique to the run (`1.0.<seq>-r<tag>`), so
//! a run never touches a package it did not make.

use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep_until};

use crate::history::{Event, Events, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose};
use crate::limits::CLEANUP_WITHIN;
use crate::package::PackageSpec;
use crate::scenario::{LadderLoad, UploadLoad};
use crate::upload::{Attempt, OverwriteMode, UploadClass, Uploader, package_resource_id};

/// The package ID of every package the harness makes.
pub const PACKAGE_ID: &str = "HarnessProbe";

/// An upload workload under way. Dropping it stops the uploads.
pub(super) struct UploadWorkload {
    handle: JoinHandle<()>,
    made: Arc<Mutex<Vec<Made>>>,
    target: Uploader,
    nodes: Vec<(String, Uploader)>,
    events: Events,
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
}

impl UploadWorkload {
    /// Starts the uploads at `start + at`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        cfg: UploadLoad,
        target: Uploader,
        nodes: Vec<(String, Uploader)>,
        events: Events,
        start: Instant,
        seed: u64,
        tag: String,
        progress: Option<MultiProgress>,
    ) -> Self {
        let made = Arc::new(Mutex::new(Vec::new()));
        let handle = tokio::spawn(run(
            cfg,
            target.clone(),
            events.clone(),
            start,
            seed,
            tag,
            progress,
            made.clone(),
        ));
        Self {
            handle,
            made,
            target,
            nodes,
            events,
        }
    }

    /// Starts the body-limit ladder at `start + at`: one package per size,
    /// doubling, until the first refusal or the ceiling. Accepted steps
    /// are deleted at the end, not read back.
    pub(super) fn start_ladder(
        cfg: LadderLoad,
        target: Uploader,
        events: Events,
        start: Instant,
        seed: u64,
        tag: String,
    ) -> Self {
        let made = Arc::new(Mutex::new(Vec::new()));
        let handle = tokio::spawn(ladder(
            cfg,
            target.clone(),
            events.clone(),
            start,
            seed,
            tag,
            made.clone(),
        ));
        Self {
            handle,
            made,
            target,
            nodes: Vec::new(),
            events,
        }
    }

    /// Waits for the uploads (or, after an interrupt, stops them), reads
    /// back what they made unless interrupted, and deletes it all. An
    /// interrupt while it waits or reads back stops that, not the deletes;
    /// it is returned.
    pub(super) async fn finish(
        mut self,
        interrupted: bool,
        interrupt: tokio::sync::watch::Receiver<Option<String>>,
    ) -> Option<String> {
        let mut why = None;
        if interrupted {
            self.handle.abort();
        }
        tokio::select! {
            _ = &mut self.handle => {}
            w = super::interrupted(interrupt.clone()), if !interrupted => {
                self.handle.abort();
                why = Some(w);
            }
        }
        let mut made = self.made.lock().map(|m| m.clone()).unwrap_or_default();
        made.sort_by_key(|m| m.seq);
        if !interrupted && why.is_none() {
            let verify_all = async {
                for m in &made {
                    if m.accepted {
                        verify(m, &self.target, &self.nodes, &self.events).await;
                    }
                }
            };
            tokio::select! {
                _ = verify_all => {}
                w = super::interrupted(interrupt) => why = Some(w),
            }
        }
        // Delete whatever may exist: a failed upload can still have landed.
        let ids = made.iter().map(|m| package_resource_id(&m.spec)).collect();
        delete_packages(&self.target, ids, &self.events).await;
        why
    }
}

/// Deletes a run's packages one by one, each recorded in the history,
/// within [`CLEANUP_WITHIN`] in all: those the time did not reach are
/// recorded as not deleted, for `harness cleanup --run-id`.
pub(super) async fn delete_packages(through: &Uploader, ids: Vec<String>, events: &Events) {
    let deadline = tokio::time::Instant::now() + CLEANUP_WITHIN;
    for id in ids {
        let result = match tokio::time::timeout_at(deadline, through.delete(&id)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "not deleted: the clean-up's {}s ran out",
                CLEANUP_WITHIN.as_secs()
            )),
        };
        events.send(Event::PackageDeleted {
            at_us: events.now_us(),
            id,
            deleted: result.as_ref().is_ok_and(|d| *d),
            error: result.err(),
        });
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    cfg: UploadLoad,
    target: Uploader,
    events: Events,
    start: Instant,
    seed: u64,
    tag: String,
    progress: Option<MultiProgress>,
    made: Arc<Mutex<Vec<Made>>>,
) {
    sleep_until(start + cfg.at.value.get()).await;
    let slots = Arc::new(Semaphore::new(cfg.concurrency.value as usize));
    let mut running = JoinSet::new();
    for seq in 0..u64::from(cfg.count.value) {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
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
        if let Ok(mut m) = made.lock() {
            m.push(Made {
                seq,
                spec: spec.clone(),
                accepted: false,
            });
        }
        let (cfg, target, events, made) =
            (cfg.clone(), target.clone(), events.clone(), made.clone());
        running.spawn(async move {
            let accepted = upload_one(&cfg, &target, &events, seq, &spec, bar.clone()).await;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if let Ok(mut m) = made.lock()
                && let Some(entry) = m.iter_mut().find(|e| e.seq == seq)
            {
                entry.accepted = accepted;
            }
            drop(permit);
        });
    }
    while running.join_next().await.is_some() {}
}

/// The sizes of the ladder: `from`, doubling, then the ceiling itself.
pub fn ladder_sizes(from: u64, to: u64) -> Vec<u64> {
    let mut sizes = Vec::new();
    let mut size = from.max(1);
    while size < to {
        sizes.push(size);
        size = size.saturating_mul(2);
    }
    sizes.push(to);
    sizes
}

async fn ladder(
    cfg: LadderLoad,
    target: Uploader,
    events: Events,
    start: Instant,
    seed: u64,
    tag: String,
    made: Arc<Mutex<Vec<Made>>>,
) {
    sleep_until(start + cfg.at.value.get()).await;
    for (step, size) in ladder_sizes(cfg.from.value.bytes(), cfg.to.value.bytes())
        .into_iter()
        .enumerate()
    {
        let seq = step as u64;
        let spec = PackageSpec {
            package_id: PACKAGE_ID.into(),
            version: format!("0.{seq}.0-ladder{tag}"),
            content: PackageSpec::content_for_total(size),
            seed: seed.wrapping_add(1000 + seq),
        };
        if let Ok(mut m) = made.lock() {
            m.push(Made {
                seq,
                spec: spec.clone(),
                accepted: false,
            });
        }
        let mode = OverwriteMode::FailIfExists;
        let sent_us = events.now_us();
        let a = target.attempt(&spec, mode, None).await;
        let id = package_resource_id(&spec);
        record(
            &events,
            UploadPurpose::Ladder,
            seq,
            0,
            &spec,
            &id,
            &target,
            mode,
            sent_us,
            &a,
        );
        if a.class != UploadClass::Accepted {
            break;
        }
    }
}

/// One package, by the retry policy; true once it is known to be there.
async fn upload_one(
    cfg: &UploadLoad,
    target: &Uploader,
    events: &Events,
    seq: u64,
    spec: &PackageSpec,
    bar: Option<ProgressBar>,
) -> bool {
    let id = package_resource_id(spec);
    let mut mode = cfg.overwrite_mode;
    let mut expected: Option<String> = None;
    for attempt in 0..=cfg.retries.value {
        if let Some(b) = &bar {
            b.set_position(0);
        }
        let sent_us = events.now_us();
        let a = target.attempt(spec, mode, bar.clone()).await;
        record(
            events,
            UploadPurpose::Workload,
            seq,
            attempt,
            spec,
            &id,
            target,
            mode,
            sent_us,
            &a,
        );
        if a.class == UploadClass::Accepted {
            return true;
        }
        // Worth another try: a timeout or reset; a 502 or 503 from an LB
        // still sending to a dead node; and a 409 on a retry, which may be
        // the first attempt landing late.
        let again = a.class.retryable()
            || matches!(a.status, Some(502 | 503))
            || (attempt > 0 && a.class == UploadClass::Exists);
        if !again {
            return false;
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
            Ok(Some(p)) if p.hash == want && p.package_size_bytes == spec.len() => return true,
            // Something else is there under the name: replace it.
            Ok(Some(_)) => mode = OverwriteMode::OverwriteExisting,
            Ok(None) | Err(_) => {}
        }
        // Give the LB's health checks time to take a dead node out.
        tokio::time::sleep(RETRY_PAUSE * (attempt + 1)).await;
    }
    false
}

/// The pause before a retry, times the attempt's number.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[allow(clippy::too_many_arguments)]
fn record(
    events: &Events,
    purpose: UploadPurpose,
    seq: u64,
    attempt: u32,
    spec: &PackageSpec,
    id: &str,
    target: &Uploader,
    mode: OverwriteMode,
    sent_us: u64,
    a: &Attempt,
) {
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
