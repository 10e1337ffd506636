//! The HTTP/1.1 accept loop shared by the nodes and the LB, a file as a
//! streamed body (package downloads, bodies the LB has buffered), and the
//! lingering read behind a refusal.

use std::convert::Infallible;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::{MAX_CONNECTIONS, MAX_HEADER_BYTES, MAX_HEADERS};

/// Serves every connection on `listener` with `handle`, forever; a client
/// gets `header_read` to send each request's headers.
pub(crate) async fn serve<H, F, B>(listener: TcpListener, header_read: Duration, handle: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = connection_slots();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors, usually: back off instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = take_slot(&slots) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reply = handle(req);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read)
                .max_buf_size(MAX_HEADER_BYTES)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

/// One listener's connection slots, [`MAX_CONNECTIONS`] of them.
pub(crate) fn connection_slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_CONNECTIONS))
}

/// A slot for a connection just accepted, held until it closes; None when
/// every slot is taken, and the caller drops (closes) the connection.
pub(crate) fn take_slot(slots: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    slots.clone().try_acquire_owned().ok()
}

/// Reads and drops what is left of a refused request's body, for at most
/// `within` (the cluster's linger setting), so a client still sending can
/// read the answer instead of failing on a closed connection. Spawn it
/// behind the answer.
pub(crate) async fn linger(mut body: Incoming, within: Duration) {
    use http_body_util::BodyExt;
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, body.frame()).await {}
}

/// Bytes per chunk of a file body.
const CHUNK: usize = 256 * 1024;

/// A file as a response body, read chunk by chunk.
pub(crate) struct FileBody {
    file: std::fs::File,
    remaining: u64,
}

impl FileBody {
    /// The first `len` bytes of `file`.
    pub(crate) fn new(file: std::fs::File, len: u64) -> Self {
        Self {
            file,
            remaining: len,
        }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = (CHUNK as u64).min(self.remaining) as usize;
        let mut buf = BytesMut::zeroed(n);
        let read = self.file.read(&mut buf);
        Poll::Ready(Some(match read {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file is shorter than announced",
            )),
            Ok(got) => {
                buf.truncate(got);
                self.remaining -= got as u64;
                Ok(Frame::data(buf.freeze()))
            }
            Err(e) => Err(e),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
