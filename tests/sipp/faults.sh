#!/usr/bin/env bash
# Faults for the monitor, made by real sipp instances on loopback addresses of their own
# (127.0.0.10-26: each caller and callee is a distinct "host", so per-source detectors can tell
# them apart; nothing leaves 127.0.0.0/8):
#
#   clean     127.0.0.10 -> .20  an answered call with a BYE               (no alert)
#   oneway    127.0.0.11 -> .21  16.5 s of RTP from the caller only        one-way-audio (mid-call)
#   noack     127.0.0.12 -> .22  the caller never ACKs the 200             missing-ack
#   noanswer  127.0.0.13 -> .23  the callee never answers                  invite-timeout
#   scan      127.0.0.14 -> .24  12 OPTIONS, User-Agent friendly-scanner   scanner
#   badpass   127.0.0.15 -> .25  6 REGISTERs refused 401                   auth-failures
#   refused   127.0.0.16 -> .26  25 INVITEs refused 503 within 0.5 s       error-spike
#
#   faults.sh --out DIR [--tcpdump]
#
# Writes DIR/expected.tsv (scenario, Call-IDs, expected alert code), DIR/logs/ and, with
# --tcpdump, DIR/capture.pcap (for the replay).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
SCEN=$HERE/scenarios/faults
OUT=""
TCPDUMP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
	--tcpdump) TCPDUMP=1; shift ;;
	*) echo "usage: $0 --out DIR [--tcpdump]" >&2; exit 2 ;;
	esac
done
[ -n "$OUT" ] || { echo "usage: $0 --out DIR [--tcpdump]" >&2; exit 2; }
command -v sipp >/dev/null || { echo "missing tool: sipp" >&2; exit 1; }
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
LOGS=$OUT/logs
WORK=$(mktemp -d /tmp/sipscope-faults.XXXXXX)
PIDS=()
TCPDUMP_PID=""
BPF='net 127.0.0.0/27 and not host 127.0.0.1'

cleanup() {
	local rc=$? pid
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if [ -n "$TCPDUMP_PID" ]; then
		# let the last packets reach the file: wait until it stops growing
		wait_stable "$OUT/capture.pcap"
		kill -INT "$TCPDUMP_PID" 2>/dev/null
		wait "$TCPDUMP_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

# 8 s of PCMU silence for the one-way caller's RTP (sipp runs in $LOGS and reads it there).
python3 -c "open('$LOGS/silence.ulaw','wb').write(b'\xff' * 8000 * 8)"
printf 'SEQUENTIAL\n' >"$WORK/users.csv"
for u in $(seq 201 212); do echo "$u" >>"$WORK/users.csv"; done

if [ "$TCPDUMP" = 1 ]; then
	tcpdump -i lo -w "$OUT/capture.pcap" -s 0 -U -n "$BPF" 2>"$WORK/tcpdump.err" &
	TCPDUMP_PID=$!
	for _ in $(seq 1 50); do
		grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
		sleep 0.1
	done
fi

uas() { # name scenario ip
	(cd "$LOGS" && exec sipp -sf "$SCEN/$2.xml" -i "$3" -p 5170 -mp 17000 -nostdin \
		-trace_err -error_file "$LOGS/uas_$1.err" >"$LOGS/uas_$1.out" 2>&1) &
	PIDS+=($!)
}
uas clean ../uas_answered 127.0.0.20
uas oneway ../uas_answered 127.0.0.21
uas noack ../uas_answered 127.0.0.22
uas noanswer uas_silent 127.0.0.23
uas scan uas_404 127.0.0.24
uas badpass uas_401 127.0.0.25
uas refused uas_503 127.0.0.26
for ip in 20 21 22 23 24 25 26; do
	for _ in $(seq 1 50); do
		ss -Hlnu "src 127.0.0.$ip:5170" | grep -q . && break
		sleep 0.1
	done
done

uac() { # name scenario ip target calls rate [extra...]
	local name=$1 sc=$2 ip=$3 target=$4 calls=$5 rate=$6
	shift 6
	(cd "$LOGS" && exec sipp "$target:5170" -sf "$SCEN/$sc.xml" -i "$ip" -p 5161 -mp 16000 \
		-m "$calls" -r "$rate" -nostdin -cid_str "$name-%u-$$@faults.test" \
		-timeout 30s -trace_err -error_file "$LOGS/uac_$name.err" "$@" \
		>"$LOGS/uac_$name.out" 2>&1) &
	UAC+=($!)
}
UAC=()
uac clean uac_clean 127.0.0.10 127.0.0.20 1 1
uac oneway uac_oneway 127.0.0.11 127.0.0.21 1 1
# -nd: no default behaviour, so sipp does not ACK and hang up for the caller at the end
uac noack uac_noack 127.0.0.12 127.0.0.22 1 1 -nd
uac noanswer uac_noanswer 127.0.0.13 127.0.0.23 1 1
uac scan uac_scan 127.0.0.14 127.0.0.24 12 50 -inf "$WORK/users.csv"
uac badpass uac_badpass 127.0.0.15 127.0.0.25 6 20
uac refused uac_refused 127.0.0.16 127.0.0.26 25 50
for pid in "${UAC[@]}"; do wait "$pid" || true; done

# The alert each scenario must raise, once: with the Call-ID of its (first) call, or with the
# endpoint for the per-source detectors.
printf 'scenario\tcall_id\texpected\tendpoint\n' >"$OUT/expected.tsv"
for s in clean:-:- oneway:one-way-audio:- noack:missing-ack:- noanswer:invite-timeout:- \
	scan:scanner:127.0.0.14 badpass:auth-failures:127.0.0.15 refused:error-spike:127.0.0.26; do
	IFS=: read -r n code ep <<<"$s"
	printf '%s\t%s\t%s\t%s\n' "$n" "$n-1-$$@faults.test" "$code" "$ep" >>"$OUT/expected.tsv"
done
