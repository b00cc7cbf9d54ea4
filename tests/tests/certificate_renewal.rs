//! A relay run as in production: certificate files, an access token, and a
//! certificate renewed and re-keyed under running clients by writing new
//! files over the old ones and sending the relay process SIGHUP, as a
//! certbot deploy hook does.
//!
//! - A renewal on the same key keeps the SPKI pin: a pinned client keeps
//!   syncing, new handshakes get the new certificate, and a WebSocket
//!   opened before the reload is still the one delivering blobs after it.
//! - A key change to a key whose pin was shipped in advance: a client
//!   holding both pins goes on; one holding only the old pin is refused
//!   with a pin mismatch naming both keys.
//! - A broken file on reload is refused and the relay keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{bounded, new_mailbox, quick_retry};
use futures_util::{SinkExt as _, StreamExt as _};
use rcgen::{KeyPair, PublicKeyData as _};
use safespaces_core::relay::{RelayConfig, RelayError, RelayTransport, SubscriptionEvent, Trust};
use safespaces_e2e::RelayProcess;
use safespaces_relay::test_support::client::{
    Subscription, connect_ws, pinned_config, subscribe_frame,
};
use safespaces_wire::subscription::ServerFrame;
use sha2::{Digest as _, Sha256};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "society-token";

/// Writes a self-signed certificate for `key`, with `name` as its subject,
/// over `cert.pem` and `key.pem` in `dir`; returns the certificate's PEM.
fn write_cert(dir: &Path, key: &KeyPair, name: &str) -> String {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(key).unwrap().pem();
    std::fs::write(dir.join("cert.pem"), &pem).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    pem
}

/// The SPKI pin of `key`, computed independently of the relay and core.
fn spki_pin(key: &KeyPair) -> String {
    hex::encode(Sha256::digest(key.subject_public_key_info()))
}

fn with_trust(relay: &RelayProcess, trust: Trust) -> RelayTransport {
    RelayTransport::new(
        RelayConfig::new(&relay.url(), trust)
            .unwrap()
            .with_access_token(TOKEN)
            .unwrap()
            .with_retry(quick_retry())
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(5)),
    )
    .unwrap()
}

fn pinned(relay: &RelayProcess, pins: &[&str]) -> RelayTransport {
    with_trust(relay, Trust::pins_from_hex(pins).unwrap())
}

fn trusting_ca(relay: &RelayProcess, pem: &str) -> RelayTransport {
    with_trust(relay, Trust::roots_from_pem(pem.as_bytes()).unwrap())
}

async fn next_frame(ws: &mut Subscription) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the WebSocket is still open")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn next_blob(live: &mut safespaces_core::relay::Subscription) -> (u64, Vec<u8>) {
    match live.next().await {
        Some(SubscriptionEvent::Blob { seq, data, .. }) => (seq, data),
        other => panic!("expected a blob, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spki_pins_survive_a_renewal_and_a_key_change_announced_in_advance() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first_key = KeyPair::generate().unwrap();
    let first_pem = write_cert(dir.path(), &first_key, "relay, first certificate");
    let mut relay = RelayProcess::start_production(
        &dir.path().join("data"),
        "127.0.0.1:0".parse().unwrap(),
        &cert,
        &key,
        &["--access-token", TOKEN],
    );
    let first_pin = spki_pin(&first_key);
    assert_eq!(relay.pin(), first_pin, "the relay announces the SPKI pin");
    // The operator prepares the next key and ships its pin with the
    // current one before switching.
    let next_key = KeyPair::generate().unwrap();
    let next_pin = spki_pin(&next_key);

    let current = pinned(&relay, &[&first_pin]);
    // Used only after the key change, so their first handshake is with the
    // new key (pooled connections from before would hide that).
    let rolling = pinned(&relay, &[&first_pin, &next_pin]);
    let stale = pinned(&relay, &[&first_pin]);

    let mb = new_mailbox();
    let (mut live, mut ws) = bounded(async {
        assert!(current.create_mailbox(&mb).await.unwrap());
        assert_eq!(current.append(&mb, b"before".to_vec()).await.unwrap(), 1);
        let mut live = current.subscribe();
        live.add(mb.clone(), 0);
        assert_eq!(next_blob(&mut live).await, (1, b"before".to_vec()));
        // A WebSocket that, unlike the core subscription, never
        // reconnects: if a reload dropped it, the test would see it closed.
        let mut ws = connect_ws(relay.addr(), pinned_config(&first_pin).unwrap())
            .await
            .unwrap();
        ws.send(Message::text(subscribe_frame(
            mb.signing_key(),
            &mb.id(),
            1,
        )))
        .await
        .unwrap();
        assert!(matches!(
            next_frame(&mut ws).await,
            ServerFrame::Subscribed { last_seq: 1, .. }
        ));
        (live, ws)
    })
    .await;

    // Renewal: a new certificate on the same key, written over the files.
    let renewed_pem = write_cert(dir.path(), &first_key, "relay, renewed certificate");
    assert_ne!(renewed_pem, first_pem);
    assert_eq!(relay.hangup().as_deref(), Some(first_pin.as_str()));
    bounded(async {
        // New handshakes get the renewed certificate: a client whose only
        // CA is the renewed certificate gets through, one whose only CA is
        // the first certificate does not.
        trusting_ca(&relay, &renewed_pem).health().await.unwrap();
        let err = trusting_ca(&relay, &first_pem).health().await.unwrap_err();
        assert!(matches!(err, RelayError::Tls(_)), "{err:?}");
        // A fresh client with the pin connects anew, and the client from
        // before keeps syncing.
        pinned(&relay, &[&first_pin]).health().await.unwrap();
        assert_eq!(current.append(&mb, b"renewed".to_vec()).await.unwrap(), 2);
        assert_eq!(next_blob(&mut live).await, (2, b"renewed".to_vec()));
        // The WebSocket from before the reload delivers it: not dropped.
        assert_eq!(
            next_frame(&mut ws).await,
            ServerFrame::Blob {
                mailbox: mb.id(),
                seq: 2,
                data: b"renewed".to_vec()
            }
        );
        assert_eq!(current.read_all(&mb, 0).await.unwrap().blobs.len(), 2);
    })
    .await;

    // Key change to the key announced in advance.
    write_cert(dir.path(), &next_key, "relay, next key");
    assert_eq!(relay.hangup().as_deref(), Some(next_pin.as_str()));
    bounded(async {
        assert_eq!(rolling.append(&mb, b"new key".to_vec()).await.unwrap(), 3);
        let page = rolling.read_all(&mb, 0).await.unwrap();
        assert_eq!(page.blobs.len(), 3);
        // Established connections outlive even a key change.
        assert_eq!(next_blob(&mut live).await, (3, b"new key".to_vec()));
        assert!(matches!(
            next_frame(&mut ws).await,
            ServerFrame::Blob { seq: 3, .. }
        ));

        // Only the old pin: refused, naming what it expected and got.
        let err = stale.health().await.unwrap_err();
        match &err {
            RelayError::PinMismatch {
                expected,
                presented,
            } => {
                let expected: Vec<String> = expected.iter().map(|p| p.to_hex()).collect();
                assert_eq!(expected, std::slice::from_ref(&first_pin));
                assert_eq!(presented.to_hex(), next_pin);
            }
            other => panic!("expected a pin mismatch, got {other:?}"),
        }
        assert!(!err.is_transient(), "a wrong key is not retried");
        let message = err.to_string();
        assert!(
            message.contains("does not match the pin") && message.contains(&next_pin),
            "{message}"
        );
    })
    .await;

    // A broken certificate file: refused, and the relay keeps serving the
    // key it has.
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert_eq!(relay.hangup(), None);
    assert_eq!(relay.pin(), next_pin);
    bounded(async {
        pinned(&relay, &[&next_pin]).health().await.unwrap();
        assert_eq!(rolling.append(&mb, b"still".to_vec()).await.unwrap(), 4);
    })
    .await;
}
