#!/usr/bin/env bash
# The training report `crest train` writes beside the model (<out>/report/)
# and into --report DIR, on three real runs: penguins (a table, --val FILE),
# transfer learning with --base and --fine-tune on Fashion-MNIST images
# (--val), and a Dense head without validation. Checked: history.json and
# history.csv hold the same numbers, and those train printed for each epoch;
# the SVGs parse (xmllint) and name their text (class names, axes); the PNGs
# decode (libpng) to their size with many colours; index.html links every
# file and its per-class table equals `crest evaluate --json` on the same
# data; a report that cannot be written leaves the model saved and exits 1;
# headless Chromium renders index.html to a screenshot that is not blank.
. "$(dirname "$0")/common.bash"
need_penguins
for t in xmllint cc python3; do command -v $t > /dev/null || { echo "FAIL: $t missing (tools/setup.sh)"; exit 1; }; done
cc -O1 -o "$tmp/pngstat" "$ROOT/tests/scripts/pngstat.c" -lpng || { echo "FAIL: building pngstat"; exit 1; }

# check_history DIR STDERR EPOCHS: the report's history against train's output
check_history() {
  python3 - "$1" "$2" "$3" <<'PY' || die "history of $1"
import csv, json, re, sys
d, err, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = json.load(open(d + '/history.json'))
rows = list(csv.DictReader(open(d + '/history.csv')))
assert len(rows) == epochs == len(h['loss']), (len(rows), epochs, len(h['loss']))
val = 'val_loss' in h
cols = ['loss', 'accuracy'] + (['val_loss', 'val_accuracy'] if val else []) + ['lr', 'time']
assert list(rows[0].keys()) == ['epoch', 'phase'] + cols, list(rows[0].keys())
for i, r in enumerate(rows):
    assert int(r['epoch']) == h['epoch'][i] == i + 1 and r['phase'] == h['phase'][i]
    for c in cols:   # the same double in both files (17 digits round-trip)
        assert float(r[c]) == h[c][i], (c, i, r[c], h[c][i])
    assert h['time'][i] > 0 and 0 < h['lr'][i] < 1, (h['time'][i], h['lr'][i])
printed = re.findall(r'- loss: (\d+\.\d+) - accuracy: (\d+\.\d+)(?: - val_loss: (\d+\.\d+) - val_accuracy: (\d+\.\d+))?',
                     open(err).read())
assert len(printed) == epochs, (len(printed), epochs)
for i, p in enumerate(printed):
    for k, c in enumerate(cols[:4 if val else 2]):
        assert p[k] == '%.4f' % h[c][i], (i, c, p[k], h[c][i])
print('%s: %d epochs, history.json = history.csv = printed' % (d, epochs))
PY
}

# check_files DIR W H CLASS...: pictures and links of a report folder
check_files() {
  local d="$1" w="$2" h="$3"; shift 3
  for f in history.json history.csv curves.svg curves.png confusion.svg confusion.png index.html; do
    [ -s "$d/$f" ] || die "$d/$f missing"
  done
  xmllint --noout "$d/curves.svg" "$d/confusion.svg" || die "$d: an SVG does not parse"
  for word in epoch loss accuracy; do grep -q "<desc>.*$word" "$d/curves.svg" || die "curves.svg lacks '$word'"; done
  for c in "$@"; do grep -q "<desc>.*$c" "$d/confusion.svg" || die "confusion.svg lacks class $c"; done
  [ "$(grep -c '<use' "$d/curves.svg")" -gt 50 ] || die "curves.svg draws no text"
  read -r pw ph pc pf < <("$tmp/pngstat" "$d/curves.png") || die "curves.png does not decode"
  [ "$pw $ph" = "$w $h" ] || die "curves.png is ${pw}x$ph, not ${w}x$h"
  awk -v c="$pc" -v f="$pf" 'BEGIN { exit !(c > 50 && f > 0.01) }' || die "curves.png blank: $pc colours, $pf non-white"
  read -r pw ph pc pf < <("$tmp/pngstat" "$d/confusion.png") || die "confusion.png does not decode"
  awk -v c="$pc" -v f="$pf" 'BEGIN { exit !(c > 50 && f > 0.02) }' || die "confusion.png blank: $pc colours, $pf non-white"
  (cd "$d" && find . -type f | sed 's|^\./||' | grep -v '^index.html$') | while read -r f; do
    grep -q "\"$f\"" "$d/index.html" || echo "FAIL: $d/index.html does not link $f"
  done | grep FAIL && fail=1
  return 0
}

# check_classes DIR EVAL.json: index.html's per-class table = evaluate's
check_classes() {
  python3 - "$1/index.html" "$2" <<'PY' || die "per-class table of $1"
import html, json, re, sys
page, ev = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
table = page[page.index('id="per-class"'):]
table = table[:table.index('</table>')]
rows = re.findall(r'<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>', table)
assert len(rows) == len(ev['per_class']), (len(rows), len(ev['per_class']))
for r, c in zip(rows, ev['per_class']):
    want = (c['label'], '%.4f' % c['precision'], '%.4f' % c['recall'], '%.4f' % c['f1'], '%d' % c['support'])
    assert (html.unescape(r[0]),) + r[1:] == want, (r, want)
m = re.search(r'On the validation data: (\d+) samples, loss [\d.]+, accuracy (\d+\.\d+)', page)
assert m and int(m.group(1)) == ev['n'] and m.group(2) == '%.4f' % ev['accuracy'], (m and m.groups(), ev['n'], ev['accuracy'])
print('%s: per-class table = crest evaluate --json (%d classes, n %d)' % (sys.argv[1], len(rows), ev['n']))
PY
}

# 1. penguins: a table, validation from a file
awk -F, 'NR == 1 { print > "'"$tmp/tr.csv"'"; print > "'"$tmp/va.csv"'"; next }
         { print > (NR % 4 ? "'"$tmp/tr.csv"'" : "'"$tmp/va.csv"'") }' "$P"
"$C" train --data "$tmp/tr.csv" --label species --val "$tmp/va.csv" --epochs 8 --seed 3 \
  --out "$tmp/pg" > "$tmp/pg.out" 2> "$tmp/pg.err" || { die "train penguins"; tail -3 "$tmp/pg.err"; }
grep -q "^report: $tmp/pg/report/index.html" "$tmp/pg.out" || die "train did not say where the report is"
check_history "$tmp/pg/report" "$tmp/pg.err" 8
check_files "$tmp/pg/report" 1000 380 Adelie Chinstrap Gentoo
"$C" evaluate "$tmp/pg" --data "$tmp/va.csv" --label species --json > "$tmp/pg.json" || die "evaluate penguins"
check_classes "$tmp/pg/report" "$tmp/pg.json"
# --holdout and no validation: the report scores the held-out rows, as train's
# hold-out line does (68 of 344 penguins with 1 row in 5)
"$C" train --data "$P" --label species --holdout 5 --epochs 4 --seed 3 --out "$tmp/ho" \
  > "$tmp/ho.out" 2> /dev/null || die "train --holdout"
read -r hn hl ha < <(sed -n 's/^hold-out (1 row in 5, \([0-9]*\) rows): loss \([0-9.]*\) accuracy \([0-9.]*\)$/\1 \2 \3/p' "$tmp/ho.out")
[ "${hn:-0}" -gt 0 ] || die "train --holdout printed no hold-out line"
grep -q "On the held-out data: $hn samples, loss $hl, accuracy $ha\." "$tmp/ho/report/index.html" ||
  die "the report's scores are not the $hn held-out rows' (loss $hl, accuracy $ha)"
grep -q "Confusion matrix (held-out data)" "$tmp/ho/report/confusion.svg" || die "confusion.svg not on held-out data"

# 2. transfer learning on Fashion-MNIST images, fine-tuned, and --report DIR
"$C" train --data fashion-mnist --hidden 32 --epochs 1 --batch 64 --limit 6000 --out "$tmp/bb" \
  > /dev/null 2>&1 || die "backbone training"
"$C" train --base "$tmp/bb" --cut dense --data fashion-mnist --limit 800 --val fashion-mnist:test \
  --epochs 3 --lr 0.01 --fine-tune 1 --fine-tune-epochs 2 --out "$tmp/tl" --report "$tmp/rep" \
  > "$tmp/tl.out" 2> "$tmp/tl.err" || { die "train --base"; tail -3 "$tmp/tl.err"; }
check_history "$tmp/rep" "$tmp/tl.err" 5
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["phase"]; sys.exit(p != ["head"]*3 + ["fine-tune"]*2)' \
  "$tmp/rep/history.json" || die "phases of the fine-tuned run"
check_files "$tmp/rep" 1000 380 T-shirt/top Trouser "Ankle boot"
diff -r "$tmp/rep" "$tmp/tl/report" > /dev/null || die "--report DIR and <out>/report differ"
"$C" evaluate "$tmp/tl" --data fashion-mnist:test --limit 400 --json > "$tmp/tl.json" || die "evaluate --base"
check_classes "$tmp/rep" "$tmp/tl.json"
nw=$(ls "$tmp/rep/wrong" | wc -l)
[ "$nw" -ge 10 ] || die "only $nw wrong thumbnails"
read -r tw th tc tf < <("$tmp/pngstat" "$tmp/rep/wrong/00.png") || die "wrong/00.png does not decode"
[ "$tw $th" = "96 96" ] && [ "$tc" -gt 10 ] || die "wrong/00.png: ${tw}x$th, $tc colours"
grep -q 'true: <b>.*</b><br>predicted: <b>.*</b><br>confidence 0\.[0-9]' "$tmp/rep/index.html" \
  || die "no captions under the wrong images"
echo "image run: $nw most confidently wrong thumbnails, first ${tw}x$th with $tc colours"

# 3. a Dense head without validation: scored on the training data, said so
"$C" train --data fashion-mnist --limit 300 --epochs 2 --out "$tmp/mlp" > /dev/null 2> "$tmp/mlp.err" \
  || die "train without validation"
check_history "$tmp/mlp/report" "$tmp/mlp.err" 2
grep -q "no validation data: these are training samples" "$tmp/mlp/report/index.html" \
  || die "the report does not say it scored the training data"
grep -q "On the training data: 300 samples" "$tmp/mlp/report/index.html" || die "training-data scores"

# 4. a report that cannot be written (a file where its folder goes): the
# model is saved, exit 1, one clear line; a bad --report fails before work
mkdir "$tmp/m4" && echo x > "$tmp/m4/report"
expect_fail 1 "the model is saved in .*m4, but its report is not: .*m4/report: not a folder" \
  "$C" train --data fashion-mnist --limit 200 --epochs 1 --out "$tmp/m4"
"$C" summary "$tmp/m4" > /dev/null || die "the model was lost with its report"
expect_fail 3 "^crest train: --report .*m4/report/r: Not a directory" \
  "$C" train --data fashion-mnist --limit 200 --epochs 1 --out "$tmp/m5" --report "$tmp/m4/report/r"
[ -e "$tmp/m5" ] && die "a bad --report did not stop train before work"

# 5. headless Chromium renders index.html; the screenshot is not blank
if ! command -v chromium > /dev/null; then
  if [ -n "${CI:-}" ]; then die "chromium missing (tools/setup.sh installs it)"
  else echo "chromium missing: screenshot check not run (CI fails here)"; fi
else
  timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$tmp/shot.png" --window-size=1200,1600 "file://$tmp/rep/index.html" \
    > "$tmp/chromium.log" 2>&1 || { die "chromium failed"; tail -3 "$tmp/chromium.log"; }
  read -r sw sh sc sf < <("$tmp/pngstat" "$tmp/shot.png") || die "screenshot does not decode"
  [ "$sw $sh" = "1200 1600" ] || die "screenshot ${sw}x$sh"
  at_least "$sc" 300 "screenshot: distinct colours"
  at_least "$sf" 0.04 "screenshot: non-white fraction"
  # the curves picture sits under the summary table, about 1000 x 380 px
  read -r _ _ cc cf < <("$tmp/pngstat" "$tmp/shot.png" 20 330 1000 420)
  at_least "$cc" 100 "screenshot: distinct colours where the curves are"
  at_least "$cf" 0.03 "screenshot: non-white fraction where the curves are"
fi
exit $fail
