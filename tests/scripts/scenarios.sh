#!/usr/bin/env bash
# The scenario matrix: every command of README.md and CLI.md that crest has
# (train, evaluate text and --json, predict text and --json, summary text and
# --json, infer, bench) end to end on real data, for each kind of model crest
# trains:
#   mlp          Fashion-MNIST, --hidden (the README's second model)
#   fm_base      MobileNetV2 --base on Fashion-MNIST (the README's first model),
#                evaluated on IDX test images
#   folder       an image folder (crops of data/images), MobileNetV2 frozen
#   folder_ft    the same with --fine-tune 2 and --val FOLDER
#   folder_split the same with --val-split (seeded, stratified)
#   inception    an image folder on InceptionV3
#   tab_csv      penguins with a spec using every feature kind (embeddings
#                and crosses included), CSV
#   tab_arff     the same table converted to ARFF here
#   tab_inferred penguins with the inferred spec, streamed (--chunk)
#   custom, lambda, expr   the models of examples/way2 (custom model), way5
#                (Lambda head) and the expression head, through
#                build/tests/crest_examples (crest with the examples' code
#                registered); the plain crest refuses custom and lambda
#                models by name and runs the expression model.
# and the README's infer / bench / summary on the MobileNetV2 backbone itself.
# For each model: evaluate, predict, summary, infer and bench work; the
# outputs parse and hold together (confusion sums to n, probabilities sum to
# 1, params add up); predicting twice on the saved model and once on a copy
# of its folder gives byte-identical output, and so do evaluate and infer.
# A model that trains but cannot be evaluated fails this test. Prints a
# verdict table. Under sanitizers (CREST_SANITIZED=1) the same, with longer
# time limits.
. "$(dirname "$0")/common.bash"
X="$ROOT/$BUILD/tests/crest_examples"
MB="$CREST_DATA/models/mobilenet_v2"
INC="$CREST_DATA/models/inception_v3"
LIMIT=120
[ -n "${CREST_SANITIZED:-}" ] && LIMIT=600
trap 'rm -rf "$tmp"' EXIT
fail=0
for f in "$C" "$X" "$MB/model.json" "$INC/model.json" "$CREST_DATA/penguins/penguins.csv" \
         "$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte" "$CREST_DATA/images/china.jpg"; do
  [ -e "$f" ] || { echo "FAIL: missing $f (build, or run tools/setup.sh)"; exit 1; }
done

declare -A V                 # V[scenario:step] = ok | FAIL
STEPS=(train evaluate predict predict_json summary infer bench reload export)
SCEN=()
note() { V["$1:$2"]="$3"; [ "$3" = ok ] || fail=1; }
# run SCEN STEP OUTFILE -- command...: stdout to OUTFILE, stderr to OUTFILE.err
run() {
  local sc="$1" st="$2" o="$3"; shift 4
  timeout "$LIMIT" "$@" > "$o" 2> "$o.err"; local rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL [$sc $st] exit $rc: $*"; tail -n 4 "$o.err" | sed 's/^/    /'
    note "$sc" "$st" FAIL
    return 1
  fi
  return 0
}
js() { node -e "$1" "${@:2}"; }   # js CODE ARGS...: exit status is the check

# ---- fixtures ------------------------------------------------------------
F="$ROOT/tests/scripts/fixtures.js"
node "$F" images "$tmp/img" && node "$F" idx "$CREST_DATA" "$tmp/fm" 256 32 || { echo "FAIL: fixtures"; exit 1; }
awk -F, 'NR==1 { print $0 ",island2,year2,yid,sex2"; next }
         { print $0 "," $2 "," $8 "," ($8 == "NA" ? "NA" : $8 - 2007) "," $7 }' \
    "$CREST_DATA/penguins/penguins.csv" > "$tmp/peng.csv"
to_arff() {   # CSV with a header -> ARFF: species, island, sex nominal; the rest numeric
  awk -F, 'NR==1 { print "% penguins, converted by scenarios.sh\n@relation penguins";
                   for (i = 1; i <= NF; i++) {
                     t = "numeric";
                     if ($i == "species") t = "{Adelie,Chinstrap,Gentoo}";
                     else if ($i ~ /^island/) t = "{Biscoe,Dream,Torgersen}";
                     else if ($i ~ /^sex/) t = "{female,male}";
                     print "@attribute " $i " " t }
                   print "@data"; next }
           { for (i = 1; i <= NF; i++) if ($i == "NA") $i = "?"; print }' OFS=, "$1"
}
to_arff "$tmp/peng.csv" > "$tmp/peng.arff"
cat > "$tmp/spec.json" <<'JSON'
{"features": {
  "island": "string_categorical",
  "bill_length_mm": "float_normalized",
  "bill_depth_mm": {"type": "float_rescaled", "scale": 0.05, "offset": -0.5},
  "flipper_length_mm": {"type": "float_discretized", "num_bins": 4},
  "body_mass_g": {"type": "float_discretized", "bin_boundaries": [3500, 4500],
                  "output_mode": "embedding", "embedding_dim": 2},
  "sex": {"type": "string_categorical", "output_mode": "embedding", "embedding_dim": 2},
  "year": {"type": "integer_categorical", "output_mode": "multi_hot"},
  "island2": {"type": "string_hashed", "num_bins": 8, "output_mode": "count"},
  "year2": {"type": "integer_hashed", "num_bins": 4, "output_mode": "embedding",
            "embedding_dim": 2, "combiner": "sum"},
  "yid": {"type": "identity", "num_buckets": 3, "output_mode": "int"},
  "sex2": {"type": "string_categorical", "output_mode": "embedding", "embedding_dim": 3,
           "combiner": "sqrtn"}},
 "crosses": [{"features": ["island", "sex"], "crossing_dim": 8},
             {"features": ["island2", "year"], "crossing_dim": 6, "output_mode": "embedding",
              "embedding_dim": 2}]}
JSON
# raw rows: no label, an unseen island, missing values
printf 'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year,island2,year2,yid,sex2\n'\
'Torgersen,39.1,18.7,181,3750,male,2007,Torgersen,2007,0,male\n'\
'Atlantis,NA,NA,NA,NA,NA,2031,Atlantis,2031,NA,NA\n'\
'Biscoe,47.5,15,218,4950,female,2009,Biscoe,2009,2,female\n' > "$tmp/rows.csv"
{ printf '@relation rows\n'
  for a in island bill_length_mm bill_depth_mm flipper_length_mm body_mass_g sex year island2 \
           year2 yid sex2; do
    case $a in island*) t=string ;; sex*) t='{female,male}' ;; *) t=numeric ;; esac
    printf '@attribute %s %s\n' "$a" "$t"
  done
  printf '@data\nTorgersen,39.1,18.7,181,3750,male,2007,Torgersen,2007,0,male\n'
  printf "'Atlantis',?,?,?,?,?,2031,Atlantis,2031,?,?\nBiscoe,47.5,15,218,4950,female,2009,Biscoe,2009,2,female\n"
} > "$tmp/rows.arff"

# ---- one model through every command --------------------------------------
# check SCEN BIN DIR INFER_N "EVAL ARGS" PREDICT ARGS...
check() {
  local sc="$1" bin="$2" m="$3" n="$4" eval_args="$5"; shift 5
  local o="$tmp/$sc" ev=() k
  read -r -a ev <<< "$eval_args"
  # evaluate: --json holds together; text prints the accuracy; a copy scores the same
  if run "$sc" evaluate "$o.eval.json" -- "$bin" evaluate "$m" "${ev[@]}" --json &&
     run "$sc" evaluate "$o.eval.txt" -- "$bin" evaluate "$m" "${ev[@]}"; then
    if js 'const e = JSON.parse(require("fs").readFileSync(process.argv[1]));
           const K = e.confusion.length; let s = 0;
           for (const r of e.confusion) { if (r.length !== K) process.exit(1); for (const v of r) s += v; }
           const ok = e.n > 0 && s === e.n && e.accuracy >= 0 && e.accuracy <= 1 &&
             Number.isFinite(e.loss) && e.loss >= 0 && e.per_class.length === K &&
             Array.isArray(e.labels) && e.labels.length === K;
           process.exit(ok ? 0 : 1);' "$o.eval.json" &&
       grep -Eq '^accuracy: [01]\.[0-9]{4}$' "$o.eval.txt"; then
      note "$sc" evaluate ok
    else
      echo "FAIL [$sc evaluate] output does not hold together (n, loss, accuracy, per_class,"\
           "confusion, labels):"; head -c 400 "$o.eval.json"; echo
      note "$sc" evaluate FAIL
    fi
  fi
  # summary: text and --json agree on the parameter count
  if run "$sc" summary "$o.sum.txt" -- "$bin" summary "$m" &&
     run "$sc" summary "$o.sum.json" -- "$bin" summary "$m" --json; then
    local total
    total=$(sed -n 's/^Total params: \([0-9,]*\)$/\1/p' "$o.sum.txt" | tr -d ,)
    if js 'const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
           process.exit(s.layers.length > 0 && s.total_params === +process.argv[2] &&
             s.total_params === s.trainable_params + s.non_trainable_params &&
             s.trainable_params > 0 ? 0 : 1);' "$o.sum.json" "${total:-x}"; then
      note "$sc" summary ok
    else
      echo "FAIL [$sc summary] text and --json disagree or do not add up"; note "$sc" summary FAIL
    fi
  fi
  # K classes: the size of the last layer's output
  k=$(js 'const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
          console.log(s.layers[s.layers.length - 1].output_shape.slice(1).reduce((a, b) => a * b, 1))' \
        "$o.sum.json" 2> /dev/null || echo 0)
  # predict, text and --json
  if run "$sc" predict "$o.pred.txt" -- "$bin" predict "$m" "$@" --top 2; then
    if grep -Eq '\]: [^ ].* \([01]\.[0-9]{4}\) [^ ].* \([01]\.[0-9]{4}\)$' "$o.pred.txt"; then   # names may hold spaces (Ankle boot)
      note "$sc" predict ok
    else
      echo "FAIL [$sc predict] no '<input>[i]: <class> (p) <class> (p)' lines:"; head -3 "$o.pred.txt"
      note "$sc" predict FAIL
    fi
  fi
  if run "$sc" predict_json "$o.pred.json" -- "$bin" predict "$m" "$@" --json; then
    if js 'const p = JSON.parse(require("fs").readFileSync(process.argv[1])).predictions;
           const K = +process.argv[2];
           process.exit(p.length > 0 && p.every(r => typeof r.input === "string" &&
             Number.isInteger(r.index) && typeof r.class === "string" && r.class.length > 0 &&
             r.probs.length === K && r.probs.every(Number.isFinite) &&
             Math.abs(r.probs.reduce((a, b) => a + b, 0) - 1) < 1e-4) ? 0 : 1);' "$o.pred.json" "$k"; then
      note "$sc" predict_json ok
    else
      echo "FAIL [$sc predict --json] want {input, index, class, probs[$k] summing to 1}:"
      head -c 300 "$o.pred.json"; echo
      note "$sc" predict_json FAIL
    fi
  fi
  # infer: N samples of the model's input shape (from model.json), K outputs each
  local shape
  shape=$(js 'const j = JSON.parse(require("fs").readFileSync(process.argv[1] + "/model.json"));
              let s = null; const walk = (o) => { if (s || !o || typeof o !== "object") return;
                if (Array.isArray(o.batch_input_shape)) { s = o.batch_input_shape.slice(1); return; }
                for (const v of Object.values(o)) walk(v); };
              walk(j.modelTopology); console.log([process.argv[2], ...s].join(","));' "$m" "$n")
  local per
  per=$(echo "$shape" | tr , '\n' | awk 'BEGIN { p = 1 } { p *= $1 } END { print p }')
  node "$F" f32 "$o.x.f32" "$per" 0
  if run "$sc" infer "$o.infer" -- "$bin" infer "$m" --input "$o.x.f32" --shape "$shape" --out "$o.y.f32"; then
    if js 'const b = require("fs").readFileSync(process.argv[1]);
           const y = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
           process.exit(y.length === +process.argv[2] * +process.argv[3] && y.every(Number.isFinite) ? 0 : 1);' \
         "$o.y.f32" "$n" "$k"; then
      note "$sc" infer ok
    else
      echo "FAIL [$sc infer] want $n x $k finite floats for --shape $shape"; note "$sc" infer FAIL
    fi
  fi
  if run "$sc" bench "$o.bench" -- "$bin" bench "$m" --batch 1 --iters 1 --json; then
    js 'const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
        process.exit(j.ms_per_image_median > 0 && j.iters === 1 && j.batch === 1 ? 0 : 1);' "$o.bench" \
      && note "$sc" bench ok || { echo "FAIL [$sc bench] $(cat "$o.bench")"; note "$sc" bench FAIL; }
  fi
  # reload: the same model again and a copy of its folder give the same bytes
  cp -r "$m" "$o.copy"
  local same=ok
  run "$sc" reload "$o.pred2.json" -- "$bin" predict "$m" "$@" --json || same=FAIL
  run "$sc" reload "$o.pred3.json" -- "$bin" predict "$o.copy" "$@" --json || same=FAIL
  run "$sc" reload "$o.pred3.txt" -- "$bin" predict "$o.copy" "$@" --top 2 || same=FAIL
  run "$sc" reload "$o.eval2.json" -- "$bin" evaluate "$o.copy" "${ev[@]}" --json || same=FAIL
  run "$sc" reload "$o.infer2" -- "$bin" infer "$o.copy" --input "$o.x.f32" --shape "$shape" \
      --out "$o.y2.f32" || same=FAIL
  if [ $same = ok ]; then
    for pair in pred.json:pred2.json pred.json:pred3.json pred.txt:pred3.txt eval.json:eval2.json \
                y.f32:y2.f32; do
      cmp -s "$o.${pair%%:*}" "$o.${pair##*:}" || { echo "FAIL [$sc reload] $pair differ"; same=FAIL; }
    done
    note "$sc" reload $same
  fi
  # export: the model as a Keras .h5 predicts and evaluates to the same bytes,
  local ex=ok
  run "$sc" export "$o.export" -- "$bin" export "$m" --format h5 --out "$o.h5" || ex=FAIL
  [ $ex = ok ] && { run "$sc" export "$o.pred4.json" -- "$bin" predict "$o.h5" "$@" --json || ex=FAIL; }
  [ $ex = ok ] && { run "$sc" export "$o.eval4.json" -- "$bin" evaluate "$o.h5" "${ev[@]}" --json || ex=FAIL; }
  # and as a Keras 3 .keras
  [ $ex = ok ] && { run "$sc" export "$o.export5" -- "$bin" export "$m" --format keras --out "$o.keras" || ex=FAIL; }
  [ $ex = ok ] && { run "$sc" export "$o.pred5.json" -- "$bin" predict "$o.keras" "$@" --json || ex=FAIL; }
  [ $ex = ok ] && { run "$sc" export "$o.eval5.json" -- "$bin" evaluate "$o.keras" "${ev[@]}" --json || ex=FAIL; }
  if [ $ex = ok ]; then
    for pair in pred.json:pred4.json eval.json:eval4.json pred.json:pred5.json eval.json:eval5.json; do
      cmp -s "$o.${pair%%:*}" "$o.${pair##*:}" || { echo "FAIL [$sc export] $pair differ"; ex=FAIL; }
    done
    note "$sc" export $ex
  fi
}

# scenario NAME BIN INFER_N "EVAL ARGS" "PREDICT ARGS" -- TRAIN ARGS...
scenario() {
  local sc="$1" bin="$2" n="$3" ev="$4" pr="$5"; shift 6
  SCEN+=("$sc")
  local t0=$SECONDS p=()
  read -r -a p <<< "$pr"
  if run "$sc" train "$tmp/$sc.train" -- "$bin" "$@" --out "$tmp/$sc.m"; then
    if [ -f "$tmp/$sc.m/model.json" ] && grep -q "^saved: " "$tmp/$sc.train"; then
      note "$sc" train ok
    else
      echo "FAIL [$sc train] no model saved"; note "$sc" train FAIL
    fi
    # a negative loss is a broken run (issue 8: fine-tuning printed val_loss < 0)
    if grep -Eq 'loss: -|loss: nan' "$tmp/$sc.train.err"; then
      echo "FAIL [$sc train] negative or NaN loss:"; grep -E 'loss: -|loss: nan' "$tmp/$sc.train.err" | head -2
      note "$sc" train FAIL
    fi
  fi
  if [ -f "$tmp/$sc.m/model.json" ]; then
    check "$sc" "$bin" "$tmp/$sc.m" "$n" "$ev" "${p[@]}"
  fi
  echo "$sc: $((SECONDS - t0)) s"
}

I="$tmp/img"
scenario mlp "$C" 2 "--data fashion-mnist:test" "--data fashion-mnist:test --limit 5" -- \
  train --data fashion-mnist --hidden 32 --limit 2000 --epochs 1 --batch 64 --seed 1
scenario fm_base "$C" 1 "--data $tmp/fm:test" "--data $tmp/fm:test --limit 3" -- \
  train --data fashion-mnist --base "$MB" --limit 12 --cache "$tmp/cache" --epochs 2 --seed 1
scenario folder "$C" 1 "--data $I/val" "$I/val/china/china6.jpg $I/val/flower/flower7.png" -- \
  train --base "$MB" --data "$I/train" --cache "$tmp/cache" --epochs 3 --seed 1
scenario folder_ft "$C" 1 "--data $I/val" "$I/val/china/china6.jpg $I/val/flower/flower7.png" -- \
  train --base "$MB" --data "$I/train" --val "$I/val" --fine-tune 2 --fine-tune-epochs 1 \
  --cache "$tmp/cache" --epochs 2 --seed 1
scenario folder_split "$C" 1 "--data $I/val" "$I/val/flower/flower6.jpg" -- \
  train --base "$MB" --data "$I/train" --val-split 0.34 --cache "$tmp/cache" --epochs 2 --seed 1
mkdir -p "$I/tiny/china" "$I/tiny/flower"   # one image a class: InceptionV3 is the slow one
cp "$I/val/china/china7.png" "$I/tiny/china/" && cp "$I/val/flower/flower6.jpg" "$I/tiny/flower/"
scenario inception "$C" 1 "--data $I/tiny" "$I/tiny/china/china7.png" -- \
  train --base "$INC" --data "$I/tiny" --epochs 2 --seed 1
scenario tab_csv "$C" 2 "--data $tmp/peng.csv --label species --holdout 5" \
  "$tmp/rows.csv" -- \
  train --data "$tmp/peng.csv" --label species --columns "$tmp/spec.json" --holdout 5 \
  --epochs 10 --seed 1 --threads 1
scenario tab_arff "$C" 2 "--data $tmp/peng.arff --label species --holdout 5" \
  "$tmp/rows.arff" -- \
  train --data "$tmp/peng.arff" --label species --columns "$tmp/spec.json" --holdout 5 \
  --epochs 10 --seed 1 --threads 1
scenario tab_inferred "$C" 2 "--data penguins --label species --holdout 5" "$tmp/rows.csv" -- \
  train --data penguins --label species --holdout 5 --chunk 64 --seed 1 --threads 1
for kind in custom lambda expr; do
  scenario "$kind" "$X" 2 "--data $tmp/fm:test" "--data $tmp/fm:test --limit 3" -- \
    train-example "$kind" --data "$tmp/fm" --seed 1
done

# the same table as CSV and as ARFF trains the same model
if [ -f "$tmp/tab_csv.m/model.json" ] && [ -f "$tmp/tab_arff.m/model.json" ]; then
  cmp -s "$tmp/tab_csv.eval.json" "$tmp/tab_arff.eval.json" ||
    { echo "FAIL [tab_arff] evaluate differs from the CSV-trained model"; note tab_arff evaluate FAIL; }
fi
# the plain crest: the expression model loads anywhere and predicts the same;
# custom and lambda models need their C code and are refused by name
if [ -f "$tmp/expr.m/model.json" ]; then
  timeout "$LIMIT" "$C" predict "$tmp/expr.m" --data "$tmp/fm:test" --limit 3 --json > "$tmp/plain.json" 2>&1 &&
    cmp -s "$tmp/plain.json" "$tmp/expr.pred.json" ||
    { echo "FAIL [expr] crest and crest_examples predict differently"; note expr reload FAIL; }
fi
for pair in custom:TwoStage lambda:affine; do
  sc=${pair%%:*}
  [ -f "$tmp/$sc.m/model.json" ] || continue
  timeout "$LIMIT" "$C" evaluate "$tmp/$sc.m" --data "$tmp/fm:test" > /dev/null 2> "$tmp/err"; rc=$?
  [ $rc -eq 3 ] && grep -q "'${pair##*:}'" "$tmp/err" ||
    { echo "FAIL [$sc] plain crest: exit $rc, want 3 naming '${pair##*:}'"; note "$sc" evaluate FAIL; }
done

# --limit is obeyed: 2000 training images at batch 64 are 32 steps; 3 table rows
grep -q '^32/32 ' "$tmp/mlp.train.err" || { echo "FAIL [mlp] train --limit 2000 did not train on 2000"; note mlp train FAIL; }
if [ -f "$tmp/tab_inferred.m/model.json" ]; then
  n=$(timeout "$LIMIT" "$C" predict "$tmp/tab_inferred.m" --data penguins --limit 3 | grep -c 'penguins.csv\[')
  [ "$n" = 3 ] || { echo "FAIL [tab_inferred] predict --data penguins --limit 3 printed $n rows"; note tab_inferred predict FAIL; }
fi

# the README's commands on the pretrained backbone itself
node "$F" f32 "$tmp/mb.x.f32" $((224 * 224 * 3)) 0.5
if run readme infer "$tmp/mb.infer" -- "$C" infer "$MB" --input "$tmp/mb.x.f32" --shape 1,224,224,3 \
       --layer out_relu --out "$tmp/mb.y.f32" &&
   run readme bench "$tmp/mb.bench" -- "$C" bench "$MB" --batch 1 --threads 2 --iters 1 &&
   run readme summary "$tmp/mb.sum" -- "$C" summary "$MB"; then
  [ "$(stat -c %s "$tmp/mb.y.f32")" = $((7 * 7 * 1280 * 4)) ] && grep -q "^Total params: 2,619,461$" "$tmp/mb.sum" ||
    { echo "FAIL [readme] infer --layer out_relu or summary on $MB"; fail=1; }
fi

# ---- verdict table ----------------------------------------------------------
printf '\n%-13s' scenario
for st in "${STEPS[@]}"; do printf ' %-12s' "$st"; done
printf '\n'
for sc in "${SCEN[@]}"; do
  printf '%-13s' "$sc"
  for st in "${STEPS[@]}"; do printf ' %-12s' "${V[$sc:$st]:--}"; done
  printf '\n'
done
# a step that never ran (its model was not trained) counts as failed
for sc in "${SCEN[@]}"; do
  for st in "${STEPS[@]}"; do [ -n "${V[$sc:$st]:-}" ] || fail=1; done
done
exit $fail
