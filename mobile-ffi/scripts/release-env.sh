# Sourced by the packaging scripts: the release settings for the library
# that ships inside the apps, chosen for size (see docs/mobile.md, "Release
# profile"). Set through cargo's environment overrides so the workspace's
# own `release` profile (used by the relay and the CLI) stays as it is.
#
#   opt-level z      smallest code; the work that matters (scrypt, age,
#                    automerge) is bounded by memory and I/O on a phone,
#                    not by instruction count.
#   lto fat          whole-program dead-code removal across core,
#                    automerge and age.
#   codegen-units 1  lets LTO see everything at once.
#   strip symbols    symbols are useless in an app bundle; keep the
#                    unstripped build for symbolication if needed.
#   panic unwind     (unchanged) uniffi turns a Rust panic into an
#                    exception on the foreign side; `abort` would kill the
#                    app instead.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_RELEASE_DEBUG=false
