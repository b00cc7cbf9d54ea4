//! Operator endpoints: health, metrics, the API description.

use axum::extract::State;
use axum::http::header;
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

/// `GET /metrics`: Prometheus text format.
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
