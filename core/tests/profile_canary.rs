//! Canary test: distinctive strings written into documents never appear in
//! any byte of the profile directory, nor do ids or keys, and every sealed
//! file has a bucket size and a meaningless name.

mod profile_support;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use safespaces_core::profile::{KeyId, Profile, UnlockSecret};
use safespaces_core::store::DocumentId;
use safespaces_core::store::padding::bucket_for;

use profile_support::{FAST, contains, snapshot_dir};

const CANARIES: &[&str] = &[
    "CANARY-JOURNAL-tonight-I-remembered",
    "CANARY-NAME-Zelda-Okonkwo",
    "CANARY-SESSION-Thursday-survivor-circle",
    "CANARY-SIGNPOST-rape-crisis-line",
    "CANARY-MOOD-anxious",
];

#[test]
fn no_plaintext_id_or_key_reaches_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = [0x3c; 32];
    let space_key = [0x77; 32];
    let profile = Profile::create_with_options(
        dir.path(),
        UnlockSecret::passphrase("CANARY-PASSPHRASE"),
        FAST,
    )
    .expect("create");
    profile
        .set_keystore_secret(&secret, Some(&"CANARY-PASSPHRASE".to_string().into()))
        .expect("keystore");
    profile
        .insert_key(KeyId([0x11; 16]), space_key)
        .expect("key");

    let journal_id = DocumentId::random();
    let space_id = DocumentId::random();

    let mut journal = AutoCommit::new();
    let entries = journal
        .put_object(ROOT, "entries", ObjType::List)
        .expect("list");
    let entry = journal
        .insert_object(&entries, 0, ObjType::Map)
        .expect("entry");
    journal.put(&entry, "text", CANARIES[0]).expect("text");
    journal.put(&entry, "mood", CANARIES[4]).expect("mood");
    profile
        .put_snapshot(journal_id, &journal.save())
        .expect("journal snapshot");

    let mut space = AutoCommit::new();
    let members = space
        .put_object(ROOT, "members", ObjType::Map)
        .expect("members");
    profile
        .put_snapshot(space_id, &space.save())
        .expect("space snapshot");
    // Increments as well as snapshots, and enough to trigger compaction.
    for i in 0..70 {
        space
            .put(&members, format!("m{i}"), CANARIES[1])
            .expect("member");
        if i % 10 == 0 {
            space.put(ROOT, "session", CANARIES[2]).expect("session");
            space
                .put(ROOT, "signposting", CANARIES[3])
                .expect("signpost");
        }
        profile
            .append_increment(space_id, &space.save_incremental())
            .expect("append");
    }
    let device_recipient = profile
        .with_keyring(|k| k.device_recipient().to_string())
        .expect("keyring");
    let signing = profile
        .with_keyring(|k| k.signing_key().to_bytes())
        .expect("keyring");

    // Sanity: the data really is stored and readable.
    let stored = profile
        .get_document(space_id)
        .expect("get")
        .expect("present");
    let mut loaded = AutoCommit::load(stored.snapshot.as_deref().expect("snapshot")).expect("load");
    for inc in &stored.increments {
        loaded.load_incremental(inc).expect("inc");
    }
    assert_eq!(loaded.save(), space.save());
    profile.lock();

    let files = snapshot_dir(dir.path());
    assert!(files.len() >= 4);
    let mut needles: Vec<(String, Vec<u8>)> = CANARIES
        .iter()
        .map(|c| (c.to_string(), c.as_bytes().to_vec()))
        .collect();
    for id in [journal_id, space_id] {
        needles.push((format!("{id:?} raw"), id.as_bytes().to_vec()));
        needles.push((
            format!("{id:?} hex"),
            hex::encode(id.as_bytes()).into_bytes(),
        ));
    }
    needles.push(("passphrase".into(), b"CANARY-PASSPHRASE".to_vec()));
    needles.push(("keystore secret".into(), secret.to_vec()));
    needles.push(("space key".into(), space_key.to_vec()));
    needles.push(("space key id".into(), vec![0x11; 16]));
    needles.push(("signing key".into(), signing.to_vec()));
    needles.push(("device recipient".into(), device_recipient.into_bytes()));
    // automerge's own magic bytes would betray unencrypted documents.
    needles.push(("automerge magic".into(), vec![0x85, 0x6f, 0x4a, 0x83]));

    for (name, bytes) in &files {
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} found in {name}");
            assert!(
                !contains(name.as_bytes(), needle),
                "{what} found in file name {name}"
            );
        }
        match name.as_str() {
            "unlock" | "attempts" => {}
            other => {
                assert_eq!(other.len(), 32, "unexpected file {other}");
                assert!(other.bytes().all(|b| b.is_ascii_hexdigit()));
                let len = bytes.len() as u64;
                assert!(
                    len + 16 >= bucket_for(len) && len <= bucket_for(len),
                    "{other} is {len} bytes, not a bucket size"
                );
                assert!(
                    bytes.starts_with(b"age-encryption.org/v1\n"),
                    "{other} is not an age file"
                );
            }
        }
    }
}
