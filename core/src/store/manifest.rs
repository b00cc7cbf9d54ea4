//! The manifest: the one file that says which chunks make up each document.
//!
//! A write is durable exactly when the manifest that references it is. The
//! manifest lives in two slot files, each commit overwriting the older one
//! (`DocumentStore::commit`); the newest slot that opens is the manifest,
//! so after a crash the store is either before or after a write, never in
//! between; chunks that no manifest references are garbage and are swept
//! on the next open. The generation says which slot is newer (`"SSM2"`:
//! since the two slots; `"SSM1"` was one file replaced by a rename).
//!
//! Plaintext layout (all integers little-endian), sealed and padded:
//!
//! ```text
//! "SSM2" | u64 generation | u32 document count |
//!   per document: 16-byte id | u8 has snapshot | [16-byte snapshot chunk |
//!   u64 snapshot length] | u32 increment count | u64 total increment length |
//!   16-byte increment chunk names...
//! ```

use std::collections::BTreeMap;

use super::document_id::DocumentId;
use super::error::StoreError;

const MAGIC: &[u8; 4] = b"SSM2";

/// A chunk's random 16-byte name; on disk it is the file name in hex.
pub(crate) type ChunkName = [u8; 16];

/// Where one document's bytes live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DocumentEntry {
    pub snapshot: Option<(ChunkName, u64)>,
    pub increments: Vec<ChunkName>,
    pub increment_bytes: u64,
}

/// The decoded manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub documents: BTreeMap<DocumentId, DocumentEntry>,
}

impl Manifest {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.documents.len() * 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&(self.documents.len() as u32).to_le_bytes());
        for (id, entry) in &self.documents {
            out.extend_from_slice(id.as_bytes());
            match &entry.snapshot {
                Some((name, len)) => {
                    out.push(1);
                    out.extend_from_slice(name);
                    out.extend_from_slice(&len.to_le_bytes());
                }
                None => out.push(0),
            }
            out.extend_from_slice(&(entry.increments.len() as u32).to_le_bytes());
            out.extend_from_slice(&entry.increment_bytes.to_le_bytes());
            for name in &entry.increments {
                out.extend_from_slice(name);
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err(StoreError::Corrupt("manifest has an unknown format".into()));
        }
        let generation = r.u64()?;
        let count = r.u32()?;
        let mut documents = BTreeMap::new();
        for _ in 0..count {
            let id = DocumentId(r.array()?);
            let snapshot = match r.take(1)?[0] {
                0 => None,
                1 => Some((r.array()?, r.u64()?)),
                _ => return Err(StoreError::Corrupt("manifest entry flag is invalid".into())),
            };
            let n = r.u32()?;
            let increment_bytes = r.u64()?;
            let mut increments = Vec::with_capacity((n as usize).min(bytes.len() / 16));
            for _ in 0..n {
                increments.push(r.array()?);
            }
            documents.insert(
                id,
                DocumentEntry {
                    snapshot,
                    increments,
                    increment_bytes,
                },
            );
        }
        if !r.0.is_empty() {
            return Err(StoreError::Corrupt("manifest has trailing bytes".into()));
        }
        Ok(Self {
            generation,
            documents,
        })
    }

    /// Every chunk the manifest references.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &ChunkName> {
        self.documents.values().flat_map(|e| {
            e.snapshot
                .iter()
                .map(|(name, _)| name)
                .chain(e.increments.iter())
        })
    }
}

/// A bounds-checked cursor: manifest bytes are authenticated, but a decoder
/// that trusts lengths is one bug away from a panic on a damaged file.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(StoreError::Corrupt("manifest is truncated".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips() {
        let mut m = Manifest {
            generation: 7,
            ..Default::default()
        };
        m.documents.insert(
            DocumentId([1; 16]),
            DocumentEntry {
                snapshot: Some(([2; 16], 300)),
                increments: vec![[3; 16], [4; 16]],
                increment_bytes: 99,
            },
        );
        m.documents
            .insert(DocumentId([5; 16]), DocumentEntry::default());
        assert_eq!(Manifest::decode(&m.encode()).expect("decode"), m);
        assert_eq!(m.chunks().count(), 3);
    }

    #[test]
    fn truncated_manifest_is_corrupt_not_a_panic() {
        let mut m = Manifest::default();
        m.documents
            .insert(DocumentId([1; 16]), DocumentEntry::default());
        let bytes = m.encode();
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err());
        }
    }
}
