//! Writes the fuzzers' seed corpora into `harness/fuzz/seeds/<target>/`:
//! the project's own scenario and target fixtures as they are, the units
//! those scenarios write, and bytes made by the harness's own encoders (an
//! upload as the uploader frames it, Halibut sessions and messages as the
//! nodes and the simulated Tentacles send them, JSON bodies as the
//! reference nodes answer). Run from the repository's root:
//! `cargo run --example fuzz-seeds`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use halibut::{
    self, Bson, Control, Guid, Identity, Message, PREAMBLE, Response, ServerError, services,
};
use harness::package::{Multipart, PackageSpec};
use reference_cluster::api::{self, TaskState};
use reference_cluster::db::{NodeRow, TaskRow};
use serde_json::json;

type Seeds = BTreeMap<&'static str, Vec<(String, Vec<u8>)>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Seeds::new();
    for file in yaml_under(&root.join("scenarios"))?
        .into_iter()
        .chain(yaml_under(&root.join("fixtures/scenarios"))?)
    {
        let text = std::fs::read(&file)?;
        units_of(&text, &mut seeds);
        seeds
            .entry("scenario")
            .or_default()
            .push((name_of(root, &file), text));
    }
    for file in yaml_under(&root.join("fixtures/targets"))? {
        let text = std::fs::read(&file)?;
        seeds
            .entry("target")
            .or_default()
            .push((name_of(root, &file), text));
    }
    multipart(&mut seeds);
    halibut_seeds(&mut seeds);
    json_seeds(&mut seeds);

    let out = root.join("harness/fuzz/seeds");
    for (target, files) in &seeds {
        let dir = out.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes)?;
        }
        println!("{target}: {} seeds in {}", files.len(), dir.display());
    }
    Ok(())
}

/// Every `.yaml` file under `dir`, sorted.
fn yaml_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `fixtures/scenarios/valid/a.yaml` as `fixtures-scenarios-valid-a.yaml`.
fn name_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    relative.display().to_string().replace('/', "-")
}

/// The values the scenarios give that start with a digit: durations,
/// sizes, rates, percentages, status codes.
fn units_of(text: &[u8], seeds: &mut Seeds) {
    let units = seeds.entry("units").or_default();
    for line in String::from_utf8_lossy(text).lines() {
        let Some((_, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        if value.starts_with(|c: char| c.is_ascii_digit())
            && !units.iter().any(|(_, v)| v == value.as_bytes())
        {
            units.push((format!("unit-{}", units.len()), value.as_bytes().to_vec()));
        }
    }
}

/// Upload bodies: the content type line, a chunk size byte, the body.
fn multipart(seeds: &mut Seeds) {
    let spec = PackageSpec {
        package_id: "hello".into(),
        version: "1.0.0".into(),
        content: 300,
        seed: 7,
    };
    let framing = Multipart::new(&spec.file_name(), spec.seed);
    let mut package = Vec::new();
    let mut stream = spec.stream();
    while let Some(chunk) = stream.next_chunk(1 << 16) {
        package.extend_from_slice(&chunk);
    }
    let whole = [&framing.head[..], &package, &framing.tail[..]].concat();
    let field = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n",
        b = framing.boundary
    );
    let with_field = [field.as_bytes(), &whole].concat();
    let second = Multipart::new("second.2.0.zip", spec.seed);
    let two_files = [
        &framing.head[..],
        b"one",
        // The first part's closing delimiter becomes the second's opening.
        &second.head[..],
        b"two",
        &second.tail[..],
    ]
    .concat();
    let list = seeds.entry("multipart").or_default();
    for (name, body, chunk) in [
        ("upload", &whole, 255u8),
        ("upload-small-chunks", &whole, 7),
        ("field-then-upload", &with_field, 64),
        ("two-files", &two_files, 255),
    ] {
        let mut seed = format!("{}\n", framing.content_type()).into_bytes();
        seed.push(chunk);
        seed.extend_from_slice(body);
        list.push((name.to_string(), seed));
    }
}

/// Halibut input: the selector byte `harness::fuzz::halibut` reads, then
/// the bytes.
fn halibut_seeds(seeds: &mut Seeds) {
    let request = Message::Request(services::request(
        "poll://seedsubscription/",
        "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
        "IScriptServiceV2",
        "StartScript",
        1,
        vec![services::start_script("ticket-1", "echo hello")],
    ));
    let capabilities = Message::Request(services::request(
        "poll://seedsubscription/",
        "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
        "ICapabilitiesServiceV2",
        "GetCapabilities",
        2,
        vec![],
    ));
    let answer = Message::Response(Response {
        id: "ICapabilitiesServiceV2::GetCapabilities[2] / x".into(),
        error: None,
        result: services::capabilities(&["IScriptServiceV2", "IFileTransferService"]),
    });
    let failure = Message::Response(Response {
        id: "IScriptServiceV2::GetStatus[3] / x".into(),
        error: Some(ServerError {
            message: "no such ticket".into(),
            details: Some("at Tentacle".into()),
        }),
        result: Bson::Null,
    });
    let sealed = |m: Option<&Message>| halibut::deflate(&halibut::encode(&halibut::envelope(m)));
    let mut session = PREAMBLE.to_vec();
    session.extend_from_slice(
        Identity::Subscriber("poll://seedsubscription/".into())
            .line()
            .as_bytes(),
    );
    for m in [Some(&answer), None, Some(&failure)] {
        session.extend_from_slice(Control::Next.line().as_bytes());
        session.extend_from_slice(&sealed(m));
    }
    session.extend_from_slice(Control::End.line().as_bytes());

    let list = seeds.entry("halibut").or_default();
    list.push(("session".into(), [&[0u8][..], &session].concat()));
    for (name, m) in [
        ("request", Some(&request)),
        ("capabilities", Some(&capabilities)),
        ("answer", Some(&answer)),
        ("failure", Some(&failure)),
        ("null", None),
    ] {
        list.push((
            format!("deflated-{name}"),
            [&[1u8][..], &sealed(m)].concat(),
        ));
        let bson = halibut::encode(&halibut::envelope(m));
        list.push((format!("bson-{name}"), [&[2u8][..], &bson].concat()));
    }
    // `harness::fuzz::halibut` puts a message carrying stream 5a5a… first.
    let frame = halibut::stream_frame(Guid([0x5a; 16]), b"a DataStream's bytes");
    list.push(("datastream".into(), [&[3u8][..], &frame].concat()));
}

/// JSON bodies as the reference nodes answer, behind the selector byte
/// `harness::fuzz::json` reads.
fn json_seeds(seeds: &mut Seeds) {
    let node = api::node_resource(
        &NodeRow {
            id: "OctopusServerNodes-n1".into(),
            name: "n1".into(),
            max_concurrent_tasks: 5,
            is_in_maintenance_mode: false,
            last_seen_ms: 1_700_000_000_000,
            version: "2025.2.0".into(),
            last_modified_ms: 1_700_000_000_000,
        },
        1_700_000_001_000,
        60_000,
    );
    let task = api::task_resource(&TaskRow {
        seq: 42,
        space_id: "Spaces-1".into(),
        name: "AdHocScript".into(),
        description: "harness seed".into(),
        arguments: "{}".into(),
        state: TaskState::Executing,
        server_node: Some("n1".into()),
        queue_ms: 1_700_000_000_000,
        start_ms: Some(1_700_000_000_500),
        completed_ms: None,
        error: None,
    });
    let tasks = api::collection("Task", "/api/tasks", vec![task.clone()], 0, 30);
    let package = json!({
        "Id": "packages-hello.1.0.0", "PackageId": "hello", "Version": "1.0.0",
        "FeedId": "feeds-builtin", "FileExtension": ".zip", "PackageSizeBytes": 300,
        "Hash": "0123456789abcdef0123456789abcdef01234567",
    });
    let list = seeds.entry("json").or_default();
    for (name, which, body) in [
        ("ping", 0u8, node.clone()),
        ("nodes", 1, json!([node.clone()])),
        ("summary", 2, json!({ "Nodes": [node] })),
        ("tasks", 3, tasks),
        ("task", 4, task),
        ("package", 5, package),
        (
            "error",
            6 | 0x80,
            api::error("a package with the same ID exists"),
        ),
    ] {
        let text = serde_json::to_vec_pretty(&body).expect("JSON");
        list.push((name.to_string(), [&[which][..], &text].concat()));
    }
}
