//! One-time drop-boxes: put with an expiry, claim once, and ask (without
//! claiming) whether one is still waiting.
//!
//! Not signed: the id itself (derived from the invite secret) is the
//! capability. Putting is gated by the operator access token when one is set.
//!
//! A put may be *vouched* for by a mailbox (`?vouch=<mailbox id>` and a
//! request proof for the `vouch` operation, see
//! [`safespaces_wire::dropbox`]): it is then charged to that mailbox instead
//! of the shared anonymous pool, which a stranger can fill, and it may
//! reserve a second id (`&reserve=`) for the answer. This is how a real
//! invite gets through a relay whose anonymous pool was flooded.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use safespaces_wire::dropbox::{DropboxStored, PutDropboxQuery, vouch_body};
use safespaces_wire::{DropboxId, ErrorCode, Operation};

use super::request::{body_bytes, path_id};
use crate::api_error::ApiError;
use crate::app::{AppState, unix_now};
use crate::metrics::Metrics;
use crate::store::VouchedPut;

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
            "query parameters are ttl_secs (whole seconds), vouch (a mailbox id) and reserve (a drop-box id)",
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
    match (query.vouch, query.reserve) {
        (None, None) => app.store.put_dropbox(id, body, now, expires_at).await?,
        (None, Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::MalformedRequest,
                "reserve needs vouch: only a mailbox can reserve a drop-box",
            ));
        }
        (Some(_), Some(r)) if r == id => {
            return Err(ApiError::new(
                ErrorCode::MalformedRequest,
                "reserve names the drop-box being put; reserve another id",
            ));
        }
        (Some(owner), reserve) => {
            let signed = vouch_body(&id, reserve.as_ref(), query.ttl_secs, &body);
            let proof = crate::auth::proof_from_headers(&headers)?;
            crate::auth::check(
                &app,
                &crate::auth::request_host(&headers),
                Operation::Vouch,
                &owner,
                &signed,
                &proof,
                None,
            )
            .await?;
            app.store
                .put_vouched_dropbox(VouchedPut {
                    id,
                    data: body,
                    now,
                    expires_at,
                    owner,
                    reserve,
                })
                .await?;
        }
    }
    Metrics::add(&app.metrics.dropboxes_put, 1);
    // A put that filled a reservation expires with it if that is sooner.
    let expires_at = match app.store.dropbox_expiry(id, now).await {
        Ok(Some(actual)) => actual.min(expires_at),
        _ => expires_at,
    };
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
