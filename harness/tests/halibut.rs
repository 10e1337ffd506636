//! Halibut on real sockets: a polling subscriber and a listener on
//! loopback, over mutual TLS with self-signed certificates, speak the
//! sequence of docs/halibut.md ("The polling sequence") with the
//! harness's codec: preamble, identification, a request and its response,
//! the null message, NEXT and PROCEED. A pinned thumbprint that does not
//! match, and a client the listener does not trust, end the connection.

use std::time::Duration;

use halibut::tls::{TlsIdentity, client_config, peer_thumbprint, server_config};
use halibut::{self, Bson, Control, Doc, Guid, Identity, Message, PREAMBLE, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const LIMIT: Duration = Duration::from_secs(10);

/// Reads up to and without the next CRLF, byte by byte, as Halibut does.
async fn line(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    loop {
        let b = r.read_u8().await?;
        if b == b'\n' && bytes.last() == Some(&b'\r') {
            bytes.pop();
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        bytes.push(b);
        assert!(bytes.len() < 20_000, "a line without an end");
    }
}

/// Reads bytes until a whole message has come; keeps what follows it.
async fn message(
    r: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> Result<Option<Message>, String> {
    loop {
        if let Some((doc, used)) = halibut::inflate(buf).map_err(|e| e.to_string())? {
            buf.drain(..used);
            return halibut::open_envelope(&doc).map_err(|e| e.to_string());
        }
        let mut chunk = [0u8; 4096];
        let n = r.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the stream ended inside a message".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn wire(m: Option<&Message>) -> Vec<u8> {
    halibut::deflate(&halibut::encode(&halibut::envelope(m)))
}

/// The listener side: one connection, one request, then the null message.
async fn serve(
    listener: TcpListener,
    server: TlsIdentity,
    trusted: String,
) -> Result<Vec<String>, String> {
    let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let acceptor = TlsAcceptor::from(server_config(&server)?);
    let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    // Preamble, then identification.
    assert_eq!(line(&mut tls).await.map_err(|e| e.to_string())?, "MX");
    assert_eq!(line(&mut tls).await.map_err(|e| e.to_string())?, "");
    let who = line(&mut tls).await.map_err(|e| e.to_string())?;
    let _blank = line(&mut tls).await.map_err(|e| e.to_string())?;
    // Authorised after the handshake, by thumbprint, as Halibut does: an
    // untrusted subscriber is dropped without a word.
    let peer = peer_thumbprint(tls.get_ref().1).unwrap_or_default();
    if !peer.eq_ignore_ascii_case(&trusted) {
        return Ok(vec!["refused".into()]);
    }
    seen.push(format!(
        "{:?}",
        Identity::parse(&who).map_err(|e| e.to_string())?
    ));
    tls.write_all(Identity::Server.line().as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let request = Message::Request(Request {
        id: "IEchoService::SayHello[1] / a".into(),
        activity_id: Guid::random(),
        endpoint: Doc(vec![(
            "BaseUri".into(),
            Bson::String("poll://fleet-1/".into()),
        )]),
        service: "IEchoService".into(),
        method: "SayHello".into(),
        params: vec![Bson::String("world".into())],
    });
    tls.write_all(&wire(Some(&request)))
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    match message(&mut tls, &mut buf).await? {
        Some(Message::Response(r)) => seen.push(format!("response {} {:?}", r.id, r.result)),
        other => return Err(format!("expected a response, got {other:?}")),
    }
    // The subscriber's NEXT may already be in the buffer behind the message.
    let mut rest = tls;
    let next = if buf.is_empty() {
        line(&mut rest).await.map_err(|e| e.to_string())?
    } else {
        let mut chained = (&buf[..]).chain(&mut rest);
        line(&mut chained).await.map_err(|e| e.to_string())?
    };
    seen.push(next);
    rest.write_all(Control::Proceed.line().as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // No more work: the null message.
    rest.write_all(&wire(None))
        .await
        .map_err(|e| e.to_string())?;
    let next = line(&mut rest).await.map_err(|e| e.to_string())?;
    seen.push(next);
    rest.write_all(Control::Proceed.line().as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(seen)
}

/// The subscriber side: answers requests until the null message.
async fn subscribe(
    addr: std::net::SocketAddr,
    me: TlsIdentity,
    pinned: String,
) -> Result<Vec<String>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = TlsConnector::from(client_config(&me, &pinned)?);
    let name = rustls::pki_types::ServerName::try_from("octopus").map_err(|e| e.to_string())?;
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(PREAMBLE).await.map_err(|e| e.to_string())?;
    tls.write_all(
        Identity::Subscriber("poll://fleet-1/".into())
            .line()
            .as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    let server = line(&mut tls).await.map_err(|e| e.to_string())?;
    let _blank = line(&mut tls).await.map_err(|e| e.to_string())?;
    seen.push(format!(
        "{:?}",
        Identity::parse(&server).map_err(|e| e.to_string())?
    ));
    let mut buf = Vec::new();
    loop {
        let m = message(&mut tls, &mut buf).await?;
        match m {
            Some(Message::Request(r)) => {
                seen.push(format!("request {}.{}", r.service, r.method));
                let answer = Message::Response(Response {
                    id: r.id.clone(),
                    error: None,
                    result: Bson::String(format!("hello {:?}", r.params.first())),
                });
                tls.write_all(&wire(Some(&answer)))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            None => seen.push("null".into()),
            Some(other) => return Err(format!("unexpected {other:?}")),
        }
        tls.write_all(Control::Next.line().as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let reply = if buf.is_empty() {
            line(&mut tls).await.map_err(|e| e.to_string())?
        } else {
            return Err("bytes after a message where PROCEED was due".into());
        };
        seen.push(reply);
        if seen
            .last()
            .is_some_and(|_| seen.iter().any(|s| s == "null"))
        {
            return Ok(seen);
        }
    }
}

async fn pair(
    server_trusts_client: bool,
    client_pins_right: bool,
) -> (Result<Vec<String>, String>, Result<Vec<String>, String>) {
    let server = TlsIdentity::generate("octopus").unwrap();
    let client = TlsIdentity::generate("tentacle").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let trusted = if server_trusts_client {
        client.thumbprint.clone()
    } else {
        TlsIdentity::generate("someone-else").unwrap().thumbprint
    };
    let pinned = if client_pins_right {
        server.thumbprint.clone()
    } else {
        TlsIdentity::generate("impostor").unwrap().thumbprint
    };
    let s = tokio::spawn(serve(listener, server, trusted));
    let c = subscribe(addr, client, pinned).await;
    let s = timeout(LIMIT, s).await.expect("the listener ends").unwrap();
    (s, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_subscriber_and_a_listener_speak_halibut_over_mutual_tls() {
    let (server, client) = timeout(LIMIT, pair(true, true)).await.unwrap();
    let server = server.unwrap();
    let client = client.unwrap();
    assert_eq!(
        server,
        [
            "Subscriber(\"poll://fleet-1/\")",
            "response IEchoService::SayHello[1] / a String(\"hello Some(String(\\\"world\\\"))\")",
            "NEXT",
            "NEXT",
        ]
    );
    assert_eq!(
        client,
        [
            "Server",
            "request IEchoService.SayHello",
            "PROCEED",
            "null",
            "PROCEED"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pinned_thumbprint_or_an_untrusted_subscriber_ends_the_connection() {
    let (_, client) = timeout(LIMIT, pair(true, false)).await.unwrap();
    let e = client.unwrap_err();
    assert!(e.contains("thumbprint"), "{e}");
    let (server, client) = timeout(LIMIT, pair(false, true)).await.unwrap();
    assert_eq!(server.unwrap(), ["refused"]);
    assert!(
        client.is_err(),
        "the subscriber must see the connection end"
    );
}

#[test]
fn thumbprints_are_uppercase_sha1_hex_of_the_der() {
    let id = TlsIdentity::generate("tentacle").unwrap();
    assert_eq!(id.thumbprint.len(), 40);
    assert!(
        id.thumbprint
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_eq!(halibut::tls::thumbprint(&id.cert), id.thumbprint);
}
