//! The Octopus REST shapes the reference nodes answer with, as in
//! octopus-surface.md §0–2: the API root, the OctopusServerNode resource,
//! the paged collection and the error body. PascalCase, like Octopus.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::db::NodeRow;

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

/// A page of a `ResourceCollection`.
pub fn collection(
    item_type: &str,
    self_path: &str,
    items: Vec<Value>,
    skip: usize,
    take: usize,
) -> Value {
    let total = items.len();
    let take = take.max(1);
    let page: Vec<Value> = items.into_iter().skip(skip).take(take).collect();
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
            "Page.All": format!("{self_path}/all"),
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
        },
    })
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

/// The one field of a ping body the harness reads.
#[derive(Debug, Deserialize)]
pub struct PingBody {
    /// The node's name.
    #[serde(rename = "Name")]
    pub name: String,
}
