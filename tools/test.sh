#!/usr/bin/env bash
# Installs what is missing, checks the house rules (layers, clang-format,
# clang-tidy on the sources: any finding fails), builds Tether with ASan +
# UBSan and runs every test suite under ctest (labels: unit, actor,
# integration, cluster, interop, js, conformance), after a 10 s smoke run of
# each fuzz target (tools/fuzz.sh; TETHER_FUZZ_SECONDS).
# Extra arguments go to ctest, e.g. tools/test.sh -L unit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/bootstrap.sh"
"$root/tools/lint/check_layers.sh"
"$root/tools/lint/check_format.sh"
build="$root/build-test"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DTETHER_SANITIZERS=address,undefined -DTETHER_WERROR=ON >/dev/null
cmake --build "$build"
"$root/tools/lint/check_tidy.sh" "$build"
# The JS client's test dependency (ws), exactly as the lockfile pins it.
(cd "$root/protocol/js" && npm ci --no-audit --no-fund --loglevel=error)
"$root/tools/fuzz.sh" "${TETHER_FUZZ_SECONDS:-10}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
# ctest ends with its summary line ("100% tests passed, 0 tests failed out of N").
exec ctest --output-on-failure --timeout 600 -j2 "$@"
