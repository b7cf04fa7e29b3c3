#!/usr/bin/env python3
"""link_cycles.py - cycles between crest's source files, read from the object files.

An edge A -> B means: A's object file uses (nm: undefined) a symbol that B's
object file defines. Declarations in src/internal.h hide most of these uses
from the #include lines, the linker's symbols do not. Prints each cycle (a
strongly connected component of more than one file) and exits 1 if there is
one that is not allowed.

usage: python3 tools/link_cycles.py [--allow A,B,...]... OBJDIR [SRCPREFIX]
  OBJDIR     a folder of .o files (build/src), searched recursively
  SRCPREFIX  printed in front of each object's path relative to OBJDIR (src/)
  --allow    the files of one known cycle, comma-separated; it is reported but
             does not fail (each --allow must still be a cycle, exactly, so the
             allow-list can only shrink)
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deps import sccs  # noqa: E402  (Tarjan's strongly connected components)


def symbols(obj):
    """(defined, undefined) global symbol names of one object file."""
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCGSVW" and kind.isupper():   # global definitions only
            defined.add(name)
    return defined, undefined


def graph(objdir, prefix):
    objs = sorted(os.path.join(d, f) for d, _, fs in os.walk(objdir) for f in fs
                  if f.endswith(".o"))
    name = {o: prefix + os.path.relpath(o, objdir)[:-2] + ".c" for o in objs}
    syms = {o: symbols(o) for o in objs}
    owner = {}
    for o in objs:
        for s in syms[o][0]:
            owner.setdefault(s, name[o])
    edges = {}
    why = {}
    for o in objs:
        deps = set()
        for s in sorted(syms[o][1]):
            d = owner.get(s)
            if d and d != name[o]:
                deps.add(d)
                why.setdefault((name[o], d), s)
        edges[name[o]] = deps
    return edges, why


def main():
    args = sys.argv[1:]
    allow = []
    while args and args[0] == "--allow":
        allow.append(frozenset(args[1].split(",")))
        args = args[2:]
    if not args:
        sys.exit(__doc__)
    objdir = args[0]
    prefix = args[1] if len(args) > 1 else ""
    edges, why = graph(objdir, prefix)
    if not edges:
        sys.exit(f"link_cycles: no object files under {objdir}")
    bad = 0
    found = set()
    for comp in sorted(sccs(edges), key=sorted):
        c = frozenset(comp)
        found.add(c)
        tag = "allowed" if c in allow else "cycle"
        bad += c not in allow
        print(f"{tag}: {' <-> '.join(sorted(c))}")
        for a in sorted(c):
            for b in sorted(edges[a] & c):
                print(f"  {a} -> {b} ({why[(a, b)]})")
    for c in allow:
        if c not in found:
            print(f"stale allow-list entry (no longer a cycle, remove it): {','.join(sorted(c))}")
            bad += 1
    print(f"{len(edges)} files, {sum(len(d) for d in edges.values())} edges, "
          f"{len(found)} cycles ({len(found & set(allow))} allowed)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
