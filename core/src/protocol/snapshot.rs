//! The body of a snapshot envelope (kind 2, protocol.md §3 and §4): a whole
//! automerge document, the attestations that prove who wrote each of its
//! changes, and the envelope numbers its author vouches for (protocol.md
//! §3, "Sequence numbers"), so that a device that reads the snapshot
//! instead of the envelopes a compaction deleted sees no gap.
//!
//! ```text
//! document length u32 | document | count u16 | attestation [112]*
//!   | count u16 | (device [8] | through u64 | ranges u8 | (first u64 | last u64)*)*
//! ```

use crate::model::DeviceId;

use super::attestation::{ATTESTATION_LEN, Attestation};

/// Most attestations one snapshot carries: one per device that ever wrote.
const MAX_ATTESTATIONS: usize = 4_096;

/// Most devices a snapshot vouches for numbers of.
const MAX_VOUCHED: usize = 4_096;

/// Most ranges above `through` a snapshot vouches for, per device: the
/// same bound a receiver keeps (`app::author_sequences`).
pub const MAX_VOUCHED_RANGES: usize = 64;

/// The envelope numbers of one author device, in the snapshot's epoch's
/// mailbox, that a snapshot's author has seen (or, for its own device,
/// used): every number from 1 through `through`, and each inclusive range
/// in `ahead`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vouched {
    /// The author device.
    pub device: DeviceId,
    /// Every number from 1 through this one.
    pub through: u64,
    /// Ranges `(first, last)` above `through + 1`: ascending, disjoint and
    /// not touching each other or `through`.
    pub ahead: Vec<(u64, u64)>,
}

/// A snapshot's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotBody {
    /// The document, as `save` writes it.
    pub document: Vec<u8>,
    /// The newest attestation its author holds for each device.
    pub attestations: Vec<Attestation>,
    /// The numbers its author vouches for, by device id ascending.
    pub vouched: Vec<Vouched>,
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
        // Only what decodes: a device id of 16 hex digits, ranges that are
        // well formed and within bounds. A device's own state never breaks
        // these, so nothing is lost in practice.
        let mut vouched: Vec<([u8; 8], &Vouched)> = self
            .vouched
            .iter()
            .filter(|v| well_formed(v.through, &v.ahead))
            .filter_map(|v| device_bytes(&v.device).map(|d| (d, v)))
            .collect();
        vouched.sort_by_key(|v| v.0);
        vouched.dedup_by(|a, b| a.0 == b.0);
        vouched.truncate(MAX_VOUCHED);
        out.extend_from_slice(&(vouched.len() as u16).to_be_bytes());
        for (device, v) in vouched {
            out.extend_from_slice(&device);
            out.extend_from_slice(&v.through.to_be_bytes());
            out.push(v.ahead.len() as u8);
            for (first, last) in &v.ahead {
                out.extend_from_slice(&first.to_be_bytes());
                out.extend_from_slice(&last.to_be_bytes());
            }
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
        let start = at + 2;
        let end = count
            .checked_mul(ATTESTATION_LEN)
            .and_then(|n| n.checked_add(start))
            .filter(|end| *end <= body.len() && count <= MAX_ATTESTATIONS)
            .ok_or(SnapshotError("attestation list does not match its count"))?;
        let attestations = body[start..end]
            .chunks(ATTESTATION_LEN)
            .map(Attestation::decode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| SnapshotError("bad attestation"))?;
        let vouched = decode_vouched(&body[end..])?;
        Ok(SnapshotBody {
            document,
            attestations,
            vouched,
        })
    }
}

fn device_bytes(device: &DeviceId) -> Option<[u8; 8]> {
    let mut out = [0u8; 8];
    hex::decode_to_slice(device.as_str(), &mut out).ok()?;
    Some(out)
}

/// Whether `ahead` is a list of ranges a receiver could hold above
/// `through`: ascending, disjoint, each one past the number after the
/// previous (so none could have been merged into it), within bounds.
fn well_formed(through: u64, ahead: &[(u64, u64)]) -> bool {
    let mut after = through;
    for (first, last) in ahead {
        if *first <= after.saturating_add(1) || first > last {
            return false;
        }
        after = *last;
    }
    ahead.len() <= MAX_VOUCHED_RANGES
}

/// The vouched numbers at the end of a body, refusing anything a writer
/// following protocol.md §3 would not produce, and trailing bytes.
fn decode_vouched(mut rest: &[u8]) -> Result<Vec<Vouched>, SnapshotError> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], SnapshotError> {
        if rest.len() < n {
            return Err(SnapshotError("vouched numbers truncated"));
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn u64_of(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        u64::from_be_bytes(b)
    }
    let count = take(&mut rest, 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)?;
    if count > MAX_VOUCHED {
        return Err(SnapshotError("too many devices vouched for"));
    }
    let mut out: Vec<Vouched> = Vec::with_capacity(count.min(rest.len() / 17));
    let mut previous: Option<[u8; 8]> = None;
    for _ in 0..count {
        let mut device = [0u8; 8];
        device.copy_from_slice(take(&mut rest, 8)?);
        if previous.is_some_and(|p| p >= device) {
            return Err(SnapshotError("vouched devices out of order"));
        }
        previous = Some(device);
        let through = u64_of(take(&mut rest, 8)?);
        let ranges = take(&mut rest, 1)?[0] as usize;
        let mut ahead = Vec::with_capacity(ranges);
        for _ in 0..ranges {
            let first = u64_of(take(&mut rest, 8)?);
            let last = u64_of(take(&mut rest, 8)?);
            ahead.push((first, last));
        }
        if !well_formed(through, &ahead) {
            return Err(SnapshotError("vouched ranges out of order"));
        }
        out.push(Vouched {
            device: DeviceId::from(hex::encode(device)),
            through,
            ahead,
        });
    }
    if !rest.is_empty() {
        return Err(SnapshotError("trailing bytes"));
    }
    Ok(out)
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
            vouched: vec![
                vouched("0102030405060708", 4, &[(6, 9), (11, 11)]),
                vouched("0a0b0c0d0e0f1011", 0, &[]),
            ],
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

    fn vouched(device: &str, through: u64, ahead: &[(u64, u64)]) -> Vouched {
        Vouched {
            device: DeviceId::from(device.to_string()),
            through,
            ahead: ahead.to_vec(),
        }
    }

    /// One device's vouched numbers as the test writes them: id, through,
    /// ranges.
    type Entry<'a> = ([u8; 8], u64, &'a [(u64, u64)]);

    /// The vouched section of a body with no document and no attestations.
    fn section(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 0, 0, 0];
        out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for (device, through, ahead) in entries {
            out.extend_from_slice(device);
            out.extend_from_slice(&through.to_be_bytes());
            out.push(ahead.len() as u8);
            for (first, last) in *ahead {
                out.extend_from_slice(&first.to_be_bytes());
                out.extend_from_slice(&last.to_be_bytes());
            }
        }
        out
    }

    #[test]
    fn vouched_numbers_a_writer_would_not_produce_are_refused() {
        let one = [1u8; 8];
        let two = [2u8; 8];
        assert!(SnapshotBody::decode(&section(&[(one, 3, &[(5, 7)]), (two, 0, &[])])).is_ok());
        for bad in [
            // Devices out of order, or twice.
            section(&[(two, 0, &[]), (one, 0, &[])]),
            section(&[(one, 0, &[]), (one, 1, &[])]),
            // A range touching `through` (it would be part of it).
            section(&[(one, 3, &[(4, 7)])]),
            // Ranges overlapping, touching or descending; a range backwards.
            section(&[(one, 3, &[(5, 7), (7, 9)])]),
            section(&[(one, 3, &[(5, 7), (8, 9)])]),
            section(&[(one, 3, &[(9, 10), (5, 6)])]),
            section(&[(one, 3, &[(6, 5)])]),
        ] {
            assert!(SnapshotBody::decode(&bad).is_err(), "{bad:?}");
        }
        let many: Vec<(u64, u64)> = (0..=MAX_VOUCHED_RANGES as u64)
            .map(|i| (10 + 3 * i, 10 + 3 * i))
            .collect();
        assert!(SnapshotBody::decode(&section(&[(one, 0, &many)])).is_err());
        assert!(SnapshotBody::decode(&section(&[(one, 0, &many[1..])])).is_ok());
    }

    #[test]
    fn a_writer_leaves_out_what_a_reader_would_refuse() {
        let body = SnapshotBody {
            document: Vec::new(),
            attestations: Vec::new(),
            vouched: vec![
                vouched("0202020202020202", 1, &[]),
                vouched("not hex", 1, &[]),
                vouched("0101010101010101", 3, &[(4, 5)]),
                vouched("0101010101010101", 2, &[]),
            ],
        };
        let decoded = SnapshotBody::decode(&body.encode()).unwrap();
        assert_eq!(
            decoded.vouched,
            vec![
                vouched("0101010101010101", 2, &[]),
                vouched("0202020202020202", 1, &[])
            ]
        );
    }
}
