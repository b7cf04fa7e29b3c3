#!/usr/bin/env python3
"""deps.py - include and call edges between crest's library files (src/, not src/cli/).

An edge A -> B means: A includes a header of B's folder that declares B's names
(src/tfjs.h, src/json.h ... are named as headers), or A uses a non-static function or
variable that B defines (found with universal-ctags; comments and strings are ignored).
Prints the edges among the files of interest (the model, its kinds, the file formats,
transfer learning and the layer (de)serialization; --all: every library file), then
the cycles (strongly connected components of more than one file) among them.

usage: python3 tools/deps.py [--all] [--root DIR]
"""
import os
import re
import subprocess
import sys

FOCUS = re.compile(r"^src/(model[^/]*\.c|functional[^/]*\.c|sequential\.c|custom\.c|"
                   r"transfer\.c|weights\.c|io/.*|layers/(layer|serial)\.c|[a-z_]+\.h)$")


def strip(text):
    """C text without comments, strings and character literals."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", text)


def definitions(root, files):
    """name -> file for every non-static function and global variable."""
    out = subprocess.run(["ctags", "-x", "--c-kinds=fv", "--extras=-F", "--fields=+S"] + files,
                         cwd=root, capture_output=True, text=True, check=True).stdout
    defs = {}
    for line in out.splitlines():
        name, _kind, _line, path, rest = line.split(None, 4)
        if re.match(r"static\b", rest) or re.search(r"\bstatic\b.*\b" + re.escape(name) + r"\b",
                                                    rest.split("(")[0]):
            continue
        defs.setdefault(name, path)
    return defs


def main():
    args = sys.argv[1:]
    root = args[args.index("--root") + 1] if "--root" in args else "."
    files = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, fs in os.walk(os.path.join(root, "src")) for f in fs
                   if f.endswith((".c", ".h")) and "/cli" not in d)
    cfiles = [f for f in files if f.endswith(".c")]
    defs = definitions(root, cfiles)
    edges = {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8") as h:
            raw = h.read()
        deps = set()
        for inc in re.findall(r'#include\s+"([^"]+)"', raw):
            path = os.path.normpath(os.path.join(os.path.dirname(f), inc))
            if not os.path.exists(os.path.join(root, path)):
                path = os.path.normpath(os.path.join("src", inc))
            if path in files and path != f and not path.endswith(("internal.h", "crest.h")):
                deps.add(path)
        for word in set(re.findall(r"\b[A-Za-z_]\w*\b", strip(raw))):
            d = defs.get(word)
            if d and d != f and f.endswith(".c"):
                deps.add(d)
        edges[f] = deps
    keep = (lambda f: True) if "--all" in args else (lambda f: bool(FOCUS.match(f)))
    shown = {f: sorted(d for d in ds if keep(d)) for f, ds in edges.items() if keep(f)}
    for f in sorted(shown):
        if shown[f]:
            print(f"{f} -> {', '.join(shown[f])}")
    cycles = sccs(shown)
    print("cycles:", "none" if not cycles else "")
    for c in cycles:
        print("  " + " <-> ".join(sorted(c)))


def sccs(g):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
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
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(g):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    main()
