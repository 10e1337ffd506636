//! Round trips over generated inputs (proptest): Halibut documents and
//! messages encoded then decoded, packages generated then opened as a ZIP
//! and as a multipart upload, and scenarios parsed, printed and parsed
//! again.

use halibut::{self, Bson, Doc, Guid, Message, Request, Response, ServerError};
use harness::package::{Multipart, PackageSpec};
use proptest::prelude::*;
use reference_cluster::multipart::Chunks;
use reference_cluster::multipart::MultipartReader;
use sha1::{Digest, Sha1};

fn key() -> impl Strategy<Value = String> {
    // BSON keys are C strings: no NUL.
    "[a-zA-Z$_][a-zA-Z0-9_.]{0,12}"
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn bson() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        // NaN is never equal to itself; every other double round-trips.
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(Bson::Double),
        text().prop_map(Bson::String),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, b)| Bson::Binary(t, b)),
        any::<bool>().prop_map(Bson::Bool),
        any::<i64>().prop_map(Bson::DateTime),
        Just(Bson::Null),
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((key(), inner.clone()), 0..6)
                .prop_map(|f| Bson::Document(Doc(f))),
            proptest::collection::vec(inner, 0..6).prop_map(Bson::Array),
        ]
    })
}

fn doc() -> impl Strategy<Value = Doc> {
    proptest::collection::vec((key(), bson()), 0..8).prop_map(Doc)
}

fn message() -> impl Strategy<Value = Message> {
    let request = (
        text(),
        any::<[u8; 16]>(),
        doc(),
        text(),
        text(),
        proptest::collection::vec(bson(), 0..4),
    )
        .prop_map(|(id, g, endpoint, service, method, params)| {
            Message::Request(Request {
                id,
                activity_id: Guid(g),
                endpoint,
                service,
                method,
                params,
            })
        });
    let response = (
        text(),
        proptest::option::of((text(), proptest::option::of(text()))),
        bson(),
    )
        .prop_map(|(id, error, result)| {
            Message::Response(Response {
                id,
                error: error.map(|(message, details)| ServerError { message, details }),
                result,
            })
        });
    prop_oneof![request, response]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bson_documents_decode_to_what_was_encoded(d in doc()) {
        let bytes = halibut::encode(&d);
        let (back, used) = halibut::decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, d);
    }

    #[test]
    fn halibut_messages_arrive_as_they_were_sent(m in proptest::option::of(message())) {
        let wire = halibut::deflate(&halibut::encode(&halibut::envelope(m.as_ref())));
        let mut bytes = wire.clone();
        bytes.extend_from_slice(b"NEXT\r\n");
        let (doc, used) = halibut::inflate(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(halibut::open_envelope(&doc).unwrap(), m);
    }
}

/// A little-endian integer at `at`.
fn le(bytes: &[u8], at: usize, n: usize) -> u64 {
    bytes[at..at + n]
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Opens a package as a ZIP reader would, from its end: the end records,
/// the central directory entry, then the local entry and its content.
/// Gives the entry's name and content.
fn open_zip(zip: &[u8]) -> (String, Vec<u8>) {
    let n = zip.len();
    // Classic end record (22 bytes), then the ZIP64 locator before it.
    assert_eq!(le(zip, n - 22, 4), 0x0605_4b50);
    assert_eq!(le(zip, n - 22 - 20, 4), 0x0706_4b50);
    let end64 = le(zip, n - 22 - 20 + 8, 8) as usize;
    assert_eq!(le(zip, end64, 4), 0x0606_4b50);
    assert_eq!(le(zip, end64 + 32, 8), 1, "one entry");
    let central = le(zip, end64 + 48, 8) as usize;
    assert_eq!(le(zip, central, 4), 0x0201_4b50);
    let crc = le(zip, central + 16, 4) as u32;
    let name_len = le(zip, central + 28, 2) as usize;
    let name = String::from_utf8(zip[central + 46..central + 46 + name_len].to_vec()).unwrap();
    // The central entry's ZIP64 extra: sizes, then the local offset.
    let extra = central + 46 + name_len;
    assert_eq!(le(zip, extra, 2), 1);
    let size = le(zip, extra + 4, 8) as usize;
    let local = le(zip, extra + 20, 8) as usize;
    assert_eq!(le(zip, local, 4), 0x0403_4b50);
    assert_eq!(le(zip, local + 8, 2), 0, "stored");
    let start = local + 30 + le(zip, local + 26, 2) as usize + le(zip, local + 28, 2) as usize;
    let content = zip[start..start + size].to_vec();
    // The data descriptor after the content says the same.
    let d = start + size;
    assert_eq!(le(zip, d, 4), 0x0807_4b50);
    assert_eq!(le(zip, d + 4, 4) as u32, crc);
    assert_eq!(le(zip, d + 8, 8) as usize, size);
    assert_eq!(crc32fast::hash(&content), crc, "the CRC-32 of the content");
    assert_eq!(d + 24, central, "the central directory follows the entry");
    (name, content)
}

fn stream(spec: &PackageSpec, chunk: usize) -> (Vec<u8>, String) {
    let mut s = spec.stream();
    let mut bytes = Vec::new();
    while let Some(c) = s.next_chunk(chunk) {
        bytes.extend_from_slice(&c);
    }
    (bytes, s.sha1_hex().unwrap().to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_generated_package_opens_as_the_zip_and_the_upload_it_claims_to_be(
        // Segments that start with a digit would read as version numbers
        // (Octopus takes the shortest ID), so they start with a letter.
        id in "[A-Za-z][A-Za-z0-9_]{0,10}(\\.[A-Za-z][A-Za-z0-9]{0,4}){0,2}",
        version in "[0-9]{1,3}\\.[0-9]{1,3}(\\.[0-9]{1,3})?(-[a-z0-9]{1,6})?",
        content in 0u64..300_000,
        seed in any::<u64>(),
        chunk in 1usize..70_000,
    ) {
        let spec = PackageSpec { package_id: id.clone(), version: version.clone(), content, seed };
        let (zip, sha) = stream(&spec, chunk);
        prop_assert_eq!(zip.len() as u64, spec.len());
        prop_assert_eq!(&sha, &harness::package::hex(&Sha1::digest(&zip)));
        prop_assert_eq!(&sha, &spec.sha1());
        // The same bytes whatever the chunking.
        prop_assert_eq!(&stream(&spec, 65_536).0, &zip);
        let (name, bytes) = open_zip(&zip);
        prop_assert_eq!(name, "payload.bin");
        prop_assert_eq!(bytes.len() as u64, content);

        // Its file name parses back to its ID and version.
        let parsed = harness::package::parse_file_name(&spec.file_name());
        prop_assert_eq!(parsed, Some((id, version, ".zip".to_string())));

        // As an upload: the multipart reader gives back the file name and
        // every byte, however the body is cut.
        let framing = Multipart::new(&spec.file_name(), seed);
        let body = [&framing.head[..], &zip, &framing.tail[..]].concat();
        prop_assert_eq!(body.len() as u64, framing.len(spec.len()));
        let boundary = reference_cluster::multipart::boundary(&framing.content_type()).unwrap();
        let (name, got) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async {
                let mut r = MultipartReader::new(Chunks::of(&body, chunk), &boundary);
                let part = r.next_part().await.unwrap().unwrap();
                let mut got = Vec::new();
                r.read_part(|b| {
                    got.extend_from_slice(b);
                    Ok(())
                })
                .await
                .unwrap();
                assert!(r.next_part().await.unwrap().is_none());
                (part.filename, got)
            });
        prop_assert_eq!(name, Some(spec.file_name()));
        prop_assert!(got == zip);
    }
}

/// Parses, prints, parses and prints again: the printed scenario
/// validates as the original did, both parses hold the same values
/// (compared as JSON, which leaves out the source locations), and the two
/// printings are the same text.
fn parse_print_parse(source: &str) -> Result<String, String> {
    let first = harness::scenario::parse_str(source).map_err(|p| format!("{p:?}"))?;
    let printed = harness::scenario::print(&first)?;
    let second = harness::scenario::parse_str(&printed)
        .map_err(|p| format!("the printed scenario does not parse: {p:?}\n{printed}"))?;
    let (a, b) = (
        serde_json::to_value(&first).unwrap(),
        serde_json::to_value(&second).unwrap(),
    );
    if a != b {
        return Err(format!(
            "the values changed:\n{a}\n---\n{b}\nprinted:\n{printed}"
        ));
    }
    let again = harness::scenario::print(&second)?;
    if again != printed {
        return Err(format!(
            "printed twice, two texts:\n{printed}\n---\n{again}"
        ));
    }
    Ok(printed)
}

#[test]
fn every_shipped_scenario_parses_prints_and_parses_to_the_same() {
    let root = crate::util::root();
    let mut n = 0;
    for dir in [
        "scenarios",
        "fixtures/scenarios/valid",
        "fixtures/scenarios/suite",
        "fixtures/scenarios/load",
        "fixtures/scenarios/report",
        "fixtures/scenarios/baseline",
        "fixtures/scenarios/kill",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = parse_print_parse(&source) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 30, "{n} scenarios");
}

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..120).prop_map(|s| format!("{s}s")),
        (1u64..5000).prop_map(|ms| format!("{ms}ms")),
        (1u64..3, 0u64..60).prop_map(|(m, s)| format!("{m}m{s}s")),
    ]
}

fn size() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..4096).prop_map(|b| format!("{b}B")),
        (1u64..900).prop_map(|k| format!("{k}KB")),
        (1u64..64, 0u64..100).prop_map(|(m, f)| format!("{m}.{f:02}MiB")),
        (1u64..3).prop_map(|g| format!("{g}GiB")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_scenarios_parse_print_and_parse_to_the_same(
        nodes in 1u32..6,
        duration in duration(),
        warmup in duration(),
        rate in (1u32..2000, prop_oneof![Just("s"), Just("min"), Just("h")]),
        size in size(),
        bandwidth in (size(), prop_oneof![Just("s"), Just("min")]),
        percent in (0u32..100, 0u32..10),
        codes in prop_oneof![Just("200-399"), Just("200,418"), Just("[200, 204]")],
        seed in proptest::option::of(any::<u32>()),
    ) {
        let seed = seed.map(|s| format!("seed: {s}\n")).unwrap_or_default();
        let source = format!(
            "name: generated\n{seed}duration: {duration}\nwarmup: {warmup}\ncluster:\n  nodes: {nodes}\n  lb:\n    health_check:\n      accept: {codes}\nworkload:\n  - api: {{ rate: {}/{} }}\n  - upload: {{ size: {size}, throttle: {}/{} }}\nchecks:\n  - availability: {{ max_error_rate: {}.{}% }}\n",
            rate.0, rate.1, bandwidth.0, bandwidth.1, percent.0, percent.1,
        );
        match parse_print_parse(&source) {
            Ok(_) => {}
            // Values out of range are refused on the first parse; nothing to print.
            Err(e) if e.starts_with('[') => prop_assume!(false),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\nfrom:\n{source}"))),
        }
    }
}

/// A unit's printed (serialized) text.
fn printed<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn per() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("s"), Just("min"), Just("h")]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Each unit prints as text that reads back as exactly the same value
    /// (what makes a printed scenario the same scenario).
    #[test]
    fn units_print_as_text_that_reads_back_the_same(
        bytes in 0u64..(1 << 53),
        millis in 0u64..(100 * 86_400_000),
        secs in 0u64..1_000_000,
        rate in (1u32..100_000, 0u32..1000, per()),
        bandwidth in (1u64..(1 << 40), per()),
        percent in (0u32..100, 0u32..1000),
    ) {
        use harness::scenario::units::{Bandwidth, Duration, Percent, Rate, Size};
        let size = Size::from_bytes(bytes);
        prop_assert_eq!(printed(&size).parse::<Size>(), Ok(size));
        for d in [Duration::from_millis(millis), Duration::from_secs(secs)] {
            prop_assert_eq!(printed(&d).parse::<Duration>(), Ok(d));
        }
        let r: Rate = format!("{}.{}/{}", rate.0, rate.1, rate.2).parse().unwrap();
        prop_assert_eq!(printed(&r).parse::<Rate>(), Ok(r));
        let b: Bandwidth = format!("{}B/{}", bandwidth.0, bandwidth.1).parse().unwrap();
        let again: Bandwidth = printed(&b).parse().unwrap();
        prop_assert_eq!(again, b);
        prop_assert_eq!(again.bytes_per_sec(), b.bytes_per_sec());
        let p: Percent = format!("{}.{}%", percent.0, percent.1).parse().unwrap();
        prop_assert_eq!(printed(&p).parse::<Percent>(), Ok(p));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A message with DataStream frames behind it, sent through a real
    /// byte stream in chunks of any size, is read back whole by the wire,
    /// its frames read past (in any order), and the control line behind
    /// them read after.
    #[test]
    fn messages_and_their_streams_cross_a_connection_in_any_chunks(
        m in message(),
        streams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 0..4),
        reversed in any::<bool>(),
        chunk in 1usize..5000,
    ) {
        use tokio::io::AsyncWriteExt;
        let ids: Vec<Guid> = (0..streams.len()).map(|i| Guid([i as u8 + 1; 16])).collect();
        // The message carries its streams beside what it had.
        let carried = Bson::Array(ids.iter().zip(&streams).map(|(id, s)| halibut::data_stream(*id, s.len() as u64)).collect());
        let m = match m {
            Message::Request(mut r) => {
                r.params.push(carried);
                Message::Request(r)
            }
            Message::Response(mut r) => {
                r.result = Bson::Array(vec![r.result, carried]);
                Message::Response(r)
            }
        };
        let mut bytes = halibut::deflate(&halibut::encode(&halibut::envelope(Some(&m))));
        let mut frames: Vec<Vec<u8>> = ids.iter().zip(&streams).map(|(id, s)| halibut::stream_frame(*id, s)).collect();
        if reversed {
            frames.reverse();
        }
        bytes.extend(frames.concat());
        bytes.extend_from_slice(b"NEXT\r\n");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (got, next) = rt.block_on(async {
            let (a, b) = tokio::io::duplex(chunk);
            let writer = tokio::spawn(async move {
                let mut a = a;
                for piece in bytes.chunks(chunk) {
                    a.write_all(piece).await.unwrap();
                }
                a
            });
            let mut wire = halibut::wire::Wire::new(b);
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), wire.message()).await.unwrap().unwrap();
            let next = wire.control().await.unwrap();
            drop(writer.await.unwrap());
            (got, next)
        });
        prop_assert_eq!(got, Some(m));
        prop_assert_eq!(next, halibut::Control::Next);
    }
}
