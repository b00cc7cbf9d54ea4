#!/usr/bin/env python3
"""Checks the workspace's stated minimum Rust version against what it locks.

`rust-version` in Cargo.toml must be at least the highest `rust-version`
that any locked package reachable from the workspace declares (every
dependency kind, every target platform: the core ships to phones), and the
README must state the same version. Reads `cargo metadata --locked`, so it
sees exactly Cargo.lock.

What this cannot see: a dependency that uses a newer Rust than it declares,
and language features of our own code newer than the stated version (there
is no second toolchain to build with offline). Newer *standard library* APIs
in our own code are caught by clippy's `incompatible_msrv` lint, which reads
the same `rust-version` and which CI runs with `-D warnings`.
"""
import json
import os
import re
import subprocess
import sys


def version(v):
    """`1.90` and `1.90.0` are the same version."""
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = meta["workspace_members"]
    stated = {packages[m]["rust_version"] for m in members}
    if len(stated) != 1 or None in stated:
        sys.exit(f"every workspace crate must state one rust-version, got {stated}")
    stated = stated.pop()

    deps = {n["id"]: [d["pkg"] for d in n["deps"]] for n in meta["resolve"]["nodes"]}
    reachable, todo = set(), list(members)
    while todo:
        pid = todo.pop()
        if pid not in reachable:
            reachable.add(pid)
            todo.extend(deps.get(pid, []))

    needs = sorted(
        (
            (packages[p]["rust_version"], packages[p]["name"], packages[p]["version"])
            for p in reachable
            if packages[p].get("rust_version") and p not in members
        ),
        key=lambda r: version(r[0]),
        reverse=True,
    )
    highest = needs[0][0] if needs else "0"
    too_new = [n for n in needs if version(n[0]) > version(stated)]
    if too_new:
        lines = "\n".join(f"  {name} {ver} needs Rust {rv}" for rv, name, ver in too_new)
        sys.exit(
            f"rust-version is {stated}, but locked dependencies need more:\n{lines}\n"
            "raise rust-version in Cargo.toml (and the README) or lock older versions"
        )

    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    said = re.findall(r"Rust \(cargo (\d+\.\d+(?:\.\d+)?) or newer\)", readme)
    if [version(v) for v in said] != [version(stated)]:
        sys.exit(f"README.md must say 'Rust (cargo {stated} or newer)' once, it says {said}")

    top = ", ".join(f"{n} {v}" for rv, n, v in needs if version(rv) == version(highest))
    print(
        f"rust-version {stated}: covers all {len(reachable) - len(members)} locked dependencies "
        f"(highest need {highest}: {top})"
    )


if __name__ == "__main__":
    main()
