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
use std::path::{Path, PathBuf};

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

/// Reads the upload and stores it, or says why not.
async fn receive(node: &Node, mode: Overwrite, reader: &mut MultipartReader<Incoming>) -> Reply {
    let file_name = match file_part(reader).await {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    if file_name.len() > MAX_FILE_NAME {
        return bad_request(&format!(
            "the file name is longer than {MAX_FILE_NAME} characters (FileNameTooLong)"
        ));
    }
    let Some((package_id, version, extension)) = parse_file_name(&file_name) else {
        return bad_request(&format!(
            "{file_name:?} is not a package file name: <PackageId>.<Version><extension>, such as hello-world.1.0.0.zip (InvalidPackageId)"
        ));
    };

    let storage = &node.cfg.storage;
    let incoming_dir = storage.join(INCOMING);
    if let Err(e) = std::fs::create_dir_all(&incoming_dir) {
        return server_error(&format!("failed to create {}: {e}", incoming_dir.display()));
    }
    // Named for this node, so that a node starting again can remove what a
    // killed predecessor left, and only that.
    let temp = TempUpload {
        path: incoming_dir.join(format!(
            "{}-{:016x}.part",
            node.cfg.name,
            getrandom::u64().unwrap_or(0)
        )),
        kept: false,
    };
    let mut file = match std::fs::File::create(&temp.path) {
        Ok(f) => f,
        Err(e) => return server_error(&format!("failed to create the upload file: {e}")),
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
    if let Err(reply) = rest_of_body(reader).await {
        return reply;
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
    let stored = node.db().store_package(&row, mode, || {
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&temp.path, &target)?;
        temp.kept = true;
        Ok(())
    });
    answer_stored(node, stored, size, &target, &temp).await
}

/// The name of the package's file: the first part with a file name is
/// the package; other fields before it are skipped, as the server takes
/// the file whatever its field name.
async fn file_part(reader: &mut MultipartReader<Incoming>) -> Result<String, Reply> {
    loop {
        match reader.next_part().await {
            Ok(Some(part)) => match part.filename {
                Some(name) => return Ok(name),
                None => {
                    if let Err(e) = reader.skip_part().await {
                        return Err(bad_request(&e.to_string()));
                    }
                }
            },
            Ok(None) => return Err(bad_request("the body has no file part")),
            Err(e) => return Err(bad_request(&e.to_string())),
        }
    }
}

/// The rest of the body after the package: other fields may follow; a
/// second file may not.
async fn rest_of_body(reader: &mut MultipartReader<Incoming>) -> Result<(), Reply> {
    loop {
        match reader.next_part().await {
            Ok(None) => return Ok(()),
            Ok(Some(part)) if part.filename.is_some() => {
                return Err(bad_request("the body has more than one file part"));
            }
            Ok(Some(_)) => {
                if let Err(e) = reader.skip_part().await {
                    return Err(bad_request(&e.to_string()));
                }
            }
            Err(e) => return Err(bad_request(&e.to_string())),
        }
    }
}

/// The answer once the package is stored, replaced, ignored or refused
/// (a replaced package's old file removed); a package moved into place
/// whose row was not written is removed again.
async fn answer_stored(
    node: &Node,
    stored: Result<Stored, String>,
    size: u64,
    target: &Path,
    temp: &TempUpload,
) -> Reply {
    let storage = &node.cfg.storage;
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
                let _ = std::fs::remove_file(target);
            }
            server_error(&e)
        }
    }
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
