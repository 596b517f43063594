#!/usr/bin/env bash
# Fails when a tracked C++ file is not formatted as .clang-format says
# (clang-format-14, check mode). To format: tools/lint/check_format.sh --fix
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# Tracked files that exist (a deletion not staged yet is not a finding).
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' | while IFS= read -r f; do
  [[ -f "$f" ]] && echo "$f"
done)
if [[ "${1:-}" == "--fix" ]]; then
  clang-format-14 -i "${files[@]}"
  exit 0
fi
out="$(clang-format-14 --dry-run -Werror "${files[@]}" 2>&1)"
if [[ -n "$out" ]]; then
  echo "$out" | grep -E '^[^ ].*error:' | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
  echo "format: $(echo "$out" | grep -c 'error:') findings; fix with tools/lint/check_format.sh --fix"
  exit 1
fi
echo "format: ok (${#files[@]} files)"
