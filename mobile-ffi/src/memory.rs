//! Zero-on-free for the whole library (threat-model.md, "Memory").
//!
//! On lock, core drops every decrypted document and key. Keys and the
//! decrypted bytes core reads zeroize themselves, but automerge's op set,
//! age's buffers and every string a document hands out are plain heap
//! blocks, and a freed block keeps its bytes until it is reused: a memory
//! dump taken after a lock would still read the journal. So every block
//! this library frees is overwritten with zeros first (1Password's
//! `zeroizing-alloc` around the system allocator; a realloc moves and
//! frees, so a grown buffer leaves no copy behind either).
//!
//! It covers what Rust allocates. Strings the app made from what the
//! library returned (Kotlin, Swift) are the app's to drop. Recent Apple
//! allocators already zero on free; Android's does not by default.
//! Proven by `mobile-ffi/tests/python/test_memory.py`, which scans the
//! process's own memory for a journal tag after a lock.

/// The allocator of any program or app that links this library.
#[global_allocator]
static ZERO_ON_FREE: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);
