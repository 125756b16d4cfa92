#!/usr/bin/env bash
# Drive real SIP software (kamailio proxy/registrar + sipp UAC/UAS) through
# calls with known outcomes, on loopback only, and write the expectations.
#
#   run-scenarios.sh --out DIR [--transport udp|tcp|both] [--tcpdump] [--calls N]
#                    [--kamailio-cfg FILE]
#
# Writes DIR/expected.tsv (INVITE calls), DIR/expected_other.tsv (REGISTER,
# OPTIONS), DIR/logs/ (kamailio + sipp message traces) and, with --tcpdump,
# DIR/capture.pcap.  See README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
SCEN=$HERE/scenarios
KAMCFG=$HERE/kamailio.cfg

usage() {
	echo "usage: $0 --out DIR [--transport udp|tcp|both] [--tcpdump] [--calls N] [--kamailio-cfg FILE]" >&2
	exit 2
}

OUT=""
TRANSPORT=both
TCPDUMP=0
CALLS=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--transport) TRANSPORT=${2:?}; shift 2 ;;
	--transport=*) TRANSPORT=${1#--transport=}; shift ;;
	--tcpdump) TCPDUMP=1; shift ;;
	--calls) CALLS=${2:?}; shift 2 ;;
	# another proxy configuration (the same routing plus, e.g., siptrace to a HEP collector)
	--kamailio-cfg) KAMCFG=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) echo "unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$OUT" ] || usage
case "$TRANSPORT" in
udp) TRANSPORTS=(udp) ;;
tcp) TRANSPORTS=(tcp) ;;
both) TRANSPORTS=(udp tcp) ;;
*) echo "bad --transport: $TRANSPORT" >&2; usage ;;
esac
[[ "$CALLS" =~ ^[1-9][0-9]*$ ]] || { echo "bad --calls: $CALLS" >&2; exit 2; }

for tool in sipp kamailio ss; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [ "$TCPDUMP" = 1 ]; then
	command -v tcpdump >/dev/null || { echo "missing tool: tcpdump" >&2; exit 1; }
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOGS=$OUT/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
rm -f "$OUT/expected.tsv" "$OUT/expected_other.tsv" "$OUT/capture.pcap"

WORK=$(mktemp -d /tmp/sipscope-sipp.XXXXXX)
RUNID=$(date +%H%M%S)-$$

# Everything below talks to 127.0.0.1 only.
LOOP=127.0.0.1
PROXY_PORT=5060

# scenario  -> UAS base port (UDP; TCP = +10; "-" = no UAS)
#              expected outcome, expected final status (caller-facing leg)
# Call scenarios (INVITE) go to expected.tsv, the rest to expected_other.tsv.
CALL_SCENARIOS=(answered busy notfound cancelled noanswer noresponse blackhole hold redirect servfail authfail)
OTHER_SCENARIOS=(register options)
declare -A UAS_PORT=(
	[answered]=5071 [busy]=5072 [notfound]=5073 [cancelled]=5074 [noanswer]=5075
	[hold]=5076 [redirect]=5077 [servfail]=5078 [noresponse]=5079
)
declare -A OUTCOME=(
	[answered]=answered [busy]=busy [notfound]=rejected [cancelled]=cancelled
	[noanswer]=no-answer [noresponse]=timeout [blackhole]=timeout [hold]=answered
	[redirect]=redirected [servfail]=server-failure [authfail]=auth-failed
	[register]=registered [options]=ok
)
declare -A FINAL=(
	[answered]=200 [busy]=486 [notfound]=404 [cancelled]=487 [noanswer]=408
	[noresponse]=408 [blackhole]=- [hold]=200 [redirect]=302 [servfail]=500
	[authfail]=407 [register]=200 [options]=200
)
# UAC local ports: udp 5101.., tcp 5121.. (index in the lists above)

BG_PIDS=()          # sipp UAS instances
declare -A UAC_PID=() # sipp UACs still running (scenario -> pid)
KAM_PID=""
TCPDUMP_PID=""

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop_pid() { # pid [signal] - stop one process we started and reap it
	local pid=$1 sig=${2:-TERM} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill "-$sig" "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

stop_all() { # stop every process this script started; idempotent
	local pid kids=""
	for pid in "${BG_PIDS[@]}"; do
		stop_pid "$pid" TERM
	done
	BG_PIDS=()
	for pid in "${UAC_PID[@]}"; do
		stop_pid "$pid" TERM
	done
	UAC_PID=()
	if [ -n "$KAM_PID" ]; then
		# remember kamailio's worker processes so none can outlive the main one
		kids=$(ps -o pid= --ppid "$KAM_PID" 2>/dev/null || true)
		stop_pid "$KAM_PID" TERM
		for pid in $kids; do
			if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
		done
		KAM_PID=""
	fi
	if [ -n "$TCPDUMP_PID" ]; then
		# let the last packets reach the capture: wait until it stops growing (1 s stable,
		# at most 10 s), as tcpdump can lag on a loaded machine
		wait_stable "$OUT/capture.pcap"
		stop_pid "$TCPDUMP_PID" INT
		cat "$WORK/tcpdump.err" >>"$LOGS/tcpdump.log" 2>/dev/null || true
		TCPDUMP_PID=""
	fi
}

cleanup() {
	local rc=$?
	set +e
	stop_all
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy() { # proto port
	if [ "$1" = udp ]; then
		ss -Hlnu "sport = :$2" | grep -q .
	else
		ss -Hlnt "sport = :$2" | grep -q .
	fi
}

wait_listen() { # proto port what
	local i
	for i in $(seq 1 50); do
		port_busy "$1" "$2" && return 0
		sleep 0.1
	done
	echo "$3 did not start listening on $1/$2" >&2
	return 1
}

# --- refuse to start if the ports are taken (e.g. by someone else) ---------
wait_free() {
	local proto port i
	for proto in udp tcp; do
		for port in $PROXY_PORT $(seq 5071 5089); do
			for i in $(seq 1 30); do
				port_busy "$proto" "$port" || break
				sleep 0.1
			done
			if port_busy "$proto" "$port"; then
				echo "port $proto/$port is in use; is another run still active?" >&2
				ss -Hlnup "sport = :$port" >&2 || true
				return 1
			fi
		done
	done
}
wait_free

T0=$(date +%s.%N)

# --- optional capture -------------------------------------------------------
if [ "$TCPDUMP" = 1 ]; then
	tcpdump -i lo -w "$OUT/capture.pcap" -s 0 -U -Z root -n \
		'port 5060 or portrange 5070-5090' 2>"$WORK/tcpdump.err" &
	TCPDUMP_PID=$!
	for i in $(seq 1 50); do
		grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
		kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$WORK/tcpdump.err" >&2; exit 1; }
		sleep 0.1
	done
	log "tcpdump running (pid $TCPDUMP_PID)"
fi

# --- kamailio ---------------------------------------------------------------
mkdir -p "$WORK/run"
kamailio -f "$KAMCFG" -DD -E -Y "$WORK/run" -P "$WORK/run/kamailio.pid" \
	-w "$WORK/run" -m 32 -M 8 >"$LOGS/kamailio.log" 2>&1 &
KAM_PID=$!
wait_listen udp $PROXY_PORT kamailio
wait_listen tcp $PROXY_PORT kamailio
log "kamailio running (pid $KAM_PID)"

# --- sipp UAS instances -----------------------------------------------------
for tr in "${TRANSPORTS[@]}"; do
	for sc in "${!UAS_PORT[@]}"; do
		port=${UAS_PORT[$sc]}
		[ "$tr" = tcp ] && port=$((port + 10))
		(cd "$LOGS" && exec sipp -sf "$SCEN/uas_$sc.xml" -i $LOOP -bind_local -p "$port" \
			-t "${tr:0:1}1" -nostdin -trace_err -error_file "$LOGS/uas_${sc}_$tr.err" \
			-trace_msg -message_file "$LOGS/uas_${sc}_$tr.msg" \
			>"$LOGS/uas_${sc}_$tr.out" 2>&1) &
		BG_PIDS+=($!)
	done
done
for tr in "${TRANSPORTS[@]}"; do
	for sc in "${!UAS_PORT[@]}"; do
		port=${UAS_PORT[$sc]}
		[ "$tr" = tcp ] && port=$((port + 10))
		wait_listen "$tr" "$port" "sipp UAS $sc"
	done
done
log "sipp UAS instances running"

# --- UAC runs ---------------------------------------------------------------
printf 'call_id\ttransport\tscenario\texpected_outcome\texpected_final_status\n' >"$OUT/expected.tsv"
printf 'call_id\ttransport\tscenario\texpected_outcome\texpected_final_status\n' >"$OUT/expected_other.tsv"
FAILED=()

for tr in "${TRANSPORTS[@]}"; do
	idx=0
	for sc in "${CALL_SCENARIOS[@]}" "${OTHER_SCENARIOS[@]}"; do
		if [ "$tr" = udp ]; then lport=$((5101 + idx)); else lport=$((5121 + idx)); fi
		idx=$((idx + 1))
		(cd "$LOGS" && exec sipp "$LOOP:$PROXY_PORT" -sf "$SCEN/uac_$sc.xml" -s "$sc" \
			-i $LOOP -bind_local -p "$lport" -t "${tr:0:1}1" -m "$CALLS" -r 10 -nostdin \
			-cid_str "$sc-$tr-%u-$RUNID@sipscope.test" \
			-timeout 20s -timeout_error \
			-trace_err -error_file "$LOGS/uac_${sc}_$tr.err" \
			-trace_msg -message_file "$LOGS/uac_${sc}_$tr.msg" \
			>"$LOGS/uac_${sc}_$tr.out" 2>&1) &
		UAC_PID[$sc]=$!
	done
	log "$tr: started ${#UAC_PID[@]} UAC scenarios"
	for sc in "${CALL_SCENARIOS[@]}" "${OTHER_SCENARIOS[@]}"; do
		rc=0
		wait "${UAC_PID[$sc]}" || rc=$?
		unset "UAC_PID[$sc]"
		if [ "$rc" != 0 ]; then
			FAILED+=("$sc/$tr(rc=$rc)")
			log "$tr: UAC $sc FAILED (sipp rc=$rc, see $LOGS/uac_${sc}_$tr.*)"
		fi
		# the exact Call-IDs sipp used, from its own message trace
		ids=$(grep -aoE '^Call-ID: *[^ ]+' "$LOGS/uac_${sc}_$tr.msg" 2>/dev/null |
			sed -E 's/^Call-ID: *//; s/\r$//' | awk '!seen[$0]++' || true)
		if [ -z "$ids" ]; then
			ids=$(for n in $(seq 1 "$CALLS"); do echo "$sc-$tr-$n-$RUNID@sipscope.test"; done)
		fi
		file=$OUT/expected.tsv
		[[ " ${OTHER_SCENARIOS[*]} " == *" $sc "* ]] && file=$OUT/expected_other.tsv
		while IFS= read -r cid; do
			printf '%s\t%s\t%s\t%s\t%s\n' "$cid" "$tr" "$sc" "${OUTCOME[$sc]}" "${FINAL[$sc]}" >>"$file"
		done <<<"$ids"
	done
	log "$tr: all UAC scenarios finished"
done

# let the last ACKs / timewaits drain, then stop everything (the EXIT trap
# would do the same; doing it here lets us time it and report)
sleep 0.5
stop_all

T1=$(date +%s.%N)
log "done in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s;" \
	"$(($(wc -l <"$OUT/expected.tsv") - 1)) calls in expected.tsv," \
	"$(($(wc -l <"$OUT/expected_other.tsv") - 1)) in expected_other.tsv"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "FAILED scenarios: ${FAILED[*]}" >&2
	exit 1
fi
