"""What a memory dump of the app's process finds after a lock.

A journal tag is written by a separate process, so this one never holds it
as a Python object. This process then unlocks the profile (the library
reads the journal into memory, Rust-side only), locks it, and reads its own
memory (every writable mapping, through /proc/self/mem) for the tag. The
library frees its documents on lock and its allocator zeroes every block it
frees, so nothing is left; with the system allocator alone the freed blocks
would still hold the tag.

The tag is only ever handled here shifted by one byte value, and each
mapping is shifted the same way before it is searched, so the search itself
puts no copy of the tag into this process.

Linux only (it reads /proc). Run by mobile-ffi/scripts/test-bindings.sh.
"""

import os
import subprocess
import sys
import tempfile
import unittest

from safespaces_ffi import PassphraseWork, ProfileOptions, SafeSpaces, UnlockSecret

FAST = ProfileOptions(passphrase_work=PassphraseWork.INSECURE_TEST_ONLY(log_n=4))
SHIFT = bytes((b + 1) % 256 for b in range(256))
UNSHIFT = bytes((b - 1) % 256 for b in range(256))

WRITER = """
import sys
from datetime import datetime, timezone
from safespaces_ffi import PassphraseWork, ProfileOptions, SafeSpaces, UnlockSecret
fast = ProfileOptions(passphrase_work=PassphraseWork.INSECURE_TEST_ONLY(log_n=4))
unshift = bytes((b - 1) % 256 for b in range(256))
tag = bytes.fromhex(sys.argv[2]).translate(unshift).decode()
app = SafeSpaces.create(sys.argv[1], UnlockSecret.passphrase("pass"), fast)
now = datetime.now(timezone.utc)
app.journal().add("an ordinary entry", 3, [tag], now)
app.lock()
"""


def shifted_hits(needle_shifted):
    """How many writable mappings of this process hold the needle."""
    hits = []
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            span, perms = fields[0], fields[1]
            path = fields[5] if len(fields) > 5 else ""
            if "w" not in perms or "r" not in perms or path.startswith("[v"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            if chunk.translate(SHIFT).find(needle_shifted) >= 0:
                hits.append(line.strip())
    return hits


@unittest.skipUnless(os.path.exists("/proc/self/mem"), "reads /proc/self/mem")
class MemoryAfterLockTest(unittest.TestCase):
    def test_no_journal_text_is_left_in_memory_after_a_lock(self):
        # Made at run time from random bytes, shifted from the start.
        tag_shifted = ("memory-canary-" + os.urandom(12).hex()).encode().translate(SHIFT)
        with tempfile.TemporaryDirectory() as tmp:
            profile = os.path.join(tmp, "profile")
            subprocess.run(
                [sys.executable, "-c", WRITER, profile, tag_shifted.hex()],
                check=True,
                env=os.environ,
            )
            app = SafeSpaces.open(profile, FAST)
            app.unlock(UnlockSecret.passphrase("pass"))
            # The journal is in memory now: the search finds it (the test
            # sees what it looks for).
            self.assertTrue(shifted_hits(tag_shifted), "the scan misses a live document")
            app.lock()
            self.assertEqual(shifted_hits(tag_shifted), [])


if __name__ == "__main__":
    unittest.main()
