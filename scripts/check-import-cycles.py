#!/usr/bin/env python3
"""Fails when a Rust source file imports a file that imports it back.

The layout rule (docs/architecture.md, "No import cycles between files"):
a `mod.rs` or crate root is a table of contents that declares modules and
re-exports them; what its children share lives in a sibling file named for
the concept, and the children import it from there. This script checks the
rule for every crate root under the source directories below.

Per crate root (`lib.rs`, `main.rs`, `bin/*.rs`) it builds the module tree
from `mod x;` declarations (`x.rs`, `x/mod.rs`, `#[path]`) and a graph of
files: A -> B when A, outside comments and string literals, writes a path
that resolves to a module whose code lives in B. Paths are read from `use`
trees (braces, globs, `self`, renames) and from code (`crate::a::f()`,
`super::X`). `crate::`, `$crate::`, `super::` (repeatable), `self::`, a
child module, a name a `use` in the same file bound to a module, and a
module at the crate root (unless a `use` in the file binds the name to
something else) resolve; anything else (other crates, `std`, types,
variables) does not. Resolution walks segments while they name a
module and stops at the deepest one: `super::Shared` written in
`app/offline.rs` is an edge to `app/mod.rs` even when `Shared` is defined
elsewhere and only re-exported there, because importing through a
re-export is importing the file that re-exports. `mod x;` itself is not an
edge, an inline `mod name { ... }` belongs to its file, and a file's edges
to itself (`mod tests { use super::*; }`) are dropped.

Every strongly connected component with more than one file is a cycle; it
is printed with each edge inside it and the first line that makes the edge,
and the exit status is 1.

What this cannot see: paths produced by macros other than `$crate::`, and
imports a `cfg` switches off (every `cfg` is read as on, which can only
report more cycles, never fewer).

Usage:
  scripts/check-import-cycles.py [--exclude DIR]... [--only DIR]... [SRC_DIR]...
  scripts/check-import-cycles.py --self-test

SRC_DIR defaults to the workspace crates' `src` directories. `--only DIR`
keeps just the files under DIR in the graph (cycles among them), and
`--exclude DIR` drops the files under DIR (a cycle through them is then
not reported: use it only for code someone else is changing).
"""
import argparse
import os
import re
import sys
import tempfile

DEFAULT_SRC_DIRS = [
    "core/src",
    "wire/src",
    "sync-server/src",
    "cli/src",
    "mobile-ffi/src",
    "tests/src",
]

IDENT_START = re.compile(r"[A-Za-z_]")
IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")


class Token:
    """One lexical token: kind is `ident`, `str` (literal contents), or `punct`."""

    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind
        self.text = text
        self.line = line

    def __repr__(self):
        return f"{self.kind}:{self.text}@{self.line}"


def lex(src):
    """Rust tokens without comments; string and char literals become one token each."""
    tokens = []
    i = 0
    n = len(src)
    line = 1

    def add(kind, text):
        tokens.append(Token(kind, text, line))

    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth = 0
            while i < n:
                if src.startswith("/*", i):
                    depth += 1
                    i += 2
                elif src.startswith("*/", i):
                    depth -= 1
                    i += 2
                    if depth == 0:
                        break
                else:
                    if src[i] == "\n":
                        line += 1
                    i += 1
        elif c == '"':
            i, text, nl = scan_string(src, i + 1)
            add("str", text)
            line += nl
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '\'') or a lifetime/label ('a).
            if i + 1 < n and src[i + 1] == "\\":
                j = i + 2
                while j < n and src[j] != "'":
                    j += 2 if src[j] == "\\" else 1
                add("str", src[i + 1 : j])
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                add("str", src[i + 1])
                i += 3
            else:
                add("punct", "'")
                i += 1
        elif IDENT_START.match(c) or c.isdigit():
            j = i
            while j < n and IDENT_CHAR.match(src[j]):
                j += 1
            word = src[i:j]
            # Raw strings: r"..", r#".."#, br"..", cr"..".
            if word in ("r", "br", "cr") and j < n and src[j] in "\"#":
                k = j
                while k < n and src[k] == "#":
                    k += 1
                if k < n and src[k] == '"':
                    hashes = k - j
                    end = src.find('"' + "#" * hashes, k + 1)
                    end = n if end < 0 else end
                    text = src[k + 1 : end]
                    add("str", text)
                    line += text.count("\n")
                    i = end + 1 + hashes
                    continue
                if word == "r" and k == j + 1 and k < n and IDENT_START.match(src[k]):
                    # Raw identifier r#name.
                    m = k
                    while m < n and IDENT_CHAR.match(src[m]):
                        m += 1
                    add("ident", src[k:m])
                    i = m
                    continue
            # Byte and C strings: b"..", c"..".
            if word in ("b", "c") and j < n and src[j] == '"':
                i, text, nl = scan_string(src, j + 1)
                add("str", text)
                line += nl
                continue
            if word == "b" and j < n and src[j] == "'":
                k = j + 1
                while k < n and src[k] != "'":
                    k += 2 if src[k] == "\\" else 1
                add("str", src[j + 1 : k])
                i = k + 1
                continue
            if c.isdigit():
                add("punct", word)
            else:
                add("ident", word)
            i = j
        elif src.startswith("::", i):
            add("punct", "::")
            i += 2
        elif c == "$" and src.startswith("$crate", i) and not (
            i + 6 < n and IDENT_CHAR.match(src[i + 6])
        ):
            add("ident", "crate")
            i += 6
        else:
            add("punct", c)
            i += 1
    return tokens


def scan_string(src, i):
    """From just after an opening quote: (index after the closing quote, contents, newlines)."""
    n = len(src)
    j = i
    while j < n and src[j] != '"':
        j += 2 if src[j] == "\\" else 1
    text = src[i:j]
    return j + 1, text, text.count("\n")


class Module:
    """A module: its path from the crate root and the file its code is in."""

    def __init__(self, path, file):
        self.path = path
        self.file = file


class Crate:
    """One crate root's module tree and file graph."""

    def __init__(self, root_file):
        self.root_file = root_file
        self.modules = {}  # module path (tuple) -> file
        self.files = {}  # file -> list of tokens
        self.file_module = {}  # file -> module path of the file's top
        self.problems = []
        self.edges = {}  # (from, to) -> first line number
        self._load(root_file, (), mod_rs=True)

    def _load(self, file, path, mod_rs):
        if file in self.files:
            self.problems.append(f"{file}: loaded twice (as {'::'.join(path) or 'crate'})")
            return
        try:
            with open(file, encoding="utf-8") as f:
                src = f.read()
        except OSError as e:
            self.problems.append(f"{file}: cannot read ({e.strerror})")
            return
        tokens = lex(src)
        self.files[file] = tokens
        self.file_module[file] = path
        self.modules[path] = file
        # A non-mod.rs file's children live in a directory named after it.
        here = os.path.dirname(file)
        child_base = here if mod_rs else os.path.join(here, os.path.splitext(os.path.basename(file))[0])
        inline = []  # stack of (name or None) per open brace
        pending_path = None
        i = 0
        n = len(tokens)
        while i < n:
            t = tokens[i]
            if t.kind == "punct" and t.text == "#":
                # #[path = "..."] (outer attribute on the next item)
                j = i + 1
                if j < n and tokens[j].text == "!":
                    j += 1
                if (
                    j + 4 < n
                    and tokens[j].text == "["
                    and tokens[j + 1].kind == "ident"
                    and tokens[j + 1].text == "path"
                    and tokens[j + 2].text == "="
                    and tokens[j + 3].kind == "str"
                    and tokens[j + 4].text == "]"
                ):
                    pending_path = tokens[j + 3].text
                    i = j + 5
                    continue
            if t.kind == "ident" and t.text == "mod" and i + 2 < n and tokens[i + 1].kind == "ident":
                name = tokens[i + 1].text
                after = tokens[i + 2].text
                names = [x for x in inline if x is not None]
                if after == ";":
                    child_path = path + tuple(names) + (name,)
                    if pending_path is not None:
                        if names:
                            base = os.path.join(child_base, *names)
                        else:
                            base = here
                        target = os.path.normpath(os.path.join(base, pending_path))
                        self._load(target, child_path, mod_rs=True)
                    else:
                        base = os.path.join(child_base, *names)
                        a = os.path.join(base, name + ".rs")
                        b = os.path.join(base, name, "mod.rs")
                        if os.path.exists(a):
                            self._load(a, child_path, mod_rs=False)
                        elif os.path.exists(b):
                            self._load(b, child_path, mod_rs=True)
                        else:
                            self.problems.append(f"{file}:{t.line}: `mod {name};` has no file")
                    pending_path = None
                    i += 3
                    continue
                if after == "{":
                    inline.append(name)
                    self.modules[path + tuple(names) + (name,)] = file
                    pending_path = None
                    i += 3
                    continue
            if t.kind == "punct":
                if t.text == "{":
                    inline.append(None)
                    pending_path = None
                elif t.text == "}":
                    if inline:
                        inline.pop()
                    pending_path = None
                elif t.text == ";":
                    pending_path = None
            i += 1

    def build_edges(self):
        """Reads every file's paths into edges between files."""
        for file, tokens in self.files.items():
            self._scan(file, tokens)

    def _scan(self, file, tokens):
        top = self.file_module[file]
        bindings = self._use_bindings(file, tokens, top)
        scope = []  # per open brace: inline module name or None
        n = len(tokens)
        i = 0
        while i < n:
            t = tokens[i]
            current = top + tuple(x for x in scope if x is not None)
            if t.kind == "ident" and t.text == "mod" and i + 2 < n and tokens[i + 1].kind == "ident" and tokens[i + 2].text == "{":
                scope.append(tokens[i + 1].text)
                i += 3
                continue
            if t.kind == "punct" and t.text == "{":
                scope.append(None)
                i += 1
                continue
            if t.kind == "punct" and t.text == "}":
                if scope:
                    scope.pop()
                i += 1
                continue
            if t.kind == "ident" and t.text == "use":
                j, paths = parse_use_tree(tokens, i + 1)
                for segs, line in paths:
                    self._edge(file, current, segs, line, bindings)
                i = j
                continue
            if (
                t.kind == "ident"
                and i + 2 < n
                and tokens[i + 1].text == "::"
                and tokens[i + 2].kind == "ident"
                and not (i > 0 and tokens[i - 1].text == "::")
                and not is_visibility_path(tokens, i)
            ):
                segs = [t.text]
                j = i + 1
                while j + 1 < n and tokens[j].text == "::" and tokens[j + 1].kind == "ident":
                    segs.append(tokens[j + 1].text)
                    j += 2
                self._edge(file, current, segs, t.line, bindings)
                i = j
                continue
            i += 1

    def _use_bindings(self, file, tokens, top):
        """Names a `use` in this file binds to a module (`use super::shared;`)."""
        bindings = {}
        for k, t in enumerate(tokens):
            if t.kind == "ident" and t.text == "use":
                _, paths = parse_use_tree(tokens, k + 1, with_alias=True)
                for segs, _line, alias in paths:
                    if not segs or segs[-1] in ("*",):
                        continue
                    name = alias or (segs[-1] if segs[-1] != "self" else segs[-2] if len(segs) > 1 else None)
                    if not name or name == "_":
                        continue
                    target = self._resolve(top, segs, {})
                    if target is not None and len(target[1]) == len(segs):
                        bindings[name] = target[0]
                    else:
                        # Bound to another crate's module or to an item: the
                        # name no longer means a module at this crate's root.
                        bindings.setdefault(name, None)
        return bindings

    def _resolve(self, current, segs, bindings):
        """(deepest module path, segments consumed) or None when the path leaves the crate."""
        first = segs[0]
        if first == "crate":
            mod, used = (), 1
        elif first == "self":
            mod, used = current, 1
        elif first == "super":
            mod, used = current, 0
            while used < len(segs) and segs[used] == "super":
                if not mod:
                    return None
                mod = mod[:-1]
                used += 1
        elif current + (first,) in self.modules:
            mod, used = current + (first,), 1
        elif first in bindings:
            if bindings[first] is None:
                return None
            mod, used = bindings[first], 1
        elif (first,) in self.modules:
            mod, used = (first,), 1
        else:
            return None
        while used < len(segs) and mod + (segs[used],) in self.modules:
            mod = mod + (segs[used],)
            used += 1
        # `use a::b::{self}` names the module b itself.
        if used < len(segs) and segs[used] == "self":
            used += 1
        return mod, segs[:used]

    def _edge(self, file, current, segs, line, bindings):
        if not segs or segs[0] == "*":
            return
        r = self._resolve(current, segs, bindings)
        if r is None:
            return
        target = self.modules[r[0]]
        if target == file:
            return
        key = (file, target)
        if key not in self.edges:
            self.edges[key] = line


def is_visibility_path(tokens, i):
    """`pub(in crate::x)` names a module but imports nothing."""
    return i >= 3 and tokens[i - 1].text == "in" and tokens[i - 2].text == "(" and tokens[i - 3].text == "pub"


def parse_use_tree(tokens, i, with_alias=False):
    """From after `use`: (index after `;`, [(segments, line[, alias])]) for every leaf."""
    out = []
    n = len(tokens)

    def tree(i, prefix):
        segs = list(prefix)
        line = tokens[i].line if i < n else 0
        if i < n and tokens[i].text == "::":
            # `use ::std::x`: an extern crate path, which resolves nowhere here.
            segs.append("::")
            i += 1
        while i < n:
            t = tokens[i]
            if t.kind == "ident":
                if t.text == "as":
                    alias = tokens[i + 1].text if i + 1 < n else None
                    out.append((segs, line, alias))
                    return i + 2
                segs.append(t.text)
                line = t.line
                i += 1
                if i < n and tokens[i].text == "::":
                    i += 1
                    continue
                out.append((segs, line, None))
                return i
            if t.text == "*":
                out.append((segs + ["*"], t.line, None))
                return i + 1
            if t.text == "{":
                i += 1
                while i < n and tokens[i].text != "}":
                    if tokens[i].text == ",":
                        i += 1
                        continue
                    i = tree(i, segs)
                return i + 1
            return i
        return i

    while i < n and tokens[i].text not in (";",):
        before = i
        i = tree(i, [])
        if i == before:
            i += 1
    paths = [(s, l, a) for s, l, a in out if s and s[0] != "::"]
    if not with_alias:
        paths = [(s, l) for s, l, _a in paths]
    return i + 1, paths


def crate_roots(src_dir):
    roots = []
    for name in ("lib.rs", "main.rs"):
        p = os.path.join(src_dir, name)
        if os.path.exists(p):
            roots.append(p)
    bin_dir = os.path.join(src_dir, "bin")
    if os.path.isdir(bin_dir):
        for entry in sorted(os.listdir(bin_dir)):
            p = os.path.join(bin_dir, entry)
            if entry.endswith(".rs"):
                roots.append(p)
            elif os.path.exists(os.path.join(p, "main.rs")):
                roots.append(os.path.join(p, "main.rs"))
    return roots


def sccs(nodes, edges):
    """Tarjan's strongly connected components, iterative."""
    adj = {v: [] for v in nodes}
    for a, b in edges:
        adj[a].append(b)
    index = {}
    low = {}
    on_stack = set()
    stack = []
    out = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = sorted(adj[v])
            if k < len(succ):
                work.append((v, k + 1))
                w = succ[k]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def under(path, dirs):
    p = os.path.normpath(path)
    return any(p == d or p.startswith(d + os.sep) for d in dirs)


def check(src_dirs, only=(), exclude=(), out=sys.stdout, base="."):
    """Prints every cycle; returns the number found (problems count too)."""
    only = [os.path.normpath(d) for d in only]
    exclude = [os.path.normpath(d) for d in exclude]
    found = 0
    seen_components = set()
    for src_dir in src_dirs:
        for root in crate_roots(src_dir):
            crate = Crate(root)
            crate.build_edges()
            for p in crate.problems:
                print(f"problem: {rel(p, base)}", file=out)
                found += 1

            def keep(f):
                return (not only or under(f, only)) and not under(f, exclude)

            nodes = [f for f in crate.files if keep(f)]
            edges = {e: l for e, l in crate.edges.items() if keep(e[0]) and keep(e[1])}
            for comp in sccs(nodes, edges):
                if len(comp) < 2:
                    continue
                key = tuple(comp)
                if key in seen_components:
                    continue
                seen_components.add(key)
                found += 1
                members = set(comp)
                print(f"cycle ({len(comp)} files, crate root {rel(root, base)}):", file=out)
                for (a, b), line in sorted(edges.items()):
                    if a in members and b in members:
                        text = source_line(crate, a, line)
                        print(f"  {rel(a, base)}:{line} -> {rel(b, base)}    {text}", file=out)
    return found


def source_line(crate, file, line):
    try:
        with open(file, encoding="utf-8") as f:
            for k, text in enumerate(f, 1):
                if k == line:
                    return text.strip()
    except OSError:
        pass
    return ""


def rel(p, base):
    if isinstance(p, str) and os.path.isabs(p):
        return os.path.relpath(p, base)
    return p


def self_test():
    """Tiny crates in a temp dir; each must give the expected verdict."""
    cases = {
        "super_two_cycle": (
            {
                "lib.rs": "mod app;\n",
                "app/mod.rs": "mod offline;\npub use offline::go;\npub struct Shared;\n",
                "app/offline.rs": "use super::Shared;\npub fn go(_: Shared) {}\n",
            },
            {("app/mod.rs", "app/offline.rs"), ("app/offline.rs", "app/mod.rs")},
        ),
        "reexport_cycle": (
            # b imports A through the crate root's re-export, and the root imports b.
            {
                "lib.rs": "mod a;\nmod b;\npub use a::A;\nuse b::helper;\n",
                "a.rs": "pub struct A;\n",
                "b.rs": "use crate::A;\npub fn helper(_: A) {}\n",
            },
            {("b.rs", "lib.rs"), ("lib.rs", "b.rs")},
        ),
        "inline_path_cycle": (
            {
                "lib.rs": "mod x;\nmod y;\n",
                "x.rs": "pub fn f() { crate::y::g() }\n",
                "y.rs": "pub fn g() { let _ = \"crate::x::f\"; super::x::f() }\n",
            },
            {("x.rs", "y.rs"), ("y.rs", "x.rs")},
        ),
        "clean": (
            {
                "lib.rs": "//! Layout\nmod app;\npub use app::{App, Shared};\n",
                "app/mod.rs": (
                    "mod offline;\nmod shared;\nmod deep;\npub use offline::App;\n"
                    "pub use shared::Shared;\n"
                    "// use offline::App; use super::*;\n/* nested /* use deep::*; */ */\n"
                ),
                "app/shared.rs": (
                    "pub struct Shared;\n#[cfg(test)]\nmod tests { use super::*; }\n"
                    "// Not an import: use super::offline::App;\n"
                    "const NOTE: &str = \"super::offline::App\";\n"
                ),
                "app/offline.rs": (
                    "use super::shared::{self, Shared as S};\npub struct App(S);\n"
                    "fn f() -> &'static str { r#\"use super::*; crate::app::x\"# }\n"
                    "fn g(c: char) -> bool { c == '{' }\n"
                ),
                # `mod inner;` is no edge, so inner importing its parent is no cycle.
                "app/deep/mod.rs": "#[path = \"inner_impl.rs\"]\nmod inner;\npub struct Deep;\n",
                "app/deep/inner_impl.rs": (
                    "use crate::app::shared::Shared;\nuse super::Deep;\n"
                    "pub(in crate::app) fn h(_: Shared, _: Deep) {}\n"
                ),
            },
            set(),
        ),
    }
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (files, want) in cases.items():
            src = os.path.join(tmp, name, "src")
            for path, text in files.items():
                p = os.path.join(src, path)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w", encoding="utf-8") as f:
                    f.write(text)
            crate = Crate(os.path.join(src, "lib.rs"))
            crate.build_edges()
            nodes = list(crate.files)
            got = set()
            for comp in sccs(nodes, crate.edges):
                if len(comp) > 1:
                    for a, b in crate.edges:
                        if a in comp and b in comp:
                            got.add((os.path.relpath(a, src), os.path.relpath(b, src)))
            ok = got == want and not crate.problems
            if name == "clean":
                # Every file was found (the #[path] one too), and the edges the
                # fixture means to make were made: the verdict is not clean by
                # missing them.
                edges = {(os.path.relpath(a, src), os.path.relpath(b, src)) for a, b in crate.edges}
                ok = ok and len(crate.files) == len(files)
                ok = ok and ("app/deep/inner_impl.rs", "app/deep/mod.rs") in edges
                ok = ok and ("app/offline.rs", "app/shared.rs") in edges
                ok = ok and ("app/deep/mod.rs", "app/deep/inner_impl.rs") not in edges
            print(f"self-test {name}: {'ok' if ok else 'FAILED'}")
            if not ok:
                print(f"  want {sorted(want)}\n  got  {sorted(got)}\n  problems {crate.problems}")
                print(f"  edges {sorted((os.path.relpath(a, src), os.path.relpath(b, src)) for a, b in crate.edges)}")
                failed += 1
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src_dirs", nargs="*", help="crate source directories (default: the workspace's)")
    parser.add_argument("--only", action="append", default=[], help="keep only files under DIR")
    parser.add_argument("--exclude", action="append", default=[], help="drop files under DIR")
    parser.add_argument("--self-test", action="store_true", help="check the checker on tiny fixture crates")
    args = parser.parse_args()
    if args.self_test:
        sys.exit(1 if self_test() else 0)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.src_dirs:
        src_dirs = args.src_dirs
    else:
        os.chdir(root)
        src_dirs = [d for d in DEFAULT_SRC_DIRS if os.path.isdir(d)]
    found = check(src_dirs, args.only, args.exclude)
    if found:
        print(f"{found} import cycle(s) or problem(s) between files; see docs/architecture.md")
        sys.exit(1)
    scope = ", ".join(src_dirs)
    if args.only:
        scope += "; only " + ", ".join(args.only)
    if args.exclude:
        scope += "; without " + ", ".join(args.exclude)
    print(f"no import cycles between files ({scope})")


if __name__ == "__main__":
    main()
