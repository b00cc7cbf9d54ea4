//! The workspace's copy of uniffi's binding generator, pinned to the same
//! uniffi version as `safespaces-ffi`, so generating bindings needs no global
//! tool install and can never drift from the scaffolding it reads.
//!
//! Library mode: point it at the built `libsafespaces_ffi` and it reads the
//! interface from the library's metadata.
//!
//! ```text
//! cargo run -p uniffi-bindgen -- generate --library \
//!     target/debug/libsafespaces_ffi.so --language kotlin --out-dir mobile-ffi/bindings/kotlin
//! ```
//!
//! `mobile-ffi/scripts/test-bindings.sh` runs it for every language.

fn main() {
    uniffi::uniffi_bindgen_main()
}
