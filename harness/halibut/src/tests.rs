//! The codec against vectors built from the spec, and round trips.

use super::*;

/// BSON built by hand from the spec (bsonspec.org), not by the encoder.
fn element(tag: u8, name: &str, value: &[u8]) -> Vec<u8> {
    let mut e = vec![tag];
    e.extend_from_slice(name.as_bytes());
    e.push(0);
    e.extend_from_slice(value);
    e
}

fn document(elements: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = elements.concat();
    let mut d = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    d.extend(body);
    d.push(0);
    d
}

fn string(s: &str) -> Vec<u8> {
    let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

#[test]
fn the_null_message_is_fourteen_known_bytes() {
    let bytes = encode(&envelope(None));
    assert_eq!(
        bytes,
        [
            0x0E, 0, 0, 0, 0x0A, b'M', b'e', b's', b's', b'a', b'g', b'e', 0, 0
        ]
    );
    assert_eq!(open_envelope(&decode(&bytes).unwrap().0).unwrap(), None);
}

#[test]
fn guids_go_in_dotnet_byte_order() {
    let g: Guid = "aabbccdd-eeff-0011-2233-445566778899".parse().unwrap();
    assert_eq!(
        g.to_dotnet_bytes(),
        [
            0xdd, 0xcc, 0xbb, 0xaa, 0xff, 0xee, 0x11, 0x00, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
            0x88, 0x99
        ]
    );
    assert_eq!(Guid::from_dotnet_bytes(g.to_dotnet_bytes()), g);
    assert_eq!(g.to_string(), "aabbccdd-eeff-0011-2233-445566778899");
    assert!("not-a-guid".parse::<Guid>().is_err());
}

#[test]
fn timespans_are_dotnet_strings() {
    assert_eq!(timespan(Duration::from_secs(120)), "00:02:00");
    let long = Duration::from_secs(86_400 + 2 * 3600 + 3 * 60 + 4) + Duration::from_millis(500);
    assert_eq!(timespan(long), "1.02:03:04.5000000");
    assert_eq!(parse_timespan("00:02:00"), Some(Duration::from_secs(120)));
    assert_eq!(parse_timespan("1.02:03:04.5000000"), Some(long));
    for bad in [
        "",
        "2",
        "00:60:00",
        "1:2",
        "a.00:00:00",
        "00:00:00.12345678",
    ] {
        assert_eq!(parse_timespan(bad), None, "{bad}");
    }
}

#[test]
fn a_response_encodes_to_the_spec_bytes() {
    let response = Message::Response(Response {
        id: "IEcho::Say[1] / x".into(),
        error: None,
        result: Bson::String("hi".into()),
    });
    let inner = document(&[
        element(0x02, "$type", &string(RESPONSE_TYPE)),
        element(0x02, "id", &string("IEcho::Say[1] / x")),
        element(0x0A, "error", &[]),
        element(0x02, "result", &string("hi")),
    ]);
    let expected = document(&[element(0x03, "Message", &inner)]);
    assert_eq!(encode(&envelope(Some(&response))), expected);
    let back = open_envelope(&decode(&expected).unwrap().0).unwrap();
    assert_eq!(back, Some(response));
}

#[test]
fn a_request_carries_its_guid_as_binary_subtype_4() {
    let g: Guid = "aabbccdd-eeff-0011-2233-445566778899".parse().unwrap();
    let request = Message::Request(Request {
        id: "IScriptServiceV2::StartScript[1] / aabbccdd".into(),
        activity_id: g,
        endpoint: Doc(vec![
            ("BaseUri".into(), Bson::String("poll://abc/".into())),
            (
                "PollingRequestQueueTimeout".into(),
                Bson::String("00:02:00".into()),
            ),
        ]),
        service: "IScriptServiceV2".into(),
        method: "StartScript".into(),
        params: vec![Bson::Int32(7), Bson::Null],
    });
    let bytes = encode(&envelope(Some(&request)));
    let mut guid = 16i32.to_le_bytes().to_vec();
    guid.push(4);
    guid.extend_from_slice(&g.to_dotnet_bytes());
    let needle = element(0x05, "activityId", &guid);
    assert!(bytes.windows(needle.len()).any(|w| w == needle.as_slice()));
    let params = document(&[
        element(0x10, "0", &7i32.to_le_bytes()),
        element(0x0A, "1", &[]),
    ]);
    let needle = element(0x04, "params", &params);
    assert!(bytes.windows(needle.len()).any(|w| w == needle.as_slice()));
    assert_eq!(
        open_envelope(&decode(&bytes).unwrap().0).unwrap(),
        Some(request)
    );
}

#[test]
fn inflate_keeps_the_bytes_after_the_message() {
    let bson = encode(&envelope(None));
    let mut wire = deflate(&bson);
    let message_len = wire.len();
    wire.extend_from_slice(b"NEXT\r\n");
    let (doc, used) = inflate(&wire).unwrap().unwrap();
    assert_eq!(used, message_len);
    assert_eq!(&wire[used..], b"NEXT\r\n");
    assert_eq!(open_envelope(&doc).unwrap(), None);
    // A cut message asks for more; garbage is an error, not a panic.
    assert_eq!(inflate(&wire[..message_len / 2]).unwrap(), None);
    assert!(inflate(&[0xff; 64]).is_err());
}

#[test]
fn stream_headers_are_read_and_bounded_and_messages_name_their_streams() {
    let id = Guid::random();
    let frame = stream_frame(id, b"hello");
    assert_eq!(frame.len(), 16 + 8 + 5 + 8);
    let head: &[u8; STREAM_HEADER] = frame[..STREAM_HEADER].try_into().unwrap();
    assert_eq!(stream_header(head).unwrap(), (id, 5));
    let mut huge = *head;
    huge[16..].copy_from_slice(&((MAX_STREAM + 1) as i64).to_le_bytes());
    assert!(stream_header(&huge).is_err());
    huge[16..].copy_from_slice(&(-1i64).to_le_bytes());
    assert!(stream_header(&huge).is_err());
    let other = Guid::random();
    // Without its $type, as in a slot declared DataStream; and the
    // first stream named again.
    let untyped = Bson::Document(Doc(vec![
        ("id".into(), other.to_bson()),
        ("length".into(), Bson::Int64(0)),
    ]));
    let m = Message::Response(Response {
        id: "x".into(),
        error: None,
        result: Bson::Array(vec![
            data_stream(id, 5),
            Bson::Document(Doc(vec![("Contents".into(), untyped)])),
            data_stream(id, 5),
        ]),
    });
    assert_eq!(streams_of(&m), vec![id, other]);
}

#[test]
fn identities_controls_and_bad_bson() {
    let sub = Identity::Subscriber("poll://g3662re9njtelsyfhm7t/".into());
    assert_eq!(
        sub.line(),
        "MX-SUBSCRIBER 1.0 poll://g3662re9njtelsyfhm7t/\r\n\r\n"
    );
    assert_eq!(
        Identity::parse("MX-SUBSCRIBER 1.0 poll://g3662re9njtelsyfhm7t/").unwrap(),
        sub
    );
    assert_eq!(Identity::parse("MX-SERVER 9.9").unwrap(), Identity::Server);
    assert!(Identity::parse("GET / HTTP/1.1").is_err());
    assert_eq!(Control::parse("PROCEED").unwrap(), Control::Proceed);
    assert!(Control::parse("NEXTT").is_err());
    // Unknown $type, $type not first, a size that lies, deep nesting.
    let unknown = document(&[element(
        0x03,
        "Message",
        &document(&[element(0x02, "$type", &string("Evil, Mal"))]),
    )]);
    assert!(open_envelope(&decode(&unknown).unwrap().0).is_err());
    let late = document(&[element(
        0x03,
        "Message",
        &document(&[
            element(0x02, "id", &string("x")),
            element(0x02, "$type", &string(RESPONSE_TYPE)),
        ]),
    )]);
    assert!(open_envelope(&decode(&late).unwrap().0).is_err());
    let mut lying = encode(&envelope(None));
    lying[0..4].copy_from_slice(&(2i32 << 30).to_le_bytes());
    assert!(decode(&lying).is_err());
    let mut deep = document(&[]);
    for _ in 0..(BSON_MAX_DEPTH + 2) {
        deep = document(&[element(0x03, "d", &deep)]);
    }
    assert!(decode(&deep).is_err());
    assert!(decode(&[]).is_err());
}
