#!/usr/bin/env bash
# Installs what is missing, builds Tether (Release) and runs tetherd on the
# development settings (config/examples/dev.ini). Extra arguments go to
# tetherd, e.g. tools/run.sh --port 9000.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/bootstrap.sh"
build="$root/build-release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTETHER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target tetherd tether
cd "$root"
exec "$build/bin/tetherd" --config "$root/config/examples/dev.ini" "$@"
