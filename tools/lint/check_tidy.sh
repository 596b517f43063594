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
cd "$root"
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
out="$(printf '%s\n' "${files[@]}" \
  | xargs -P "$jobs" -n 4 clang-tidy-14 -p "$build" --quiet 2>/dev/null)"
findings="$(echo "$out" | grep -E ': (warning|error): ' | sort -u)"
if [[ -n "$findings" ]]; then
  echo "$findings"
  echo "tidy: $(echo "$findings" | wc -l) findings in ${#files[@]} files"
  exit 1
fi
echo "tidy: ok (${#files[@]} files)"
