#!/bin/bash
# "Several hosts" with traffic: makes three node namespaces (10.201.0.1-3)
# joined by veth pairs to a bridge in a switch namespace (10.201.0.254,
# where the clients run), runs the JS test given as arguments there
# (`node --test ...`; it starts tetherd in the node namespaces and cuts one
# off with iptables), and removes the namespaces however it ends. Needs
# root (CI runs as root) and iproute2 + iptables (tools/bootstrap.sh).
set -euo pipefail
source "$(dirname "$0")/../../tools/lib/hosts.sh"
trap hosts_down EXIT
if [ "$(id -u)" != 0 ]; then
  echo "hosts_traffic.sh: needs root (it makes network namespaces)" >&2
  exit 1
fi
hosts_up "tht$(( $$ % 100000 ))" 10.201.0 3
TETHER_NETNS="${HOSTS_NS[*]}" ip netns exec "$HOSTS_SW" "$@"
