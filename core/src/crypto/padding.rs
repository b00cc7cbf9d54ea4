//! Size padding, so a sealed blob's length says little about what it holds.
//! Two frames, used by the store, the profile, envelopes, invites, device
//! links and offline bundles alike:
//!
//! - [`seal_padded`] / [`open_padded`]: an age file sealed with
//!   [`SymmetricKey`]s, padded as a *whole file* to a bucket size (below).
//! - [`pad_json`]: JSON padded with trailing spaces to a fixed frame before
//!   it is sealed to devices' X25519 keys (join requests, welcomes), where
//!   the sealing is not ours to pad; JSON allows trailing whitespace, so the
//!   frame needs no length field.
//!
//! # Buckets
//!
//! Buckets are powers of two, at least [`MIN_BUCKET`] bytes, up to 64 KiB;
//! above that, multiples of 1/128 of the enclosing power of two. The *whole age
//! file* is padded, not only the plaintext, because age adds a random-length
//! "grease" stanza to headers; the padding is chosen after the header is
//! written. Sizes are therefore exact, except in the rare case where a 64 KiB
//! STREAM chunk boundary falls within 16 bytes of a bucket edge, where the
//! file may fall short of the bucket by at most 16 bytes.
//!
//! Plaintext frame inside the age file:
//!
//! ```text
//! u64 little-endian content length | content | zero bytes up to the bucket
//! ```

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;

use zeroize::Zeroizing;

use super::symmetric_key::{OpenError, SealError, SymmetricKey};

/// The smallest file the store writes, in bytes.
pub const MIN_BUCKET: u64 = 1024;

const STREAM_CHUNK: u64 = 64 * 1024;
const TAG: u64 = 16;
const LEN_PREFIX: u64 = 8;

/// Bytes of ciphertext that `plaintext` bytes of age payload occupy after the
/// header, including the 16-byte payload nonce.
fn payload_size(plaintext: u64) -> u64 {
    let chunks = plaintext.div_ceil(STREAM_CHUNK).max(1);
    16 + plaintext + chunks * TAG
}

/// The bucket a file of `len` bytes is padded up to.
pub fn bucket_for(len: u64) -> u64 {
    let len = len.max(MIN_BUCKET);
    if len <= FINE_ABOVE {
        return len.next_power_of_two();
    }
    // Above 64 KiB, steps of 1/128 of the power of two below: a snapshot
    // costs under 0.8 % in padding instead of up to 100 %, and its size still
    // says only its octave and 7 more bits.
    let octave = 63 - u64::from(len.leading_zeros());
    let step = 1u64 << (octave - 7);
    len.div_ceil(step) * step
}

/// Files up to this size are padded to a power of two; larger ones finer.
pub const FINE_ABOVE: u64 = 64 * 1024;

/// Largest payload plaintext whose file fits in `total` given a header of
/// `header` bytes (payload nonce excluded).
fn max_plaintext(total: u64, header: u64) -> u64 {
    let room = total.saturating_sub(header + 16);
    // room = p + 16 * ceil(p / 64Ki); invert, then step down over the rare
    // chunk-boundary jumps.
    let mut p = room.saturating_sub(TAG * room.div_ceil(STREAM_CHUNK + TAG).max(1));
    while header + payload_size(p + 1) <= total {
        p += 1;
    }
    while p > 0 && header + payload_size(p) > total {
        p -= 1;
    }
    p
}

/// Seals `content` to `key` as an age file whose size is a bucket size.
pub fn seal_padded(key: &SymmetricKey, content: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_padded_to(&[key], content)
}

/// Seals `content` to every key in `keys` (any one of them opens it) as an
/// age file whose size is a bucket size.
pub fn seal_padded_to(keys: &[&SymmetricKey], content: &[u8]) -> Result<Vec<u8>, SealError> {
    let encryptor =
        age::Encryptor::with_recipients(keys.iter().map(|k| *k as &dyn age::Recipient))?;
    let written = Rc::new(Cell::new(0u64));
    let sink = CountingSink {
        bytes: Vec::new(),
        written: Rc::clone(&written),
    };
    let mut writer = encryptor.wrap_output(sink)?;
    // `wrap_output` has written the header and the payload nonce by now.
    let header = written.get().saturating_sub(16);
    let needed = LEN_PREFIX + content.len() as u64;
    let mut total = bucket_for(header + payload_size(needed));
    let mut plain = max_plaintext(total, header);
    if plain < needed {
        // Only reachable right at a chunk boundary; the next bucket fits.
        total = bucket_for(total + 1);
        plain = max_plaintext(total, header);
    }
    writer.write_all(&(content.len() as u64).to_le_bytes())?;
    writer.write_all(content)?;
    let zeros = [0u8; 4096];
    let mut left = plain - needed;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        writer.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(writer.finish()?.bytes)
}

/// A `Vec` sink that reports how much has been written through a shared
/// counter, so the header length is known while the age writer owns the sink.
struct CountingSink {
    bytes: Vec<u8>,
    written: Rc<Cell<u64>>,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        self.written.set(self.bytes.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens a file written by [`seal_padded`] and strips the padding.
pub fn open_padded(key: &SymmetricKey, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, PaddingError> {
    let mut plain = key.open(sealed)?;
    if plain.len() < LEN_PREFIX as usize {
        return Err(PaddingError::Malformed);
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&plain[..8]);
    let len = u64::from_le_bytes(len);
    let end = LEN_PREFIX
        .checked_add(len)
        .filter(|&end| end <= plain.len() as u64)
        .ok_or(PaddingError::Malformed)? as usize;
    plain.truncate(end);
    plain.drain(..LEN_PREFIX as usize);
    Ok(plain)
}

/// Pads `json` with trailing spaces (`b' '`) to `frame` bytes, leaving
/// longer JSON as it is; the result is wiped on drop, as the JSON may hold
/// a key. Parsers ignore the padding: JSON allows trailing whitespace.
pub fn pad_json(mut json: Vec<u8>, frame: usize) -> Zeroizing<Vec<u8>> {
    if json.len() < frame {
        json.resize(frame, b' ');
    }
    Zeroizing::new(json)
}

/// Opening a padded file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaddingError {
    /// The age layer failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The authenticated plaintext does not have the padding frame.
    #[error("the padded frame inside the file is malformed")]
    Malformed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buckets_cost_under_one_percent_and_small_ones_are_powers_of_two() {
        for len in [1u64, 1000, 1025, 4097, 65_536] {
            assert!(bucket_for(len).is_power_of_two());
        }
        for len in (65_537u64..20_000_000).step_by(99_991) {
            let b = bucket_for(len);
            assert!(b >= len && (b - len) * 128 <= len, "{len} -> {b}");
            assert_eq!(bucket_for(b), b, "buckets are fixed points");
        }
    }

    #[test]
    fn sealed_sizes_are_exact_buckets() {
        let key = SymmetricKey::generate();
        for len in [
            0usize, 1, 500, 900, 1000, 5000, 65_000, 65_536, 70_000, 200_000,
        ] {
            for _ in 0..4 {
                let content = vec![0x5au8; len];
                let sealed = seal_padded(&key, &content).expect("seal");
                let size = sealed.len() as u64;
                assert_eq!(size, bucket_for(size), "len {len} gave {size}");
                assert!(size >= MIN_BUCKET);
                assert_eq!(&open_padded(&key, &sealed).expect("open")[..], &content[..]);
            }
        }
    }

    #[test]
    fn small_contents_share_one_size() {
        let key = SymmetricKey::generate();
        let a = seal_padded(&key, b"a").expect("seal");
        let b = seal_padded(&key, &[1u8; 400]).expect("seal");
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn json_is_padded_with_spaces_to_the_frame_and_still_parses() {
        let padded = pad_json(br#"{"a":1}"#.to_vec(), 64);
        assert_eq!(padded.len(), 64);
        assert!(padded[7..].iter().all(|&b| b == b' '));
        let value: serde_json::Value = serde_json::from_slice(&padded).expect("parses");
        assert_eq!(value["a"], 1);
        let long = vec![b' '; 100];
        assert_eq!(
            pad_json(long.clone(), 64).len(),
            100,
            "longer JSON is left as it is"
        );
    }

    #[test]
    fn max_plaintext_never_overflows_the_bucket() {
        for header in [100u64, 180, 390] {
            for total in [1024u64, 2048, 65_536, 131_072, 1 << 20] {
                let p = max_plaintext(total, header);
                assert!(header + payload_size(p) <= total);
                assert!(header + payload_size(p + 1) > total);
            }
        }
    }
}
