//! A streaming `multipart/form-data` reader for package uploads on the
//! reference nodes: part headers are read into a bounded buffer, and a
//! part's content is handed on chunk by chunk as it arrives, never held
//! whole. Untrusted input: every size is bounded, and every malformation
//! is an error, never a panic.

use std::time::Duration;

use crate::limits::MAX_BOUNDARY;
use crate::limits::{BODY_STALL, MAX_FIELD, MAX_PART_HEADERS};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;
use memchr::memmem::Finder;

/// What went wrong with a multipart body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The body ended before the closing boundary.
    #[error("the body ended before the closing multipart boundary")]
    Truncated,
    /// The body is not the multipart the headers announced.
    #[error("malformed multipart body: {0}")]
    Malformed(String),
    /// Reading the body failed (the client went away).
    #[error("reading the body failed: {0}")]
    Body(String),
}

/// The boundary of a `multipart/form-data` Content-Type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= MAX_BOUNDARY).then(|| v.to_string())
    })
}

/// One part's headers, as far as uploads care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartHeaders {
    /// The form field's name.
    pub name: Option<String>,
    /// The file name, for a file part.
    pub filename: Option<String>,
}

/// Reads a multipart body part by part.
pub struct MultipartReader<B> {
    body: B,
    buf: BytesMut,
    /// `\r\n--<boundary>`.
    delimiter: Vec<u8>,
    finder: Finder<'static>,
    /// The body has no more frames.
    eof: bool,
    /// The closing delimiter was read.
    finished: bool,
    /// The longest wait for the body's next bytes.
    stall: Duration,
}

impl<B> MultipartReader<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// A reader of `body` with this boundary.
    pub fn new(body: B, boundary: &str) -> Self {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let finder = Finder::new(&delimiter).into_owned();
        // The first delimiter has no CRLF before it: lend it one, so every
        // delimiter looks the same.
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(b"\r\n");
        Self {
            body,
            buf,
            delimiter,
            finder,
            eof: false,
            finished: false,
            stall: BODY_STALL,
        }
    }

    /// Gives the client up after `stall` without a byte, instead of
    /// [`BODY_STALL`]: the cluster's setting.
    pub fn stalling_after(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Reads one more frame into the buffer; false at the end of the body.
    /// A client that sends nothing for the stall time it was given is
    /// given up on.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        while !self.eof {
            let Ok(frame) = tokio::time::timeout(self.stall, self.body.frame()).await else {
                return Err(MultipartError::Body(format!(
                    "no data for {}",
                    humantime::format_duration(self.stall)
                )));
            };
            match frame {
                None => self.eof = true,
                Some(Err(e)) => return Err(MultipartError::Body(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.buf.extend_from_slice(&data);
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Moves to the next part and reads its headers; None after the
    /// closing delimiter. Call once before the first part, then after each
    /// part's content has been read.
    pub async fn next_part(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        if self.finished {
            return Ok(None);
        }
        // Skip to the delimiter (only the preamble, the first time).
        loop {
            if let Some(at) = self.finder.find(&self.buf) {
                self.buf.advance(at + self.delimiter.len());
                break;
            }
            // Keep what could be the start of a delimiter.
            let keep = self.delimiter.len().saturating_sub(1);
            if self.buf.len() > keep {
                let drop = self.buf.len() - keep;
                self.buf.advance(drop);
            }
            if !self.fill().await? {
                return Err(MultipartError::Truncated);
            }
        }
        self.part_headers().await
    }

    /// After a delimiter: `--` closes the body, CRLF starts a part whose
    /// headers end with an empty line.
    async fn part_headers(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        while self.buf.len() < 2 {
            if !self.fill().await? {
                return Err(MultipartError::Truncated);
            }
        }
        if self.buf.starts_with(b"--") {
            self.finished = true;
            return Ok(None);
        }
        let end = loop {
            if let Some(at) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            if self.buf.len() > MAX_PART_HEADERS {
                return Err(MultipartError::Malformed(format!(
                    "part headers longer than {MAX_PART_HEADERS} bytes"
                )));
            }
            if !self.fill().await? {
                return Err(MultipartError::Truncated);
            }
        };
        if end > MAX_PART_HEADERS {
            return Err(MultipartError::Malformed(format!(
                "part headers longer than {MAX_PART_HEADERS} bytes"
            )));
        }
        let block = self.buf.split_to(end + 4);
        // The block starts with the CRLF that ended the delimiter line.
        let text = std::str::from_utf8(&block[..end])
            .map_err(|_| MultipartError::Malformed("part headers are not UTF-8".into()))?;
        let mut headers = PartHeaders::default();
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                MultipartError::Malformed(format!("a part header without a colon: {line:?}"))
            })?;
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                headers.name = param(value, "name");
                headers.filename = param(value, "filename");
            }
        }
        Ok(Some(headers))
    }

    /// Hands the current part's content to `sink`, chunk by chunk, up to
    /// the next delimiter.
    pub async fn read_part(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), MultipartError> {
        loop {
            if let Some(at) = self.finder.find(&self.buf) {
                sink(&self.buf[..at]).map_err(MultipartError::Body)?;
                // Leave the delimiter for next_part.
                self.buf.advance(at);
                return Ok(());
            }
            let keep = self.delimiter.len().saturating_sub(1);
            if self.buf.len() > keep {
                let n = self.buf.len() - keep;
                sink(&self.buf[..n]).map_err(MultipartError::Body)?;
                self.buf.advance(n);
            }
            if !self.fill().await? {
                return Err(MultipartError::Truncated);
            }
        }
    }

    /// The body, with whatever of it is still unread.
    pub fn into_body(self) -> B {
        self.body
    }

    /// Reads and drops a non-file part, up to [`MAX_FIELD`] bytes.
    pub async fn skip_part(&mut self) -> Result<(), MultipartError> {
        let mut seen = 0usize;
        self.read_part(|b| {
            seen += b.len();
            if seen > MAX_FIELD {
                Err(format!("a form field longer than {MAX_FIELD} bytes"))
            } else {
                Ok(())
            }
        })
        .await
    }
}

/// A parameter of a header value: `name="file"` gives `file`.
fn param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A request body that yields the given chunks, as a client's packets
/// would arrive.
pub struct Chunks(pub std::collections::VecDeque<Bytes>);

impl Chunks {
    /// `text` in chunks of `size` bytes (at least one).
    pub fn of(text: &[u8], size: usize) -> Self {
        Self(
            text.chunks(size.max(1))
                .map(Bytes::copy_from_slice)
                .collect(),
        )
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(
        text: &[u8],
        chunk: usize,
    ) -> Result<Vec<(PartHeaders, Vec<u8>)>, MultipartError> {
        let mut r = MultipartReader::new(Chunks::of(text, chunk), "XyZ");
        let mut parts = Vec::new();
        while let Some(h) = r.next_part().await? {
            let mut content = Vec::new();
            r.read_part(|b| {
                content.extend_from_slice(b);
                Ok(())
            })
            .await?;
            parts.push((h, content));
        }
        Ok(parts)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    const GOOD: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"A.1.0.zip\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--Xy not yet\r\n--XyZ--\r\n";

    #[test]
    fn parts_read_the_same_whatever_the_chunking() {
        for chunk in [1, 2, 3, 7, 16, 1000] {
            let parts = run(read_all(GOOD, chunk)).unwrap();
            assert_eq!(parts.len(), 2, "chunk {chunk}");
            assert_eq!(parts[0].0.name.as_deref(), Some("note"));
            assert_eq!(parts[0].1, b"hi");
            assert_eq!(parts[1].0.filename.as_deref(), Some("A.1.0.zip"));
            assert_eq!(parts[1].1, b"\r\n--Xy not yet");
        }
    }

    #[test]
    fn truncated_and_malformed_bodies_are_errors() {
        for cut in [5, 30, GOOD.len() - 3] {
            assert_eq!(
                run(read_all(&GOOD[..cut], 4)),
                Err(MultipartError::Truncated),
                "{cut}"
            );
        }
        let mut flood = b"--XyZ\r\n".to_vec();
        flood.extend(std::iter::repeat_n(b'a', MAX_PART_HEADERS + 10));
        assert!(matches!(
            run(read_all(&flood, 1024)),
            Err(MultipartError::Malformed(_))
        ));
        let no_colon = b"--XyZ\r\nbogus\r\n\r\nx\r\n--XyZ--";
        assert!(matches!(
            run(read_all(no_colon, 8)),
            Err(MultipartError::Malformed(_))
        ));
    }

    #[test]
    fn boundaries_come_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=x").as_deref(),
            Some("x")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!(
                "multipart/form-data; boundary={}",
                "b".repeat(300)
            )),
            None
        );
    }
}
