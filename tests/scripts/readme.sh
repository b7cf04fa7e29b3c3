#!/usr/bin/env bash
# The README against the command: its table "Options of `crest train`" lists
# every option `crest train --help` prints, and nothing else; every
# `build/crest COMMAND` line in its code blocks names a command crest has.
. "$(dirname "$0")/common.bash"
R="$ROOT/README.md"
"$C" train --help > "$tmp/help" 2>&1
grep -oE '^  --[a-z][a-z0-9-]*' "$tmp/help" | sed 's/^ *//' | sort -u > "$tmp/want"
[ "$(wc -l < "$tmp/want")" -ge 30 ] || die "crest train --help lists only $(wc -l < "$tmp/want") options"
# the table: from its heading to the next heading
sed -n '/^### Options of `crest train`/,/^##/p' "$R" | grep -oE '^\| `--[a-z][a-z0-9-]*' \
  | sed 's/^| `//' | sort > "$tmp/table"
sort -u "$tmp/table" | cmp -s - "$tmp/table" || die "the README's train table lists an option twice"
missing=$(comm -23 "$tmp/want" "$tmp/table" | tr '\n' ' ')
extra=$(comm -13 "$tmp/want" "$tmp/table" | tr '\n' ' ')
[ -z "$missing" ] || die "README's train table lacks: $missing"
[ -z "$extra" ] || die "README's train table has options train does not: $extra"
# commands named in the README's code lines
"$C" --help > "$tmp/top" 2>&1
for cmd in $(grep -oE '^ *build/crest [a-z]+' "$R" | awk '{print $2}' | sort -u); do
  grep -qE "^  $cmd( |$)" "$tmp/top" || die "README runs 'crest $cmd', which crest --help does not list"
done
echo "readme: $(wc -l < "$tmp/table") train options in the table match --help"
exit $fail
