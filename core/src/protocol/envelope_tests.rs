//! Envelope behaviour and the committed test vectors
//! (`testdata/envelopes.json`). Regenerate the vectors with
//! `cargo test -p safespaces-core regenerate_envelope_vectors -- --ignored`
//! only when the format deliberately changes.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use serde::{Deserialize, Serialize};

use super::*;
use crate::protocol::EpochKey;

const VECTORS: &str = include_str!("testdata/envelopes.json");

#[derive(Serialize, Deserialize)]
struct Vector {
    name: String,
    /// Epoch key the envelope was sealed under.
    epoch_key: String,
    /// Epoch key the reader opens with.
    open_with: String,
    /// Seed of the key the envelope was signed with.
    signer_seed: String,
    /// Seed of the key the reader believes the author has.
    author_seed: String,
    space: String,
    epoch: u32,
    author: String,
    sequence: u64,
    kind: u8,
    body: String,
    /// The signed plaintext, hex: deterministic, so a second implementation
    /// can check its encoder byte for byte.
    signed: String,
    /// The sealed age file, base64.
    sealed: String,
    /// "ok" or the name of the expected error.
    expect: String,
}

fn key(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).unwrap();
    out
}

fn outcome(v: &Vector) -> Result<Envelope, EnvelopeError> {
    let sealed = BASE64_STANDARD.decode(&v.sealed).unwrap();
    let mut space = [0u8; 16];
    hex::decode_to_slice(&v.space, &mut space).unwrap();
    let reader = EpochKey::from_bytes(key(&v.open_with));
    let author_key = SigningKey::from_bytes(&key(&v.author_seed)).verifying_key();
    let author = DeviceId::from(v.author.clone());
    Envelope::open(
        &sealed,
        &reader.content_key(),
        SpaceId(space),
        v.epoch,
        |id| (id == &author).then_some(author_key),
    )
}

fn error_name(err: &EnvelopeError) -> &'static str {
    match err {
        EnvelopeError::Oversized(_) => "oversized",
        EnvelopeError::Undecryptable(_) => "undecryptable",
        EnvelopeError::Malformed(_) => "malformed",
        EnvelopeError::WrongSpace => "wrong_space",
        EnvelopeError::UnknownAuthor(_) => "unknown_author",
        EnvelopeError::BadSignature => "bad_signature",
        EnvelopeError::BodyTooLarge(_) => "body_too_large",
        EnvelopeError::Seal(_) => "seal",
    }
}

#[test]
fn committed_vectors_open_or_fail_as_recorded() {
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS).unwrap();
    assert!(
        vectors
            .iter()
            .filter(|v| v.name.starts_with("fail_"))
            .count()
            >= 9
    );
    let compressed = vectors
        .iter()
        .find(|v| v.name == "compressed_change_batch")
        .unwrap();
    assert_eq!(hex::decode(&compressed.signed).unwrap()[5], FLAG_DEFLATE);
    for v in &vectors {
        match (outcome(v), v.expect.as_str()) {
            (Ok(envelope), "ok") => {
                assert_eq!(hex::encode(&envelope.body), v.body, "{}", v.name);
                assert_eq!(envelope.sequence, v.sequence, "{}", v.name);
                assert_eq!(envelope.kind as u8, v.kind, "{}", v.name);
            }
            (Err(err), expected) => assert_eq!(error_name(&err), expected, "{}: {err}", v.name),
            (Ok(_), expected) => panic!("{}: opened, expected {expected}", v.name),
        }
    }
}

#[test]
fn encoder_reproduces_committed_signed_plaintext() {
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS).unwrap();
    for v in vectors.iter().filter(|v| v.expect == "ok") {
        let mut space = [0u8; 16];
        hex::decode_to_slice(&v.space, &mut space).unwrap();
        let envelope = Envelope {
            kind: EnvelopeKind::from_byte(v.kind).unwrap(),
            space: SpaceId(space),
            epoch: v.epoch,
            author: DeviceId::from(v.author.clone()),
            sequence: v.sequence,
            body: hex::decode(&v.body).unwrap(),
        };
        let signed = envelope
            .encode_signed(&SigningKey::from_bytes(&key(&v.signer_seed)))
            .unwrap();
        assert_eq!(hex::encode(signed), v.signed, "{}", v.name);
    }
}

#[test]
fn oversized_input_is_refused_before_decryption() {
    let epoch = EpochKey::generate();
    let huge = vec![0u8; MAX_SEALED + 1];
    let err =
        Envelope::open(&huge, &epoch.content_key(), SpaceId([0; 16]), 0, |_| None).unwrap_err();
    assert!(matches!(err, EnvelopeError::Oversized(_)));
}

#[test]
fn random_garbage_never_panics() {
    let epoch = EpochKey::generate();
    let ck = epoch.content_key();
    let mut seed = 1u64;
    for len in [0usize, 1, 21, 22, 100, 1000, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 33) as u8
            })
            .collect();
        assert!(Envelope::open(&bytes, &ck, SpaceId([0; 16]), 0, |_| None).is_err());
        let mut with_header = b"age-encryption.org/v1\n".to_vec();
        with_header.extend_from_slice(&bytes);
        assert!(Envelope::open(&with_header, &ck, SpaceId([0; 16]), 0, |_| None).is_err());
    }
}

#[test]
fn sealed_envelopes_have_bucket_sizes() {
    let epoch = EpochKey::generate();
    let signer = SigningKey::from_bytes(&[3; 32]);
    let mut sizes = std::collections::BTreeSet::new();
    for len in [0usize, 10, 200, 700, 1024, 3000] {
        let envelope = Envelope {
            kind: EnvelopeKind::ChangeBatch,
            space: SpaceId([1; 16]),
            epoch: 0,
            author: DeviceId::random(),
            sequence: 1,
            body: vec![7; len],
        };
        let sealed = envelope.seal(&epoch.content_key(), &signer).unwrap();
        assert!(sealed.len().is_power_of_two(), "{} bytes", sealed.len());
        sizes.insert(sealed.len());
    }
    assert!(sizes.len() <= 3, "{sizes:?}");
}

fn batch(kind: EnvelopeKind, body: Vec<u8>) -> Envelope {
    Envelope {
        kind,
        space: SpaceId([7; 16]),
        epoch: 0,
        author: DeviceId::from("0123456789abcdef".to_string()),
        sequence: 1,
        body,
    }
}

#[test]
fn batches_of_similar_changes_travel_compressed_and_open_unchanged() {
    let epoch = EpochKey::generate();
    let signer = SigningKey::from_bytes(&[9; 32]);
    let body: Vec<u8> = (0..500u32)
        .flat_map(|i| format!("change {i} to the session's title;").into_bytes())
        .collect();
    let envelope = batch(EnvelopeKind::ChangeBatch, body.clone());
    let signed = envelope.encode_signed(&signer).unwrap();
    assert_eq!(signed[5], FLAG_DEFLATE);
    assert!(
        signed.len() < body.len() / 2,
        "{} of {}",
        signed.len(),
        body.len()
    );
    let sealed = envelope.seal(&epoch.content_key(), &signer).unwrap();
    let opened = Envelope::open(&sealed, &epoch.content_key(), envelope.space, 0, |_| {
        Some(signer.verifying_key())
    })
    .unwrap();
    assert_eq!(opened, envelope);
    // Snapshots and small bodies go as they are.
    for (kind, body) in [
        (EnvelopeKind::Snapshot, body),
        (EnvelopeKind::ChangeBatch, b"a short batch".to_vec()),
    ] {
        assert_eq!(batch(kind, body).encode_signed(&signer).unwrap()[5], 0);
    }
}

#[test]
fn a_compressed_body_that_inflates_past_the_limit_is_refused() {
    use std::io::Write;
    // 65 MiB of zeros deflate to about 64 KiB: a bomb, validly signed.
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..65 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let signer = SigningKey::from_bytes(&[9; 32]);
    let envelope = batch(EnvelopeKind::ChangeBatch, b"x".to_vec());
    let mut signed = envelope.encode_signed(&signer).unwrap();
    signed.truncate(HEADER_LEN);
    signed[5] = FLAG_DEFLATE;
    signed[42..46].copy_from_slice(&(bomb.len() as u32).to_be_bytes());
    signed.extend_from_slice(&bomb);
    let signature = signer.sign(&signing_input(&signed));
    signed.extend_from_slice(&signature.to_bytes());
    let err = Envelope::decode_signed(&signed, envelope.space, 0, |_| Some(signer.verifying_key()))
        .unwrap_err();
    assert!(
        matches!(err, EnvelopeError::Malformed(m) if m.contains("beyond")),
        "{err}"
    );
}

/// Writes `testdata/envelopes.json`. Not run by default: the vectors are a
/// commitment, regenerated only for a deliberate format change.
#[test]
#[ignore]
fn regenerate_envelope_vectors() {
    let epoch_key = [0x11u8; 32];
    let other_key = [0x22u8; 32];
    let signer_seed = [0x33u8; 32];
    let impostor_seed = [0x44u8; 32];
    let space = SpaceId([0x55; 16]);
    let author = DeviceId::from("0123456789abcdef".to_string());
    let epoch = EpochKey::from_bytes(epoch_key);
    let make = |name: &str,
                kind: EnvelopeKind,
                body: &[u8],
                signer: [u8; 32],
                open_with: [u8; 32],
                mangle: &dyn Fn(Vec<u8>) -> Vec<u8>,
                expect: &str| {
        let envelope = Envelope {
            kind,
            space,
            epoch: 3,
            author: author.clone(),
            sequence: 42,
            body: body.to_vec(),
        };
        let signing = SigningKey::from_bytes(&signer);
        let signed = envelope.encode_signed(&signing).unwrap();
        let sealed = mangle(envelope.seal(&epoch.content_key(), &signing).unwrap());
        Vector {
            name: name.into(),
            epoch_key: hex::encode(epoch_key),
            open_with: hex::encode(open_with),
            signer_seed: hex::encode(signer),
            author_seed: hex::encode(signer_seed),
            space: space.to_hex(),
            epoch: 3,
            author: author.to_string(),
            sequence: 42,
            kind: kind as u8,
            body: hex::encode(body),
            signed: hex::encode(signed),
            sealed: BASE64_STANDARD.encode(sealed),
            expect: expect.into(),
        }
    };
    let keep = |s: Vec<u8>| s;
    let flip_last = |mut s: Vec<u8>| {
        let n = s.len() - 1;
        s[n] ^= 1;
        s
    };
    let flip_header = |mut s: Vec<u8>| {
        // Inside the stanza body line of the header.
        s[60] ^= 1;
        s
    };
    let truncate = |mut s: Vec<u8>| {
        s.truncate(s.len() - 100);
        s
    };
    let vectors = vec![
        make(
            "change_batch",
            EnvelopeKind::ChangeBatch,
            b"\x00\x00\x00\x01\x00\x00\x00\x03abc",
            signer_seed,
            epoch_key,
            &keep,
            "ok",
        ),
        make(
            "empty_body",
            EnvelopeKind::ChangeBatch,
            b"",
            signer_seed,
            epoch_key,
            &keep,
            "ok",
        ),
        make(
            "snapshot",
            EnvelopeKind::Snapshot,
            &[0xab; 1500],
            signer_seed,
            epoch_key,
            &keep,
            "ok",
        ),
        make(
            "fail_tampered_payload",
            EnvelopeKind::ChangeBatch,
            b"hello",
            signer_seed,
            epoch_key,
            &flip_last,
            "undecryptable",
        ),
        make(
            "fail_tampered_header",
            EnvelopeKind::ChangeBatch,
            b"hello",
            signer_seed,
            epoch_key,
            &flip_header,
            "undecryptable",
        ),
        make(
            "fail_wrong_key",
            EnvelopeKind::ChangeBatch,
            b"hello",
            signer_seed,
            other_key,
            &keep,
            "undecryptable",
        ),
        make(
            "fail_wrong_signer",
            EnvelopeKind::ChangeBatch,
            b"hello",
            impostor_seed,
            epoch_key,
            &keep,
            "bad_signature",
        ),
        make(
            "fail_truncated",
            EnvelopeKind::Snapshot,
            &[1; 3000],
            signer_seed,
            epoch_key,
            &truncate,
            "undecryptable",
        ),
        {
            // Sealed correctly but the signed plaintext claims a longer body.
            let mut v = make(
                "fail_length_mismatch",
                EnvelopeKind::ChangeBatch,
                b"hello",
                signer_seed,
                epoch_key,
                &keep,
                "malformed",
            );
            let mut signed = hex::decode(&v.signed).unwrap();
            signed[45] = 99;
            let sealed = seal_padded(&epoch.content_key(), &signed).unwrap();
            v.sealed = BASE64_STANDARD.encode(sealed);
            v
        },
        {
            let mut v = make(
                "fail_other_space",
                EnvelopeKind::ChangeBatch,
                b"hello",
                signer_seed,
                epoch_key,
                &keep,
                "wrong_space",
            );
            v.space = SpaceId([0x66; 16]).to_hex();
            v
        },
    ];
    // Compression (flag bit 0). A batch body of many similar changes.
    let repetitive: Vec<u8> = (0..40u8)
        .flat_map(|i| {
            let mut change = b"automerge change for a session title ".to_vec();
            change.push(b'0' + i % 10);
            change
        })
        .collect();
    // A signed plaintext re-signed after `edit`, sealed properly: what a
    // writer of a malformed envelope with a valid signature would send.
    let resigned = |name: &str, kind: EnvelopeKind, body: &[u8], edit: &dyn Fn(&mut Vec<u8>)| {
        let mut v = make(name, kind, body, signer_seed, epoch_key, &keep, "malformed");
        let mut signed = hex::decode(&v.signed).unwrap();
        signed.truncate(signed.len() - SIGNATURE_LEN);
        edit(&mut signed);
        let signature = SigningKey::from_bytes(&signer_seed).sign(&signing_input(&signed));
        signed.extend_from_slice(&signature.to_bytes());
        v.signed = hex::encode(&signed);
        v.sealed = BASE64_STANDARD.encode(seal_padded(&epoch.content_key(), &signed).unwrap());
        v
    };
    let mut vectors = vectors;
    vectors.extend([
        make(
            "compressed_change_batch",
            EnvelopeKind::ChangeBatch,
            &repetitive,
            signer_seed,
            epoch_key,
            &keep,
            "ok",
        ),
        resigned(
            "fail_compressed_snapshot",
            EnvelopeKind::ChangeBatch,
            &repetitive,
            &|signed| signed[4] = EnvelopeKind::Snapshot as u8,
        ),
        resigned(
            "fail_unknown_flag",
            EnvelopeKind::ChangeBatch,
            b"hello",
            &|signed| signed[5] = 2,
        ),
        resigned(
            "fail_bad_deflate",
            EnvelopeKind::ChangeBatch,
            b"hello",
            &|signed| signed[5] = FLAG_DEFLATE,
        ),
    ]);
    // Vectors already committed stay byte for byte (their sealed files hold
    // random salts): only new names are added.
    let committed: Vec<Vector> = serde_json::from_str(VECTORS).unwrap();
    let vectors: Vec<Vector> = vectors
        .into_iter()
        .map(|v| {
            committed
                .iter()
                .find(|c| c.name == v.name)
                .map(|c| serde_json::from_value(serde_json::to_value(c).unwrap()).unwrap())
                .unwrap_or(v)
        })
        .collect();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/protocol/testdata/envelopes.json"
    );
    std::fs::write(path, serde_json::to_string_pretty(&vectors).unwrap() + "\n").unwrap();
}
