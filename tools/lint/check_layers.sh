#!/usr/bin/env bash
# Checks the include rules of the layers (HOUSE_RULES.md #12):
#   protocol/        no caf/, no boost/ (pure wire format)
#   pure models      no caf/ (actors/**/ files that are not *_actor.*,
#                    messages.*, interfaces.hpp, atoms.hpp, fan_in.*,
#                    errors.*, loop_affinity.*)
#   Beast            only in runtime/ws_*.cpp and runtime/ws_detail*.hpp (and
#                    tools/baseline/, the bare Beast reference server, and
#                    the session's fuzz target and tests)
#   msgpack          only in protocol/*.cpp
#   caf/io/          only in runtime/ and actors/cluster/ (the middleman), and
#                    the cluster port's attack test (an intruder's middleman)
#   caf/all.hpp      nowhere
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
fail=0
report() { echo "layer violation: $1"; fail=1; }

while IFS= read -r f; do report "$f includes CAF or Boost (protocol is pure)"; done \
  < <(grep -lE '#include <(caf|boost)/' protocol -r --include='*.hpp' --include='*.cpp')

while IFS= read -r f; do
  case "$f" in
    *_actor.hpp|*_actor.cpp|actors/messages.*|actors/interfaces.hpp|actors/atoms.hpp|actors/fan_in.*|actors/errors.*|actors/loop_affinity.*) ;;
    *) report "$f is a pure model but includes caf/" ;;
  esac
done < <(grep -lE '#include <caf/' actors -r --include='*.hpp' --include='*.cpp')

while IFS= read -r f; do
  case "$f" in
    runtime/ws_*.cpp|runtime/ws_detail*.hpp|tools/baseline/*.cpp|test/fuzz/session.cpp|test/runtime/ws_session.cpp|test/runtime/ws_tls_stream.cpp|test/support/session_test_stream.hpp) ;;
    *) report "$f includes Beast (only runtime/ws_*.cpp may)" ;;
  esac
done < <(grep -rlE '#include <boost/beast' actors protocol runtime config tools test \
           --include='*.hpp' --include='*.cpp')

while IFS= read -r f; do
  case "$f" in
    protocol/*.cpp) ;;
    *) report "$f includes msgpack (only protocol/*.cpp may)" ;;
  esac
done < <(grep -rlE '#include <msgpack' actors protocol runtime config tools test \
           --include='*.hpp' --include='*.cpp')

while IFS= read -r f; do
  case "$f" in
    runtime/*|actors/cluster/*|test/integration/cluster_trust.cpp) ;;
    *) report "$f includes caf/io (only runtime/ and actors/cluster/ may)" ;;
  esac
done < <(grep -rlE '#include <caf/io/' actors protocol config tools test \
           --include='*.hpp' --include='*.cpp')

while IFS= read -r f; do report "$f includes caf/all.hpp"; done \
  < <(grep -rlE '#include <caf/all.hpp>' actors protocol runtime config tools test \
           --include='*.hpp' --include='*.cpp')

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "layers: ok"
