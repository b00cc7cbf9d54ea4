//! The private journal: one document per person, on their devices only.
//!
//! # Schema (version 1)
//! ```text
//! ROOT
//! ├─ kind: "safespaces.journal"
//! ├─ schema: uint                       // JOURNAL_SCHEMA
//! ├─ generation: uint                   // bumped by every history purge
//! ├─ generation_id: str                 // random per rebuild: two devices
//! │                                     // purging concurrently differ
//! ├─ deleted: { <entry id>: true }      // ids of deleted entries, no text
//! └─ entries: { <entry id>: {
//!        created_at: int, edited_at: int,
//!        text: Text,                    // collaborative: two of the person's
//!                                       // devices can edit one entry offline
//!        mood: null | uint 1..=5,
//!        tags: { <tag>: true } } }      // a set: adding one tag twice is one tag
//! ```
//!
//! # Deleting means gone
//! An automerge document keeps every operation ever made, so deleting an
//! entry's key would leave its text in the saved bytes. [`JournalDoc::delete`]
//! therefore *rebuilds* the document: a new automerge document with a new
//! `generation_id` holding only the current entries, with `generation` one
//! higher. The device keeps its actor id: generations never merge, so actor
//! sequence numbers may safely start again.
//! After a delete and a save, the deleted text is nowhere in the bytes
//! (`saved_journal_bytes_contain_no_deleted_text` checks that). Edits keep
//! history so two devices can merge them; [`JournalDoc::purge_history`]
//! drops the history of edits on request too.
//!
//! # How a purge interacts with sync
//! A rebuilt document shares no history with the old one, so it must never
//! be *merged* with an older generation: automerge would resurrect the old
//! root objects, and with them the deleted text. The rule, enforced by the
//! sync layer, is:
//! - journals are ordered by `(generation, generation_id)`; only equal ones
//!   merge (two devices purging offline both reach generation *n+1* with
//!   different ids, and must not merge);
//! - a replica that receives a journal ordered after its own *replaces*
//!   its document with it, keeping the union of both sides' entries minus
//!   every tombstoned id, the later edit winning per entry
//!   ([`JournalDoc::adopt_generation`]);
//! - changes or snapshots from a lower generation are discarded, never merged;
//! - the relay copy of the old generation is compacted away by uploading the
//!   new snapshot, so the deleted text leaves the relay too.

use std::collections::BTreeMap;

use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, transaction::Transactable,
};
use autosurgeon::{Hydrate, Reconcile, Text, hydrate_prop, reconcile_prop};
use serde::{Deserialize, Serialize};

use super::document::{check_header, child_map};
use super::error::{ModelError, ModelResult};
use super::ids::EntryId;
use super::session::check_len;
use super::time::Timestamp;

/// The newest journal schema this build understands.
pub const JOURNAL_SCHEMA: u64 = 1;
const KIND: &str = "safespaces.journal";
const ENTRIES: &str = "entries";
const DELETED: &str = "deleted";
/// Long enough for anything a person writes in one sitting; bounded so a
/// bug cannot grow a document without limit.
const MAX_ENTRY_CHARS: usize = 100_000;

#[derive(Clone, Debug, Reconcile, Hydrate)]
struct StoredEntry {
    created_at: Timestamp,
    edited_at: Timestamp,
    text: Text,
    mood: Option<u8>,
    tags: BTreeMap<String, bool>,
}

/// A journal entry as the app shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The entry's id.
    pub id: EntryId,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub edited_at: Timestamp,
    /// What was written.
    pub text: String,
    /// Optional mood, 1 (low) to 5 (high).
    pub mood: Option<u8>,
    /// Tags, sorted.
    pub tags: Vec<String>,
}

/// A change to an entry; `None` leaves that part alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalEdit {
    /// New text. Applied as a minimal text diff, so a concurrent edit on the
    /// person's other device to another part of the entry survives.
    pub text: Option<String>,
    /// New mood; `Some(None)` clears it.
    pub mood: Option<Option<u8>>,
    /// New set of tags (replaces the set).
    pub tags: Option<Vec<String>>,
}

/// A person's journal document.
pub struct JournalDoc {
    doc: AutoCommit,
    /// An increment whose write failed: the next one carries it too
    /// ([`JournalDoc::save_incremental_then`]). Entry text, so wiped.
    unwritten: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for JournalDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print content: Debug output ends up in logs.
        f.debug_struct("JournalDoc").finish_non_exhaustive()
    }
}

fn invalid(reason: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidDocument {
        kind: "journal",
        reason: reason.to_string(),
    }
}

fn check_mood(mood: Option<u8>) -> ModelResult<()> {
    match mood {
        Some(m) if !(1..=5).contains(&m) => Err(ModelError::InvalidInput {
            field: "mood",
            reason: "must be from 1 to 5".into(),
        }),
        _ => Ok(()),
    }
}

fn tag_set(tags: &[String]) -> ModelResult<BTreeMap<String, bool>> {
    let mut set = BTreeMap::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        check_len("tag", &tag, 50)?;
        set.insert(tag, true);
    }
    Ok(set)
}

fn check_text(text: &str) -> ModelResult<()> {
    check_len("journal entry", text, MAX_ENTRY_CHARS)
}

impl JournalDoc {
    /// A new, empty journal.
    pub fn new() -> Self {
        Self::empty_generation(0)
    }

    fn empty_generation(generation: u64) -> Self {
        let mut doc = AutoCommit::new();
        // Writing into a fresh in-memory document cannot fail; if it somehow
        // did, the header check on every load would refuse the document.
        let _ = doc.put(ROOT, "kind", KIND);
        let _ = doc.put(ROOT, "schema", JOURNAL_SCHEMA);
        let _ = doc.put(ROOT, "generation", generation);
        let mut id = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let _ = doc.put(ROOT, "generation_id", hex::encode(id));
        let _ = doc.put_object(ROOT, ENTRIES, ObjType::Map);
        let _ = doc.put_object(ROOT, DELETED, ObjType::Map);
        doc.commit();
        JournalDoc::wrap(doc)
    }

    fn wrap(doc: AutoCommit) -> Self {
        JournalDoc {
            doc,
            unwritten: zeroize::Zeroizing::new(Vec::new()),
        }
    }

    /// Loads a saved journal, refusing anything that is not one.
    pub fn load(bytes: &[u8]) -> ModelResult<Self> {
        let doc = AutoCommit::load(bytes).map_err(invalid)?;
        check_header(&doc, "journal", KIND, JOURNAL_SCHEMA)?;
        if child_map(&doc, &ROOT, ENTRIES).is_none() {
            return Err(invalid("missing entries"));
        }
        Ok(JournalDoc::wrap(doc))
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        // Everything an unwritten increment held is in it (or purged).
        self.unwritten.clear();
        self.doc.save()
    }

    /// Changes since the last save.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut *self.unwritten);
        bytes.extend_from_slice(&self.doc.save_incremental());
        bytes
    }

    /// [`JournalDoc::save_incremental`], handing the bytes to `write`; if
    /// it fails, the next save carries them again (automerge loads
    /// concatenated increments as it loads them one by one), so an entry
    /// whose write was refused (a full disk) is not left out of every
    /// later write and lost at the next unlock.
    pub fn save_incremental_then<E>(
        &mut self,
        write: impl FnOnce(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let bytes = zeroize::Zeroizing::new(self.save_incremental());
        let written = write(&bytes);
        if written.is_err() {
            self.unwritten = bytes;
        }
        written
    }

    /// Applies another replica's `save`/`save_incremental` output. Both must
    /// be of the same generation (see the module docs).
    pub fn load_incremental(&mut self, bytes: &[u8]) -> ModelResult<()> {
        self.doc.load_incremental(bytes).map_err(invalid)?;
        Ok(())
    }

    /// Merges another replica of the *same generation*; refuses otherwise,
    /// because merging across a purge would bring deleted text back.
    pub fn merge(&mut self, other: &mut JournalDoc) -> ModelResult<()> {
        let (mine, theirs) = (self.generation_key()?, other.generation_key()?);
        if mine != theirs {
            return Err(ModelError::Changes(format!(
                "journal generations differ ({} and {}): adopt the newer one instead of merging",
                mine.0, theirs.0
            )));
        }
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// A copy with a fresh actor, as the person's second device would hold it.
    pub fn fork(&mut self) -> JournalDoc {
        JournalDoc::wrap(self.doc.fork().with_actor(ActorId::random()))
    }

    /// The current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Encoded changes a replica at `heads` lacks.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<Vec<u8>> {
        super::history::changes_since(&mut self.doc, heads)
    }

    /// Applies encoded changes of the same generation, in any order.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> ModelResult<()> {
        super::history::apply_changes(&mut self.doc, changes)
    }

    /// How many times history has been purged. Replicas only merge within
    /// one generation.
    pub fn generation(&self) -> ModelResult<u64> {
        hydrate_prop(&self.doc, ROOT, "generation").map_err(invalid)
    }

    /// The generation and its random id: the order in which replicas adopt
    /// each other's rebuilt journals. Only equal keys merge.
    pub fn generation_key(&self) -> ModelResult<(u64, String)> {
        let id: String = hydrate_prop(&self.doc, ROOT, "generation_id").map_err(invalid)?;
        Ok((self.generation()?, id))
    }

    /// Makes this replica write as `actor` (its device id; see the protocol).
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The underlying automerge document, read-only, for the store and sync
    /// layers.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
    }

    // ----------------------------------------------------------------- reads

    /// Every entry, newest first.
    pub fn entries(&self) -> ModelResult<Vec<JournalEntry>> {
        let entries = self.entries_obj()?;
        let mut out = Vec::new();
        for key in self.doc.keys(&entries) {
            // An entry this build cannot read is skipped rather than hiding
            // the whole journal.
            if let Ok(stored) =
                hydrate_prop::<_, StoredEntry, _, _>(&self.doc, &entries, key.as_str())
            {
                out.push(to_entry(EntryId::from(key), stored));
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One entry.
    pub fn entry(&self, id: &EntryId) -> ModelResult<JournalEntry> {
        let entries = self.entries_obj()?;
        if self.doc.get(&entries, id.as_str())?.is_none() {
            return Err(ModelError::UnknownEntry(id.to_string()));
        }
        let stored: StoredEntry =
            hydrate_prop(&self.doc, &entries, id.as_str()).map_err(invalid)?;
        Ok(to_entry(id.clone(), stored))
    }

    /// Entries carrying `tag` (case-insensitive), newest first.
    pub fn with_tag(&self, tag: &str) -> ModelResult<Vec<JournalEntry>> {
        let tag = tag.trim().to_lowercase();
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| e.tags.contains(&tag))
            .collect())
    }

    // ---------------------------------------------------------------- writes

    /// Writes a new entry.
    pub fn add(
        &mut self,
        text: &str,
        mood: Option<u8>,
        tags: &[String],
        now: Timestamp,
    ) -> ModelResult<EntryId> {
        check_text(text)?;
        check_mood(mood)?;
        let stored = StoredEntry {
            created_at: now,
            edited_at: now,
            text: Text::with_value(text),
            mood,
            tags: tag_set(tags)?,
        };
        let id = EntryId::random();
        let entries = self.entries_obj()?;
        match reconcile_prop(&mut self.doc, &entries, id.as_str(), &stored) {
            Ok(()) => {
                self.doc.commit();
                Ok(id)
            }
            Err(e) => {
                self.doc.rollback();
                Err(invalid(e))
            }
        }
    }

    /// Changes parts of an entry.
    pub fn edit(&mut self, id: &EntryId, edit: JournalEdit, now: Timestamp) -> ModelResult<()> {
        if let Some(text) = &edit.text {
            check_text(text)?;
        }
        if let Some(mood) = edit.mood {
            check_mood(mood)?;
        }
        let tags = edit.tags.as_deref().map(tag_set).transpose()?;
        let obj = self.entry_obj(id)?;
        let result = (|| -> ModelResult<()> {
            if let Some(text) = &edit.text {
                let text_obj = match self.doc.get(&obj, "text")? {
                    Some((automerge::Value::Object(ObjType::Text), text_obj)) => text_obj,
                    _ => return Err(invalid("entry text is not text")),
                };
                self.doc.update_text(&text_obj, text)?;
            }
            if let Some(mood) = edit.mood {
                reconcile_prop(&mut self.doc, &obj, "mood", mood).map_err(invalid)?;
            }
            if let Some(tags) = &tags {
                reconcile_prop(&mut self.doc, &obj, "tags", tags).map_err(invalid)?;
            }
            reconcile_prop(&mut self.doc, &obj, "edited_at", now).map_err(invalid)?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.doc.commit();
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }

    /// Deletes an entry *and its history*: the document is rebuilt without
    /// it (see the module docs), so saved bytes no longer contain its text.
    pub fn delete(&mut self, id: &EntryId) -> ModelResult<()> {
        let entries = self.entries_obj()?;
        if self.doc.get(&entries, id.as_str())?.is_none() {
            return Err(ModelError::UnknownEntry(id.to_string()));
        }
        self.doc.delete(&entries, id.as_str())?;
        // The id alone, so a device that rebuilt its journal concurrently
        // does not bring the entry back (adopt_generation).
        if let Some(tombstones) = child_map(&self.doc, &ROOT, DELETED) {
            self.doc.put(&tombstones, id.as_str(), true)?;
        }
        self.doc.commit();
        self.purge_history()
    }

    /// Rebuilds the document from its current state, dropping all history
    /// (old versions of edited text, deleted entries). Bumps the generation.
    pub fn purge_history(&mut self) -> ModelResult<()> {
        let generation = self.generation()?.saturating_add(1);
        let current = self.stored_entries()?;
        let deleted = self.tombstones()?;
        let actor = self.doc.get_actor().clone();
        self.doc = Self::rebuilt(generation, &current, &deleted)?
            .doc
            .with_actor(actor);
        // An unwritten increment of the old history may hold the text.
        self.unwritten.clear();
        Ok(())
    }

    /// Replaces this replica with `newer`, a journal ordered after this one
    /// (see [`JournalDoc::generation_key`]), received from the person's other
    /// device, without losing anything either side wrote: entries are the
    /// union of both, minus every entry either side deleted (tombstones carry
    /// ids only, never text), and where both hold an entry the later edit
    /// wins. If that differs from `newer`, the result is rebuilt as a
    /// generation after both, which the other device adopts in turn.
    pub fn adopt_generation(&mut self, mut newer: JournalDoc) -> ModelResult<()> {
        if newer.generation_key()? <= self.generation_key()? {
            return Err(ModelError::Changes(
                "the received journal is not newer than this one".into(),
            ));
        }
        let mut deleted = self.tombstones()?;
        deleted.extend(newer.tombstones()?);
        let theirs = newer.stored_entries()?;
        let mut merged = theirs.clone();
        for (id, entry) in self.stored_entries()? {
            let keep_mine = match merged.get(&id) {
                Some(other) => entry.edited_at > other.edited_at,
                None => true,
            };
            if keep_mine {
                merged.insert(id, entry);
            }
        }
        merged.retain(|id, _| !deleted.contains(id));
        let unchanged = merged.len() == theirs.len()
            && merged.iter().all(|(id, e)| {
                theirs.get(id).is_some_and(|t| {
                    t.edited_at == e.edited_at && t.text.as_str() == e.text.as_str()
                })
            })
            && deleted == newer.tombstones()?;
        if !unchanged {
            let generation = newer.generation()?.saturating_add(1);
            newer = Self::rebuilt(generation, &merged, &deleted)?;
        }
        let actor = self.doc.get_actor().clone();
        self.doc = newer.doc.with_actor(actor);
        Ok(())
    }

    // --------------------------------------------------------------- helpers

    fn rebuilt(
        generation: u64,
        entries: &BTreeMap<String, StoredEntry>,
        deleted: &std::collections::BTreeSet<String>,
    ) -> ModelResult<JournalDoc> {
        let mut fresh = Self::empty_generation(generation);
        let tombstones =
            child_map(&fresh.doc, &ROOT, DELETED).ok_or_else(|| invalid("missing deleted"))?;
        for id in deleted {
            fresh.doc.put(&tombstones, id.as_str(), true)?;
        }
        let obj = fresh.entries_obj()?;
        for (id, stored) in entries {
            let clean = StoredEntry {
                text: Text::with_value(stored.text.as_str()),
                ..stored.clone()
            };
            reconcile_prop(&mut fresh.doc, &obj, id.as_str(), &clean).map_err(invalid)?;
        }
        fresh.doc.commit();
        Ok(fresh)
    }

    fn tombstones(&self) -> ModelResult<std::collections::BTreeSet<String>> {
        Ok(match child_map(&self.doc, &ROOT, DELETED) {
            Some(obj) => self.doc.keys(&obj).collect(),
            None => Default::default(),
        })
    }

    fn stored_entries(&self) -> ModelResult<BTreeMap<String, StoredEntry>> {
        let entries = self.entries_obj()?;
        let mut out = BTreeMap::new();
        for key in self.doc.keys(&entries) {
            if let Ok(stored) =
                hydrate_prop::<_, StoredEntry, _, _>(&self.doc, &entries, key.as_str())
            {
                out.insert(key, stored);
            }
        }
        Ok(out)
    }

    fn entries_obj(&self) -> ModelResult<ObjId> {
        child_map(&self.doc, &ROOT, ENTRIES).ok_or_else(|| invalid("missing entries"))
    }

    fn entry_obj(&self, id: &EntryId) -> ModelResult<ObjId> {
        let entries = self.entries_obj()?;
        child_map(&self.doc, &entries, id.as_str())
            .ok_or_else(|| ModelError::UnknownEntry(id.to_string()))
    }
}

impl Default for JournalDoc {
    fn default() -> Self {
        Self::new()
    }
}

fn to_entry(id: EntryId, stored: StoredEntry) -> JournalEntry {
    JournalEntry {
        id,
        created_at: stored.created_at,
        edited_at: stored.edited_at,
        text: stored.text.as_str().to_string(),
        mood: stored.mood,
        tags: stored
            .tags
            .into_iter()
            .filter(|(_, v)| *v)
            .map(|(k, _)| k)
            .collect(),
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
