//! Behaviour of the journal document.

use super::*;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn saved_journal_bytes_contain_no_deleted_text() {
    let mut journal = JournalDoc::new();
    let secret = "CANARY-told-no-one-about-friday";
    let kept = "KEPT-went-for-a-walk";
    let doomed = journal
        .add(secret, Some(2), &["hard day".into()], Timestamp(1))
        .unwrap();
    journal.add(kept, None, &[], Timestamp(2)).unwrap();
    // The check can see the text while it exists (the document stores short
    // text columns uncompressed), so its absence below means something.
    assert!(contains(&journal.save(), secret));

    journal.delete(&doomed).unwrap();
    let saved = journal.save();
    assert!(
        !contains(&saved, secret),
        "deleted text survived in the saved bytes"
    );
    assert!(
        !contains(&saved, "hard day"),
        "deleted entry's tag survived"
    );
    assert!(contains(&saved, kept));
    let reloaded = JournalDoc::load(&saved).unwrap();
    assert_eq!(reloaded.entries().unwrap().len(), 1);
    assert_eq!(reloaded.generation().unwrap(), 1);
    assert!(matches!(
        journal.entry(&doomed),
        Err(ModelError::UnknownEntry(_))
    ));
}

#[test]
fn purging_history_drops_old_versions_of_edited_text() {
    let mut journal = JournalDoc::new();
    let id = journal
        .add("CANARY-first-draft", None, &[], Timestamp(1))
        .unwrap();
    journal
        .edit(
            &id,
            JournalEdit {
                text: Some("second thoughts".into()),
                ..Default::default()
            },
            Timestamp(2),
        )
        .unwrap();
    assert!(contains(&journal.save(), "CANARY"));
    journal.purge_history().unwrap();
    let saved = journal.save();
    assert!(!contains(&saved, "CANARY"));
    assert_eq!(journal.entry(&id).unwrap().text, "second thoughts");
}

#[test]
fn two_devices_editing_one_entry_offline_keep_both_edits() {
    let mut phone = JournalDoc::new();
    let id = phone
        .add("Morning. Evening.", None, &[], Timestamp(1))
        .unwrap();
    let mut laptop = phone.fork();
    phone
        .edit(
            &id,
            JournalEdit {
                text: Some("Morning: calm. Evening.".into()),
                ..Default::default()
            },
            Timestamp(2),
        )
        .unwrap();
    laptop
        .edit(
            &id,
            JournalEdit {
                text: Some("Morning. Evening: tired.".into()),
                mood: Some(Some(3)),
                ..Default::default()
            },
            Timestamp(3),
        )
        .unwrap();
    phone.merge(&mut laptop).unwrap();
    laptop.merge(&mut phone).unwrap();
    let merged = phone.entry(&id).unwrap();
    assert_eq!(merged.text, "Morning: calm. Evening: tired.");
    assert_eq!(merged.mood, Some(3));
    assert_eq!(merged, laptop.entry(&id).unwrap());
}

#[test]
fn tags_are_a_set_and_searchable() {
    let mut journal = JournalDoc::new();
    let a = journal
        .add(
            "one",
            None,
            &["Sleep".into(), "sleep".into(), " therapy ".into()],
            Timestamp(1),
        )
        .unwrap();
    journal
        .add("two", None, &["therapy".into()], Timestamp(2))
        .unwrap();
    assert_eq!(journal.entry(&a).unwrap().tags, vec!["sleep", "therapy"]);
    let therapy = journal.with_tag("THERAPY").unwrap();
    assert_eq!(therapy.len(), 2);
    assert_eq!(therapy[0].text, "two", "newest first");
    journal
        .edit(
            &a,
            JournalEdit {
                tags: Some(vec![]),
                ..Default::default()
            },
            Timestamp(3),
        )
        .unwrap();
    assert!(journal.with_tag("sleep").unwrap().is_empty());
}

#[test]
fn mood_must_be_one_to_five_and_refusal_changes_nothing() {
    let mut journal = JournalDoc::new();
    assert!(journal.add("x", Some(0), &[], Timestamp(1)).is_err());
    assert!(journal.add("x", Some(6), &[], Timestamp(1)).is_err());
    let id = journal.add("x", Some(5), &[], Timestamp(1)).unwrap();
    let before = journal.heads();
    assert!(
        journal
            .edit(
                &id,
                JournalEdit {
                    mood: Some(Some(9)),
                    ..Default::default()
                },
                Timestamp(2)
            )
            .is_err()
    );
    assert_eq!(journal.heads(), before);
    journal
        .edit(
            &id,
            JournalEdit {
                mood: Some(None),
                ..Default::default()
            },
            Timestamp(2),
        )
        .unwrap();
    assert_eq!(journal.entry(&id).unwrap().mood, None);
}

#[test]
fn journals_of_different_generations_refuse_to_merge() {
    let mut phone = JournalDoc::new();
    let id = phone.add("CANARY-gone", None, &[], Timestamp(1)).unwrap();
    let mut laptop = phone.fork();
    phone.delete(&id).unwrap();
    assert!(phone.merge(&mut laptop).is_err());
    assert!(!contains(&phone.save(), "CANARY"));
}

#[test]
fn adopting_a_newer_generation_keeps_unsynced_local_entries_and_the_delete() {
    let mut phone = JournalDoc::new();
    let doomed = phone
        .add("CANARY-delete-me", None, &[], Timestamp(1))
        .unwrap();
    let mut laptop = phone.fork();
    // Offline: the phone deletes an entry; the laptop writes a new one.
    phone.delete(&doomed).unwrap();
    let fresh = laptop
        .add("written on the laptop", Some(4), &[], Timestamp(5))
        .unwrap();

    let newer = JournalDoc::load(&phone.save()).unwrap();
    laptop.adopt_generation(newer).unwrap();
    let entries = laptop.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, fresh);
    assert!(!contains(&laptop.save(), "CANARY"));
}

#[test]
fn garbage_and_space_documents_are_not_journals() {
    assert!(JournalDoc::load(b"nope").is_err());
    let (mut space, _) = crate::model::SpaceDoc::create("g", "r", Timestamp(0)).unwrap();
    assert!(matches!(
        JournalDoc::load(&space.save()),
        Err(ModelError::InvalidDocument {
            kind: "journal",
            ..
        })
    ));
}

#[test]
fn concurrent_purges_on_two_devices_do_not_merge_and_converge_by_adoption() {
    let mut phone = JournalDoc::new();
    let a = phone.add("CANARY-a", None, &[], Timestamp(1)).unwrap();
    let b = phone.add("CANARY-b", None, &[], Timestamp(2)).unwrap();
    phone.add("kept", None, &[], Timestamp(3)).unwrap();
    let mut laptop = phone.fork();
    phone.delete(&a).unwrap();
    laptop.delete(&b).unwrap();
    assert_eq!(phone.generation().unwrap(), laptop.generation().unwrap());
    assert!(
        phone.merge(&mut laptop).is_err(),
        "same number, different rebuilds"
    );
    // Whichever is ordered later is adopted by the other.
    let (mut older, newer) = if phone.generation_key().unwrap() < laptop.generation_key().unwrap() {
        (phone, laptop)
    } else {
        (laptop, phone)
    };
    older
        .adopt_generation(JournalDoc::load(&newer.clone_bytes()).unwrap())
        .unwrap();
    let texts: Vec<String> = older
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(
        texts,
        vec!["kept".to_string()],
        "both deletes hold, nothing else lost"
    );
    let saved = older.save();
    assert!(!contains(&saved, "CANARY-a") && !contains(&saved, "CANARY-b"));
    // The result is ordered after both, so the other device adopts it too.
    let mut other = JournalDoc::load(&newer.clone_bytes()).unwrap();
    other
        .adopt_generation(JournalDoc::load(&older.clone_bytes()).unwrap())
        .unwrap();
    assert_eq!(other.entries().unwrap(), older.entries().unwrap());
}

impl JournalDoc {
    fn clone_bytes(&self) -> Vec<u8> {
        self.doc.clone().save()
    }
}

#[test]
fn an_entry_whose_write_was_refused_is_carried_by_the_next_write() {
    let mut journal = JournalDoc::new();
    let base = journal.save();
    journal.add("first", None, &[], Timestamp(1)).unwrap();
    let refused: Result<(), &str> = journal.save_incremental_then(|bytes| {
        assert!(!bytes.is_empty());
        Err("disk full")
    });
    assert!(refused.is_err());
    journal.add("second", None, &[], Timestamp(2)).unwrap();
    let mut written = Vec::new();
    journal
        .save_incremental_then(|bytes| {
            written = bytes.to_vec();
            Ok::<(), &str>(())
        })
        .unwrap();
    let mut reloaded = JournalDoc::load(&base).unwrap();
    reloaded.load_incremental(&written).unwrap();
    let mut texts: Vec<String> = reloaded
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    texts.sort();
    assert_eq!(texts, ["first", "second"]);
    // A purge drops what was never written with the text it held.
    journal.add("doomed", None, &[], Timestamp(3)).unwrap();
    let _ = journal.save_incremental_then(|_| Err::<(), &str>("disk full"));
    let doomed = journal
        .entries()
        .unwrap()
        .into_iter()
        .find(|e| e.text == "doomed")
        .unwrap()
        .id;
    journal.delete(&doomed).unwrap();
    assert!(!contains(&journal.save_incremental(), "doomed"));
}
