#!/usr/bin/env bash
# Installs every Debian 12 package Tether needs to build, run and test.
# Idempotent: packages already present are skipped; apt runs only when something is missing.
set -euo pipefail

packages=(
  # toolchain (clang-14 and its runtime: the libFuzzer targets, tools/fuzz.sh)
  g++ cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev
  # the house checks of tools/test.sh (tools/lint/check_format.sh, check_tidy.sh)
  clang-format-14 clang-tidy-14
  # libraries (the fixed stack)
  libcaf-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev zlib1g-dev
  libssl-dev libsqlite3-dev rapidjson-dev libspdlog-dev
  # the push providers' client: HTTP/2 (APNs requires it) with reused
  # connections, driven from one thread without blocking an actor
  libcurl4-openssl-dev
  # independent clients and tools for the tests (interop, multi-host, sqlite checks)
  python3 python3-websockets python3-msgpack iproute2 procps sqlite3
  # partitions between network namespaces in the cluster tests (iptables DROP)
  iptables
  # the JavaScript client's tests (Node's test runner; npm installs ws)
  nodejs
  # the dashboard's browser test (headless, driven by npm's playwright-core,
  # which downloads no browser of its own)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Debian ships npm apart from nodejs; NodeSource's nodejs includes it.
if ! command -v npm >/dev/null 2>&1 \
   && ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
