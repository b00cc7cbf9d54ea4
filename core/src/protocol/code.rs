//! One-time codes people pass to each other by hand: invites (`ss2-`) and
//! device links (`sl1-`).
//!
//! A code is a prefix and the 26 base32 characters of 16 random bytes in
//! groups of five: short enough to read aloud or put in a small QR code,
//! 128 bits so it cannot be guessed while it is valid. Everything a code
//! unlocks is derived from its bytes with HKDF and a label.

use age_core::primitives::hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The 16 secret bytes behind a code. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct CodeSecret([u8; 16]);

impl CodeSecret {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// `prefix` and the grouped base32 characters.
    pub(crate) fn to_code(&self, prefix: &str) -> String {
        let chars = base32(&self.0);
        let groups: Vec<&str> = chars
            .as_bytes()
            .chunks(5)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!("{prefix}{}", groups.join("-"))
    }

    /// Parses a typed code, forgiving case, spaces and dashes.
    pub(crate) fn parse(prefix: &str, code: &str) -> Option<Self> {
        let lower = code.trim().to_ascii_lowercase();
        let rest = lower.strip_prefix(prefix)?;
        let cleaned: String = rest.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let bytes = unbase32(&cleaned)?;
        Some(Self(bytes.as_slice().try_into().ok()?))
    }

    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(hkdf(&[], label, &self.0))
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 §10, lowercased, without padding.
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(unbase32("mzxw6ytboi").unwrap(), b"foobar");
        assert!(unbase32("not base32!").is_none());
    }
}
