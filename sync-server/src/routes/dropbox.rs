//! One-time drop-boxes: put with an expiry, claim once, and ask (without
//! claiming) whether one is still waiting.
//!
//! Not signed: the id itself (derived from the invite secret) is the
//! capability. Putting is gated by the operator access token when one is set.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use safespaces_wire::dropbox::{DropboxStored, PutDropboxQuery};
use safespaces_wire::{DropboxId, ErrorCode};

use super::{body_bytes, path_id};
use crate::api_error::ApiError;
use crate::app::{AppState, unix_now};
use crate::metrics::Metrics;

/// `PUT /v1/dropboxes/{id}?ttl_secs=N`: store one blob until claimed or expired.
pub async fn put(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<PutDropboxQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<DropboxStored>), ApiError> {
    crate::auth::check_access_token(&app, &headers)?;
    let id: DropboxId = path_id(id)?;
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            "the only query parameter is ttl_secs, a whole number of seconds",
        )
    })?;
    let body = body_bytes(body)?;
    if body.len() > app.config.max_dropbox_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "a drop-box holds at most {} bytes",
                app.config.max_dropbox_bytes
            ),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MalformedRequest,
            "a drop-box blob must not be empty",
        ));
    }
    let cap = app.config.dropbox_ttl_cap();
    let ttl = query.ttl_secs.unwrap_or(cap);
    if ttl == 0 || ttl > cap {
        return Err(ApiError::new(
            ErrorCode::TtlOutOfRange,
            format!("ttl_secs must be between 1 and {cap}"),
        ));
    }
    let now = unix_now();
    let expires_at = now + ttl;
    app.store.put_dropbox(id, body, now, expires_at).await?;
    Metrics::add(&app.metrics.dropboxes_put, 1);
    Ok((StatusCode::CREATED, Json(DropboxStored { expires_at })))
}

/// `POST /v1/dropboxes/{id}/claim`: take the blob; it is gone afterwards.
pub async fn claim(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id: DropboxId = path_id(id)?;
    match app.store.claim_dropbox(id, unix_now()).await? {
        Some(data) => {
            Metrics::add(&app.metrics.dropboxes_claimed, 1);
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
        }
        None => Err(not_found()),
    }
}

/// `GET /v1/dropboxes/{id}`: whether the drop-box still holds its blob, and
/// until when. Read-only, so the inviter's device can learn that its invite
/// package was claimed (or expired) without consuming it. Like claim it is
/// not signed (the id is the capability) and answers the same
/// `dropbox_not_found` for "never put", "already claimed" and "expired", so
/// it tells no one more than a claim attempt would.
pub async fn status(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DropboxStored>, ApiError> {
    let id: DropboxId = path_id(id)?;
    match app.store.dropbox_expiry(id, unix_now()).await? {
        Some(expires_at) => {
            Metrics::add(&app.metrics.dropboxes_checked, 1);
            Ok(Json(DropboxStored { expires_at }))
        }
        None => Err(not_found()),
    }
}

/// The one answer for a drop-box that is not there, whatever the reason.
fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::DropboxNotFound,
        "no such drop-box: never put, already claimed, or expired",
    )
}
