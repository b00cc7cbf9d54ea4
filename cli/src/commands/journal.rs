//! The private journal: `journal add`, `list`, `edit`, `delete`, `sync`
//! and `export`.

use std::path::{Path, PathBuf};

use safespaces_core::app::Journal;
use safespaces_core::model::{JournalEdit, JournalEntry, SpaceZone};
use safespaces_core::profile::JournalFormat;
use serde::Serialize;

use super::output::Render;
use super::private_file::write_private;
use crate::args::FormatArg;
use crate::failure::Failure;
use crate::resolve::find_entry;
use crate::secret::other_passphrase;
use crate::times::{now, show_time};

/// `journal add`: the entry written.
#[derive(Serialize)]
pub struct Written {
    id: String,
}

impl Render for Written {
    fn human(&self) -> String {
        format!("Saved ({}).", self.id)
    }
}

/// Writes an entry.
pub fn add(
    journal: &Journal,
    text: &str,
    mood: Option<u8>,
    tags: &[String],
) -> Result<Written, Failure> {
    let id = journal.add(text, mood, tags, now())?;
    Ok(Written { id: id.to_string() })
}

/// `journal list`: entries, newest first, as core keeps them.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Entries(Vec<JournalEntry>);

impl Render for Entries {
    fn human(&self) -> String {
        // The journal belongs to no space: its times are in this
        // computer's zone.
        let zone = SpaceZone::device();
        self.0
            .iter()
            .map(|e| {
                format!(
                    "{}  {}{}{}\n  {}",
                    e.id,
                    show_time(&zone, e.created_at),
                    e.mood.map(|m| format!("  mood {m}/5")).unwrap_or_default(),
                    if e.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  #{}", e.tags.join(" #"))
                    },
                    e.text.replace('\n', "\n  ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists entries (only those tagged `tag` if given).
pub fn list(journal: &Journal, tag: Option<&str>) -> Result<Entries, Failure> {
    Ok(Entries(match tag {
        Some(tag) => journal.with_tag(tag)?,
        None => journal.entries()?,
    }))
}

/// `journal edit`: the entry saved.
#[derive(Serialize)]
pub struct Edited {
    id: String,
}

impl Render for Edited {
    fn human(&self) -> String {
        "Saved.".into()
    }
}

/// Replaces an entry's text.
pub fn edit(journal: &Journal, id: &str, text: &str) -> Result<Edited, Failure> {
    let id = find_entry(journal, id)?;
    journal.edit(
        &id,
        JournalEdit {
            text: Some(text.to_string()),
            ..Default::default()
        },
        now(),
    )?;
    Ok(Edited { id: id.to_string() })
}

/// `journal delete`: the entry deleted.
#[derive(Serialize)]
pub struct Deleted {
    deleted: String,
}

impl Render for Deleted {
    fn human(&self) -> String {
        "Deleted, and removed from the journal's history.".into()
    }
}

/// Deletes an entry, and its text from history.
pub fn delete(journal: &Journal, id: &str) -> Result<Deleted, Failure> {
    let id = find_entry(journal, id)?;
    journal.delete(&id)?;
    Ok(Deleted {
        deleted: id.to_string(),
    })
}

/// `journal sync`: whether the journal goes to the person's own linked
/// devices now.
#[derive(Serialize)]
pub struct Syncing {
    journal_sync: bool,
}

impl Render for Syncing {
    fn human(&self) -> String {
        if self.journal_sync {
            "Journal sync is on: your own linked devices get your journal when they sync."
        } else {
            "Journal sync is off: your journal stays on this device."
        }
        .into()
    }
}

/// Turns syncing the journal between the person's own devices on or off.
pub fn set_sync(journal: &Journal, on: bool) -> Result<Syncing, Failure> {
    journal.set_sync(on)?;
    Ok(Syncing { journal_sync: on })
}

/// `journal export`: where the encrypted export went, and its size.
#[derive(Serialize)]
pub struct Exported {
    export: PathBuf,
    bytes: usize,
}

impl Render for Exported {
    fn human(&self) -> String {
        format!(
            "Wrote your journal to {} (open it with: age -d {}).",
            self.export.display(),
            self.export.display()
        )
    }
}

/// Exports the journal as an age file for the person herself.
pub fn export(
    journal: &Journal,
    path: &Path,
    format: FormatArg,
    export_passphrase_env: Option<&str>,
) -> Result<Exported, Failure> {
    let pass = other_passphrase(export_passphrase_env, "Export passphrase: ")?;
    let format = match format {
        FormatArg::Markdown => JournalFormat::Markdown,
        FormatArg::Json => JournalFormat::Json,
    };
    let bytes = journal.export(format, &pass)?;
    write_private(path, &bytes)?;
    Ok(Exported {
        export: path.to_path_buf(),
        bytes: bytes.len(),
    })
}
