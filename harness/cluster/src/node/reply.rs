//! The node's answers: the reply type, JSON and error answers, the one
//! reader of JSON bodies, and the query and space checks every route shares.

use std::fmt::Display;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use super::state::MAX_SKIP;
use crate::api;
use crate::limits::MAX_JSON_BODY;
use crate::timeouts::ServerTimeouts;

/// Every node response: JSON, text, or a package streamed from storage.
pub(super) type Reply = Response<BoxBody<Bytes, std::io::Error>>;

/// A whole body in one piece.
pub(super) fn full(bytes: impl Into<Bytes>) -> BoxBody<Bytes, std::io::Error> {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A `skip` or `take`: a whole number up to [`MAX_SKIP`], else why not.
pub(super) fn count_param(name: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_SKIP)
        .ok_or_else(|| format!("{name} must be a whole number up to {MAX_SKIP}"))
}

/// The 404 for a space other than the reference cluster's one.
pub(super) fn unknown_space(space: Option<&str>) -> Option<Reply> {
    let space = space.filter(|s| *s != api::SPACE_ID)?;
    Some(json(
        StatusCode::NOT_FOUND,
        &api::error(&format!(
            "The space {space:?} was not found; the reference cluster has one space, {}.",
            api::SPACE_ID
        )),
    ))
}

/// Reads a small JSON body as a `T`, or gives the answer to refuse it
/// with: [`read_body`]'s, or 400 saying the body is not `what`.
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    waits: &ServerTimeouts,
    what: &str,
) -> Result<T, Reply> {
    let body = read_body(req, waits).await?;
    serde_json::from_slice(&body).map_err(|e| bad_request(&format!("the body is not {what}: {e}")))
}

/// Reads a small JSON body, or gives the answer to refuse it with: 413
/// past [`MAX_JSON_BODY`], 408 when the whole body has not come within the
/// cluster's body-stall time, 400 when the body breaks off. A body refused
/// as too large is read on behind the answer (docs/robustness.md, "the
/// body behind a refusal"): closing on a client still sending resets the connection,
/// and the client (or the LB before it) then never reads the 413.
async fn read_body(req: Request<Incoming>, waits: &ServerTimeouts) -> Result<Bytes, Reply> {
    enum Read {
        Whole(Vec<u8>),
        TooLarge,
        Broken(hyper::Error),
    }
    let mut body = req.into_body();
    let read = async {
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame.map(|f| f.into_data()) {
                Ok(Ok(data)) if bytes.len() + data.len() > MAX_JSON_BODY => return Read::TooLarge,
                Ok(Ok(data)) => bytes.extend_from_slice(&data),
                // Trailers: nothing a JSON body needs.
                Ok(Err(_)) => {}
                Err(e) => return Read::Broken(e),
            }
        }
        Read::Whole(bytes)
    };
    match tokio::time::timeout(waits.body_stall(), read).await {
        Ok(Read::Whole(b)) => Ok(Bytes::from(b)),
        Ok(Read::TooLarge) => {
            tokio::spawn(crate::http::linger(body, waits.linger()));
            Err(json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &api::error(&format!("the body must be at most {MAX_JSON_BODY} bytes")),
            ))
        }
        Ok(Read::Broken(e)) => Err(bad_request(&format!("the body could not be read: {e}"))),
        Err(_) => Err(json(
            StatusCode::REQUEST_TIMEOUT,
            &api::error(&format!(
                "the body did not arrive within {}",
                humantime::format_duration(waits.body_stall())
            )),
        )),
    }
}

/// 400 with the message.
pub(super) fn bad_request(message: &str) -> Reply {
    json(StatusCode::BAD_REQUEST, &api::error(message))
}

/// A JSON answer with the status.
pub(super) fn json(status: StatusCode, body: &Value) -> Reply {
    let mut r = Response::new(full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The 404 Octopus gives.
pub(super) fn not_found() -> Reply {
    json(
        StatusCode::NOT_FOUND,
        &api::error("The resource you requested was not found."),
    )
}

/// The 405 Octopus gives.
pub(super) fn method_not_allowed() -> Reply {
    json(
        StatusCode::METHOD_NOT_ALLOWED,
        &api::error("The method is not allowed on this resource."),
    )
}

/// 500 with the message.
pub(super) fn server_error(message: &str) -> Reply {
    json(StatusCode::INTERNAL_SERVER_ERROR, &api::error(message))
}

/// The 500 for a failed read or write of the shared database.
pub(super) fn db_error(e: impl Display) -> Reply {
    server_error(&format!("database error: {e}"))
}
