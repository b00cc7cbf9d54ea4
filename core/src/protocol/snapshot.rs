//! The body of a snapshot envelope (kind 2, protocol.md §3 and §4): a whole
//! automerge document and the attestations that prove who wrote each of
//! its changes.
//!
//! ```text
//! document length u32 | document | count u16 | attestation [112]*
//! ```

use super::attestation::{ATTESTATION_LEN, Attestation};

/// Most attestations one snapshot carries: one per device that ever wrote.
const MAX_ATTESTATIONS: usize = 4_096;

/// A snapshot's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotBody {
    /// The document, as `save` writes it.
    pub document: Vec<u8>,
    /// The newest attestation its author holds for each device.
    pub attestations: Vec<Attestation>,
}

/// Why a snapshot body was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed snapshot: {0}")]
pub struct SnapshotError(&'static str);

impl SnapshotBody {
    /// The encoded body.
    pub fn encode(&self) -> Vec<u8> {
        let count = self.attestations.len().min(MAX_ATTESTATIONS);
        let mut out = Vec::with_capacity(4 + self.document.len() + 2 + count * ATTESTATION_LEN);
        out.extend_from_slice(&(self.document.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.document);
        out.extend_from_slice(&(count as u16).to_be_bytes());
        for a in self.attestations.iter().take(count) {
            out.extend_from_slice(&a.encode());
        }
        out
    }

    /// Decodes an encoded body, refusing any inconsistency.
    pub fn decode(body: &[u8]) -> Result<Self, SnapshotError> {
        let len = body
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(SnapshotError("truncated"))?;
        let document = body
            .get(4..4 + len)
            .ok_or(SnapshotError("document truncated"))?
            .to_vec();
        let at = 4 + len;
        let count = body
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
            .ok_or(SnapshotError("truncated"))?;
        let list = &body[at + 2..];
        if list.len() != count * ATTESTATION_LEN || count > MAX_ATTESTATIONS {
            return Err(SnapshotError("attestation list does not match its count"));
        }
        let attestations = list
            .chunks(ATTESTATION_LEN)
            .map(Attestation::decode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| SnapshotError("bad attestation"))?;
        Ok(SnapshotBody {
            document,
            attestations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceId;
    use automerge::ChangeHash;

    #[test]
    fn bodies_round_trip_and_damage_is_refused() {
        let a = Attestation {
            device: DeviceId::from("0102030405060708".to_string()),
            seq: 3,
            hash: ChangeHash([1; 32]),
            signature: [2; 64],
        };
        let body = SnapshotBody {
            document: b"doc".to_vec(),
            attestations: vec![a.clone(), a],
        };
        let bytes = body.encode();
        assert_eq!(SnapshotBody::decode(&bytes), Ok(body));
        for cut in 0..bytes.len() {
            assert!(SnapshotBody::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SnapshotBody::decode(&longer).is_err());
    }
}
