#!/usr/bin/env bash
# Produce a capture with IP-fragmented (and TCP-segmented) SIP INVITEs.
#
#   fragments.sh --out DIR [--no-ipv6] [--no-tcp]
#
# Creates two private network namespaces joined by veth pairs:
#   sipscope-frag-uas  <-- sipscope-v4a / sipscope-v4b -->  sipscope-frag-uac
#     IPv4: MTU 576, 192.0.2.1/24 (UAS) - 192.0.2.2/24 (UAC)   (TEST-NET-1)
#     IPv6: second pair sipscope-v6a / sipscope-v6b, MTU 1280 (the IPv6
#           minimum: Linux disables IPv6 on links below 1280, so IPv6 cannot
#           share the 576-byte link), 2001:db8::1/64 - 2001:db8::2/64
# runs sipp UAS (uas_answered.xml) in one and sipp UAC (uac_fragmented.xml,
# ~2.7 kB INVITE) in the other, captures inside the UAS namespace to
# DIR/fragments.pcap, deletes the namespaces (trap) and writes DIR/expected.tsv.
# Nothing is sent outside the namespaces.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
SCEN=$HERE/scenarios

usage() { echo "usage: $0 --out DIR [--no-ipv6] [--no-tcp]" >&2; exit 2; }
OUT=""
IPV6=1
TCP=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--no-ipv6) IPV6=0; shift ;;
	--no-tcp) TCP=0; shift ;;
	-h|--help) usage ;;
	*) echo "unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$OUT" ] || usage
[ "$(id -u)" = 0 ] || { echo "needs root (ip netns)" >&2; exit 1; }
for tool in ip sipp tcpdump; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOGS=$OUT/logs-fragments
rm -rf "$LOGS"
mkdir -p "$LOGS"
rm -f "$OUT/fragments.pcap" "$OUT/expected.tsv"

NS_UAS=sipscope-frag-uas
NS_UAC=sipscope-frag-uac
RUNID=$(date +%H%M%S)-$$
T0=$(date +%s.%N)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

kill_ns_procs() { # stop every process inside our own namespace, by pid
	local ns=$1 pid sig
	ip netns list | grep -qw "$ns" || return 0
	for sig in "$2" KILL; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "-$sig" "$pid" 2>/dev/null || true
		done
		for _ in $(seq 1 30); do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.1
		done
	done
}

teardown() {
	# tcpdump first with SIGINT so that the pcap is flushed and closed
	kill_ns_procs "$NS_UAS" INT
	kill_ns_procs "$NS_UAC" TERM
	wait 2>/dev/null || true
	ip netns del "$NS_UAS" 2>/dev/null || true
	ip netns del "$NS_UAC" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	teardown
	exit "$rc"
}

# leftovers of an interrupted earlier run (these names are ours)
teardown
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS_UAS"
ip netns add "$NS_UAC"
inu() { ip netns exec "$NS_UAS" "$@"; }
inc() { ip netns exec "$NS_UAC" "$@"; }
inu ip link set lo up
inc ip link set lo up

# IPv4 link, MTU 576 (veth ends are created inside the UAS namespace and one
# is moved, so nothing ever appears in the root namespace)
inu ip link add sipscope-v4a mtu 576 type veth peer name sipscope-v4b mtu 576
inu ip link set sipscope-v4b netns "$NS_UAC"
inu ip addr add 192.0.2.1/24 dev sipscope-v4a
inc ip addr add 192.0.2.2/24 dev sipscope-v4b
inu ip link set sipscope-v4a up
inc ip link set sipscope-v4b up
# no TSO/GSO super-packets: make TCP put MSS-sized segments on the wire (and
# in the capture), like a real NIC link would
nogso() { "$@" 2>/dev/null || log "note: could not limit GSO ($*)"; }
nogso inu ip link set sipscope-v4a gso_max_segs 1
nogso inc ip link set sipscope-v4b gso_max_segs 1

if [ "$IPV6" = 1 ]; then
	inu sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 || true
	inc sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 || true
	inu ip link add sipscope-v6a mtu 1280 type veth peer name sipscope-v6b mtu 1280
	inu ip link set sipscope-v6b netns "$NS_UAC"
	inu ip -6 addr add 2001:db8::1/64 dev sipscope-v6a nodad
	inc ip -6 addr add 2001:db8::2/64 dev sipscope-v6b nodad
	inu ip link set sipscope-v6a up
	inc ip link set sipscope-v6b up
	nogso inu ip link set sipscope-v6a gso_max_segs 1
	nogso inc ip link set sipscope-v6b gso_max_segs 1
fi

# capture everything in the UAS namespace (no port filter: non-first
# fragments carry no UDP header and would not match one)
inu tcpdump -i any -w "$OUT/fragments.pcap" -s 0 -U -Z root -n 2>"$LOGS/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 1 50); do
	grep -q "listening on" "$LOGS/tcpdump.log" 2>/dev/null && break
	kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$LOGS/tcpdump.log" >&2; exit 1; }
	sleep 0.1
done

wait_listen() { # ns proto ip port
	local flag=-lnu
	[ "$2" = tcp ] && flag=-lnt
	for _ in $(seq 1 50); do
		ip netns exec "$1" ss -H $flag "sport = :$4" | grep -q . && return 0
		sleep 0.1
	done
	echo "UAS $3 $2/$4 did not start" >&2
	return 1
}

# runs: name transport family uas-ip uac-ip uas-port
RUNS=("fragmented-v4 udp 4 192.0.2.1 192.0.2.2 5060")
[ "$TCP" = 1 ] && RUNS+=("segmented-v4 tcp 4 192.0.2.1 192.0.2.2 5062")
if [ "$IPV6" = 1 ]; then
	RUNS+=("fragmented-v6 udp 6 2001:db8::1 2001:db8::2 5064")
	[ "$TCP" = 1 ] && RUNS+=("segmented-v6 tcp 6 2001:db8::1 2001:db8::2 5066")
fi

for run in "${RUNS[@]}"; do
	read -r name tr fam uip cip port <<<"$run"
	(cd "$LOGS" && exec ip netns exec "$NS_UAS" sipp -sf "$SCEN/uas_answered.xml" \
		-i "$uip" -bind_local -p "$port" -t "${tr:0:1}1" -nostdin \
		-trace_msg -message_file "$LOGS/uas_$name.msg" \
		-trace_err -error_file "$LOGS/uas_$name.err" >"$LOGS/uas_$name.out" 2>&1) &
	wait_listen "$NS_UAS" "$tr" "$uip" "$port"
done

printf 'call_id\ttransport\tscenario\texpected_outcome\texpected_final_status\n' >"$OUT/expected.tsv"
FAILED=()
declare -A UAC_PID=()
for run in "${RUNS[@]}"; do
	read -r name tr fam uip cip port <<<"$run"
	remote=$uip
	[ "$fam" = 6 ] && remote="[$uip]"
	(cd "$LOGS" && exec ip netns exec "$NS_UAC" sipp "$remote:$port" -sf "$SCEN/uac_fragmented.xml" \
		-s fragmented -i "$cip" -bind_local -p $((port + 100)) -t "${tr:0:1}1" -m 1 -nostdin \
		-cid_str "$name-$tr-%u-$RUNID@sipscope.test" -timeout 15s -timeout_error \
		-trace_msg -message_file "$LOGS/uac_$name.msg" \
		-trace_err -error_file "$LOGS/uac_$name.err" >"$LOGS/uac_$name.out" 2>&1) &
	UAC_PID[$name]=$!
done
for run in "${RUNS[@]}"; do
	read -r name tr fam uip cip port <<<"$run"
	rc=0
	wait "${UAC_PID[$name]}" || rc=$?
	[ "$rc" = 0 ] || { FAILED+=("$name(rc=$rc)"); log "UAC $name FAILED (see $LOGS/uac_$name.*)"; }
	cid=$(grep -aoE '^Call-ID: *[^ ]+' "$LOGS/uac_$name.msg" 2>/dev/null | head -1 |
		sed -E 's/^Call-ID: *//; s/\r$//' || true)
	[ -n "$cid" ] || cid="$name-$tr-1-$RUNID@sipscope.test"
	printf '%s\t%s\t%s\t%s\t%s\n' "$cid" "$tr" "$name" answered 200 >>"$OUT/expected.tsv"
	size=$(grep -a -A1 -m1 -E '^(UDP|TCP) message sent' "$LOGS/uac_$name.msg" | head -1 | grep -oE '[0-9]+ bytes' || true)
	log "$name: INVITE $size, sipp rc=$rc"
done

# let the last packets reach the file: on a loaded machine tcpdump can lag the UAC's exit, so
# wait until the capture stops growing (1 s stable, at most 10 s) rather than a fixed pause
wait_stable "$OUT/fragments.pcap"
teardown
trap - EXIT

T1=$(date +%s.%N)
log "done in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s; capture $OUT/fragments.pcap"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "FAILED: ${FAILED[*]}" >&2
	exit 1
fi
