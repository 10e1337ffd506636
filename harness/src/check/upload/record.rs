//! One upload as the history records it: its attempts, the reads back
//! of its package, and the attempts whose end was never recorded,
//! gathered by the upload's number; and the words the upload checks
//! describe them in (sizes, how an attempt was answered).

use std::collections::BTreeMap;

use crate::history::{
    History, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose, UploadStart,
};
use crate::upload::UploadClass;

pub(super) const MIB: f64 = 1024.0 * 1024.0;

/// Everything about one upload.
#[derive(Default)]
pub(super) struct Upload<'a> {
    pub(super) attempts: Vec<&'a UploadAttempt>,
    pub(super) reads: Vec<&'a PackageRead>,
    /// Attempts that started and whose end the history does not hold.
    pub(super) in_flight: Vec<&'a UploadStart>,
}

impl Upload<'_> {
    /// The SHA-1 the package must have, if the history knows it.
    pub(super) fn expected(&self) -> Option<&str> {
        self.attempts
            .iter()
            .find_map(|a| a.sha1.as_deref())
            .or_else(|| self.reads.iter().find_map(|r| r.expected.as_deref()))
    }

    /// Accepted, or found intact after a failure.
    pub(super) fn arrived(&self) -> Option<&'static str> {
        if self
            .attempts
            .iter()
            .any(|a| a.class == UploadClass::Accepted)
        {
            return Some("accepted");
        }
        let want = self.expected()?;
        let size = self.attempts.first()?.size;
        self.reads
            .iter()
            .any(|r| {
                r.kind == PackageReadKind::AfterFailure
                    && r.sha1.as_deref() == Some(want)
                    && r.size == Some(size)
            })
            .then_some("found intact after a failure")
    }
}

pub(super) fn uploads(h: &History) -> BTreeMap<u64, Upload<'_>> {
    let mut by_seq: BTreeMap<u64, Upload<'_>> = BTreeMap::new();
    for a in h.uploads().filter(|a| a.purpose == UploadPurpose::Workload) {
        by_seq.entry(a.seq).or_default().attempts.push(a);
    }
    for u in h
        .uploads_in_flight()
        .into_iter()
        .filter(|u| u.purpose == UploadPurpose::Workload)
    {
        by_seq.entry(u.seq).or_default().in_flight.push(u);
    }
    for r in h.package_reads() {
        if let Some(u) = by_seq.get_mut(&r.seq) {
            u.reads.push(r);
        }
    }
    by_seq
}

pub(super) fn gib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

pub(super) fn class_word(c: UploadClass) -> &'static str {
    match c {
        UploadClass::Accepted => "accepted",
        UploadClass::Exists => "already exists",
        UploadClass::TooLarge => "too large",
        UploadClass::TimedOut => "timed out",
        UploadClass::Reset => "connection cut",
        UploadClass::Other => "failed",
    }
}
