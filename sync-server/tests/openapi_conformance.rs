//! The OpenAPI document (`sync-server/openapi.json`, served at
//! `/openapi.json`) against the real relay, so the two cannot drift apart.
//!
//! The test drives a real relay over real TLS through every documented
//! operation, producing every documented response it can (successes,
//! refusals, quotas, the rate limit, readiness failing), and checks each
//! real response against the document: its status must be one the
//! operation documents, its content type the documented one, and its JSON
//! body valid against the documented schema (JSON Schema 2020-12, which
//! OpenAPI 3.1 uses, checked by the `jsonschema` crate). At the end every
//! documented operation must have been exercised and every documented
//! status observed, except the few listed in `NOT_PRODUCED` with the reason.
//! The document's error-code enum must also be exactly the codes the relay
//! has.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestRelay, key_and_mailbox, random_key, random_mailbox};
use futures_util::{SinkExt as _, StreamExt as _};
use hyper::Method;
use safespaces_relay::routes::ops::OPENAPI;
use safespaces_relay::test_support::client::{
    Reply, TestRelayClient, connect_ws, get_plain, pinned_config, proof_headers, subscribe_frame,
};
use safespaces_wire::auth::sign_now;
use safespaces_wire::{ErrorCode, Operation};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Documented responses this test does not produce, and why.
const NOT_PRODUCED: &[(&str, &str, &str, &str)] = &[
    // (path, method, status, why)
    (
        "*",
        "*",
        "500",
        "a storage failure inside an operation: needs a broken disk or database mid-request",
    ),
    (
        "*",
        "*",
        "503",
        "shutting_down: only requests in flight while the store closes get it",
    ),
    (
        "*",
        "*",
        "408",
        "request_timeout: needs a body trickled for longer than the transfer grace (10 s); produced in tests/outsider.rs",
    ),
    (
        "/v1/dropboxes/{id}",
        "put",
        "401",
        "a vouch that does not verify: produced in tests/outsider.rs and the vouch vectors",
    ),
];

fn not_produced(path: &str, method: &str, status: &str) -> bool {
    NOT_PRODUCED.iter().any(|(p, m, s, _)| {
        (*p == "*" || *p == path) && (*m == "*" || *m == method) && *s == status
    })
}

/// The document, and what the test saw.
struct Doc {
    doc: Value,
    /// (path template, method) → statuses observed.
    seen: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Doc {
    fn load() -> Self {
        Self {
            doc: serde_json::from_str(OPENAPI).expect("openapi.json is JSON"),
            seen: BTreeMap::new(),
        }
    }

    /// Follows a local `$ref` (`#/components/…`) if `v` is one.
    fn deref<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.strip_prefix('#').expect("a local $ref"))
                .unwrap_or_else(|| panic!("dangling $ref {r}")),
            None => v,
        }
    }

    /// Checks one real response of `method path` against the document.
    fn check(&mut self, path: &str, method: &str, r: &Reply) {
        let what = format!("{} {path} -> {}", method.to_uppercase(), r.status);
        let op = self
            .doc
            .pointer(&format!("/paths/{}/{method}", path.replace('/', "~1")))
            .unwrap_or_else(|| panic!("{what}: the operation is not documented"));
        let status = r.status.to_string();
        let response = op["responses"]
            .get(&status)
            .map(|resp| self.deref(resp))
            .unwrap_or_else(|| {
                panic!(
                    "{what}: status not documented (body {:?})",
                    String::from_utf8_lossy(&r.body)
                )
            });
        match response.get("content").and_then(Value::as_object) {
            None => assert!(
                r.body.is_empty() || r.status == 101,
                "{what}: documented without content, got a body"
            ),
            Some(content) => {
                let got = r.content_type.as_deref().unwrap_or("");
                let (media, spec) = content
                    .iter()
                    .find(|(media, _)| got.split(';').next() == Some(media.as_str()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{what}: content type {got:?}, documented {:?}",
                            content.keys()
                        )
                    });
                if media == "application/json" {
                    let body: Value = serde_json::from_slice(&r.body)
                        .unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
                    let schema = spec
                        .get("schema")
                        .unwrap_or_else(|| panic!("{what}: JSON content without a schema"));
                    self.validate(&what, schema, &body);
                }
            }
        }
        self.seen
            .entry((path.to_owned(), method.to_owned()))
            .or_default()
            .insert(status);
    }

    /// Validates `body` against `schema`, whose `$ref`s point into the document.
    fn validate(&self, what: &str, schema: &Value, body: &Value) {
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
        });
        for (k, v) in schema.as_object().unwrap() {
            root[k] = v.clone();
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the documented schema is not valid: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: {body} does not match the schema: {errors:#?}"
        );
    }

    /// Every documented operation exercised, every documented status seen.
    fn assert_covered(&self) {
        let mut missing = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let seen = self.seen.get(&(path.clone(), method.clone()));
                for status in op["responses"].as_object().unwrap().keys() {
                    let observed = seen.is_some_and(|s| s.contains(status));
                    if !observed && !not_produced(path, method, status) {
                        missing.push(format!("{} {path} {status}", method.to_uppercase()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "documented but never produced by this test (produce them, or list them in NOT_PRODUCED with the reason): {missing:#?}"
        );
    }
}

/// A request signed as the document says, for `op` on the mailbox in `path`.
async fn signed(
    c: &mut TestRelayClient,
    method: Method,
    path: &str,
    key: &ed25519_dalek::SigningKey,
    op: Operation,
    body: Vec<u8>,
    extra: &[(&str, String)],
) -> Reply {
    let mailbox = path.split('/').nth(3).unwrap().parse().unwrap();
    let proof = sign_now(
        key,
        safespaces_relay::test_support::client::HOST,
        op,
        &mailbox,
        &body,
    );
    let mut headers: Vec<(&str, String)> = proof_headers(&proof);
    headers.extend(extra.iter().cloned());
    c.send(method, path, &headers, body).await.unwrap()
}

const TOKEN: &str = "operator-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_as_documented() {
    let mut d = Doc::load();
    let t = TestRelay::start_with(|c| {
        c.access_token = Some(TOKEN.into());
        c.max_blob_bytes = 1024;
        c.max_blobs_per_mailbox = 3;
        c.max_dropbox_bytes = 64;
        c.max_dropboxes = 2;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut c = t.client().await;
    let bearer = [("authorization", format!("Bearer {TOKEN}"))];

    // --- operator endpoints
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let r = c.send(Method::GET, path, &[], "").await.unwrap();
        d.check(path, "get", &r);
    }
    let served = c.send(Method::GET, "/openapi.json", &[], "").await.unwrap();
    assert_eq!(served.body, OPENAPI.as_bytes(), "served verbatim");
    let r = get_plain(t.relay.metrics_addr().unwrap(), "/metrics")
        .await
        .unwrap();
    d.check("/metrics", "get", &r);

    // --- create
    let (key, id) = key_and_mailbox();
    let admin = safespaces_relay::test_support::client::admin_key_for(&key);
    let p = format!("/v1/mailboxes/{}", id.to_hex());
    let create_body = json!({
        "verifying_key": hex::encode(key.verifying_key().as_bytes()),
        "admin_key": hex::encode(admin.verifying_key().as_bytes()),
    })
    .to_string();
    let create = "/v1/mailboxes/{id}";
    for (extra, want) in [(&[][..], 403), (&bearer[..], 201), (&bearer[..], 200)] {
        let r = signed(
            &mut c,
            Method::POST,
            &p,
            &key,
            Operation::Create,
            create_body.clone().into(),
            extra,
        )
        .await;
        assert_eq!(r.status, want);
        d.check(create, "post", &r);
    }
    let other = random_key();
    let other_body = json!({
        "verifying_key": hex::encode(other.verifying_key().as_bytes()),
        "admin_key": hex::encode(admin.verifying_key().as_bytes()),
    })
    .to_string();
    let r = signed(
        &mut c,
        Method::POST,
        &p,
        &other,
        Operation::Create,
        other_body.into(),
        &bearer,
    )
    .await;
    assert_eq!(r.status, 400, "the id names other keys");
    d.check(create, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &p,
        &key,
        Operation::Create,
        b"{not json".to_vec(),
        &bearer,
    )
    .await;
    assert_eq!(r.status, 400);
    d.check(create, "post", &r);
    let r = c
        .send(Method::POST, &p, &bearer, create_body.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 401, "no proof");
    d.check(create, "post", &r);

    // --- append
    let blobs = "/v1/mailboxes/{id}/blobs";
    let pb = format!("{p}/blobs");
    for n in 1..=3u8 {
        let r = signed(
            &mut c,
            Method::POST,
            &pb,
            &key,
            Operation::Append,
            vec![n; 10],
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
        d.check(blobs, "post", &r);
    }
    let r = signed(
        &mut c,
        Method::POST,
        &pb,
        &key,
        Operation::Append,
        vec![4; 10],
        &[],
    )
    .await;
    assert_eq!(r.status, 507, "the blob quota");
    d.check(blobs, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &pb,
        &key,
        Operation::Append,
        vec![0; 2048],
        &[],
    )
    .await;
    assert_eq!(r.status, 413);
    d.check(blobs, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &pb,
        &random_key(),
        Operation::Append,
        vec![1],
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    d.check(blobs, "post", &r);
    let unknown = random_mailbox();
    let pu = format!("/v1/mailboxes/{}", unknown.to_hex());
    let r = signed(
        &mut c,
        Method::POST,
        &format!("{pu}/blobs"),
        &key,
        Operation::Append,
        vec![1],
        &[],
    )
    .await;
    d.check(blobs, "post", &r);
    let r = c
        .send(Method::POST, "/v1/mailboxes/nothex/blobs", &[], "x")
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    d.check(blobs, "post", &r);

    // --- read
    let read = "/v1/mailboxes/{id}/read";
    let pr = format!("{p}/read");
    for body in [
        json!({"after": 0}),
        json!({"after": 1, "limit": 1}),
        json!({"after": 0, "limit": null}),
    ] {
        let r = signed(
            &mut c,
            Method::POST,
            &pr,
            &key,
            Operation::Read,
            body.to_string().into(),
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
        d.check(read, "post", &r);
    }
    let r = signed(
        &mut c,
        Method::POST,
        &pr,
        &key,
        Operation::Read,
        b"[]".to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    d.check(read, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &pr,
        &random_key(),
        Operation::Read,
        b"{\"after\":0}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    d.check(read, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &format!("{pu}/read"),
        &key,
        Operation::Read,
        b"{\"after\":0}".to_vec(),
        &[],
    )
    .await;
    d.check(read, "post", &r);

    // --- compact
    let compact = "/v1/mailboxes/{id}/compact";
    let pc = format!("{p}/compact");
    let r = signed(
        &mut c,
        Method::POST,
        &pc,
        &admin,
        Operation::Compact,
        json!({"snapshot_seq": 3, "through_seq": 2})
            .to_string()
            .into(),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    d.check(compact, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &pc,
        &admin,
        Operation::Compact,
        json!({"snapshot_seq": 9, "through_seq": 8})
            .to_string()
            .into(),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "no such snapshot");
    d.check(compact, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &pc,
        &random_key(),
        Operation::Compact,
        json!({"snapshot_seq": 3, "through_seq": 2})
            .to_string()
            .into(),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    d.check(compact, "post", &r);
    let r = signed(
        &mut c,
        Method::POST,
        &format!("{pu}/compact"),
        &admin,
        Operation::Compact,
        json!({"snapshot_seq": 3, "through_seq": 2})
            .to_string()
            .into(),
        &[],
    )
    .await;
    d.check(compact, "post", &r);

    // --- subscribe: a real WebSocket (every frame either way checked
    // against the documented frame schemas), and a plain GET
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    d.seen
        .entry(("/v1/subscribe".into(), "get".into()))
        .or_default()
        .insert("101".into());
    let unsubscribe = json!({"type": "unsubscribe", "mailbox": id.to_hex()}).to_string();
    let bad_signature = subscribe_frame(&random_key(), &unknown, 0);
    let mut seen_types = BTreeSet::new();
    for (frame, replies) in [
        (r#"{"type":"ping"}"#.to_owned(), 1),
        // `subscribed`, then the one blob left after the compaction
        (subscribe_frame(&key, &id, 0), 2),
        (unsubscribe, 1),
        (bad_signature, 1),
        (r#"{"type":"shout"}"#.to_owned(), 1),
    ] {
        let sent: Value = serde_json::from_str(&frame).unwrap_or(Value::Null);
        if sent["type"] != "shout" {
            d.validate(
                "client frame",
                &json!({"$ref": "#/components/schemas/ClientFrame"}),
                &sent,
            );
        }
        ws.send(Message::text(frame)).await.unwrap();
        for _ in 0..replies {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .expect("a reply frame")
                .unwrap()
                .unwrap();
            let got: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            d.validate(
                "server frame",
                &json!({"$ref": "#/components/schemas/ServerFrame"}),
                &got,
            );
            seen_types.insert(got["type"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        seen_types,
        ["blob", "error", "pong", "subscribed", "unsubscribed"]
            .map(String::from)
            .into(),
        "every documented server frame was seen"
    );
    drop(ws);
    let r = c.send(Method::GET, "/v1/subscribe", &[], "").await.unwrap();
    d.check("/v1/subscribe", "get", &r);

    // --- delete
    let r = signed(
        &mut c,
        Method::DELETE,
        &p,
        &random_key(),
        Operation::Delete,
        Vec::new(),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    d.check(create, "delete", &r);
    let r = signed(
        &mut c,
        Method::DELETE,
        &p,
        &admin,
        Operation::Delete,
        Vec::new(),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    d.check(create, "delete", &r);
    // The tombstone: every operation on the id answers 410.
    for (method, path, signer, op, body, route, m) in [
        (
            Method::DELETE,
            p.clone(),
            &admin,
            Operation::Delete,
            Vec::new(),
            create,
            "delete",
        ),
        (
            Method::POST,
            p.clone(),
            &key,
            Operation::Create,
            create_body.clone().into_bytes(),
            create,
            "post",
        ),
        (
            Method::POST,
            pb.clone(),
            &key,
            Operation::Append,
            vec![1],
            blobs,
            "post",
        ),
        (
            Method::POST,
            pr.clone(),
            &key,
            Operation::Read,
            b"{\"after\":0}".to_vec(),
            read,
            "post",
        ),
        (
            Method::POST,
            pc.clone(),
            &admin,
            Operation::Compact,
            json!({"snapshot_seq": 3, "through_seq": 2})
                .to_string()
                .into_bytes(),
            compact,
            "post",
        ),
    ] {
        let r = signed(&mut c, method, &path, signer, op, body, &bearer).await;
        assert_eq!(r.status, 410, "{route} {m}");
        d.check(route, m, &r);
    }
    let r = signed(
        &mut c,
        Method::DELETE,
        &pu,
        &admin,
        Operation::Delete,
        Vec::new(),
        &[],
    )
    .await;
    d.check(create, "delete", &r);
    let r = c
        .send(Method::DELETE, "/v1/mailboxes/nothex", &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    d.check(create, "delete", &r);

    // --- drop-boxes (at most two held, 64 bytes each)
    let dropbox = "/v1/dropboxes/{id}";
    let claim = "/v1/dropboxes/{id}/claim";
    let (a, b, z) = ("a1".repeat(32), "b2".repeat(32), "c3".repeat(32));
    for (path, extra, body, want) in [
        (format!("/v1/dropboxes/{a}"), &[][..], "invite", 403),
        (
            format!("/v1/dropboxes/{a}?ttl_secs=60"),
            &bearer[..],
            "invite",
            201,
        ),
        (format!("/v1/dropboxes/{a}"), &bearer[..], "again", 409),
        (
            format!("/v1/dropboxes/{b}?ttl_secs=0"),
            &bearer[..],
            "invite",
            400,
        ),
        (
            format!("/v1/dropboxes/{b}"),
            &bearer[..],
            &"x".repeat(65),
            413,
        ),
        (format!("/v1/dropboxes/{b}"), &bearer[..], "invite", 201),
        (format!("/v1/dropboxes/{z}"), &bearer[..], "invite", 507),
        (
            "/v1/dropboxes/nothex".to_owned(),
            &bearer[..],
            "invite",
            400,
        ),
    ] {
        let r = c
            .send(Method::PUT, &path, extra, body.to_owned())
            .await
            .unwrap();
        assert_eq!(r.status, want, "PUT {path}");
        d.check(dropbox, "put", &r);
    }
    for (id, want) in [(&a, 200), (&z, 404), (&"nothex".to_owned(), 400)] {
        let r = c
            .send(Method::GET, &format!("/v1/dropboxes/{id}"), &[], "")
            .await
            .unwrap();
        assert_eq!(r.status, want);
        d.check(dropbox, "get", &r);
    }
    for (id, want) in [(&a, 200), (&a, 404), (&"nothex".to_owned(), 400)] {
        let r = c
            .send(Method::POST, &format!("/v1/dropboxes/{id}/claim"), &[], "")
            .await
            .unwrap();
        assert_eq!(r.status, want);
        d.check(claim, "post", &r);
    }

    // --- readiness failing: the database file disappears under the relay
    let db = t.dir.path().join(safespaces_relay::server::DB_FILE);
    for suffix in ["", "-wal", "-shm"] {
        let mut f = db.clone().into_os_string();
        f.push(suffix);
        let _ = std::fs::remove_file(f);
    }
    let r = c.send(Method::GET, "/readyz", &[], "").await.unwrap();
    assert_eq!(r.status, 503);
    d.check("/readyz", "get", &r);
    drop(c);
    t.relay.shutdown().await.unwrap();

    // --- the rate limit: one request per connection, then every operation is refused
    let t = TestRelay::start_with(|c| {
        c.rate_per_conn = 0.0;
        c.burst_per_conn = 1.0;
    })
    .await;
    let mut c = TestRelayClient::connect(t.addr(), pinned_config(&t.relay.pin()).unwrap())
        .await
        .unwrap();
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    let hex = id.to_hex();
    let drop_id = "d4".repeat(32);
    for (method, path, template, verb) in [
        (Method::POST, format!("/v1/mailboxes/{hex}"), create, "post"),
        (
            Method::DELETE,
            format!("/v1/mailboxes/{hex}"),
            create,
            "delete",
        ),
        (
            Method::POST,
            format!("/v1/mailboxes/{hex}/blobs"),
            blobs,
            "post",
        ),
        (
            Method::POST,
            format!("/v1/mailboxes/{hex}/read"),
            read,
            "post",
        ),
        (
            Method::POST,
            format!("/v1/mailboxes/{hex}/compact"),
            compact,
            "post",
        ),
        (
            Method::PUT,
            format!("/v1/dropboxes/{drop_id}"),
            dropbox,
            "put",
        ),
        (
            Method::GET,
            format!("/v1/dropboxes/{drop_id}"),
            dropbox,
            "get",
        ),
        (
            Method::POST,
            format!("/v1/dropboxes/{drop_id}/claim"),
            claim,
            "post",
        ),
        (
            Method::GET,
            "/v1/subscribe".to_owned(),
            "/v1/subscribe",
            "get",
        ),
    ] {
        let r = c.send(method, &path, &[], "").await.unwrap();
        assert_eq!(r.status, 429, "{path}");
        d.check(template, verb, &r);
    }
    drop(c);
    t.relay.shutdown().await.unwrap();

    d.assert_covered();
}

#[test]
fn the_documented_error_codes_are_exactly_the_relays() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let documented: BTreeSet<&str> =
        doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    let relay: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, relay, "the Error schema's code enum");
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
    }
}
