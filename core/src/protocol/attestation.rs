//! Attestations: proof of authorship that outlives the envelope a change
//! first travelled in (protocol.md §4, "Authorship in snapshots").
//!
//! A device signs, with its own key, the newest of its own changes:
//!
//! ```text
//! "safespaces/v2/attest" | space id [16] | device id [8] | seq u64 | change hash [32]
//! ```
//!
//! Each device writes with its device id as automerge actor, and each of
//! its changes depends (directly or not) on its previous one, so the signed
//! change and its causal past hold every change the device made up to that
//! sequence number. A change attributed to a device is therefore proven to
//! be that device's when it is the attested change or causally before it
//! and carries the device's actor: nobody else can produce a change with
//! that hash, and an honest device never holds a change under its own actor
//! that it did not make. Every change batch carries its author's
//! attestation of the batch's newest change; every snapshot carries the
//! newest attestation its author holds for each device, so a device that
//! catches up from another member's snapshot trusts her for nothing.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::envelope::SpaceId;
use crate::model::DeviceId;

const CONTEXT: &[u8] = b"safespaces/v2/attest";

/// Bytes of an encoded attestation: device, sequence, hash, signature.
pub const ATTESTATION_LEN: usize = 8 + 8 + 32 + 64;

/// A device's signed statement that a change of its own, and every change
/// of its own causally before it, is its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// The device that made the changes and signed this.
    pub device: DeviceId,
    /// The sequence number of the attested change (automerge's, per actor).
    pub seq: u64,
    /// The attested change.
    pub hash: ChangeHash,
    /// The device's Ed25519 signature.
    pub signature: [u8; 64],
}

/// Why an attestation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// Not the encoding of an attestation.
    #[error("malformed attestation")]
    Malformed,
    /// The signature does not verify under the device's key.
    #[error("the attestation is not signed by the device it names")]
    BadSignature,
    /// It names another change than the batch it travels with ends in.
    #[error("the attestation does not name the batch's newest change")]
    WrongChange,
}

fn message(space: SpaceId, device: &DeviceId, seq: u64, hash: &ChangeHash) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + 16 + 8 + 8 + 32);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(&space.0);
    let mut id = [0u8; 8];
    // A device id that is not 16 hex digits signs (and verifies) as zeros:
    // such an id never belongs to a member, so it proves nothing.
    let _ = hex::decode_to_slice(device.as_str(), &mut id);
    m.extend_from_slice(&id);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&hash.0);
    m
}

impl Attestation {
    /// Signs `change` (one of `device`'s own) as `device`'s newest.
    pub fn sign(space: SpaceId, device: &DeviceId, change: &Change, signer: &SigningKey) -> Self {
        let (seq, hash) = (change.seq(), change.hash());
        Self::sign_hash(space, device, seq, hash, signer)
    }

    /// Signs a change given by its sequence number and hash.
    pub fn sign_hash(
        space: SpaceId,
        device: &DeviceId,
        seq: u64,
        hash: ChangeHash,
        signer: &SigningKey,
    ) -> Self {
        let signature = signer.sign(&message(space, device, seq, &hash)).to_bytes();
        Attestation {
            device: device.clone(),
            seq,
            hash,
            signature,
        }
    }

    /// Checks the signature under the device's key, which the caller takes
    /// from its own document, never from the data being verified.
    pub fn verify(&self, space: SpaceId, key: &VerifyingKey) -> Result<(), AttestationError> {
        key.verify(
            &message(space, &self.device, self.seq, &self.hash),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| AttestationError::BadSignature)
    }

    /// `device [8] | seq u64 | hash [32] | signature [64]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ATTESTATION_LEN);
        let mut id = [0u8; 8];
        let _ = hex::decode_to_slice(self.device.as_str(), &mut id);
        out.extend_from_slice(&id);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.hash.0);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes [`Attestation::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, AttestationError> {
        if bytes.len() != ATTESTATION_LEN {
            return Err(AttestationError::Malformed);
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[16..48]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[48..]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[8..16]);
        Ok(Attestation {
            device: DeviceId::from(hex::encode(&bytes[..8])),
            seq: u64::from_be_bytes(seq),
            hash: ChangeHash(hash),
            signature,
        })
    }

    /// Of two attestations by one device, the one covering more: the higher
    /// sequence number (an honest device's changes form one chain).
    pub fn newer<'a>(a: &'a Attestation, b: &'a Attestation) -> &'a Attestation {
        if b.seq > a.seq { b } else { a }
    }
}

/// Which of a set of changes (in causal order, as `get_changes` yields them)
/// each attestation reaches: the attested change and every change of the set
/// causally before it, as far as the set goes. Built once, backwards over
/// the set, with one bit per attestation.
pub struct Coverage {
    marks: HashMap<ChangeHash, Vec<u64>>,
}

impl Coverage {
    /// Marks, for every change of `changes`, the attestations that reach it.
    pub fn new(changes: &[Change], attestations: &[Attestation]) -> Self {
        let words = attestations.len().div_ceil(64).max(1);
        let in_set: HashSet<ChangeHash> = changes.iter().map(Change::hash).collect();
        let mut marks: HashMap<ChangeHash, Vec<u64>> = HashMap::new();
        for (bit, a) in attestations.iter().enumerate() {
            if in_set.contains(&a.hash) {
                marks.entry(a.hash).or_insert_with(|| vec![0; words])[bit / 64] |= 1 << (bit % 64);
            }
        }
        for change in changes.iter().rev() {
            let Some(mark) = marks.get(&change.hash()).cloned() else {
                continue;
            };
            for dep in change.deps() {
                if in_set.contains(dep) {
                    let into = marks.entry(*dep).or_insert_with(|| vec![0; words]);
                    for (w, m) in into.iter_mut().zip(&mark) {
                        *w |= m;
                    }
                }
            }
        }
        Coverage { marks }
    }

    /// The indices of the attestations that reach `change`.
    pub fn covering(&self, change: &ChangeHash) -> Vec<usize> {
        let Some(mark) = self.marks.get(change) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (w, word) in mark.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                out.push(w * 64 + bit);
                bits &= bits - 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestations_round_trip_and_bind_space_device_and_change() {
        let signer = SigningKey::from_bytes(&[3; 32]);
        let device = DeviceId::from("0102030405060708".to_string());
        let space = SpaceId([5; 16]);
        let a = Attestation::sign_hash(space, &device, 7, ChangeHash([9; 32]), &signer);
        let back = Attestation::decode(&a.encode()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.verify(space, &signer.verifying_key()), Ok(()));
        assert!(
            back.verify(SpaceId([6; 16]), &signer.verifying_key())
                .is_err()
        );
        let mut other = back.clone();
        other.seq = 8;
        assert!(other.verify(space, &signer.verifying_key()).is_err());
        let stranger = SigningKey::from_bytes(&[4; 32]);
        assert!(back.verify(space, &stranger.verifying_key()).is_err());
        assert_eq!(
            Attestation::decode(&[0; 10]),
            Err(AttestationError::Malformed)
        );
    }
}
