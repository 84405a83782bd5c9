#!/usr/bin/env bash
# Fails if any process of a sanitizer suite wrote a report. The suites run with
# log_path=DIR/<sanitizer> in ASAN_/UBSAN_/TSAN_OPTIONS, so every process — the
# test binaries, and the supervisors, workers and CLIs they start, whose stderr a
# test may never read — writes its reports to DIR/<sanitizer>.<pid>. Prints each
# report (its first 80 lines) and exits 1 if there is one.
set -uo pipefail
dir=${1:?usage: scripts/sanitizer-reports.sh DIR}
shopt -s nullglob
reports=("$dir"/*)
if [ ${#reports[@]} -eq 0 ]; then
  echo "sanitizer reports: none in $dir"
  exit 0
fi
echo "sanitizer reports: ${#reports[@]} in $dir" >&2
for f in "${reports[@]}"; do
  echo "=== $f" >&2
  head -80 "$f" >&2
done
exit 1
