//! The `halibut` crate: Halibut, the protocol between Octopus Server and
//! polling Tentacles (docs/halibut.md), as the harness implements it. It
//! is the bottom of the workspace and may know nothing of the rest: not
//! the reference cluster that serves it, not the harness's simulated
//! Tentacles that speak it, not scenarios or histories. What it holds:
//! this codec, the framing on a stream (`wire`), the TLS identities and
//! thumbprints (`tls`), the services a Tentacle offers (`services`), and
//! the bounds on what a peer can make it hold (`limits`).
//!
//! The codec works on bytes: no sockets here, only what goes on
//! the wire and back, so both sides (the reference nodes' polling listener
//! and the harness's simulated Tentacles) share one codec that is tested
//! against vectors built from the spec.
//!
//! - Identification lines (`MX-SUBSCRIBER 1.0 poll://id/`, `MX-SERVER
//!   1.0`) and control lines (`NEXT`, `PROCEED`, `END`).
//! - Messages: raw DEFLATE (no zlib header) of a BSON envelope
//!   `{"Message": ...}`, whose inner object has `$type` first. The reader
//!   reports how many compressed bytes the message took, so the bytes after
//!   it (DataStream frames, a control line) are kept.
//! - GUIDs in .NET `ToByteArray()` order (BSON binary subtype 4) and
//!   TimeSpans as .NET strings (`00:02:00`).
//! - DataStream frames: GUID, int64 length, bytes, the length again.
//!
//! Every reader is bounded ([`MAX_MESSAGE`], [`MAX_STREAM`], [`BSON_MAX_DEPTH`])
//! and reports malformed input as an error, never a panic.

pub mod limits;
pub mod services;
pub mod tls;
pub mod wire;

use std::fmt;
use std::time::Duration;

use crate::limits::{BSON_MAX_DEPTH, MAX_MESSAGE, MAX_STREAM};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// `$type` of a request.
pub const REQUEST_TYPE: &str = "Halibut.Transport.Protocol.RequestMessage, Halibut";
/// `$type` of a response.
pub const RESPONSE_TYPE: &str = "Halibut.Transport.Protocol.ResponseMessage, Halibut";

/// Malformed or oversized protocol input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("halibut: {0}")]
pub struct HalibutError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, HalibutError> {
    Err(HalibutError(message.into()))
}

/// A BSON value, as far as Halibut uses BSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Bson {
    /// 0x01.
    Double(f64),
    /// 0x02.
    String(String),
    /// 0x03.
    Document(Doc),
    /// 0x04.
    Array(Vec<Bson>),
    /// 0x05: subtype and bytes (subtype 4 is a GUID).
    Binary(u8, Vec<u8>),
    /// 0x08.
    Bool(bool),
    /// 0x09: milliseconds since the Unix epoch, UTC.
    DateTime(i64),
    /// 0x0A.
    Null,
    /// 0x10.
    Int32(i32),
    /// 0x12.
    Int64(i64),
}

/// A BSON document: its fields in order (`$type` must come first).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc(pub Vec<(String, Bson)>);

impl Doc {
    /// A field by name.
    pub fn get(&self, key: &str) -> Option<&Bson> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A string field.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Bson::String(s) => Some(s),
            _ => None,
        }
    }
}

/// The bytes of a BSON document.
pub fn encode(doc: &Doc) -> Vec<u8> {
    let mut out = Vec::new();
    encode_doc(&fields_of(doc), &mut out);
    out
}

fn fields_of(doc: &Doc) -> Vec<(&str, &Bson)> {
    doc.0.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

// Not generic over an iterator: it recurses, and each level would be a new
// instantiation.
fn encode_doc(fields: &[(&str, &Bson)], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for &(key, value) in fields {
        let tag = match value {
            Bson::Double(_) => 0x01,
            Bson::String(_) => 0x02,
            Bson::Document(_) => 0x03,
            Bson::Array(_) => 0x04,
            Bson::Binary(..) => 0x05,
            Bson::Bool(_) => 0x08,
            Bson::DateTime(_) => 0x09,
            Bson::Null => 0x0A,
            Bson::Int32(_) => 0x10,
            Bson::Int64(_) => 0x12,
        };
        out.push(tag);
        out.extend_from_slice(key.as_bytes());
        out.push(0);
        match value {
            Bson::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
            Bson::String(s) => {
                out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Bson::Document(d) => encode_doc(&fields_of(d), out),
            Bson::Array(items) => {
                let keys: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
                let fields: Vec<(&str, &Bson)> =
                    keys.iter().map(String::as_str).zip(items.iter()).collect();
                encode_doc(&fields, out);
            }
            Bson::Binary(subtype, bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                out.push(*subtype);
                out.extend_from_slice(bytes);
            }
            Bson::Bool(b) => out.push(u8::from(*b)),
            Bson::DateTime(ms) => out.extend_from_slice(&ms.to_le_bytes()),
            Bson::Null => {}
            Bson::Int32(i) => out.extend_from_slice(&i.to_le_bytes()),
            Bson::Int64(i) => out.extend_from_slice(&i.to_le_bytes()),
        }
    }
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Reads one BSON document from the start of `bytes`; gives it and its
/// length.
pub fn decode(bytes: &[u8]) -> Result<(Doc, usize), HalibutError> {
    let mut r = Reader { bytes, at: 0 };
    let doc = r.doc(0)?;
    Ok((doc, r.at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], HalibutError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return err("BSON ends early");
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn i32(&mut self) -> Result<i32, HalibutError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, HalibutError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    fn cstring(&mut self) -> Result<String, HalibutError> {
        let rest = &self.bytes[self.at..];
        let Some(nul) = rest.iter().position(|b| *b == 0) else {
            return err("BSON name without its terminating zero");
        };
        let s = std::str::from_utf8(&rest[..nul])
            .map_err(|_| HalibutError("BSON name is not UTF-8".into()))?
            .to_string();
        self.at += nul + 1;
        Ok(s)
    }

    fn doc(&mut self, depth: usize) -> Result<Doc, HalibutError> {
        if depth > BSON_MAX_DEPTH {
            return err(format!("BSON nested deeper than {BSON_MAX_DEPTH}"));
        }
        let start = self.at;
        let len = self.i32()?;
        if len < 5 || len as usize > MAX_MESSAGE {
            return err(format!("BSON document of {len} bytes"));
        }
        let end = start + len as usize;
        if end > self.bytes.len() {
            return err("BSON ends early");
        }
        let mut fields = Vec::new();
        loop {
            let tag = self.take(1)?[0];
            if tag == 0 {
                break;
            }
            let key = self.cstring()?;
            let value = match tag {
                0x01 => Bson::Double(f64::from_bits(self.i64()? as u64)),
                0x02 => {
                    let n = self.i32()?;
                    if n < 1 {
                        return err("BSON string of negative length");
                    }
                    let b = self.take(n as usize)?;
                    if b[b.len() - 1] != 0 {
                        return err("BSON string without its terminating zero");
                    }
                    Bson::String(
                        std::str::from_utf8(&b[..b.len() - 1])
                            .map_err(|_| HalibutError("BSON string is not UTF-8".into()))?
                            .to_string(),
                    )
                }
                0x03 => Bson::Document(self.doc(depth + 1)?),
                0x04 => Bson::Array(self.doc(depth + 1)?.0.into_iter().map(|(_, v)| v).collect()),
                0x05 => {
                    let n = self.i32()?;
                    if n < 0 {
                        return err("BSON binary of negative length");
                    }
                    let subtype = self.take(1)?[0];
                    Bson::Binary(subtype, self.take(n as usize)?.to_vec())
                }
                0x08 => Bson::Bool(self.take(1)?[0] != 0),
                0x09 => Bson::DateTime(self.i64()?),
                0x0A => Bson::Null,
                0x10 => Bson::Int32(self.i32()?),
                0x12 => Bson::Int64(self.i64()?),
                other => return err(format!("BSON type 0x{other:02x} is not one Halibut sends")),
            };
            fields.push((key, value));
        }
        if self.at != end {
            return err("BSON document length does not match its contents");
        }
        Ok(Doc(fields))
    }
}

/// A GUID, held in its text order (`aabbccdd-eeff-...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// A random (version 4) GUID.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        let _ = getrandom::fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Guid(b)
    }

    /// .NET's `Guid.ToByteArray()`: the first three groups little-endian.
    pub fn to_dotnet_bytes(self) -> [u8; 16] {
        let b = self.0;
        [
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15],
        ]
    }

    /// The reverse of [`Guid::to_dotnet_bytes`].
    pub fn from_dotnet_bytes(b: [u8; 16]) -> Self {
        // The swap is its own inverse.
        Guid(Guid(b).to_dotnet_bytes())
    }

    /// As BSON binary subtype 4.
    pub fn to_bson(self) -> Bson {
        Bson::Binary(4, self.to_dotnet_bytes().to_vec())
    }

    /// From BSON binary subtype 4.
    pub fn from_bson(v: &Bson) -> Option<Self> {
        match v {
            Bson::Binary(4, b) => Some(Guid::from_dotnet_bytes(b.as_slice().try_into().ok()?)),
            _ => None,
        }
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Guid {
    type Err = HalibutError;

    fn from_str(s: &str) -> Result<Self, HalibutError> {
        let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
        if hex.len() != 32 || s.len() != 36 {
            return err(format!("{s:?} is not a GUID"));
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| HalibutError("not hex".into()))?;
            out[i] = u8::from_str_radix(text, 16)
                .map_err(|_| HalibutError(format!("{s:?} is not a GUID")))?;
        }
        Ok(Guid(out))
    }
}

/// .NET's `TimeSpan.ToString()`: `[d.]hh:mm:ss[.fffffff]`.
pub fn timespan(d: Duration) -> String {
    let ticks = d.as_nanos() / 100;
    let (secs, frac) = ((ticks / 10_000_000) as u64, (ticks % 10_000_000) as u64);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if frac > 0 {
        out.push_str(&format!(".{frac:07}"));
    }
    out
}

/// Parses what [`timespan`] writes.
pub fn parse_timespan(s: &str) -> Option<Duration> {
    let (days, clock) = match s.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<u64>().ok()?, rest),
        _ => (0, s),
    };
    let (clock, frac) = match clock.split_once('.') {
        Some((c, f)) => (c, f),
        None => (clock, ""),
    };
    let mut parts = clock.split(':');
    let (h, m, sec) = (
        parts.next()?.parse::<u64>().ok()?,
        parts.next()?.parse::<u64>().ok()?,
        parts.next()?.parse::<u64>().ok()?,
    );
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 || frac.len() > 7 {
        return None;
    }
    let ticks: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<7}").parse().ok()?
    };
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)?;
    Some(Duration::from_secs(secs) + Duration::from_nanos(ticks * 100))
}

/// Raw DEFLATE of a BSON document: a message body.
pub fn deflate(bson: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(bson, 6)
}

/// Inflates the message at the start of `input`. Gives the BSON document
/// and how many compressed bytes it took (what follows is the next part of
/// the stream), or None when `input` does not hold the whole message yet.
pub fn inflate(input: &[u8]) -> Result<Option<(Doc, usize)>, HalibutError> {
    let mut state = DecompressorOxide::new();
    let mut out = vec![0u8; 4096];
    let (mut in_pos, mut out_pos) = (0usize, 0usize);
    loop {
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
            | inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
        let (status, read, wrote) =
            decompress(&mut state, &input[in_pos..], &mut out, out_pos, flags);
        in_pos += read;
        out_pos += wrote;
        match status {
            TINFLStatus::Done => break,
            TINFLStatus::HasMoreOutput => {
                if out.len() >= MAX_MESSAGE {
                    return err(format!("a message inflates past {MAX_MESSAGE} bytes"));
                }
                out.resize((out.len() * 2).min(MAX_MESSAGE), 0);
            }
            TINFLStatus::NeedsMoreInput => return Ok(None),
            other => return err(format!("the message is not valid DEFLATE ({other:?})")),
        }
    }
    let (doc, used) = decode(&out[..out_pos])?;
    if used != out_pos {
        return err("bytes after the BSON document inside the message");
    }
    Ok(Some((doc, in_pos)))
}

/// A DataStream frame.
pub fn stream_frame(id: Guid, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + data.len());
    out.extend_from_slice(&id.to_dotnet_bytes());
    out.extend_from_slice(&(data.len() as i64).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&(data.len() as i64).to_le_bytes());
    out
}

/// The `$type` of a DataStream object inside a message.
pub const DATASTREAM_TYPE: &str = "Halibut.DataStream, Halibut";

/// A DataStream object, as a message carries it in an object slot; its
/// bytes follow the message as a frame ([`stream_frame`]).
pub fn data_stream(id: Guid, length: u64) -> Bson {
    Bson::Document(Doc(vec![
        ("$type".into(), Bson::String(DATASTREAM_TYPE.into())),
        ("id".into(), id.to_bson()),
        (
            "length".into(),
            Bson::Int64(length.min(i64::MAX as u64) as i64),
        ),
    ]))
}

/// The DataStreams a message carries: the frames that follow it on the
/// wire, one per distinct stream. A DataStream is an object with a GUID
/// `id` and an int64 `length`; Halibut writes its `$type` only where the
/// declared type is not DataStream (`TypeNameHandling.Auto`), so the shape
/// decides, and a stream named twice has one frame, as Halibut keeps its
/// streams in a set.
pub fn streams_of(m: &Message) -> Vec<Guid> {
    fn walk(v: &Bson, out: &mut Vec<Guid>) {
        match v {
            Bson::Document(d) => {
                let typed = d
                    .str("$type")
                    .is_none_or(|t| t.starts_with("Halibut.DataStream"));
                if typed
                    && matches!(d.get("length"), Some(Bson::Int64(_)))
                    && let Some(id) = d.get("id").and_then(Guid::from_bson)
                {
                    if !out.contains(&id) {
                        out.push(id);
                    }
                    return;
                }
                d.0.iter().for_each(|(_, v)| walk(v, out));
            }
            Bson::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match m {
        Message::Request(r) => r.params.iter().for_each(|v| walk(v, &mut out)),
        Message::Response(r) => walk(&r.result, &mut out),
    }
    out
}

/// Bytes before a DataStream frame's content: its id and its length.
pub const STREAM_HEADER: usize = 24;

/// A DataStream frame's id and length, from its first
/// [`STREAM_HEADER`] bytes; a length past [`MAX_STREAM`] is an error.
pub fn stream_header(head: &[u8; STREAM_HEADER]) -> Result<(Guid, u64), HalibutError> {
    let mut id = [0u8; 16];
    id.copy_from_slice(&head[..16]);
    let len = i64::from_le_bytes(head[16..].try_into().expect("8 bytes"));
    if len < 0 || len as u64 > MAX_STREAM {
        return err(format!(
            "a DataStream of {len} bytes (at most {MAX_STREAM})"
        ));
    }
    Ok((Guid::from_dotnet_bytes(id), len as u64))
}

/// Who speaks, in the identification line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The caller in listening mode.
    Client,
    /// A polling Tentacle, with its subscription (`poll://id/`).
    Subscriber(String),
    /// The server.
    Server,
}

impl Identity {
    /// The identification line, with its blank line.
    pub fn line(&self) -> String {
        match self {
            Identity::Client => "MX-CLIENT 1.0\r\n\r\n".into(),
            Identity::Subscriber(uri) => format!("MX-SUBSCRIBER 1.0 {uri}\r\n\r\n"),
            Identity::Server => "MX-SERVER 1.0\r\n\r\n".into(),
        }
    }

    /// Parses the first line (without its line end). The version is not
    /// checked, as Halibut does not.
    pub fn parse(line: &str) -> Result<Self, HalibutError> {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["MX-CLIENT", ..] => Ok(Identity::Client),
            ["MX-SERVER", ..] => Ok(Identity::Server),
            ["MX-SUBSCRIBER", _, uri, ..] if uri.contains("://") => {
                Ok(Identity::Subscriber(uri.to_string()))
            }
            _ => err(format!(
                "{:?} is not an identification line",
                truncate(line)
            )),
        }
    }
}

/// The preamble a TCP initiator sends first.
pub const PREAMBLE: &[u8] = b"MX\r\n\r\n";

/// Control lines between messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The subscriber is ready for the next request.
    Next,
    /// The server agrees.
    Proceed,
    /// The connection is closing.
    End,
}

impl Control {
    /// The line, with its line end.
    pub fn line(self) -> &'static str {
        match self {
            Control::Next => "NEXT\r\n",
            Control::Proceed => "PROCEED\r\n",
            Control::End => "END\r\n",
        }
    }

    /// Parses a line without its line end.
    pub fn parse(line: &str) -> Result<Self, HalibutError> {
        match line {
            "NEXT" => Ok(Control::Next),
            "PROCEED" => Ok(Control::Proceed),
            "END" => Ok(Control::End),
            other => err(format!("{:?} is not a control line", truncate(other))),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// A request from the server to a Tentacle.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `<Contract>::<Method>[n] / <activityId>`; the response echoes it.
    pub id: String,
    /// New per call.
    pub activity_id: Guid,
    /// The endpoint: `BaseUri`, `RemoteThumbprint` and the timeouts.
    pub endpoint: Doc,
    /// The interface's short name, such as `IScriptServiceV2`.
    pub service: String,
    /// The method, such as `StartScript`.
    pub method: String,
    /// Positional arguments.
    pub params: Vec<Bson>,
}

/// An error a service returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The message.
    pub message: String,
    /// The full exception text.
    pub details: Option<String>,
}

/// A Tentacle's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request's id.
    pub id: String,
    /// The error, if the call failed.
    pub error: Option<ServerError>,
    /// The result (Null for void).
    pub result: Bson,
}

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The envelope `{"Message": ...}`, the inner object's `$type` first;
/// None is the null message the server sends after an idle poll.
pub fn envelope(message: Option<&Message>) -> Doc {
    let inner = match message {
        None => Bson::Null,
        Some(Message::Request(r)) => Bson::Document(Doc(vec![
            ("$type".into(), Bson::String(REQUEST_TYPE.into())),
            ("id".into(), Bson::String(r.id.clone())),
            ("activityId".into(), r.activity_id.to_bson()),
            ("endpoint".into(), Bson::Document(r.endpoint.clone())),
            ("service".into(), Bson::String(r.service.clone())),
            ("method".into(), Bson::String(r.method.clone())),
            ("params".into(), Bson::Array(r.params.clone())),
        ])),
        Some(Message::Response(r)) => Bson::Document(Doc(vec![
            ("$type".into(), Bson::String(RESPONSE_TYPE.into())),
            ("id".into(), Bson::String(r.id.clone())),
            (
                "error".into(),
                match &r.error {
                    None => Bson::Null,
                    Some(e) => Bson::Document(Doc(vec![
                        ("message".into(), Bson::String(e.message.clone())),
                        (
                            "details".into(),
                            e.details.clone().map_or(Bson::Null, Bson::String),
                        ),
                        ("HalibutErrorType".into(), Bson::Null),
                    ])),
                },
            ),
            ("result".into(), r.result.clone()),
        ])),
    };
    Doc(vec![("Message".into(), inner)])
}

/// Reads an envelope: None for the null message.
pub fn open_envelope(doc: &Doc) -> Result<Option<Message>, HalibutError> {
    let inner = match doc.get("Message") {
        Some(Bson::Null) => return Ok(None),
        Some(Bson::Document(d)) => d,
        _ => return err("the envelope has no Message"),
    };
    match inner.0.first() {
        Some((k, _)) if k == "$type" => {}
        _ => return err("the message's $type is not its first field"),
    }
    let need = |key: &str| {
        inner
            .str(key)
            .map(str::to_string)
            .ok_or_else(|| HalibutError(format!("the message has no {key}")))
    };
    match inner.str("$type") {
        Some(REQUEST_TYPE) => Ok(Some(Message::Request(Request {
            id: need("id")?,
            activity_id: inner
                .get("activityId")
                .and_then(Guid::from_bson)
                .ok_or_else(|| HalibutError("the request has no activityId GUID".into()))?,
            endpoint: match inner.get("endpoint") {
                Some(Bson::Document(d)) => d.clone(),
                _ => Doc::default(),
            },
            service: need("service")?,
            method: need("method")?,
            params: match inner.get("params") {
                Some(Bson::Array(a)) => a.clone(),
                _ => Vec::new(),
            },
        }))),
        Some(RESPONSE_TYPE) => Ok(Some(Message::Response(Response {
            id: need("id")?,
            error: match inner.get("error") {
                Some(Bson::Document(e)) => Some(ServerError {
                    message: e.str("message").unwrap_or_default().to_string(),
                    details: e.str("details").map(str::to_string),
                }),
                _ => None,
            },
            result: inner.get("result").cloned().unwrap_or(Bson::Null),
        }))),
        other => err(format!(
            "unknown $type {:?}",
            truncate(other.unwrap_or("(not a string)"))
        )),
    }
}

#[cfg(test)]
mod tests;
