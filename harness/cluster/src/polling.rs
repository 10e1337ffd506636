//! A reference node's polling listener and its pending-request queues, as
//! Halibut's server side works (docs/halibut.md, "The listener, step by
//! step").
//!
//! - Mutual TLS with the cluster's one server certificate; the client's
//!   thumbprint is authorised after the handshake against the registered
//!   machines in the shared database. A first line other than `MX` gets
//!   Halibut's friendly HTML page, so a probe can see the listener.
//! - Work for a Tentacle waits in memory, in this node's queue for its
//!   subscription: only a connection of that subscription to this node
//!   can take it, which is why every Tentacle must poll every node.
//! - A connection waits up to the poll wait (Octopus: 30 s) for a request,
//!   else sends the null message; then `NEXT` and `PROCEED`.
//! - A request nobody collects within the pick-up timeout (2 min) fails
//!   with Octopus's words.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use halibut::limits::RESPONSE_TIMEOUT;
use halibut::wire::Wire;
use halibut::{self, Control, Identity, Message, Request, Response, tls};

/// Halibut's page for a browser (or an HTTP probe) on the polling port.
const FRIENDLY_PAGE: &str = "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n<html><body><p>Octopus Server configured successfully</p><p>If you can view this page, your Octopus Server is configured and ready to accept polling Tentacle connections.</p></body></html>";

/// The name under which the cluster's server certificate is stored.
pub const SERVER_CERTIFICATE: &str = "polling-server";

/// What a node's polling listener needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollingConfig {
    /// Address to bind: the node's own address, the same port on every
    /// node (unique address) or its own port (unique port, behind the LB).
    pub listen: SocketAddr,
    /// How long a connection waits for work before the null message.
    pub poll_wait_ms: u64,
    /// How long a request may wait to be collected.
    pub pickup_timeout_ms: u64,
}

/// Why a call to a Tentacle failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No connection took the request in time.
    NotCollected(Duration),
    /// It was taken, and then the connection failed or the Tentacle
    /// answered with an error.
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotCollected(d) => write!(
                f,
                "A request was sent to a polling endpoint, but the polling endpoint did not collect the request within the allowed time ({}), so the request timed out.",
                halibut::timespan(*d)
            ),
            CallError::Failed(why) => f.write_str(why),
        }
    }
}

struct Pending {
    request: Request,
    /// Told when a connection takes the request; gone if the caller gave up.
    picked: oneshot::Sender<()>,
    reply: oneshot::Sender<Result<Response, String>>,
}

/// One subscription's queue: many connections take from one receiver.
struct Queue {
    tx: mpsc::UnboundedSender<Pending>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
}

/// The node's queues and listener settings.
pub struct Polling {
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    poll_wait: Duration,
    pickup: Duration,
    /// A peer's handshake and identification, and its NEXT or PROCEED.
    handshake: Duration,
    heartbeat: Duration,
    /// Connections open now, for the node's log at exit and for tests.
    open: std::sync::atomic::AtomicUsize,
}

impl Polling {
    /// Queues with these timeouts.
    pub fn new(cfg: &PollingConfig, waits: &crate::timeouts::ServerTimeouts) -> Self {
        Self {
            queues: Mutex::new(HashMap::new()),
            poll_wait: Duration::from_millis(cfg.poll_wait_ms),
            pickup: Duration::from_millis(cfg.pickup_timeout_ms),
            handshake: waits.handshake(),
            heartbeat: waits.heartbeat(),
            open: Default::default(),
        }
    }

    /// Polling connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn queue(&self, subscription: &str) -> Arc<Queue> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues
            .entry(normalise(subscription))
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Queue {
                    tx,
                    rx: tokio::sync::Mutex::new(rx),
                })
            })
            .clone()
    }

    /// Sends a request to a Tentacle through this node's queue and waits
    /// for its answer.
    pub async fn call(&self, subscription: &str, request: Request) -> Result<Response, CallError> {
        let (picked_tx, picked_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let pending = Pending {
            request,
            picked: picked_tx,
            reply: reply_tx,
        };
        if self.queue(subscription).tx.send(pending).is_err() {
            return Err(CallError::Failed("the node's queue is closed".into()));
        }
        // Dropping the receiver on timeout withdraws the request: a
        // connection that takes it later finds nobody waiting and skips it.
        match timeout(self.pickup, picked_rx).await {
            Ok(Ok(())) => {}
            _ => return Err(CallError::NotCollected(self.pickup)),
        }
        match reply_rx.await {
            Ok(Ok(r)) => match r.error {
                Some(e) => Err(CallError::Failed(format!(
                    "the Tentacle answered with an error: {}",
                    e.message
                ))),
                None => Ok(r),
            },
            Ok(Err(why)) => Err(CallError::Failed(why)),
            Err(_) => Err(CallError::Failed(
                "the polling connection ended before the response".into(),
            )),
        }
    }

    /// Accepts polling connections until the process ends. `trusted`
    /// says whether a client thumbprint is registered.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        server: &tls::TlsIdentity,
        trusted: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    ) -> Result<(), String> {
        let acceptor = TlsAcceptor::from(tls::server_config(server)?);
        let slots = crate::http::connection_slots();
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    eprintln!("polling accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(slot) = crate::http::take_slot(&slots) else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let me = self.clone();
            let acceptor = acceptor.clone();
            let trusted = trusted.clone();
            tokio::spawn(async move {
                let _slot = slot;
                me.open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = me.connection(acceptor, tcp, &*trusted).await {
                    eprintln!("polling connection from {peer}: {e}");
                }
                me.open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
    }

    async fn connection(
        &self,
        acceptor: TlsAcceptor,
        tcp: TcpStream,
        trusted: &(dyn Fn(&str) -> bool + Send + Sync),
    ) -> Result<(), String> {
        let hello = async {
            let tls = acceptor
                .accept(tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            let mut wire = Wire::new(tls);
            let first = wire.line().await.map_err(|e| e.to_string())?;
            if first != "MX" {
                // A browser or a probe: the friendly page, then close.
                let _ = wire.send_bytes(FRIENDLY_PAGE.as_bytes()).await;
                wire.shutdown().await;
                return Ok(None);
            }
            let _blank = wire.line().await.map_err(|e| e.to_string())?;
            let who = wire.line().await.map_err(|e| e.to_string())?;
            let _blank = wire.line().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(Some((wire, who)))
        };
        let Some((mut wire, who)) = timeout(self.handshake, hello)
            .await
            .map_err(|_| "no identification within the handshake timeout".to_string())??
        else {
            return Ok(());
        };
        let Some(thumbprint) = tls::peer_thumbprint(wire.get_ref().get_ref().1) else {
            return Err("the client did not present a client certificate".into());
        };
        if !trusted(&thumbprint) {
            // Halibut's ClientDenied: logged, and the connection closed.
            return Err(format!(
                "the client presented a client certificate with the thumbprint '{thumbprint}' which is not in the list of thumbprints that we trust"
            ));
        }
        let subscription = match Identity::parse(&who).map_err(|e| e.to_string())? {
            Identity::Subscriber(uri) => uri,
            other => return Err(format!("expected a subscriber, got {other:?}")),
        };
        wire.send_bytes(Identity::Server.line().as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let queue = self.queue(&subscription);
        loop {
            let next = timeout(self.poll_wait, async {
                let mut rx = queue.rx.lock().await;
                rx.recv().await
            })
            .await;
            match next {
                Ok(Some(pending)) => {
                    if pending.picked.is_closed() {
                        // The caller gave up before this was taken.
                        continue;
                    }
                    let sent = wire
                        .send(Some(&Message::Request(pending.request.clone())))
                        .await;
                    if let Err(e) = sent {
                        // Nothing reached the Tentacle: the request waits
                        // for another connection, within its pick-up time.
                        let _ = queue.tx.send(pending);
                        return Err(format!("the connection failed before a request: {e}"));
                    }
                    // Collected. A caller that gave up in the last instant
                    // finds its answer dropped.
                    let _ = pending.picked.send(());
                    let answer = self.response(&mut wire, &pending.request).await;
                    let broken = answer.is_err();
                    let _ = pending.reply.send(answer);
                    if broken {
                        return Err("the connection failed during a request".into());
                    }
                }
                // Every queue sender lives in `self`, so None cannot
                // happen; treat it as idle.
                Ok(None) | Err(_) => wire.send(None).await.map_err(|e| e.to_string())?,
            }
            match timeout(self.heartbeat, wire.control()).await {
                Ok(Ok(Control::Next)) => wire
                    .send_control(Control::Proceed)
                    .await
                    .map_err(|e| e.to_string())?,
                Ok(Ok(_)) | Ok(Err(_)) => return Ok(()),
                Err(_) => return Err("no NEXT within the heartbeat timeout".into()),
            }
        }
    }

    /// The Tentacle's response to a request just sent.
    async fn response(
        &self,
        wire: &mut Wire<tokio_rustls::server::TlsStream<TcpStream>>,
        request: &Request,
    ) -> Result<Response, String> {
        match timeout(RESPONSE_TIMEOUT, wire.message()).await {
            Ok(Ok(Some(Message::Response(r)))) if r.id == request.id => Ok(r),
            Ok(Ok(other)) => Err(format!(
                "expected the response to {}, got {other:?}",
                request.id
            )),
            Ok(Err(e)) => Err(format!("the polling connection failed: {e}")),
            Err(_) => Err("the Tentacle did not answer within 5 minutes".into()),
        }
    }
}

/// Subscription URIs compare without case or trailing slash, as URIs do.
fn normalise(uri: &str) -> String {
    uri.trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_nobody_collects_fails_with_octopus_words() {
        let p = Polling::new(
            &PollingConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                poll_wait_ms: 1000,
                pickup_timeout_ms: 50,
            },
            &crate::timeouts::ServerTimeouts::default(),
        );
        let r = halibut::services::request("poll://x/", "A", "S", "M", 1, vec![]);
        let e = timeout(Duration::from_secs(5), p.call("poll://x/", r))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e, CallError::NotCollected(Duration::from_millis(50)));
        assert!(
            e.to_string()
                .contains("did not collect the request within the allowed time (00:00:00.0500000)"),
            "{e}"
        );
    }
}
