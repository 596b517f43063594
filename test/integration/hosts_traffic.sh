#!/bin/bash
# "Several hosts" with traffic: makes three node namespaces (10.201.0.1-3)
# joined by veth pairs to a bridge in a switch namespace (10.201.0.254,
# where the clients run), runs the JS test given as arguments there
# (`node --test ...`; it starts tetherd in the node namespaces and cuts one
# off with iptables), and removes the namespaces however it ends. Needs
# root (CI runs as root) and iproute2 + iptables (tools/bootstrap.sh).
set -euo pipefail
p="tht$(( $$ % 100000 ))"
ns=("${p}a" "${p}b" "${p}c")
sw="${p}s"
cleanup() {
  for n in "${ns[@]}" "$sw"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then
  echo "hosts_traffic.sh: needs root (it makes network namespaces)" >&2
  exit 1
fi
ip netns add "$sw"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" addr add 10.201.0.254/24 dev br0
ip -n "$sw" link set br0 up
ip -n "$sw" link set lo up
for i in 0 1 2; do
  ip netns add "${ns[$i]}"
  ip -n "$sw" link add "v${i}s" type veth peer name eth0 netns "${ns[$i]}"
  ip -n "$sw" link set "v${i}s" master br0
  ip -n "$sw" link set "v${i}s" up
  ip -n "${ns[$i]}" addr add "10.201.0.$((i + 1))/24" dev eth0
  ip -n "${ns[$i]}" link set eth0 up
  ip -n "${ns[$i]}" link set lo up
done
TETHER_NETNS="${ns[*]}" ip netns exec "$sw" "$@"
