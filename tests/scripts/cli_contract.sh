#!/usr/bin/env bash
# The crest command's contract (CLI.md): exit codes 0 ok, 2 usage, 3 bad
# input with a one-line message naming the culprit; --json output parses;
# the way-1 example prints "accuracy: 0.xxxx" as its last line.
. "$(dirname "$0")/common.bash"
expect() {   # expect CODE NEEDLE -- command...
  local code="$1" needle="$2"; shift 3
  "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$needle" "$tmp/err" "$tmp/out"; then
    echo "FAIL: $* -> exit $rc (want $code), output:"; cat "$tmp/err" "$tmp/out" | head -5
    fail=1
  fi
}
expect 2 "usage" -- "$C"
expect 2 "unknown command" -- "$C" frobnicate
expect 0 "train" -- "$C" --help
expect 0 "usage: crest train" -- "$C" train --help
expect 2 "are required" -- "$C" train --data fashion-mnist
expect 3 "--epochs" -- "$C" train --data fashion-mnist --out "$tmp/m" --epochs zero
expect 3 "no-such-data" -- "$C" train --data no-such-data --out "$tmp/m"
expect 3 "nowhere" -- "$C" summary "$tmp/nowhere"
mkdir -p "$tmp/bad" && echo '{"format":"layers-model","modelTopology":' > "$tmp/bad/model.json"
expect 3 "not valid JSON" -- "$C" summary "$tmp/bad"
# a real, quick model: train, then every command on it
"$C" train --data fashion-mnist --epochs 1 --batch 128 --out "$tmp/m" 2> "$tmp/train.err" > /dev/null \
  || { echo "FAIL: train"; cat "$tmp/train.err"; fail=1; }
grep -q "val_\|loss: " "$tmp/train.err" || { echo "FAIL: no progress line"; fail=1; }
expect 0 "Total params: 7,850" -- "$C" summary "$tmp/m"
"$C" evaluate "$tmp/m" --data fashion-mnist:test --json > "$tmp/eval.json" || fail=1
node -e 'const e=JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (e.n!==10000||!(e.accuracy>0.75)||e.per_class.length!==10||e.confusion.length!==10) process.exit(1);
  let s=0; for (const r of e.confusion) for (const v of r) s+=v; if (s!==10000) process.exit(1);' "$tmp/eval.json" \
  || { echo "FAIL: evaluate --json"; cat "$tmp/eval.json" | head -c 300; fail=1; }
head -c 3136 /dev/zero > "$tmp/zero.f32"
expect 0 "zero.f32\[0\]" -- "$C" predict "$tmp/m" "$tmp/zero.f32" --top 3
head -c 100 /dev/zero > "$tmp/short.f32"
expect 3 "short.f32" -- "$C" predict "$tmp/m" "$tmp/short.f32"
expect 3 "nowhere" -- "$C" evaluate "$tmp/m" --data "$tmp/nowhere"
# the example program
out="$("$ROOT/$BUILD/examples/way1_dense_head" 1 2>/dev/null | tail -1)"
echo "$out" | grep -Eq '^accuracy: 0\.[0-9]{4}$' || { echo "FAIL: way1 last line: $out"; fail=1; }
exit $fail
