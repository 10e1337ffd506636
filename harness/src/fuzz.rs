//! The fuzzers' entry points: each takes arbitrary bytes, feeds them to one
//! reader of untrusted input exactly as the harness or a reference node
//! does, and asserts what must hold for any input. A panic here is a bug.
//!
//! The fuzz targets under `harness/fuzz/` are one line each around these
//! functions, and the test suite replays every committed corpus file
//! through them, so what a fuzzer once found stays found.

use std::cell::RefCell;
use std::path::Path;

use bytes::Bytes;

use crate::history::Op;
use crate::scenario::units::{Bandwidth, Duration, Percent, Rate, Size, StatusCodes};
use halibut::{self, Control, Identity, wire::Wire};
use reference_cluster::api::{CollectionBody, NodeBody, PingBody, TaskBody};
use reference_cluster::multipart::{self, Chunks, MultipartReader};

thread_local! {
    /// One runtime per fuzzing thread: the readers are async, and the
    /// multipart reader arms a timer on each read.
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Runs a future to its end on this thread's runtime.
fn block_on<T>(f: impl Future<Output = T>) -> T {
    RUNTIME.with(|r| {
        let mut r = r.borrow_mut();
        let rt = r.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread runtime")
        });
        rt.block_on(f)
    })
}

/// Scenario text through both passes, as `harness validate` reads it.
/// Every refusal names at least one problem, and each problem renders; a
/// scenario that passes prints as YAML that parses to the same values.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = crate::scenario::parse_str(text);
    if let Ok(s) = &parsed {
        let printed = crate::scenario::print(s).expect("a scenario prints");
        let again = crate::scenario::parse_str(&printed)
            .unwrap_or_else(|p| panic!("the printed scenario is refused: {p:?}\n{printed}"));
        assert_eq!(
            serde_json::to_value(s).expect("JSON"),
            serde_json::to_value(&again).expect("JSON"),
            "the printed scenario differs:\n{printed}"
        );
    }
    if let Err(problems) = parsed {
        assert!(!problems.is_empty(), "a refusal without a problem");
        assert!(problems.iter().all(|p| !p.message.is_empty()));
        let shown = crate::scenario::ScenarioError {
            file: "fuzz.yaml".into(),
            kind: crate::scenario::ScenarioErrorKind::Invalid(problems),
        }
        .to_string();
        assert!(shown.starts_with("invalid scenario fuzz.yaml: "));
    }
}

/// Target-file text through both passes, as `--target` reads it. CA files
/// are looked up under a folder that does not exist.
pub fn target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(problems) = crate::target::parse_str(text, Path::new("/nonexistent-fuzz-base")) {
        assert!(!problems.is_empty(), "a refusal without a problem");
        assert!(problems.iter().all(|p| !p.message.is_empty()));
        let shown = crate::target::TargetError::Invalid("fuzz.yaml".into(), problems).to_string();
        assert!(shown.starts_with("invalid target file fuzz.yaml: "));
    }
}

/// The unit parsers (durations, sizes, rates, bandwidths, percentages,
/// status codes). What parses prints as text that parses to the same
/// value; sizes print rounded to two decimals, so within 0.5%.
pub fn units(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = text.parse::<Duration>() {
        assert_eq!(
            d.to_string().parse::<Duration>(),
            Ok(d),
            "duration {text:?}"
        );
    }
    if let Ok(s) = text.parse::<Size>() {
        let again: Size = s.to_string().parse().expect("a printed size parses");
        let (a, b) = (s.bytes() as f64, again.bytes() as f64);
        assert!(
            (a - b).abs() <= a * 0.005 + 0.5,
            "size {text:?}: {a} then {b}"
        );
    }
    if let Ok(r) = text.parse::<Rate>() {
        assert_eq!(r.to_string().parse::<Rate>(), Ok(r), "rate {text:?}");
    }
    if let Ok(b) = text.parse::<Bandwidth>() {
        assert!(b.bytes_per_sec() > 0.0, "bandwidth {text:?}");
    }
    if let Ok(p) = text.parse::<Percent>() {
        assert_eq!(p.to_string().parse::<Percent>(), Ok(p), "percent {text:?}");
    }
    if let Ok(c) = text.parse::<StatusCodes>() {
        assert_eq!(
            c.to_string().parse::<StatusCodes>(),
            Ok(c.clone()),
            "codes {text:?}"
        );
        assert!(
            c.ranges()
                .iter()
                .all(|(lo, hi)| (100..=599).contains(lo) && lo <= hi)
        );
    }
}

/// A package upload body as a reference node reads it. The first line is
/// the Content-Type header's value, the next byte the size of the chunks
/// the body arrives in, the rest the body. The node's own order is kept:
/// fields skipped until the first file part, its content read, then the
/// rest, where a second file part is a refusal. Whatever the input, the
/// content read is no larger than the body and never holds the boundary
/// delimiter, and a file name that parses as a package names no folder.
pub fn multipart(data: &[u8]) {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (content_type, rest) = (&data[..nl], &data[nl + 1..]);
    let Some((&chunk, body)) = rest.split_first() else {
        return;
    };
    let Ok(content_type) = std::str::from_utf8(content_type) else {
        return;
    };
    let Some(boundary) = multipart::boundary(content_type) else {
        return;
    };
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut reader = MultipartReader::new(Chunks::of(body, chunk as usize), &boundary);
    let mut content = Vec::new();
    let mut files = 0;
    let outcome: Result<(), multipart::MultipartError> = block_on(async {
        // Each turn takes a delimiter from the body, so there are fewer
        // turns than bytes; more is a reader that does not advance.
        for _ in 0..=body.len() {
            let Some(part) = reader.next_part().await? else {
                return Ok(());
            };
            match part.filename {
                Some(name) if files == 0 => {
                    files += 1;
                    if let Some((id, version, _)) = crate::package::parse_file_name(&name) {
                        for s in [&id, &version] {
                            assert!(!s.contains(['/', '\\']) && !s.starts_with('.'), "{name:?}");
                        }
                    }
                    reader
                        .read_part(|b| {
                            content.extend_from_slice(b);
                            Ok(())
                        })
                        .await?;
                }
                Some(_) => return Ok(()),
                None => reader.skip_part().await?,
            }
        }
        panic!("the multipart reader did not advance");
    });
    let _ = outcome.map_err(|e| e.to_string());
    assert!(content.len() <= body.len());
    assert!(
        memchr::memmem::find(&content, &delimiter).is_none(),
        "a part's content holds the delimiter"
    );
}

/// The Halibut readers. The first byte picks one: 0, a whole session as a
/// node's polling listener reads it (preamble, identification, then
/// control lines and messages in turn); 1, a compressed message; 2, a BSON
/// document; 3, a DataStream frame behind a message that carries it. What
/// decodes encodes to bytes that decode to the same thing.
pub fn halibut(data: &[u8]) {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => halibut_session(data),
        1 => {
            if let Ok(Some((doc, used))) = halibut::inflate(data) {
                assert!(used <= data.len());
                same_document(&doc);
                let _ = halibut::open_envelope(&doc).map(|m| same_message(m.as_ref()));
            }
        }
        2 => {
            if let Ok((doc, used)) = halibut::decode(data) {
                assert!(used <= data.len());
                same_document(&doc);
            }
        }
        _ => halibut_stream(data),
    }
}

/// A response that carries one DataStream, then the input where its
/// frame is due. What reads is a frame for that stream whose trailing
/// length agrees.
fn halibut_stream(data: &[u8]) {
    let id = halibut::Guid([0x5a; 16]);
    let m = halibut::Message::Response(halibut::Response {
        id: "fuzz".into(),
        error: None,
        result: halibut::data_stream(id, 0),
    });
    let mut bytes = halibut::deflate(&halibut::encode(&halibut::envelope(Some(&m))));
    bytes.extend_from_slice(data);
    let mut wire = Wire::new(tokio::io::join(&bytes[..], tokio::io::sink()));
    if block_on(wire.message()).is_ok() {
        assert_eq!(
            &data[..16],
            &id.to_dotnet_bytes(),
            "a frame for another stream"
        );
        let len = u64::from_le_bytes(data[16..24].try_into().expect("8 bytes")) as usize;
        assert_eq!(
            data[24 + len..32 + len],
            data[16..24],
            "a trailer that disagrees"
        );
    }
}

/// Encoding a decoded document and decoding it again gives it back; the
/// encoded bytes are compared, so a NaN double compares equal to itself.
fn same_document(doc: &halibut::Doc) {
    let bytes = halibut::encode(doc);
    let (again, used) = halibut::decode(&bytes).expect("an encoded document decodes");
    assert_eq!(used, bytes.len());
    assert_eq!(
        halibut::encode(&again),
        bytes,
        "a document changed on the way back"
    );
    let (inflated, _) = halibut::inflate(&halibut::deflate(&bytes))
        .expect("a deflated document inflates")
        .expect("a whole document");
    assert_eq!(halibut::encode(&inflated), bytes);
}

/// Sealing an opened envelope and opening it again gives the message back.
fn same_message(m: Option<&halibut::Message>) {
    let sealed = halibut::envelope(m);
    let reopened = halibut::open_envelope(&sealed).expect("a sealed envelope opens");
    assert_eq!(
        halibut::encode(&halibut::envelope(reopened.as_ref())),
        halibut::encode(&sealed),
        "a message changed on the way back"
    );
}

fn halibut_session(data: &[u8]) {
    let io = tokio::io::join(data, tokio::io::sink());
    let mut wire = Wire::new(io);
    block_on(async {
        // A polling Tentacle's opening: preamble (two lines), its
        // identification, a blank line.
        let Ok(first) = wire.line().await else { return };
        if first != "MX" {
            return;
        }
        let Ok(_) = wire.line().await else { return };
        let Ok(who) = wire.line().await else { return };
        if let Ok(identity) = Identity::parse(&who) {
            let line = identity.line();
            let line = line.strip_suffix("\r\n\r\n").expect("a line end");
            assert_eq!(Identity::parse(line), Ok(identity));
        }
        let Ok(_) = wire.line().await else { return };
        // Each read that succeeds takes at least one byte.
        for turn in 0..=data.len() {
            if turn % 2 == 0 {
                match wire.control().await {
                    Ok(c) => assert_eq!(Control::parse(c.line().trim_end()), Ok(c)),
                    Err(_) => return,
                }
            } else {
                match wire.message().await {
                    Ok(m) => same_message(m.as_ref()),
                    Err(_) => return,
                }
            }
        }
        panic!("the Halibut reader did not advance");
    });
}

/// JSON bodies the harness reads from a server: the first byte picks the
/// call (ping, node list, cluster summary, task page, task, an accepted
/// upload, an error). None may panic; a ping answer is always classified.
pub fn json(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let status = if which & 0x80 == 0 { 200 } else { 400 };
    let bytes = Bytes::copy_from_slice(body);
    match which % 7 {
        0 => {
            let seen = crate::client::observe(Op::Ping, Ok((status, bytes)));
            assert_eq!(seen.status, Some(status));
        }
        1 => drop(crate::client::expect_json::<Vec<NodeBody>>(
            "nodes", status, body,
        )),
        2 => drop(crate::client::expect_json::<crate::client::Summary>(
            "summary", status, body,
        )),
        3 => drop(crate::client::expect_json::<CollectionBody<TaskBody>>(
            "tasks", status, body,
        )),
        4 => drop(crate::client::expect_json::<TaskBody>("task", status, body)),
        5 => drop(crate::upload::classify_status(status, body)),
        _ => {
            let _ = serde_json::from_slice::<PingBody>(body);
            if let Err(e) = crate::client::expect_json::<serde_json::Value>("x", 500, body) {
                assert!(e.starts_with("x answered 500"));
            }
        }
    }
}
