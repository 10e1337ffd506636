//! One step of the upload search, judged: each upload started within the
//! hold by its duration from its start (connecting included) to its
//! answer, against the
//! objective; what got through as MiB/s over the hold; and the generator's
//! CPU over it (an upload search has no schedule to be late against)
//! (docs/capacity.md, "Uploads at once").

use std::collections::BTreeMap;

use super::super::figures::{histogram_of, ms, percentile_us, secs};
use super::super::generator::figures;
use super::step::{StepReport, seconds, verdict};
use crate::history::{CapacityStep, GeneratorSample, UploadAttempt, UploadPurpose};
use crate::scenario::{GeneratorBound, UploadSearch};
use crate::upload::STOPPED_BY_HARNESS;
use crate::vocab::{BodyKind, UploadClass};

/// An upload of the step, as the judgement sees it.
struct Judged<'a> {
    attempt: &'a UploadAttempt,
    /// Refused, reset, timed out or answered with an error; not one the
    /// step cut for running past its bound, which is over the bound.
    failed: bool,
    duration_us: u64,
}

/// Judges one step of the upload search from the uploads recorded (those
/// of the search started within the hold are judged; those from the
/// lead-in on count in what got through) and the generator's samples.
pub fn judge_upload_step<'a>(
    step: &CapacityStep,
    attempts: impl IntoIterator<Item = &'a UploadAttempt>,
    samples: &[GeneratorSample],
    search: &UploadSearch,
    rule: &GeneratorBound,
) -> StepReport {
    let window = (step.from_us, step.to_us);
    let bound_us = search.objective.duration.value.as_micros_u64();
    let ours: Vec<&UploadAttempt> = attempts
        .into_iter()
        .filter(|a| a.purpose == UploadPurpose::Capacity)
        .filter(|a| a.sent_us >= step.lead_from_us && a.sent_us < step.to_us)
        .collect();
    let inside: Vec<Judged<'_>> = ours
        .iter()
        .filter(|a| a.sent_us >= window.0)
        .map(|a| Judged {
            attempt: a,
            failed: a.class != UploadClass::Accepted && !cut(a),
            duration_us: a.done_us.saturating_sub(a.sent_us),
        })
        .collect();
    let generator = figures(std::iter::empty(), samples, window, rule);
    let n = inside.len() as u64;
    let errors = inside.iter().filter(|u| u.failed).count() as u64;
    let error_rate = errors as f64 / n.max(1) as f64;
    let ok: Vec<&Judged<'_>> = inside.iter().filter(|u| !u.failed).collect();
    let hist = histogram_of(ok.iter().map(|u| u.duration_us));
    let pct = |p| percentile_us(&hist, p);
    let objective = &search.objective;
    let mut broke = Vec::new();
    if n == 0 {
        broke.push("no upload started within the hold".to_string());
    }
    if n > 0 && error_rate > objective.max_failed.value.fraction() {
        broke.push(format!(
            "{:.1}% of uploads failed, over {}: {}",
            error_rate * 100.0,
            objective.max_failed.value,
            mostly_failed(&inside)
        ));
    }
    match pct(99.0) {
        Some(p) if p >= bound_us => {
            let over = ok.iter().filter(|u| u.duration_us >= bound_us).count();
            let cut = ok.iter().filter(|u| cut(u.attempt)).count();
            let cut = if cut > 0 {
                format!(", {cut} of them cut when the step gave up on them")
            } else {
                String::new()
            };
            broke.push(format!(
                "duration p99 {}, not under {} ({over} over it{cut})",
                seconds(p),
                objective.duration.value
            ));
        }
        None if n > 0 => broke.push("no upload got through".to_string()),
        _ => {}
    }
    let met = format!(
        "duration p99 {}, {:.1}% failed",
        seconds(pct(99.0).unwrap_or(0)),
        error_rate * 100.0
    );
    let (verdict, why) = verdict(&generator, broke, met);
    StepReport {
        offered: step.rate,
        achieved: mib_within(&ours, window) / secs(window.1.saturating_sub(window.0)).max(1e-6),
        part: step.part.clone(),
        requests: n,
        errors,
        error_rate,
        p50_ms: pct(50.0).map_or(0.0, ms),
        p99_ms: pct(99.0).map_or(0.0, ms),
        generator,
        verdict,
        why,
    }
}

/// Whether the step cut the upload: still running its bound after the
/// hold (a step that is interrupted is not judged).
fn cut(a: &UploadAttempt) -> bool {
    a.error
        .as_deref()
        .is_some_and(|e| e.starts_with(STOPPED_BY_HARNESS))
}

/// MiB of accepted uploads sent within `window`: each upload's bytes
/// spread evenly from its first byte to its last, and the share inside the
/// window taken (an upload of a gigabyte outlasts many a hold).
fn mib_within(uploads: &[&UploadAttempt], (from_us, to_us): (u64, u64)) -> f64 {
    uploads
        .iter()
        .filter(|a| a.class == UploadClass::Accepted)
        .filter_map(|a| {
            let last = a.last_byte_us?;
            let span = last.saturating_sub(a.sent_us).max(1);
            let inside = last.min(to_us).saturating_sub(a.sent_us.max(from_us));
            Some(a.bytes_sent as f64 * inside as f64 / span as f64)
        })
        .sum::<f64>()
        / (1024.0 * 1024.0)
}

/// The commonest way uploads failed, and who answered: Octopus's own error
/// is a node's; a page of another kind is usually the LB's.
fn mostly_failed(uploads: &[Judged<'_>]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in uploads.iter().filter(|u| u.failed).map(|u| u.attempt) {
        let what = match (a.status, &a.error) {
            (Some(s), _) => {
                let who = match a.body_kind {
                    Some(BodyKind::OctopusError | BodyKind::Json) => "from a node",
                    Some(_) => "not from a node (the LB's page)",
                    None => "",
                };
                format!("{s} {who}").trim_end().to_string()
            }
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".to_string(),
        };
        *counts.entry(what).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or_else(String::new, |(what, n)| format!("mostly {what} ({n})"))
}

#[cfg(test)]
mod tests {
    use super::super::StepVerdict;
    use super::*;
    use crate::scenario::parse_str;
    use crate::vocab::OverwriteMode;

    /// A step of 4 at once whose hold runs from 1 s to 3 s, after a
    /// lead-in from 0.
    fn step() -> CapacityStep {
        CapacityStep {
            search: "uploads".into(),
            rate: 4.0,
            lead_from_us: 0,
            from_us: 1_000_000,
            to_us: 3_000_000,
            nodes: 2,
            drained: Vec::new(),
            part: "ladder".into(),
        }
    }

    fn search() -> UploadSearch {
        let s = parse_str(
            "name: up\nduration: 2s\ncluster: { nodes: 2 }\n\
             capacity:\n  uploads:\n    size: 10MiB\n    start: 1\n    ceiling: 8\n    objective: { duration: 1s }\n",
        )
        .unwrap();
        s.capacity.unwrap().value.uploads.unwrap()
    }

    /// An upload of 10 MiB sent at `sent_s`, its last byte at `last_s`
    /// and its answer at `done_s`.
    fn upload(sent_s: f64, last_s: f64, done_s: f64, class: UploadClass) -> UploadAttempt {
        let us = |s: f64| (s * 1e6) as u64;
        UploadAttempt {
            purpose: UploadPurpose::Capacity,
            seq: 0,
            attempt: 0,
            file: "p.zip".into(),
            id: "packages-p".into(),
            via: "lb".into(),
            size: 10 << 20,
            overwrite_mode: OverwriteMode::FailIfExists,
            sent_us: us(sent_s),
            last_byte_us: Some(us(last_s)),
            done_us: us(done_s),
            bytes_sent: 10 << 20,
            class,
            status: (class == UploadClass::Accepted).then_some(201),
            error: None,
            sha1: None,
            server_hash: None,
            mib_s: None,
            server: None,
            content_type: None,
            body_kind: None,
        }
    }

    fn judge(uploads: &[UploadAttempt]) -> StepReport {
        judge_upload_step(&step(), uploads, &[], &search(), &GeneratorBound::default())
    }

    #[test]
    fn an_upload_the_step_cut_past_its_bound_is_over_it_and_the_lead_in_counts_only_in_mib() {
        let fast = |at: f64| upload(at, at + 0.3, at + 0.4, UploadClass::Accepted);
        let mut uploads = vec![fast(1.0), fast(1.5), fast(2.0)];
        // From the lead-in: not judged; half its bytes went in the hold.
        uploads.push(upload(0.5, 1.5, 1.6, UploadClass::Accepted));
        // Still sending when the step gave up, 1 s after the hold.
        let mut cut = upload(2.5, 4.1, 4.1, UploadClass::Other);
        cut.error = Some(format!("{STOPPED_BY_HARNESS}, 1000 bytes sent"));
        uploads.push(cut);
        let r = judge(&uploads);
        assert_eq!((r.requests, r.errors), (4, 0), "{r:?}");
        assert_eq!(r.verdict, StepVerdict::Missed, "{r:?}");
        assert!(
            r.why
                .starts_with("duration p99 1.6 s, not under 1s (1 over it, 1 of them cut"),
            "{}",
            r.why
        );
        // 3 × 10 MiB and half of 10 MiB over the 2 s hold; the cut one
        // delivered nothing.
        assert!((r.achieved - 17.5).abs() < 1e-6, "{}", r.achieved);
        // Nothing was scheduled: no send lag to judge.
        assert_eq!(r.generator.lag_p99_ms(), None);

        // Without the cut one the step meets its bound.
        uploads.pop();
        let r = judge(&uploads);
        assert_eq!(r.verdict, StepVerdict::Met, "{r:?}");
        assert_eq!(r.why, "duration p99 400 ms, 0.0% failed");
    }

    #[test]
    fn refused_uploads_are_failures_and_say_who_answered() {
        let mut refused = upload(1.2, 1.3, 1.3, UploadClass::TooLarge);
        refused.status = Some(413);
        refused.body_kind = Some(BodyKind::Html);
        let uploads = [
            upload(1.0, 1.3, 1.4, UploadClass::Accepted),
            refused.clone(),
            refused,
            upload(2.0, 2.3, 2.4, UploadClass::Accepted),
        ];
        let r = judge(&uploads);
        assert_eq!((r.requests, r.errors), (4, 2), "{r:?}");
        assert_eq!(r.verdict, StepVerdict::Missed);
        assert_eq!(
            r.why,
            "50.0% of uploads failed, over 1%: mostly 413 not from a node (the LB's page) (2)"
        );
        // Uploads of another purpose are not the step's.
        let mut other = upload(1.0, 1.3, 1.4, UploadClass::Accepted);
        other.purpose = UploadPurpose::Workload;
        assert_eq!(judge(&[other]).requests, 0);
    }
}
