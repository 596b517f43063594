#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan; test/fuzz/) and runs
# each for SECONDS (default 10: the smoke run of tools/test.sh; long runs:
# tools/fuzz.sh 600). Corpora grow in build-fuzz/corpus/<target>, seeded
# from the examples of protocol/SPEC.md; a crash is saved under
# build-fuzz/crashes/<target>/ and fails the run (make it a regression test).
# usage: tools/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-10}"
shift || true
"$root/tools/bootstrap.sh"
build="$root/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTETHER_FUZZ=ON -DTETHER_WERROR=ON >/dev/null
cmake --build "$build"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode_json decode_msgpack compressed_frame token base64 upgrade_check
           session)
fi
seeds="$build/seeds"
rm -rf "$seeds"
/usr/bin/python3 "$root/tools/fuzz_seeds.py" "$root/protocol/SPEC.md" "$seeds"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/test/fuzz/ubsan.supp"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t" "$seeds/$t"
  log="$build/fuzz_$t.log"
  if "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/crashes/$t/" \
       "$build/corpus/$t" "$seeds/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    corpus=$(ls "$build/corpus/$t" | wc -l)
    echo "fuzz $t: ok, $runs executions in ${seconds}s, corpus $corpus"
  else
    failed=1
    echo "fuzz $t: FAILED (see $log and $build/crashes/$t/)"
    grep -m5 -E "ERROR|property failed|SUMMARY" "$log" || true
  fi
done
exit $failed
