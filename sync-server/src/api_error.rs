//! Refusals as HTTP responses: the status that goes with the code and the
//! JSON [`ErrorBody`]. Every refusal leaves the store untouched.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use safespaces_wire::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable explanation (never contains ids or payloads).
    pub message: String,
}

impl ApiError {
    /// A refusal with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        let message = match &e {
            StoreError::Backend(detail) => {
                // The operator sees the detail; the client sees only that it failed.
                tracing::error!(error = %detail, "storage failure");
                "the relay could not complete this request; nothing was stored".to_owned()
            }
            other => other.to_string(),
        };
        Self { code, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = self.code;
        let mut resp = (
            status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        // Lets the metrics layer count refusals by code.
        resp.extensions_mut().insert(code);
        resp
    }
}
