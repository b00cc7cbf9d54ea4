//! A handover body (decoded, then checked for who may hand over, its key
//! and admin seed opened), a key grant's body (decoded, then opened against
//! a handover), an admin grant's body (decoded, then opened) and an
//! attendance request's body (opened by a lead device) from another device
//! never panic, whatever the bytes.
#![no_main]

mod fixture;

use libfuzzer_sys::fuzz_target;
use safespaces_core::protocol::Handover;
use safespaces_core::protocol::admin_grant::AdminGrant;
use safespaces_core::protocol::attendance::AttendanceRequest;
use safespaces_core::protocol::attestation::Attestation;
use safespaces_core::protocol::key_grant::KeyGrant;
use safespaces_core::protocol::rotation::check_handover;

fuzz_target!(|data: &[u8]| {
    let mut f = fixture::fixture();
    if let Ok(handover) = Handover::decode(data) {
        let _ = handover.encode();
        let _ = check_handover(&mut f.doc, &f.coordinator.1, &handover, None);
        let _ = handover.open(&f.identity);
        let _ = handover.open_admin(&f.identity);
        if let Ok(grant) = KeyGrant::decode(data) {
            let _ = grant.open(&handover, &f.identity);
            let _ = grant.open_admin(&handover, &f.identity);
        }
    }
    if let Ok(grant) = KeyGrant::decode(data) {
        let _ = grant.encode();
    }
    if let Ok(grant) = AdminGrant::decode(data) {
        let _ = grant.encode();
        let _ = grant.open(&f.identity, &safespaces_core::protocol::AdminSeed::from_bytes([1; 32]).public());
    }
    let _ = AttendanceRequest::open(data, &f.identity, &f.doc);
    let _ = Attestation::decode(data);
});
