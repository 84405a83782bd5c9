#!/usr/bin/env bash
# Runs every benchmark figure (bench/*_figures.cc) against its floor and prints
# one markdown table: figure, laneway's value, the floor measured in the same
# run, the ratio, and the target. See docs/benchmarks.md for what each measures.
#
#   bash bench/run.sh BUILD_DIR [FIGURE...]     (make bench does this)
#
# Each figure runs as its own laneway-bench process under a time limit, so that
# one that cannot finish costs a row, not the run. Progress goes to stderr.
set -uo pipefail

build=${1:?usage: bash bench/run.sh BUILD_DIR [FIGURE...]}
shift
bin="$build/bin"
if [ ! -x "$bin/laneway-bench" ]; then
  echo "run.sh: $bin/laneway-bench not found; build with -DLANEWAY_BUILD_BENCH=ON" >&2
  exit 2
fi
bin=$(cd "$bin" && pwd)
export LANEWAY_BENCH_BIN="$bin"

figures=("$@")
if [ ${#figures[@]} -eq 0 ]; then
  figures=(warm throughput cold burst timeout control memory durable journal openai gateway
           scale sigterm cycles)
fi
# Seconds each figure may take; typical runs take a fraction of this.
declare -A limit=([warm]=60 [throughput]=60 [cold]=60 [burst]=90 [timeout]=60
                  [control]=90 [memory]=60 [durable]=60 [journal]=30 [openai]=90
                  [gateway]=120 [scale]=1800 [sigterm]=300 [cycles]=600)

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for f in "${figures[@]}"; do
  timeout --kill-after=5 "${limit[$f]:-60}" "$bin/laneway-bench" "$f" >>"$rows"
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    printf 'ROW\t%s: did not finish within %ss\t\t\tn/a\t\n' "$f" "${limit[$f]:-60}" >>"$rows"
  elif [ $rc -ne 0 ]; then
    printf 'ROW\t%s: laneway-bench exited with status %s\t\t\tn/a\t\n' "$f" "$rc" >>"$rows"
  fi
done
elapsed=$(($(date +%s) - started))

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$(dirname "$0")/.." status --porcelain 2>/dev/null)" ]; then commit="$commit+dirty"; fi

echo
echo "laneway benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r);" \
  "load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; ${elapsed}s"
echo
echo "| figure | laneway | floor (same run) | ratio | target |"
echo "|---|---|---|---|---|"
awk -F'\t' '$1 == "ROW" { printf "| %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6 }' "$rows"
echo
awk -F'\t' '$1 == "NOTE" { printf "- %s\n", $2 }' "$rows"
