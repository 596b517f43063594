#!/usr/bin/env bash
# Checks the include rules of the layers (HOUSE_RULES.md #12), following the
# project's own includes: a file breaks a rule if anything it includes, at
# any depth, brings in what the rule forbids (the report shows the chain).
#   protocol/        no caf/, no boost/ (pure wire format)
#   pure models      no caf/ (actors/**/ files that are not actors: see
#                    `actor_code` below), except through actors/messages.hpp
#                    (the value types' CAF inspectors; issue 24 moves them)
#   Beast            only in runtime/ws_* and runtime/http_client.cpp (the
#                    sessions, listener, TLS stream, HTTP client), and in
#                    tools/baseline/ (the bare Beast reference server) and
#                    the session's fuzz target and tests
#   msgpack          only in protocol/*.cpp
#   libcurl          only in runtime/push_http.cpp (the push providers'
#                    client; its header is libcurl-free)
#   caf/io/          only in runtime/ and actors/cluster/*.cpp (the
#                    middleman), and the cluster port's attack test (an
#                    intruder's middleman)
#   caf/all.hpp      nowhere
#   the kernel       actors/*.hpp reach no header of a component folder
#                    (actors/<component>/): components depend on the kernel
# Usage: check_layers.sh [ROOT] (default: this checkout).
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
python3 - "$root" <<'PY'
import os, re, sys
from fnmatch import fnmatch

root = sys.argv[1]
dirs = ["actors", "protocol", "runtime", "config", "tools", "test"]
include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)

files = set()
for d in dirs:
    for dp, _, names in os.walk(os.path.join(root, d)):
        for n in names:
            if n.endswith((".hpp", ".cpp", ".h")):
                files.add(os.path.relpath(os.path.join(dp, n), root))

# Each file's includes: project files (by path from the root, or relative to
# the including file) and the others (system and library headers).
direct = {}
for f in files:
    text = open(os.path.join(root, f), errors="replace").read()
    project, other = [], []
    for name in include.findall(text):
        hit = next((c for c in (name, os.path.normpath(
            os.path.join(os.path.dirname(f), name))) if c in files), None)
        (project if hit else other).append(hit or name)
    direct[f] = (project, other)

def reach(f, skip=()):
    """Headers `f` brings in, library and project ones, each with the chain
    of project files that includes it, not looking into those in `skip`."""
    seen, found, todo = {f}, {}, [(f, (f,))]
    while todo:
        cur, chain = todo.pop()
        project, other = direct[cur]
        for h in other + project:
            found.setdefault(h, chain)
        for p in project:
            if p not in seen and p not in skip:
                seen.add(p)
                todo.append((p, chain + (p,)))
    return found

def actor_code(f):
    return any(fnmatch(f, p) for p in (
        "actors/*_actor.*", "actors/*/*_actor.*", "actors/messages.*",
        "actors/interfaces.hpp", "actors/atoms.hpp", "actors/fan_in.*",
        "actors/errors.*", "actors/loop_affinity.*",
        # a message's relay to other nodes (requests to their links)
        "actors/cluster/relay.*",
        # the connection actor's own parts
        "actors/connection/connection_detail.hpp",
        "actors/connection/control_requests.cpp",
        # and the cluster actor's, the directory shard's
        "actors/cluster/cluster_detail.hpp",
        "actors/cluster/cluster_relays.cpp",
        "actors/directory/directory_detail.hpp",
        "actors/directory/directory_rooms.cpp"))

rules = [
    ("protocol is pure", lambda f: f.startswith("protocol/"),
     lambda h: h.startswith(("caf/", "boost/")), ()),
    ("a pure model includes CAF", lambda f: f.startswith("actors/") and not actor_code(f),
     lambda h: h.startswith("caf/"), ("actors/messages.hpp",)),
    ("Beast outside the sessions", lambda f: not any(fnmatch(f, p) for p in (
        "runtime/ws_*", "runtime/http_client.cpp", "tools/baseline/*",
        "test/fuzz/session.cpp", "test/runtime/ws_session.cpp",
        "test/runtime/ws_tls_stream.cpp", "test/support/session_test_stream.hpp")),
     lambda h: h.startswith("boost/beast"), ()),
    ("msgpack outside protocol/*.cpp", lambda f: not fnmatch(f, "protocol/*.cpp"),
     lambda h: h.startswith("msgpack"), ()),
    ("caf/io outside runtime/ and the cluster's sources",
     lambda f: not (f.startswith("runtime/") or fnmatch(f, "actors/cluster/*.cpp")
                    or f == "test/integration/cluster_trust.cpp"),
     lambda h: h.startswith("caf/io/"), ()),
    ("libcurl outside the push client", lambda f: f != "runtime/push_http.cpp",
     lambda h: h.startswith("curl/"), ()),
    ("caf/all.hpp", lambda f: True, lambda h: h == "caf/all.hpp", ()),
    # The kernel (actors/*.hpp: atoms, messages, records, ports, interfaces
    # and the shared helpers) depends on no component: components include it.
    ("the kernel includes a component",
     lambda f: fnmatch(f, "actors/*.hpp") and f.count("/") == 1,
     lambda h: h.startswith("actors/") and h.count("/") > 1, ()),
]

failed = 0
for f in sorted(files):
    for name, applies, forbidden, skip in rules:
        if not applies(f):
            continue
        for h, chain in sorted(reach(f, skip).items()):
            if forbidden(h):
                print(f"layer violation ({name}): {' > '.join(chain)} > {h}")
                failed += 1
                break
if failed:
    sys.exit(1)
print(f"layers: ok ({len(files)} files, includes followed)")
PY
