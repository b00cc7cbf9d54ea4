//! Envelopes: what every blob on the wire is (protocol.md §3).
//!
//! An envelope is one age v1 file, sealed to an epoch's content key through
//! the `safespaces-key` stanza and padded so its whole size is a bucket. Its
//! plaintext is a fixed 46-byte header, the body, and the author device's
//! Ed25519 signature over both:
//!
//! ```text
//! "SSE1" | kind u8 | flags u8 | space id [16] | epoch u32 | author device [8]
//!        | sequence u64 | body length u32 | body | signature [64]
//! ```
//!
//! Flag bit 0 says the body of a change batch or join travels as raw
//! DEFLATE; [`Envelope::body`] is always the inflated body.
//!
//! Change batches and handovers are numbered per author device and
//! mailbox, so a receiver notices one the relay withheld
//! (`EnvelopeKind::is_numbered`, `app::author_sequences`).
//!
//! Opening checks, in order, size, the age layer (wrong key, tampering and
//! truncation all fail there), the header against the mailbox it came from,
//! then the signature against the author's key from the space document, and
//! only then inflates a compressed body. Nothing reaches a document before
//! every check passes.
//!
//! ```
//! use safespaces_core::protocol::{EpochKey, Envelope, EnvelopeKind, SpaceId};
//! use safespaces_core::model::DeviceId;
//! use ed25519_dalek::SigningKey;
//!
//! let epoch = EpochKey::generate();
//! let device = SigningKey::from_bytes(&[1; 32]);
//! let author = DeviceId::random();
//! let space = SpaceId([9; 16]);
//! let envelope = Envelope {
//!     kind: EnvelopeKind::ChangeBatch,
//!     space,
//!     epoch: 0,
//!     author: author.clone(),
//!     sequence: 1,
//!     body: b"automerge changes".to_vec(),
//! };
//! let sealed = envelope.seal(&epoch.content_key(), &device).unwrap();
//! let opened = Envelope::open(&sealed, &epoch.content_key(), space, 0, |id| {
//!     (id == &author).then(|| device.verifying_key())
//! })
//! .unwrap();
//! assert_eq!(opened, envelope);
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::crypto::padding::{PaddingError, open_padded, seal_padded};
use crate::crypto::{OpenError, SealError, SymmetricKey};
use crate::model::DeviceId;

const MAGIC: &[u8; 4] = b"SSE1";
/// Flag bit: the body is raw DEFLATE (protocol.md §3, "Compression").
const FLAG_DEFLATE: u8 = 1;
/// Bodies shorter than this are sent as they are: automerge already
/// compresses single changes above 256 bytes, and deflate gains nothing on
/// a lone small change.
const COMPRESS_FROM: usize = 256;
const SIGNATURE_CONTEXT: &[u8] = b"safespaces/v1/envelope";
/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 46;
const SIGNATURE_LEN: usize = 64;
/// Largest body an envelope carries. Snapshots of very large spaces are the
/// only thing near it.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest sealed envelope accepted before any decryption is attempted.
pub const MAX_SEALED: usize = 2 * MAX_BODY;

/// A space's id: 16 random bytes, never sent to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpaceId(pub [u8; 16]);

impl SpaceId {
    /// Draws a fresh id.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// What an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnvelopeKind {
    /// Automerge changes.
    ChangeBatch = 1,
    /// A whole document, covering the mailbox up to a sequence number.
    Snapshot = 2,
    /// A new epoch's key, sealed to the remaining devices.
    EpochHandover = 3,
    /// An attendance request sealed to a session's leads.
    AttendanceRequest = 4,
    // 5 was a joiner's own first batch in version 1; joiners are admitted
    // by their inviter's device now (protocol.md §5), and 5 is refused.
    /// A new epoch's key re-sealed to devices its handover missed, in the
    /// mailbox of the epoch the handover leaves.
    KeyGrant = 6,
    /// An epoch mailbox's admin seed sealed to coordinators' devices that
    /// do not hold it, in that epoch's mailbox.
    AdminGrant = 7,
}

impl EnvelopeKind {
    /// Whether envelopes of this kind carry their author's sequence number
    /// in a space's mailbox (from 1): change batches and handovers. The
    /// others carry 0, and so does everything in the journal's mailbox
    /// (protocol.md §3, "Sequence numbers", says why).
    pub fn is_numbered(self) -> bool {
        matches!(
            self,
            EnvelopeKind::ChangeBatch | EnvelopeKind::EpochHandover
        )
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => EnvelopeKind::ChangeBatch,
            2 => EnvelopeKind::Snapshot,
            3 => EnvelopeKind::EpochHandover,
            4 => EnvelopeKind::AttendanceRequest,
            6 => EnvelopeKind::KeyGrant,
            7 => EnvelopeKind::AdminGrant,
            _ => return None,
        })
    }
}

/// An envelope's contents, before sealing or after opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// What the body is.
    pub kind: EnvelopeKind,
    /// The space it belongs to.
    pub space: SpaceId,
    /// The epoch whose key sealed it.
    pub epoch: u32,
    /// The device that wrote and signed it.
    pub author: DeviceId,
    /// The author device's sequence number in this epoch's mailbox, from
    /// 1, for change batches and handovers; 0 for the kinds that are not
    /// numbered (protocol.md §3, "Sequence numbers").
    pub sequence: u64,
    /// The payload.
    pub body: Vec<u8>,
}

/// Why an envelope was refused. A refused envelope changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Larger than any envelope this version writes; not even decrypted.
    #[error("envelope of {0} bytes is larger than the {MAX_SEALED}-byte limit")]
    Oversized(usize),
    /// The age layer failed: sealed to another key, or corrupt, truncated or
    /// tampered with (age authenticates every byte).
    #[error("cannot open envelope: {0}")]
    Undecryptable(String),
    /// Decrypted, but the plaintext is not a well-formed envelope.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// Well-formed, but for another space or epoch than the mailbox it came from.
    #[error("envelope belongs to another space or epoch")]
    WrongSpace,
    /// The author device is not a device of a current member.
    #[error("envelope author {0} is not a device of a current member")]
    UnknownAuthor(String),
    /// The signature does not verify under the author's key.
    #[error("envelope signature does not verify: forged or altered")]
    BadSignature,
    /// The body is too large to seal.
    #[error("body of {0} bytes exceeds the {MAX_BODY}-byte limit")]
    BodyTooLarge(usize),
    /// Sealing failed (a bug, not bad input).
    #[error("could not seal envelope: {0}")]
    Seal(#[from] SealError),
}

impl From<PaddingError> for EnvelopeError {
    fn from(err: PaddingError) -> Self {
        match err {
            PaddingError::Open(OpenError::WrongKey) => {
                EnvelopeError::Undecryptable("not sealed to this epoch's key".into())
            }
            PaddingError::Open(other) => EnvelopeError::Undecryptable(other.to_string()),
            PaddingError::Malformed => EnvelopeError::Malformed("bad padding frame"),
        }
    }
}

fn device_bytes(id: &DeviceId) -> Result<[u8; 8], EnvelopeError> {
    let mut out = [0u8; 8];
    hex::decode_to_slice(id.as_str(), &mut out)
        .map_err(|_| EnvelopeError::Malformed("author device id is not 16 hex digits"))?;
    Ok(out)
}

impl Envelope {
    /// The signed plaintext: header, body and signature. Deterministic
    /// (Ed25519 signatures are), which is what the test vectors pin down.
    pub fn encode_signed(&self, signer: &SigningKey) -> Result<Vec<u8>, EnvelopeError> {
        if self.body.len() > MAX_BODY {
            return Err(EnvelopeError::BodyTooLarge(self.body.len()));
        }
        let compressed = compress(self.kind, &self.body);
        let (flags, body) = match &compressed {
            Some(smaller) => (FLAG_DEFLATE, smaller.as_slice()),
            None => (0, self.body.as_slice()),
        };
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + SIGNATURE_LEN);
        out.extend_from_slice(MAGIC);
        out.push(self.kind as u8);
        out.push(flags);
        out.extend_from_slice(&self.space.0);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&device_bytes(&self.author)?);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        let signature = signer.sign(&signing_input(&out));
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }

    /// Signs with the author device's key and seals to the epoch's content
    /// key, padded to a bucket.
    pub fn seal(
        &self,
        content_key: &SymmetricKey,
        signer: &SigningKey,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let plain = zeroize::Zeroizing::new(self.encode_signed(signer)?);
        Ok(seal_padded(content_key, &plain)?)
    }

    /// Opens a sealed envelope from the mailbox of `space` at `epoch`.
    /// `author_key` maps a device id to its verifying key if that device
    /// belongs to a current member, and to `None` otherwise.
    pub fn open(
        sealed: &[u8],
        content_key: &SymmetricKey,
        space: SpaceId,
        epoch: u32,
        author_key: impl FnOnce(&DeviceId) -> Option<VerifyingKey>,
    ) -> Result<Envelope, EnvelopeError> {
        let unverified = Self::open_unverified(sealed, content_key, space, epoch)?;
        let key = author_key(&unverified.envelope.author)
            .ok_or_else(|| EnvelopeError::UnknownAuthor(unverified.envelope.author.to_string()))?;
        unverified.verify(&key)
    }

    /// Decrypts and parses an envelope without checking its signature yet,
    /// for the one case where the author's key travels inside the body (a
    /// join). Call [`Unverified::verify`] before using anything in it.
    pub fn open_unverified(
        sealed: &[u8],
        content_key: &SymmetricKey,
        space: SpaceId,
        epoch: u32,
    ) -> Result<Unverified, EnvelopeError> {
        if sealed.len() > MAX_SEALED {
            return Err(EnvelopeError::Oversized(sealed.len()));
        }
        let plain = open_padded(content_key, sealed)?;
        Self::decode_unverified(&plain, space, epoch)
    }

    /// Parses and verifies a signed plaintext (the inverse of
    /// [`Envelope::encode_signed`]).
    pub fn decode_signed(
        plain: &[u8],
        space: SpaceId,
        epoch: u32,
        author_key: impl FnOnce(&DeviceId) -> Option<VerifyingKey>,
    ) -> Result<Envelope, EnvelopeError> {
        let unverified = Self::decode_unverified(plain, space, epoch)?;
        let key = author_key(&unverified.envelope.author)
            .ok_or_else(|| EnvelopeError::UnknownAuthor(unverified.envelope.author.to_string()))?;
        unverified.verify(&key)
    }

    fn decode_unverified(
        plain: &[u8],
        space: SpaceId,
        epoch: u32,
    ) -> Result<Unverified, EnvelopeError> {
        if plain.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(EnvelopeError::Malformed(
                "shorter than a header and a signature",
            ));
        }
        if &plain[0..4] != MAGIC {
            return Err(EnvelopeError::Malformed("not an envelope (bad magic)"));
        }
        let kind =
            EnvelopeKind::from_byte(plain[4]).ok_or(EnvelopeError::Malformed("unknown kind"))?;
        let compressed = match plain[5] {
            0 => false,
            FLAG_DEFLATE if compressible(kind) => true,
            _ => return Err(EnvelopeError::Malformed("unknown flags")),
        };
        let field = |range: std::ops::Range<usize>| &plain[range];
        let mut space_bytes = [0u8; 16];
        space_bytes.copy_from_slice(field(6..22));
        let found_epoch = u32::from_be_bytes(array(field(22..26)));
        let author = DeviceId::from(hex::encode(field(26..34)));
        let sequence = u64::from_be_bytes(array(field(34..42)));
        let body_len = u32::from_be_bytes(array(field(42..46))) as usize;
        if HEADER_LEN + body_len + SIGNATURE_LEN != plain.len() {
            return Err(EnvelopeError::Malformed("body length does not match"));
        }
        if SpaceId(space_bytes) != space || found_epoch != epoch {
            return Err(EnvelopeError::WrongSpace);
        }
        let signed_len = HEADER_LEN + body_len;
        // The body stays as sent: nothing is inflated before the signature
        // is checked, so a stranger's bomb costs one signature check.
        let body = plain[HEADER_LEN..signed_len].to_vec();
        Ok(Unverified {
            envelope: Envelope {
                kind,
                space,
                epoch,
                author,
                sequence,
                body,
            },
            compressed,
            signed: plain[..signed_len].to_vec(),
            signature: Signature::from_bytes(&array(&plain[signed_len..])),
        })
    }
}

/// A decrypted, well-formed envelope whose signature is not checked yet.
pub struct Unverified {
    envelope: Envelope,
    compressed: bool,
    signed: Vec<u8>,
    signature: Signature,
}

impl Unverified {
    /// The unverified header, and the body **as sent** (still compressed
    /// if [`Unverified::is_compressed`]): use them only to find the key to
    /// verify with.
    pub fn peek(&self) -> &Envelope {
        &self.envelope
    }

    /// Whether the body travels compressed (protocol.md §3).
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// A digest of the signed bytes (header and body as sent): equal for
    /// the same envelope however often it is sealed or delivered, and
    /// different for any other one. A receiver tells a duplicate from an
    /// author's reused sequence number by it (protocol.md §3, "Sequence
    /// numbers"); 16 bytes, so finding two envelopes that share one is out
    /// of reach even for their author.
    pub fn digest(&self) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"safespaces/v2/envelope-digest");
        hasher.update(&self.signed);
        let mut out = [0u8; 16];
        out.copy_from_slice(&hasher.finalize()[..16]);
        out
    }

    /// The body inflated *before* any signature check, refusing one that
    /// inflates beyond `limit` bytes. Only for a join, whose signing key is
    /// inside its body: its body is a few hundred bytes, so the limit is
    /// small and a bomb costs nothing.
    pub fn unverified_body(&self, limit: usize) -> Result<Vec<u8>, EnvelopeError> {
        if self.compressed {
            inflate(&self.envelope.body, limit)
        } else if self.envelope.body.len() > limit {
            Err(EnvelopeError::Malformed("body larger than its kind allows"))
        } else {
            Ok(self.envelope.body.clone())
        }
    }

    /// Checks the signature under the author's key and releases the
    /// envelope, its body inflated.
    pub fn verify(self, key: &VerifyingKey) -> Result<Envelope, EnvelopeError> {
        self.check_signature(key)?;
        self.into_checked()
    }

    /// Checks the signature without releasing anything, so that many can
    /// be checked at once on several threads.
    pub fn check_signature(&self, key: &VerifyingKey) -> Result<(), EnvelopeError> {
        key.verify(&signing_input(&self.signed), &self.signature)
            .map_err(|_| EnvelopeError::BadSignature)
    }

    /// The body inflated, once [`Unverified::check_signature`] passed.
    pub(crate) fn checked_body(&self) -> Result<std::borrow::Cow<'_, [u8]>, EnvelopeError> {
        if self.compressed {
            inflate(&self.envelope.body, MAX_BODY).map(std::borrow::Cow::Owned)
        } else {
            Ok(std::borrow::Cow::Borrowed(&self.envelope.body))
        }
    }

    /// Releases the envelope, its body inflated, after
    /// [`Unverified::check_signature`] passed under the author's key; only
    /// the receive path calls it.
    pub(crate) fn into_checked(mut self) -> Result<Envelope, EnvelopeError> {
        if self.compressed {
            self.envelope.body = inflate(&self.envelope.body, MAX_BODY)?;
        }
        Ok(self.envelope)
    }
}

/// Whether bodies of this kind may be sent compressed: change batches,
/// many small automerge changes that compress well together.
/// Snapshots are automerge documents, compressed already.
fn compressible(kind: EnvelopeKind) -> bool {
    matches!(kind, EnvelopeKind::ChangeBatch)
}

/// The body as raw DEFLATE, if it may be and that is smaller.
fn compress(kind: EnvelopeKind, body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    if !compressible(kind) || body.len() < COMPRESS_FROM {
        return None;
    }
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail; if it somehow did, send it as it is.
    encoder.write_all(body).ok()?;
    encoder.finish().ok().filter(|out| out.len() < body.len())
}

/// Inflates a compressed body, refusing one that does not inflate or would
/// grow past `limit` (at most the largest body an envelope may carry).
fn inflate(compressed: &[u8], limit: usize) -> Result<Vec<u8>, EnvelopeError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(compressed)
        .take(limit.min(MAX_BODY) as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| EnvelopeError::Malformed("compressed body does not inflate"))?;
    if out.len() > limit.min(MAX_BODY) {
        return Err(EnvelopeError::Malformed(
            "compressed body inflates beyond the body limit",
        ));
    }
    Ok(out)
}

fn signing_input(signed: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SIGNATURE_CONTEXT.len() + signed.len());
    input.extend_from_slice(SIGNATURE_CONTEXT);
    input.extend_from_slice(signed);
    input
}

/// Copies a slice whose length the caller has already checked.
fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&slice[..N]);
    out
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
