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

# The cycles left in src/ (issue 9), each with why; this list may only
# shrink (the checker fails on an entry that is no longer a cycle).
allow=(
  # train.c dispatches to the image trainer (train_base.c) and the table
  # trainer (tabular.c), and both call back into train.c for the head and
  # fit options it parses (cli_add_head, cli_fit_opts, cli_optimizer, ...).
  # The fix is to move those helpers below the three (e.g. into a
  # cli/train_opts.c); left for the change that owns src/cli/train*.c now.
  src/cli/tabular.c,src/cli/train.c,src/cli/train_base.c
)
args=()
for c in "${allow[@]}"; do args+=(--allow "$c"); done
python3 "$ROOT/tools/link_cycles.py" "${args[@]}" "$ROOT/$BUILD/src" src/ || die "cycles between library files"
[ "$fail" = 0 ] && echo "link cycles: none between library files but the ${#allow[@]} allowed"
exit $fail
