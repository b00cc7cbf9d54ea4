//! A failed command: the exit code it ends with and what to tell the person.

use safespaces_core::app::AppError;
use safespaces_core::model::ModelError;

use crate::exit::ExitCode;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see `exit.rs`).
    pub code: ExitCode,
    /// What to tell the person.
    pub message: String,
}

impl Failure {
    /// A refusal: bad input, not permitted, unknown thing.
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            code: ExitCode::Refused,
            message: message.into(),
        }
    }
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        Failure {
            code: err.class().into(),
            message: err.to_string(),
        }
    }
}

impl From<ModelError> for Failure {
    fn from(err: ModelError) -> Self {
        AppError::from(err).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Failure {
            code: ExitCode::Unexpected,
            message: err.to_string(),
        }
    }
}
