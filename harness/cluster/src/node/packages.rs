//! The built-in package feed on a reference node (docs/octopus-surface.md,
//! "Packages"): `POST /api/{spaceId}/packages/raw` with one multipart file
//! part and an `overwriteMode`, `GET /api/{spaceId}/packages` (paged;
//! `filter`, `nuGetPackageId`), `GET .../packages/{id}`,
//! `GET .../packages/{id}/raw` (streamed) and `DELETE .../packages/{id}`.
//! IDs are `packages-<PackageId>.<Version>`; `<PackageId>.<Version>` is
//! accepted too.
//!
//! An upload streams into a temporary file in the storage folder while its
//! SHA-1 is computed; nothing is buffered whole. The file is removed when
//! the body breaks off, stalls for `BODY_STALL` or is refused, and when
//! the connection goes; a node killed mid-upload leaves it for its next
//! start, or for the cluster's teardown, to remove. Only a complete body with
//! a valid file name becomes a package: its file is moved into place and
//! its row written under the database's write lock, together, so a
//! truncated or malformed upload leaves nothing visible. Answers: 201 new,
//! 200 replaced or ignored, 409 exists (FailIfExists), 400 otherwise. The
//! processing time (`packages.delay_per_gib`) comes before the package is
//! stored, or, with `packages.store_first`, after it, the package visible
//! meanwhile.

use std::io::Write;
use std::path::PathBuf;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::reply::{
    Reply, bad_request, count_param, db_error, json, method_not_allowed, not_found, server_error,
    unknown_space,
};
use super::state::{MAX_TAKE, Node};
use crate::api;
use crate::db::now_ms;
use crate::db::{Overwrite, PackageFilter, PackageRow, Stored};
use crate::http::FileBody;
use crate::limits::MAX_FILE_NAME;
use crate::multipart::{self, MultipartReader};
use crate::vocab::{hex, parse_file_name};

const GIB: u64 = 1 << 30;

pub(super) async fn route(
    node: &Node,
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
        (["raw"], Method::POST) => upload(node, query, req).await,
        ([], Method::GET) => list(node, query),
        ([id], Method::GET) => get(node, id),
        ([id], Method::DELETE) => delete(node, id),
        ([id, "raw"], Method::GET) => download(node, id),
        (["raw"] | [] | [_] | [_, "raw"], _) => method_not_allowed(),
        _ => not_found(),
    }
}

fn overwrite_mode(query: &str) -> Result<Overwrite, String> {
    let mut mode = Overwrite::FailIfExists;
    for (k, v) in api::query_pairs(query) {
        match (k.as_str(), v.as_str()) {
            ("overwriteMode", "FailIfExists") => mode = Overwrite::FailIfExists,
            ("overwriteMode", "OverwriteExisting") | ("replace", "true") => {
                mode = Overwrite::OverwriteExisting
            }
            ("overwriteMode", "IgnoreIfExists") => mode = Overwrite::IgnoreIfExists,
            ("replace", "false") => mode = Overwrite::FailIfExists,
            ("overwriteMode" | "replace", other) => {
                return Err(format!(
                    "{k}={other:?} is not valid; overwriteMode is FailIfExists, OverwriteExisting or IgnoreIfExists"
                ));
            }
            _ => {}
        }
    }
    Ok(mode)
}

/// A temporary upload file that is removed unless it is kept.
struct TempUpload {
    path: PathBuf,
    kept: bool,
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn upload(node: &Node, query: &str, req: Request<Incoming>) -> Reply {
    let mode = match overwrite_mode(query) {
        Ok(m) => m,
        Err(e) => return bad_request(&e),
    };
    let Some(boundary) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
    else {
        return bad_request(
            "the body must be multipart/form-data with a boundary and one file part",
        );
    };
    let mut reader = MultipartReader::new(req.into_body(), &boundary)
        .stalling_after(node.cfg.timeouts.body_stall());
    let reply = receive(node, mode, &mut reader).await;
    // A refusal before the end of the body: answer at once, and read the
    // rest (for a while) behind the answer, so the client can read it.
    if !reply.status().is_success() {
        tokio::spawn(crate::http::linger(
            reader.into_body(),
            node.cfg.timeouts.linger(),
        ));
    }
    reply
}

/// Reads up to the package's part, the first with a file name (other
/// fields are skipped, as the server takes the file whatever its field
/// name), and reads the package's ID, version and extension from that
/// name; or the refusal.
async fn file_part(
    reader: &mut MultipartReader<Incoming>,
) -> Result<(String, String, String), Reply> {
    let file_name = loop {
        match reader.next_part().await {
            Ok(Some(part)) => match part.filename {
                Some(name) => break name,
                None => reader
                    .skip_part()
                    .await
                    .map_err(|e| bad_request(&e.to_string()))?,
            },
            Ok(None) => return Err(bad_request("the body has no file part")),
            Err(e) => return Err(bad_request(&e.to_string())),
        }
    };
    if file_name.len() > MAX_FILE_NAME {
        return Err(bad_request(&format!(
            "the file name is longer than {MAX_FILE_NAME} characters (FileNameTooLong)"
        )));
    }
    parse_file_name(&file_name).ok_or_else(|| {
        bad_request(&format!(
            "{file_name:?} is not a package file name: <PackageId>.<Version><extension>, such as hello-world.1.0.0.zip (InvalidPackageId)"
        ))
    })
}

/// Reads the body past the package: other fields may follow; a second
/// file may not.
async fn rest_of_body(reader: &mut MultipartReader<Incoming>) -> Result<(), Reply> {
    loop {
        match reader.next_part().await {
            Ok(None) => return Ok(()),
            Ok(Some(part)) if part.filename.is_some() => {
                return Err(bad_request("the body has more than one file part"));
            }
            Ok(Some(_)) => reader
                .skip_part()
                .await
                .map_err(|e| bad_request(&e.to_string()))?,
            Err(e) => return Err(bad_request(&e.to_string())),
        }
    }
}

/// A new file in the storage's incoming folder for an upload in flight,
/// named for this node, so that a node starting again can remove what a
/// killed predecessor left, and only that.
fn temp_upload(node: &Node) -> Result<(TempUpload, std::fs::File), String> {
    let incoming_dir = node.cfg.storage.join(INCOMING);
    std::fs::create_dir_all(&incoming_dir)
        .map_err(|e| format!("failed to create {}: {e}", incoming_dir.display()))?;
    let temp = TempUpload {
        path: incoming_dir.join(format!(
            "{}-{:016x}.part",
            node.cfg.name,
            getrandom::u64().unwrap_or(0)
        )),
        kept: false,
    };
    let file = std::fs::File::create(&temp.path)
        .map_err(|e| format!("failed to create the upload file: {e}"))?;
    Ok((temp, file))
}

/// Reads the upload and stores it, or says why not.
async fn receive(node: &Node, mode: Overwrite, reader: &mut MultipartReader<Incoming>) -> Reply {
    let (package_id, version, extension) = match file_part(reader).await {
        Ok(named) => named,
        Err(refused) => return refused,
    };

    let storage = &node.cfg.storage;
    let (temp, mut file) = match temp_upload(node) {
        Ok(made) => made,
        Err(e) => return server_error(&e),
    };
    let mut sha = Sha1::new();
    let mut size = 0u64;
    let read = reader
        .read_part(|chunk| {
            sha.update(chunk);
            size += chunk.len() as u64;
            file.write_all(chunk).map_err(|e| e.to_string())
        })
        .await;
    if let Err(e) = read {
        return bad_request(&e.to_string());
    }
    if let Err(refused) = rest_of_body(reader).await {
        return refused;
    }
    if size == 0 {
        return bad_request("the package is empty (EmptyFile)");
    }
    // The flush to disk can take seconds for a large package: off the
    // node's one runtime thread, so pings and other requests go on.
    match tokio::task::spawn_blocking(move || file.sync_data()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return server_error(&format!("failed to write the package: {e}")),
        Err(e) => return server_error(&format!("failed to write the package: {e}")),
    }
    if !node.cfg.upload_store_first {
        processing(node, size).await;
    }

    let file_name = format!("{package_id}.{version}{extension}");
    // A unique name on disk, so a replaced package's file is never the one
    // a download of the old row is reading.
    let relative = format!(
        "Packages/{file_name}.{:016x}",
        getrandom::u64().unwrap_or(0)
    );
    let row = PackageRow {
        id: format!("packages-{package_id}.{version}"),
        package_id,
        version,
        extension,
        size: size as i64,
        hash: hex(&sha.finalize()),
        path: relative.clone(),
        published_ms: now_ms(),
    };
    let target = storage.join(&relative);
    let mut temp = temp;
    if node.cfg.behaviour.acknowledge_before_commit {
        return write_behind(node, row, mode, temp, &target);
    }
    let stored = node.db().store_package(&row, mode, || {
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&temp.path, &target)?;
        temp.kept = true;
        Ok(())
    });
    match stored {
        Ok(Stored::Created(r)) => {
            if node.cfg.upload_store_first {
                processing(node, size).await;
            }
            json(StatusCode::CREATED, &resource(&r))
        }
        Ok(Stored::Replaced(r, old)) => {
            let _ = std::fs::remove_file(storage.join(&old.path));
            if node.cfg.upload_store_first {
                processing(node, size).await;
            }
            json(StatusCode::OK, &resource(&r))
        }
        Ok(Stored::Ignored(existing)) => json(StatusCode::OK, &resource(&existing)),
        Ok(Stored::Conflict(existing)) => json(
            StatusCode::CONFLICT,
            &api::error(&format!(
                "A package with the same ID and version already exists: {} (overwriteMode=FailIfExists)",
                existing.id
            )),
        ),
        Err(e) => {
            // Moved into place, but the row was not written: remove it.
            if temp.kept {
                let _ = std::fs::remove_file(&target);
            }
            server_error(&e)
        }
    }
}

/// How long a node that acknowledges before it commits waits before it
/// writes the package's record.
const COMMIT_BEHIND: std::time::Duration = std::time::Duration::from_secs(2);

/// A node broken on purpose (`acknowledge_before_commit`): the package is
/// moved into place and answered 201 at once, and its record written to
/// the database a moment later, on a thread of its own. A record that
/// cannot be written then is lost, and the file with it: the client was
/// told the package is stored (docs/faults.md, "Broken nodes").
fn write_behind(
    node: &Node,
    row: PackageRow,
    mode: Overwrite,
    mut temp: TempUpload,
    target: &std::path::Path,
) -> Reply {
    let placed = target
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::rename(&temp.path, target));
    if let Err(e) = placed {
        return server_error(&format!("failed to store the package: {e}"));
    }
    temp.kept = true;
    let answer = json(StatusCode::CREATED, &resource(&row));
    let (db, target) = (node.cfg.db.clone(), target.to_path_buf());
    let commit = move || {
        std::thread::sleep(COMMIT_BEHIND);
        let written = crate::db::SharedDb::open(&db)
            .map_err(|e| e.to_string())
            .and_then(|db| db.store_package(&row, mode, || Ok(())));
        if let Err(e) = written {
            eprintln!("the record of {} was lost: {e}", row.id);
            let _ = std::fs::remove_file(&target);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("commit".into())
        .spawn(commit)
    {
        eprintln!("failed to start the commit: {e}");
    }
    answer
}

/// The work a node does on a package once its body has arrived, before it
/// answers (`packages.delay_per_gib`). Before the store, an LB that gives
/// up waiting closes the connection and this node, cut off, stores nothing
/// (a real server may finish storing all the same; the reference node does
/// not model that); after it (`packages.store_first`), the LB answers 504
/// for a package that is there, which a client must not take for a lost
/// upload.
async fn processing(node: &Node, size: u64) {
    let delay = node.cfg.upload_delay_ms_per_gib as u128 * size as u128 / GIB as u128;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
    }
}

/// The folder under a node's storage that holds uploads under way.
const INCOMING: &str = ".incoming";

/// Removes every upload file under `storage`'s incoming folder: for the
/// cluster's teardown, once every node is dead. A node killed mid-upload
/// (as teardown kills them) cannot remove its own partial file.
pub(crate) fn clear_incoming(storage: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(storage.join(INCOMING)) else {
        return;
    };
    for e in entries.flatten() {
        if let Err(err) = std::fs::remove_file(e.path())
            && err.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "harness: could not remove the partial upload {}: {err}",
                e.path().display()
            );
        }
    }
}

/// Removes the upload files this node left when it was killed: they never
/// became packages, and no one else will finish them.
pub(super) fn remove_stale_uploads(storage: &std::path::Path, node: &str) {
    let Ok(entries) = std::fs::read_dir(storage.join(INCOMING)) else {
        return;
    };
    let prefix = format!("{node}-");
    for e in entries.flatten() {
        let name = e.file_name();
        if name.to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `packages-X.1.0`, or `X.1.0` as the .NET client sends it.
fn find(node: &Node, id: &str) -> Result<PackageRow, Box<Reply>> {
    let full = if id.starts_with("packages-") {
        id.to_string()
    } else {
        format!("packages-{id}")
    };
    match node.db().package(&full) {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(Box::new(not_found())),
        Err(e) => Err(Box::new(db_error(e))),
    }
}

fn get(node: &Node, id: &str) -> Reply {
    match find(node, id) {
        Ok(row) => json(StatusCode::OK, &resource(&row)),
        Err(r) => *r,
    }
}

fn delete(node: &Node, id: &str) -> Reply {
    let row = match find(node, id) {
        Ok(row) => row,
        Err(r) => return *r,
    };
    match node.db().delete_package(&row.id) {
        Ok(Some(row)) => {
            let _ = std::fs::remove_file(node.cfg.storage.join(&row.path));
            json(StatusCode::OK, &json!({}))
        }
        Ok(None) => not_found(),
        Err(e) => db_error(e),
    }
}

/// `GET .../packages`: `nuGetPackageId` (or `packageId`) selects one
/// package ID, `filter` the IDs that contain a term; `includeNotes` changes
/// nothing, as no package here has release notes.
fn list(node: &Node, query: &str) -> Reply {
    let (mut skip, mut take) = (0usize, api::DEFAULT_TAKE);
    let mut f = PackageFilter::default();
    for (k, v) in api::query_pairs(query) {
        match k.as_str() {
            "skip" | "take" => match count_param(&k, &v) {
                Ok(n) if k == "skip" => skip = n,
                Ok(n) => take = n.clamp(1, MAX_TAKE),
                Err(e) => return bad_request(&e),
            },
            "nuGetPackageId" | "packageId" if !v.is_empty() => f.package_id = Some(v),
            "filter" if !v.is_empty() => f.term = Some(v),
            // The newest version of each ID needs Octopus's version order,
            // which the reference feed does not keep: a plain refusal
            // rather than a list that looks right and is not.
            "latest" if v.eq_ignore_ascii_case("true") => {
                return bad_request("latest=true is not supported by the reference cluster's feed");
            }
            _ => {}
        }
    }
    match node.db().packages(&f, skip, take) {
        Ok((total, rows)) => {
            let items = rows.iter().map(resource).collect();
            json(
                StatusCode::OK,
                &api::page_of(
                    "Package",
                    "/api/Spaces-1/packages",
                    items,
                    total,
                    skip,
                    take,
                ),
            )
        }
        Err(e) => db_error(e),
    }
}

/// Streams the package's file from storage.
fn download(node: &Node, id: &str) -> Reply {
    let row = match find(node, id) {
        Ok(row) => row,
        Err(r) => return *r,
    };
    let path = node.cfg.storage.join(&row.path);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        // A node whose storage is not shared has no file for another
        // node's upload: that is what the cross-node check must see.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return json(
                StatusCode::NOT_FOUND,
                &api::error(&format!(
                    "the file of {} is not in this node's package storage",
                    row.id
                )),
            );
        }
        Err(e) => return server_error(&format!("failed to open the package: {e}")),
    };
    let len = row.size.max(0) as u64;
    let mut r = Response::new(FileBody::new(file, len).boxed());
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// PackageFromBuiltInFeedResource.
fn resource(p: &PackageRow) -> Value {
    let stamp = api::timestamp(p.published_ms);
    json!({
        "Id": p.id,
        "PackageId": p.package_id,
        "Version": p.version,
        "FeedId": "feeds-builtin",
        "Title": p.package_id,
        "Summary": "",
        "Description": "",
        "Published": stamp,
        "ReleaseNotes": "",
        "FileExtension": p.extension,
        "PackageSizeBytes": p.size,
        "Hash": p.hash,
        "NuGetPackageId": p.package_id,
        "NuGetFeedId": "feeds-builtin",
        "PackageVersionBuildInformation": null,
        "LastModifiedOn": stamp,
        "LastModifiedBy": "system",
        "Links": {
            "Self": format!("/api/Spaces-1/packages/{}", p.id),
            "Raw": format!("/api/Spaces-1/packages/{}/raw", p.id),
        },
    })
}
