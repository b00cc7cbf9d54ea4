//! Snapshots from another device: the body's framing, `SpaceDoc::load`,
//! importing its history into a member's document, and checking it from the
//! space's creation as a joiner does, never panic, whatever the bytes.
#![no_main]

mod fixture;

use libfuzzer_sys::fuzz_target;
use safespaces_core::model::SpaceDoc;
use safespaces_core::protocol::exchange::import_history;
use safespaces_core::protocol::genesis::verify_from_genesis;
use safespaces_core::protocol::snapshot::SnapshotBody;

fuzz_target!(|data: &[u8]| {
    let mut f = fixture::fixture();
    let _ = SpaceDoc::load(data);
    let (document, attestations) = match SnapshotBody::decode(data) {
        Ok(body) => (body.document, body.attestations),
        Err(_) => (data.to_vec(), Vec::new()),
    };
    if let Ok(mut theirs) = automerge::AutoCommit::load(&document) {
        let _ = import_history(&mut f.doc, &mut theirs, f.space, attestations.clone());
    }
    let _ = verify_from_genesis(f.space, &document, attestations);
});
