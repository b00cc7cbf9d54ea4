//! Errors of the model layer.

/// Why a model operation was refused. A refused operation changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The acting member is not (or no longer) a member of the space.
    #[error("not a member of this space")]
    NotAMember,
    /// The acting member's role does not allow this.
    #[error("only a {required} may {action}")]
    NotPermitted {
        /// What was attempted, in words.
        action: &'static str,
        /// The least role that may do it.
        required: &'static str,
    },
    /// No member with that id.
    #[error("no member with id {0}")]
    UnknownMember(String),
    /// No session with that id.
    #[error("no session with id {0}")]
    UnknownSession(String),
    /// No training record with that id.
    #[error("no training record with id {0}")]
    UnknownRecord(String),
    /// No signposting resource with that id.
    #[error("no signposting resource with id {0}")]
    UnknownResource(String),
    /// No journal entry with that id.
    #[error("no journal entry with id {0}")]
    UnknownEntry(String),
    /// The session was cancelled or has been completed, so sign-ups and
    /// volunteering are closed.
    #[error("the session is {0}; sign-ups and volunteering are closed")]
    SessionClosed(&'static str),
    /// A value given by the caller is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which value.
        field: &'static str,
        /// What is wrong with it and what would be accepted.
        reason: String,
    },
    /// The invite was already used: invites work once.
    #[error("this invite has already been used; ask for a new one")]
    InviteUsed,
    /// The invite expired.
    #[error("this invite has expired; ask for a new one")]
    InviteExpired,
    /// The invite was withdrawn.
    #[error("this invite was withdrawn; ask for a new one")]
    InviteRevoked,
    /// The last coordinator cannot step down or be removed: a space always
    /// needs someone who can keep it safe.
    #[error("a space needs at least one coordinator; appoint another first")]
    LastCoordinator,
    /// Bytes that should hold a document do not (corrupt, truncated, or
    /// another kind of document).
    #[error("not a valid {kind} document: {reason}")]
    InvalidDocument {
        /// "space" or "journal".
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The document was written by a newer version of Safe Spaces.
    #[error(
        "this {kind} document uses schema {found}; this version understands up to {supported}; update the app"
    )]
    UnsupportedSchema {
        /// "space" or "journal".
        kind: &'static str,
        /// The schema version found.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// Changes from another device could not be applied.
    #[error("could not apply changes: {0}")]
    Changes(String),
}

impl From<automerge::AutomergeError> for ModelError {
    fn from(err: automerge::AutomergeError) -> Self {
        ModelError::Changes(err.to_string())
    }
}

/// Shorthand for results of the model layer.
pub type ModelResult<T> = Result<T, ModelError>;
