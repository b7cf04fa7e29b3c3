#!/usr/bin/env bash
# Every feature kind of the spec language at once (float, float_normalized,
# float_rescaled, float_discretized, integer_categorical, string_categorical,
# integer_hashed, string_hashed, identity, crosses, embeddings) on penguins as
# CSV and as ARFF, through the command line: train, evaluate (text and
# --json), predict (text and --json), summary, then a copy of the model
# predicts again with identical output. This spec used to abort in concat
# with "malloc(): invalid size" (the memory planner). Also: a predict table
# lacking a spec column reads it as missing values (crest.h's policy).
. "$(dirname "$0")/common.bash"
need_penguins
same() {   # same FILE1 FILE2 WHAT
  if cmp -s "$1" "$2" && [ -s "$1" ]; then echo "$3: identical"; else
    echo "FAIL: $3 differs"; diff "$1" "$2" | head -5; fail=1; fi
}

# penguins with two copied columns (more kinds than columns), and as ARFF
awk -F, 'NR == 1 { print $0 ",bill_length_copy,bill_depth_copy"; next }
         { print $0 "," $3 "," $4 }' "$P" > "$tmp/penguins.csv"
{
  printf '%% penguins\n@relation penguins\n@attribute species {Adelie,Chinstrap,Gentoo}\n'
  printf '@attribute island {Biscoe,Dream,Torgersen}\n@attribute bill_length_mm numeric\n'
  printf '@attribute bill_depth_mm REAL\n@attribute flipper_length_mm integer\n'
  printf '@attribute body_mass_g integer\n@attribute sex {female,male}\n@attribute year numeric\n'
  printf '@attribute bill_length_copy numeric\n@attribute bill_depth_copy numeric\n\n@data\n'
  awk -F, -v OFS=, 'NR > 1 { for (i = 1; i <= NF; i++) if ($i == "NA") $i = "?"; print }' \
    "$tmp/penguins.csv"
} > "$tmp/penguins.arff"
rows_csv=$(($(wc -l < "$tmp/penguins.csv") - 1))
rows_arff=$(sed -n '/^@data/,$p' "$tmp/penguins.arff" | grep -c ',')
[ "$rows_csv" = 344 ] && [ "$rows_arff" = 344 ] || { echo "FAIL: rows $rows_csv / $rows_arff"; fail=1; }
grep -q 'NA' "$tmp/penguins.arff" && { echo "FAIL: NA left in the ARFF"; fail=1; }
[ "$(grep -c '?' "$tmp/penguins.arff")" = 11 ] || { echo "FAIL: ARFF rows with '?'"; fail=1; }

cat > "$tmp/spec.json" <<'JSON'
{"features": {
  "bill_depth_copy": "float",
  "bill_length_mm": "float_normalized",
  "bill_depth_mm": {"type": "float_rescaled", "scale": 0.1, "offset": -1.7},
  "bill_length_copy": {"type": "float_discretized", "num_bins": 5},
  "year": "integer_categorical",
  "island": {"type": "string_categorical", "output_mode": "embedding", "embedding_dim": 3},
  "body_mass_g": {"type": "integer_hashed", "num_bins": 16},
  "sex": {"type": "string_hashed", "num_bins": 4},
  "flipper_length_mm": {"type": "identity", "num_buckets": 240, "output_mode": "embedding",
                        "embedding_dim": 4, "combiner": "sqrtn"}},
 "crosses": [{"features": ["island", "sex"], "crossing_dim": 8, "output_mode": "embedding",
              "embedding_dim": 2},
             {"features": ["island", "year"], "crossing_dim": 6}]}
JSON

for kind in csv arff; do
  data="$tmp/penguins.$kind"
  m="$tmp/m_$kind"
  expect 0 "saved" -- "$C" train --data "$data" --label species --columns "$tmp/spec.json" \
    --holdout 5 --epochs 30 --seed 1 --threads 1 --out "$m"
  acc=$(sed -n 's/^hold-out.*accuracy \([0-9.]*\)$/\1/p' "$tmp/out")
  at_least "${acc:-0}" 0.9 "$kind: train hold-out accuracy"
  expect 0 "dense_features/flipper_length_mm_embedding" -- cat "$m/model.json"
  expect 0 "^accuracy: " -- "$C" evaluate "$m" --data "$data" --label species --holdout 5
  acc2=$(sed -n 's/^accuracy: \([0-9.]*\)$/\1/p' "$tmp/out")
  [ "${acc2:-x}" = "${acc:-y}" ] || { echo "FAIL: $kind: evaluate accuracy $acc2 != train's $acc"; fail=1; }
  expect 0 '"accuracy"' -- "$C" evaluate "$m" --data "$data" --label species --holdout 5 --json
  cp "$tmp/out" "$tmp/eval_$kind.json"
  expect 0 "\[343\]: Chinstrap" -- "$C" predict "$m" "$data"
  [ "$(grep -c '\]: ' "$tmp/out")" = 344 ] || { echo "FAIL: $kind: predict rows"; fail=1; }
  cp "$tmp/out" "$tmp/pred_$kind.txt"
  expect 0 '"class":"Gentoo"' -- "$C" predict "$m" "$data" --json
  cp "$tmp/out" "$tmp/pred_$kind.json"
  expect 0 "DenseFeatures" -- "$C" summary "$m"
  expect 0 '"total_params"' -- "$C" summary "$m" --json
  # a copy of the saved model (loaded afresh) predicts the same, byte for byte
  cp -r "$m" "$m.copy"
  expect 0 "" -- "$C" predict "$m.copy" "$data"
  same "$tmp/out" "$tmp/pred_$kind.txt" "$kind: predict after reload (text)"
  expect 0 "" -- "$C" predict "$m.copy" "$data" --json
  same "$tmp/out" "$tmp/pred_$kind.json" "$kind: predict after reload (--json)"
  expect 0 "" -- "$C" evaluate "$m.copy" --data "$data" --label species --holdout 5 --json
  same "$tmp/out" "$tmp/eval_$kind.json" "$kind: evaluate after reload (--json)"
done

# ARFF (declared nominal values) and CSV adapt and train to the same model
sed 's/penguins\.arff/penguins.csv/g' "$tmp/pred_arff.json" > "$tmp/pred_arff_as_csv.json"
same "$tmp/pred_arff_as_csv.json" "$tmp/pred_csv.json" "CSV and ARFF predictions"

# rows lacking spec columns (sex, year, the copies): missing values, not an error
printf 'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n'\
'Torgersen,39.1,18.7,181,3750\nBiscoe,47.5,15,218,4950\n' > "$tmp/partial.csv"
printf 'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year,bill_length_copy,bill_depth_copy\n'\
'Torgersen,39.1,18.7,181,3750,NA,NA,NA,NA\nBiscoe,47.5,15,218,4950,NA,NA,NA,NA\n' > "$tmp/na.csv"
expect 0 "warning: no column bill_depth_copy, bill_length_copy, year, sex (read as missing values)" -- "$C" predict "$tmp/m_csv" "$tmp/partial.csv" --json
sed 's/partial.csv/na.csv/g' "$tmp/out" > "$tmp/partial.json"
expect 0 '"index":1' -- "$C" predict "$tmp/m_csv" "$tmp/na.csv" --json
same "$tmp/out" "$tmp/partial.json" "absent columns read as NA"
expect 0 "evaluate: warning: no column bill_depth_copy, bill_length_copy (read as missing" -- \
  "$C" evaluate "$tmp/m_csv" --data "$P" --label species

# Excel's "CSV UTF-8": a byte-order mark before the first column's name and
# before a spec file's JSON
{ printf '\xEF\xBB\xBF'; cat "$tmp/penguins.csv"; } > "$tmp/bom.csv"
{ printf '\xEF\xBB\xBF'; cat "$tmp/spec.json"; } > "$tmp/bom.json"
expect 0 "saved" -- "$C" train --data "$tmp/bom.csv" --label species --columns "$tmp/bom.json" \
  --holdout 5 --epochs 2 --seed 1 --threads 1 --out "$tmp/m_bom"
expect 0 "saved" -- "$C" train --data "$tmp/bom.csv" --label species --epochs 2 --seed 1 \
  --threads 1 --out "$tmp/m_bom2"
exit $fail
