//! The harness's HTTP client for the Octopus REST API: one request, one
//! observation, classified as ok, fail or indeterminate.
//!
//! API calls here are small, so a total deadline per request is right; the
//! large uploads of a later issue use connect and read timeouts instead.

use std::fmt;
use std::time::Duration;

use crate::cluster::api::PingBody;
use crate::history::{Op, Outcome};

/// An API key. It never prints: `Debug` and reports show it redacted, and
/// only [`ApiKey::expose`] gives the text, for the one header that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// A fresh random key in Octopus's format (`API-` and 26 characters).
    pub fn generate() -> Result<Self, String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut bytes = [0u8; 26];
        getrandom::fill(&mut bytes).map_err(|e| format!("failed to read OS randomness: {e}"))?;
        let key: String = bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        Ok(Self(format!("API-{key}")))
    }

    /// The key itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What one request observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Ok, fail or indeterminate.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    pub status: Option<u16>,
    /// What went wrong, in a word or two.
    pub error: Option<String>,
    /// Response body bytes.
    pub bytes: u64,
    /// For a ping: the serving node's `Name`.
    pub node: Option<String>,
}

/// A client of one Octopus API base URL (the LB, or one node).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
}

impl ApiClient {
    /// A client for `base` (for example `http://127.0.0.1:8080`).
    pub fn new(base: &str, key: ApiKey) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("failed to build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
        })
    }

    /// Sends one request and classifies what came back.
    pub async fn invoke(&self, op: Op, timeout: Duration) -> Observation {
        let url = format!("{}{}", self.base, op.path());
        let call = async {
            let resp = self
                .http
                .get(&url)
                .header("X-Octopus-ApiKey", self.key.expose())
                .send()
                .await?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok((status, body))) => {
                let ok = (200..300).contains(&status);
                let node = if op == Op::Ping && ok {
                    serde_json::from_slice::<PingBody>(&body)
                        .ok()
                        .map(|b| b.name)
                } else {
                    None
                };
                Observation {
                    outcome: if ok { Outcome::Ok } else { Outcome::Fail },
                    status: Some(status),
                    error: None,
                    bytes: body.len() as u64,
                    node,
                }
            }
            Ok(Err(e)) => {
                // Refused means the request never left: a definite failure.
                // Anything after the connection opened may or may not have
                // reached the server.
                let (outcome, kind) = if e.is_connect() {
                    (Outcome::Fail, "connect")
                } else if e.is_timeout() {
                    (Outcome::Indeterminate, "timeout")
                } else if e.is_body() || e.is_decode() {
                    (Outcome::Indeterminate, "body")
                } else {
                    (Outcome::Indeterminate, "connection")
                };
                Observation {
                    outcome,
                    status: None,
                    error: Some(kind.to_string()),
                    bytes: 0,
                    node: None,
                }
            }
            Err(_) => Observation {
                outcome: Outcome::Indeterminate,
                status: None,
                error: Some("timeout".to_string()),
                bytes: 0,
                node: None,
            },
        }
    }

    /// The ping status of this base URL, or None when nothing answered.
    pub async fn ping_status(&self, timeout: Duration) -> Option<u16> {
        self.invoke(Op::Ping, timeout).await.status
    }
}
