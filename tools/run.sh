#!/usr/bin/env bash
# Installs what is missing, builds Tether (Release) and runs tetherd on its
# embedded defaults (0.0.0.0:8080, data in ./tether-data). Extra arguments
# go to tetherd, e.g. tools/run.sh --config config/examples/dev.ini
# (loopback only, debug log) or tools/run.sh --port 9000.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/bootstrap.sh"
build="$root/build-release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTETHER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target tetherd tether
cd "$root"
exec "$build/bin/tetherd" "$@"
