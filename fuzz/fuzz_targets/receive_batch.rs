//! A change batch's body from another device (decoded, then checked for
//! authorship and permissions, as receiving does, including the admission
//! rule for any change that uses an invite), never panics, whatever the
//! bytes; and nothing reaches the document unless the checks pass.
#![no_main]

mod fixture;

use libfuzzer_sys::fuzz_target;
use safespaces_core::protocol::authorship::check_batch;
use safespaces_core::protocol::exchange::decode_batch;

fuzz_target!(|data: &[u8]| {
    let f = fixture::fixture();
    if let Ok((changes, _)) = decode_batch(data) {
        let _ = check_batch(&f.doc, &f.member.1, &changes);
        let _ = check_batch(&f.doc, &f.coordinator.1, &changes);
    }
});
