#!/usr/bin/env bash
# Packages safespaces-ffi for an Android app: one shared library per ABI in
# a jniLibs tree, plus the generated Kotlin bindings. Documented in
# docs/mobile.md; not run in CI.
#
#   mobile-ffi/scripts/build-android.sh [out-dir]   (default: target/android)
#
# Needs: the Android NDK (ANDROID_NDK_HOME, r27 or newer for 16 KB pages),
#   cargo install cargo-ndk
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#
# Output:
#   <out>/jniLibs/{arm64-v8a,armeabi-v7a,x86_64}/libsafespaces_ffi.so
#   <out>/kotlin/org/safespaces/ffi/safespaces_ffi.kt
# Copy jniLibs/ to app/src/main/jniLibs and kotlin/ into the app's sources
# (or an Android library module); see docs/mobile.md for the Gradle side.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${1:-$root/target/android}"
# shellcheck source=release-env.sh
source mobile-ffi/scripts/release-env.sh

: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the NDK (r27 or newer)}"
command -v cargo-ndk >/dev/null || { echo "cargo install cargo-ndk" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/jniLibs"
# API 24 (Android 7) is the lowest the app supports; cargo-ndk picks the
# matching clang for each ABI. Page size: NDK r27+ links with 16 KB
# alignment when asked, as Google Play requires for Android 15 devices.
RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384" \
    cargo ndk --platform 24 \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    -o "$out/jniLibs" \
    build --release -p safespaces-ffi

# Bindings do not depend on the target: generate them from a host build.
bindings="$(mobile-ffi/scripts/generate-bindings.sh release)"
cp -r "$bindings/kotlin" "$out/kotlin"
ls -l "$out"/jniLibs/*/libsafespaces_ffi.so
echo "Android package in $out"
