//! The HTTP surface: which path goes to which handler, and the layer every
//! request passes through (rate limit, metrics, body pacing).

pub mod dropbox;
pub mod mailbox;
pub mod ops;
mod request;
pub mod subscribe;

use std::sync::Arc;

use axum::Router;
use axum::body::HttpBody as _;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use safespaces_wire::ErrorCode;

use crate::api_error::ApiError;
use crate::app::{AppState, ConnState};
use crate::metrics::Metrics;

/// Builds the router.
pub fn router(app: AppState) -> Router {
    let body_limit = app.config.max_blob_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.json", get(ops::openapi))
        .route(
            "/v1/mailboxes/{id}",
            post(mailbox::create).delete(mailbox::delete),
        )
        .route("/v1/mailboxes/{id}/blobs", post(mailbox::append))
        .route("/v1/mailboxes/{id}/read", post(mailbox::read))
        .route("/v1/mailboxes/{id}/compact", post(mailbox::compact))
        .route("/v1/dropboxes/{id}", put(dropbox::put).get(dropbox::status))
        .route("/v1/dropboxes/{id}/claim", post(dropbox::claim))
        .route("/v1/subscribe", get(subscribe::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::pacing::pace_request_body,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

/// The operator listener's router (`--metrics-listen`): metrics and
/// probes only. Not on the public port, so clients and strangers cannot
/// watch the relay's traffic volumes.
pub fn metrics_router(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/readyz", get(ops::readyz))
        .route("/healthz", get(ops::healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take this method; see /openapi.json",
    )
}

/// Rate limit, then count the request and its bytes by route template.
async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let limited = req
        .extensions()
        .get::<Arc<ConnState>>()
        .is_some_and(|c| !c.limiter.try_take());
    let resp = if limited {
        ApiError::new(
            ErrorCode::RateLimited,
            "too many requests on this connection; slow down",
        )
        .into_response()
    } else {
        if let Some(len) = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            Metrics::add(&app.metrics.request_bytes, len);
        }
        next.run(req).await
    };
    if let Some(code) = resp.extensions().get::<ErrorCode>() {
        app.metrics.refusal(*code);
    }
    if let Some(len) = resp.body().size_hint().exact() {
        Metrics::add(&app.metrics.response_bytes, len);
    }
    app.metrics.request(&route, resp.status().as_u16());
    resp
}
