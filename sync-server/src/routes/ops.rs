//! Operator endpoints: health, metrics, the API description.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::app::AppState;

/// The OpenAPI 3.1 description of the relay, served verbatim.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`: `{"status":"ok"}` while the relay serves.
pub async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

/// How long `/readyz` waits for the store before answering 503.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /readyz`: 200 `{"status":"ready"}` when the store answered a real
/// query just now; 503 `{"status":"unavailable"}` when it did not (within
/// three seconds) and `{"status":"shutting_down"}` once shutdown started,
/// so a load balancer stops sending clients to this node. The reason goes
/// to the operator's log, not to the prober.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let status = if *app.shutdown.borrow() {
        Err("shutting_down")
    } else {
        match tokio::time::timeout(READY_TIMEOUT, app.store.ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: the store failed its check");
                Err("unavailable")
            }
            Err(_) => {
                tracing::warn!("not ready: the store did not answer its check in time");
                Err("unavailable")
            }
        }
    };
    let (code, body) = match status {
        Ok(()) => (StatusCode::OK, r#"{"status":"ready"}"#.to_owned()),
        Err(s) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(r#"{{"status":"{s}"}}"#),
        ),
    };
    (code, [(header::CONTENT_TYPE, "application/json")], body)
}

/// `GET /metrics` (on the `--metrics-listen` listener only): Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let nonces = app.nonces.len() as u64;
    let delivered = app.hub.delivered();
    let watched = app.hub.watched_mailboxes() as u64;
    let queued = app.hub.queued_bytes();
    let body = app.metrics.render(&[
        (
            "relay_nonces_remembered",
            "Nonces held for replay protection.",
            nonces,
        ),
        (
            "relay_live_events_queued_total",
            "Committed blobs queued to subscribed connections.",
            delivered,
        ),
        (
            "relay_watched_mailboxes",
            "Mailboxes with at least one subscriber.",
            watched,
        ),
        (
            "relay_live_bytes_queued",
            "Bytes of live frames waiting in connections' queues.",
            queued,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
