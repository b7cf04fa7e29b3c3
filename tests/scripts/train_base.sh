#!/usr/bin/env bash
# `crest train --base`: transfer learning from the command line on a small
# backbone (an MLP crest trains first; the MobileNetV2 recipe is
# tests/scripts/way3_pretrained.sh): cut, frozen backbone, feature cache reused
# and invalidated, fine-tuning, an image-folder data set, predict on an image
# file with the recorded preprocessing, and bad options.
. "$(dirname "$0")/common.bash"
jnum() { node -e 'const o=JSON.parse(require("fs").readFileSync(0));console.log(o[process.argv[1]])' "$1"; }

"$C" train --data fashion-mnist --hidden 64 --epochs 1 --batch 64 --out "$tmp/bb" > /dev/null 2>&1 \
  || die "backbone training"
run() { "$C" train --base "$tmp/bb" --cut dense --data fashion-mnist --limit 3000 \
          --val fashion-mnist:test --cache "$tmp/cache" --epochs 5 "$@" > "$tmp/out" 2> "$tmp/err"; }
run --out "$tmp/tl" || { die "train --base"; cat "$tmp/err" | tail -5; }
grep -q "from the cache" "$tmp/err" && die "first run claims a cache hit"
[ "$(ls "$tmp/cache" | wc -l)" = 2 ] || die "cache should hold train + validation features"
grep -q "cut after 'dense'" "$tmp/err" || die "no cut line"
run --out "$tmp/tl" || die "second run"
[ "$(grep -c "from the cache" "$tmp/err")" = 2 ] || die "second run did not reuse the cache"
"$C" summary "$tmp/tl" --json > "$tmp/sum.json" || die "summary"
[ "$(jnum non_trainable_params < "$tmp/sum.json")" = 50240 ] || die "backbone not frozen in the saved model"
[ "$(jnum trainable_params < "$tmp/sum.json")" = 650 ] || die "head params"
acc=$("$C" evaluate "$tmp/tl" --data fashion-mnist:test --json | jnum accuracy)
node -e "process.exit($acc > 0.7 ? 0 : 1)" || die "accuracy $acc"
# other preprocessing: other inputs, a cache miss
run --out "$tmp/tl2" --preprocess tf || die "--preprocess tf"
grep -q "from the cache" "$tmp/err" && die "changed preprocessing reused the cache"
# fine-tuning the last backbone layer
run --out "$tmp/ft" --fine-tune 1 --fine-tune-epochs 1 || die "--fine-tune"
"$C" summary "$tmp/ft" --json > "$tmp/sum.json"
[ "$(jnum trainable_params < "$tmp/sum.json")" = 50890 ] || die "fine-tuned layer not trainable"
# an image folder (two classes of JPEGs made with jpeg-js), then predict on a file
NODE_PATH="$ROOT/tools/node_modules" node -e '
const fs=require("fs"), jpeg=require("jpeg-js"), d=process.argv[1];
for (const [k,cls] of [[0,"dark"],[1,"light"]]) { fs.mkdirSync(`${d}/${cls}`,{recursive:true});
  for (let i=0;i<30;i++) { const w=20+i%5, h=18, b=Buffer.alloc(w*h*4);
    for (let p=0;p<w*h;p++) { const v=(k?170:40)+((p*7+i*13)%60); b[4*p]=b[4*p+1]=b[4*p+2]=v; b[4*p+3]=255; }
    fs.writeFileSync(`${d}/${cls}/${i}.jpg`, jpeg.encode({data:b,width:w,height:h},90).data); } }' "$tmp/img" \
  || die "making images"
"$C" train --base "$tmp/bb" --cut dense --data "$tmp/img" --epochs 30 --lr 0.01 --out "$tmp/tli" > /dev/null 2> "$tmp/err" \
  || { die "train on an image folder"; tail -3 "$tmp/err"; }
grep -q '"class_names":\["dark","light"\]' "$tmp/tli/model.json" || die "class names not recorded"
grep -q '"image":{"height":28,"width":28,"channels":1,"preprocess":"rescale"' "$tmp/tli/model.json" \
  || die "image preprocessing not recorded"
"$C" predict "$tmp/tli" "$tmp/img/light/3.jpg" "$tmp/img/dark/4.jpg" --json > "$tmp/pred.json" || die "predict on images"
node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1])).predictions;
  process.exit(p.length === 2 && p[0].probs[1] > 0.5 && p[1].probs[0] > 0.5 ? 0 : 1);' "$tmp/pred.json" \
  || { die "predict on image files"; cat "$tmp/pred.json"; }
acc=$("$C" evaluate "$tmp/tli" --data "$tmp/img" --json | jnum accuracy)
node -e "process.exit($acc > 0.9 ? 0 : 1)" || die "evaluate on the image folder: accuracy $acc"
# bad input
"$C" train --base "$tmp/nowhere" --data fashion-mnist --out "$tmp/x" 2> "$tmp/err"; [ $? = 3 ] || die "missing base: exit code"
"$C" train --base "$tmp/bb" --cut nope --data fashion-mnist --out "$tmp/x" 2> "$tmp/err"; rc=$?
[ $rc = 3 ] && grep -q "nope" "$tmp/err" || die "unknown cut layer: exit $rc"
"$C" train --base "$tmp/bb" --pooling mean --data fashion-mnist --out "$tmp/x" 2> /dev/null; [ $? = 2 ] || die "--pooling mean: exit code"
"$C" train --base "$tmp/bb" --cut dense --preprocess imagenet --data fashion-mnist --out "$tmp/x" 2> /dev/null; [ $? = 3 ] || die "--preprocess imagenet: exit code"
exit $fail
