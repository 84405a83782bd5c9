#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD_DIR/fuzz/ for FUZZ_SECONDS (default 60)
# each, FUZZ_JOBS (default 2) at a time, starting from fuzz/corpus/<target>/.
# New inputs go to BUILD_DIR/fuzz-corpus/<target>/ (the repo's seeds stay as
# they are); a crash leaves its input in BUILD_DIR/fuzz-artifacts/. Prints one
# line per target: executions, exec/s, coverage (edges) and features. Exits 1 if
# any target crashed, leaked, timed out or ran out of memory.
set -uo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [TARGET...]}
shift
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
src=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$bin" | sed 's/^fuzz_//')"); done
fi
mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts" "$build/fuzz-logs"

run_one() {
  local t=$1
  local corpus="$build/fuzz-corpus/$t"
  mkdir -p "$corpus"
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$build/fuzz-artifacts/$t-" \
    "$corpus" "$src/corpus/$t" >"$build/fuzz-logs/$t.log" 2>&1
  echo $? >"$build/fuzz-logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

# Names what ended a failed run, from libFuzzer's and the sanitizers' own lines.
failure_kind() {
  local log=$1
  if grep -q 'libFuzzer: timeout after' "$log"; then echo "kind=timeout"
  elif grep -q 'libFuzzer: out-of-memory\|malloc(.*) exceeds\|rss_limit' "$log"; then echo "kind=out-of-memory"
  elif grep -q 'ERROR: LeakSanitizer' "$log"; then echo "kind=leak"
  elif grep -q 'ERROR: AddressSanitizer' "$log"; then echo "kind=asan"
  elif grep -q 'runtime error:' "$log"; then echo "kind=ubsan"
  elif grep -q 'libFuzzer: deadly signal' "$log"; then echo "kind=crash"
  elif grep -q 'libFuzzer: fuzz target exited' "$log"; then echo "kind=exit"
  else echo "kind=unknown"
  fi
}

failed=0
for t in "${targets[@]}"; do
  log="$build/fuzz-logs/$t.log"
  rc=$(cat "$build/fuzz-logs/$t.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  status=ok
  if [ "$rc" != 0 ]; then
    status="FAILED rc=$rc $(failure_kind "$log") (see $log)"
    failed=1
  fi
  printf 'fuzz target=%s seconds=%s execs=%s exec_per_s=%s cov=%s ft=%s %s\n' \
    "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$status"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target failed; inputs in $build/fuzz-artifacts/" >&2
  for t in "${targets[@]}"; do
    [ "$(cat "$build/fuzz-logs/$t.rc" 2>/dev/null)" = 0 ] || tail -40 "$build/fuzz-logs/$t.log" >&2
  done
fi
exit $failed
