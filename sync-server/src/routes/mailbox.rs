//! Mailbox endpoints: create, append, read, compact, delete. Every one is
//! signed: with the mailbox's member key, or its admin key for compact and
//! delete (see [`crate::auth`] and `safespaces_wire::mailbox`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use safespaces_wire::mailbox::{
    Appended, Blob, CompactRequest, Compacted, CreateMailbox, MailboxCreated, MailboxDeleted,
    ReadPage, ReadRequest, mailbox_id_for_keys,
};
use safespaces_wire::{ErrorCode, MailboxId, Operation};

use super::request::{body_bytes, json_body, path_id};
use crate::api_error::ApiError;
use crate::app::AppState;
use crate::auth;
use crate::metrics::Metrics;
use crate::store::MailboxKeys;

/// Bytes per read page beyond which the relay stops adding blobs.
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// `POST /v1/mailboxes/{id}`: create, signed by the new member key; the id
/// must name both keys, so nobody can create it bound to others.
pub async fn create(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MailboxCreated>), ApiError> {
    auth::check_access_token(&app, &headers)?;
    let id: MailboxId = path_id(id)?;
    let body = body_bytes(body)?;
    let req: CreateMailbox = json_body(&body)?;
    let key = auth::parse_verifying_key(&req.verifying_key)?;
    let admin = auth::parse_verifying_key(&req.admin_key)?;
    if mailbox_id_for_keys(key.as_bytes(), admin.as_bytes()) != id {
        return Err(ApiError::new(
            ErrorCode::MalformedRequest,
            "the mailbox id is not the hash of its member and admin keys",
        ));
    }
    let proof = auth::proof_from_headers(&headers)?;
    let host = auth::request_host(&headers);
    auth::check(
        &app,
        &host,
        Operation::Create,
        &id,
        &body,
        &proof,
        Some(key),
    )
    .await?;
    let keys = MailboxKeys {
        member: key.to_bytes(),
        admin: admin.to_bytes(),
    };
    let created = app.store.create_mailbox(id, keys).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MailboxCreated { created })))
}

/// `POST /v1/mailboxes/{id}/blobs`: append one opaque blob; the reply means durable.
pub async fn append(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Appended>, ApiError> {
    let id: MailboxId = path_id(id)?;
    let body = body_bytes(body)?;
    auth::authorize(&app, &headers, Operation::Append, &id, &body).await?;
    let len = body.len() as u64;
    let seq = app.store.append(id, body).await?;
    Metrics::add(&app.metrics.blobs_appended, 1);
    Metrics::add(&app.metrics.blob_bytes_appended, len);
    Ok(Json(Appended { seq }))
}

/// `POST /v1/mailboxes/{id}/read`: a page of blobs after a cursor.
pub async fn read(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReadPage>, ApiError> {
    let id: MailboxId = path_id(id)?;
    let body = body_bytes(body)?;
    let req: ReadRequest = json_body(&body)?;
    auth::authorize(&app, &headers, Operation::Read, &id, &body).await?;
    let max = app.config.max_page_blobs.max(1);
    let limit = req.limit.unwrap_or(max).clamp(1, max);
    let page = app.store.read(id, req.after, limit, PAGE_BYTES).await?;
    Metrics::add(&app.metrics.blobs_read, page.blobs.len() as u64);
    Ok(Json(ReadPage {
        blobs: page
            .blobs
            .into_iter()
            .map(|(seq, data)| Blob {
                seq,
                data: data.to_vec(),
            })
            .collect(),
        last_seq: page.last_seq,
        compacted_through: page.compacted_through,
        more: page.more,
    }))
}

/// `POST /v1/mailboxes/{id}/compact`: delete blobs a snapshot covers;
/// signed by the admin key.
pub async fn compact(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Compacted>, ApiError> {
    let id: MailboxId = path_id(id)?;
    let body = body_bytes(body)?;
    let req: CompactRequest = json_body(&body)?;
    auth::authorize(&app, &headers, Operation::Compact, &id, &body).await?;
    let c = app
        .store
        .compact(id, req.snapshot_seq, req.through_seq)
        .await?;
    Metrics::add(&app.metrics.blobs_compacted, c.deleted);
    Ok(Json(Compacted {
        deleted: c.deleted,
        compacted_through: c.compacted_through,
    }))
}

/// `DELETE /v1/mailboxes/{id}`: delete every blob and leave a tombstone;
/// signed by the admin key.
pub async fn delete(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<MailboxDeleted>, ApiError> {
    let id: MailboxId = path_id(id)?;
    let body = body_bytes(body)?;
    auth::authorize(&app, &headers, Operation::Delete, &id, &body).await?;
    app.store.delete_mailbox(id).await?;
    Ok(Json(MailboxDeleted { deleted: true }))
}
