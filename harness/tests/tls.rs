//! HTTPS targets are trusted as the target file says: one pinned
//! thumbprint, a CA file, the system's roots, or (only when asked)
//! anything. A server with a certificate from a private CA is accepted
//! through that CA's file, its thumbprint or `insecure`, and refused by the
//! system's roots, another CA and a wrong thumbprint.

use std::sync::Arc;
use std::time::Duration;

use harness::client::{ApiClient, ApiKey};
use harness::target::Trust;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use reqwest::Method;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn new_ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// An HTTPS server on loopback that answers every request with `{}`.
async fn server(cert: CertificateDer<'static>, key: PrivatePkcs8KeyDer<'static>) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) = timeout(LIMIT, acceptor.accept(tcp)).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = timeout(LIMIT, tls.read(&mut buf)).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_are_trusted_as_the_target_file_says() {
    timeout(LIMIT, async {
        let ca = new_ca();
        let other_ca = new_ca();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let thumbprint = halibut::tls::thumbprint(cert.der());
        let port = server(
            cert.der().clone(),
            PrivatePkcs8KeyDer::from(key.serialize_der()),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        let other_file = dir.path().join("other.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        std::fs::write(&other_file, other_ca.pem()).unwrap();
        let cases = [
            (Trust::CaFile(ca_file), true),
            (Trust::Thumbprint(thumbprint), true),
            (Trust::Insecure, true),
            (Trust::System, false),
            (Trust::CaFile(other_file), false),
            (Trust::Thumbprint("00".repeat(20)), false),
        ];
        for (trust, accepted) in cases {
            let c = ApiClient::with_trust(
                &format!("https://127.0.0.1:{port}"),
                ApiKey::new("API-TEST".into()),
                &trust,
            )
            .unwrap();
            let r = c
                .call(Method::GET, "/api", None, Duration::from_secs(5))
                .await;
            assert_eq!(
                r.as_ref().map(|(s, _)| *s).ok(),
                accepted.then_some(200),
                "{trust:?}: {:?}",
                r.err().map(|e| e.message)
            );
            // A refusal says it was the certificate, not a dead server.
            if let Err(e) = r {
                assert_eq!(e.kind, "tls", "{trust:?}: {}", e.message);
                assert!(
                    e.message.contains("certificate"),
                    "{trust:?}: {}",
                    e.message
                );
            }
        }
        // A CA file with no certificate is an error at once.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = ApiClient::with_trust("https://x", ApiKey::new("k".into()), &Trust::CaFile(empty))
            .err()
            .unwrap();
        assert!(
            e.contains("no certificate") || e.contains("no usable"),
            "{e}"
        );
    })
    .await
    .expect("the test finishes in time");
}
