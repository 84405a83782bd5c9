#!/usr/bin/env bash
# scripts/sanitizer-reports.sh DIR [COMMAND...]
#
# Runs COMMAND (a sanitizer suite) with DIR emptied first, then fails if the command
# failed or if any process wrote a report. The suites run with
# log_path=DIR/<sanitizer> in ASAN_/UBSAN_/TSAN_OPTIONS, so every process — the
# test binaries, and the supervisors, workers and CLIs they start, whose stderr a
# test may never read — writes its reports to DIR/<sanitizer>.<pid>. Prints each
# report (its first 80 lines). Without COMMAND, only checks DIR.
set -uo pipefail
dir=${1:?usage: scripts/sanitizer-reports.sh DIR [COMMAND...]}
shift
rc=0
if [ $# -gt 0 ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  "$@" || rc=$?
fi
shopt -s nullglob
reports=("$dir"/*)
if [ ${#reports[@]} -eq 0 ]; then
  echo "sanitizer reports: none in $dir"
  exit "$rc"
fi
echo "sanitizer reports: ${#reports[@]} in $dir" >&2
for f in "${reports[@]}"; do
  echo "=== $f" >&2
  head -80 "$f" >&2
done
exit 1
