#!/usr/bin/env bash
# Runs the whole suite: every cmocka program in BUILD/tests, then the script
# tests in tests/scripts (each one test). Prints one closing line:
#   tests: N passed, N failed
# and exits non-zero if anything failed or crashed.
set -u
BUILD="${1:-build}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CREST_BUILD="$BUILD"
passed=0
failed=0
failures=()
log="$(mktemp)"
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name="$(basename "$t")"
  start=$(date +%s)
  "$t" > "$log" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or aborted
  passed=$((passed + p)); failed=$((failed + f))
  printf '%-28s %3d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $(( $(date +%s) - start ))
  if [ "$f" -ne 0 ]; then
    failures+=("$name")
    sed 's/^/    | /' "$log" | tail -40
  fi
done
for s in tests/scripts/*.sh; do
  [ -f "$s" ] || continue
  name="$(basename "$s")"
  start=$(date +%s)
  if bash "$s" > "$log" 2>&1; then
    passed=$((passed + 1)); r=ok
  else
    failed=$((failed + 1)); r=FAILED; failures+=("$name")
  fi
  printf '%-28s %s  (%ds)\n' "$name" "$r" $(( $(date +%s) - start ))
  if [ "$r" != ok ]; then      # the assertions that failed, then the end of the log
    grep -m10 'FAIL' "$log" | sed 's/^/    ! /'
    sed 's/^/    | /' "$log" | tail -40
  fi
done
rm -f "$log"
[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
