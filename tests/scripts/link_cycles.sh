#!/usr/bin/env bash
# No cycle between library files (issue 9): tools/link_cycles.py over the
# object files of src/ (file A depends on file B when A uses a symbol B
# defines). The checker is checked first on two files that call each other
# and a third that only calls down, so this test cannot pass by finding
# nothing.
. "$(dirname "$0")/common.bash"
mkdir -p "$tmp/obj/sub"
printf 'int b(int);\nint a(int x) { return x ? b(x - 1) : 0; }\n' > "$tmp/a.c"
printf 'int a(int);\nint b(int x) { return a(x); }\n' > "$tmp/b.c"
printf 'int a(int);\nint c(int x) { return a(x); }\n' > "$tmp/c.c"
for f in a b; do cc -c "$tmp/$f.c" -o "$tmp/obj/$f.o" || die "cc $f.c"; done
cc -c "$tmp/c.c" -o "$tmp/obj/sub/c.o" || die "cc c.c"
out="$(python3 "$ROOT/tools/link_cycles.py" "$tmp/obj" x/)"; rc=$?
[ "$rc" = 1 ] || die "checker exited $rc on a made cycle: $out"
echo "$out" | grep -q '^cycle: x/a.c <-> x/b.c$' || die "checker missed the cycle a <-> b: $out"
echo "$out" | grep -q 'sub/c.c' && die "checker put c (which only calls down) in a cycle: $out"
python3 "$ROOT/tools/link_cycles.py" --allow x/a.c,x/b.c "$tmp/obj" x/ > /dev/null \
  || die "checker failed on an allowed cycle"
rm "$tmp/obj/b.o"
python3 "$ROOT/tools/link_cycles.py" --allow x/a.c,x/b.c "$tmp/obj" x/ > "$tmp/out" \
  && die "checker kept a stale allow-list entry: $(cat "$tmp/out")"

python3 "$ROOT/tools/link_cycles.py" "$ROOT/$BUILD/src" src/ || die "cycles between library files"
[ "$fail" = 0 ] && echo "link cycles: none between library files"
exit $fail
