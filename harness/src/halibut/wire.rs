//! Halibut on a byte stream: lines and messages read from and written to
//! an async connection (TLS in practice), with the bytes that arrive behind
//! a message kept for the next read. Both sides use it: the reference
//! nodes' polling listener and the harness's simulated Tentacles.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Control, HalibutError, MAX_MESSAGE, Message};

/// Longest line (preamble, identification, control) the reader accepts.
pub const MAX_LINE: usize = 8 * 1024;

/// How long a write may wait for a peer that does not read
/// (`TcpClientTimeout` in Tentacle's recommended values: 1 min).
pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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
            if scanned > MAX_LINE {
                return Err(HalibutError(format!("a line longer than {MAX_LINE} bytes")));
            }
            self.fill().await?;
        }
    }

    /// A control line.
    pub async fn control(&mut self) -> Result<Control, HalibutError> {
        Control::parse(&self.line().await?)
    }

    /// The next message: None is the null message.
    pub async fn message(&mut self) -> Result<Option<Message>, HalibutError> {
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

    /// Writes raw bytes and flushes them, within [`WRITE_TIMEOUT`].
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), HalibutError> {
        let io = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, io).await {
            Ok(r) => r.map_err(|e| HalibutError(format!("the connection failed: {e}"))),
            Err(_) => Err(HalibutError(format!(
                "the peer read nothing for {}s",
                WRITE_TIMEOUT.as_secs()
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

    /// Closes the write side (TLS close_notify, then FIN).
    pub async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
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
    async fn garbage_and_endless_lines_are_errors() {
        tokio::time::timeout(LIMIT, garbage()).await.unwrap();
    }

    async fn garbage() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut left = Wire::new(a);
        let mut right = Wire::new(b);
        left.send_bytes(&[b'x'; MAX_LINE + 10]).await.unwrap();
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
