#!/usr/bin/env bash
# Scans and a registration flood for the scanner and registration-flood detectors, made by real
# sipp instances and kamailio (kamailio-healthy.cfg, moved to 127.0.1.100:5300) on loopback
# addresses of their own (nothing leaves 127.0.0.0/8):
#
#   127.0.1.100   kamailio: OPTIONS to itself 200, OPTIONS for an unknown user 404,
#                 REGISTER 401 then 200
#   127.0.0.50    svmap: OPTIONS to every address of 127.0.1.0/24, 100 a second, once each;
#                 only kamailio answers                                         scanner (sweep)
#   127.0.0.51    svwar: OPTIONS for extensions 100..999 to kamailio, 10 a second (90 s,
#                 longer than the window), every one 404                        scanner, once
#   127.0.0.52    a phone re-registering one AOR every second with Expires 3600 registration-flood
#   127.0.0.53    a load balancer's OPTIONS to kamailio every second            (no alert)
#   127.0.0.54    a phone re-registering every 30 s with Expires 60             (no alert)
#
#   scans.sh --out DIR
#
# Writes DIR/scans.pcap and DIR/logs/. The committed capture samples/sipp-scans.pcap.gz was
# made by `scans.sh --out DIR`, then `gzip -9`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
SCEN=$HERE/scenarios/sweep
OUT=""
PORT=5300
PROXY=127.0.1.100
usage() { echo "usage: $0 --out DIR" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
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
WORK=$(mktemp -d /tmp/sipscope-scans.XXXXXX)
UAC=()
KAM_PID=""
TCPDUMP_PID=""

cleanup() {
	local rc=$? pid kids=""
	set +e
	for pid in "${UAC[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${UAC[@]}"; do wait "$pid" 2>/dev/null; done
	if [ -n "$KAM_PID" ]; then
		kids=$(ps -o pid= --ppid "$KAM_PID" 2>/dev/null)
		kill -TERM "$KAM_PID" 2>/dev/null
		wait "$KAM_PID" 2>/dev/null
		for pid in $kids; do kill -KILL "$pid" 2>/dev/null; done
	fi
	if [ -n "$TCPDUMP_PID" ]; then
		wait_stable "$OUT/scans.pcap"
		kill -INT "$TCPDUMP_PID" 2>/dev/null
		wait "$TCPDUMP_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ss -Hlnu "src $PROXY:$PORT" | grep -q .; then
	echo "$PROXY:$PORT is in use" >&2
	exit 1
fi
{ echo SEQUENTIAL; for i in $(seq 1 254); do echo "127.0.1.$i"; done; } >"$WORK/hosts.csv"
{ echo SEQUENTIAL; for i in $(seq 100 999); do echo "$i"; done; } >"$WORK/exts.csv"
auth() { echo "$1;[authentication username=$1 password=secret];$2;$3"; }
{ echo SEQUENTIAL; auth 2001 flooding-phone 3600; } >"$WORK/flood.csv"
{ echo SEQUENTIAL; auth 2002 healthy-phone 60; } >"$WORK/phone.csv"

tcpdump -i lo -w "$OUT/scans.pcap" -s 0 -U -n \
	"udp and (net 127.0.1.0/24 or host 127.0.0.50) and not port 5400" 2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 50); do
	grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
	sleep 0.1
done

mkdir -p "$WORK/run"
sed "s/^listen=.*/listen=udp:$PROXY:$PORT/" "$HERE/kamailio-healthy.cfg" >"$WORK/kamailio.cfg"
kamailio -f "$WORK/kamailio.cfg" -DD -E -Y "$WORK/run" -P "$WORK/run/kamailio.pid" \
	-w "$WORK/run" -m 64 -M 8 >"$LOGS/kamailio.log" 2>&1 &
KAM_PID=$!
for _ in $(seq 1 50); do
	ss -Hlnu "src $PROXY:$PORT" | grep -q . && break
	sleep 0.1
done
ss -Hlnu "src $PROXY:$PORT" | grep -q . || { echo "kamailio did not start" >&2; exit 1; }

uac() { # name ip port scenario rate count [extra...]
	local name=$1 ip=$2 port=$3 sc=$4 rate=$5 count=$6
	shift 6
	(cd "$LOGS" && exec sipp "$PROXY:$PORT" -sf "$SCEN/$sc.xml" -i "$ip" -p "$port" \
		-mp 5400 -r "$rate" -m "$count" -nostdin -cid_str "$name-%u-$$@scans.test" \
		-timeout 150s -trace_err -error_file "$LOGS/uac_$name.err" "$@" \
		>"$LOGS/uac_$name.out" 2>&1) &
	UAC+=($!)
}
uac lb 127.0.0.53 5301 ../healthy/uac_options 1 95
uac phone 127.0.0.54 5301 uac_reregister 1 4 -rp 30000 -inf "$WORK/phone.csv"
uac flood 127.0.0.52 5301 uac_reregister 1 90 -inf "$WORK/flood.csv"
uac svwar 127.0.0.51 5301 uac_svwar 10 900 -inf "$WORK/exts.csv"
sleep 2
uac svmap 127.0.0.50 5301 uac_svmap 100 254 -inf "$WORK/hosts.csv"
# svmap's calls fail but one: nothing answers at the other addresses
svmap=${UAC[-1]}
wait "$svmap" || true
grep -Eq "Successful call +\| +0 +\| +1 " "$LOGS/uac_svmap.out" ||
	{ echo "svmap: expected one answered OPTIONS: see $LOGS" >&2; exit 1; }
unset 'UAC[-1]'
rc=0
for pid in "${UAC[@]}"; do wait "$pid" || rc=1; done
UAC=()
[ "$rc" = 0 ] || { echo "a sipp instance failed: see $LOGS" >&2; exit 1; }
