//! Opaque 32-byte identifiers.
//!
//! Clients derive mailbox ids from a space's epoch key and drop-box ids from an
//! invite secret, so to the relay they are indistinguishable from random
//! bytes. They travel as 64 lowercase hex digits. `Debug` never prints them:
//! a stray `tracing::debug!(?id)` must not put an id into a relay's logs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid 32-byte hex id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdParseError {
    /// The string is not exactly 64 characters long.
    #[error("an id is 64 hex digits, got {0} characters")]
    Length(usize),
    /// The string contains something other than hex digits.
    #[error("an id must contain only hex digits 0-9a-f")]
    NotHex,
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The 64-digit lowercase hex form used on the wire.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parses the 64-digit hex form (either case).
            pub fn from_hex(s: &str) -> Result<Self, IdParseError> {
                if s.len() != 64 {
                    return Err(IdParseError::Length(s.len()));
                }
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| IdParseError::NotHex)?;
                Ok(Self(out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Redacted on purpose: see the module docs.
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

opaque_id!(
    /// A mailbox: an append-only log of opaque blobs on the relay.
    MailboxId
);

opaque_id!(
    /// A one-time drop-box holding one opaque blob (an invite) until claimed or expired.
    DropboxId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_accepts_uppercase() {
        let id = MailboxId::from_bytes([0xab; 32]);
        assert_eq!(id.to_hex(), "ab".repeat(32));
        assert_eq!(MailboxId::from_hex(&"AB".repeat(32)), Ok(id));
    }

    #[test]
    fn wrong_length_and_non_hex_are_refused() {
        assert_eq!(MailboxId::from_hex("abcd"), Err(IdParseError::Length(4)));
        assert_eq!(
            MailboxId::from_hex(&"zz".repeat(32)),
            Err(IdParseError::NotHex)
        );
    }

    #[test]
    fn debug_never_shows_the_id() {
        let id = DropboxId::from_bytes([0x5a; 32]);
        assert_eq!(format!("{id:?}"), "DropboxId(..)");
    }

    #[test]
    fn serde_uses_hex_strings() {
        let id = MailboxId::from_bytes([1; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", "01".repeat(32)));
        assert_eq!(serde_json::from_str::<MailboxId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<MailboxId>("\"01\"").is_err());
    }
}
