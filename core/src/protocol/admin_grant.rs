//! Handing a mailbox's admin seed to a coordinator's device that does not
//! hold it (protocol.md §1, "Why a separate admin key").
//!
//! A handover seals the new epoch's admin seed to the coordinators'
//! devices at its cut, and a link package carries it to a coordinator's
//! new device. A coordinator who joins by invite, or a member promoted to
//! coordinator, arrives mid-epoch and would otherwise never compact until
//! the next rotation. A device that holds the seed and sees such a device
//! among [`super::removal::admin_holders`] seals the seed to it and appends
//! an **admin grant** (kind 7) to the current epoch's mailbox (and to every
//! bundle). The receiver keeps the seed only if it signs for the admin key
//! it already holds for that epoch, so a grant can carry the real seed or
//! nothing, whoever made it.
//!
//! Wire body: `epoch u32 | recipient count u16 | device id [8]* | age file`.

use super::epoch::{AdminKey, AdminSeed};
use super::rotation::{RotationError, open_admin_seed, seal_admin_seed, write_devices};
use crate::model::DeviceId;

/// An epoch mailbox's admin seed sealed to coordinators' devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminGrant {
    /// The epoch whose mailbox the seed administers (the envelope's).
    pub epoch: u32,
    /// The devices that can open it.
    pub recipients: Vec<DeviceId>,
    /// The age file holding the seed.
    pub sealed_seed: Vec<u8>,
}

impl AdminGrant {
    /// Seals `seed` to `devices` (id and age recipient); a device whose
    /// recipient does not parse is skipped. [`RotationError::NobodyLeft`]
    /// if none is left.
    pub fn create(
        epoch: u32,
        seed: &AdminSeed,
        devices: &[(DeviceId, String)],
    ) -> Result<Self, RotationError> {
        let (recipients, sealed_seed) = seal_admin_seed(seed, devices)?;
        if recipients.is_empty() {
            return Err(RotationError::NobodyLeft);
        }
        Ok(Self {
            epoch,
            recipients,
            sealed_seed,
        })
    }

    /// Opens the seed with this device's identity: `None` unless this
    /// device is a recipient and the seed signs for `admin_key`.
    pub fn open(
        &self,
        identity: &age::x25519::Identity,
        admin_key: &AdminKey,
    ) -> Option<AdminSeed> {
        open_admin_seed(identity, &self.sealed_seed, admin_key)
    }

    /// Encodes the grant as an envelope body (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(4 + 2 + 8 * self.recipients.len() + self.sealed_seed.len());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        write_devices(&mut out, &self.recipients);
        out.extend_from_slice(&self.sealed_seed);
        out
    }

    /// Decodes a body written by [`AdminGrant::encode`].
    pub fn decode(body: &[u8]) -> Result<Self, RotationError> {
        let bad = || RotationError::Malformed("truncated admin grant".into());
        let epoch = body.get(..4).ok_or_else(bad)?;
        let epoch = u32::from_be_bytes([epoch[0], epoch[1], epoch[2], epoch[3]]);
        let count = body.get(4..6).ok_or_else(bad)?;
        let count = u16::from_be_bytes([count[0], count[1]]) as usize;
        let mut at = 6usize;
        let mut recipients = Vec::with_capacity(count.min(body.len() / 8));
        for _ in 0..count {
            let id = body.get(at..at + 8).ok_or_else(bad)?;
            recipients.push(DeviceId::from(hex::encode(id)));
            at += 8;
        }
        let sealed_seed = body[at..].to_vec();
        if sealed_seed.is_empty() {
            return Err(RotationError::Malformed("no sealed admin seed".into()));
        }
        Ok(Self {
            epoch,
            recipients,
            sealed_seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_opens_the_seed_only_for_the_admin_key_it_knows() {
        let seed = AdminSeed::from_bytes([4; 32]);
        let (laptop, identity) = (DeviceId::random(), age::x25519::Identity::generate());
        let other = age::x25519::Identity::generate();
        let grant = AdminGrant::create(
            2,
            &seed,
            &[(laptop.clone(), identity.to_public().to_string())],
        )
        .unwrap();
        let grant = AdminGrant::decode(&grant.encode()).unwrap();
        assert_eq!((grant.epoch, grant.recipients.clone()), (2, vec![laptop]));
        assert_eq!(grant.open(&identity, &seed.public()), Some(seed.clone()));
        // Not a recipient: nothing.
        assert_eq!(grant.open(&other, &seed.public()), None);
        // A seed of someone's own, for an admin key the device does not
        // hold: nothing either.
        let own = AdminSeed::from_bytes([5; 32]);
        let forged = AdminGrant::create(
            2,
            &own,
            &[(DeviceId::random(), identity.to_public().to_string())],
        )
        .unwrap();
        assert_eq!(forged.open(&identity, &seed.public()), None);
    }

    #[test]
    fn damaged_admin_grants_are_refused_not_panicked_on() {
        let seed = AdminSeed::from_bytes([4; 32]);
        let id = age::x25519::Identity::generate();
        let body = AdminGrant::create(
            1,
            &seed,
            &[(DeviceId::random(), id.to_public().to_string())],
        )
        .unwrap()
        .encode();
        for len in 0..15 {
            assert!(AdminGrant::decode(&body[..len]).is_err());
        }
        let mut many = body[..4].to_vec();
        many.extend_from_slice(&u16::MAX.to_be_bytes());
        assert!(AdminGrant::decode(&many).is_err());
        assert!(AdminGrant::create(1, &seed, &[(DeviceId::random(), "not a key".into())]).is_err());
    }
}
