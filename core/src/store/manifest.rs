//! The manifest: the one file that says which chunks make up each document,
//! and holds the small ones itself.
//!
//! A write is durable exactly when the manifest that references it is. The
//! manifest lives in two slot files, each commit overwriting the older one
//! (`DocumentStore::commit`); the newest slot that opens is the manifest,
//! so after a crash the store is either before or after a write, never in
//! between; chunk files that no manifest references are garbage and are
//! swept on the next open. The generation says which slot is newer.
//!
//! A chunk is a file of its own or, when small, inline: its bytes inside
//! the manifest, sealed and authenticated with it (`"SSM3"`; `"SSM2"` named
//! a file for every chunk). Each slot holds a whole manifest with its
//! inline chunks, so the two-slot commit covers them as it covers names.
//!
//! Plaintext layout (all integers little-endian), sealed and padded:
//!
//! ```text
//! "SSM3" | u64 generation | u32 document count |
//!   per document: 16-byte id | u8 has snapshot | [chunk | u64 snapshot
//!   length] | u32 increment count | u64 total increment length | chunk...
//! chunk: u8 0 | 16-byte chunk file name
//!      | u8 1 | u32 length | bytes
//! ```

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::document_id::DocumentId;
use super::error::StoreError;

const MAGIC: &[u8; 4] = b"SSM3";

/// A chunk file's random 16-byte name; on disk it is the file name in hex.
pub(crate) type ChunkName = [u8; 16];

/// Where one chunk's bytes are.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// In a file of its own, by name.
    File(ChunkName),
    /// Inside the manifest: the bytes themselves (a document's plaintext,
    /// wiped from memory when dropped).
    Inline(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for Chunk {
    // Never the bytes: they are a document's plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(name) => write!(f, "File({})", hex::encode(name)),
            Self::Inline(bytes) => write!(f, "Inline({} bytes)", bytes.len()),
        }
    }
}

impl Chunk {
    /// How many bytes it keeps inside the manifest.
    pub(crate) fn inline_len(&self) -> usize {
        match self {
            Self::File(_) => 0,
            Self::Inline(bytes) => bytes.len(),
        }
    }
}

/// Where one document's bytes live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DocumentEntry {
    pub snapshot: Option<(Chunk, u64)>,
    pub increments: Vec<Chunk>,
    pub increment_bytes: u64,
}

impl DocumentEntry {
    fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        self.snapshot
            .iter()
            .map(|(chunk, _)| chunk)
            .chain(self.increments.iter())
    }

    /// How many bytes of its chunks are inline.
    pub(crate) fn inline_bytes(&self) -> usize {
        self.chunks().map(Chunk::inline_len).sum()
    }

    /// Whether `next` (this document's entry after a commit, `None` if it
    /// was deleted) no longer holds some inline chunk this one holds. An
    /// append keeps the snapshot and every earlier increment; anything else
    /// replaced the history.
    pub(crate) fn drops_inline_in(&self, next: Option<&DocumentEntry>) -> bool {
        if self.inline_bytes() == 0 {
            return false;
        }
        next.is_none_or(|next| {
            next.snapshot != self.snapshot || !next.increments.starts_with(&self.increments)
        })
    }
}

/// The decoded manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub documents: BTreeMap<DocumentId, DocumentEntry>,
}

impl Manifest {
    /// The plaintext, wiped from memory once sealed (it holds the inline
    /// chunks).
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let inline: usize = self.inline_bytes();
        let mut out = Vec::with_capacity(16 + self.documents.len() * 64 + inline);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&(self.documents.len() as u32).to_le_bytes());
        for (id, entry) in &self.documents {
            out.extend_from_slice(id.as_bytes());
            match &entry.snapshot {
                Some((chunk, len)) => {
                    out.push(1);
                    encode_chunk(&mut out, chunk);
                    out.extend_from_slice(&len.to_le_bytes());
                }
                None => out.push(0),
            }
            out.extend_from_slice(&(entry.increments.len() as u32).to_le_bytes());
            out.extend_from_slice(&entry.increment_bytes.to_le_bytes());
            for chunk in &entry.increments {
                encode_chunk(&mut out, chunk);
            }
        }
        Zeroizing::new(out)
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
                1 => Some((r.chunk()?, r.u64()?)),
                _ => return Err(StoreError::Corrupt("manifest entry flag is invalid".into())),
            };
            let n = r.u32()?;
            let increment_bytes = r.u64()?;
            // Every chunk takes at least 17 bytes: a damaged count cannot
            // reserve more than the manifest could hold.
            let mut increments = Vec::with_capacity((n as usize).min(bytes.len() / 17));
            for _ in 0..n {
                increments.push(r.chunk()?);
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

    /// Every chunk file the manifest references.
    pub(crate) fn files(&self) -> impl Iterator<Item = &ChunkName> {
        self.documents
            .values()
            .flat_map(DocumentEntry::chunks)
            .filter_map(|chunk| match chunk {
                Chunk::File(name) => Some(name),
                Chunk::Inline(_) => None,
            })
    }

    /// How many bytes of chunks the manifest holds inline.
    pub(crate) fn inline_bytes(&self) -> usize {
        self.documents
            .values()
            .map(DocumentEntry::inline_bytes)
            .sum()
    }

    /// How many it holds inline besides document `id`'s (whose history a
    /// snapshot is about to replace).
    pub(crate) fn inline_bytes_besides(&self, id: &DocumentId) -> usize {
        let own = self
            .documents
            .get(id)
            .map_or(0, DocumentEntry::inline_bytes);
        self.inline_bytes() - own
    }

    /// Whether `next` no longer holds some inline chunk this manifest
    /// holds: then this manifest's slot holds bytes that were dropped.
    pub(crate) fn drops_inline_in(&self, next: &Manifest) -> bool {
        self.documents
            .iter()
            .any(|(id, entry)| entry.drops_inline_in(next.documents.get(id)))
    }
}

fn encode_chunk(out: &mut Vec<u8>, chunk: &Chunk) {
    match chunk {
        Chunk::File(name) => {
            out.push(0);
            out.extend_from_slice(name);
        }
        Chunk::Inline(bytes) => {
            out.push(1);
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
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

    fn chunk(&mut self) -> Result<Chunk, StoreError> {
        match self.take(1)?[0] {
            0 => Ok(Chunk::File(self.array()?)),
            1 => {
                let len = self.u32()? as usize;
                Ok(Chunk::Inline(Zeroizing::new(self.take(len)?.to_vec())))
            }
            _ => Err(StoreError::Corrupt("manifest chunk flag is invalid".into())),
        }
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
                snapshot: Some((Chunk::File([2; 16]), 300)),
                increments: vec![
                    Chunk::File([3; 16]),
                    Chunk::Inline(Zeroizing::new(b"inline".to_vec())),
                    Chunk::File([4; 16]),
                ],
                increment_bytes: 99,
            },
        );
        m.documents
            .insert(DocumentId([5; 16]), DocumentEntry::default());
        assert_eq!(Manifest::decode(&m.encode()).expect("decode"), m);
        assert_eq!(m.files().count(), 3);
        assert_eq!(m.inline_bytes(), 6);
    }

    #[test]
    fn truncated_manifest_is_corrupt_not_a_panic() {
        let mut m = Manifest::default();
        m.documents.insert(
            DocumentId([1; 16]),
            DocumentEntry {
                snapshot: Some((Chunk::Inline(Zeroizing::new(vec![7; 40])), 40)),
                increments: vec![Chunk::File([3; 16])],
                increment_bytes: 0,
            },
        );
        let bytes = m.encode();
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err());
        }
    }
}
