//! The person's own journal export: Markdown or JSON, sealed to a passphrase.
//!
//! The journal model lives in `model`; this takes plain entries so the two can
//! be wired together without the profile depending on the model. The result
//! is a standard age scrypt file: `age -d journal.age > journal.md`.

use age_core::secrecy::SecretString;
use serde::Serialize;
use zeroize::Zeroizing;

use super::error::ProfileError;
use super::passphrase::{PassphraseWork, seal_with_passphrase};

/// One journal entry, as the model will hand it over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// When the entry was written, milliseconds since the Unix epoch (UTC).
    pub created_at_ms: i64,
    /// The entry's text, as written.
    pub text: String,
    /// An optional mood, 1 (low) to 5 (high).
    pub mood: Option<u8>,
    /// Tags the person chose.
    pub tags: Vec<String>,
}

/// The export's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalFormat {
    /// A readable Markdown document, one section per entry, oldest first.
    Markdown,
    /// `{"format":"safespaces-journal","version":1,"entries":[…]}` with
    /// `created_at` as RFC 3339 UTC next to `created_at_ms`.
    Json,
}

/// Renders entries (sorted oldest first) without encrypting them.
pub fn render_journal(entries: &[JournalEntry], format: JournalFormat) -> Zeroizing<String> {
    let mut sorted: Vec<&JournalEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.created_at_ms);
    match format {
        JournalFormat::Markdown => {
            let mut out = Zeroizing::new(String::from("# My journal\n"));
            for entry in sorted {
                out.push_str(&format!("\n## {}\n\n", rfc3339(entry.created_at_ms)));
                if let Some(mood) = &entry.mood {
                    out.push_str(&format!("*Mood:* {mood} of 5\n\n"));
                }
                if !entry.tags.is_empty() {
                    out.push_str(&format!("*Tags:* {}\n\n", entry.tags.join(", ")));
                }
                out.push_str(entry.text.trim_end());
                out.push('\n');
            }
            out
        }
        JournalFormat::Json => {
            #[derive(Serialize)]
            struct Entry<'a> {
                created_at: String,
                #[serde(flatten)]
                entry: &'a JournalEntry,
            }
            #[derive(Serialize)]
            struct Export<'a> {
                format: &'static str,
                version: u32,
                entries: Vec<Entry<'a>>,
            }
            let export = Export {
                format: "safespaces-journal",
                version: 1,
                entries: sorted
                    .into_iter()
                    .map(|entry| Entry {
                        created_at: rfc3339(entry.created_at_ms),
                        entry,
                    })
                    .collect(),
            };
            // Serializing plain strings and numbers cannot fail.
            Zeroizing::new(serde_json::to_string_pretty(&export).unwrap_or_default())
        }
    }
}

/// Renders and seals entries to `passphrase` as a standard age file.
pub fn export_journal(
    entries: &[JournalEntry],
    format: JournalFormat,
    passphrase: &SecretString,
    work: PassphraseWork,
) -> Result<Vec<u8>, ProfileError> {
    let rendered = render_journal(entries, format);
    seal_with_passphrase(passphrase, work, |w| w.write_all(rendered.as_bytes()))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for milliseconds since the epoch (proleptic
/// Gregorian, UTC), without a date library.
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<JournalEntry> {
        vec![
            JournalEntry {
                created_at_ms: 1_764_000_000_000,
                text: "second".into(),
                mood: None,
                tags: vec![],
            },
            JournalEntry {
                created_at_ms: 951_782_400_000,
                text: "first".into(),
                mood: Some(4),
                tags: vec!["group".into(), "sleep".into()],
            },
        ]
    }

    #[test]
    fn dates_render_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_000_000_000), "2025-11-24T16:00:00Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn markdown_lists_entries_oldest_first() {
        let md = render_journal(&entries(), JournalFormat::Markdown);
        let first = md.find("first").expect("first");
        let second = md.find("second").expect("second");
        assert!(first < second);
        assert!(md.contains("*Mood:* 4 of 5"));
        assert!(md.contains("*Tags:* group, sleep"));
        assert!(md.contains("## 2000-02-29T00:00:00Z"));
    }

    #[test]
    fn json_export_is_parseable() {
        let json = render_journal(&entries(), JournalFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["entries"][0]["text"], "first");
        assert_eq!(v["entries"][0]["created_at"], "2000-02-29T00:00:00Z");
        assert_eq!(v["entries"][0]["tags"][1], "sleep");
    }

    #[test]
    fn export_opens_with_the_passphrase() {
        let pass = SecretString::from("journal pass".to_owned());
        let sealed = export_journal(
            &entries(),
            JournalFormat::Markdown,
            &pass,
            PassphraseWork::InsecureTestOnly { log_n: 4 },
        )
        .expect("export");
        let plain = super::super::passphrase::open_with_passphrase(&pass, &sealed).expect("open");
        assert!(String::from_utf8_lossy(&plain).contains("first"));
    }
}
