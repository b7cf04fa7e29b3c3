#!/usr/bin/env bash
# Runs every libFuzzer harness of BUILD/fuzz (built by `make fuzz-build`)
# for SECONDS each, one at a time, and prints per harness the executions,
# executions per second and coverage (cov: edges, ft: features) from
# libFuzzer's final stats. Exits non-zero if any harness found a crash, a
# leak, a timeout or an out-of-memory; the input is kept under
# BUILD/fuzz-crashes/<harness>/ and the log under BUILD/fuzz-logs/.
#
#   bash tests/fuzz/run.sh [BUILD [SECONDS [HARNESS...]]]
#
# Each harness starts from its committed seeds (tests/fuzz/corpus/<name>/)
# plus the inputs earlier runs found (BUILD/fuzz-corpus/<name>/, kept
# between runs; the seed folder is never written). A dictionary
# tests/fuzz/<name>.dict is used when it exists. Limits: 2 GiB RSS, one
# malloc at most FUZZ_MALLOC_MB (default 1024) MiB, FUZZ_TIMEOUT (default 10)
# seconds per input (wall clock: raise it for long runs on a loaded machine,
# where a niced fuzzer can wait that long for a CPU).
set -u
BUILD="${1:-build-fuzz}"
SECS="${2:-60}"
shift 2 2>/dev/null || shift $#
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
MALLOC_MB="${FUZZ_MALLOC_MB:-1024}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for b in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$b" ] && names+=("$(basename "$b" | sed 's/^fuzz_//')")
  done
fi
if [ ${#names[@]} -eq 0 ]; then
  echo "run.sh: no harnesses in $BUILD/fuzz (run make fuzz-build)" >&2
  exit 2
fi
mkdir -p "$BUILD/fuzz-logs"
failed=()
printf '%-8s %12s %9s %7s %8s %6s  %s\n' harness execs exec/s cov ft corpus result
for n in "${names[@]}"; do
  bin="$BUILD/fuzz/fuzz_$n"
  seeds="tests/fuzz/corpus/$n"
  work="$BUILD/fuzz-corpus/$n"
  crashes="$BUILD/fuzz-crashes/$n"
  log="$BUILD/fuzz-logs/$n.log"
  mkdir -p "$work" "$crashes"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    printf '%-8s missing harness or seed folder %s\n' "$n" "$seeds"
    failed+=("$n")
    continue
  fi
  dict=()
  [ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
  # tests/fuzz/NAME.env: extra environment for one harness (one VAR=value a line)
  envs=()
  [ -f "tests/fuzz/$n.env" ] && mapfile -t envs < <(grep -v '^#' "tests/fuzz/$n.env")
  env "${envs[@]}" "$bin" -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=2048 \
    -malloc_limit_mb="$MALLOC_MB" -timeout="$TIMEOUT" -artifact_prefix="$crashes/" \
    "${dict[@]}" "$work" "$seeds" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  units=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$last")
  if [ "$rc" -eq 0 ]; then r=ok; else r="FAILED (exit $rc, see $log)"; failed+=("$n"); fi
  printf '%-8s %12s %9s %7s %8s %6s  %s\n' "$n" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "${ft:-?}" "${units:-?}" "$r"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR: |SUMMARY: |^==[0-9]+==|Test unit written|runtime error' "$log" | head -8 | sed 's/^/    | /'
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#names[@]} harnesses ok, ${SECS} s each"
