//! A mailbox and the key that authorises requests on it.

use std::fmt;

use ed25519_dalek::SigningKey;
use safespaces_wire::MailboxId;

use crate::protocol::epoch::EpochKey;

/// A relay mailbox id with its Ed25519 signing key. Every mailbox request,
/// and every subscription, is signed with it; the relay knows only the
/// public half.
#[derive(Clone)]
pub struct MailboxCredential {
    id: MailboxId,
    key: SigningKey,
}

impl fmt::Debug for MailboxCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // MailboxId's Debug is already redacted; the key never prints.
        f.debug_struct("MailboxCredential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MailboxCredential {
    /// Pairs an id with its key.
    pub fn new(id: MailboxId, key: SigningKey) -> Self {
        Self { id, key }
    }

    /// The mailbox of a space's epoch and the key derived for it
    /// (protocol.md §1): the everyday way to get a credential.
    pub fn for_epoch(epoch: &EpochKey) -> Self {
        Self {
            id: MailboxId::from_bytes(epoch.mailbox_id().0),
            key: epoch.mailbox_signing_key(),
        }
    }

    /// The mailbox id.
    pub fn id(&self) -> MailboxId {
        self.id
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_credential_matches_the_epoch_derivations() {
        let epoch = EpochKey::from_bytes([7; 32]);
        let cred = MailboxCredential::for_epoch(&epoch);
        assert_eq!(cred.id().as_bytes(), &epoch.mailbox_id().0);
        assert_eq!(
            cred.signing_key().verifying_key(),
            epoch.mailbox_verifying_key()
        );
        assert!(!format!("{cred:?}").contains(&cred.id().to_hex()));
    }
}
