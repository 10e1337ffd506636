//! The node's REST surface: the request router `handle` and the route
//! handlers for nodes, tasks and machines (packages and spaces have files
//! of their own).

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use super::reply::{
    Reply, bad_request, db_error, full, json, method_not_allowed, not_found, read_json,
    server_error, unknown_space,
};
use super::state::{MAX_SKIP, MAX_TAKE, Node};
use super::{packages, spaces};
use crate::api::{self, NodeUpdate, PING_PATH};
use crate::db::{TaskFilter, TaskRow, now_ms};
use crate::work;

/// The request router: ping without a key, everything else with one.
pub(super) async fn handle(node: &Node, req: Request<Incoming>) -> Reply {
    // A node that gave up on its database answers nothing else, ping
    // included, until it is restarted.
    if node.link.is_broken() {
        return server_error(super::link::BROKEN);
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    if path == PING_PATH {
        return match *req.method() {
            Method::GET | Method::HEAD => node.ping(),
            _ => method_not_allowed(),
        };
    }
    if !node.authorised(&req) {
        return json(
            StatusCode::UNAUTHORIZED,
            &api::error(
                "You must be logged in to perform this action. Please provide a valid API key in the X-Octopus-ApiKey header.",
            ),
        );
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let mut segments: Vec<&str> = path.split('/').skip(1).collect();
    // `/api/spaces/{spaceId}/tasks/...` is another spelling of
    // `/api/{spaceId}/tasks/...`; `/api/spaces/{id}` alone is the space.
    if segments.len() > 3 && segments[..2] == ["api", "spaces"] {
        segments.remove(1);
    }
    let method = req.method().clone();
    match segments.as_slice() {
        ["api"] if method == Method::GET => json(
            StatusCode::OK,
            &api::root(super::state::VERSION, &node.cfg.installation_id),
        ),
        ["api", "spaces", rest @ ..] => spaces::route(rest, &method, &query),
        ["api", "octopusservernodes"] if method == Method::GET => node.list(&query),
        ["api", "octopusservernodes", "all"] if method == Method::GET => node.all(),
        ["api", "octopusservernodes", "summary"] if method == Method::GET => node.summary(),
        ["api", "octopusservernodes", id] => match method {
            Method::GET => node.get(id),
            Method::PUT => node.put(id, req).await,
            _ => method_not_allowed(),
        },
        ["api", "octopusservernodes", id, "details"] if method == Method::GET => node.details(id),
        // Tasks and packages, with or without the space in the path.
        ["api", "tasks", rest @ ..] => node.tasks(None, rest, method, &query, req).await,
        ["api", space, "tasks", rest @ ..] => {
            node.tasks(Some(space), rest, method, &query, req).await
        }
        ["api", "packages", rest @ ..] => {
            packages::route(node, None, rest, method, &query, req).await
        }
        ["api", space, "packages", rest @ ..] => {
            packages::route(node, Some(space), rest, method, &query, req).await
        }
        ["api", "configuration", "certificates", "certificate-global"] if method == Method::GET => {
            match &node.server {
                Some(s) => json(StatusCode::OK, &api::global_certificate(&s.thumbprint)),
                None => not_found(),
            }
        }
        ["api", "machines", rest @ ..] => node.machines(None, rest, method, &query, req).await,
        ["api", space, "machines", rest @ ..] => {
            node.machines(Some(space), rest, method, &query, req).await
        }
        ["api", space] if space.starts_with("Spaces-") => {
            unknown_space(Some(space)).unwrap_or_else(|| spaces::home(&method))
        }
        _ => not_found(),
    }
}

impl Node {
    async fn machines(
        &self,
        space: Option<&str>,
        rest: &[&str],
        method: Method,
        query: &str,
        req: Request<Incoming>,
    ) -> Reply {
        if let Some(r) = unknown_space(space) {
            return r;
        }
        let seq = |id: &str| {
            id.strip_prefix("Machines-")
                .and_then(|n| n.parse::<i64>().ok())
        };
        match (rest, method) {
            ([], Method::POST) => self.add_machine(req).await,
            ([], Method::GET) => {
                let (mut skip, mut take) = (0, api::DEFAULT_TAKE);
                for (k, v) in api::query_pairs(query) {
                    match (k.as_str(), v.parse::<usize>()) {
                        ("skip", Ok(n)) if n <= MAX_SKIP => skip = n,
                        ("take", Ok(n)) => take = n.min(MAX_TAKE),
                        ("skip" | "take", _) => {
                            return bad_request(&format!("{k} must be a number up to {MAX_SKIP}"));
                        }
                        _ => {}
                    }
                }
                match self.db().machines(skip, take) {
                    Ok((total, rows)) => json(
                        StatusCode::OK,
                        &api::page_of(
                            "Machine",
                            "/api/Spaces-1/machines",
                            rows.iter().map(api::machine_resource).collect(),
                            total,
                            skip,
                            take,
                        ),
                    ),
                    Err(e) => db_error(e),
                }
            }
            ([id], Method::GET) => match seq(id).map(|s| self.db().machine(s)) {
                Some(Ok(Some(m))) => json(StatusCode::OK, &api::machine_resource(&m)),
                Some(Err(e)) => db_error(e),
                _ => not_found(),
            },
            ([id], Method::DELETE) => match seq(id).map(|s| self.db().delete_machine(s)) {
                Some(Ok(true)) => json(StatusCode::OK, &serde_json::json!({})),
                Some(Err(e)) => db_error(e),
                _ => not_found(),
            },
            ([] | [_], _) => method_not_allowed(),
            _ => not_found(),
        }
    }

    async fn add_machine(&self, req: Request<Incoming>) -> Reply {
        let new: api::NewMachine = match read_json(req, &self.cfg.timeouts, "a machine").await {
            Ok(m) => m,
            Err(r) => return r,
        };
        let e = &new.endpoint;
        if new.name.trim().is_empty() {
            return bad_request("Name is required");
        }
        if e.communication_style != "TentacleActive" {
            return bad_request(&format!(
                "the reference cluster registers polling Tentacles (TentacleActive) only, not {:?}",
                e.communication_style
            ));
        }
        if !e.uri.starts_with("poll://") || e.uri.len() > 200 {
            return bad_request("Endpoint.Uri must be a poll:// subscription ID");
        }
        if e.thumbprint.len() != 40 || !e.thumbprint.chars().all(|c| c.is_ascii_hexdigit()) {
            return bad_request("Endpoint.Thumbprint must be 40 hexadecimal digits");
        }
        match self
            .db()
            .add_machine(api::SPACE_ID, &new.name, &e.uri, &e.thumbprint)
        {
            Ok(m) => json(StatusCode::CREATED, &api::machine_resource(&m)),
            Err(e) => db_error(e),
        }
    }

    async fn tasks(
        &self,
        space: Option<&str>,
        rest: &[&str],
        method: Method,
        query: &str,
        req: Request<Incoming>,
    ) -> Reply {
        if let Some(r) = unknown_space(space) {
            return r;
        }
        match (rest, method) {
            ([], Method::POST) => self.create_task(req).await,
            ([], Method::GET) => self.list_tasks(query),
            ([id], Method::GET) => self.get_task(id),
            ([id, "raw"], Method::GET) => self.raw_log(id),
            ([id, "details"], Method::GET) => self.task_details(id),
            ([id, "cancel"], Method::POST) => self.cancel_task(id),
            ([] | [_] | [_, "raw" | "details" | "cancel"], _) => method_not_allowed(),
            _ => not_found(),
        }
    }

    async fn create_task(&self, req: Request<Incoming>) -> Reply {
        let new: api::NewTask = match read_json(req, &self.cfg.timeouts, "a task").await {
            Ok(t) => t,
            Err(r) => return r,
        };
        if !api::TASK_NAMES.contains(&new.name.as_str()) {
            return bad_request(&format!(
                "{:?} is not a task type that can be queued; use one of {}",
                new.name,
                api::TASK_NAMES.join(", ")
            ));
        }
        if new.description.trim().is_empty() {
            return bad_request("Description is required");
        }
        if new.space_id.as_deref().is_some_and(|s| s != api::SPACE_ID) {
            return bad_request("SpaceId must be Spaces-1 on the reference cluster");
        }
        let arguments = new
            .arguments
            .unwrap_or_else(|| Value::Object(Default::default()));
        if !arguments.is_object() {
            return bad_request("Arguments must be an object");
        }
        match self.db().create_task(
            api::SPACE_ID,
            &new.name,
            &new.description,
            &arguments.to_string(),
        ) {
            Ok(t) => json(StatusCode::CREATED, &api::task_resource(&t)),
            Err(e) => db_error(e),
        }
    }

    fn list_tasks(&self, query: &str) -> Reply {
        let mut f = TaskFilter {
            take: api::DEFAULT_TAKE,
            ..TaskFilter::default()
        };
        for (k, v) in api::query_pairs(query) {
            let list = || v.split([',', ' ']).filter(|s| !s.is_empty());
            match k.as_str() {
                "skip" | "take" => {
                    let Some(n) = v.parse::<usize>().ok().filter(|n| *n <= MAX_SKIP) else {
                        return bad_request(&format!("{k} must be a number up to {MAX_SKIP}"));
                    };
                    if k == "skip" {
                        f.skip = n;
                    } else {
                        f.take = n.min(MAX_TAKE);
                    }
                }
                "states" => {
                    for s in list() {
                        match s.parse() {
                            Ok(state) => f.states.push(state),
                            Err(()) => return bad_request(&format!("unknown task state {s:?}")),
                        }
                    }
                }
                "node" if !v.is_empty() => f.node = Some(v.clone()),
                "ids" => {
                    for id in list() {
                        match api::task_seq(id) {
                            Some(seq) => f.ids.push(seq),
                            None => return bad_request(&format!("{id:?} is not a task ID")),
                        }
                    }
                    if f.ids.len() > MAX_TAKE {
                        return bad_request(&format!("at most {MAX_TAKE} ids at a time"));
                    }
                }
                _ => {}
            }
        }
        match self.db().tasks(&f) {
            Ok((total, rows)) => {
                let items = rows.iter().map(api::task_resource).collect();
                let mut page = api::collection("ServerTask", "/api/tasks", items, 0, f.take.max(1));
                // The page is already cut; fix the totals the helper counted.
                page["TotalResults"] = total.into();
                let pages = total.div_ceil(f.take.max(1)).max(1);
                page["NumberOfPages"] = pages.into();
                page["LastPageNumber"] = (pages - 1).into();
                json(StatusCode::OK, &page)
            }
            Err(e) => db_error(e),
        }
    }

    /// The task, or the answer to give when there is none.
    fn find_task(&self, id: &str) -> Result<crate::db::TaskRow, Box<Reply>> {
        let Some(seq) = api::task_seq(id) else {
            return Err(Box::new(not_found()));
        };
        match self.db().task(seq) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(Box::new(not_found())),
            Err(e) => Err(Box::new(db_error(e))),
        }
    }

    fn get_task(&self, id: &str) -> Reply {
        match self.find_task(id) {
            Ok(t) => json(StatusCode::OK, &api::task_resource(&t)),
            Err(r) => *r,
        }
    }

    /// Cancels a task that has not finished; answers with the task.
    fn cancel_task(&self, id: &str) -> Reply {
        let task = match self.find_task(id) {
            Ok(t) => t,
            Err(r) => return *r,
        };
        if let Err(e) = self.db().cancel(task.seq) {
            return server_error(&format!("failed to cancel the task: {e}"));
        }
        self.get_task(id)
    }

    /// The task log from this node's storage: where storage is not shared,
    /// a log written by another node is missing here, which is the point.
    fn task_log(&self, task: &TaskRow) -> Result<Vec<u8>, Box<Reply>> {
        match std::fs::read(work::log_path(&self.cfg.storage, task.seq)) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Box::new(server_error(&format!(
                "failed to read the task log: {e}"
            )))),
        }
    }

    fn task_details(&self, id: &str) -> Reply {
        match self
            .find_task(id)
            .and_then(|t| Ok(api::task_details(&t, &self.task_log(&t)?)))
        {
            Ok(details) => json(StatusCode::OK, &details),
            Err(r) => *r,
        }
    }

    fn raw_log(&self, id: &str) -> Reply {
        let text = match self.find_task(id).and_then(|t| self.task_log(&t)) {
            Ok(text) => text,
            Err(r) => return *r,
        };
        let mut r = Response::new(full(text));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    }

    fn summary(&self) -> Reply {
        let db = self.db();
        let (rows, counts) = match (db.nodes(), db.running_counts()) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(e), _) | (_, Err(e)) => return db_error(e),
        };
        let nodes: Vec<Value> = rows
            .iter()
            .map(|r| {
                let running = counts
                    .iter()
                    .find(|(n, _)| *n == r.name)
                    .map(|(_, c)| *c)
                    .unwrap_or(0);
                let mut v = self.resource(r);
                v["RunningTaskCount"] = running.into();
                v
            })
            .collect();
        json(
            StatusCode::OK,
            &serde_json::json!({
                "Nodes": nodes,
                "Links": { "Self": "/api/octopusservernodes/summary" },
            }),
        )
    }

    fn details(&self, id: &str) -> Reply {
        let db = self.db();
        let row = match db.node(id) {
            Ok(Some(r)) => r,
            Ok(None) => return not_found(),
            Err(e) => return db_error(e),
        };
        match db.running_counts() {
            Ok(counts) => {
                let running = counts
                    .iter()
                    .find(|(n, _)| *n == row.name)
                    .map(|(_, c)| *c)
                    .unwrap_or(0);
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "Id": row.id,
                        "RunningTasks": running,
                        "Links": { "Self": format!("/api/octopusservernodes/{}/details", row.id) },
                    }),
                )
            }
            Err(e) => db_error(e),
        }
    }

    fn authorised(&self, req: &Request<Incoming>) -> bool {
        let header = req
            .headers()
            .get("x-octopus-apikey")
            .and_then(|v| v.to_str().ok());
        let query = req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
                .map(|(_, v)| v)
        });
        header.or(query) == Some(self.api_key.as_str())
    }

    fn resource(&self, row: &crate::db::NodeRow) -> Value {
        api::node_resource(row, now_ms(), self.cfg.offline_after_ms as i64)
    }

    fn ping(&self) -> Reply {
        match self.db().node(&self.cfg.id) {
            Ok(Some(row)) => {
                let status = if row.is_in_maintenance_mode {
                    StatusCode::IM_A_TEAPOT
                } else {
                    StatusCode::OK
                };
                json(status, &self.resource(&row))
            }
            Ok(None) => server_error("this node is not registered"),
            Err(e) => db_error(e),
        }
    }

    fn rows(&self) -> Result<Vec<Value>, rusqlite::Error> {
        self.db()
            .nodes()
            .map(|rows| rows.iter().map(|r| self.resource(r)).collect())
    }

    fn list(&self, query: &str) -> Reply {
        let mut skip = 0;
        let mut take = api::DEFAULT_TAKE;
        for (k, v) in api::query_pairs(query) {
            match (k.as_str(), v.parse::<usize>()) {
                ("skip", Ok(n)) => skip = n,
                ("take", Ok(n)) => take = n.min(MAX_TAKE),
                ("skip" | "take", Err(_)) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        &api::error(&format!("{k} must be a number")),
                    );
                }
                _ => {}
            }
        }
        match self.rows() {
            Ok(items) => json(
                StatusCode::OK,
                &api::collection(
                    "OctopusServerNode",
                    "/api/octopusservernodes",
                    items,
                    skip,
                    take,
                ),
            ),
            Err(e) => db_error(e),
        }
    }

    fn all(&self) -> Reply {
        match self.rows() {
            Ok(items) => json(StatusCode::OK, &Value::Array(items)),
            Err(e) => db_error(e),
        }
    }

    fn get(&self, id: &str) -> Reply {
        match self.db().node(id) {
            Ok(Some(row)) => json(StatusCode::OK, &self.resource(&row)),
            Ok(None) => not_found(),
            Err(e) => db_error(e),
        }
    }

    async fn put(&self, id: &str, req: Request<Incoming>) -> Reply {
        let update: NodeUpdate = match read_json(req, &self.cfg.timeouts, "a node").await {
            Ok(u) => u,
            Err(r) => return r,
        };
        if update.id != id {
            return bad_request(&format!(
                "the body's Id {:?} does not match the path's {id:?}",
                update.id
            ));
        }
        match self.db().update(
            id,
            update.is_in_maintenance_mode,
            update.max_concurrent_tasks,
        ) {
            Ok(Some(row)) => json(StatusCode::OK, &self.resource(&row)),
            Ok(None) => not_found(),
            Err(e) => db_error(e),
        }
    }
}
