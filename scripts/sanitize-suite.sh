#!/usr/bin/env bash
# The ASan+UBSan suite (make sanitize-test, which runs it under
# scripts/sanitizer-reports.sh): BUILD_DIR's whole suite.
#
# The unit tests run as one process (unit_tests, every test in turn), not one
# process per test as CTest runs them: a sanitizer binary's start-up (shadow memory,
# the leak check at exit) made 509 processes cost 460 s of CPU on their own. The
# integration tests run through CTest, beside it, except SKIP (a regex): the
# volume tests, whose hundreds of turns or sessions walk no path that the others
# do not, and which under ASan take minutes each (docs/security.md).
set -uo pipefail
build=${1:?usage: scripts/sanitize-suite.sh BUILD_DIR JOBS SKIP}
jobs=${2:-2}
skip=${3:-}
cd "$build" || exit 1
timeout 900 ./bin/unit_tests --gtest_brief=1 >unit-tests.log 2>&1 &
unit=$!
rc=0
ctest --output-on-failure -j"$jobs" --timeout 600 -L integration ${skip:+-E "$skip"} || rc=$?
urc=0
wait "$unit" || urc=$?
if [ "$urc" -ne 0 ]; then
  echo "unit tests under ASan+UBSan failed (exit $urc):" >&2
  tail -80 unit-tests.log >&2
  rc=1
else
  tail -3 unit-tests.log
fi
exit "$rc"
