#!/usr/bin/env python3
"""The top-level module graph of src/, checked against the layers.

Reads every `crate::MODULE` path in src/ (outside `#[cfg(test)]` modules), groups the files by
top-level module, prints the graph (each module, its layer, what it imports), and exits 1 on an
import cycle between top-level modules or an arrow that points up a layer:

    face -> use cases -> engine -> adapters -> core

A module may import modules of its own layer or of any layer below it. `--report` prints the
graph and the problems without failing (for measuring a change).
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

LAYERS = [
    ("face", ["cli", "commands", "config", "output", "main"]),
    ("use cases", ["release"]),
    ("engine", ["transfer"]),
    (
        "adapters",
        [
            "s3",
            "listing",
            "inspect",
            "credentials",
            "environment",
            # What differs between operating systems (cfg lives here only): positioned I/O,
            # the atomic file, name rules, limits, signals.
            "platform",
            "shutdown",
            # Sinks the engine is handed: the progress display and the log on stderr.
            "progress",
            "logging",
        ],
    ),
    ("core", ["key", "checksum", "values", "error", "escape", "attributes", "manifest", "signature", "plan", "tasks"]),
]
RANK = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
NAME = {i: name for i, (name, _) in enumerate(LAYERS)}


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod NAME { ... }` blocks (brace-matched; strings are rare enough)."""
    out, i = [], 0
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{")
    while True:
        m = pattern.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j


def module_of(path: Path, src: Path) -> str:
    rel = path.relative_to(src)
    first = rel.parts[0]
    return first[:-3] if first.endswith(".rs") else first


def imports(text: str) -> set:
    """Top-level modules named by `crate::X` paths and `use crate::{X, Y::..}` groups, in code
    (comments, doc links included, are not dependencies)."""
    text = re.sub(r"//[^\n]*", "", text)
    found = set(re.findall(r"\bcrate::(\w+)", text))
    for group in re.findall(r"\bcrate::\{([^;]*?)\}\s*;", text, re.S):
        depth, part, parts = 0, "", []
        for c in group:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if c == "," and depth == 0:
                parts.append(part)
                part = ""
            else:
                part += c
        parts.append(part)
        for p in parts:
            name = re.match(r"\s*(\w+)", p)
            if name:
                found.add(name.group(1))
    return found


def graph(src: Path) -> dict:
    edges = defaultdict(set)
    for path in sorted(src.rglob("*.rs")):
        if path.name in ("lib.rs",):
            continue
        mod = module_of(path, src)
        if mod == "bin":
            mod = "main"
        text = strip_tests(path.read_text())
        for target in imports(text):
            if target in ("self", "super") or target == mod:
                continue
            edges[mod].add(target)
        edges.setdefault(mod, set())
    return edges


def cycles(edges: dict) -> list:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    report = "--report" in sys.argv
    src = Path(__file__).resolve().parent.parent / "src"
    edges = graph(src)
    problems = []
    for mod in sorted(edges, key=lambda m: (RANK.get(m, -1), m)):
        if mod not in RANK:
            problems.append(f"{mod}: not placed in a layer (add it to LAYERS in {__file__})")
    arrows = sum(len(t) for t in edges.values())
    print(f"{len(edges)} top-level modules, {arrows} arrows")
    for i, (layer, mods) in enumerate(LAYERS):
        print(f"{layer}:")
        for mod in mods:
            if mod not in edges:
                continue
            targets = sorted(edges[mod], key=lambda m: (RANK.get(m, -1), m))
            print(f"  {mod} -> {', '.join(targets) if targets else '(nothing)'}")
            for t in targets:
                if t in RANK and RANK[t] < RANK[mod]:
                    problems.append(
                        f"{mod} ({layer}) imports {t} ({NAME[RANK[t]]}): an arrow up a layer"
                    )
    for comp in cycles(edges):
        problems.append(f"import cycle: {' <-> '.join(comp)}")
    for p in problems:
        print(f"problem: {p}")
    if not problems:
        print("layers: ok (no cycle, no arrow up a layer)")
        return 0
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main())
