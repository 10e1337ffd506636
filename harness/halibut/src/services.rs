//! The Tentacle services a health check calls (docs/halibut.md, "Tentacle
//! services for a health check"), as Halibut values:
//! `ICapabilitiesServiceV2.GetCapabilities`, then `IScriptServiceV2`
//! `StartScript`, `GetStatus` until the script is complete, and
//! `CompleteScript`. The node builds the requests and reads the answers;
//! the simulated Tentacle does the reverse, so both use the same `$type`
//! names and field names.

use super::{Bson, Doc, Guid, Request};

/// The capabilities service.
pub const CAPABILITIES: &str = "ICapabilitiesServiceV2";
/// The script service.
pub const SCRIPT_V2: &str = "IScriptServiceV2";
/// What a Tentacle says it supports.
pub const TENTACLE_CAPABILITIES: [&str; 3] = ["IScriptService", "IFileTransferService", SCRIPT_V2];

const CAPABILITIES_RESPONSE: &str =
    "Octopus.Tentacle.Contracts.Capabilities.CapabilitiesResponseV2, Octopus.Tentacle.Contracts";
const START_SCRIPT: &str =
    "Octopus.Tentacle.Contracts.ScriptServiceV2.StartScriptCommandV2, Octopus.Tentacle.Contracts";
const STATUS_REQUEST: &str =
    "Octopus.Tentacle.Contracts.ScriptServiceV2.ScriptStatusRequestV2, Octopus.Tentacle.Contracts";
const STATUS_RESPONSE: &str =
    "Octopus.Tentacle.Contracts.ScriptServiceV2.ScriptStatusResponseV2, Octopus.Tentacle.Contracts";
const COMPLETE_SCRIPT: &str = "Octopus.Tentacle.Contracts.ScriptServiceV2.CompleteScriptCommandV2, Octopus.Tentacle.Contracts";
/// A legacy type, written under the old namespace as Tentacle does.
const TICKET: &str = "Octopus.Shared.Contracts.ScriptTicket, Octopus.Shared";
const PROCESS_OUTPUT: &str = "Octopus.Shared.Contracts.ProcessOutput, Octopus.Shared";

/// `ScriptStatusResponseV2.State`.
pub const STATE_COMPLETE: i32 = 2;
/// Running.
pub const STATE_RUNNING: i32 = 1;

fn typed(type_name: &str, fields: Vec<(&str, Bson)>) -> Bson {
    let mut doc = vec![("$type".to_string(), Bson::String(type_name.into()))];
    doc.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    Bson::Document(Doc(doc))
}

/// A request to a polling Tentacle: `n` counts the calls on this
/// endpoint, as Halibut's ids do.
pub fn request(
    subscription: &str,
    thumbprint: &str,
    service: &str,
    method: &str,
    n: u64,
    params: Vec<Bson>,
) -> Request {
    let activity_id = Guid::random();
    Request {
        id: format!("{service}::{method}[{n}] / {activity_id}"),
        activity_id,
        endpoint: Doc(vec![
            ("BaseUri".into(), Bson::String(subscription.into())),
            ("RemoteThumbprint".into(), Bson::String(thumbprint.into())),
        ]),
        service: service.into(),
        method: method.into(),
        params,
    }
}

/// The answer to `GetCapabilities`.
pub fn capabilities(supported: &[&str]) -> Bson {
    typed(
        CAPABILITIES_RESPONSE,
        vec![(
            "SupportedCapabilities",
            Bson::Array(
                supported
                    .iter()
                    .map(|s| Bson::String(s.to_string()))
                    .collect(),
            ),
        )],
    )
}

/// The capabilities in an answer.
pub fn read_capabilities(result: &Bson) -> Vec<String> {
    match result {
        Bson::Document(d) => match d.get("SupportedCapabilities") {
            Some(Bson::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Bson::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn ticket(task_id: &str) -> Bson {
    typed(TICKET, vec![("TaskId", Bson::String(task_id.into()))])
}

/// The ticket's task ID in a command or status.
pub fn ticket_of(value: &Bson) -> Option<String> {
    let Bson::Document(d) = value else {
        return None;
    };
    match d.get("Ticket").or_else(|| d.get("ScriptTicket")) {
        Some(Bson::Document(t)) => t.str("TaskId").map(str::to_string),
        _ => None,
    }
}

/// `StartScriptCommandV2` for a script under `ticket_id`.
pub fn start_script(ticket_id: &str, body: &str) -> Bson {
    typed(
        START_SCRIPT,
        vec![
            ("ScriptBody", Bson::String(body.into())),
            ("Isolation", Bson::Int32(0)),
            (
                "ScriptIsolationMutexTimeout",
                Bson::String("00:02:00".into()),
            ),
            ("IsolationMutexName", Bson::String("RunningScript".into())),
            ("Arguments", Bson::Array(vec![])),
            ("TaskId", Bson::String(ticket_id.into())),
            ("ScriptTicket", ticket(ticket_id)),
            ("DurationToWaitForScriptToFinish", Bson::Null),
            ("Scripts", Bson::Document(Doc::default())),
            ("Files", Bson::Array(vec![])),
        ],
    )
}

/// `ScriptStatusRequestV2`.
pub fn status_request(ticket_id: &str, last_log_sequence: i64) -> Bson {
    typed(
        STATUS_REQUEST,
        vec![
            ("Ticket", ticket(ticket_id)),
            ("LastLogSequence", Bson::Int64(last_log_sequence)),
        ],
    )
}

/// `CompleteScriptCommandV2`.
pub fn complete_script(ticket_id: &str) -> Bson {
    typed(COMPLETE_SCRIPT, vec![("Ticket", ticket(ticket_id))])
}

/// `ScriptStatusResponseV2`, as far as the harness uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptStatus {
    /// The ticket's task ID.
    pub ticket: String,
    /// 0 pending, 1 running, 2 complete.
    pub state: i32,
    /// The exit code once complete.
    pub exit_code: i32,
    /// Output lines since the last sequence asked for.
    pub logs: Vec<String>,
    /// The sequence to ask from next.
    pub next_log_sequence: i64,
}

impl ScriptStatus {
    /// As BSON.
    pub fn to_bson(&self) -> Bson {
        typed(
            STATUS_RESPONSE,
            vec![
                ("Ticket", ticket(&self.ticket)),
                ("State", Bson::Int32(self.state)),
                ("ExitCode", Bson::Int32(self.exit_code)),
                (
                    "Logs",
                    Bson::Array(
                        self.logs
                            .iter()
                            .map(|text| {
                                typed(
                                    PROCESS_OUTPUT,
                                    vec![
                                        ("Source", Bson::Int32(0)),
                                        ("Occurred", Bson::DateTime(0)),
                                        ("Text", Bson::String(text.clone())),
                                    ],
                                )
                            })
                            .collect(),
                    ),
                ),
                ("NextLogSequence", Bson::Int64(self.next_log_sequence)),
            ],
        )
    }

    /// From BSON, or None when it is not a status.
    pub fn from_bson(value: &Bson) -> Option<Self> {
        let Bson::Document(d) = value else {
            return None;
        };
        let int = |key: &str| match d.get(key) {
            Some(Bson::Int32(n)) => Some(i64::from(*n)),
            Some(Bson::Int64(n)) => Some(*n),
            _ => None,
        };
        Some(Self {
            ticket: ticket_of(value)?,
            state: int("State")? as i32,
            exit_code: int("ExitCode").unwrap_or(0) as i32,
            logs: match d.get("Logs") {
                Some(Bson::Array(a)) => a
                    .iter()
                    .filter_map(|l| match l {
                        Bson::Document(o) => o.str("Text").map(str::to_string),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            next_log_sequence: int("NextLogSequence").unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_values_round_trip_through_bson_with_their_types_first() {
        let s = ScriptStatus {
            ticket: "T-1".into(),
            state: STATE_COMPLETE,
            exit_code: 0,
            logs: vec!["hello".into()],
            next_log_sequence: 1,
        };
        let bytes = super::super::encode(&Doc(vec![("r".into(), s.to_bson())]));
        let (doc, _) = super::super::decode(&bytes).unwrap();
        let back = doc.get("r").unwrap();
        assert_eq!(ScriptStatus::from_bson(back), Some(s));
        let Bson::Document(d) = back else { panic!() };
        assert_eq!(d.0[0].0, "$type");
        assert_eq!(ticket_of(&start_script("T-2", "echo")), Some("T-2".into()));
        assert_eq!(ticket_of(&complete_script("T-3")), Some("T-3".into()));
        assert_eq!(
            read_capabilities(&capabilities(&TENTACLE_CAPABILITIES)),
            TENTACLE_CAPABILITIES
        );
        let r = request(
            "poll://a/",
            "AB",
            CAPABILITIES,
            "GetCapabilities",
            3,
            vec![],
        );
        assert!(r.id.starts_with("ICapabilitiesServiceV2::GetCapabilities[3] / "));
    }
}
