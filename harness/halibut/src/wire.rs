//! Halibut on a byte stream: lines and messages read from and written to
//! an async connection (TLS in practice), with the bytes that arrive behind
//! a message kept for the next read. Both sides use it: the reference
//! nodes' polling listener and the harness's simulated Tentacles.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Control, Guid, HalibutError, Message, STREAM_HEADER};
use crate::limits::{HALIBUT_MAX_LINE, HALIBUT_WRITE_TIMEOUT, MAX_MESSAGE};

/// A connection speaking Halibut.
pub struct Wire<S> {
    io: S,
    /// Bytes read but not yet used.
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// Wraps a connection.
    pub fn new(io: S) -> Self {
        Self {
            io,
            buf: Vec::new(),
        }
    }

    /// The connection, for its TLS state.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Reads more bytes; an end of stream is an error, as every caller
    /// expects something.
    async fn fill(&mut self) -> Result<(), HalibutError> {
        let mut chunk = [0u8; 8192];
        let n = self
            .io
            .read(&mut chunk)
            .await
            .map_err(|e| HalibutError(format!("the connection failed: {e}")))?;
        if n == 0 {
            return Err(HalibutError("the peer closed the connection".into()));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next line, without its CRLF (a bare LF is accepted too).
    pub async fn line(&mut self) -> Result<String, HalibutError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[scanned..]) {
                let end = scanned + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            scanned = self.buf.len();
            if scanned > HALIBUT_MAX_LINE {
                return Err(HalibutError(format!(
                    "a line longer than {HALIBUT_MAX_LINE} bytes"
                )));
            }
            self.fill().await?;
        }
    }

    /// A control line.
    pub async fn control(&mut self) -> Result<Control, HalibutError> {
        Control::parse(&self.line().await?)
    }

    /// The next message (None is the null message), and after it the
    /// frames of the DataStreams it carries, read and dropped: nothing the
    /// harness receives needs their bytes, and dropping them as they come
    /// keeps a large stream from being held.
    pub async fn message(&mut self) -> Result<Option<Message>, HalibutError> {
        let message = self.message_alone().await?;
        if let Some(m) = &message {
            // One frame per stream, matched by id, in any order.
            let mut due = super::streams_of(m);
            while !due.is_empty() {
                self.skip_stream(&mut due).await?;
            }
        }
        Ok(message)
    }

    /// One DataStream frame, which must be for a stream still `due` (it is
    /// taken off) and end with the length it started with (Halibut's
    /// protocol error otherwise).
    async fn skip_stream(&mut self, due: &mut Vec<Guid>) -> Result<(), HalibutError> {
        while self.buf.len() < STREAM_HEADER {
            self.fill().await?;
        }
        let head: [u8; STREAM_HEADER] = self.buf[..STREAM_HEADER].try_into().expect("a header");
        let (got, len) = super::stream_header(&head)?;
        let Some(at) = due.iter().position(|id| *id == got) else {
            return Err(HalibutError(format!(
                "a DataStream frame for {got}, which the message does not carry"
            )));
        };
        due.swap_remove(at);
        self.buf.drain(..STREAM_HEADER);
        let mut left = len;
        loop {
            let take = left.min(self.buf.len() as u64);
            self.buf.drain(..take as usize);
            left -= take;
            if left == 0 {
                break;
            }
            self.fill().await?;
        }
        while self.buf.len() < 8 {
            self.fill().await?;
        }
        let trailing = i64::from_le_bytes(self.buf[..8].try_into().expect("8 bytes"));
        self.buf.drain(..8);
        if trailing != len as i64 {
            return Err(HalibutError(format!(
                "a DataStream says {len} bytes and then {trailing}"
            )));
        }
        Ok(())
    }

    async fn message_alone(&mut self) -> Result<Option<Message>, HalibutError> {
        loop {
            if let Some((doc, used)) = super::inflate(&self.buf)? {
                self.buf.drain(..used);
                return super::open_envelope(&doc);
            }
            // DEFLATE never grows much past its input's size, so compressed
            // bytes past the largest message are garbage.
            if self.buf.len() > MAX_MESSAGE {
                return Err(HalibutError(format!(
                    "no message within {MAX_MESSAGE} bytes"
                )));
            }
            self.fill().await?;
        }
    }

    /// Whether bytes are waiting that no read has taken.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Writes raw bytes and flushes them, within [`HALIBUT_WRITE_TIMEOUT`].
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), HalibutError> {
        let io = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(HALIBUT_WRITE_TIMEOUT, io).await {
            Ok(r) => r.map_err(|e| HalibutError(format!("the connection failed: {e}"))),
            Err(_) => Err(HalibutError(format!(
                "the peer read nothing for {}s",
                HALIBUT_WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Sends a message (None: the null message).
    pub async fn send(&mut self, message: Option<&Message>) -> Result<(), HalibutError> {
        let bytes = super::deflate(&super::encode(&super::envelope(message)));
        self.send_bytes(&bytes).await
    }

    /// Sends a control line.
    pub async fn send_control(&mut self, c: Control) -> Result<(), HalibutError> {
        self.send_bytes(c.line().as_bytes()).await
    }

    /// Closes the write side (TLS close_notify, then FIN), within
    /// [`HALIBUT_WRITE_TIMEOUT`].
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(HALIBUT_WRITE_TIMEOUT, self.io.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Bson, Doc, Guid, Request};
    use super::*;

    fn request() -> Message {
        Message::Request(Request {
            id: "ICapabilitiesServiceV2::GetCapabilities[1] / x".into(),
            activity_id: Guid::random(),
            endpoint: Doc(vec![("BaseUri".into(), Bson::String("poll://a/".into()))]),
            service: "ICapabilitiesServiceV2".into(),
            method: "GetCapabilities".into(),
            params: vec![],
        })
    }

    const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

    #[tokio::test]
    async fn a_message_and_the_line_behind_it_arrive_in_one_read_and_both_are_read() {
        tokio::time::timeout(LIMIT, message_then_line())
            .await
            .unwrap();
    }

    async fn message_then_line() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut left = Wire::new(a);
        let mut right = Wire::new(b);
        let m = request();
        // One write with both, so the reader gets them in one chunk.
        let mut bytes =
            super::super::deflate(&super::super::encode(&super::super::envelope(Some(&m))));
        bytes.extend_from_slice(b"NEXT\r\n");
        left.send_bytes(&bytes).await.unwrap();
        left.send(None).await.unwrap();
        assert_eq!(right.message().await.unwrap(), Some(m));
        assert_eq!(right.control().await.unwrap(), Control::Next);
        assert_eq!(right.message().await.unwrap(), None);
        assert!(!right.has_buffered());
    }

    #[tokio::test]
    async fn a_message_s_streams_are_read_past_and_a_wrong_trailer_is_an_error() {
        tokio::time::timeout(LIMIT, streams()).await.unwrap();
    }

    async fn streams() {
        let id = Guid::random();
        let m = Message::Response(super::super::Response {
            id: "r".into(),
            error: None,
            result: super::super::data_stream(id, 100_000),
        });
        let body = vec![5u8; 100_000];
        let mut bytes =
            super::super::deflate(&super::super::encode(&super::super::envelope(Some(&m))));
        bytes.extend_from_slice(&super::super::stream_frame(id, &body));
        bytes.extend_from_slice(b"NEXT\r\n");
        let (a, b) = tokio::io::duplex(1 << 12);
        let mut left = Wire::new(a);
        let mut right = Wire::new(b);
        let good = bytes.clone();
        let sender = tokio::spawn(async move { left.send_bytes(&good).await.map(|()| left) });
        assert_eq!(right.message().await.unwrap(), Some(m.clone()));
        assert_eq!(right.control().await.unwrap(), Control::Next);
        drop(sender.await.unwrap().unwrap());

        // The same with the trailing length changed, and with another id.
        let trailer = bytes.len() - 6 - 8;
        for (at, what) in [
            (trailer, "then"),
            (trailer - 8 - body.len() - 16, "does not carry"),
        ] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            let (a, b) = tokio::io::duplex(1 << 12);
            let mut left = Wire::new(a);
            let mut right = Wire::new(b);
            let sender = tokio::spawn(async move { left.send_bytes(&bad).await });
            let e = right.message().await.unwrap_err();
            assert!(e.0.contains(what), "{e:?}");
            drop(right);
            let _ = sender.await;
        }
    }

    #[tokio::test]
    async fn garbage_and_endless_lines_are_errors() {
        tokio::time::timeout(LIMIT, garbage()).await.unwrap();
    }

    async fn garbage() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut left = Wire::new(a);
        let mut right = Wire::new(b);
        left.send_bytes(&[b'x'; HALIBUT_MAX_LINE + 10])
            .await
            .unwrap();
        assert!(right.line().await.unwrap_err().0.contains("longer"));
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut left = Wire::new(a);
        let mut right = Wire::new(b);
        left.send_bytes(b"NOPE\r\n").await.unwrap();
        assert!(right.control().await.is_err());
        drop(left);
        assert!(right.message().await.unwrap_err().0.contains("closed"));
    }
}
