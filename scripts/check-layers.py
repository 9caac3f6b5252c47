#!/usr/bin/env python3
"""The server's picture stays true: imports point down, and nothing imports in a circle.

Reads every file under src/server (what `crate::`, `super::` and `self::` paths it
names, in `use` lines and in code, comments and test modules left out), resolves each
path to the file that defines it (through `pub use` re-exports of folder modules), and
fails when
  - a file imports a file of a higher layer (LAYERS below, top first), or
  - files import each other in a circle, in one layer or across layers, or
  - a file below the top layers names `AppState`, the assembled state (only the top
    layers and the server functions of src/api may: everything else takes the few
    handles it uses).
`--print` also prints every file's layer and imports (the module picture).

Usage: python3 scripts/check-layers.py [--print] [--root CHECKOUT]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if "--root" in sys.argv:  # another checkout (to see the check fail on one)
    ROOT = sys.argv[sys.argv.index("--root") + 1]
SRC = os.path.join(ROOT, "src")

# Top first. A file's layer is the first prefix (of its path under src/server) it has.
LAYERS = [
    ("top", ["mod.rs"]),
    ("edge", ["edge/"]),
    ("conn", ["conn/"]),
    ("app", ["app.rs", "config.rs"]),
    ("domain", ["domain/"]),
    ("live", ["live/"]),
    ("db", ["db/"]),
    ("blobs", ["blobs.rs"]),
    ("base", ["base/"]),
]
# Layers whose files may name the assembled state.
STATE_NAMERS = {"top", "edge", "conn", "app"}


def layer_of(rel):
    for rank, (name, prefixes) in enumerate(LAYERS):
        if any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in prefixes):
            return len(LAYERS) - rank, name
    raise SystemExit(f"check-layers: {rel} is in no layer: add it to LAYERS")


def module_of(rel):
    """`live/hub.rs` -> ('server', 'live', 'hub'); `live/mod.rs` -> ('server', 'live')."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return ("server",) + tuple(parts)


def strip(text):
    """The code without comments, strings and `#[cfg(test)]` modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r(#*)"(?:.|\n)*?"\1', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\\n])'", "' '", text)  # char literals ('{', '"')
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
        if not m:
            return text
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[: m.start()] + text[i:]


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (aliases dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, s):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for item in filter(None, items):
            m = re.match(r"^([\w:]*?)::\{(.*)\}$", item)
            if m:
                walk(prefix + m.group(1) + "::", m.group(2))
            elif item.startswith("{") and item.endswith("}"):
                walk(prefix, item[1:-1])
            else:
                out.append(prefix + item)

    walk("", tree)
    return out


def main():
    files = {}
    for dirpath, _, names in os.walk(os.path.join(SRC, "server")):
        for n in names:
            if n.endswith(".rs"):
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, os.path.join(SRC, "server")).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    files[rel] = strip(f.read())
    by_module = {module_of(rel): rel for rel in files}

    # `pub use x::y::{A, B};` in folder modules: the names they re-export.
    reexports = {}
    for rel, code in files.items():
        mod = module_of(rel)
        for tree in re.findall(r"\bpub\s+use\s+([^;]+);", code):
            for path in expand_use(tree):
                segs = path.split("::")
                reexports[(mod, segs[-1])] = absolute(mod, segs)

    def resolve(segs):
        """The file that defines the absolute path `segs` (('server', 'live', 'hub', 'Hub'))."""
        for _ in range(8):
            best = None
            for n in range(len(segs), 0, -1):
                if tuple(segs[:n]) in by_module:
                    best = n
                    break
            if best is None:
                return None
            mod = tuple(segs[:best])
            if best < len(segs) and (mod, segs[best]) in reexports:
                segs = list(reexports[(mod, segs[best])]) + list(segs[best + 1:])
                continue
            return by_module[mod]
        return None

    edges = {rel: set() for rel in files}
    for rel, code in files.items():
        mod = module_of(rel)
        paths = []
        # A folder module's `pub use` is a facade for its children, not a use of them:
        # importers are followed through it to the child that defines the name.
        for tree in re.findall(r"(?<!pub )\buse\s+([^;]+);", code):
            paths += expand_use(tree)
        # Paths written in code (`crate::server::db::now_ms()`), `use` lines left out.
        rest = re.sub(r"\buse\s+[^;]+;", "", code)
        paths += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", rest)
        for path in paths:
            segs = absolute(mod, path.split("::"))
            if not segs or segs[0] != "server":
                continue
            target = resolve(segs)
            if target and target != rel:
                edges[rel].add(target)

    problems = []
    for rel, targets in sorted(edges.items()):
        (lr, ln) = layer_of(rel)
        for t in sorted(targets):
            (tr, tn) = layer_of(t)
            if tr > lr:
                problems.append(f"upward import: {rel} ({ln}) -> {t} ({tn})")
    for scc in cycles(edges):
        problems.append("import cycle: " + " -> ".join(sorted(scc)))
    for rel, code in sorted(files.items()):
        (_, ln) = layer_of(rel)
        if ln not in STATE_NAMERS and re.search(r"\bAppState\b", code):
            problems.append(f"{rel} ({ln}) names AppState: take the handles it uses instead")

    if "--print" in sys.argv:
        for rel in sorted(files, key=lambda r: (-layer_of(r)[0], r)):
            ups = ", ".join(sorted(edges[rel])) or "-"
            print(f"{layer_of(rel)[1]:7} {rel:28} -> {ups}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layers: {len(problems)} problem(s); the layers, top first: "
              + ", ".join(n for n, _ in LAYERS), file=sys.stderr)
        return 1
    print(f"check-layers: {len(files)} server files, {sum(map(len, edges.values()))} imports, "
          "all pointing down, no cycles")
    return 0


def absolute(mod, segs):
    """A path as written in module `mod` (file `rel`), from the crate root."""
    segs = [s for s in segs if s]
    if not segs:
        return None
    if segs[0] == "crate":
        return tuple(segs[1:])
    base = list(mod)
    if segs[0] == "self":
        segs = segs[1:]
    elif segs[0] == "super":
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
    # Else a plain `use name::...`: a child module (`use config::Config` in a folder's
    # mod.rs), or another crate, which resolves to no file but this one (ignored).
    return tuple(base) + tuple(segs)


def cycles(edges):
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    scc.append(w)
                    if w == node:
                        break
                if len(scc) > 1:
                    out.append(scc)
    return out


if __name__ == "__main__":
    sys.exit(main())
