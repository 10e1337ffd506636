//! The LB's TCP forwarder: ports passed through at L4, byte for byte, for
//! polling Tentacles.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::limits::FORWARD_IDLE;

/// A TCP port the LB forwards byte for byte, with no TLS termination, as
/// an NLB or HAProxy in `mode tcp` does: one backend for a per-node port
/// (the unique-port layout), several in turn for a shared one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpForward {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Where connections go, round robin; a backend that refuses is
    /// skipped.
    pub backends: Vec<SocketAddr>,
}

/// Accepts on a forwarded port and pipes each connection to a backend,
/// giving each backend `connect_timeout` to accept.
pub(super) async fn forward_tcp(
    listener: TcpListener,
    backends: Vec<SocketAddr>,
    connect_timeout: Duration,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let slots = crate::http::connection_slots();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Some(slot) = crate::http::take_slot(&slots) else {
            continue;
        };
        let backends = backends.clone();
        let next = next.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let first = next.fetch_add(1, Ordering::Relaxed);
            for k in 0..backends.len() {
                let to = backends[(first + k) % backends.len()];
                let connect =
                    tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(to));
                if let Ok(Ok(mut outbound)) = connect.await {
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    pipe_until_idle(&mut inbound, &mut outbound).await;
                    return;
                }
            }
            // No backend: the client sees the connection close, as with
            // an NLB that has no healthy target.
        });
    }
}

/// Copies both ways until both sides close, or until no byte has gone
/// either way for [`FORWARD_IDLE`] (a peer that vanished without a FIN
/// would otherwise hold the connection and its slot for good).
async fn pipe_until_idle(a: &mut tokio::net::TcpStream, b: &mut tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = tokio::time::Instant::now();
    let last_ms = AtomicU64::new(0);
    let touched = || last_ms.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    let (mut ar, mut aw) = a.split();
    let (mut br, mut bw) = b.split();
    let one_way = async |from: &mut tokio::net::tcp::ReadHalf<'_>,
                         to: &mut tokio::net::tcp::WriteHalf<'_>| {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    touched();
                }
            }
        }
        let _ = to.shutdown().await;
    };
    let idle = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1).min(FORWARD_IDLE)).await;
            let quiet = (start.elapsed().as_millis() as u64)
                .saturating_sub(last_ms.load(Ordering::Relaxed));
            if quiet >= FORWARD_IDLE.as_millis() as u64 {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(one_way(&mut ar, &mut bw), one_way(&mut br, &mut aw)) } => {}
        () = idle => {}
    }
}
