#!/usr/bin/env bash
# crest train --base ... --augment SPEC --augment-copies K on a small image
# folder: the augmentation line, K copies of every training image's features
# (cached: a second run reads them back), the follow-on commands on the
# trained model, the spec recorded in its metadata, --fine-tune with fresh
# draws every step, and bad specs refused before any work (exit 2, naming
# the item).
. "$(dirname "$0")/common.bash"
MNV2="$CREST_DATA/models/mobilenet_v2"
mkdir -p "$tmp/img/a" "$tmp/img/b"
for k in 1 2 3; do
  cp "$CREST_DATA/images/china.jpg" "$tmp/img/a/$k.jpg"
  cp "$CREST_DATA/images/flower.jpg" "$tmp/img/b/$k.jpg"
done
run() { "$C" train --data "$tmp/img" --base "$MNV2" --epochs 2 --seed 3 --cache "$tmp/cache" \
          --augment flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1 --augment-copies 3 "$@"; }
run --out "$tmp/m" > /dev/null 2> "$tmp/log" || die "train --augment: $(tail -3 "$tmp/log")"
grep -q "augmentation: flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1, 3 copies" "$tmp/log" \
  || die "no augmentation line: $(head -5 "$tmp/log")"
grep -q "features (train): 18 images (augmented copies)" "$tmp/log" \
  || die "not 3 copies of 6 images: $(grep features "$tmp/log")"
run --out "$tmp/m2" > /dev/null 2> "$tmp/log2" || die "second run: $(tail -3 "$tmp/log2")"
grep -q "features (train): 18 images (augmented copies).*from the cache" "$tmp/log2" \
  || die "the augmented features were not read back from the cache"
cmp -s "$tmp/m/model.json" "$tmp/m2/model.json" || die "two runs with one seed differ (model.json)"
"$C" evaluate "$tmp/m" --data "$tmp/img" > /dev/null 2>&1 || die "evaluate after --augment"
"$C" predict "$tmp/m" "$CREST_DATA/images/china.jpg" > /dev/null 2>&1 || die "predict after --augment"
grep -q '"augment":"flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1"' "$tmp/m/model.json" \
  || die "the augmentation is not in the model's metadata"
# fine-tuning: the augmentation runs on the images at every step
run --fine-tune 3 --fine-tune-epochs 1 --out "$tmp/ft" > /dev/null 2> "$tmp/log3" \
  || die "--augment with --fine-tune: $(tail -3 "$tmp/log3")"
grep -q "while fine-tuning, new draws every step" "$tmp/log3" || die "no fine-tuning note"
"$C" predict "$tmp/ft" "$CREST_DATA/images/flower.jpg" > /dev/null 2>&1 || die "predict after fine-tuning"
expect_fail 2 "unknown item 'spin'" "$C" train --data "$tmp/img" --base "$MNV2" --augment spin=1 --out "$tmp/x"
expect_fail 2 "rotate needs a value" "$C" train --data "$tmp/img" --base "$MNV2" --augment rotate --out "$tmp/x"
expect_fail 2 "flip=diagonal" "$C" train --data "$tmp/img" --base "$MNV2" --augment flip=diagonal --out "$tmp/x"
expect_fail 2 "needs --base" "$C" train --data fashion-mnist --augment flip --out "$tmp/x"
expect_fail 2 "not supported" "$C" train --data "$tmp/img" --base "$MNV2" --preprocess torch \
  --augment brightness=0.2 --out "$tmp/x"
[ ! -e "$tmp/x" ] || die "a refused run left $tmp/x"
[ $fail = 0 ] && echo "augment: ok"
exit $fail
