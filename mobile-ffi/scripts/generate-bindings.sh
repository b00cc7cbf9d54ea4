#!/usr/bin/env bash
# Builds safespaces-ffi and generates its Kotlin, Swift and Python bindings
# in library mode with the workspace's uniffi-bindgen.
#
#   mobile-ffi/scripts/generate-bindings.sh [debug|release]
#
# Output (never committed; target/ is ignored):
#   <target>/bindings/kotlin/org/safespaces/ffi/safespaces_ffi.kt
#   <target>/bindings/swift/{SafeSpacesFFI.swift,SafeSpacesFFIFFI.h,SafeSpacesFFIFFI.modulemap}
#   <target>/bindings/python/{safespaces_ffi.py,libsafespaces_ffi.so}
# where <target> is cargo's target directory (usually ./target). Prints the
# bindings directory on its last line.
set -euo pipefail

profile="${1:-debug}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cargo_flags=()
if [[ "$profile" == release ]]; then cargo_flags+=(--release); fi

target_dir="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
case "$(uname -s)" in
    Darwin) lib_file=libsafespaces_ffi.dylib ;;
    *) lib_file=libsafespaces_ffi.so ;;
esac
lib="$target_dir/$profile/$lib_file"
out="$target_dir/bindings"

echo "==> building safespaces-ffi ($profile) and uniffi-bindgen" >&2
# Built with the whole workspace selected, not `-p`: cargo unifies
# dependency features over the selected packages, so this reuses what
# `cargo build --workspace` already built instead of rebuilding the
# dependency tree with other features (minutes on 2 cores).
cargo build -q "${cargo_flags[@]}" --workspace --lib
cargo build -q --workspace --bins
bindgen="$target_dir/debug/uniffi-bindgen"

rm -rf "$out"
for language in kotlin swift python; do
    echo "==> generating $language bindings" >&2
    # --no-format: ktlint and swift-format are not installed here; the
    # generated code is never edited, so its layout does not matter.
    "$bindgen" generate --library "$lib" --language "$language" \
        --out-dir "$out/$language" --no-format >&2
done
# The Python module loads the library from its own directory.
cp "$lib" "$out/python/"
echo "$out"
