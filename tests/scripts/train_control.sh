#!/usr/bin/env bash
# crest train's training control from the command line, on real tables:
#   - --lr-schedule: each form parses; the rate of every epoch's last update is
#     printed (learning_rate) and follows the schedule, also from
#     --initial-epoch; ReduceLROnPlateau prints Keras' line when it cuts;
#     bad specs are exit 3;
#   - --checkpoint best --monitor val_accuracy saves on val_accuracy;
#   - --class-weight balanced on penguins with Chinstrap cut to 10 rows raises
#     Chinstrap's recall (scored on all of penguins) well above the unweighted
#     run's; a weights file does the same; an unknown class is exit 3;
#   - --label-smoothing 0.2: the training loss cannot go below the entropy of
#     the smoothed targets (0.4839 for 3 classes), the unsmoothed one does;
#   - a run with a schedule killed inside its third checkpoint write and
#     continued with --resume ends with the same model bytes.
. "$(dirname "$0")/common.bash"
need_penguins
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
PG=(--data penguins --label species --seed 1 --threads 1)

# lrs LOG: the learning_rate of each epoch line
lrs() { sed -n 's/.* - learning_rate: \([0-9.e+-]*\)$/\1/p' "$1" | tr '\n' ' '; }
# same_nums "A B" "C D": equal as numbers, to 4 significant digits
same_nums() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); m = split(b, y, " ");
  if (n != m) exit 1; for (i = 1; i <= n; i++) if (sprintf("%.4g", x[i]) != sprintf("%.4g", y[i])) exit 1 }'; }

# ---- schedules -----------------------------------------------------------------
"$C" train "${PG[@]}" --epochs 5 --lr-schedule step:2:0.5 --out "$tmp/s" > /dev/null 2> "$tmp/log" \
  || die "step schedule: $(tail -2 "$tmp/log")"
got="$(lrs "$tmp/log")"
same_nums "$got" "0.01 0.01 0.005 0.005 0.0025" && echo "step:2:0.5 rates: $got" \
  || die "step:2:0.5 rates '$got'"
"$C" train "${PG[@]}" --epochs 5 --lr-schedule step:2:0.5 --initial-epoch 2 --out "$tmp/s" \
  > /dev/null 2> "$tmp/log" || die "--initial-epoch with a schedule"
got="$(lrs "$tmp/log")"
same_nums "$got" "0.005 0.005 0.0025" && echo "from --initial-epoch 2: $got" \
  || die "--initial-epoch 2 rates '$got'"
# cosine with one warmup epoch of 11 steps (276 rows / 32): the first epoch ends at
# 10/11 of lr, the last update of the run is at the floor alpha * lr
"$C" train "${PG[@]}" --epochs 4 --lr-schedule cosine:warmup=1:alpha=0.1 --out "$tmp/s" \
  > /dev/null 2> "$tmp/log" || die "cosine schedule"
got="$(lrs "$tmp/log")"
want="$(awk 'BEGIN { pi = 3.14159265358979; lr = 0.01; S = 11; W = 11; D = 33;
  for (e = 0; e < 4; e++) { s = e * S + S - 1;
    if (s < W) v = lr * s / W; else { t = (s - W) / D; v = lr * (0.9 * 0.5 * (1 + cos(pi * t)) + 0.1) }
    printf "%g ", v } }')"
same_nums "$got" "$want" && echo "cosine:warmup=1:alpha=0.1 rates: $got" \
  || die "cosine rates '$got', want '$want'"
"$C" train "${PG[@]}" --epochs 3 --lr-schedule exponential:0.5 --out "$tmp/s" > /dev/null \
  2> "$tmp/log" || die "exponential schedule"
got="$(lrs "$tmp/log")"
want="$(awk 'BEGIN { for (e = 0; e < 3; e++) printf "%g ", 0.01 * 0.5 ^ ((e * 11 + 10) / 11) }')"
same_nums "$got" "$want" && echo "exponential:0.5 rates: $got" || die "exponential rates '$got'"
"$C" train "${PG[@]}" --epochs 4 --lr-schedule piecewise:1,2:0.02,0.01,0.005 --out "$tmp/s" \
  > /dev/null 2> "$tmp/log" || die "piecewise schedule"
got="$(lrs "$tmp/log")"   # step <= boundary: epoch 1's last update (10) is under 11
same_nums "$got" "0.02 0.01 0.005 0.005" && echo "piecewise rates: $got" \
  || die "piecewise rates '$got'"
"$C" train "${PG[@]}" --epochs 10 --val-split 0.2 --lr 0.3 --lr-schedule plateau:1:factor=0.5 \
  --out "$tmp/s" > /dev/null 2> "$tmp/log" || die "plateau schedule"
n=$(grep -c "ReduceLROnPlateau reducing learning rate to" "$tmp/log")
[ "$n" -ge 1 ] && echo "plateau: $n cuts" || die "plateau: no cut at lr 0.3"
# each cut halves the next epoch's rate
prev=""; ok=1
while read -r line; do
  case "$line" in
    *"reducing learning rate to "*) cut="${line##* to }"; cut="${cut%.}" ;;
    *learning_rate:*) r="${line##*learning_rate: }"
       [ -n "${cut:-}" ] && { same_nums "$r" "$cut" || ok=0; cut=""; } ;;
  esac
done < <(tr '\r' '\n' < "$tmp/log")
[ $ok = 1 ] || die "plateau: the epoch after a cut did not run at the new rate"
for bad in "cosine:warmup=x" "exponential" "step:2" "plateau:0" "piecewise:2:0.1" "linear" \
           "plateau:2:factor=2" "piecewise:2,1:0.1,0.2,0.3"; do
  "$C" train "${PG[@]}" --lr-schedule "$bad" --out "$tmp/s" > /dev/null 2> "$tmp/err"
  rc=$?
  [ $rc = 3 ] && grep -qF -- "--lr-schedule '$bad'" "$tmp/err" || die "--lr-schedule '$bad': exit $rc"
done
"$C" train "${PG[@]}" --monitor val_loss --checkpoint best --out "$tmp/s" > /dev/null 2>&1
[ $? = 2 ] || die "--monitor val_loss without validation data: not a usage error"
"$C" train "${PG[@]}" --monitor loss --out "$tmp/s" > /dev/null 2>&1
[ $? = 2 ] || die "--monitor without --checkpoint best or plateau: not a usage error"
"$C" train "${PG[@]}" --chunk 64 --class-weight balanced --out "$tmp/s" > /dev/null 2>&1
[ $? = 2 ] || die "--chunk with --class-weight: not a usage error"
"$C" train "${PG[@]}" --chunk 64 --val-split 0.2 --out "$tmp/cvs" > /dev/null 2> "$tmp/err"
[ $? = 2 ] || die "--chunk with --val-split: not a usage error"
grep -q "val-split.*need it in memory.*--holdout" "$tmp/err" || die "--chunk with --val-split: no reason given"
[ -e "$tmp/cvs" ] && die "--chunk with --val-split: $tmp/cvs written"

# ---- ModelCheckpoint on val_accuracy ---------------------------------------------
"$C" train "${PG[@]}" --epochs 6 --val-split 0.3 --checkpoint best --monitor val_accuracy \
  --out "$tmp/best" > /dev/null 2> "$tmp/log" || die "--checkpoint best --monitor val_accuracy"
grep -q "^Epoch 1: val_accuracy improved from -inf to [0-9.]*, saving the model to" "$tmp/log" \
  && echo "checkpoint best: $(grep -c 'val_accuracy improved' "$tmp/log") saves on val_accuracy" \
  || die "no val_accuracy save: $(grep Epoch "$tmp/log" | head -3)"
[ -f "$tmp/best/model.json" ] || die "checkpoint best: no model"

# ---- class weights ----------------------------------------------------------------
(head -1 "$P"; tail -n +2 "$P" | awk -F, '$1 != "Chinstrap" || (c++ < 10)') > "$tmp/imb.csv"
recall() {   # recall MODEL CLASS: its recall over all of penguins
  "$C" evaluate "$1" --data penguins --label species --json |
    sed 's/.*"per_class":\[//' | tr '}' '\n' | sed -n "s/.*\"label\":\"$2\".*\"recall\":\([0-9.e-]*\).*/\1/p"
}
IMB=(--data "$tmp/imb.csv" --label species --epochs 5 --seed 1 --threads 1)
"$C" train "${IMB[@]}" --out "$tmp/cw0" > /dev/null 2>&1 || die "unweighted"
"$C" train "${IMB[@]}" --class-weight balanced --out "$tmp/cw1" > /dev/null 2> "$tmp/log" \
  || die "balanced: $(tail -2 "$tmp/log")"
grep -q "class weights: Adelie 0.6272, Chinstrap 9.533, Gentoo 0.7688" "$tmp/log" \
  || die "balanced weights: $(grep 'class weights' "$tmp/log")"   # 286 / (3 * count)
printf '{"Chinstrap": 9.5}\n' > "$tmp/w.json"
"$C" train "${IMB[@]}" --class-weight "$tmp/w.json" --out "$tmp/cw2" > /dev/null 2>&1 \
  || die "weights file"
r0=$(recall "$tmp/cw0" Chinstrap); r1=$(recall "$tmp/cw1" Chinstrap); r2=$(recall "$tmp/cw2" Chinstrap)
a0=$(recall "$tmp/cw0" Adelie); a1=$(recall "$tmp/cw1" Adelie)
echo "Chinstrap recall (10 of 68 rows kept): unweighted $r0, balanced $r1, file $r2;" \
     "Adelie: $a0 -> $a1"
awk -v a="$r0" -v b="$r1" -v c="$r2" 'BEGIN { exit !(b >= a + 0.3 && c >= a + 0.3) }' \
  || die "class weights did not raise the minority's recall"
awk -v a="$a0" -v b="$a1" 'BEGIN { exit !(b <= a) }' || die "Adelie's recall rose with balanced"
printf '{"Emperor": 2}\n' > "$tmp/w.json"
"$C" train "${IMB[@]}" --class-weight "$tmp/w.json" --out "$tmp/cw3" > /dev/null 2> "$tmp/err"
[ $? = 3 ] && grep -q "no class 'Emperor'" "$tmp/err" || die "unknown class in weights: $(cat "$tmp/err")"

# ---- label smoothing ------------------------------------------------------------
final_loss() { tr '\r' '\n' < "$1" | sed -n 's/.* - loss: \([0-9.]*\) - accuracy.*/\1/p' | tail -1; }
"$C" train "${PG[@]}" --epochs 8 --lr 0.05 --label-smoothing 0.2 --out "$tmp/ls" > /dev/null \
  2> "$tmp/log" || die "--label-smoothing"
l1=$(final_loss "$tmp/log")
"$C" train "${PG[@]}" --epochs 8 --lr 0.05 --out "$tmp/ls0" > /dev/null 2> "$tmp/log" || die "plain"
l0=$(final_loss "$tmp/log")
echo "final training loss: smoothed 0.2 $l1 (floor 0.4839), plain $l0"
awk -v s="$l1" -v p="$l0" 'BEGIN { exit !(s >= 0.4839 && p < 0.4839) }' \
  || die "label smoothing: loss $l1 (smoothed) vs $l0"

# ---- kill and resume with a schedule ------------------------------------------------
cc -shared -fPIC -O1 -o "$tmp/killshim.so" "$ROOT/tests/scripts/killshim.c" -ldl \
  || { echo "FAIL: cannot build the kill shim"; exit 1; }
shard() { sed -n 's/.*"paths":\["\([^"]*\)".*/\1/p' "$1/model.json"; }
for sched in plateau:1:factor=0.5:cooldown=1 cosine:warmup=2; do
  R=("${PG[@]}" --epochs 6 --val-split 0.2 --lr 0.2 --lr-schedule "$sched" --label-smoothing 0.1
     --class-weight balanced)
  "$C" train "${R[@]}" --out "$tmp/ref" > /dev/null 2>&1 || die "$sched: reference run"
  { KILL_ON=write:fit.ckpt:3 LD_PRELOAD="$tmp/killshim.so" "$C" train "${R[@]}" --out "$tmp/k" \
      > /dev/null 2>&1; } 2> /dev/null
  [ $? = 137 ] || die "$sched: not killed in its third checkpoint"
  "$C" train "${R[@]}" --resume "$tmp/k" > /dev/null 2> "$tmp/log" || die "$sched: resume"
  grep -q "Resuming from" "$tmp/log" || die "$sched: did not resume"
  cmp -s "$tmp/ref/model.json" "$tmp/k/model.json" &&
    cmp -s "$tmp/ref/$(shard "$tmp/ref")" "$tmp/k/$(shard "$tmp/k")" \
    && echo "$sched: killed and resumed, identical model" || die "$sched: resumed model differs"
  rm -rf "$tmp/ref" "$tmp/k"
done

[ $fail = 0 ] && echo "train_control: ok"
exit $fail
