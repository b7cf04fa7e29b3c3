#!/usr/bin/env bash
# The way-2 (custom model) and way-5 (Lambda head) examples train on
# Fashion-MNIST and print "accuracy: 0.xxxx" last, at least 0.83 with their
# default 5 epochs. Under sanitizers (CREST_SANITIZED=1): one epoch on 10000
# training images, floor 0.75.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
epochs=5 subset=0 floor=0.83
if [ -n "${CREST_SANITIZED:-}" ]; then epochs=1 subset=10000 floor=0.75; fi
fail=0
for ex in way2_custom_model way5_lambda_head; do
  out="$("$ROOT/$BUILD/examples/$ex" "$epochs" "$subset" 2>/dev/null)"; rc=$?
  last="$(printf '%s\n' "$out" | tail -1)"
  acc="${last#accuracy: }"
  if [ "$rc" -ne 0 ] || [ "$acc" = "$last" ] ||
     ! awk -v a="$acc" -v f="$floor" 'BEGIN { exit !(a + 0 >= f) }'; then
    echo "FAIL: $ex (exit $rc): last line '$last', want accuracy >= $floor"
    fail=1
  else
    echo "$ex: $last ($epochs epochs, floor $floor)"
  fi
done
exit $fail
