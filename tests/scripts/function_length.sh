#!/usr/bin/env bash
# No library function over 80 lines (issue 9): tools/function_length.py over
# src/. The checker is checked first on a file with one function of 81
# lines and one of 80, so this test cannot pass by finding nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
t="$(mktemp -d)"
trap 'rm -rf "$t"' EXIT
{
  printf 'static int long_one(int a)\n{\n'
  for i in $(seq 1 77); do printf '    a += %d;\n' "$i"; done
  printf '    return a;\n}\n\nint short_one(void)\n{\n'
  for i in $(seq 1 76); do printf '    (void)0;\n'; done
  printf '    return 0;\n}\n'
} > "$t/x.c"
out="$(python3 tools/function_length.py "$t" || true)"
echo "$out" | grep -q 'long_one: 81 lines' || { echo "checker missed an 81-line function: $out"; exit 1; }
echo "$out" | grep -q short_one && { echo "checker flagged an 80-line function: $out"; exit 1; }
python3 tools/function_length.py src
echo "function length: every function in src/ is at most 80 lines"
