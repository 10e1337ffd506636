//! The Octopus REST shapes the reference nodes answer with, as in
//! docs/octopus-surface.md ("Conventions", "The API root and the space",
//! "Nodes and drain"): the API root, the OctopusServerNode resource,
//! the space and its home, the paged collection and the error body.
//! PascalCase, like Octopus.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db::NodeRow;

/// Path of the ping endpoint.
pub const PING_PATH: &str = "/api/octopusservernodes/ping";

/// Octopus's default page size.
pub const DEFAULT_TAKE: usize = 30;

/// RFC 3339 with milliseconds, from milliseconds since the epoch.
pub fn timestamp(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The OctopusServerNode resource, as ping, the collection and
/// `GET /api/octopusservernodes/{id}` give it.
pub fn node_resource(n: &NodeRow, now_ms: i64, offline_after_ms: i64) -> Value {
    json!({
        "Id": n.id,
        "Name": n.name,
        "MaxConcurrentTasks": n.max_concurrent_tasks,
        "IsInMaintenanceMode": n.is_in_maintenance_mode,
        "IsOffline": now_ms - n.last_seen_ms > offline_after_ms,
        "LastSeen": timestamp(n.last_seen_ms),
        "Version": n.version,
        "LastModifiedOn": timestamp(n.last_modified_ms),
        "LastModifiedBy": "system",
        "Links": { "Self": format!("/api/octopusservernodes/{}", n.id) },
    })
}

/// A page of a `ResourceCollection`, cut from every item.
pub fn collection(
    item_type: &str,
    self_path: &str,
    items: Vec<Value>,
    skip: usize,
    take: usize,
) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(skip).take(take.max(1)).collect();
    page_of(item_type, self_path, page, total, skip, take)
}

/// A `ResourceCollection` for a page already cut (by the database): its
/// items, and how many match in all.
pub fn page_of(
    item_type: &str,
    self_path: &str,
    page: Vec<Value>,
    total: usize,
    skip: usize,
    take: usize,
) -> Value {
    let take = take.max(1);
    let pages = total.div_ceil(take).max(1);
    json!({
        "ItemType": item_type,
        "Items": page,
        "ItemsPerPage": take,
        "TotalResults": total,
        "NumberOfPages": pages,
        "LastPageNumber": pages - 1,
        "IsStale": false,
        "Links": {
            "Self": format!("{self_path}?skip={skip}&take={take}"),
            "Template": format!("{self_path}{{?skip,take,ids,partialName}}"),
            "Page.All": format!("{self_path}?skip=0&take={}", total.max(1)),
            "Page.Current": format!("{self_path}?skip={skip}&take={take}"),
            "Page.Last": format!("{self_path}?skip={}&take={take}", (pages - 1) * take),
        },
    })
}

/// The API root document.
pub fn root(version: &str, installation_id: &str) -> Value {
    json!({
        "Application": "Octopus Deploy",
        "Version": version,
        "ApiVersion": "3.0.0",
        "InstallationId": installation_id,
        "IsEarlyAccessProgram": false,
        "HasLongTermSupport": false,
        "Links": {
            "Self": "/api",
            "OctopusServerNodes": "/api/octopusservernodes{/id}{?skip,take,ids,partialName}",
            "OctopusServerNodePing": PING_PATH,
            "Spaces": "/api/spaces{/id}{?name,skip,ids,take,partialName}",
            "SpaceHome": "/api/{spaceId}",
        },
    })
}

/// The pairs of a query string, percent-decoded (`+` is a space).
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes
            .get(i + 1)
            .zip(bytes.get(i + 2))
            .and_then(|(h, l)| Some(hex(*h)? << 4 | hex(*l)?));
        match (bytes[i], pair) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_are_percent_decoded_without_panics() {
        let pairs: Vec<(String, String)> =
            super::query_pairs("states=Queued%2CExecuting&a+b=%zz&c=%e2%82%ac&d=%").collect();
        assert_eq!(pairs[0], ("states".into(), "Queued,Executing".into()));
        assert_eq!(pairs[1], ("a b".into(), "%zz".into()));
        assert_eq!(pairs[2].1, "€");
        assert_eq!(pairs[3].1, "%");
        let _: Vec<_> = super::query_pairs("x=%é%").collect();
    }

    #[test]
    fn task_details_hold_the_task_and_each_log_line() {
        let t = crate::db::TaskRow {
            seq: 7,
            space_id: super::SPACE_ID.into(),
            name: "AdHocScript".into(),
            description: "say hello".into(),
            arguments: "{}".into(),
            state: super::TaskState::Executing,
            server_node: Some("n1".into()),
            queue_ms: 1,
            start_ms: Some(2),
            completed_ms: None,
            error: None,
        };
        let log = b"2026-01-01T00:00:00.000Z  Info  hello  world\nnot a log line\n";
        let d = super::task_details(&t, log);
        assert_eq!(d["Task"]["Id"], "ServerTasks-7");
        assert_eq!(d["PhysicalLogSize"], log.len());
        let activity = &d["ActivityLogs"][0];
        assert_eq!(
            (&activity["Status"], &activity["Name"]),
            (&"Running".into(), &"say hello".into())
        );
        let entries = activity["LogElements"].as_array().unwrap();
        assert_eq!(entries[0]["MessageText"], "hello  world");
        assert_eq!(entries[0]["OccurredAt"], "2026-01-01T00:00:00.000Z");
        assert_eq!(entries[1]["MessageText"], "not a log line");
    }
}

/// Octopus's error body.
pub fn error(message: &str) -> Value {
    json!({ "ErrorMessage": message, "Errors": [message] })
}

/// The writable part of a node, as `PUT /api/octopusservernodes/{id}` takes it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeUpdate {
    /// Must match the path.
    pub id: String,
    /// Drain (true) or undrain (false).
    #[serde(default)]
    pub is_in_maintenance_mode: Option<bool>,
    /// The task cap.
    #[serde(default)]
    pub max_concurrent_tasks: Option<u32>,
}

/// The fields of a ping body the harness reads: who the node is. Both are
/// optional, as clusters differ in what they put there; one of them names
/// the node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PingBody {
    /// The node's `Id`.
    #[serde(rename = "Id", default)]
    pub id: Option<String>,
    /// The node's `Name`.
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

impl PingBody {
    /// What the body calls the node: its Name, else its Id.
    pub fn names(self) -> Option<String> {
        self.name.filter(|n| !n.is_empty()).or(self.id)
    }
}

pub use crate::vocab::TaskState;

/// The one space of the reference cluster.
pub const SPACE_ID: &str = "Spaces-1";

/// Its name, which clients resolve to [`SPACE_ID`].
pub const SPACE_NAME: &str = "Default";

/// The SpaceResource of the reference cluster's one space.
pub fn space_resource() -> Value {
    json!({
        "Id": SPACE_ID,
        "Name": SPACE_NAME,
        "Slug": SPACE_NAME.to_lowercase(),
        "Description": "The reference cluster's only space.",
        "IsDefault": true,
        "IsPrivate": false,
        "TaskQueueStopped": false,
        "SpaceManagersTeams": [format!("teams-spacemanagers-{SPACE_ID}")],
        "SpaceManagersTeamMembers": [],
        "Icon": null,
        "LastModifiedOn": null,
        "LastModifiedBy": null,
        "Links": {
            "Self": format!("/api/spaces/{SPACE_ID}"),
            "SpaceHome": format!("/api/{SPACE_ID}"),
        },
    })
}

/// `GET /api/{spaceId}`: the links into the space, for what the reference
/// nodes serve there.
pub fn space_home() -> Value {
    json!({
        "Links": {
            "Self": format!("/api/{SPACE_ID}"),
            "Packages": format!("/api/{SPACE_ID}/packages{{/id}}{{?nuGetPackageId,filter,latest,skip,take,includeNotes}}"),
            "PackageUpload": format!("/api/{SPACE_ID}/packages/raw{{?replace,overwriteMode}}"),
            "Tasks": format!("/api/{SPACE_ID}/tasks{{/id}}{{?skip,take,ids,states,node}}"),
            "Machines": format!("/api/{SPACE_ID}/machines{{/id}}{{?skip,take}}"),
        },
    })
}

/// Task types a user may queue (Octopus's `BuiltInTasks`).
pub const TASK_NAMES: &[&str] = &[
    "Backup",
    "Health",
    "Retention",
    "Upgrade",
    "TestEmail",
    "AdHocScript",
    "UpdateCalamari",
    "TestAzureAccount",
    "SystemIntegrityCheck",
    "SyncCommunityActionTemplates",
    "Migration",
    "MigrationImport",
    "MigrationPartialExport",
];

/// The body of `POST /api/{spaceId}/tasks`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewTask {
    /// The task type.
    pub name: String,
    /// Required by Octopus.
    pub description: String,
    /// Type-specific arguments.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// The space; the path's when absent.
    #[serde(default)]
    pub space_id: Option<String>,
}

/// `ServerTasks-<seq>`.
pub fn task_id(seq: i64) -> String {
    format!("ServerTasks-{seq}")
}

/// The number of a `ServerTasks-<seq>` ID.
pub fn task_seq(id: &str) -> Option<i64> {
    id.strip_prefix("ServerTasks-")?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// The TaskResource (docs/octopus-surface.md, "Tasks").
pub fn task_resource(t: &crate::db::TaskRow) -> Value {
    let id = task_id(t.seq);
    let completed = t.state.is_completed();
    let duration_ms = match (t.start_ms, t.completed_ms) {
        (Some(s), Some(c)) => Some(c - s),
        _ => None,
    };
    let arguments: Value = serde_json::from_str(&t.arguments).unwrap_or(Value::Null);
    json!({
        "Id": id,
        "SpaceId": t.space_id,
        "Name": t.name,
        "Description": t.description,
        "Arguments": arguments,
        "State": t.state.as_str(),
        "Completed": t.completed_ms.map(timestamp),
        "QueueTime": timestamp(t.queue_ms),
        "QueueTimeExpiry": null,
        "StartTime": t.start_ms.map(timestamp),
        "LastUpdatedTime": timestamp(t.completed_ms.or(t.start_ms).unwrap_or(t.queue_ms)),
        "CompletedTime": t.completed_ms.map(timestamp),
        "ServerNode": t.server_node,
        "Duration": duration_ms.map(|ms| format!("{} ms", ms.max(0))),
        "ErrorMessage": t.error.clone().unwrap_or_default(),
        "HasBeenPickedUpByProcessor": t.start_ms.is_some(),
        "IsCompleted": completed,
        "FinishedSuccessfully": t.state == TaskState::Success,
        "HasPendingInterruptions": false,
        "HasWarningsOrErrors": matches!(t.state, TaskState::Failed | TaskState::Canceled | TaskState::TimedOut),
        "CanRerun": completed,
        "Links": {
            "Self": format!("/api/tasks/{id}"),
            "Raw": format!("/api/tasks/{id}/raw"),
            "Details": format!("/api/tasks/{id}/details"),
        },
    })
}

/// `GET .../tasks/{id}/details`: the task, and its log as one activity
/// whose entries are the log's lines.
pub fn task_details(t: &crate::db::TaskRow, log: &[u8]) -> Value {
    let id = task_id(t.seq);
    let status = match t.state {
        TaskState::Queued => "Pending",
        TaskState::Executing | TaskState::Cancelling => "Running",
        TaskState::Success => "Success",
        TaskState::Failed | TaskState::TimedOut => "Failed",
        TaskState::Canceled => "Canceled",
    };
    let progress = if t.state.is_completed() { 100 } else { 0 };
    let entries: Vec<Value> = String::from_utf8_lossy(log)
        .lines()
        .map(|line| {
            let (stamp, category, text) = crate::work::split_log_line(line);
            json!({ "Category": category, "OccurredAt": stamp, "MessageText": text })
        })
        .collect();
    json!({
        "Task": task_resource(t),
        "Progress": { "ProgressPercentage": progress, "EstimatedTimeRemaining": "" },
        "PhysicalLogSize": log.len(),
        "ActivityLogs": [{
            "Id": id,
            "Name": t.description,
            "Started": t.start_ms.map(timestamp),
            "Ended": t.completed_ms.map(timestamp),
            "Status": status,
            "Children": [],
            "ShowAtSummaryLevel": true,
            "LogElements": entries,
            "ProgressPercentage": progress,
            "ProgressMessage": "",
        }],
        "Links": { "Self": format!("/api/tasks/{id}/details") },
    })
}

/// The fields of a TaskResource the harness reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskBody {
    /// `ServerTasks-<n>`.
    pub id: String,
    /// Its state.
    pub state: TaskState,
    /// The node that runs or ran it.
    #[serde(default)]
    pub server_node: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub queue_time: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub completed_time: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// The fields of a ResourceCollection the harness reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CollectionBody<T> {
    /// This page.
    pub items: Vec<T>,
}

/// A node of `GET /api/octopusservernodes/summary` or the node list, as
/// the harness reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeBody {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Task cap.
    #[serde(default)]
    pub max_concurrent_tasks: u32,
    /// Drained.
    #[serde(default)]
    pub is_in_maintenance_mode: bool,
    /// Not seen for a while, by the cluster's own reckoning.
    #[serde(default)]
    pub is_offline: bool,
    /// Active tasks (summary only).
    #[serde(default)]
    pub running_task_count: Option<u32>,
}

/// A polling Tentacle's registration, as `POST /api/{spaceId}/machines`
/// takes it (docs/octopus-surface.md, "Polling Tentacles").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewMachine {
    /// Its name.
    pub name: String,
    /// How to reach it.
    pub endpoint: NewEndpoint,
}

/// The endpoint of a new machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewEndpoint {
    /// `TentacleActive` for a polling Tentacle.
    pub communication_style: String,
    /// `poll://<subscription>/`.
    pub uri: String,
    /// The Tentacle's certificate thumbprint.
    pub thumbprint: String,
}

/// A machine as the API shows it.
pub fn machine_resource(m: &crate::db::MachineRow) -> Value {
    let id = format!("Machines-{}", m.seq);
    json!({
        "Id": id,
        "Name": m.name,
        "SpaceId": m.space_id,
        "Thumbprint": m.thumbprint,
        "Uri": m.uri,
        "IsDisabled": false,
        "HealthStatus": "Unknown",
        "Status": "Unknown",
        "Endpoint": {
            "CommunicationStyle": "TentacleActive",
            "Uri": m.uri,
            "Thumbprint": m.thumbprint,
        },
        "Links": { "Self": format!("/api/{}/machines/{id}", m.space_id) },
    })
}

/// `GET /api/configuration/certificates/certificate-global`: the server
/// thumbprint Tentacles must trust.
pub fn global_certificate(thumbprint: &str) -> Value {
    json!({
        "Id": "certificate-global",
        "Name": "Octopus Server",
        "Thumbprint": thumbprint,
        "Links": { "Self": "/api/configuration/certificates/certificate-global" },
    })
}
