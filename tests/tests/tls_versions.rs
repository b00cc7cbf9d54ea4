//! The core relay client speaks TLS 1.3 only: a server that offers only
//! TLS 1.2, with the pinned key and a valid certificate, is refused at the
//! handshake. (That the relay refuses TLS 1.2 clients is in the relay's
//! own `tests/tls.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{bounded, quick_retry};
use rcgen::PublicKeyData as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use safespaces_core::relay::{RelayConfig, RelayError, RelayTransport};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A real rustls server on loopback that offers only `version`; returns its
/// address and the SPKI pin of its key.
async fn server_offering(
    version: &'static rustls::SupportedProtocolVersion,
) -> (std::net::SocketAddr, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pin = hex::encode(Sha256::digest(key.subject_public_key_info()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    (addr, pin)
}

fn client(addr: std::net::SocketAddr, pin: &str) -> RelayTransport {
    RelayTransport::new(
        RelayConfig::pinned(&format!("https://{addr}"), pin)
            .unwrap()
            .with_retry(quick_retry())
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(2)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls12_only_server_is_refused_even_with_the_pinned_key() {
    bounded(async {
        let (addr, pin) = server_offering(&rustls::version::TLS12).await;
        let err = client(addr, &pin).health().await.unwrap_err();
        match &err {
            RelayError::Tls(why) => assert!(
                why.to_lowercase().contains("version"),
                "expected a protocol version failure, got: {why}"
            ),
            other => panic!("expected a TLS failure, got {other:?}"),
        }
        assert!(!err.is_transient(), "an old server is not retried");

        // The same setup with TLS 1.3 gets past the handshake: the failure
        // is then that the test server speaks no HTTP, not TLS.
        let (addr, pin) = server_offering(&rustls::version::TLS13).await;
        let err = client(addr, &pin).health().await.unwrap_err();
        assert!(!matches!(err, RelayError::Tls(_)), "{err:?}");
    })
    .await;
}
