#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run-fuzzer.sh TARGET SEED_DIR [MORE_SEED_DIRS…]: fuzz for CDVIZ_FUZZ_SECONDS (default 20)
# from the seed corpus; new inputs go to a scratch directory. Any finding
# (crash, leak, timeout, out-of-memory) fails the test and is kept in the
# scratch directory for reproduction: TARGET FILE.
# CDVIZ_FUZZ_MAX_LEN, when set, is libFuzzer's -max_len (the largest input it
# generates; by default the largest seed, at least 4096 bytes).
set -u
target=$(readlink -f "$1")
shift
seeds=""
for dir in "$@"; do
  [ -d "$dir" ] && seeds="$seeds $(readlink -f "$dir")"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/cdviz-fuzz-XXXXXX")
export G_SLICE=always-malloc
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0:detect_leaks=1}
cd "$work" || exit 1
"$target" -max_total_time="${CDVIZ_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
  ${CDVIZ_FUZZ_MAX_LEN:+-max_len="$CDVIZ_FUZZ_MAX_LEN"} -print_final_stats=1 "$work" $seeds > fuzz.log 2>&1
status=$?
tail -n 30 fuzz.log
if [ "$status" -ne 0 ] || ls crash-* leak-* timeout-* oom-* >/dev/null 2>&1; then
  echo "FAILED (exit $status); inputs and log kept in $work"
  exit 1
fi
rm -rf "$work"
exit 0
