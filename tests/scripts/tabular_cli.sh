#!/usr/bin/env bash
# Way 4 from the command line: crest train / predict / evaluate on tables
# (penguins, a spec file, raw CSV rows with unseen categories and NA), the
# way-4 example's last line, and bad tables giving exit 3 with the file
# and line named.
. "$(dirname "$0")/common.bash"
need_penguins

# inferred spec, 20% hold-out (every 5th row)
expect 0 "inferred feature spec" -- "$C" train --data penguins --label species --holdout 5 \
  --seed 1 --threads 1 --out "$tmp/m"
acc=$(sed -n 's/^hold-out.*accuracy \([0-9.]*\)$/\1/p' "$tmp/out")
at_least "${acc:-0}" 0.97 "train --holdout 5 accuracy"
expect 0 '"accuracy"' -- "$C" evaluate "$tmp/m" --data penguins --label species --holdout 5 --json
acc=$(sed -n 's/.*"accuracy":\([0-9.]*\).*/\1/p' "$tmp/out")
at_least "${acc:-0}" 0.97 "evaluate --holdout 5 accuracy"

# raw rows: unseen island and year, NA measurements, no species column
printf 'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n'\
'Torgersen,39.1,18.7,181,3750,male,2007\nAtlantis,NA,NA,NA,NA,NA,2031\n'\
'Biscoe,47.5,15,218,4950,female,2009\n' > "$tmp/rows.csv"
expect 0 "rows.csv\[2\]: Gentoo" -- "$C" predict "$tmp/m" "$tmp/rows.csv" --top 2
grep -q "rows.csv\[0\]: Adelie" "$tmp/out" || { echo "FAIL: row 0 is not Adelie"; fail=1; }
expect 0 '"class":"Gentoo"' -- "$C" predict "$tmp/m" "$tmp/rows.csv" --json
expect 0 "penguins.csv\[343\]: Chinstrap" -- "$C" predict "$tmp/m" --data penguins

# a spec file without a label takes --label; an embedding column
cat > "$tmp/spec.json" <<'JSON'
{"features": {"island": "string_categorical", "bill_length_mm": "float_normalized",
  "bill_depth_mm": "float_normalized", "flipper_length_mm": "float_normalized",
  "body_mass_g": {"type": "float_discretized", "num_bins": 5},
  "sex": {"type": "string_categorical", "output_mode": "embedding", "embedding_dim": 2}},
 "crosses": [{"features": ["island", "sex"], "crossing_dim": 8}]}
JSON
expect 0 "saved" -- "$C" train --data "$CREST_DATA/penguins/penguins.csv" --label species \
  --columns "$tmp/spec.json" --holdout 5 --seed 2 --threads 1 --out "$tmp/m2"
acc=$(sed -n 's/^hold-out.*accuracy \([0-9.]*\)$/\1/p' "$tmp/out")
at_least "${acc:-0}" 0.97 "train --columns accuracy"
expect 0 "sex_embedding" -- cat "$tmp/m2/model.json"

# streaming from disk, 40 rows at a time
expect 0 "saved" -- "$C" train --data penguins --label species --holdout 5 --chunk 40 \
  --seed 1 --threads 1 --out "$tmp/m3"
acc=$(sed -n 's/^hold-out.*accuracy \([0-9.]*\)$/\1/p' "$tmp/out")
at_least "${acc:-0}" 0.97 "train --chunk 40 accuracy"

# bad input
expect 2 "--label" -- "$C" train --data penguins --out "$tmp/x"
expect 3 "no label column 'kind'" -- "$C" train --data penguins --label kind --out "$tmp/x"
printf 'a,b,y\n1,2,u\n3,v\n' > "$tmp/ragged.csv"
expect 3 "ragged.csv line 3" -- "$C" train --data "$tmp/ragged.csv" --label y --out "$tmp/x"
printf 'a,b,y\n1,2,u\n3,"4,v\n' > "$tmp/quote.csv"
expect 3 "unterminated" -- "$C" train --data "$tmp/quote.csv" --label y --out "$tmp/x"
: > "$tmp/empty.csv"
expect 3 "empty" -- "$C" train --data "$tmp/empty.csv" --label y --out "$tmp/x"
printf 'species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n'\
'Dodo,Biscoe,1,2,3,4,male,2008\n' > "$tmp/dodo.csv"
expect 3 "class 'Dodo'" -- "$C" evaluate "$tmp/m" --data "$tmp/dodo.csv" --label species
printf 'species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n'\
'Adelie,Biscoe,long,2,3,4,male,2008\n' > "$tmp/text.csv"
expect 3 "line 2 column 3 (bill_length_mm)" -- "$C" predict "$tmp/m" "$tmp/text.csv"
expect 3 "not the label" -- "$C" evaluate "$tmp/m" --data penguins --label island

# the example prints the hold-out accuracy last
out=$("$ROOT/$BUILD/examples/way4_feature_columns" | tail -1)
acc=${out#accuracy: }
[ "$out" != "$acc" ] || { echo "FAIL: way4 last line: $out"; fail=1; }
at_least "${acc:-0}" 0.97 "way4 example accuracy"
exit $fail
