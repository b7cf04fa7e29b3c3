#!/usr/bin/env bash
# Every command's option table against its parser and its --help. The
# tables are read from the sources (src/cli/*.c: `cli_opt CMD_options[]`,
# one CLI_<TYPE>_OPT(T, "--name", ...) entry each, CLI_CUSTOM_LAYERS_OPT
# standing for --custom-layers, CLI_IMAGE_OPTS for --preprocess and
# --image-size); for each command:
#   - `crest CMD --help` exits 0 and lists exactly the table's options, each
#     with its value (enum options: their choices), int and float options
#     with their range [lo, hi];
#   - an unknown option is a usage error (exit 2) naming it, last
#     (`--bogus`, where the old parser said "--bogus needs a value"), in the
#     middle, as --bogus=1 and as -x;
#   - every option that takes a value: without one, exit 2 "NAME needs a
#     value"; typed options (int, float, enum, custom) reject a bad value
#     with exit 3 naming the option and the value; int and float options
#     accept both ends of the range --help shows (also as --name=value) and
#     reject just outside them with the same range in the message; enum
#     options accept each choice;
#   - flags: accepted, and --flag=1 is exit 2 "NAME takes no value".
# "Accepted" means the parser went on to the command's own checks: without
# its required arguments every command stops there with a usage error (exit
# 2) that does not quote the value. Fails if the table, the parser and
# --help disagree anywhere.
. "$(dirname "$0")/common.bash"
checks=0
CMDS="train evaluate predict summary infer bench export quantize"
# exit codes of a bad value other than 3, kept from before the tables
declare -A BAD_EXIT=([train --pooling]=2)


# run ARGS...: crest's exit code in $rc, its stderr in $tmp/err
run() { "$C" "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; checks=$((checks + 1)); }

# expect CODE NEEDLE ARGS...: exit CODE and NEEDLE (fixed text) on stderr
expect() {
  local code="$1" needle="$2"; shift 2
  run "$@"
  if [ "$rc" != "$code" ] || ! grep -qF -- "$needle" "$tmp/err"; then
    die "crest $* -> exit $rc (want $code with '$needle'): $(head -c 200 "$tmp/err")"
  fi
}

# accepted VALUE ARGS...: the parser took VALUE and stopped at the
# command's required arguments
accepted() {
  local v="$1"; shift
  run "$@"
  if [ "$rc" != 2 ] || grep -qF -- "'$v'" "$tmp/err" || grep -q "unknown option\|needs a value" "$tmp/err"; then
    die "crest $* -> exit $rc, want the value accepted: $(head -c 200 "$tmp/err")"
  fi
}

# TYPE NAME [CHOICES] of each entry of CMD's table in the sources
table_of() {
  awk -v want="$1" '
    $0 ~ "cli_opt " want "_options\\[\\] = \\{" { on = 1; next }
    on && /^};/ { on = 0 }
    on && /CLI_CUSTOM_LAYERS_OPT\(/ { print "CUSTOM", "--custom-layers", ""; next }
    on && /CLI_IMAGE_OPTS\(/ { print "CUSTOM", "--preprocess", ""; print "CUSTOM", "--image-size", ""; next }
    on && match($0, /CLI_[A-Z]+_OPT\([A-Za-z_]+, "--[a-z0-9-]+"/) {
      s = substr($0, RSTART, RLENGTH); t = s; sub(/^CLI_/, "", t); sub(/_OPT.*/, "", t)
      n = s; sub(/^[^"]*"/, "", n); sub(/"$/, "", n)
      ch = ""
      if (t == "ENUM" && match($0, /"[a-z0-9_|\/-]+"\)/)) ch = substr($0, RSTART + 1, RLENGTH - 3)
      print t, n, ch
    }' "$ROOT"/src/cli/*.c
}

# NAME ARG LO HI of each option --help lists ("-" where there is none)
help_of() {
  awk '
    function flush() { if (name != "") print name, (arg == "" ? "-" : arg), lo, hi }
    /^  --[a-z0-9-]+/ {
      flush(); lo = "-"; hi = "-"
      name = $1; arg = ""
      rest = substr($0, 3 + length(name))
      if (rest ~ /^ [^ ]/) { split(substr(rest, 2), a, " "); arg = a[1] }
    }
    match($0, /\[[^],]+, [^]]+\]$/) {
      r = substr($0, RSTART + 1, RLENGTH - 2); split(r, b, ", "); lo = b[1]; hi = b[2]
    }
    END { flush() }'
}

for cmd in $CMDS; do
  table_of "$cmd" > "$tmp/table"
  [ -s "$tmp/table" ] || { die "$cmd: no table ${cmd}_options[] found in src/cli"; continue; }
  run "$cmd" --help
  [ "$rc" = 0 ] && grep -q "^usage: crest $cmd" "$tmp/out" || die "$cmd --help: exit $rc"
  help_of < "$tmp/out" > "$tmp/help"
  # the same options in the table and in --help
  diff <(awk '{ print $2 }' "$tmp/table" | sort) <(awk '{ print $1 }' "$tmp/help" | sort) \
    > "$tmp/diff" || die "$cmd: table (<) and --help (>) differ: $(tr '\n' ' ' < "$tmp/diff")"

  # unknown options, wherever they stand
  expect 2 "unknown option --bogus" "$cmd" --bogus
  expect 2 "unknown option --bogus" "$cmd" --bogus 1 x
  expect 2 "unknown option --bogus" "$cmd" --bogus=1 x
  expect 2 "unknown option -x" "$cmd" -x

  while read -r type name choices; do
    read -r _ arg lo hi < <(awk -v n="$name" '$1 == n' "$tmp/help") || { arg=-; lo=-; hi=-; }
    if [ "$type" = FLAG ]; then
      [ "$arg" = - ] || die "$cmd $name: a flag, but --help shows a value '$arg'"
      expect 2 "$name takes no value" "$cmd" "$name=1"
      accepted "$name" "$cmd" "$name"
      continue
    fi
    [ "$arg" != - ] || die "$cmd $name: takes a value, but --help shows none"
    expect 2 "$name needs a value" "$cmd" "$name"
    bad="${BAD_EXIT[$cmd $name]:-3}"
    case $type in
      STR)
        accepted xyz "$cmd" "$name" xyz ;;
      CUSTOM)
        expect "$bad" "$name" "$cmd" "$name" 'x,y;z' ;;
      ENUM)
        [ "$arg" = "$choices" ] || die "$cmd $name: --help shows '$arg', the table '$choices'"
        expect "$bad" "$name 'xyz' is not" "$cmd" "$name" xyz
        for v in ${choices//|/ }; do accepted "$v" "$cmd" "$name" "$v"; done ;;
      INT|FLOAT)
        if [ "$lo" = - ]; then die "$cmd $name: --help shows no range"; continue; fi
        what=$([ "$type" = INT ] && echo "an integer" || echo "a number")
        expect 3 "$name 'xyz' is not $what in [$lo, $hi]" "$cmd" "$name" xyz
        accepted "$lo" "$cmd" "$name" "$lo"
        accepted "$hi" "$cmd" "$name=$hi"
        if [ "$type" = INT ]; then
          below=$((lo - 1)); above=$((hi + 1))
        else
          below=$(awk -v x="$lo" 'BEGIN { printf "%.17g", x - (x < 0 ? -x : x) - 1 }')
          above=$(awk -v x="$hi" 'BEGIN { printf "%.17g", x + (x < 0 ? -x : x) + 1 }')
          expect 3 "$name 'inf' is not a number" "$cmd" "$name" inf
        fi
        expect 3 "$name '$below' is not $what in [$lo, $hi]" "$cmd" "$name" "$below"
        expect 3 "$name '$above' is not $what in [$lo, $hi]" "$cmd" "$name=$above" ;;
      *) die "$cmd $name: unknown type $type in the table" ;;
    esac
  done < "$tmp/table"
  echo "$cmd: $(wc -l < "$tmp/table") options"
done
# options given where they do not apply (cli_opt.modes): usage errors, before any work
expect 2 "--cut needs --base MODEL" train --data "$tmp/fm" --out "$tmp/m" --cut x
expect 2 "--label is for tables (.csv, .arff, penguins), not $tmp/fm" \
  train --data "$tmp/fm" --out "$tmp/m" --label y
expect 2 "--limit is not for tables" train --data "$tmp/t.csv" --out "$tmp/m" --label y --limit 5
expect 2 "--holdout is for tables (.csv, .arff, penguins), not $tmp/fm" \
  evaluate "$tmp/m" --data "$tmp/fm" --holdout 5
[ ! -e "$tmp/m" ] || die "an option that does not apply: $tmp/m was written"

echo "cli options: $checks runs, $([ $fail = 0 ] && echo ok || echo FAILED)"
exit $fail
