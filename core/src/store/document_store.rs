//! The encrypted, crash-safe document store.
//!
//! Each document is a snapshot chunk plus incremental chunks, exactly the
//! bytes automerge's `save()` and `save_incremental()` produce. A large
//! chunk is its own file, sealed with a per-document subkey of the storage
//! key and padded to a size bucket; its name is 16 random bytes in hex. A
//! small one is kept inside the manifest (see `manifest`), which maps
//! document ids to their chunks and is the commit point.
//!
//! A write is: seal a large chunk and create it durably under a fresh name,
//! then commit a manifest that references it (or holds it, when small).
//! The manifest lives in two slot files; a commit overwrites, in place, the
//! slot that does not hold the current manifest and syncs it, and the
//! newest slot that opens is the manifest. Only then does the call return
//! `Ok`, so an acknowledged write survives `kill -9` (and power loss), and
//! a kill at any earlier instant leaves the previous manifest in the other
//! slot (a torn slot does not open) with at most an unreferenced chunk,
//! swept on the next open. No
//! temporary file, rename or directory sync per commit: on the write path
//! of every edit and every receive, those were most of the commit's cost;
//! and an edit's small increment needs no file of its own, so it is one
//! slot write and one `fdatasync`. A commit that drops inline chunks (a
//! snapshot replacing a history, a deletion) also overwrites the older
//! slot, which held them, with the new manifest: dropped bytes go as soon
//! as a dropped chunk file's do.
//!
//! Each chunk's plaintext starts with its kind, its document id and its own
//! name, checked on read, so a chunk file swapped for another (by someone
//! with write access to the disk) fails instead of being served as the wrong
//! document or the wrong position in the history.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use automerge::AutoCommit;
use rand::RngCore;
use rand::rngs::OsRng;

use super::atomic_file;
use super::document_id::DocumentId;
use super::error::StoreError;
use super::manifest::{Chunk, ChunkName, DocumentEntry, Manifest};
use crate::crypto::SymmetricKey;
use crate::crypto::padding::{open_padded, seal_padded};

/// Compact a document once it has this many incremental chunks…
pub const COMPACT_AFTER_INCREMENTS: usize = 64;
/// …or once its increments hold more bytes than its snapshot (and at least
/// this many), whichever comes first.
pub const COMPACT_AFTER_INCREMENT_BYTES: u64 = 64 * 1024;

/// A chunk of at most this many bytes is kept inside the manifest…
pub const INLINE_CHUNK_MAX: usize = 24 * 1024;
/// …while the manifest's inline chunks stay within this many bytes in all:
/// the most every commit rewrites besides chunk names.
pub const INLINE_BUDGET: usize = 64 * 1024;

const KIND_SNAPSHOT: u8 = 1;
const KIND_INCREMENT: u8 = 2;

/// A document as stored: the latest snapshot and the increments after it, in
/// the order they were appended. Loading the snapshot and then each increment
/// with automerge reproduces the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// The last full save, if any.
    pub snapshot: Option<Vec<u8>>,
    /// Incremental saves appended since the snapshot, oldest first.
    pub increments: Vec<Vec<u8>>,
}

/// The encrypted document store of one profile. Reached through
/// `Profile`, which owns its key.
pub(crate) struct DocumentStore {
    dir: PathBuf,
    key: SymmetricKey,
    manifest_key: SymmetricKey,
    /// The two manifest slots' file names.
    slot_names: [String; 2],
    /// The slots' files, opened on first use and kept open.
    slot_files: [Option<File>; 2],
    /// Which slot holds `manifest`: the next commit writes the other.
    current: usize,
    manifest: Manifest,
}

impl std::fmt::Debug for DocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentStore")
            .field("dir", &self.dir)
            .field("documents", &self.manifest.documents.len())
            .finish_non_exhaustive()
    }
}

impl DocumentStore {
    /// The manifest slots' file names for a storage key: keyed hashes, so
    /// they look like any chunk name yet are found again without a
    /// directory listing.
    pub(crate) fn manifest_file_names(key: &SymmetricKey) -> [String; 2] {
        [b"store/manifest/0".as_slice(), b"store/manifest/1"]
            .map(|label| hex::encode(&key.keyed_name(label)[..16]))
    }

    /// Creates an empty store in `dir` (which must exist) under `key`.
    pub(crate) fn create(dir: &Path, key: SymmetricKey) -> Result<Self, StoreError> {
        // The first commit writes slot 0.
        let mut store = Self::with_manifest(dir, key, Manifest::default(), 1);
        store.commit(Manifest::default())?;
        Ok(store)
    }

    /// Opens the store in `dir` under `key`: the manifest is the slot with
    /// the highest generation that opens. A slot that does not open is a
    /// commit torn by a crash (it was never acknowledged) or damage; only
    /// when neither opens is the store refused.
    pub(crate) fn open(dir: &Path, key: SymmetricKey) -> Result<Self, StoreError> {
        let mut store = Self::with_manifest(dir, key, Manifest::default(), 0);
        let mut found: Option<(usize, Manifest)> = None;
        // The older slot's manifest, when it opens.
        let mut older: Option<Manifest> = None;
        let mut damage = None;
        for slot in 0..2 {
            let path = dir.join(&store.slot_names[slot]);
            let sealed = match fs::read(&path) {
                Ok(sealed) => sealed,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("read manifest", &path)(e)),
            };
            let opened = open_padded(&store.manifest_key, &sealed)
                .map_err(|e| StoreError::Corrupt(format!("manifest does not open: {e}")))
                .and_then(|plain| Manifest::decode(&plain));
            match opened {
                Ok(manifest)
                    if found
                        .as_ref()
                        .is_none_or(|(_, best)| manifest.generation > best.generation) =>
                {
                    older = found.take().map(|(_, m)| m);
                    found = Some((slot, manifest));
                }
                Ok(manifest) => older = Some(manifest),
                Err(e) => damage = Some(e),
            }
        }
        match (found, damage) {
            (Some((slot, manifest)), _) => {
                store.current = slot;
                store.manifest = manifest;
                // A crash between a commit that dropped inline chunks and
                // its overwrite of the older slot left them there: that
                // overwrite is finished now, before anything else runs.
                // Best effort, as there: the store opens either way.
                if older.is_some_and(|older| older.drops_inline_in(&store.manifest)) {
                    let _ = store.overwrite_older_slot();
                }
                Ok(store)
            }
            (None, Some(damage)) => Err(damage),
            // Neither slot exists.
            (None, None) => {
                let path = dir.join(&store.slot_names[0]);
                Err(StoreError::io("read manifest", &path)(io::Error::from(
                    io::ErrorKind::NotFound,
                )))
            }
        }
    }

    fn with_manifest(dir: &Path, key: SymmetricKey, manifest: Manifest, current: usize) -> Self {
        Self {
            dir: dir.to_owned(),
            manifest_key: key.derive(b"store/manifest"),
            slot_names: Self::manifest_file_names(&key),
            slot_files: [None, None],
            current,
            key,
            manifest,
        }
    }

    /// Every file name this store references (the manifest and all chunks).
    pub(crate) fn referenced_files(&self) -> Vec<String> {
        let mut names: Vec<String> = self.manifest.files().map(hex::encode).collect();
        names.extend(self.slot_names.iter().cloned());
        names
    }

    /// The ids of all stored documents.
    pub fn document_ids(&self) -> Vec<DocumentId> {
        self.manifest.documents.keys().copied().collect()
    }

    /// Reads a document, or `None` if it was never stored.
    pub fn get(&self, id: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        let Some(entry) = self.manifest.documents.get(&id) else {
            return Ok(None);
        };
        let snapshot = match &entry.snapshot {
            Some((chunk, _)) => Some(self.read_chunk(id, KIND_SNAPSHOT, chunk)?),
            None => None,
        };
        let increments = entry
            .increments
            .iter()
            .map(|chunk| self.read_chunk(id, KIND_INCREMENT, chunk))
            .collect::<Result<_, _>>()?;
        Ok(Some(StoredDocument {
            snapshot,
            increments,
        }))
    }

    /// Replaces a document's whole history with a full snapshot
    /// (`AutoCommit::save()`); its increments are dropped.
    pub fn put_snapshot(&mut self, id: DocumentId, snapshot: &[u8]) -> Result<(), StoreError> {
        // The document's own inline chunks go with this commit.
        let before = self.manifest.inline_bytes_besides(&id);
        let chunk = self.store_chunk(id, KIND_SNAPSHOT, snapshot, before)?;
        let mut next = self.manifest.clone();
        next.documents.insert(
            id,
            DocumentEntry {
                snapshot: Some((chunk, snapshot.len() as u64)),
                increments: Vec::new(),
                increment_bytes: 0,
            },
        );
        self.commit(next)
    }

    /// Appends incremental changes (`AutoCommit::save_incremental()`), and
    /// compacts the document when its increments have grown past the
    /// thresholds.
    pub fn append_increment(&mut self, id: DocumentId, increment: &[u8]) -> Result<(), StoreError> {
        self.append(id, increment, None::<fn() -> Vec<u8>>, None)
    }

    /// [`DocumentStore::append_increment`] for a caller holding the whole
    /// document in memory: when compaction is due, `whole()` (the document
    /// as it stands with this increment, `AutoCommit::save()`) becomes the
    /// new snapshot, instead of the store reading every chunk back and
    /// replaying them. An app that receives all day compacts at the cost of
    /// one save, not a load and a save, on its write path.
    pub fn append_increment_of(
        &mut self,
        id: DocumentId,
        increment: &[u8],
        whole: impl FnOnce() -> Vec<u8>,
    ) -> Result<(), StoreError> {
        self.append(id, increment, Some(whole), None)
    }

    /// [`DocumentStore::append_increment_of`] and [`DocumentStore::put_snapshot`]
    /// of another document in one commit: both are durable, or neither. A
    /// receive writes the space's increment and the registry that points
    /// past it (its cursor) this way, one commit instead of two.
    pub fn append_increment_with_snapshot(
        &mut self,
        id: DocumentId,
        increment: &[u8],
        whole: impl FnOnce() -> Vec<u8>,
        other: DocumentId,
        snapshot: &[u8],
    ) -> Result<(), StoreError> {
        if other == id {
            // Not one commit's worth: the snapshot would replace the
            // increment it comes with.
            self.append(id, increment, Some(whole), None)?;
            return self.put_snapshot(other, snapshot);
        }
        self.append(id, increment, Some(whole), Some((other, snapshot)))
    }

    fn append(
        &mut self,
        id: DocumentId,
        increment: &[u8],
        whole: Option<impl FnOnce() -> Vec<u8>>,
        with_snapshot: Option<(DocumentId, &[u8])>,
    ) -> Result<(), StoreError> {
        let mut before = self.manifest.inline_bytes();
        let snapshot = match with_snapshot {
            Some((other, bytes)) => {
                // The other document's inline chunks go with this commit.
                before = self.manifest.inline_bytes_besides(&other);
                let chunk = self.store_chunk(other, KIND_SNAPSHOT, bytes, before)?;
                before += chunk.inline_len();
                Some((other, chunk, bytes.len() as u64))
            }
            None => None,
        };
        let mut next = self.manifest.clone();
        if let Some((other, chunk, len)) = snapshot {
            next.documents.insert(
                other,
                DocumentEntry {
                    snapshot: Some((chunk, len)),
                    increments: Vec::new(),
                    increment_bytes: 0,
                },
            );
        }
        let entry = next.documents.entry(id).or_default();
        if fits_inline(increment.len(), before) {
            let bytes = zeroize::Zeroizing::new(increment.to_vec());
            entry.increments.push(Chunk::Inline(bytes));
        } else {
            // The document's latest inline increments go into one chunk
            // file with this one (automerge loads concatenated increments
            // as it loads them one by one), so the manifest sheds them
            // instead of filling up with a document that keeps writing.
            let run = entry
                .increments
                .iter()
                .rposition(|c| matches!(c, Chunk::File(_)))
                .map_or(0, |i| i + 1);
            let mut joined = zeroize::Zeroizing::new(Vec::new());
            for chunk in &entry.increments[run..] {
                if let Chunk::Inline(bytes) = chunk {
                    joined.extend_from_slice(bytes);
                }
            }
            joined.extend_from_slice(increment);
            let name = self.write_chunk(id, KIND_INCREMENT, &joined)?;
            entry.increments.truncate(run);
            entry.increments.push(Chunk::File(name));
        }
        entry.increment_bytes += increment.len() as u64;
        let snapshot_len = entry.snapshot.as_ref().map_or(0, |(_, len)| *len);
        let compact = entry.increments.len() >= COMPACT_AFTER_INCREMENTS
            || entry.increment_bytes > snapshot_len.max(COMPACT_AFTER_INCREMENT_BYTES);
        self.commit(next)?;
        if compact {
            // The increment is already durable; compaction is an optimisation
            // whose failure must not turn an acknowledged write into an error.
            let _ = match whole {
                Some(whole) => self.put_snapshot(id, &whole()),
                None => self.compact(id),
            };
        }
        Ok(())
    }

    /// Folds a document's snapshot and increments into one new snapshot.
    pub fn compact(&mut self, id: DocumentId) -> Result<(), StoreError> {
        let Some(stored) = self.get(id)? else {
            return Ok(());
        };
        if stored.increments.is_empty() {
            return Ok(());
        }
        let fail =
            |e: automerge::AutomergeError| StoreError::Automerge(format!("{id:?}"), e.to_string());
        let mut doc = match &stored.snapshot {
            Some(bytes) => AutoCommit::load(bytes).map_err(fail)?,
            None => AutoCommit::new(),
        };
        for increment in &stored.increments {
            doc.load_incremental(increment).map_err(fail)?;
        }
        let snapshot = doc.save();
        self.put_snapshot(id, &snapshot)
    }

    /// Removes a document and its chunk files.
    pub fn delete(&mut self, id: DocumentId) -> Result<(), StoreError> {
        if !self.manifest.documents.contains_key(&id) {
            return Ok(());
        }
        let mut next = self.manifest.clone();
        next.documents.remove(&id);
        self.commit(next)
    }

    fn chunk_key(&self, id: DocumentId) -> SymmetricKey {
        let mut label = b"store/document/".to_vec();
        label.extend_from_slice(id.as_bytes());
        self.key.derive(&label)
    }

    /// Where `data` goes: inside the manifest when it is small and the
    /// manifest's inline chunks (`before` bytes of them in the manifest
    /// this commit makes, without `data`) stay within budget, else a chunk
    /// file of its own.
    fn store_chunk(
        &self,
        id: DocumentId,
        kind: u8,
        data: &[u8],
        before: usize,
    ) -> Result<Chunk, StoreError> {
        if fits_inline(data.len(), before) {
            return Ok(Chunk::Inline(zeroize::Zeroizing::new(data.to_vec())));
        }
        Ok(Chunk::File(self.write_chunk(id, kind, data)?))
    }

    fn write_chunk(&self, id: DocumentId, kind: u8, data: &[u8]) -> Result<ChunkName, StoreError> {
        let mut name = [0u8; 16];
        OsRng.fill_bytes(&mut name);
        let mut plain = Vec::with_capacity(33 + data.len());
        plain.push(kind);
        plain.extend_from_slice(id.as_bytes());
        plain.extend_from_slice(&name);
        plain.extend_from_slice(data);
        let sealed = seal_padded(&self.chunk_key(id), &plain);
        zeroize::Zeroize::zeroize(&mut plain);
        let file = hex::encode(name);
        atomic_file::create_durable(&self.dir, &file, &sealed?)
            .map_err(StoreError::io("write chunk", self.dir.join(&file)))?;
        Ok(name)
    }

    fn read_chunk(&self, id: DocumentId, kind: u8, chunk: &Chunk) -> Result<Vec<u8>, StoreError> {
        let name = match chunk {
            // Authenticated with the manifest: nothing to check.
            Chunk::Inline(bytes) => return Ok(bytes.to_vec()),
            Chunk::File(name) => name,
        };
        let path = self.dir.join(hex::encode(name));
        let sealed = fs::read(&path).map_err(StoreError::io("read chunk", &path))?;
        let plain = open_padded(&self.chunk_key(id), &sealed).map_err(|e| {
            StoreError::Corrupt(format!("chunk {} does not open: {e}", path.display()))
        })?;
        if plain.len() < 33 || plain[0] != kind || plain[1..17] != id.0 || plain[17..33] != name[..]
        {
            return Err(StoreError::Corrupt(format!(
                "chunk {} is not the chunk the manifest expects",
                path.display()
            )));
        }
        Ok(plain[33..].to_vec())
    }

    /// Makes `next` the durable state, then deletes chunks it no longer
    /// references.
    fn commit(&mut self, mut next: Manifest) -> Result<(), StoreError> {
        next.generation = self.manifest.generation + 1;
        let sealed = seal_padded(&self.manifest_key, &next.encode())?;
        let slot = 1 - self.current;
        self.write_slot(slot, &sealed).map_err(|e| {
            // The file may be torn or its handle unusable: reopened next time.
            self.slot_files[slot] = None;
            StoreError::io("write manifest", self.dir.join(&self.slot_names[slot]))(e)
        })?;
        self.current = slot;
        let previous = std::mem::replace(&mut self.manifest, next);
        if previous.drops_inline_in(&self.manifest)
            && atomic_file::crash_point("older slot overwritten").is_ok()
        {
            // The older slot holds the previous manifest, and with it
            // inline chunks this commit dropped (a deleted journal entry
            // before its history purge, say): it gets the new manifest too.
            // Best effort, like the file scrub below: the commit is made.
            // Should it fail, the next commit writes that slot anyway, and
            // after a crash the next open finishes it.
            let older = 1 - slot;
            if self.write_slot(older, &sealed).is_err() {
                self.slot_files[older] = None;
            }
        }
        let live: std::collections::HashSet<&ChunkName> = self.manifest.files().collect();
        for name in previous.files().filter(|n| !live.contains(n)) {
            // Overwritten before unlinking: a dropped chunk may hold text the
            // person deleted (a journal entry, before its history purge), and
            // it stays decryptable with the storage key for as long as its
            // blocks survive. Best effort (flash may remap blocks); a
            // leftover is unreferenced, sealed, and swept on the next open.
            let path = self.dir.join(hex::encode(name));
            let _ = atomic_file::scrub_path(&path);
            let _ = atomic_file::remove_if_present(&path);
        }
        Ok(())
    }
}

impl DocumentStore {
    /// Overwrites the older slot with the current manifest (sealed again).
    fn overwrite_older_slot(&mut self) -> Result<(), StoreError> {
        let sealed = seal_padded(&self.manifest_key, &self.manifest.encode())?;
        let older = 1 - self.current;
        self.write_slot(older, &sealed).map_err(|e| {
            self.slot_files[older] = None;
            StoreError::io("write manifest", self.dir.join(&self.slot_names[older]))(e)
        })
    }

    /// Overwrites manifest slot `slot` in place with `sealed` and makes it
    /// durable. The other slot, holding the current manifest, is not
    /// touched, so a crash at any instant here leaves it to be read.
    fn write_slot(&mut self, slot: usize, sealed: &[u8]) -> io::Result<()> {
        use std::io::{Seek, Write};
        let mut file = match self.slot_files[slot].take() {
            Some(file) => file,
            None => {
                let path = self.dir.join(&self.slot_names[slot]);
                match OpenOptions::new().write(true).open(&path) {
                    Ok(file) => file,
                    // Its first commit: the new name must be durable too.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let file = OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&path)?;
                        atomic_file::sync_dir(&self.dir)?;
                        file
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        file.seek(io::SeekFrom::Start(0))?;
        file.write_all(sealed)?;
        atomic_file::crash_point("manifest slot written")?;
        // Shorter than before (sizes are padded buckets, so rarely): the
        // old tail goes, or the slot would not open. It is overwritten
        // first: it may hold inline chunks a commit dropped.
        let len = file.metadata()?.len();
        if len != sealed.len() as u64 {
            if len > sealed.len() as u64 {
                let mut noise = vec![0u8; (len - sealed.len() as u64) as usize];
                OsRng.fill_bytes(&mut noise);
                file.write_all(&noise)?;
            }
            file.set_len(sealed.len() as u64)?;
        }
        file.sync_data()?;
        self.slot_files[slot] = Some(file);
        Ok(())
    }
}

/// Whether a chunk of `len` bytes is kept inside a manifest whose other
/// inline chunks hold `before` bytes.
fn fits_inline(len: usize, before: usize) -> bool {
    len <= INLINE_CHUNK_MAX && before + len <= INLINE_BUDGET
}

/// Whether `name` looks like a file the store or profile may have written and
/// may therefore sweep: 32 lowercase hex characters, or a temporary file.
pub(crate) fn is_sweepable_name(name: &str) -> bool {
    name.ends_with(atomic_file::TEMP_SUFFIX)
        || (name.len() == 32
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn store() -> (tempfile::TempDir, DocumentStore, SymmetricKey) {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SymmetricKey::generate();
        let store = DocumentStore::create(dir.path(), key.clone()).expect("create");
        (dir, store, key)
    }

    #[test]
    fn snapshot_and_increments_survive_reopen() {
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        store.put_snapshot(id, b"snap").expect("put");
        store.append_increment(id, b"inc1").expect("append");
        store.append_increment(id, b"inc2").expect("append");
        drop(store);
        let store = DocumentStore::open(dir.path(), key).expect("open");
        let doc = store.get(id).expect("get").expect("present");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"snap"[..]));
        assert_eq!(doc.increments, vec![b"inc1".to_vec(), b"inc2".to_vec()]);
        assert_eq!(store.document_ids(), vec![id]);
    }

    /// Bytes too large to be kept inline.
    fn large(fill: u8) -> Vec<u8> {
        vec![fill; INLINE_CHUNK_MAX + 1]
    }

    #[test]
    fn put_snapshot_drops_old_chunk_files() {
        let (dir, mut store, _) = store();
        let id = DocumentId::random();
        store.put_snapshot(id, &large(1)).expect("put");
        store.append_increment(id, &large(2)).expect("append");
        store.put_snapshot(id, &large(3)).expect("put");
        // the two manifest slots + one snapshot chunk
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 3);
    }

    #[test]
    fn small_chunks_live_in_the_manifest_within_its_budget() {
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        let files = || fs::read_dir(dir.path()).expect("ls").count();
        store.put_snapshot(id, b"snap").expect("put");
        store.append_increment(id, b"inc1").expect("append");
        // Only the two slots: the small chunks are inside the manifest.
        assert_eq!(files(), 2);
        // A large increment is a chunk file, and takes the document's
        // inline increments before it along.
        store.append_increment(id, &large(9)).expect("append");
        assert_eq!(files(), 3);
        assert_eq!(store.manifest.inline_bytes(), 4, "only the snapshot");
        // Small ones fill the budget; the one past it joins them in one
        // chunk file.
        let small = vec![5u8; INLINE_CHUNK_MAX / 2];
        let fit = (INLINE_BUDGET - store.manifest.inline_bytes()) / small.len();
        for _ in 0..fit {
            store.append_increment(id, &small).expect("append");
        }
        assert_eq!(files(), 3);
        store.append_increment(id, &small).expect("append");
        assert_eq!(files(), 4);
        assert_eq!(store.manifest.inline_bytes(), 4);
        // A large snapshot is a file too.
        let other = DocumentId::random();
        store.put_snapshot(other, &large(3)).expect("put");
        assert_eq!(files(), 5);
        // Everything reads back, in order, after a reopen.
        let reopened = DocumentStore::open(dir.path(), key).expect("open");
        let doc = reopened.get(id).expect("get").expect("present");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"snap"[..]));
        let mut first = b"inc1".to_vec();
        first.extend_from_slice(&large(9));
        assert_eq!(doc.increments, vec![first, small.repeat(fit + 1)]);
        let other = reopened.get(other).expect("get").expect("present");
        assert_eq!(other.snapshot, Some(large(3)));
    }

    #[test]
    fn joined_increments_load_as_the_increments_they_join() {
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "k", 0i64).expect("put");
        store.put_snapshot(id, &doc.save()).expect("snapshot");
        for i in 1..=5i64 {
            doc.put(automerge::ROOT, "k", i).expect("put");
            store
                .append_increment(id, &doc.save_incremental())
                .expect("append");
        }
        // Too large to stay inline: the five before it join it.
        let text = "x".repeat(INLINE_CHUNK_MAX + 1);
        doc.put(automerge::ROOT, "long", text.as_str())
            .expect("put");
        store
            .append_increment(id, &doc.save_incremental())
            .expect("append");
        let stored = DocumentStore::open(dir.path(), key)
            .expect("open")
            .get(id)
            .expect("get")
            .expect("present");
        assert_eq!(stored.increments.len(), 1);
        let mut loaded =
            AutoCommit::load(stored.snapshot.as_deref().expect("snapshot")).expect("load");
        loaded
            .load_incremental(&stored.increments[0])
            .expect("joined increments load");
        assert_eq!(loaded.save(), doc.save());
    }

    /// Both slots' manifests, decrypted (a slot that does not open: `None`).
    fn slot_manifests(dir: &Path, store: &DocumentStore) -> Vec<Option<Manifest>> {
        store
            .slot_names
            .iter()
            .map(|name| {
                let sealed = fs::read(dir.join(name)).ok()?;
                let plain = open_padded(&store.manifest_key, &sealed).ok()?;
                Manifest::decode(&plain).ok()
            })
            .collect()
    }

    #[test]
    fn a_commit_that_drops_inline_chunks_leaves_them_in_neither_slot() {
        let (dir, mut store, _) = store();
        let id = DocumentId::random();
        let other = DocumentId::random();
        let secret = b"what she wrote and then deleted".to_vec();
        let held_by = |m: &Manifest, bytes: &[u8]| {
            m.documents.values().any(|e| {
                e.snapshot
                    .iter()
                    .map(|(c, _)| c)
                    .chain(&e.increments)
                    .any(|c| matches!(c, Chunk::Inline(b) if b.as_slice() == bytes))
            })
        };
        store.put_snapshot(id, b"history").expect("put");
        store.append_increment(id, &secret).expect("append");
        // An append writes one slot: the older still holds the manifest
        // before it.
        let generations: Vec<u64> = slot_manifests(dir.path(), &store)
            .into_iter()
            .map(|m| m.expect("opens").generation)
            .collect();
        assert_eq!(
            generations.iter().max().expect("two") - generations.iter().min().expect("two"),
            1
        );
        // The history is replaced (a purge): the secret goes from both.
        store.put_snapshot(id, b"purged").expect("put");
        for manifest in slot_manifests(dir.path(), &store) {
            assert!(!held_by(&manifest.expect("opens"), &secret));
        }
        // The same for a deleted document, also one written before another
        // document's later appends.
        store.put_snapshot(other, &secret).expect("put");
        store.append_increment(id, b"later").expect("append");
        store.delete(other).expect("delete");
        for manifest in slot_manifests(dir.path(), &store) {
            assert!(!held_by(&manifest.expect("opens"), &secret));
        }
        let doc = store.get(id).expect("get").expect("present");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"purged"[..]));
        assert_eq!(doc.increments, vec![b"later".to_vec()]);
    }

    /// The slot that holds the current manifest, by name.
    fn current_slot(store: &DocumentStore) -> String {
        store.slot_names[store.current].clone()
    }

    #[test]
    fn commits_overwrite_the_older_manifest_slot_in_place() {
        use std::os::unix::fs::MetadataExt;
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        let inode = |name: &str| fs::metadata(dir.path().join(name)).expect("stat").ino();
        store.put_snapshot(id, b"one").expect("put");
        let first = current_slot(&store);
        store.append_increment(id, b"two").expect("append");
        let second = current_slot(&store);
        assert_ne!(first, second, "each commit writes the other slot");
        let inodes = (inode(&first), inode(&second));
        for n in 0..5u8 {
            store.append_increment(id, &[n; 40]).expect("append");
        }
        // Still the same two files, written in place: no rename left the
        // old bytes in freed blocks, and no temporary file is left.
        assert_eq!((inode(&first), inode(&second)), inodes);
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(atomic_file::TEMP_SUFFIX)));
        let reopened = DocumentStore::open(dir.path(), key).expect("reopen");
        assert_eq!(reopened.manifest, store.manifest);
        assert_eq!(
            reopened
                .get(id)
                .expect("get")
                .expect("doc")
                .increments
                .len(),
            6
        );
    }

    #[test]
    fn a_torn_manifest_commit_leaves_the_last_acknowledged_one() {
        use crate::store::atomic_file::fault::FAIL_AT;
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        store.put_snapshot(id, b"kept").expect("put");
        store.append_increment(id, b"acknowledged").expect("append");
        // A crash in the middle of the next commit's slot write: the slot
        // holds a manifest cut short (as a kill mid-write leaves it).
        let torn = store.slot_names[1 - store.current].clone();
        FAIL_AT.with(|f| f.set(Some("manifest slot written")));
        let crashed = store.append_increment(id, b"never acknowledged");
        FAIL_AT.with(|f| f.set(None));
        assert!(crashed.is_err());
        let path = dir.path().join(&torn);
        let len = fs::metadata(&path).expect("stat").len();
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(len / 2).expect("tear");
        drop(file);
        let reopened = DocumentStore::open(dir.path(), key.clone()).expect("reopen");
        let doc = reopened.get(id).expect("get").expect("doc");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"kept"[..]));
        assert_eq!(doc.increments, vec![b"acknowledged".to_vec()]);
        // The store goes on from there, over the torn slot.
        let mut reopened = reopened;
        reopened.append_increment(id, b"after").expect("append");
        let again = DocumentStore::open(dir.path(), key.clone()).expect("reopen");
        assert_eq!(
            again.get(id).expect("get").expect("doc").increments.len(),
            2
        );
        // Both slots damaged: refused, not read as an empty store.
        for name in &again.slot_names {
            fs::write(dir.path().join(name), b"damaged").expect("damage");
        }
        assert!(matches!(
            DocumentStore::open(dir.path(), key),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_crash_before_the_older_slot_is_overwritten_is_finished_by_the_next_open() {
        use crate::store::atomic_file::fault::FAIL_AT;
        let (dir, mut store, key) = store();
        let id = DocumentId::random();
        let secret = b"an entry she deleted".to_vec();
        store.put_snapshot(id, &secret).expect("put");
        // Killed right after the purge's commit point, before the older
        // slot got the new manifest: that slot still holds the entry.
        FAIL_AT.with(|f| f.set(Some("older slot overwritten")));
        store.put_snapshot(id, b"purged").expect("committed");
        FAIL_AT.with(|f| f.set(None));
        let holds = |m: &Manifest| {
            m.documents.values().any(|e| {
                matches!(&e.snapshot, Some((Chunk::Inline(b), _)) if b.as_slice() == secret.as_slice())
            })
        };
        let slots = slot_manifests(dir.path(), &store);
        assert!(slots.iter().flatten().any(holds), "the crash left it");
        drop(store);
        let store = DocumentStore::open(dir.path(), key).expect("open");
        for manifest in slot_manifests(dir.path(), &store) {
            assert!(!holds(&manifest.expect("opens")));
        }
        let doc = store.get(id).expect("get").expect("present");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"purged"[..]));
    }

    #[test]
    fn an_increment_and_another_documents_snapshot_are_one_commit() {
        use crate::store::atomic_file::fault::FAIL_AT;
        let (dir, mut store, key) = store();
        let (space, registry) = (DocumentId::random(), DocumentId::random());
        store.put_snapshot(registry, b"cursor 1").expect("put");
        store.append_increment(space, b"first").expect("append");
        // Torn mid-commit: neither the increment nor the snapshot.
        let torn = store.slot_names[1 - store.current].clone();
        FAIL_AT.with(|f| f.set(Some("manifest slot written")));
        let crashed =
            store.append_increment_with_snapshot(space, b"second", Vec::new, registry, b"cursor 2");
        FAIL_AT.with(|f| f.set(None));
        assert!(crashed.is_err());
        let path = dir.path().join(&torn);
        let len = fs::metadata(&path).expect("stat").len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(len / 2)
            .expect("tear");
        let mut store = DocumentStore::open(dir.path(), key.clone()).expect("reopen");
        let read = |store: &DocumentStore, id| store.get(id).expect("get").expect("present");
        assert_eq!(read(&store, space).increments, vec![b"first".to_vec()]);
        assert_eq!(
            read(&store, registry).snapshot.as_deref(),
            Some(&b"cursor 1"[..])
        );
        // Made: both, in one commit (one generation further).
        let generation = store.manifest.generation;
        store
            .append_increment_with_snapshot(space, b"second", Vec::new, registry, b"cursor 2")
            .expect("commit");
        assert_eq!(store.manifest.generation, generation + 1);
        let store = DocumentStore::open(dir.path(), key).expect("reopen");
        assert_eq!(
            read(&store, space).increments,
            vec![b"first".to_vec(), b"second".to_vec()]
        );
        assert_eq!(
            read(&store, registry).snapshot.as_deref(),
            Some(&b"cursor 2"[..])
        );
    }

    #[test]
    fn compaction_folds_increments_into_one_loadable_snapshot() {
        let (_dir, mut store, _) = store();
        let id = DocumentId::random();
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "k", 0i64).expect("put");
        store.put_snapshot(id, &doc.save()).expect("snapshot");
        for i in 1..=(COMPACT_AFTER_INCREMENTS as i64 + 3) {
            doc.put(automerge::ROOT, "k", i).expect("put");
            store
                .append_increment(id, &doc.save_incremental())
                .expect("append");
        }
        let stored = store.get(id).expect("get").expect("present");
        assert!(stored.increments.len() < COMPACT_AFTER_INCREMENTS);
        let mut loaded =
            AutoCommit::load(stored.snapshot.as_deref().expect("snapshot")).expect("load");
        for inc in &stored.increments {
            loaded.load_incremental(inc).expect("inc");
        }
        assert_eq!(loaded.save(), doc.save());
    }

    #[test]
    fn a_due_compaction_takes_the_whole_document_from_the_caller() {
        let (_dir, mut store, _) = store();
        let id = DocumentId::random();
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "k", 0i64).expect("put");
        store.put_snapshot(id, &doc.save()).expect("snapshot");
        let mut asked = 0;
        for i in 1..=COMPACT_AFTER_INCREMENTS as i64 {
            doc.put(automerge::ROOT, "k", i).expect("put");
            let increment = doc.save_incremental();
            store
                .append_increment_of(id, &increment, || {
                    asked += 1;
                    doc.save()
                })
                .expect("append");
        }
        assert_eq!(asked, 1, "asked once, when compaction came due");
        let stored = store.get(id).expect("get").expect("present");
        assert!(stored.increments.is_empty());
        assert_eq!(stored.snapshot, Some(doc.save()));
    }

    #[test]
    fn wrong_key_cannot_open_store() {
        let (dir, _store, _) = store();
        assert!(DocumentStore::open(dir.path(), SymmetricKey::generate()).is_err());
    }

    #[test]
    fn swapped_chunk_is_detected() {
        let (dir, mut store, _) = store();
        let a = DocumentId::random();
        store.put_snapshot(a, &large(1)).expect("put");
        let Some((Chunk::File(first), _)) = store.manifest.documents[&a].snapshot else {
            panic!("a file chunk")
        };
        store.append_increment(a, &large(2)).expect("put");
        let Chunk::File(second) = store.manifest.documents[&a].increments[0] else {
            panic!("a file chunk")
        };
        let bytes = fs::read(dir.path().join(hex::encode(first))).expect("read");
        fs::write(dir.path().join(hex::encode(second)), bytes).expect("swap");
        assert!(matches!(store.get(a), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn sweepable_names_are_recognised() {
        assert!(is_sweepable_name(&hex::encode([0xab; 16])));
        assert!(is_sweepable_name("x.tmp"));
        assert!(!is_sweepable_name("unlock"));
        assert!(!is_sweepable_name(&hex::encode([0xab; 16]).to_uppercase()));
    }
}
