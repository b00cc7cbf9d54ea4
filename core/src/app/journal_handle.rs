//! A handle on the person's private journal.
//!
//! The journal never leaves the device unless the person turns on sync
//! between their own devices (sync engine). Deleting an entry rebuilds the
//! document and replaces every stored chunk, so the text is gone from the
//! store as well as from memory.

use std::sync::Arc;

use age_core::secrecy::SecretString;

use super::error::AppResult;
use super::shared::Shared;
use crate::model::{EntryId, JournalEdit, JournalEntry, Timestamp};
use crate::profile::{JournalEntry as ExportEntry, JournalFormat, export_journal};

/// The private journal.
#[derive(Clone)]
pub struct Journal {
    pub(crate) shared: Arc<Shared>,
}

impl Journal {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Journal { shared }
    }

    fn document(&self, loaded: &super::shared::Loaded) -> AppResult<crate::store::DocumentId> {
        Ok(loaded.registry.journal_document)
    }

    /// Writes a new entry.
    pub fn add(
        &self,
        text: &str,
        mood: Option<u8>,
        tags: &[String],
        now: Timestamp,
    ) -> AppResult<EntryId> {
        self.shared.with_loaded(|loaded| {
            let document = self.document(loaded)?;
            let id = loaded.journal.add(text, mood, tags, now)?;
            loaded.journal.save_incremental_then(|increment| {
                self.shared.profile.append_increment(document, increment)
            })?;
            Ok(id)
        })
    }

    /// Changes parts of an entry.
    pub fn edit(&self, id: &EntryId, edit: JournalEdit, now: Timestamp) -> AppResult<()> {
        self.shared.with_loaded(|loaded| {
            let document = self.document(loaded)?;
            loaded.journal.edit(id, edit, now)?;
            loaded.journal.save_incremental_then(|increment| {
                self.shared.profile.append_increment(document, increment)
            })?;
            Ok(())
        })
    }

    /// Deletes an entry and its history: the rebuilt journal replaces every
    /// stored chunk of the old one.
    pub fn delete(&self, id: &EntryId) -> AppResult<()> {
        self.shared.with_loaded(|loaded| {
            let document = self.document(loaded)?;
            loaded.journal.delete(id)?;
            self.shared
                .profile
                .put_snapshot(document, &loaded.journal.save())?;
            Ok(())
        })
    }

    /// Every entry, newest first.
    pub fn entries(&self) -> AppResult<Vec<JournalEntry>> {
        self.shared
            .with_loaded(|loaded| Ok(loaded.journal.entries()?))
    }

    /// Entries with a tag, newest first.
    pub fn with_tag(&self, tag: &str) -> AppResult<Vec<JournalEntry>> {
        self.shared
            .with_loaded(|loaded| Ok(loaded.journal.with_tag(tag)?))
    }

    /// The person's own record of their journal, as Markdown or JSON, in a
    /// standard age file protected by `passphrase` (the stock `age` tool
    /// opens it).
    pub fn export(&self, format: JournalFormat, passphrase: &SecretString) -> AppResult<Vec<u8>> {
        let entries = self.entries()?;
        let export: Vec<ExportEntry> = entries
            .into_iter()
            .rev()
            .map(|e| ExportEntry {
                created_at_ms: e.created_at.0.saturating_mul(1000),
                text: e.text,
                mood: e.mood,
                tags: e.tags,
            })
            .collect();
        let work = self.shared.profile.passphrase_work();
        Ok(export_journal(&export, format, passphrase, work)?)
    }
}
