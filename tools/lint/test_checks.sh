#!/usr/bin/env bash
# Shows that the lint checks can fail (ctest lint.checks_fail): check_tidy.sh
# with clang-tidy missing, crashing and finding something; check_layers.sh
# on a small tree whose violation is two includes deep, and on a clean one.
# Works in a temporary directory of its own.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
expect() { # expect STATUS NAME -- command...
  local want="$1" name="$2"
  shift 3
  local out status
  out="$("$@" 2>&1)"
  status=$?
  if [[ $status -ne $want ]]; then
    echo "FAIL $name: exit $status, expected $want; output:"
    echo "$out" | tail -n 5
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $status): $(echo "$out" | tail -n 1)"
  fi
}

# A build directory with a compilation database of one file.
mkdir -p "$tmp/build" "$tmp/tools"
echo 'int main() { return 0; }' >"$tmp/tools/one.cpp"
cat >"$tmp/build/compile_commands.json" <<JSON
[{"directory": "$tmp", "file": "$(cd "$here/../.." && pwd)/tools/cli/main.cpp",
  "command": "c++ -c tools/cli/main.cpp"}]
JSON
cat >"$tmp/crash" <<'SH'
#!/usr/bin/env bash
kill -SEGV $$
SH
cat >"$tmp/finding" <<'SH'
#!/usr/bin/env bash
echo "tools/cli/main.cpp:1:1: error: a finding [bugprone-test]"
exit 1
SH
cat >"$tmp/clean" <<'SH'
#!/usr/bin/env bash
exit 0
SH
chmod +x "$tmp/crash" "$tmp/finding" "$tmp/clean"
expect 2 "tidy: clang-tidy missing" -- \
  env TETHER_CLANG_TIDY="$tmp/absent" "$here/check_tidy.sh" "$tmp/build"
expect 2 "tidy: clang-tidy crashes" -- \
  env TETHER_CLANG_TIDY="$tmp/crash" "$here/check_tidy.sh" "$tmp/build"
expect 1 "tidy: a finding" -- \
  env TETHER_CLANG_TIDY="$tmp/finding" "$here/check_tidy.sh" "$tmp/build"
expect 0 "tidy: nothing found" -- \
  env TETHER_CLANG_TIDY="$tmp/clean" "$here/check_tidy.sh" "$tmp/build"

# Layers: protocol/a.hpp and b.hpp include no library header themselves;
# a.hpp reaches CAF two includes deep, through b.hpp and config/c.hpp.
tree="$tmp/tree"
mkdir -p "$tree/protocol" "$tree/config" "$tree/actors/queue"
printf '#include "protocol/b.hpp"\n' >"$tree/protocol/a.hpp"
printf '#include "../config/c.hpp"\n' >"$tree/protocol/b.hpp"
printf '#include <caf/actor.hpp>\n' >"$tree/config/c.hpp"
printf '#include <string>\n' >"$tree/actors/queue/model.hpp"
expect 1 "layers: a violation two includes deep" -- \
  "$here/check_layers.sh" "$tree"
printf '#include <string>\n' >"$tree/config/c.hpp"
expect 0 "layers: a clean tree" -- "$here/check_layers.sh" "$tree"
# A pure model reaching CAF through an actor header is caught too.
printf '#include "actors/queue/queue_actor.hpp"\n' >"$tree/actors/queue/model.hpp"
printf '#include <caf/typed_actor.hpp>\n' >"$tree/actors/queue/queue_actor.hpp"
expect 1 "layers: a pure model through an actor header" -- \
  "$here/check_layers.sh" "$tree"
# The kernel (actors/*.hpp) reaching a component through another kernel file.
rm "$tree/actors/queue/queue_actor.hpp"
printf '#include <string>\n' >"$tree/actors/queue/model.hpp"
printf '#include "actors/records.hpp"\n' >"$tree/actors/messages.hpp"
printf '#include "actors/queue/model.hpp"\n' >"$tree/actors/records.hpp"
expect 1 "layers: the kernel reaching a component" -- \
  "$here/check_layers.sh" "$tree"
printf '#include <string>\n' >"$tree/actors/records.hpp"
expect 0 "layers: a kernel of its own" -- "$here/check_layers.sh" "$tree"

if [[ $failures -ne 0 ]]; then
  echo "lint checks: $failures failed"
  exit 1
fi
echo "lint checks: all fail when they should"
