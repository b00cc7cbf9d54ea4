//! What a handler reads from a request (its body, JSON in it, the id in
//! its path), each failure mapped to the API's stable error codes (axum's
//! own rejections are plain text).

use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use safespaces_wire::ErrorCode;

use crate::api_error::ApiError;

/// Maps a body rejection to a stable code (axum's own are plain text).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the request body is larger than this relay accepts",
            )
        } else {
            ApiError::new(
                ErrorCode::MalformedRequest,
                "could not read the request body",
            )
        }
    })
}

/// Parses the `{id}` path segment into a 32-byte id.
pub(crate) fn path_id<T: std::str::FromStr>(
    path: Result<Path<String>, PathRejection>,
) -> Result<T, ApiError> {
    path.ok()
        .and_then(|Path(s)| s.parse().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::MalformedRequest, "the id must be 64 hex digits"))
}

/// Parses a JSON body with a stable error.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the JSON body is not valid: {e}"),
        )
    })
}
