//! TLS and start-up rules of the relay: TLS 1.3 only, public-key pins (the
//! `pin` subcommand and what `--dev` prints agree with each other), reloading
//! the certificate without dropping connections, and no open relay outside
//! `--dev` unless the operator says `--open`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{TestRelay, relay_process};
use hyper::Method;
use safespaces_relay::test_support::client::{self, TestRelayClient};
use safespaces_relay::{Config, Relay};

const BIN: &str = env!("CARGO_BIN_EXE_safespaces-relay");

/// Writes a self-signed certificate for `key` named `cn` over the files.
fn write_cert(dir: &Path, key: &rcgen::KeyPair, cn: &str) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

fn production(dir: &Path) -> Config {
    let mut config = Config::with_defaults(dir.join("data"), "127.0.0.1:0".parse().unwrap());
    config.dev = false;
    config.cert = Some(dir.join("cert.pem"));
    config.key = Some(dir.join("key.pem"));
    config.access_token = Some("society-token".into());
    config.public_host = vec!["localhost".into(), "127.0.0.1".into()];
    config
}

fn pin_command(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("pin").args(args).output().unwrap()
}

#[tokio::test]
async fn a_tls12_only_client_is_refused() {
    let t = TestRelay::start().await;
    let tls12 = client::pinned_config_for(&t.relay.pin(), &[&rustls::version::TLS12]).unwrap();
    let err = client::connect_tls(t.addr(), tls12).await.unwrap_err();
    // The relay offers no TLS 1.2, so the handshake ends with its alert.
    assert!(
        err.to_string().contains("ProtocolVersion"),
        "expected a protocol_version alert, got: {err}"
    );
    // TLS 1.3 on the same relay works.
    let mut c = t.client().await;
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_and_keeps_established_connections() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    write_cert(dir.path(), &key, "first");
    let relay = Relay::start(production(dir.path())).await.unwrap();
    let pin = relay.pin();
    let tls = client::pinned_config(&pin).unwrap();
    let mut before = TestRelayClient::connect(relay.local_addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(
        before
            .send(Method::GET, "/healthz", &[], "")
            .await
            .unwrap()
            .status,
        200
    );

    // A renewal on the same key: a new certificate, the same pin.
    write_cert(dir.path(), &key, "renewed");
    assert_eq!(relay.reload_certificate().unwrap(), pin);
    let r = before.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(
        r.status, 200,
        "the connection from before the reload goes on"
    );
    let mut after = TestRelayClient::connect(relay.local_addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(
        after
            .send(Method::GET, "/healthz", &[], "")
            .await
            .unwrap()
            .status,
        200
    );

    // A broken file: refused, and the relay keeps the renewed certificate.
    std::fs::write(
        dir.path().join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage",
    )
    .unwrap();
    let err = relay.reload_certificate().unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    // A key that does not belong to the certificate: refused too.
    let other = rcgen::KeyPair::generate().unwrap();
    write_cert(dir.path(), &key, "mismatched");
    std::fs::write(dir.path().join("key.pem"), other.serialize_pem()).unwrap();
    let err = relay.reload_certificate().unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    assert_eq!(relay.pin(), pin);
    let mut still = TestRelayClient::connect(relay.local_addr(), tls)
        .await
        .unwrap();
    assert_eq!(
        still
            .send(Method::GET, "/healthz", &[], "")
            .await
            .unwrap()
            .status,
        200
    );
    relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_open_relay_outside_dev_starts_only_with_open() {
    let dir = tempfile::tempdir().unwrap();
    write_cert(dir.path(), &rcgen::KeyPair::generate().unwrap(), "relay");
    let mut config = production(dir.path());
    config.access_token = None;
    let err = Relay::start(config.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains("--access-token") && err.contains("--open"),
        "{err}"
    );
    config.open = true;
    Relay::start(config.clone())
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    // A token no client could send is refused rather than silently useless.
    config.open = false;
    config.access_token = Some("two words".into());
    let err = Relay::start(config).await.unwrap_err().to_string();
    assert!(err.contains("printable ASCII"), "{err}");
}

#[test]
fn the_binary_refuses_to_start_open_and_names_both_options() {
    let dir = tempfile::tempdir().unwrap();
    write_cert(dir.path(), &rcgen::KeyPair::generate().unwrap(), "relay");
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--cert")
        .arg(dir.path().join("cert.pem"))
        .arg("--key")
        .arg(dir.path().join("key.pem"))
        .env_remove("SAFESPACES_RELAY_ACCESS_TOKEN")
        .env_remove("SAFESPACES_RELAY_OPEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--access-token") && stderr.contains("--open"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never announced itself");
}

#[test]
fn the_pin_subcommand_prints_the_pin_of_a_certificate_or_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    write_cert(dir.path(), &key, "relay");
    let by_cert = pin_command(&["--cert", dir.path().join("cert.pem").to_str().unwrap()]);
    assert!(by_cert.status.success(), "{by_cert:?}");
    let pin = String::from_utf8(by_cert.stdout).unwrap();
    let pin = pin.trim_end();
    assert_eq!(pin.len(), 64);
    use rcgen::PublicKeyData as _;
    assert_eq!(
        pin,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            key.subject_public_key_info()
        ))
    );
    let by_key = pin_command(&["--key", dir.path().join("key.pem").to_str().unwrap()]);
    assert!(by_key.status.success(), "{by_key:?}");
    assert_eq!(String::from_utf8(by_key.stdout).unwrap().trim_end(), pin);

    // A missing file is a clear error, not a panic; no file is a usage error.
    let missing = pin_command(&["--cert", "/nonexistent/cert.pem"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/cert.pem"));
    assert_eq!(pin_command(&[]).status.code(), Some(2));
}

#[test]
fn dev_mode_prints_the_pin_the_pin_subcommand_gives_for_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_process(dir.path()).start();
    let cert = dir.path().join(safespaces_relay::tls::DEV_CERT_FILE);
    let out = pin_command(&["--cert", cert.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        relay.pin()
    );
}
