//! A mailbox and the keys that authorise requests on it.

use std::fmt;

use ed25519_dalek::SigningKey;
use safespaces_wire::MailboxId;

use crate::protocol::epoch::{AdminKey, AdminSeed, EpochKey};

/// A relay mailbox id with its member signing key, its public admin key,
/// and, on a device allowed to retire history, its admin signing key.
/// Appends, reads and subscriptions are signed with the member key;
/// compaction and deletion only with the admin key (protocol.md §1). The
/// relay knows only the public halves.
#[derive(Clone)]
pub struct MailboxCredential {
    id: MailboxId,
    key: SigningKey,
    admin_public: AdminKey,
    admin: Option<SigningKey>,
}

impl fmt::Debug for MailboxCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // MailboxId's Debug is already redacted; keys never print.
        f.debug_struct("MailboxCredential")
            .field("id", &self.id)
            .field("admin", &self.admin.is_some())
            .finish_non_exhaustive()
    }
}

impl MailboxCredential {
    /// The mailbox of `member` and `admin_public`, with the admin signing
    /// key if this device holds it. A `seed` whose public half is not
    /// `admin_public` is ignored: it could not sign for this mailbox.
    pub fn new(member: SigningKey, admin_public: AdminKey, seed: Option<&AdminSeed>) -> Self {
        let id = safespaces_wire::mailbox::mailbox_id_for_keys(
            member.verifying_key().as_bytes(),
            &admin_public.0,
        );
        let admin = seed
            .filter(|s| s.public() == admin_public)
            .map(AdminSeed::signing_key);
        Self {
            id,
            key: member,
            admin_public,
            admin,
        }
    }

    /// The mailbox of a space's epoch (protocol.md §1): the member key
    /// derived from the epoch key, the epoch's admin key, and its seed on a
    /// coordinator's device.
    pub fn for_epoch(epoch: &EpochKey, admin: AdminKey, seed: Option<&AdminSeed>) -> Self {
        Self::new(epoch.mailbox_signing_key(), admin, seed)
    }

    /// The mailbox of a journal epoch: every device holding the journal key
    /// (only the person's own) also administers it, so the admin seed is
    /// derived from the key.
    pub fn for_journal(key: &EpochKey) -> Self {
        let seed = key.derived_admin_seed();
        Self::new(key.mailbox_signing_key(), seed.public(), Some(&seed))
    }

    /// The mailbox id.
    pub fn id(&self) -> MailboxId {
        self.id
    }

    /// The member signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public admin key, sent when the mailbox is created.
    pub fn admin_public(&self) -> AdminKey {
        self.admin_public
    }

    /// The admin signing key, if this device may compact and delete.
    pub fn admin_key(&self) -> Option<&SigningKey> {
        self.admin.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_credential_matches_the_epoch_derivations() {
        let epoch = EpochKey::from_bytes([7; 32]);
        let seed = AdminSeed::from_bytes([9; 32]);
        let cred = MailboxCredential::for_epoch(&epoch, seed.public(), Some(&seed));
        assert_eq!(cred.id().as_bytes(), &epoch.mailbox_id(&seed.public()).0);
        assert_eq!(
            cred.signing_key().verifying_key(),
            epoch.mailbox_verifying_key()
        );
        assert!(cred.admin_key().is_some());
        assert!(!format!("{cred:?}").contains(&cred.id().to_hex()));
        // A member's device: same mailbox, no admin key.
        let member = MailboxCredential::for_epoch(&epoch, seed.public(), None);
        assert_eq!(member.id(), cred.id());
        assert!(member.admin_key().is_none());
        // A seed for another admin key is not taken.
        let wrong = AdminSeed::from_bytes([1; 32]);
        let odd = MailboxCredential::for_epoch(&epoch, seed.public(), Some(&wrong));
        assert!(odd.admin_key().is_none());
    }
}
