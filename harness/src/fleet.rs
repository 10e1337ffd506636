//! The simulated fleet of polling Tentacles: many Tentacles in this one
//! process, each with its own certificate and subscription ID, each
//! keeping `connections` Halibut polling connections to every endpoint it
//! is configured for (docs/halibut.md, "The subscriber, step by step").
//!
//! A Tentacle answers `ICapabilitiesServiceV2` and `IScriptServiceV2`: a
//! script "runs" for a set time, then is complete with exit code 0. A
//! connection that fails waits as Halibut's polling loop does,
//! `clamp(elapsed since the first failure × (1 + r), min, max)` with `r`
//! random in [0, 1) (5 s and 2 min in Halibut), and the wait resets once a
//! connection identifies. Every connection change is an event, so the
//! checks judge fan-out and reconnects from the history.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_core::Rng;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::history::{Event, Events, PollingChange, PollingProbe, PollingSeen};
use halibut::limits::{HALIBUT_CONNECT_TIMEOUT, HEARTBEAT_TIMEOUT};
use halibut::services::{self, CAPABILITIES, SCRIPT_V2, ScriptStatus};
use halibut::tls::{self, TlsIdentity};
use halibut::wire::Wire;
use halibut::{Bson, Control, Identity, Message, PREAMBLE, Request, Response, ServerError};

/// How a fleet behaves.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Connections per Tentacle per endpoint.
    pub connections: u32,
    /// How long a script runs.
    pub script: Duration,
    /// The shortest reconnect wait.
    pub reconnect_min: Duration,
    /// The longest.
    pub reconnect_max: Duration,
    /// How long a connection waits for the next message: the server's poll
    /// wait plus 30 s (`TcpClientReceiveRequestTimeoutForPolling`).
    pub receive_timeout: Duration,
}

/// One simulated Tentacle.
pub struct Tentacle {
    /// Its name.
    pub name: String,
    /// `poll://<20 lowercase letters>/`, as Tentacle makes them.
    pub subscription: String,
    identity: TlsIdentity,
    /// Running scripts: ticket → when it started.
    scripts: Mutex<HashMap<String, Instant>>,
}

impl Tentacle {
    /// A new Tentacle with a fresh certificate and subscription ID.
    pub fn generate(name: &str, rng: &mut impl Rng) -> Result<Self, String> {
        let id: String = (0..20)
            .map(|_| (b'a' + (rng.next_u32() % 26) as u8) as char)
            .collect();
        Ok(Self {
            name: name.to_string(),
            subscription: format!("poll://{id}/"),
            identity: TlsIdentity::generate(name)?,
            scripts: Mutex::new(HashMap::new()),
        })
    }

    /// Its certificate's thumbprint.
    pub fn thumbprint(&self) -> &str {
        &self.identity.thumbprint
    }

    /// The answer to one request.
    fn answer(&self, r: &Request, script: Duration) -> Response {
        let result = match (r.service.as_str(), r.method.as_str()) {
            (CAPABILITIES, "GetCapabilities") => {
                Ok(services::capabilities(&services::TENTACLE_CAPABILITIES))
            }
            (SCRIPT_V2, "StartScript") => match r.params.first().and_then(services::ticket_of) {
                None => Err("StartScript without a ScriptTicket".to_string()),
                Some(ticket) => {
                    self.scripts().insert(ticket.clone(), Instant::now());
                    Ok(self.status(&ticket, script, 0))
                }
            },
            (SCRIPT_V2, "GetStatus") => {
                let last = match r.params.first() {
                    Some(Bson::Document(d)) => match d.get("LastLogSequence") {
                        Some(Bson::Int64(n)) => *n,
                        Some(Bson::Int32(n)) => i64::from(*n),
                        _ => 0,
                    },
                    _ => 0,
                };
                match r.params.first().and_then(services::ticket_of) {
                    Some(t) if self.scripts().contains_key(&t) => Ok(self.status(&t, script, last)),
                    Some(t) => Err(format!("no script with ticket {t}")),
                    None => Err("GetStatus without a Ticket".to_string()),
                }
            }
            (SCRIPT_V2, "CompleteScript") => match r.params.first().and_then(services::ticket_of) {
                Some(t) => {
                    self.scripts().remove(&t);
                    Ok(Bson::Null)
                }
                None => Err("CompleteScript without a Ticket".to_string()),
            },
            (service, method) => Err(format!(
                "the service {service} has no method {method} on this Tentacle"
            )),
        };
        match result {
            Ok(result) => Response {
                id: r.id.clone(),
                error: None,
                result,
            },
            Err(message) => Response {
                id: r.id.clone(),
                error: Some(ServerError {
                    message,
                    details: None,
                }),
                result: Bson::Null,
            },
        }
    }

    fn scripts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A script's status: running until its time is up, then complete
    /// with its one line of output.
    fn status(&self, ticket: &str, script: Duration, last_log: i64) -> Bson {
        let started = self.scripts().get(ticket).copied();
        let done = started.is_some_and(|s| s.elapsed() >= script);
        let logs = if done && last_log == 0 {
            vec![format!("{} is healthy", self.name)]
        } else {
            Vec::new()
        };
        ScriptStatus {
            ticket: ticket.to_string(),
            state: if done {
                services::STATE_COMPLETE
            } else {
                services::STATE_RUNNING
            },
            exit_code: 0,
            next_log_sequence: last_log + logs.len() as i64,
            logs,
        }
        .to_bson()
    }
}

/// Where a Tentacle polls.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node this endpoint reaches, or `lb`.
    pub node: String,
    /// Its address.
    pub addr: SocketAddr,
}

/// A running fleet. [`Fleet::stop`] ends every connection.
pub struct Fleet {
    stop: watch::Sender<bool>,
    loops: JoinSet<()>,
    open: Arc<AtomicUsize>,
}

impl Fleet {
    /// Starts every connection of every Tentacle to every target, pinning
    /// the server's thumbprint.
    pub fn start(
        tentacles: &[Arc<Tentacle>],
        targets: &[Target],
        spec: &FleetSpec,
        server_thumbprint: &str,
        events: &Events,
        seed: u64,
    ) -> Result<Self, String> {
        let (stop, stop_rx) = watch::channel(false);
        let open = Arc::new(AtomicUsize::new(0));
        let mut loops = JoinSet::new();
        let mut k = 0u64;
        for t in tentacles {
            let config = tls::client_config(&t.identity, server_thumbprint)?;
            for target in targets {
                for conn in 0..spec.connections {
                    k += 1;
                    loops.spawn(poll_loop(Loop {
                        tentacle: t.clone(),
                        config: config.clone(),
                        target: target.clone(),
                        conn,
                        spec: spec.clone(),
                        events: events.clone(),
                        stop: stop_rx.clone(),
                        open: open.clone(),
                        seed: seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    }));
                }
            }
        }
        Ok(Self { stop, loops, open })
    }

    /// Polling connections identified and open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Ends every connection and waits for every loop.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if timeout(Duration::from_secs(10), async {
            while self.loops.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            self.loops.abort_all();
            while self.loops.join_next().await.is_some() {}
        }
    }
}

struct Loop {
    tentacle: Arc<Tentacle>,
    config: Arc<ClientConfig>,
    target: Target,
    conn: u32,
    spec: FleetSpec,
    events: Events,
    stop: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
    seed: u64,
}

impl Loop {
    fn record(&self, change: PollingChange, error: Option<String>) {
        self.events.send(Event::Polling(PollingSeen {
            at_us: self.events.now_us(),
            tentacle: self.tentacle.name.clone(),
            node: self.target.node.clone(),
            conn: self.conn,
            change,
            error,
        }));
    }
}

/// One polling connection's life: connect, poll until it fails, wait,
/// again, until the fleet stops.
async fn poll_loop(mut l: Loop) {
    let mut rng = <rand_chacha::ChaCha8Rng as rand_core::SeedableRng>::seed_from_u64(l.seed);
    let mut first_failure: Option<Instant> = None;
    loop {
        if *l.stop.borrow() {
            return;
        }
        let mut stop = l.stop.clone();
        let outcome = tokio::select! {
            o = connect_and_poll(&l) => o,
            _ = stop.wait_for(|s| *s) => return,
        };
        match outcome {
            Attempt::Refused(e) => l.record(PollingChange::Failed, Some(e)),
            // It identified (and its drop is recorded): the backoff starts
            // over.
            Attempt::Ended => first_failure = None,
        }
        let since = first_failure.get_or_insert_with(Instant::now).elapsed();
        let r = (rng.next_u32() as f64) / (u32::MAX as f64 + 1.0);
        let wait = since
            .mul_f64(1.0 + r)
            .clamp(l.spec.reconnect_min, l.spec.reconnect_max);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = l.stop.wait_for(|s| *s) => return,
        }
    }
}

enum Attempt {
    /// It never identified.
    Refused(String),
    /// It polled, then ended.
    Ended,
}

async fn connect_and_poll(l: &Loop) -> Attempt {
    let hello = async {
        let tcp = TcpStream::connect(l.target.addr)
            .await
            .map_err(|e| format!("connect to {}: {e}", l.target.addr))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from("octopus").map_err(|e| e.to_string())?;
        let tls = TlsConnector::from(l.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", l.target.addr))?;
        let mut wire = Wire::new(tls);
        wire.send_bytes(PREAMBLE).await.map_err(|e| e.to_string())?;
        wire.send_bytes(
            Identity::Subscriber(l.tentacle.subscription.clone())
                .line()
                .as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
        // A server that does not trust this Tentacle closes here.
        let who = wire
            .line()
            .await
            .map_err(|e| format!("identification: {e}"))?;
        let _blank = wire.line().await.map_err(|e| e.to_string())?;
        match Identity::parse(&who).map_err(|e| e.to_string())? {
            Identity::Server => Ok(wire),
            other => Err(format!("expected MX-SERVER, got {other:?}")),
        }
    };
    let mut wire = match timeout(HALIBUT_CONNECT_TIMEOUT, hello).await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Attempt::Refused(e),
        Err(_) => return Attempt::Refused("no identification within 60s".into()),
    };
    let mut live = Live::new(l);
    let ended = poll(l, &mut wire).await;
    live.why = Some(ended);
    Attempt::Ended
}

/// An identified connection: counted open, and recorded as dropped when
/// it ends, however it ends, the fleet stopping it included, so the
/// history never shows a connection that was not there.
struct Live<'a> {
    l: &'a Loop,
    why: Option<String>,
}

impl<'a> Live<'a> {
    fn new(l: &'a Loop) -> Self {
        l.record(PollingChange::Connected, None);
        l.open.fetch_add(1, Ordering::Relaxed);
        Self { l, why: None }
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.l.open.fetch_sub(1, Ordering::Relaxed);
        let why = self
            .why
            .take()
            .unwrap_or_else(|| "the fleet stopped".into());
        self.l.record(PollingChange::Dropped, Some(why));
    }
}

/// The subscriber's side of the polling loop; returns why it ended.
async fn poll<S>(l: &Loop, wire: &mut Wire<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match timeout(l.spec.receive_timeout, wire.message()).await {
            Err(_) => return "no message from the server within the receive timeout".into(),
            Ok(Err(e)) => return e.0,
            Ok(Ok(None)) => {}
            Ok(Ok(Some(Message::Request(r)))) => {
                let answer = l.tentacle.answer(&r, l.spec.script);
                if let Err(e) = wire.send(Some(&Message::Response(answer))).await {
                    return e.0;
                }
            }
            Ok(Ok(Some(other))) => return format!("the server sent {other:?}, not a request"),
        }
        if let Err(e) = wire.send_control(Control::Next).await {
            return e.0;
        }
        match timeout(HEARTBEAT_TIMEOUT, wire.control()).await {
            Ok(Ok(Control::Proceed)) => {}
            Ok(Ok(c)) => return format!("the server answered NEXT with {c:?}"),
            Ok(Err(e)) => return e.0,
            Err(_) => return "no PROCEED within the heartbeat timeout".into(),
        }
    }
}

/// Probes a polling endpoint as a browser would: TLS without a client
/// certificate, accepting whatever certificate is served, then `GET /`.
pub async fn probe(node: &str, addr: SocketAddr, events: &Events) -> PollingProbe {
    let mut seen = PollingProbe {
        at_us: events.now_us(),
        node: node.to_string(),
        address: addr.to_string(),
        thumbprint: None,
        friendly_page: false,
        error: None,
    };
    let run = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("octopus").map_err(|e| e.to_string())?;
        let mut tls = TlsConnector::from(tls::probe_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        seen.thumbprint = tls::peer_thumbprint(tls.get_ref().1);
        tls.write_all(b"GET / HTTP/1.0\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut page = Vec::new();
        // The page is small; a server that streams forever is cut off.
        let _ = (&mut tls).take(64 * 1024).read_to_end(&mut page).await;
        let text = String::from_utf8_lossy(&page);
        seen.friendly_page = text.starts_with("HTTP/1.0 200") && text.contains("Octopus");
        Ok::<_, String>(())
    };
    match timeout(Duration::from_secs(10), run).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => seen.error = Some(e),
        Err(_) => seen.error = Some("no answer within 10s".into()),
    }
    seen.at_us = events.now_us();
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tentacle() -> Tentacle {
        let mut rng = <rand_chacha::ChaCha8Rng as rand_core::SeedableRng>::seed_from_u64(7);
        Tentacle::generate("t-1", &mut rng).unwrap()
    }

    fn req(service: &str, method: &str, params: Vec<Bson>) -> Request {
        services::request("poll://x/", "AB", service, method, 1, params)
    }

    #[test]
    fn subscriptions_look_like_tentacles_own() {
        let t = tentacle();
        let id = t
            .subscription
            .strip_prefix("poll://")
            .and_then(|s| s.strip_suffix('/'))
            .unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn a_script_runs_for_its_time_then_completes_and_is_forgotten() {
        let t = tentacle();
        let script = Duration::from_millis(50);
        let caps = t.answer(&req(CAPABILITIES, "GetCapabilities", vec![]), script);
        assert!(services::read_capabilities(&caps.result).contains(&SCRIPT_V2.to_string()));
        let start = t.answer(
            &req(
                SCRIPT_V2,
                "StartScript",
                vec![services::start_script("T-1", "echo")],
            ),
            script,
        );
        let s = ScriptStatus::from_bson(&start.result).unwrap();
        assert_eq!(s.state, services::STATE_RUNNING);
        std::thread::sleep(Duration::from_millis(60));
        let status = t.answer(
            &req(
                SCRIPT_V2,
                "GetStatus",
                vec![services::status_request("T-1", 0)],
            ),
            script,
        );
        let s = ScriptStatus::from_bson(&status.result).unwrap();
        assert_eq!(
            (s.state, s.exit_code, s.logs.len()),
            (services::STATE_COMPLETE, 0, 1)
        );
        let done = t.answer(
            &req(
                SCRIPT_V2,
                "CompleteScript",
                vec![services::complete_script("T-1")],
            ),
            script,
        );
        assert_eq!(done.error, None);
        let gone = t.answer(
            &req(
                SCRIPT_V2,
                "GetStatus",
                vec![services::status_request("T-1", 1)],
            ),
            script,
        );
        assert!(gone.error.unwrap().message.contains("no script"));
        let unknown = t.answer(&req("IFoo", "Bar", vec![]), script);
        assert!(unknown.error.is_some());
    }
}
