//! The private journal.

use std::sync::Arc;
use std::time::SystemTime;

use safespaces_core::model::{self, EntryId};
use safespaces_core::{app, profile};
use secrecy::SecretString;

use crate::convert::convert_all;
use crate::error::SafeSpacesError;
use crate::time::{system_time, timestamp};

/// A journal entry.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct JournalEntry {
    /// The entry's id.
    pub id: String,
    /// When it was written.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub edited_at: SystemTime,
    /// The text.
    pub text: String,
    /// A mood from 1 (low) to 5 (high), if given.
    pub mood: Option<u8>,
    /// Tags.
    pub tags: Vec<String>,
}

impl From<model::JournalEntry> for JournalEntry {
    fn from(e: model::JournalEntry) -> Self {
        JournalEntry {
            id: e.id.to_string(),
            created_at: system_time(e.created_at),
            edited_at: system_time(e.edited_at),
            text: e.text,
            mood: e.mood,
            tags: e.tags,
        }
    }
}

/// Changes to an entry; `null` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct JournalEdit {
    /// New text.
    #[uniffi(default = None)]
    pub text: Option<String>,
    /// New mood, 1 to 5.
    #[uniffi(default = None)]
    pub mood: Option<u8>,
    /// Removes the mood (and wins over `mood`). A separate flag because
    /// "unchanged" and "removed" would both be `null` in Kotlin.
    #[uniffi(default = false)]
    pub clear_mood: bool,
    /// New tags (replacing the old ones).
    #[uniffi(default = None)]
    pub tags: Option<Vec<String>>,
}

impl From<JournalEdit> for model::JournalEdit {
    fn from(e: JournalEdit) -> Self {
        model::JournalEdit {
            text: e.text,
            mood: if e.clear_mood {
                Some(None)
            } else {
                e.mood.map(Some)
            },
            tags: e.tags,
        }
    }
}

/// The format of a journal export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum JournalFormat {
    /// A readable Markdown document, oldest entry first.
    Markdown,
    /// JSON: `{"format":"safespaces-journal","version":1,"entries":[…]}`.
    Json,
}

impl From<JournalFormat> for profile::JournalFormat {
    fn from(format: JournalFormat) -> Self {
        match format {
            JournalFormat::Markdown => profile::JournalFormat::Markdown,
            JournalFormat::Json => profile::JournalFormat::Json,
        }
    }
}

/// The person's private journal. It never leaves the device except as an
/// export they make (or, later, sync between their own devices).
#[derive(uniffi::Object)]
pub struct Journal {
    inner: Arc<app::Journal>,
}

impl From<app::Journal> for Journal {
    fn from(inner: app::Journal) -> Self {
        Journal {
            inner: Arc::new(inner),
        }
    }
}

#[uniffi::export]
impl Journal {
    /// Turns syncing the journal between this person's own devices on or
    /// off (off by default; it never goes to other members).
    pub fn set_sync(&self, enabled: bool) -> Result<(), SafeSpacesError> {
        Ok(self.inner.set_sync(enabled)?)
    }

    /// Whether the journal syncs between this person's devices.
    pub fn sync_enabled(&self) -> Result<bool, SafeSpacesError> {
        Ok(self.inner.sync_enabled()?)
    }

    /// Writes a new entry; returns its id.
    pub fn add(
        &self,
        text: String,
        mood: Option<u8>,
        tags: Vec<String>,
        now: SystemTime,
    ) -> Result<String, SafeSpacesError> {
        Ok(self
            .inner
            .add(&text, mood, &tags, timestamp(now, "now")?)?
            .to_string())
    }

    /// Changes parts of an entry.
    pub fn edit(
        &self,
        id: String,
        edit: JournalEdit,
        now: SystemTime,
    ) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .edit(&EntryId::parse(&id)?, edit.into(), timestamp(now, "now")?)?)
    }

    /// Deletes an entry and its history: the text is gone from the device,
    /// not only hidden.
    pub fn delete(&self, id: String) -> Result<(), SafeSpacesError> {
        Ok(self.inner.delete(&EntryId::parse(&id)?)?)
    }

    /// Every entry, newest first.
    pub fn entries(&self) -> Result<Vec<JournalEntry>, SafeSpacesError> {
        Ok(convert_all(self.inner.entries()?))
    }

    /// Entries with a tag, newest first.
    pub fn with_tag(&self, tag: String) -> Result<Vec<JournalEntry>, SafeSpacesError> {
        Ok(convert_all(self.inner.with_tag(&tag)?))
    }

    /// The whole journal as Markdown or JSON inside a standard age file
    /// protected by `passphrase` (the stock `age -d` opens it).
    pub fn export(
        &self,
        format: JournalFormat,
        passphrase: String,
    ) -> Result<Vec<u8>, SafeSpacesError> {
        Ok(self
            .inner
            .export(format.into(), &SecretString::from(passphrase))?)
    }
}
