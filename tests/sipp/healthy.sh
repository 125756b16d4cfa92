#!/usr/bin/env bash
# Healthy busy traffic for the alert detectors' precision test: kamailio (tests/sipp/
# kamailio-healthy.cfg) as proxy and digest registrar, sipp callers, callee gateways,
# registering front-ends and a load balancer's OPTIONS, every one on a loopback address of its
# own (127.0.0.101-109, UDP port 5300; nothing leaves 127.0.0.0/8):
#
#   127.0.0.101       kamailio
#   127.0.0.102-103   callers, --cps/2 calls a second each, 3 s hold for the answered ones
#   127.0.0.104-105   callee gateways (scenarios/healthy/uas_mixed.xml)
#   127.0.0.106-108   front-ends registering --users users between them (401, then 200),
#                     each user twice in the run
#   127.0.0.109       OPTIONS to the proxy every second
#
# The calls' ordinary outcomes, per 25 calls: 19 answered, 1 busy (486), 1 unavailable (480),
# 1 gateway failure (503, relayed 500), 1 unanswered (the proxy CANCELs, the caller gets 408),
# 1 cancelled by the caller (487), 1 to an unregistered user (404 from the proxy): a fifth of
# the calls fail, steadily, from the first second to the last.
#
#   healthy.sh --out DIR [--seconds 180] [--cps 20] [--users 3000]
#
# Writes DIR/healthy.pcap (signalling only: no RTP) and DIR/logs/. The committed capture
# samples/kamailio-healthy-busy.pcap.gz was made by `healthy.sh --out DIR` with the defaults,
# then `gzip -9`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
SCEN=$HERE/scenarios/healthy
OUT=""
SECONDS_RUN=180
CPS=20
USERS=3000
usage() { echo "usage: $0 --out DIR [--seconds N] [--cps N] [--users N]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
	--seconds) SECONDS_RUN=${2:?}; shift 2 ;;
	--cps) CPS=${2:?}; shift 2 ;;
	--users) USERS=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$OUT" ] || usage
for tool in sipp kamailio tcpdump ss; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
LOGS=$OUT/logs
WORK=$(mktemp -d /tmp/sipscope-healthy.XXXXXX)
PIDS=()
UAC=()
KAM_PID=""
TCPDUMP_PID=""
PORT=5300
PROXY=127.0.0.101

cleanup() {
	local rc=$? pid kids=""
	set +e
	for pid in "${UAC[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${UAC[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if [ -n "$KAM_PID" ]; then
		kids=$(ps -o pid= --ppid "$KAM_PID" 2>/dev/null)
		kill -TERM "$KAM_PID" 2>/dev/null
		wait "$KAM_PID" 2>/dev/null
		for pid in $kids; do kill -KILL "$pid" 2>/dev/null; done
	fi
	if [ -n "$TCPDUMP_PID" ]; then
		wait_stable "$OUT/healthy.pcap"
		kill -INT "$TCPDUMP_PID" 2>/dev/null
		wait "$TCPDUMP_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() { # ip
	local _
	for _ in $(seq 1 50); do
		ss -Hlnu "src $1:$PORT" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing listens on $1:$PORT" >&2
	return 1
}

# The callers' Request-URIs: per 25 calls the mix above, callees alternating, numbers drawn
# from a fixed seed (no sequential extensions: that is what a scanner does).
per=$((CPS / 2))
calls=$((per * SECONDS_RUN))
for c in 0 1; do
	awk -v n="$calls" -v seed=$((c + 1)) 'BEGIN {
		srand(seed); print "SEQUENTIAL"
		split("busy gone fail ring stop nobody", odd, " ")
		for (i = 0; i < n; i++) {
			k = i % 25; num = sprintf("0%09d", int(rand() * 1e9))
			p = (k < 19) ? "ok" : odd[k - 18]
			host = (p == "nobody") ? "127.0.0.101:5300" : ((i % 2) ? "127.0.0.105:5300" : "127.0.0.104:5300")
			print p "-" num ";" host
		}
	}' >"$WORK/calls$c.csv"
done
# The front-ends' users: USERS/3 each, registered twice over the run (the list cycles).
fe_users=$((USERS / 3))
fe_rate=$(((2 * fe_users + SECONDS_RUN - 1) / SECONDS_RUN))
for f in 0 1 2; do
	{ echo SEQUENTIAL; for u in $(seq $((1000 + f * fe_users)) $((999 + (f + 1) * fe_users))); do echo "u$u;[authentication username=u$u password=secret]"; done; } >"$WORK/users$f.csv"
done

tcpdump -i lo -w "$OUT/healthy.pcap" -s 0 -U -n "host $PROXY and udp port $PORT" 2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 50); do
	grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
	sleep 0.1
done

mkdir -p "$WORK/run"
kamailio -f "$HERE/kamailio-healthy.cfg" -DD -E -Y "$WORK/run" -P "$WORK/run/kamailio.pid" \
	-w "$WORK/run" -m 64 -M 8 >"$LOGS/kamailio.log" 2>&1 &
KAM_PID=$!
listening $PROXY

for ip in 127.0.0.104 127.0.0.105; do
	(cd "$LOGS" && exec sipp -sf "$SCEN/uas_mixed.xml" -i $ip -p $PORT -mp 5400 -nostdin \
		-trace_err -error_file "$LOGS/uas_$ip.err" >"$LOGS/uas_$ip.out" 2>&1) &
	PIDS+=($!)
	listening $ip
done

uac() { # name ip scenario rate count [extra...]
	local name=$1 ip=$2 sc=$3 rate=$4 count=$5
	shift 5
	(cd "$LOGS" && exec sipp "$PROXY:$PORT" -sf "$SCEN/$sc.xml" -i "$ip" -p $PORT -mp 5400 \
		-r "$rate" -m "$count" -l 2000 -nostdin -cid_str "$name-%u-$$@healthy.test" \
		-timeout $((SECONDS_RUN + 60))s -trace_err -error_file "$LOGS/uac_$name.err" "$@" \
		>"$LOGS/uac_$name.out" 2>&1) &
	UAC+=($!)
}
uac call0 127.0.0.102 uac_mixed "$per" "$calls" -inf "$WORK/calls0.csv"
uac call1 127.0.0.103 uac_mixed "$per" "$calls" -inf "$WORK/calls1.csv"
for f in 0 1 2; do
	uac "reg$f" "127.0.0.10$((6 + f))" uac_register "$fe_rate" $((2 * fe_users)) -inf "$WORK/users$f.csv"
done
uac options 127.0.0.109 uac_options 1 "$SECONDS_RUN"
rc=0
for pid in "${UAC[@]}"; do wait "$pid" || rc=1; done
UAC=()
# the callees' last ACKs and BYE answers
sleep 1
[ "$rc" = 0 ] || { echo "a sipp caller failed calls: see $LOGS" >&2; exit 1; }
