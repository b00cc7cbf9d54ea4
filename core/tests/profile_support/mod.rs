//! Helpers shared by the `profile_*` integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use safespaces_core::profile::{PassphraseWork, ProfileOptions};

/// Cheap scrypt so the tests stay fast; production uses the calibrated cost.
pub const FAST: ProfileOptions = ProfileOptions {
    passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
};

/// Every file in `dir` with its bytes.
pub fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        out.insert(name, fs::read(entry.path()).expect("read file"));
    }
    out
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
