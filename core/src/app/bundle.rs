//! Offline bundles: syncing face to face, with no network at all.
//!
//! A bundle is one standard age file, sealed to the space's current content
//! key, so only members can open it however it travels (file share, AirDrop,
//! nearby share, a USB stick). Inside, a padding frame holds:
//!
//! ```text
//! "SSB1" | space id [16] | epoch u32 | count u32 | (length u32 | envelope)*
//! ```
//!
//! with envelopes as on the wire (protocol.md §3): one `Snapshot` of the
//! exporting device's whole document, signed by that device, and one
//! `AttendanceRequest` per sign-up this device is still waiting to have
//! recorded. Importing checks every change the importer lacks on its own
//! (protocol::exchange::import_history) and hands attendance requests to the
//! importer if it is a cleared lead of the session. Importing a bundle twice
//! changes nothing.

use crate::crypto::SymmetricKey;
use crate::crypto::padding::{open_padded, seal_padded_to};
use crate::protocol::SpaceId;

use super::error::{AppError, AppResult, InputSource};

const MAGIC: &[u8; 4] = b"SSB1";

/// A bundle's parsed contents.
pub(crate) struct BundleContents {
    pub(crate) space: SpaceId,
    /// The exporter's epoch; envelopes carry their own, which is what counts.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) epoch: u32,
    pub(crate) envelopes: Vec<Vec<u8>>,
}

pub(crate) fn seal_bundle(
    keys: &[&SymmetricKey],
    space: SpaceId,
    epoch: u32,
    envelopes: &[Vec<u8>],
) -> AppResult<Vec<u8>> {
    let mut frame = Vec::new();
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&space.0);
    frame.extend_from_slice(&epoch.to_be_bytes());
    frame.extend_from_slice(&(envelopes.len() as u32).to_be_bytes());
    for envelope in envelopes {
        frame.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
        frame.extend_from_slice(envelope);
    }
    seal_padded_to(keys, &frame).map_err(|e| AppError::internal("sealing a bundle", e))
}

/// Opens a bundle with `key`; `None` if it was not sealed to that key.
pub(crate) fn open_bundle(key: &SymmetricKey, bundle: &[u8]) -> Option<AppResult<BundleContents>> {
    let frame = open_padded(key, bundle).ok()?;
    Some(parse(&frame))
}

fn parse(frame: &[u8]) -> AppResult<BundleContents> {
    let bad = || AppError::refused(InputSource::Bundle, "it is damaged");
    let u32_at = |at: usize| -> AppResult<usize> {
        frame
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from_be_bytes(b) as usize)
            .ok_or_else(bad)
    };
    if frame.get(0..4) != Some(MAGIC.as_slice()) {
        return Err(bad());
    }
    let mut space = [0u8; 16];
    space.copy_from_slice(frame.get(4..20).ok_or_else(bad)?);
    let epoch = u32_at(20)? as u32;
    let count = u32_at(24)?;
    let mut at = 28;
    let mut envelopes = Vec::with_capacity(count.min(frame.len() / 4));
    for _ in 0..count {
        let len = u32_at(at)?;
        at += 4;
        envelopes.push(frame.get(at..at + len).ok_or_else(bad)?.to_vec());
        at += len;
    }
    if at != frame.len() {
        return Err(bad());
    }
    Ok(BundleContents {
        space: SpaceId(space),
        epoch,
        envelopes,
    })
}

/// A device's key as a space records it (one definition, in the protocol).
pub(crate) use crate::protocol::exchange::device_key;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_refused() {
        let key = SymmetricKey::generate();
        let sealed = seal_bundle(
            &[&key],
            SpaceId([1; 16]),
            2,
            &[b"one".to_vec(), b"two".to_vec()],
        )
        .unwrap();
        let contents = open_bundle(&key, &sealed).unwrap().unwrap();
        assert_eq!(contents.space, SpaceId([1; 16]));
        assert_eq!(contents.epoch, 2);
        assert_eq!(contents.envelopes, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(open_bundle(&SymmetricKey::generate(), &sealed).is_none());
        assert!(parse(b"SSB1").is_err());
        assert!(parse(b"nope").is_err());
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(&[0; 16]);
        frame.extend_from_slice(&0u32.to_be_bytes());
        frame.extend_from_slice(&9u32.to_be_bytes());
        assert!(parse(&frame).is_err());
    }
}
