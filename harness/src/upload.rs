//! The upload client: one package, streamed as multipart to
//! `POST /api/{spaceId}/packages/raw`, with a Content-Length, a connect
//! timeout and an idle timeout, never a total deadline (a 5 GiB upload may
//! rightly take an hour; a minute without a byte either way may not).
//!
//! The body is generated as it is sent ([`crate::package`]): the harness
//! never holds the package in memory nor writes it to disk, and the SHA-1
//! is known when the last byte leaves. An optional throttle makes the
//! client a slow link. Each attempt is classified (accepted, exists, too
//! large, timed out, reset, other) and timed: to the last byte sent, and to
//! the response.
//!
//! Retry policy, as Octopus.Client does after a timeout: first ask whether
//! the package arrived (`GET` it and compare its `Hash`); if it did, the
//! upload succeeded; if a different one is there, upload again with
//! `OverwriteExisting`; if none is, upload again as before. A refusal
//! (413, 409, 400) is final.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use indicatif::ProgressBar;
use serde::Deserialize;

use crate::limits::{MAX_ANSWER, MAX_SERVER_ERROR_KEPT};
use crate::package::{CHUNK, Multipart, PackageSpec, PackageStream};
pub use crate::vocab::{ApiKey, BodyKind, OverwriteMode, UploadClass};

/// Whether an attempt that did not succeed may still leave its package on
/// the server: its whole body went out, and what ended it (a timeout, a
/// cut, an LB's 5xx) did not come from the node refusing it. The node may
/// be storing it still, after the client has given up.
pub fn may_land_later(class: UploadClass, all_sent: bool, body: Option<BodyKind>) -> bool {
    all_sent
        && matches!(
            class,
            UploadClass::TimedOut | UploadClass::Reset | UploadClass::Other
        )
        && body != Some(BodyKind::OctopusError)
}

/// How the error of an attempt the harness cut short begins: the cut is the
/// harness's, not the cluster's.
pub const STOPPED_BY_HARNESS: &str = "stopped by the harness as the run ended";

/// When the caller wants an attempt under way ended early.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cut {
    /// Let it run to its end.
    #[default]
    Never,
    /// End it at once if its body is still going out (no server keeps an
    /// incomplete body, so nothing of it can be stored); once its last
    /// byte has gone, let it wait for its answer.
    BeforeLastByte,
    /// End it at once.
    Now,
}

/// What one attempt observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The class.
    pub class: UploadClass,
    /// HTTP status, if a response came.
    pub status: Option<u16>,
    /// What went wrong, briefly; for a refusal, the first words of the body.
    pub error: Option<String>,
    /// Body bytes handed to the connection.
    pub bytes_sent: u64,
    /// From the start to the last byte of the body handed to the
    /// connection, if it was.
    pub last_byte: Option<Duration>,
    /// From the start to the end of the attempt.
    pub done: Duration,
    /// The package's SHA-1, if every byte was generated.
    pub sha1: Option<String>,
    /// The `Hash` the server answered with.
    pub server_hash: Option<String>,
    /// The answer's `Server` header, if one came: an LB often names itself
    /// there (`nginx/1.24.0`, `awselb/2.0`, `Microsoft-IIS/10.0`).
    pub server: Option<String>,
    /// The answer's `Content-Type`, if one came.
    pub content_type: Option<String>,
    /// What the answer's body looked like, if an answer came.
    pub body_kind: Option<BodyKind>,
    /// No connection could be made: nothing answered at the address.
    pub unreachable: bool,
}

/// A header's value kept for the history: printable, and short, whatever
/// the server sent.
fn header_text(v: &reqwest::header::HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes())
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_HEADER_KEPT)
        .collect()
}

/// The most characters of a header's value the history keeps.
const MAX_HEADER_KEPT: usize = 100;

/// Where and how to upload.
#[derive(Clone)]
pub struct Uploader {
    http: reqwest::Client,
    base: String,
    /// `lb` or the node's name, for the history.
    name: String,
    key: ApiKey,
    /// No byte either way for this long ends the attempt.
    pub idle_timeout: Duration,
    /// Bytes a second, or unthrottled.
    pub throttle: Option<f64>,
}

/// The fields of a package resource the harness reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageBody {
    /// `packages-X.1.0`.
    pub id: String,
    /// Bytes.
    #[serde(default)]
    pub package_size_bytes: u64,
    /// SHA-1.
    #[serde(default)]
    pub hash: String,
}

impl Uploader {
    /// An uploader to `base` (the LB or one node) named `name` in reports.
    pub fn new(
        name: &str,
        base: &str,
        key: ApiKey,
        trust: &crate::vocab::Trust,
        connect_timeout: Duration,
        idle_timeout: Duration,
        throttle: Option<f64>,
    ) -> Result<Self, String> {
        let http = crate::client::http_builder(trust)?
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(connect_timeout)
            // One connection per upload: a reset must not poison the next.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("failed to build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            name: name.to_string(),
            key,
            idle_timeout,
            throttle,
        })
    }

    /// `lb` or the node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One attempt: the package streamed as it is generated.
    pub async fn attempt(
        &self,
        spec: &PackageSpec,
        mode: OverwriteMode,
        progress: Option<ProgressBar>,
    ) -> Attempt {
        let (_never, cut) = tokio::sync::watch::channel(Cut::Never);
        self.attempt_until(spec, mode, progress, cut).await
    }

    /// One attempt, ended early as `cut` comes to say; an attempt cut short
    /// is recorded like any other, as a reset with the reason.
    pub async fn attempt_until(
        &self,
        spec: &PackageSpec,
        mode: OverwriteMode,
        progress: Option<ProgressBar>,
        mut cut: tokio::sync::watch::Receiver<Cut>,
    ) -> Attempt {
        let state = Arc::new(Shared::default());
        let start = Instant::now();
        let request = self.upload_request(spec, mode, progress, &state, start);
        let outcome = tokio::select! {
            out = self.with_idle_timeout(exchange(request), &state, start) => out.map_err(|idle| (UploadClass::TimedOut, idle)),
            why = cut_asked(&mut cut, &state) => Err((UploadClass::Reset, why)),
        };
        attempt_of(outcome, &state, start.elapsed())
    }

    /// The POST of the package, its body generated as it goes out.
    fn upload_request(
        &self,
        spec: &PackageSpec,
        mode: OverwriteMode,
        progress: Option<ProgressBar>,
        state: &Arc<Shared>,
        start: Instant,
    ) -> reqwest::RequestBuilder {
        let multipart = Multipart::new(&spec.file_name(), spec.seed);
        let length = multipart.len(spec.len());
        let body = UploadBody {
            head: Some(multipart.head.clone()),
            package: spec.stream(),
            tail: Some(multipart.tail.clone()),
            state: state.clone(),
            start,
            throttle: self.throttle.map(|rate| Throttle { rate, sleep: None }),
            progress,
            sent: 0,
        };
        let url = format!(
            "{}/api/Spaces-1/packages/raw?overwriteMode={}",
            self.base,
            mode.as_str()
        );
        self.http
            .post(&url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .header(reqwest::header::CONTENT_TYPE, multipart.content_type())
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap(body))
    }

    /// Runs `exchange`, ending it once no byte has gone out and no
    /// response has come for the idle timeout.
    async fn with_idle_timeout<F, T>(
        &self,
        exchange: F,
        state: &Shared,
        start: Instant,
    ) -> Result<T, String>
    where
        F: std::future::Future<Output = T>,
    {
        tokio::pin!(exchange);
        let idle_us = self.idle_timeout.as_micros() as u64;
        loop {
            let last = state.last_progress_us.load(Ordering::Relaxed);
            let now = start.elapsed().as_micros() as u64;
            let left = (last + idle_us).saturating_sub(now);
            if left == 0 {
                return Err(format!(
                    "no progress for {}s (idle timeout) after {} bytes",
                    self.idle_timeout.as_secs_f64(),
                    state.sent.load(Ordering::Relaxed)
                ));
            }
            tokio::select! {
                out = &mut exchange => return Ok(out),
                _ = tokio::time::sleep(Duration::from_micros(left)) => {}
            }
        }
    }

    /// The package as the server has it, if it has it.
    pub async fn fetch(&self, id: &str) -> Result<Option<PackageBody>, String> {
        let url = format!("{}/api/Spaces-1/packages/{id}", self.base);
        let resp = self
            .http
            .get(&url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .timeout(self.idle_timeout)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
        match resp.status().as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => resp
                .json::<PackageBody>()
                .await
                .map(Some)
                .map_err(|e| format!("GET {url}: {}", describe(&e))),
            s => Err(format!("GET {url} answered {s}")),
        }
    }

    /// Deletes a package; true if it was there.
    pub async fn delete(&self, id: &str) -> Result<bool, String> {
        let url = format!("{}/api/Spaces-1/packages/{id}", self.base);
        let resp = self
            .http
            .delete(&url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .timeout(self.idle_timeout)
            .send()
            .await
            .map_err(|e| format!("DELETE {url}: {}", describe(&e)))?;
        match resp.status().as_u16() {
            404 => Ok(false),
            s if (200..300).contains(&s) => Ok(true),
            s => Err(format!("DELETE {url} answered {s}")),
        }
    }

    /// Downloads a package and gives its length and SHA-1, streaming: the
    /// bytes are hashed as they come and never kept.
    pub async fn download_sha1(&self, id: &str) -> Result<(u16, u64, String), String> {
        use sha1::Digest;
        let url = format!("{}/api/Spaces-1/packages/{id}/raw", self.base);
        let send = self
            .http
            .get(&url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .send();
        // The idle timeout covers the wait for the answer's head too.
        let mut resp = tokio::time::timeout(self.idle_timeout, send)
            .await
            .map_err(|_| format!("GET {url}: no answer for the idle timeout"))?
            .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
        let status = resp.status().as_u16();
        let mut sha = sha1::Sha1::new();
        let mut len = 0u64;
        loop {
            let chunk = tokio::time::timeout(self.idle_timeout, resp.chunk())
                .await
                .map_err(|_| format!("GET {url}: no data for the idle timeout"))?
                .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
            let Some(chunk) = chunk else { break };
            len += chunk.len() as u64;
            sha.update(&chunk);
        }
        Ok((status, len, crate::package::hex(&sha.finalize())))
    }
}

/// What came back for an upload: the status, the start of the body, and
/// the `Server` and `Content-Type` headers.
type Answer = (u16, Bytes, Option<String>, Option<String>);

/// Sends the upload and reads what comes back.
async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let mut resp = request.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers();
    let server = headers.get(reqwest::header::SERVER).map(header_text);
    let content_type = headers.get(reqwest::header::CONTENT_TYPE).map(header_text);
    // The answer is a small JSON resource or an error page; keep
    // its start only, whatever the server sends.
    let mut text = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_ANSWER.saturating_sub(text.len());
        text.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok((status, Bytes::from(text), server, content_type))
}

/// Waits until `cut` asks for the attempt to end while it stands where
/// that applies; then the reason, as the attempt's error.
async fn cut_asked(cut: &mut tokio::sync::watch::Receiver<Cut>, state: &Shared) -> String {
    loop {
        let now = *cut.borrow_and_update();
        match now {
            Cut::Now => {
                // A last chunk not yet claimed is never handed out.
                state.claim_cut();
                break;
            }
            // Only if the body has not claimed its last chunk: then it
            // never will, and nothing of the package can be stored.
            Cut::BeforeLastByte if state.claim_cut() => break,
            _ => {}
        }
        if cut.changed().await.is_err() {
            // No one can ask any more: run to the end.
            std::future::pending::<()>().await;
        }
    }
    format!(
        "{STOPPED_BY_HARNESS}, {} bytes sent{}",
        state.sent.load(Ordering::Relaxed),
        if state.all_sent.load(Ordering::Relaxed) {
            ", all of them"
        } else {
            ""
        }
    )
}

/// The attempt as recorded: how it ended (an answer, a client error, or
/// ended by the harness or the idle timeout), `done` after it began.
fn attempt_of(
    outcome: Result<Result<Answer, reqwest::Error>, (UploadClass, String)>,
    state: &Shared,
    done: Duration,
) -> Attempt {
    let sha1 = state.digest.lock().map(|d| d.clone()).unwrap_or(None);
    let bytes_sent = state.sent.load(Ordering::Relaxed);
    // The last byte is the framing's, after the package's.
    let last_byte = (sha1.is_some() && state.all_sent.load(Ordering::Relaxed))
        .then(|| Duration::from_micros(state.last_progress_us.load(Ordering::Relaxed)));
    let mut answer = (None, None, None);
    let unreachable = matches!(&outcome, Ok(Err(e)) if e.is_connect());
    let (class, status, error, server_hash) = match outcome {
        Ok(Ok((status, body, server, content_type))) => {
            let (class, error, hash) = classify_status(status, &body);
            answer = (
                Some(BodyKind::of(content_type.as_deref(), &body)),
                server,
                content_type,
            );
            (class, Some(status), error, hash)
        }
        Ok(Err(e)) => (classify_error(&e), None, Some(describe(&e)), None),
        Err((class, why)) => (class, None, Some(why), None),
    };
    let (body_kind, server, content_type) = answer;
    Attempt {
        class,
        status,
        error,
        bytes_sent,
        last_byte,
        done,
        sha1,
        server_hash,
        server,
        content_type,
        body_kind,
        unreachable,
    }
}

/// The package's resource ID.
pub fn package_resource_id(spec: &PackageSpec) -> String {
    format!("packages-{}.{}", spec.package_id, spec.version)
}

pub(crate) fn classify_status(
    status: u16,
    body: &[u8],
) -> (UploadClass, Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
    let excerpt = || {
        let said = octopus_error(body).unwrap_or_else(|| one_line(&text, 160));
        Some(format!("status {status}: {said}"))
    };
    match status {
        200 | 201 => {
            let hash = serde_json::from_slice::<PackageBody>(body)
                .ok()
                .map(|p| p.hash);
            (UploadClass::Accepted, None, hash)
        }
        409 => (UploadClass::Exists, excerpt(), None),
        413 => (UploadClass::TooLarge, excerpt(), None),
        // IIS request filtering: 404.13 "Content Length Too Large".
        404 if text.contains("404.13") => (UploadClass::TooLarge, excerpt(), None),
        408 | 504 => (UploadClass::TimedOut, excerpt(), None),
        _ => (UploadClass::Other, excerpt(), None),
    }
}

fn classify_error(e: &reqwest::Error) -> UploadClass {
    if e.is_timeout() {
        UploadClass::TimedOut
    } else if e.is_connect() {
        UploadClass::Other
    } else {
        UploadClass::Reset
    }
}

/// An error's kind and its causes on one line, without the URL, which the
/// caller names where it matters.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connect error"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() {
        "body error"
    } else if e.is_request() {
        "request error"
    } else {
        "error"
    };
    let mut parts = vec![kind.to_string()];
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// Octopus's error answer said whole: its `ErrorMessage`, then each of
/// its `Errors` (where the reason usually is), up to
/// [`MAX_SERVER_ERROR_KEPT`] characters; None for any other body.
fn octopus_error(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = v.get("ErrorMessage")?.as_str()?;
    let errors: Vec<&str> = v
        .get("Errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
        .unwrap_or_default();
    let said = if errors.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {}", errors.join("; "))
    };
    Some(one_line(&said, MAX_SERVER_ERROR_KEPT))
}

/// A server's text as one line of at most `max` characters, fit for a
/// terminal: control characters (escapes, bells) and bidirectional
/// overrides dropped.
fn one_line(s: &str, max: usize) -> String {
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let clean: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !bidi(*c))
        .collect();
    let s: String = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    s.chars().take(max).collect()
}

/// What the body shares with the attempt while it streams.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    /// Microseconds from the start to the last chunk handed out.
    last_progress_us: AtomicU64,
    /// The body's last byte has been handed to the connection.
    all_sent: std::sync::atomic::AtomicBool,
    /// Who decided the last chunk's fate, the body or a cut: one of
    /// [`SENDING`], [`TAIL_CLAIMED`], [`CUT_CLAIMED`].
    last_chunk: AtomicU8,
    digest: Mutex<Option<String>>,
}

/// Neither the body nor a cut has decided the last chunk yet.
const SENDING: u8 = 0;
/// The body will hand the last chunk out: a cut before the last byte no
/// longer applies.
const TAIL_CLAIMED: u8 = 1;
/// A cut before the last byte applies: the body never hands it out.
const CUT_CLAIMED: u8 = 2;

impl Shared {
    /// The body's claim on its last chunk; false if a cut claimed it
    /// first. One compare-and-swap decides between the two, so a cut
    /// that lets the upload go on was never raced by a last chunk it
    /// thought unsent, and a cut that ends it leaves the body incomplete.
    fn claim_tail(&self) -> bool {
        match self.last_chunk.compare_exchange(
            SENDING,
            TAIL_CLAIMED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => true,
            Err(now) => now == TAIL_CLAIMED,
        }
    }

    /// A cut's claim on the last chunk; false if the body claimed it
    /// first.
    fn claim_cut(&self) -> bool {
        match self.last_chunk.compare_exchange(
            SENDING,
            CUT_CLAIMED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => true,
            Err(now) => now == CUT_CLAIMED,
        }
    }
}

struct Throttle {
    /// Bytes a second.
    rate: f64,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The multipart body: framing, then the package as it is generated.
struct UploadBody {
    head: Option<Bytes>,
    package: PackageStream,
    tail: Option<Bytes>,
    state: Arc<Shared>,
    start: Instant,
    throttle: Option<Throttle>,
    progress: Option<ProgressBar>,
    sent: u64,
}

impl UploadBody {
    fn chunk_size(&self) -> usize {
        match &self.throttle {
            // About ten chunks a second, so a slow link stays smooth.
            Some(t) => ((t.rate / 10.0) as usize).clamp(1024, CHUNK),
            None => CHUNK,
        }
    }
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(t) = &mut this.throttle {
            // Hold the next chunk until the bytes sent so far are due.
            let due = this.start + Duration::from_secs_f64(this.sent as f64 / t.rate);
            if due > Instant::now() {
                let sleep = t.sleep.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
                        due,
                    )))
                });
                sleep.as_mut().reset(tokio::time::Instant::from_std(due));
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        let size = this.chunk_size();
        let chunk = if let Some(h) = this.head.take() {
            h
        } else if let Some(c) = this.package.next_chunk(size) {
            if let Some(d) = this.package.sha1_hex()
                && let Ok(mut slot) = this.state.digest.lock()
            {
                *slot = Some(d.to_string());
            }
            c
        } else if this.tail.is_some() {
            if !this.state.claim_tail() {
                // A cut claimed it and is ending the attempt: the body
                // stays incomplete, so no server can store the package.
                return Poll::Pending;
            }
            this.state.all_sent.store(true, Ordering::Relaxed);
            this.tail.take().unwrap_or_default()
        } else {
            return Poll::Ready(None);
        };
        this.sent += chunk.len() as u64;
        this.state.sent.store(this.sent, Ordering::Relaxed);
        this.state
            .last_progress_us
            .store(this.start.elapsed().as_micros() as u64, Ordering::Relaxed);
        if let Some(p) = &this.progress {
            p.set_position(this.sent);
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_and_a_cut_claim_the_last_chunk_once_and_the_first_wins() {
        let state = Shared::default();
        assert!(
            state.claim_cut(),
            "a cut before the last chunk ends the upload"
        );
        assert!(state.claim_cut(), "and holds");
        assert!(
            !state.claim_tail(),
            "so the body never hands its last chunk out"
        );
        let state = Shared::default();
        assert!(state.claim_tail(), "the body's last chunk goes out");
        assert!(
            !state.claim_cut(),
            "so a cut before the last byte lets the upload end"
        );
        assert!(state.claim_tail());
    }

    #[test]
    fn an_octopus_error_is_quoted_whole_with_its_errors() {
        let reason = "A package with the same ID and version already exists. Use the \
OverwriteExisting or IgnoreIfExists mode, or give the package a new version number, and push \
it again; the existing package was pushed earlier by another user of this space.";
        let body = format!(
            r#"{{"ErrorMessage":"There was a problem with your request.","Errors":["{reason}","second"]}}"#
        );
        let (class, error, _) = classify_status(409, body.as_bytes());
        assert_eq!(class, UploadClass::Exists);
        assert_eq!(
            error.as_deref(),
            Some(
                format!("status 409: There was a problem with your request.: {reason}; second")
                    .as_str()
            )
        );
        // Not Octopus's: a short excerpt, as before.
        let page = format!("<html>{}</html>", "x".repeat(1000));
        let (_, error, _) = classify_status(502, page.as_bytes());
        assert_eq!(error.unwrap().chars().count(), "status 502: ".len() + 160);
        // Bounded whatever the server sends.
        let huge = format!(r#"{{"ErrorMessage":"{}","Errors":[]}}"#, "y".repeat(50_000));
        let (_, error, _) = classify_status(400, huge.as_bytes());
        assert!(error.unwrap().chars().count() <= "status 400: ".len() + MAX_SERVER_ERROR_KEPT);
    }

    #[test]
    fn a_node_s_json_error_is_told_from_an_lb_s_page() {
        let octopus = br#"{"ErrorMessage":"A package with the same ID exists","Errors":[]}"#;
        assert_eq!(
            BodyKind::of(Some("application/json"), octopus),
            BodyKind::OctopusError
        );
        // Cut at the answer's limit: no longer JSON, still Octopus's.
        assert_eq!(BodyKind::of(None, &octopus[..30]), BodyKind::OctopusError);
        assert_eq!(
            BodyKind::of(Some("application/json"), br#"{"Id":"packages-X.1.0"}"#),
            BodyKind::Json
        );
        let haproxy = b"<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n";
        assert_eq!(BodyKind::of(Some("text/html"), haproxy), BodyKind::Html);
        // An HTML page without its type is an HTML page.
        assert_eq!(BodyKind::of(None, b"\r\n<HTML><head>"), BodyKind::Html);
        assert_eq!(
            BodyKind::of(Some("text/plain"), b"gateway timeout (idle timeout)"),
            BodyKind::Text
        );
        assert_eq!(BodyKind::of(None, b"  \r\n"), BodyKind::Empty);
    }

    #[test]
    fn a_header_is_kept_printable_and_short() {
        let long = reqwest::header::HeaderValue::from_bytes(&[b'a'; 300]).unwrap();
        assert_eq!(header_text(&long).len(), MAX_HEADER_KEPT);
        let tabbed = reqwest::header::HeaderValue::from_static("nginx/1.24\t(Ubuntu)");
        assert_eq!(header_text(&tabbed), "nginx/1.24(Ubuntu)");
    }
}
