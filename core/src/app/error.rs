//! The one error type of the app layer, with variants an app can act on.
//!
//! Each variant says what happened, not only that something failed: this
//! device's own data is damaged ([`AppError::DamagedLocalData`]), something
//! from outside was refused and nothing changed ([`AppError::RefusedInput`]),
//! or this app has a bug ([`AppError::Internal`]). A person who imports a
//! bundle that is not hers must hear the second, never the first. How each
//! error is classified for apps and scripts is in `error_class.rs`.

use super::invite_use_error::InviteUseError;
use crate::model::ModelError;
use crate::profile::ProfileError;
use crate::protocol::attendance::AttendanceError;
use crate::protocol::link::LinkError;

/// Why an app-level operation failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The profile is locked: unlock it first.
    #[error("the profile is locked")]
    Locked,
    /// The unlock secret was wrong.
    #[error("wrong passphrase or key")]
    WrongSecret,
    /// No space with that id on this device.
    #[error("no space {0} on this device")]
    UnknownSpace(String),
    /// The model refused the operation (not a member, not permitted, bad
    /// input, unknown session…).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An attendance request could not be made or applied.
    #[error(transparent)]
    Attendance(#[from] AttendanceError),
    /// The profile or its storage failed.
    #[error(transparent)]
    Profile(ProfileError),
    /// The relay could not be reached, or refused (with its stable code).
    #[error(transparent)]
    Relay(crate::relay::RelayError),
    /// An invite could not be used at one step of a join: a bad code, an
    /// expired invite, a request, welcome or bundle that does not fit it or
    /// does not check out ([`InviteUseError`] says which).
    #[error(transparent)]
    Invite(#[from] InviteUseError),
    /// This device is already a member of that space: an invite to it
    /// cannot be used from here (only a person who left comes back).
    #[error("this device is already a member of that space")]
    AlreadyMember,
    /// Linking a device failed or was refused: a bad or used code, a
    /// fingerprint that does not match, a link already answered, or
    /// someone else holding the code interfering ([`LinkError`] says
    /// which, and what to do).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A new epoch could not be started (nobody would remain, or the space
    /// is at its last epoch).
    #[error(transparent)]
    Rotation(crate::protocol::RotationError),
    /// This device's own stored data does not read back as it was written:
    /// a registry field that does not parse, a key or document the
    /// registry names that is missing. Nothing was changed; restoring a
    /// backup is the way out.
    #[error("this device's stored data is damaged ({what}){}; restore from a backup", because(.source))]
    DamagedLocalData {
        /// Which part of the stored data, content-free.
        what: &'static str,
        /// Why it does not read, where something said why.
        #[source]
        source: Option<BoxError>,
    },
    /// This profile's registry was written by another version of the app,
    /// which this one does not read: not damage, but as unusable here.
    #[error(
        "this profile was made by another version of the app (registry {found}, this app reads {reads})"
    )]
    OtherVersion {
        /// The version the registry was written in.
        found: u8,
        /// The version this app reads.
        reads: u8,
    },
    /// Something from outside this device (a bundle, the relay's mailbox)
    /// was refused: not meant for this device, for another space, or not
    /// what it claims. Nothing on this device was changed or is damaged.
    #[error("{from} was refused: {why}{}; nothing was changed", because(.source))]
    RefusedInput {
        /// Where it came from.
        from: InputSource,
        /// What is wrong with it, content-free.
        why: &'static str,
        /// The check that refused it, where one said why.
        #[source]
        source: Option<BoxError>,
    },
    /// A bug in this app: sealing or encoding something of its own failed,
    /// or an invariant it keeps did not hold. Should never happen.
    #[error("internal error {doing}{}; this is a bug, please report it", because(.source))]
    Internal {
        /// What the app was doing, content-free ("sealing an envelope").
        doing: &'static str,
        /// What failed, where something did.
        #[source]
        source: Option<BoxError>,
    },
}

/// The source of a [`AppError`]: kept as the error it was (for
/// [`std::error::Error::source`] and downcasting), not as its text.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where refused input came from, for [`AppError::RefusedInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputSource {
    /// A bundle file (offline sync, or the bundle a join starts from).
    Bundle,
    /// A space's mailbox on the relay: what other devices left there.
    Mailbox,
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputSource::Bundle => "the bundle",
            InputSource::Mailbox => "the space's mailbox on the relay",
        })
    }
}

/// The source's message after a colon, as the crate's other errors put
/// their source in their message (the CLI and the FFI show one string).
fn because(source: &Option<BoxError>) -> String {
    source
        .as_ref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}

impl AppError {
    /// A stable, content-free name for the kind of failure, for logs: the
    /// message itself may name ids or a path, which a log must never carry.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::Locked => "locked",
            AppError::WrongSecret => "wrong_secret",
            AppError::UnknownSpace(_) => "unknown_space",
            AppError::Model(_) => "model",
            AppError::Attendance(_) => "attendance",
            AppError::Profile(_) => "storage",
            AppError::Relay(_) => "relay",
            AppError::Invite(_) => "invite",
            AppError::AlreadyMember => "already_member",
            AppError::Link(_) => "link",
            AppError::Rotation(_) => "rotation",
            AppError::DamagedLocalData { .. } => "damaged_local_data",
            AppError::OtherVersion { .. } => "other_version",
            AppError::RefusedInput { .. } => "refused_input",
            AppError::Internal { .. } => "internal",
        }
    }

    /// This device's stored `what` is damaged; nothing said why.
    pub(crate) fn damaged(what: &'static str) -> Self {
        AppError::DamagedLocalData { what, source: None }
    }

    /// This device's stored `what` is damaged: `source` says why.
    pub(crate) fn damaged_by(what: &'static str, source: impl Into<BoxError>) -> Self {
        AppError::DamagedLocalData {
            what,
            source: Some(source.into()),
        }
    }

    /// Input `from` outside was refused because `why`.
    pub(crate) fn refused(from: InputSource, why: &'static str) -> Self {
        AppError::RefusedInput {
            from,
            why,
            source: None,
        }
    }

    /// A bug while `doing` something; nothing said more.
    pub(crate) fn bug(doing: &'static str) -> Self {
        AppError::Internal {
            doing,
            source: None,
        }
    }

    /// A bug while `doing` something: `source` failed.
    pub(crate) fn internal(doing: &'static str, source: impl Into<BoxError>) -> Self {
        AppError::Internal {
            doing,
            source: Some(source.into()),
        }
    }

    /// The relay's failure, if this is one, for its kind and code.
    pub fn relay(&self) -> Option<&crate::relay::RelayError> {
        match self {
            AppError::Relay(err) => Some(err),
            _ => None,
        }
    }
}

impl From<ProfileError> for AppError {
    fn from(err: ProfileError) -> Self {
        match err {
            ProfileError::Locked => AppError::Locked,
            ProfileError::WrongSecret => AppError::WrongSecret,
            other => AppError::Profile(other),
        }
    }
}

/// Logs a failed operation at `warn` with its content-free kind, and for a
/// relay failure the relay's kind and code; extra fields and the message
/// follow as in `tracing::warn!`. A macro, so the event's target is the
/// module that failed.
macro_rules! warn_failed {
    ($err:expr, $($rest:tt)+) => {{
        let err: &$crate::app::error::AppError = $err;
        let relay = err.relay();
        tracing::warn!(
            kind = err.kind(),
            relay_kind = relay.map($crate::relay::RelayError::kind),
            code = relay
                .and_then($crate::relay::RelayError::code)
                .map($crate::relay::ErrorCode::as_str),
            $($rest)+
        );
    }};
}
pub(crate) use warn_failed;

/// Shorthand for app-layer results.
pub type AppResult<T> = Result<T, AppError>;
