#!/usr/bin/env python3
"""Lists C functions longer than a limit (default 80 lines, signature to
closing brace) under the given folders (default src). Exit 1 if any.

A function is a top-level definition: its body opens with '{' at the start
of a line (house style) and closes with '}' at the start of a line.
usage: tools/function_length.py [--max N] [DIR...]"""
import os
import re
import sys


def functions(path):
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    i = 0
    while i < len(lines):
        if lines[i] == '{' and i > 0:
            j = i - 1   # back to the first line of the signature
            while j > 0 and lines[j - 1].strip() and not lines[j - 1].startswith(
                    ('}', '#', '/*', ' *', '//')) and not lines[j - 1].rstrip().endswith((';', '*/')):
                j -= 1
            k = i + 1
            while k < len(lines) and lines[k] != '}' and not lines[k].startswith('};'):
                k += 1
            name = re.search(r'(\w+)\s*\(', ' '.join(lines[j:i + 1]))
            yield (name.group(1) if name else lines[j].strip()), j + 1, k - j + 1
            i = k
        i += 1


def main(argv):
    limit, dirs = 80, []
    while argv:
        a = argv.pop(0)
        if a == '--max':
            limit = int(argv.pop(0))
        else:
            dirs.append(a)
    long_ones = []
    for d in dirs or ['src']:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if f.endswith('.c'):
                    p = os.path.join(root, f)
                    for name, line, n in functions(p):
                        if n > limit:
                            long_ones.append((n, p, line, name))
    for n, p, line, name in sorted(long_ones, reverse=True):
        print(f'{p}:{line}: {name}: {n} lines (limit {limit})')
    return 1 if long_ones else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
