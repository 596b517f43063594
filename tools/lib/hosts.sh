# "Several hosts" on one machine (sourced by test/integration/hosts_traffic.sh
# and tools/chaos.sh): N node namespaces <prefix>a, b, ... with addresses
# <net>.1..N, joined by veth pairs to a bridge in a switch namespace
# <prefix>s (<net>.254), where clients run. Needs root and iproute2.
#
#   hosts_up PREFIX NET N   makes them; sets HOSTS_NS (array) and HOSTS_SW
#   hosts_down              removes them (also if hosts_up failed halfway)

hosts_up() {
  local p=$1 net=$2 n=$3 i
  HOSTS_NS=()
  HOSTS_SW="${p}s"
  for ((i = 0; i < n; i++)); do HOSTS_NS+=("${p}$(printf "\\x$(printf %x $((97 + i)))")"); done
  ip netns add "$HOSTS_SW"
  ip -n "$HOSTS_SW" link add br0 type bridge
  ip -n "$HOSTS_SW" addr add "$net.254/24" dev br0
  ip -n "$HOSTS_SW" link set br0 up
  ip -n "$HOSTS_SW" link set lo up
  for ((i = 0; i < n; i++)); do
    ip netns add "${HOSTS_NS[$i]}"
    ip -n "$HOSTS_SW" link add "v${i}s" type veth peer name eth0 netns "${HOSTS_NS[$i]}"
    ip -n "$HOSTS_SW" link set "v${i}s" master br0
    ip -n "$HOSTS_SW" link set "v${i}s" up
    ip -n "${HOSTS_NS[$i]}" addr add "$net.$((i + 1))/24" dev eth0
    ip -n "${HOSTS_NS[$i]}" link set eth0 up
    ip -n "${HOSTS_NS[$i]}" link set lo up
  done
}

hosts_down() {
  local n
  for n in "${HOSTS_NS[@]}" "$HOSTS_SW"; do
    [ -n "$n" ] && ip netns del "$n" 2>/dev/null || true
  done
}
