# common.bash - what the script tests share; each sources it first:
#   . "$(dirname "$0")/common.bash"
# It sets ROOT (the repository), BUILD (CREST_BUILD, default build), C (the
# crest command), CREST_DATA (default ROOT/data, exported), tmp (a scratch
# folder removed on exit) and fail=0, and defines the assertions below. A
# script ends with `exit $fail` after printing what it checked.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
C="$ROOT/$BUILD/crest"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

# die MESSAGE: a failed check (the script goes on and exits 1 at the end)
die() { echo "FAIL: $*"; fail=1; }

# expect_fail EXIT PATTERN CMD...: CMD exits EXIT and says PATTERN (grep -E)
# on stderr, in at most EXPECT_LINES (default 3) lines
expect_fail() {
  local want="$1" pat="$2"; shift 2
  "$@" > /dev/null 2> "$tmp/err"; local rc=$?
  [ "$rc" = "$want" ] || die "$* exited $rc, not $want: $(head -c 300 "$tmp/err")"
  grep -Eq -- "$pat" "$tmp/err" || die "$*: message lacks '$pat': $(head -c 400 "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -le "${EXPECT_LINES:-3}" ] \
    || die "$*: more than ${EXPECT_LINES:-3} lines of errors"
}

# expect CODE NEEDLE -- CMD...: CMD exits CODE and prints NEEDLE (grep, on
# stdout or stderr); its output stays in $tmp/out and $tmp/err
expect() {
  local code="$1" needle="$2"; shift 3
  "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$needle" "$tmp/err" "$tmp/out"; then
    echo "FAIL: $* -> exit $rc (want $code), output:"; cat "$tmp/err" "$tmp/out" | head -8
    fail=1
  fi
}

# at_least VALUE MIN WHAT: a figure that must reach a floor (printed either way)
at_least() {
  if ! awk -v v="$1" -v m="$2" 'BEGIN { exit !(v >= m) }'; then
    echo "FAIL: $3 = $1 < $2"; fail=1
  else
    echo "$3 = $1"
  fi
}

# close REF GOT: two float32 files of the same length, within 1e-5 of the
# reference's magnitude: max |ref - got| <= 1e-5 * max(1, max |ref|)
close() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
a, b = (open(f, 'rb').read() for f in sys.argv[1:])
if len(a) != len(b) or not a:
    sys.exit('sizes %d, %d' % (len(a), len(b)))
x = struct.unpack('<%df' % (len(a) // 4), a)
y = struct.unpack('<%df' % (len(b) // 4), b)
d = max(abs(p - q) for p, q in zip(x, y))
m = max(1.0, max(abs(p) for p in x))
sys.exit(0 if d <= 1e-5 * m else 'max difference %g (scale %g)' % (d, m))
PY
}

# need_penguins: the penguins table (tools/setup.sh) is there, else fail now
need_penguins() {
  P="$CREST_DATA/penguins/penguins.csv"
  [ -f "$P" ] || { echo "FAIL: no $P: run tools/setup.sh"; exit 1; }
}

# two_class_images DIR: a folder of two classes, a (china.jpg) and b
# (flower.jpg), three copies each
two_class_images() {
  mkdir -p "$1/a" "$1/b"
  for k in 1 2 3; do
    cp "$CREST_DATA/images/china.jpg" "$1/a/$k.jpg"
    cp "$CREST_DATA/images/flower.jpg" "$1/b/$k.jpg"
  done
}

# base_file_checks FILE WHAT EPOCHS: MobileNetV2 saved as FILE (WHAT: its
# format) reads as the TF.js folder $MNV2 does (summary), benches, and is a
# base for crest train (cut after out_relu, EPOCHS epochs on $tmp/img, into
# $tmp/tl), whose model evaluates and predicts ($tmp/p1.json)
base_file_checks() {
  local f="$1" what="$2"
  "$C" summary "$f" --json > "$tmp/s1.json" && "$C" summary "$MNV2" --json > "$tmp/s0.json" &&
    cmp -s "$tmp/s0.json" "$tmp/s1.json" || die "summary of $what differs from the TF.js folder's"
  "$C" bench "$f" --iters 2 > /dev/null 2>&1 || die "bench on $what"
  two_class_images "$tmp/img"
  "$C" train --base "$f" --data "$tmp/img" --epochs "$3" --out "$tmp/tl" > /dev/null 2> "$tmp/err" ||
    die "train --base $what: $(tail -2 "$tmp/err")"
  grep -q "cut after 'out_relu'" "$tmp/err" || die "train --base $what: not cut after out_relu"
  "$C" evaluate "$tmp/tl" --data "$tmp/img" --json > /dev/null 2>&1 || die "evaluate after --base $what"
  "$C" predict "$tmp/tl" "$CREST_DATA/images/china.jpg" --json > "$tmp/p1.json" 2> /dev/null ||
    die "predict after --base $what"
}

# converted_match CONV EXT SHAPE OPTS...: MobileNetV2 ($MNV2) on $tmp/x.f32
# of SHAPE as the TF.js folder, then converted by CONV (run by $PY) into
# $tmp/mI.EXT once for each OPTS string (mI: the Ith): crest infer on each
# gives the folder's outputs bit for bit, and on the first the folder's
# --layer out_relu outputs too. Leaves $tmp/ref.f32, ref_cut.f32 and m1.EXT.
converted_match() {
  local conv="$1" ext="$2" shape="$3" opts i=0; shift 3
  "$C" infer "$MNV2" --input "$tmp/x.f32" --shape "$shape" --out "$tmp/ref.f32" 2> /dev/null ||
    die "infer on the TF.js folder"
  "$C" infer "$MNV2" --input "$tmp/x.f32" --shape "$shape" --layer out_relu \
    --out "$tmp/ref_cut.f32" 2> /dev/null || die "infer --layer on the TF.js folder"
  for opts in "$@"; do
    i=$((i + 1))
    $PY "$conv" "$MNV2" "$tmp/m$i.$ext" $opts || die "$(basename "$conv") $opts"
    "$C" infer "$tmp/m$i.$ext" --input "$tmp/x.f32" --shape "$shape" --out "$tmp/y$i.f32" \
      2> /dev/null || die "infer on .$ext ($opts)"
    cmp -s "$tmp/ref.f32" "$tmp/y$i.f32" || die ".$ext ($opts) outputs differ from the TF.js folder's"
  done
  "$C" infer "$tmp/m1.$ext" --input "$tmp/x.f32" --shape "$shape" --layer out_relu \
    --out "$tmp/cut.f32" 2> /dev/null && cmp -s "$tmp/ref_cut.f32" "$tmp/cut.f32" ||
    die "infer --layer out_relu on .$ext"
}
