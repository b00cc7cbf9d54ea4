//! Identifiers for things inside documents.
//!
//! Ids are minted on the device that creates the thing, offline, so they are
//! random rather than sequential: 64 random bits rendered as 16 lowercase hex
//! digits. Two devices minting ids concurrently collide with negligible
//! probability, and an id says nothing about who made it or when.

use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::ModelError;

macro_rules! random_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Mints a fresh random id.
            pub fn random() -> Self {
                let mut bytes = [0u8; 8];
                rand::thread_rng().fill_bytes(&mut bytes);
                Self(hex::encode(bytes))
            }

            /// Parses an id typed by a person or read from another system.
            pub fn parse(text: &str) -> Result<Self, ModelError> {
                let text = text.trim();
                if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Self(text.to_ascii_lowercase()))
                } else {
                    Err(ModelError::InvalidInput {
                        field: $what,
                        reason: "expected 16 hexadecimal digits".into(),
                    })
                }
            }

            /// The id as it is stored and displayed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // By hand rather than derived: the derived newtype impl overrides
        // only `hydrate`, so `Option<Id>` (which calls `hydrate_string`
        // directly) would refuse a stored string.
        impl Hydrate for $name {
            fn hydrate_string(text: &str) -> Result<Self, autosurgeon::HydrateError> {
                Ok(Self(text.to_string()))
            }
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;

            fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(&self.0)
            }
        }

        impl From<String> for $name {
            /// Wraps an id read back from a document. Document keys are not
            /// re-validated: a malformed key from another device is harmless
            /// text and simply matches nothing.
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(text: &str) -> Result<Self, ModelError> {
                Self::parse(text)
            }
        }
    };
}

random_id!(
    /// A member of a space. Stable across the member's devices.
    MemberId,
    "member id"
);
random_id!(
    /// A session (event, activity or discussion group) in a space.
    SessionId,
    "session id"
);
random_id!(
    /// A weekly series of sessions; each occurrence carries it.
    SeriesId,
    "series id"
);

random_id!(
    /// A training record.
    RecordId,
    "training record id"
);
random_id!(
    /// An entry in the signposting directory.
    ResourceId,
    "resource id"
);
random_id!(
    /// A journal entry.
    EntryId,
    "journal entry id"
);
random_id!(
    /// One device of a member.
    DeviceId,
    "device id"
);
random_id!(
    /// A sign-up's ticket. The attendee derives it (protocol::attendance) so
    /// that only they and the session's leads can tell whose it is.
    TicketId,
    "ticket"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_what_random_mints_and_rejects_garbage() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(id.as_str()).ok(), Some(id.clone()));
        assert_eq!(SessionId::parse(&id.as_str().to_uppercase()).ok(), Some(id));
        assert!(SessionId::parse("not-an-id").is_err());
        assert!(SessionId::parse("0123456789abcdeg").is_err());
        assert!(SessionId::parse("").is_err());
    }
}
