#!/usr/bin/env bash
# Runs clang-tidy-14 (.clang-tidy) on every source TU of actors, protocol,
# config, runtime and tools, as compiled in BUILD (default build-test, which
# must be configured: it writes compile_commands.json); fails on any
# finding. About 3 minutes on 2 cores. Usage: check_tidy.sh [BUILD]
# (TETHER_TIDY_JOBS: parallel runs, default one per CPU).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-test}"
jobs="${TETHER_TIDY_JOBS:-$(nproc)}"
# The tool itself (a stand-in in tools/lint/test_checks.sh).
tidy="${TETHER_CLANG_TIDY:-clang-tidy-14}"
cd "$root"
if ! command -v "$tidy" >/dev/null 2>&1; then
  echo "tidy: $tidy not found (tools/bootstrap.sh installs clang-tidy-14)"
  exit 2
fi
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "tidy: $build/compile_commands.json missing (configure the build first)"
  exit 2
fi
mapfile -t files < <(python3 - "$build/compile_commands.json" "$root" <<'PY'
import json, sys
root = sys.argv[2] + "/"
seen = set()
for e in json.load(open(sys.argv[1])):
    f = e["file"]
    rel = f[len(root):] if f.startswith(root) else f
    if rel.split("/")[0] in ("actors", "protocol", "config", "runtime", "tools") and rel not in seen:
        seen.add(rel)
        print(rel)
PY
)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "tidy: no source files in $build/compile_commands.json"
  exit 2
fi
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
out="$(printf '%s\n' "${files[@]}" \
  | xargs -P "$jobs" -n 4 "$tidy" -p "$build" --quiet 2>"$errors")"
status=$?
findings="$(echo "$out" | grep -E ': (warning|error): ' | sort -u)"
if [[ -n "$findings" ]]; then
  echo "$findings"
  echo "tidy: $(echo "$findings" | wc -l) findings in ${#files[@]} files"
  exit 1
fi
# No finding, yet a run failed: clang-tidy crashed, was killed, or could not
# read the compilation database. That is no pass.
if [[ $status -ne 0 ]]; then
  echo "tidy: $tidy failed (xargs exit status $status) without a finding:"
  grep -vE '^[0-9]+ warnings? generated\.$' "$errors" | tail -n 20
  exit 2
fi
echo "tidy: ok (${#files[@]} files)"
