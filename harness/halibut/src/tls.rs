//! TLS for Halibut's polling connections (docs/halibut.md, "TLS and
//! thumbprints"): self-signed identities, .NET thumbprints (SHA-1 of the
//! DER certificate, uppercase hex), a listener that accepts any client
//! certificate in the handshake and authorises its thumbprint afterwards,
//! and an initiator that trusts the server by its pinned thumbprint alone
//! (no chain, no host name), as Halibut does.
//!
//! One crypto provider (ring) is passed to every configuration, so nothing
//! depends on a process-wide default.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use sha1::{Digest, Sha1};

/// A certificate and its key.
pub struct TlsIdentity {
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    /// Its thumbprint.
    pub thumbprint: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never prints.
        write!(f, "TlsIdentity({})", self.thumbprint)
    }
}

impl TlsIdentity {
    /// A new self-signed identity (ECDSA P-256) named `name`.
    pub fn generate(name: &str) -> Result<Self, String> {
        let certified = rcgen::generate_simple_self_signed(vec![name.to_string()])
            .map_err(|e| format!("failed to make a certificate: {e}"))?;
        let cert = CertificateDer::from(certified.cert.der().to_vec());
        Ok(Self {
            thumbprint: thumbprint(&cert),
            cert,
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        })
    }

    /// The identity stored as DER, as the cluster keeps its one server
    /// certificate in the shared database.
    pub fn from_der(cert: Vec<u8>, key: Vec<u8>) -> Self {
        let cert = CertificateDer::from(cert);
        Self {
            thumbprint: thumbprint(&cert),
            cert,
            key: PrivatePkcs8KeyDer::from(key),
        }
    }

    /// The private key, PKCS#8 DER, for storing with the certificate.
    pub fn key_der(&self) -> &[u8] {
        self.key.secret_pkcs8_der()
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// .NET's `X509Certificate2.Thumbprint`: SHA-1 of the DER, uppercase hex.
pub fn thumbprint(der: &[u8]) -> String {
    use std::fmt::Write;
    Sha1::digest(der).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The listener's configuration: `id`'s certificate, and a client
/// certificate asked for but not judged in the handshake; the caller
/// authorises [`peer_thumbprint`] against its trust list after it. A
/// client without a certificate completes the handshake, as a browser does
/// against Halibut's listener, and gets the friendly page or nothing.
pub fn server_config(id: &TlsIdentity) -> Result<Arc<ServerConfig>, String> {
    let provider = provider();
    let verifier = Arc::new(AnyClient {
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![id.cert.clone()], id.key())
        .map_err(|e| format!("the server certificate is not usable: {e}"))?;
    Ok(Arc::new(config))
}

/// The initiator's configuration: `id`'s certificate, and the server
/// trusted if and only if its thumbprint is `pinned`.
pub fn client_config(id: &TlsIdentity, pinned: &str) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        thumbprint: Some(pinned.to_ascii_uppercase()),
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![id.cert.clone()], id.key())
        .map_err(|e| format!("the client certificate is not usable: {e}"))?;
    Ok(Arc::new(config))
}

/// An HTTPS client's configuration that trusts the one server certificate
/// with this thumbprint, without a client certificate: a target file's
/// pinned thumbprint.
pub fn pinned_server(thumbprint: &str) -> Result<ClientConfig, String> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        thumbprint: Some(thumbprint.to_ascii_uppercase()),
        algorithms: provider.signature_verification_algorithms,
    });
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// A probe's configuration: no client certificate, and any server
/// certificate accepted, so the probe can read which one is served (an LB
/// that terminates TLS serves its own).
pub fn probe_config() -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        thumbprint: None,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The thumbprint of the peer's certificate, after the handshake.
pub fn peer_thumbprint(conn: &rustls::CommonState) -> Option<String> {
    conn.peer_certificates()?.first().map(|c| thumbprint(c))
}

/// Accepts any client certificate with a valid signature.
#[derive(Debug)]
struct AnyClient {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClient {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Trusts the one server certificate with the pinned thumbprint, or any
/// certificate when nothing is pinned (probes only).
#[derive(Debug)]
struct Pinned {
    thumbprint: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = thumbprint(end_entity);
        match &self.thumbprint {
            Some(want) if *want != got => Err(rustls::Error::General(format!(
                "the server's certificate has thumbprint {got}, not the expected {want}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
