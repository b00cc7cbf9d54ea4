#!/usr/bin/env bash
# Tests safespaces-ffi through its generated bindings, over the real library:
#   1. builds the cdylib and generates Kotlin, Swift and Python bindings
#      (generate-bindings.sh; output in <target>/bindings/),
#   2. runs the Python scenarios (mobile-ffi/tests/python); the relay ones
#      start the real relay binary ($SAFESPACES_RELAY_BIN, by default the
#      workspace's target/debug/safespaces-relay, built here if missing),
#   3. compiles the Kotlin bindings and runs the JUnit scenario on the JVM
#      with Maven (mobile-ffi/kotlin; the first run downloads dependencies
#      from Maven Central),
#   4. checks the Swift bindings for the declarations the iOS app uses (no
#      Swift compiler here).
#
#   mobile-ffi/scripts/test-bindings.sh
#
# Needs cargo, python3 (3.8+), java 17+ and mvn on PATH. Set
# SAFESPACES_SKIP_KOTLIN=1 to skip step 3 on a machine without Maven.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

bindings="$(mobile-ffi/scripts/generate-bindings.sh debug)"
target_dir="$(dirname "$bindings")"
case "$(uname -s)" in
    Darwin) library="$target_dir/debug/libsafespaces_ffi.dylib" ;;
    *) library="$target_dir/debug/libsafespaces_ffi.so" ;;
esac

if [[ -z "${SAFESPACES_RELAY_BIN:-}" ]]; then
    SAFESPACES_RELAY_BIN="$target_dir/debug/safespaces-relay"
    if [[ ! -x "$SAFESPACES_RELAY_BIN" ]]; then
        echo "==> building the relay for the sync tests" >&2
        cargo build -q --bin safespaces-relay -p safespaces-relay
    fi
fi
export SAFESPACES_RELAY_BIN

echo "==> Python bindings test"
PYTHONPATH="$bindings/python" python3 mobile-ffi/tests/python/test_bindings.py
PYTHONPATH="$bindings/python" python3 mobile-ffi/tests/python/test_relay_sync.py
PYTHONPATH="$bindings/python" python3 mobile-ffi/tests/python/test_memory.py

if [[ "${SAFESPACES_SKIP_KOTLIN:-0}" == 1 ]]; then
    echo "==> Kotlin bindings test SKIPPED (SAFESPACES_SKIP_KOTLIN=1)"
else
    echo "==> Kotlin bindings test (Maven, JUnit 5 on the JVM)"
    (
        cd mobile-ffi/kotlin
        mvn -B --no-transfer-progress -q -Dstyle.color=never test \
            "-Dsafespaces.bindings=$bindings/kotlin" \
            "-Dsafespaces.library=$library"
        cat target/surefire-reports/*.txt | grep -E "^Tests run" || true
    )
fi

echo "==> Swift bindings declarations"
python3 mobile-ffi/tests/swift/check_declarations.py "$bindings/swift"

echo "==> binding tests passed"
