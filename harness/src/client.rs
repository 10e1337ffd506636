//! The harness's HTTP client for the Octopus REST API: one request, one
//! observation, classified as ok, fail or indeterminate; and the typed
//! calls faults and the task workload make (drain, node summary, tasks,
//! task logs).
//!
//! API calls here are small, so a total deadline per request is right; the
//! large uploads of a later issue use connect and read timeouts instead.
//! Error messages name the method, URL and status, never the API key,
//! which travels in a header only.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::history::{Op, Outcome};
pub use crate::vocab::{ApiKey, Trust};
use reference_cluster::api::{CollectionBody, NewTask, NodeBody, PingBody, TaskBody};

/// Deadline of the typed calls (drain, summary, task reads).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// For a ping: the serving node as its body names it (its `Name`, else
    /// its `Id`).
    pub node: Option<String>,
}

/// A client of one Octopus API base URL (the LB, or one node).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
}

/// Installs ring as the process's TLS crypto provider, once: reqwest
/// builds its TLS with the process default, and the harness uses ring
/// everywhere (rcgen and the Halibut listener too), so two providers never
/// meet.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client builder that trusts HTTPS servers as the target says:
/// the system's roots, a CA file's, one pinned certificate, or (only when
/// asked) anything.
pub fn http_builder(trust: &Trust) -> Result<reqwest::ClientBuilder, String> {
    install_crypto();
    #[allow(clippy::disallowed_methods)] // The one place allowed to.
    let b = reqwest::Client::builder();
    Ok(match trust {
        Trust::System => b,
        Trust::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("failed to read the CA file {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "the CA file {} holds no usable certificate: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {} holds no certificate",
                    path.display()
                ));
            }
            b.tls_certs_only(certs)
        }
        Trust::Thumbprint(t) => b.tls_backend_preconfigured(halibut::tls::pinned_server(t)?),
        Trust::Insecure => b.danger_accept_invalid_certs(true),
    })
}

/// What a finished request says: its status and body, or the error that
/// ended it. Shared by the open-model driver and the load phase's users.
pub fn observe(op: Op, result: Result<(u16, Bytes), reqwest::Error>) -> Observation {
    match result {
        Ok((status, body)) => {
            let ok = (200..300).contains(&status);
            // A drained node answers ping with 418 and its resource, so
            // the body still names the node that served the request.
            let node = if op == Op::Ping && (ok || status == 418) {
                serde_json::from_slice::<PingBody>(&body)
                    .ok()
                    .and_then(PingBody::names)
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
        Err(e) => {
            let (outcome, kind) = classify(&e);
            Observation {
                outcome,
                status: None,
                error: Some(kind.to_string()),
                bytes: 0,
                node: None,
            }
        }
    }
}

impl ApiClient {
    /// A client for `base` (for example `http://127.0.0.1:8080`).
    pub fn new(base: &str, key: ApiKey) -> Result<Self, String> {
        Self::with_trust(base, key, &Trust::System)
    }

    /// A client for `base` that trusts HTTPS servers as `trust` says.
    pub fn with_trust(base: &str, key: ApiKey, trust: &Trust) -> Result<Self, String> {
        let http = http_builder(trust)?
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
            Ok(result) => observe(op, result),
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

    /// The ping status of this base URL, or None when nothing answered,
    /// and what its body says of the node's heartbeat, where it says.
    pub async fn ping_heartbeat(&self, timeout: Duration) -> (Option<u16>, Option<Heartbeat>) {
        match self.call(Method::GET, Op::Ping.path(), None, timeout).await {
            Ok((status, body)) => (Some(status), Heartbeat::from_ping(&body)),
            Err(_) => (None, None),
        }
    }

    /// The whole second of this base URL's `Date` header, in seconds since
    /// the Unix epoch, from a ping; an error when nothing answered or the
    /// answer has no `Date` a reader can parse.
    pub async fn server_date(&self, timeout: Duration) -> Result<i64, String> {
        let url = format!("{}{}", self.base, Op::Ping.path());
        let resp = self
            .http
            .get(&url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {} error", classify(&e).1))?;
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .ok_or_else(|| format!("GET {url}: the answer has no Date header"))?;
        let at = httpdate::parse_http_date(date)
            .map_err(|_| format!("GET {url}: the Date header {date:?} does not parse"))?;
        at.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .map_err(|_| format!("GET {url}: the Date header {date:?} is before 1970"))
    }

    /// Sends a request with an optional JSON body; gives the status and the
    /// body, or a message naming the call.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<(u16, Bytes), CallError> {
        let url = format!("{}{}", self.base, path);
        let what = format!("{method} {url}");
        let mut req = self
            .http
            .request(method, &url)
            .header("X-Octopus-ApiKey", self.key.expose())
            .timeout(timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let sent = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            Ok::<_, reqwest::Error>((status, resp.bytes().await?))
        };
        sent.await.map_err(|e| {
            let (outcome, kind) = classify(&e);
            CallError {
                message: match root_cause(&e) {
                    Some(cause) => format!("{what}: {kind} error ({cause})"),
                    None => format!("{what}: {kind} error"),
                },
                outcome,
                kind,
            }
        })
    }

    /// GETs JSON; any status but 2xx is an error that quotes Octopus's
    /// ErrorMessage when there is one.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let (status, body) = self
            .call(Method::GET, path, None, CALL_TIMEOUT)
            .await
            .map_err(|e| e.message)?;
        expect_json(&format!("GET {}{path}", self.base), status, &body)
    }

    /// Every node, from `GET /api/octopusservernodes/all`, or from the
    /// paged list where a cluster has no `/all`.
    pub async fn nodes(&self) -> Result<Vec<NodeBody>, String> {
        match self.get_json("/api/octopusservernodes/all").await {
            Ok(nodes) => Ok(nodes),
            Err(all) => self
                .get_json::<CollectionBody<NodeBody>>("/api/octopusservernodes?skip=0&take=1000")
                .await
                .map(|page| page.items)
                .map_err(|paged| format!("{all}; {paged}")),
        }
    }

    /// Every node with its running task count, from the cluster summary.
    pub async fn summary(&self) -> Result<Vec<NodeBody>, String> {
        let s: Summary = self.get_json("/api/octopusservernodes/summary").await?;
        Ok(s.nodes)
    }

    /// One node's resource, by its Id.
    pub async fn node(&self, id: &str) -> Result<NodeBody, String> {
        self.get_json(&node_path(id)).await
    }

    /// How many tasks a node runs: from the cluster summary, else from the
    /// node's details, for clusters that lack one or the other. An error
    /// when neither says.
    pub async fn running_tasks(&self, id: &str) -> Result<u32, String> {
        let summary = match self.summary().await {
            Ok(nodes) => match nodes.iter().find(|n| n.id == id) {
                Some(n) => match n.running_task_count {
                    Some(count) => return Ok(count),
                    None => format!("the cluster summary gives {id} no RunningTaskCount"),
                },
                None => format!("the cluster summary does not list {id}"),
            },
            Err(e) => e,
        };
        let path = format!("{}/details", node_path(id));
        let details: serde_json::Value = self
            .get_json(&path)
            .await
            .map_err(|e| format!("{summary}; {e}"))?;
        details
            .get("RunningTasks")
            .and_then(serde_json::Value::as_u64)
            .map(|n| n.min(u64::from(u32::MAX)) as u32)
            .ok_or_else(|| format!("{summary}; {path} gives no count of RunningTasks"))
    }

    /// Drains (true) or undrains a node, by its Id: the node's resource is
    /// read, only `IsInMaintenanceMode` is changed, and the whole of it is
    /// PUT back, so no other field (a task cap the harness did not read)
    /// is overwritten. Done when the cluster answers with the node in the
    /// state asked for.
    pub async fn set_drain(&self, id: &str, drained: bool) -> Result<(), String> {
        let path = node_path(id);
        let mut body: serde_json::Value = self.get_json(&path).await?;
        match body.as_object_mut() {
            Some(fields) => {
                fields.insert("IsInMaintenanceMode".into(), drained.into());
            }
            None => return Err(format!("GET {}{path} did not give a node", self.base)),
        }
        let (status, resp) = self
            .call(Method::PUT, &path, Some(&body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.message)?;
        let put = format!("PUT {}{path}", self.base);
        let answered: serde_json::Value = match expect_json(&put, status, &resp) {
            Ok(body) => body,
            // Accepted with no JSON at all (a 204, say).
            Err(_) if (200..300).contains(&status) => serde_json::Value::Null,
            Err(e) => return Err(e),
        };
        // Where the answer does not say, what the cluster now holds is read
        // back: a field left out is not a "false".
        let now = match answered
            .get("IsInMaintenanceMode")
            .and_then(|v| v.as_bool())
        {
            Some(now) => now,
            None => {
                let read: serde_json::Value = self.get_json(&path).await?;
                read.get("IsInMaintenanceMode")
                    .and_then(|v| v.as_bool())
                    .ok_or_else(|| {
                        format!(
                            "{put} answered {status}, and GET {}{path} does not say IsInMaintenanceMode",
                            self.base
                        )
                    })?
            }
        };
        if now != drained {
            return Err(format!(
                "{put} answered {status} but IsInMaintenanceMode is still {now}"
            ));
        }
        Ok(())
    }

    /// Queues a task: `POST /api/Spaces-1/tasks`.
    pub async fn create_task(&self, task: &NewTask, timeout: Duration) -> TaskCreated {
        let body = serde_json::to_value(task).unwrap_or_default();
        let path = format!(
            "/api/{}/tasks",
            task.space_id
                .as_deref()
                .unwrap_or(reference_cluster::api::SPACE_ID)
        );
        match self.call(Method::POST, &path, Some(&body), timeout).await {
            Ok((status, resp)) => {
                let id = serde_json::from_slice::<TaskBody>(&resp).ok().map(|t| t.id);
                let accepted = (200..300).contains(&status);
                let (outcome, error) = match (accepted, &id) {
                    (true, Some(_)) => (Outcome::Ok, None),
                    // Accepted, yet no ID to follow: the task may exist.
                    (true, None) => (
                        Outcome::Indeterminate,
                        Some(format!("status {status} without a task")),
                    ),
                    (false, _) => (Outcome::Fail, Some(format!("status {status}"))),
                };
                TaskCreated {
                    outcome,
                    status: Some(status),
                    error,
                    id: if outcome == Outcome::Ok { id } else { None },
                }
            }
            Err(e) => TaskCreated {
                outcome: e.outcome,
                status: None,
                error: Some(e.kind.to_string()),
                id: None,
            },
        }
    }

    /// The server certificate's thumbprint, which polling Tentacles pin.
    pub async fn server_thumbprint(&self) -> Result<String, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Certificate {
            thumbprint: String,
        }
        let c: Certificate = self
            .get_json("/api/configuration/certificates/certificate-global")
            .await?;
        Ok(c.thumbprint)
    }

    /// Registers a polling Tentacle (docs/octopus-surface.md, "Polling
    /// Tentacles"); gives its machine ID.
    pub async fn register_machine(
        &self,
        name: &str,
        subscription: &str,
        thumbprint: &str,
    ) -> Result<String, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Machine {
            id: String,
        }
        let body = serde_json::json!({
            "Name": name,
            "EnvironmentIds": [],
            "Roles": ["harness-fleet"],
            "Endpoint": {
                "CommunicationStyle": "TentacleActive",
                "Uri": subscription,
                "Thumbprint": thumbprint,
            },
        });
        let path = format!("/api/{}/machines", reference_cluster::api::SPACE_ID);
        let (status, resp) = self
            .call(Method::POST, &path, Some(&body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.message)?;
        let m: Machine = expect_json(&format!("POST {}{path}", self.base), status, &resp)?;
        Ok(m.id)
    }

    /// Removes a machine.
    pub async fn delete_machine(&self, id: &str) -> Result<(), String> {
        let path = format!("/api/{}/machines/{id}", reference_cluster::api::SPACE_ID);
        let (status, resp) = self
            .call(Method::DELETE, &path, None, CALL_TIMEOUT)
            .await
            .map_err(|e| e.message)?;
        expect_json::<serde_json::Value>(&format!("DELETE {}{path}", self.base), status, &resp)
            .map(|_| ())
    }

    /// Reads tasks by ID, up to 100 at a time.
    pub async fn tasks(&self, ids: &[String]) -> Result<Vec<TaskBody>, String> {
        let path = format!("/api/tasks?ids={}&take={}", ids.join(","), ids.len().max(1));
        let page: CollectionBody<TaskBody> = self.get_json(&path).await?;
        Ok(page.items)
    }

    /// Cancels a task; a finished one stays as it ended.
    pub async fn cancel_task(&self, id: &str) -> Result<(), String> {
        let path = format!("/api/tasks/{id}/cancel");
        let (status, body) = self
            .call(Method::POST, &path, None, CALL_TIMEOUT)
            .await
            .map_err(|e| e.message)?;
        let _: TaskBody = expect_json(&format!("POST {}{path}", self.base), status, &body)?;
        Ok(())
    }

    /// A task's raw log: the status and the bytes.
    pub async fn raw_log(&self, id: &str) -> Result<(u16, Bytes), String> {
        self.call(
            Method::GET,
            &format!("/api/tasks/{id}/raw"),
            None,
            CALL_TIMEOUT,
        )
        .await
        .map_err(|e| e.message)
    }
}

/// The path of a node's resource.
fn node_path(id: &str) -> String {
    format!("/api/octopusservernodes/{id}")
}

/// A call that got no response.
#[derive(Debug, Clone)]
pub struct CallError {
    /// What failed, naming the method and URL.
    pub message: String,
    /// Fail (nothing was sent) or indeterminate.
    pub outcome: Outcome,
    /// A word for the history.
    pub kind: &'static str,
}

/// The outcome of a task submission.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCreated {
    /// Ok only with a 2xx and a task ID.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
    /// The new task's ID.
    pub id: Option<String>,
}

/// Refused means the request never left: a definite failure. Anything after
/// the connection opened may or may not have reached the server.
fn classify(e: &reqwest::Error) -> (Outcome, &'static str) {
    if e.is_connect() && is_tls(e) {
        // The server answered the handshake; its certificate was not
        // trusted, so the request was never sent.
        (Outcome::Fail, "tls")
    } else if e.is_connect() {
        (Outcome::Fail, "connect")
    } else if e.is_timeout() {
        (Outcome::Indeterminate, "timeout")
    } else if e.is_body() || e.is_decode() {
        (Outcome::Indeterminate, "body")
    } else {
        (Outcome::Indeterminate, "connection")
    }
}

/// Whether a rustls error is on the error's chain. An io::Error hides
/// the error it wraps from `source` (it gives that error's source), so
/// the chain goes through what it wraps instead.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.is::<rustls::Error>() {
            return true;
        }
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

/// The innermost cause of an error, such as "invalid peer certificate:
/// UnknownIssuer" or "Connection refused (os error 111)": what a user can
/// act on, which reqwest's own message leaves out.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut last = e.source()?;
    while let Some(next) = last.source() {
        last = next;
    }
    Some(last.to_string())
}

/// The cluster summary's one field the harness reads.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Summary {
    nodes: Vec<NodeBody>,
}

/// A JSON answer to `what`: a 2xx body of the expected shape, or an error
/// naming the call, the status and the server's `ErrorMessage`.
pub(crate) fn expect_json<T: DeserializeOwned>(
    what: &str,
    status: u16,
    body: &[u8],
) -> Result<T, String> {
    if !(200..300).contains(&status) {
        let said = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("ErrorMessage")?.as_str().map(str::to_string))
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Err(format!("{what} answered {status}{said}"));
    }
    serde_json::from_slice(body)
        .map_err(|e| format!("{what}: the response is not what Octopus sends: {e}"))
}

/// What a node's ping body says of its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// `LastSeen`, as the cluster wrote it.
    pub last_seen: String,
    /// `IsOffline`; false where the body leaves it out.
    pub offline: bool,
}

impl Heartbeat {
    /// From a ping body; None when it carries no `LastSeen` (an error
    /// body, or a cluster whose ping says less).
    fn from_ping(body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(Self {
            last_seen: v.get("LastSeen")?.as_str()?.to_string(),
            offline: v
                .get("IsOffline")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        })
    }
}
