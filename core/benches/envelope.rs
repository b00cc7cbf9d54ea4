//! Seal + open of a 1 KiB change batch as an envelope, beside age with one
//! X25519 recipient doing the same 1 KiB in the same run; prints the
//! envelope's byte overhead before padding.
//!
//! Run: `cargo bench -p safespaces-core --bench envelope`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::io::{Read, Write};

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use safespaces_core::model::DeviceId;
use safespaces_core::protocol::{Envelope, EnvelopeKind, EpochKey, SpaceId};

fn x25519_seal(recipient: &age::x25519::Recipient, plain: &[u8]) -> Vec<u8> {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn x25519_open(identity: &age::x25519::Identity, sealed: &[u8]) -> Vec<u8> {
    let d = age::Decryptor::new_buffered(sealed).unwrap();
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let epoch = EpochKey::generate();
    let content = epoch.content_key();
    let signer = SigningKey::from_bytes(&[5; 32]);
    let verifying = signer.verifying_key();
    let author = DeviceId::random();
    let space = SpaceId::random();
    let envelope = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space,
        epoch: 0,
        author: author.clone(),
        sequence: 1,
        body: incompressible(1024),
    };
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();

    // Overhead before padding: the unpadded age file of the signed
    // plaintext (what the envelope would be without bucket padding) minus
    // the 1 KiB body. Averaged over runs because age adds a random-length
    // grease stanza to some headers.
    let signed = envelope.encode_signed(&signer).unwrap();
    let runs = 200;
    let total: usize = (0..runs)
        .map(|_| content.seal(&signed).unwrap().len())
        .sum();
    let avg = total as f64 / runs as f64;
    let sealed = envelope.seal(&content, &signer).unwrap();
    let x = x25519_seal(&recipient, &envelope.body);
    eprintln!(
        "1 KiB body: signed plaintext {} B (header 46 + signature 64); unpadded envelope {:.1} B avg \
         => overhead {:.1} B; padded envelope {} B; age X25519 file {} B (+{} B)",
        signed.len(),
        avg,
        avg - 1024.0,
        sealed.len(),
        x.len(),
        x.len() - 1024
    );

    let mut group = c.benchmark_group("envelope_1KiB");
    group.bench_function(
        "seal+open/envelope (symmetric stanza, signed, padded)",
        |b| {
            b.iter(|| {
                let sealed = envelope.seal(&content, &signer).unwrap();
                black_box(Envelope::open(&sealed, &content, space, 0, |_| Some(verifying)).unwrap())
            })
        },
    );
    group.bench_function(
        "seal+open/age symmetric stanza only (no signature, no padding)",
        |b| {
            b.iter(|| {
                let sealed = content.seal(&envelope.body).unwrap();
                black_box(content.open(&sealed).unwrap())
            })
        },
    );
    group.bench_function("sign+verify/ed25519 only", |b| {
        use ed25519_dalek::{Signer, Verifier};
        b.iter(|| {
            let sig = signer.sign(&envelope.body);
            black_box(verifying.verify(&envelope.body, &sig).is_ok())
        })
    });
    group.bench_function("seal+open/age X25519 recipient", |b| {
        b.iter(|| {
            black_box(x25519_open(
                &identity,
                &x25519_seal(&recipient, &envelope.body),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// Bytes DEFLATE cannot shrink (xorshift), so the envelope carries exactly
/// 1 KiB of body and these figures stay comparable with earlier runs:
/// change batches of 256 bytes or more travel compressed when that helps.
fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
