//! Re-sealing an epoch's key to a device its handover missed (protocol.md
//! §6, "Devices a handover missed").
//!
//! A handover is sealed to the devices that should hold the key at its cut.
//! A device listed concurrently with the cut (a phone linked, or a member
//! admitted, while a coordinator rotated) is not among them: it holds only
//! the old epoch's key and would read nothing written after. A device that
//! holds the new key and sees such a device appends a **key grant** to the
//! old epoch's mailbox, which the missed device still reads: the new key
//! sealed to the missed devices' X25519 recipients, naming the handover it
//! completes. The receiver opens it only against the handover it holds and
//! checks the key against that handover's commitment
//! ([`super::rotation::key_commitment`]), so a grant needs no trust in
//! whoever re-sealed it: it can hand over the handover's key or nothing.
//!
//! A coordinator's device it missed is also granted the new mailbox's admin
//! seed, checked against the handover's admin key (so again no trust in
//! the granter is needed).
//!
//! Wire body: `from_epoch u32 | handover rank [32] | recipient count u16 |
//! device id [8]* | key file length u32 | age file | admin recipient count
//! u16 | device id [8]* | admin age file`.

use super::devices::usable_recipients;
use super::epoch::{AdminSeed, EpochKey};
use super::rotation::{
    Handover, RotationError, key_commitment, key_files_len, open_admin_seed, open_committed_key,
    read_key_files, seal_admin_seed, write_devices, write_key_files,
};
use crate::crypto::{DeviceSealError, seal_to_devices};
use crate::model::DeviceId;

/// The key of the epoch a handover leads to, sealed to devices it missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// The epoch the handover leaves (the mailbox the grant travels in).
    pub from_epoch: u32,
    /// The rank of the handover it completes ([`Handover::rank`]).
    pub handover: [u8; 32],
    /// The devices that can open it.
    pub recipients: Vec<DeviceId>,
    /// The age file (X25519 recipients) holding the 32-byte key.
    pub sealed_key: Vec<u8>,
    /// The coordinators' devices among them given the admin seed.
    pub admin_recipients: Vec<DeviceId>,
    /// The age file holding the admin seed (empty if none).
    pub sealed_admin: Vec<u8>,
}

impl KeyGrant {
    /// Seals `key`, which must be `handover`'s, to `devices` (id and age
    /// recipient). A device whose recipient does not parse is skipped, as
    /// in a handover; [`RotationError::NobodyLeft`] if none is left.
    pub fn create(
        handover: &Handover,
        key: &EpochKey,
        devices: &[(DeviceId, String)],
        admin: Option<(&AdminSeed, &[(DeviceId, String)])>,
    ) -> Result<Self, RotationError> {
        if key_commitment(key) != handover.key_commitment {
            return Err(RotationError::Malformed(
                "the key is not the one the handover committed to".into(),
            ));
        }
        let (recipients, age_recipients) = usable_recipients(devices);
        let sealed_key =
            seal_to_devices(&age_recipients, key.expose_bytes()).map_err(|e| match e {
                DeviceSealError::NoRecipients => RotationError::NobodyLeft,
                other => RotationError::Malformed(other.to_string()),
            })?;
        let mut admin_recipients = Vec::new();
        let mut sealed_admin = Vec::new();
        if let Some((seed, coordinators)) = admin {
            if seed.public() != handover.admin_key {
                return Err(RotationError::Malformed(
                    "the admin seed is not the one the handover names".into(),
                ));
            }
            (admin_recipients, sealed_admin) = seal_admin_seed(seed, coordinators)?;
        }
        Ok(KeyGrant {
            from_epoch: handover.from_epoch,
            handover: handover.rank(),
            recipients,
            sealed_key,
            admin_recipients,
            sealed_admin,
        })
    }

    /// Opens the admin seed on a coordinator's device it was granted to,
    /// if it signs for `handover`'s admin key; `None` otherwise.
    pub fn open_admin(
        &self,
        handover: &Handover,
        identity: &age::x25519::Identity,
    ) -> Option<AdminSeed> {
        if self.handover != handover.rank() {
            return None;
        }
        open_admin_seed(identity, &self.sealed_admin, &handover.admin_key)
    }

    /// Opens the grant with this device's identity, for `handover`: refused
    /// unless it names that handover and its key is the one the handover
    /// committed to.
    pub fn open(
        &self,
        handover: &Handover,
        identity: &age::x25519::Identity,
    ) -> Result<EpochKey, RotationError> {
        if self.handover != handover.rank() || self.from_epoch != handover.from_epoch {
            return Err(RotationError::Malformed(
                "the grant completes another handover".into(),
            ));
        }
        open_committed_key(identity, &self.sealed_key, &handover.key_commitment)
    }

    /// Encodes the grant as an envelope body (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            4 + 32
                + 2
                + 8 * self.recipients.len()
                + key_files_len(&self.sealed_key, &self.admin_recipients, &self.sealed_admin),
        );
        out.extend_from_slice(&self.from_epoch.to_be_bytes());
        out.extend_from_slice(&self.handover);
        write_devices(&mut out, &self.recipients);
        write_key_files(
            &mut out,
            &self.sealed_key,
            &self.admin_recipients,
            &self.sealed_admin,
        );
        out
    }

    /// Decodes a body written by [`KeyGrant::encode`].
    pub fn decode(body: &[u8]) -> Result<Self, RotationError> {
        let bad = |what: &str| RotationError::Malformed(what.to_string());
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], RotationError> {
            let slice = body.get(at..at + n).ok_or_else(|| bad("truncated"))?;
            at += n;
            Ok(slice)
        };
        let mut epoch = [0u8; 4];
        epoch.copy_from_slice(take(4)?);
        let mut handover = [0u8; 32];
        handover.copy_from_slice(take(32)?);
        let mut count = [0u8; 2];
        count.copy_from_slice(take(2)?);
        let count = u16::from_be_bytes(count) as usize;
        let mut recipients = Vec::with_capacity(count);
        for _ in 0..count {
            recipients.push(DeviceId::from(hex::encode(take(8)?)));
        }
        let (sealed_key, admin_recipients, sealed_admin) =
            read_key_files(body.get(at..).unwrap_or_default())?;
        if sealed_key.is_empty() {
            return Err(bad("no sealed key"));
        }
        Ok(KeyGrant {
            from_epoch: u32::from_be_bytes(epoch),
            handover,
            recipients,
            sealed_key,
            admin_recipients,
            sealed_admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceKeys, Role, SpaceDoc, Timestamp};

    fn device() -> (DeviceId, age::x25519::Identity) {
        (DeviceId::random(), age::x25519::Identity::generate())
    }

    /// The admin seed [`handed_over`]'s handover names.
    fn admin_seed() -> AdminSeed {
        AdminSeed::from_bytes([5; 32])
    }

    /// A space with one coordinator device, a removal, and its handover.
    fn handed_over() -> (SpaceDoc, Handover, EpochKey) {
        let (mut doc, robin) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
        let (phone, id) = device();
        doc.add_device(
            &robin,
            &phone,
            DeviceKeys {
                age_recipient: id.to_public().to_string(),
                signing_key: hex::encode([1; 32]),
                binding: None,
            },
        )
        .unwrap();
        let sam = doc
            .add_member(&robin, "Sam", Role::Member, Timestamp(1))
            .unwrap();
        doc.remove_member(&robin, &sam, Timestamp(2)).unwrap();
        let removal = doc.heads()[0];
        let key = EpochKey::generate();
        let handover = Handover::create(&mut doc, 0, removal, &key, &admin_seed()).unwrap();
        (doc, handover, key)
    }

    #[test]
    fn a_missed_device_opens_the_grant_and_gets_the_handovers_key() {
        let (_, handover, key) = handed_over();
        let (laptop, identity) = device();
        let grant = KeyGrant::create(
            &handover,
            &key,
            &[(laptop.clone(), identity.to_public().to_string())],
            None,
        )
        .unwrap();
        let decoded = KeyGrant::decode(&grant.encode()).unwrap();
        assert_eq!(decoded, grant);
        assert_eq!(decoded.recipients, vec![laptop]);
        let opened = decoded.open(&handover, &identity).unwrap();
        assert_eq!(opened.expose_bytes(), key.expose_bytes());
        // Nobody else opens it.
        assert!(matches!(
            decoded.open(&handover, &age::x25519::Identity::generate()),
            Err(RotationError::NotARecipient)
        ));
    }

    #[test]
    fn a_grant_of_another_key_or_for_another_handover_is_refused() {
        let (_, handover, key) = handed_over();
        let (laptop, identity) = device();
        let to_laptop = [(laptop, identity.to_public().to_string())];
        // Nobody grants a key the handover did not commit to.
        let other = EpochKey::generate();
        assert!(KeyGrant::create(&handover, &other, &to_laptop, None).is_err());
        // A forged grant (someone with the old key seals a key of his own
        // to the missed device) opens, and is refused: not the handover's.
        let mut forged = KeyGrant::create(&handover, &key, &to_laptop, None).unwrap();
        forged.sealed_key = seal_to_devices(&[identity.to_public()], other.expose_bytes()).unwrap();
        assert!(matches!(
            forged.open(&handover, &identity),
            Err(RotationError::Malformed(_))
        ));
        // A grant names the handover it completes.
        let (_, second, second_key) = handed_over();
        let for_second = KeyGrant::create(&second, &second_key, &to_laptop, None).unwrap();
        assert!(matches!(
            for_second.open(&handover, &identity),
            Err(RotationError::Malformed(_))
        ));
        assert!(KeyGrant::create(&handover, &key, &[], None).is_err());
    }

    #[test]
    fn a_missed_coordinators_device_is_granted_the_admin_seed_the_handover_names() {
        let (_, handover, key) = handed_over();
        let (laptop, identity) = device();
        let (phone, other) = device();
        let to = [
            (laptop.clone(), identity.to_public().to_string()),
            (phone, other.to_public().to_string()),
        ];
        let admins = [to[0].clone()];
        let grant = KeyGrant::create(&handover, &key, &to, Some((&admin_seed(), &admins))).unwrap();
        let grant = KeyGrant::decode(&grant.encode()).unwrap();
        assert_eq!(grant.admin_recipients, vec![laptop]);
        assert_eq!(grant.open_admin(&handover, &identity), Some(admin_seed()));
        // The other device gets the key but not the seed.
        assert!(grant.open(&handover, &other).is_ok());
        assert_eq!(grant.open_admin(&handover, &other), None);
        // A granter cannot hand over a seed of its own: creating refuses
        // it, and a forged grant carrying one opens to nothing.
        let own = AdminSeed::from_bytes([6; 32]);
        assert!(KeyGrant::create(&handover, &key, &to, Some((&own, &admins))).is_err());
        let mut forged = grant.clone();
        forged.sealed_admin =
            crate::crypto::seal_to_devices(&[identity.to_public()], own.expose_bytes()).unwrap();
        assert_eq!(forged.open_admin(&handover, &identity), None);
    }

    #[test]
    fn damaged_grants_are_refused_not_panicked_on() {
        let (_, handover, key) = handed_over();
        let (laptop, identity) = device();
        let body = KeyGrant::create(
            &handover,
            &key,
            &[(laptop, identity.to_public().to_string())],
            None,
        )
        .unwrap()
        .encode();
        for len in 0..40 {
            assert!(KeyGrant::decode(&body[..len.min(body.len())]).is_err());
        }
        let mut many = body[..36].to_vec();
        many.extend_from_slice(&u16::MAX.to_be_bytes());
        assert!(KeyGrant::decode(&many).is_err());
    }
}
