#!/usr/bin/env bash
# lab.sh: a network-namespace lab around concentrator-dp, for the system tests
# and the demo. Three namespaces joined by two veth pairs, MACs fixed so the
# config's gateway_mac values are known in advance:
#
#   NAME-cl (client, internet side)     NAME-dp (concentrator-dp)        NAME-co (core host)
#   eth0 02:00:00:00:01:01  <--veth-->  dpacc  02:00:00:00:01:02
#                                       dpcore 02:00:00:00:02:02  <--veth-->  eth0 02:00:00:00:02:01
#
# concentrator-dp runs in NAME-dp with af_packet vdevs on dpacc and dpcore
# ("net_af_packet0,iface=dpacc"); those ends are up and have no IP address,
# so the kernel of NAME-dp stays out of the way. IPv6 is off in every
# namespace so no router solicitations or MLD reports reach the data plane.
# Peers send and sniff raw Ethernet on the two eth0s (scapy), so they need
# no addresses either.
#
# Usage:
#   scripts/lab.sh up [NAME]      create the lab (default NAME: conclab), print its LAB_* variables
#   scripts/lab.sh down [NAME]    remove it
#   scripts/lab.sh env [NAME]     print the LAB_* variables of a lab that is up
# Or source it and call lab_up NAME / lab_down NAME: lab_up exports LAB_*.

LAB_STATE_DIR=${LAB_STATE_DIR:-/run/concentrator-lab}

lab_up() {
    local name=${1:-conclab}
    export LAB_NAME=$name
    export LAB_NS_CL=$name-cl LAB_NS_DP=$name-dp LAB_NS_CO=$name-co
    export LAB_IF_CL=eth0 LAB_IF_CO=eth0 LAB_IF_DPACC=dpacc LAB_IF_DPCORE=dpcore
    export LAB_CL_MAC=02:00:00:00:01:01 LAB_DPACC_MAC=02:00:00:00:01:02
    export LAB_DPCORE_MAC=02:00:00:00:02:02 LAB_CO_MAC=02:00:00:00:02:01
    export LAB_ACCESS_ADDRESS=198.51.100.1 LAB_CORE_ADDRESS=10.0.0.1 LAB_CORE_HOST=10.0.0.2
    local ns
    for ns in "$LAB_NS_CL" "$LAB_NS_DP" "$LAB_NS_CO"; do
        if [ -e "/var/run/netns/$ns" ]; then
            echo "lab.sh: namespace $ns exists already (lab.sh down $name?)" >&2
            return 1
        fi
    done
    local made=1  # a namespace that could not be made: the ones before it are removed below
    {
        for ns in "$LAB_NS_CL" "$LAB_NS_DP" "$LAB_NS_CO"; do
            ip netns add "$ns" || { made=0; break; }
            ip -n "$ns" link set lo up
            if [ -d /proc/sys/net/ipv6 ]; then
                ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
                    net.ipv6.conf.default.disable_ipv6=1 >/dev/null
            fi
        done
        # Created directly inside the namespaces: no names in the host's namespace to collide with.
        [ "$made" = 1 ] &&
        ip -n "$LAB_NS_DP" link add "$LAB_IF_DPACC" address "$LAB_DPACC_MAC" type veth \
            peer name "$LAB_IF_CL" address "$LAB_CL_MAC" netns "$LAB_NS_CL" &&
        ip -n "$LAB_NS_DP" link add "$LAB_IF_DPCORE" address "$LAB_DPCORE_MAC" type veth \
            peer name "$LAB_IF_CO" address "$LAB_CO_MAC" netns "$LAB_NS_CO" &&
        ip -n "$LAB_NS_DP" link set "$LAB_IF_DPACC" up &&
        ip -n "$LAB_NS_DP" link set "$LAB_IF_DPCORE" up &&
        ip -n "$LAB_NS_CL" link set "$LAB_IF_CL" up &&
        ip -n "$LAB_NS_CO" link set "$LAB_IF_CO" up
    } || { echo "lab.sh: could not build lab $name" >&2; lab_down "$name"; return 1; }
    mkdir -p "$LAB_STATE_DIR"
    lab_env >"$LAB_STATE_DIR/$name.env"
}

lab_env() {
    local v
    for v in LAB_NAME LAB_NS_CL LAB_NS_DP LAB_NS_CO LAB_IF_CL LAB_IF_CO LAB_IF_DPACC LAB_IF_DPCORE \
             LAB_CL_MAC LAB_DPACC_MAC LAB_DPCORE_MAC LAB_CO_MAC LAB_ACCESS_ADDRESS LAB_CORE_ADDRESS \
             LAB_CORE_HOST; do
        echo "export $v=${!v}"
    done
}

lab_down() {
    local name=${1:-${LAB_NAME:-conclab}} ns pids
    for ns in "$name-cl" "$name-dp" "$name-co"; do
        [ -e "/var/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        # Whoever started them stops them; a namespace with processes outlives its name.
        [ -n "$pids" ] && echo "lab.sh: processes still in $ns: $pids" >&2
        ip netns del "$ns"
    done
    rm -f "$LAB_STATE_DIR/$name.env"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -eu
    cmd=${1:-}
    name=${2:-conclab}
    case $cmd in
        up) lab_up "$name"; lab_env ;;
        down) lab_down "$name" ;;
        env)
            [ -f "$LAB_STATE_DIR/$name.env" ] || { echo "lab.sh: no lab $name" >&2; exit 1; }
            cat "$LAB_STATE_DIR/$name.env" ;;
        *) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
fi
