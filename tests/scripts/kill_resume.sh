#!/usr/bin/env bash
# Nothing lost: `crest train --out DIR` killed with SIGKILL at any moment
# over an existing model in DIR always leaves a model that loads and
# predicts (the old one or the new one) and no pile of temp files; and a
# run killed mid-way and continued with --resume DIR ends bit-identical
# (same weights bytes, same model.json, same final metrics) to a run never
# killed: a Fashion-MNIST MLP, penguins (tabular), and --base (head on
# cached features, then fine-tuning).
#   1. seeded random delays: 24 kills over runs of ~0.4 s;
#   2. a kill at every file-changing call of a run (write / fsync / rename /
#      unlink, through an LD_PRELOAD shim): every moment of every save;
#   3. resume after kills (at random times, and inside checkpoint saves).
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/penguins/penguins.csv" ] || { echo "no penguins.csv: run tools/setup.sh"; exit 1; }
# ASan's runtime must come first unless told otherwise; leaks of a killed
# process are not leaks
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
cc -shared -fPIC -O1 -o "$tmp/killshim.so" "$ROOT/tests/scripts/killshim.c" -ldl \
  || { echo "FAIL: cannot build the kill shim"; exit 1; }

FM=(--data fashion-mnist:test --limit 600 --hidden 16 --dropout 0.2 --epochs 3 --val-split 0.2
    --threads 1)
PG=(--data penguins --label species --hidden 8 --dropout 0.1 --epochs 4 --val-split 0.2
    --threads 1)
head -c 3136 /dev/zero > "$tmp/x.f32"   # one Fashion-MNIST sample
printf 'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n'\
'Biscoe,47.5,15,218,4950,female,2009\n' > "$tmp/rows.csv"

temps() { ls "$1" 2>/dev/null | grep -c '\.tmp\.'; }
# check_model DIR INPUT WHAT: loads, predicts, at most one temp file per folder
check_model() {
  "$C" summary "$1" > /dev/null 2> "$tmp/cerr" || { die "$3: summary: $(cat "$tmp/cerr")"; return; }
  "$C" predict "$1" "$2" > /dev/null 2> "$tmp/cerr" || die "$3: predict: $(cat "$tmp/cerr")"
  local a b; a=$(temps "$1"); b=$(temps "$1/checkpoint")
  [ "$a" -le 1 ] && [ "$b" -le 1 ] || { die "$3: temp files pile up ($a in DIR, $b in checkpoint/)"; ls -R "$1"; }
}

# ---- 1. random kills over an existing model ---------------------------------
# --checkpoint every: the model folder itself is saved after every epoch;
# delays are drawn over the length of a whole run
D="$tmp/pg_every"
t0=$(date +%s%N)
"$C" train "${PG[@]}" --epochs 10 --seed 1 --out "$D" --checkpoint every > /dev/null 2>&1 \
  || die "first model"
run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
RANDOM=20261201
during=0
for i in $(seq 1 24); do
  delay=$(awk -v ms=$((RANDOM % (run_ms + run_ms / 5 + 1))) 'BEGIN { printf "%.3f", ms / 1000 }')
  "$C" train "${PG[@]}" --epochs 10 --seed $((i % 4 + 2)) --out "$D" --checkpoint every \
    > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  { kill -9 "$pid"; wait "$pid"; } 2> /dev/null
  [ "$(temps "$D")" -gt 0 ] || [ "$(temps "$D/checkpoint")" -gt 0 ] && during=$((during + 1))
  check_model "$D" "$tmp/rows.csv" "random kill $i after ${delay}s"
done
echo "random kills: 24 over runs of ${run_ms} ms, $during of them inside a save (a temp file left)"
# the same over a Fashion-MNIST MLP, fewer (its data takes longer to load)
D="$tmp/fm"
t0=$(date +%s%N)
"$C" train "${FM[@]}" --seed 1 --out "$D" --checkpoint every > /dev/null 2>&1 || die "first model"
run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
for i in $(seq 1 6); do
  delay=$(awk -v ms=$((run_ms / 3 + RANDOM % (run_ms * 5 / 6 + 1))) 'BEGIN { printf "%.3f", ms / 1000 }')
  "$C" train "${FM[@]}" --seed $((i % 4 + 2)) --out "$D" --checkpoint every > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  { kill -9 "$pid"; wait "$pid"; } 2> /dev/null
  check_model "$D" "$tmp/x.f32" "random kill $i (Fashion-MNIST) after ${delay}s"
done
echo "(${SECONDS}s)"
# ---- 2. a kill at every file-changing call of a run -------------------------
P="$tmp/pg"
"$C" train "${PG[@]}" --seed 1 --out "$P" > /dev/null 2>&1 || die "first penguins model"
cp -r "$P" "$tmp/pg_count"
KILL_AT=0 KILL_COUNT="$tmp/count" KILL_LOG="$tmp/calls" LD_PRELOAD="$tmp/killshim.so" \
  "$C" train "${PG[@]}" --seed 2 --out "$tmp/pg_count" > /dev/null 2>&1 || die "counting run"
# every rename is followed by an fsync of its folder (durable past a crash)
awk -v dir="$tmp/pg_count" '
  $1 == "rename" { n = split($2, p, "/"); want = substr($2, 1, length($2) - length(p[n]) - 1); next_is = 1; renames++; next }
  next_is { if ($1 != "fsync" || $2 != want) bad++; next_is = 0 }
  END { if (bad || renames < 5) { print renames " renames, " bad " not followed by a folder fsync"; exit 1 } }' \
  "$tmp/calls" || die "renames without a folder fsync"
calls=$(cat "$tmp/count" 2>/dev/null || echo 0)
[ "$calls" -ge 20 ] || die "only $calls file-changing calls counted (the shim is not working)"
# kill at call 1, 2, ... of each run until a run gets through: every
# moment of every save (the runs differ a little: stale shards and dead
# temp files to remove), each over the model the last kill left
k=0
while :; do
  k=$((k + 1))
  { KILL_AT=$k LD_PRELOAD="$tmp/killshim.so" "$C" train "${PG[@]}" --seed $((k % 3 + 2)) \
      --out "$P" > /dev/null 2>&1; } 2> /dev/null
  rc=$?
  check_model "$P" "$tmp/rows.csv" "kill at call $k"
  [ $rc = 137 ] && [ $k -lt 200 ] || break
done
[ $rc = 0 ] || die "the run after $((k - 1)) kills: exit $rc"
# (a run over a model of its own seed has no stale shard to remove: one call less)
[ $((k - 1)) -ge $((calls - 1)) ] || die "only $((k - 1)) kills, a run makes $calls file-changing calls"
echo "kills at every file-changing call: $((k - 1)) (a run over an older model makes $calls)"
# a clean run afterwards leaves no temp file and no checkpoint behind
"$C" train "${PG[@]}" --seed 2 --out "$P" > /dev/null 2>&1 || die "clean run"
[ "$(temps "$P")" = 0 ] && [ ! -e "$P/checkpoint" ] || { die "leftovers after a clean run"; ls -R "$P"; }

echo "(${SECONDS}s)"
# ---- 3. killed, resumed, bit-identical ---------------------------------------
# last_metrics LOG: the last epoch line's metrics (no timings), and the
# hold-out score of tables
last_metrics() {
  grep 'loss:' "$1" | tail -1 | sed 's/.*- loss:/loss:/'
  grep '^hold-out' "$1"
}
# same NAME REF OUT: identical model files and final metrics
same() {
  cmp "$2/model.json" "$3/model.json" || die "$1: model.json differs"
  local a b; a=$(ls "$2"/weights.*.bin) b=$(ls "$3"/weights.*.bin)
  cmp "$a" "$b" || die "$1: weights differ"
  # a run killed after its last epoch's checkpoint resumes with no epoch left
  # to run, so it prints no metrics: then the files alone must agree
  local n; n=$(sed -n 's/.*Resuming from .* after epoch \([0-9]*\)\/\1$/\1/p' "$3.log")
  [ -n "$n" ] && [ -z "$(grep 'loss:' "$3.log")" ] ||
  [ "$(last_metrics "$2.log")" = "$(last_metrics "$3.log")" ] \
    || die "$1: final metrics differ: '$(last_metrics "$2.log")' vs '$(last_metrics "$3.log")'"
  [ -e "$3/checkpoint" ] && die "$1: checkpoint left after the resumed run"
  echo "$1: resumed run identical ($(basename "$b"), $(last_metrics "$3.log"))"
}
# resume_test NAME KILL1 KILL2 ARGS...: killed at KILL1 (OP:PATH-TEXT:N, see
# killshim.c), resumed and killed again at KILL2, resumed to the end
resume_test() {
  local name="$1" k1="$2" k2="$3"; shift 3
  "$C" train "$@" --out "$tmp/$name.ref" > "$tmp/$name.ref.log" 2>&1 || die "$name: reference run"
  { KILL_ON=$k1 LD_PRELOAD="$tmp/killshim.so" "$C" train "$@" --out "$tmp/$name" \
      > /dev/null 2>&1; } 2> /dev/null
  [ $? = 137 ] || die "$name: not killed at $k1"
  { KILL_ON=$k2 LD_PRELOAD="$tmp/killshim.so" "$C" train "$@" --resume "$tmp/$name" \
      > "$tmp/$name.1.log" 2>&1; } 2> /dev/null
  [ $? = 137 ] || die "$name: resumed run not killed at $k2"
  grep -q "Resuming from" "$tmp/$name.1.log" || die "$name: the first resume did not resume"
  "$C" train "$@" --resume "$tmp/$name" > "$tmp/$name.log" 2>&1 || die "$name: final resume"
  grep -q "Resuming from .* after epoch [1-9]" "$tmp/$name.log" || die "$name: did not resume"
  same "$name" "$tmp/$name.ref" "$tmp/$name"
}
# killed inside the temp file of the 2nd checkpoint (a torn write), resumed
# after epoch 1 and killed before the rename of its 2nd checkpoint (epoch 3)
resume_test fmnist write:fit.ckpt:2 rename:fit.ckpt:2 --data fashion-mnist:test --limit 600 \
  --hidden 16 --dropout 0.2 --epochs 5 --val-split 0.2 --seed 7 --threads 1
grep -q "Resuming from .* after epoch 2/5" "$tmp/fmnist.log" || die "fmnist: not resumed after epoch 2"
resume_test penguins fsync:fit.ckpt:3 write:fit.ckpt:2 --data penguins --label species \
  --hidden 8 --dropout 0.1 --epochs 12 --holdout 5 --val-split 0.2 --early-stop 3 --seed 7 --threads 1
grep -q "^hold-out" "$tmp/penguins.log" || die "penguins: no hold-out score"

# a kill at a random moment (seeded) once the first checkpoint exists
name=fmnist_t
args=(--data fashion-mnist:test --limit 800 --hidden 16 --dropout 0.2 --epochs 8 --seed 9 --threads 1)
"$C" train "${args[@]}" --out "$tmp/$name.ref" > "$tmp/$name.ref.log" 2>&1 || die "$name: reference"
"$C" train "${args[@]}" --out "$tmp/$name" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -f "$tmp/$name/checkpoint/fit.ckpt" ] && break; sleep 0.01; done
sleep "0.0$((RANDOM % 5))"
{ kill -9 "$pid"; wait "$pid"; } 2> /dev/null
"$C" train "${args[@]}" --resume "$tmp/$name" > "$tmp/$name.log" 2>&1 || die "$name: resume"
same "$name" "$tmp/$name.ref" "$tmp/$name"

# --base: a small backbone crest trains first; the head on cached features
# (killed in its third epoch), then fine-tuning (killed in it)
"$C" train --data fashion-mnist:test --limit 600 --hidden 32 --epochs 1 --threads 1 --out "$tmp/bb" \
  > /dev/null 2>&1 || die "backbone"
resume_test base rename:head.ckpt:3 write:fine-tune.ckpt:2 --base "$tmp/bb" --cut dense \
  --data fashion-mnist:test --limit 400 --cache "$tmp/cache" --epochs 4 --fine-tune 1 \
  --fine-tune-epochs 3 --seed 3 --threads 1
grep -q "Resuming from .*head.ckpt after epoch 2/4" "$tmp/base.1.log" || die "base: head not resumed"
grep -q "Resuming from .*head.ckpt after epoch 4/4" "$tmp/base.log" || die "base: head not restored"
grep -q "Resuming from .*fine-tune.ckpt after epoch 1/3" "$tmp/base.log" \
  || die "base: fine-tuning not resumed"

# resuming another run is refused, naming the checkpoint (the run is killed
# at its second checkpoint's write, so the first one is there: a kill by
# timing could come after a fast run had finished and removed it)
{ KILL_ON=write:fit.ckpt:2 LD_PRELOAD="$tmp/killshim.so" "$C" train "${args[@]}" \
    --out "$tmp/other" > /dev/null 2>&1; } 2> /dev/null
[ $? = 137 ] || die "other: not killed at its second checkpoint"
"$C" train "${args[@]}" --lr 0.01 --resume "$tmp/other" > /dev/null 2> "$tmp/err"
rc=$?
[ $rc = 1 ] || [ $rc = 3 ] || die "resuming with another learning rate: exit $rc"
grep -q "fit.ckpt" "$tmp/err" || die "resume refusal does not name the checkpoint: $(cat "$tmp/err")"
"$C" train "${args[@]}" --out "$tmp/other" > /dev/null 2> "$tmp/err" || die "starting over"
grep -q "holds a checkpoint of an earlier run: starting over" "$tmp/err" \
  || die "no note that an earlier run's checkpoint is dropped"
[ -e "$tmp/other/checkpoint" ] && die "checkpoint left after a finished run"
"$C" train "${args[@]}" --out "$tmp/a" --resume "$tmp/b" > /dev/null 2>&1
[ $? = 2 ] || die "--resume with another --out: not a usage error"

echo "(${SECONDS}s)"
# ---- 4. --checkpoint every / best ---------------------------------------------
# a run is the prefix of a longer one: the model saved after epoch k is the
# model of a k-epoch run, byte for byte
shard() { sed -n 's/.*"paths":\["\([^"]*\)".*/\1/p' "$1/model.json"; }
# same_model A B: model.json and the shard it names are identical
same_model() { cmp "$1/model.json" "$2/model.json" && cmp "$1/$(shard "$1")" "$2/$(shard "$2")"; }
fm4() { "$C" train --data fashion-mnist:test --limit 600 --hidden 16 --val-split 0.3 --lr 0.1 \
          --seed 6 --threads 1 "$@"; }
fm4 --epochs 6 --checkpoint best --out "$tmp/best" > /dev/null 2> "$tmp/best.log" \
  || die "--checkpoint best"
kb=$(sed -n 's/^Epoch \([0-9]*\): val_loss .* saving the model to .*/\1/p' "$tmp/best.log" | tail -1)
[ -n "$kb" ] || die "--checkpoint best saved nothing"
echo "--checkpoint best: last improvement at epoch $kb of 6"
[ "${kb:-6}" -lt 6 ] || die "--checkpoint best: the best epoch should not be the last here"
fm4 --epochs "${kb:-1}" --out "$tmp/best_ref" > /dev/null 2>&1 || die "prefix run"
same_model "$tmp/best" "$tmp/best_ref" || die "--checkpoint best: the model is not epoch $kb's"
{ KILL_ON=rename:model.json:2 LD_PRELOAD="$tmp/killshim.so" fm4 --epochs 6 --checkpoint every \
    --out "$tmp/every" > /dev/null 2>&1; } 2> /dev/null
[ $? = 137 ] || die "--checkpoint every: not killed"
fm4 --epochs 1 --out "$tmp/every_ref" > /dev/null 2>&1 || die "1-epoch run"
same_model "$tmp/every" "$tmp/every_ref" \
  || die "--checkpoint every: killed in epoch 2's save, the model is not epoch 1's"

echo "(${SECONDS}s)"
[ $fail = 0 ] && echo "kill_resume: ok"
exit $fail
