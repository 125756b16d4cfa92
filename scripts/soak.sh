#!/usr/bin/env bash
# Soak test of the passive monitor (not run in CI): sipp makes calls at a steady rate through
# kamailio on loopback for SOAK_SECONDS (default 600) while `sipscope monitor -i lo` watches.
# Records sipscope's resident memory every minute and compares the calls it saw with the calls
# sipp made. Results: printed, and written to target/soak/results.md.
#
#   scripts/soak.sh          # as root (live capture); SOAK_RATE=20 calls/s, SOAK_SECONDS=600
#
# Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RATE=${SOAK_RATE:-20}
SECONDS_TOTAL=${SOAK_SECONDS:-600}
CALLS=$((RATE * SECONDS_TOTAL))
OUT=$(pwd)/target/soak
mkdir -p "$OUT"
rm -f "$OUT"/*
for tool in sipp kamailio ss; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
cargo build --release --quiet
BIN=target/release/sipscope
SCEN=$(pwd)/tests/sipp/scenarios
WORK=$(mktemp -d /tmp/sipscope-soak.XXXXXX)
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

kamailio -f tests/sipp/kamailio.cfg -DD -E -Y "$WORK" -P "$WORK/kamailio.pid" -w "$WORK" \
	-m 64 -M 8 >"$OUT/kamailio.log" 2>&1 &
PIDS+=($!)
(cd "$WORK" && exec sipp -sf "$SCEN/uas_answered.xml" -i 127.0.0.1 -p 5071 -nostdin \
	>"$OUT/uas.log" 2>&1) &
PIDS+=($!)
for port in 5060 5071; do
	for _ in $(seq 1 50); do ss -Hlnu "sport = :$port" | grep -q . && break; sleep 0.1; done
done

"$BIN" monitor -i lo --bpf 'udp and (port 5060 or port 5071 or port 5101)' --interval 60s \
	--summary-json "$OUT/summary.json" --alerts-json "$OUT/alerts.json" \
	--metrics-listen 127.0.0.1:19935 >"$OUT/monitor.out" 2>"$OUT/monitor.err" &
MON=$!
sleep 2
log "sipscope monitor pid $MON; sipp: $CALLS calls at $RATE/s"

"$(command -v sipp)" 127.0.0.1:5060 -sf "$SCEN/uac_answered.xml" -s answered -i 127.0.0.1 \
	-p 5101 -r "$RATE" -m "$CALLS" -nostdin -trace_stat -stf "$OUT/uac_stats.csv" \
	-fd 10 >"$OUT/uac.log" 2>&1 &
UAC=$!
PIDS+=($UAC)
START=$(date +%s)
printf 'minute\trss_kib\n' >"$OUT/rss.tsv"
next=5
while kill -0 "$UAC" 2>/dev/null; do
	sleep 1
	el=$(($(date +%s) - START))
	if [ "$el" -ge "$next" ]; then
		rss=$(ps -o rss= -p "$MON" | tr -d ' ')
		printf '%s\t%s\n' "$((el / 60))" "$rss" >>"$OUT/rss.tsv"
		log "minute $((el / 60)): sipscope RSS $rss KiB"
		next=$((next + 60))
	fi
done
wait "$UAC" || true
# Calls close 32 s after they end (Timer B grace): let the last ones go, then stop.
sleep 40
rss=$(ps -o rss= -p "$MON" | tr -d ' ')
printf 'end\t%s\n' "$rss" >>"$OUT/rss.tsv"
kill -INT "$MON"
wait "$MON" || true

made=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print $c}' "$OUT/uac_stats.csv")
failed=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="FailedCall(C)") c=i} END{print $c}' "$OUT/uac_stats.csv")
seen=$(python3 -c "import json,sys; print(sum(json.loads(l)['calls'] for l in open('$OUT/summary.json')))")
answered=$(python3 -c "import json,sys; print(sum(json.loads(l)['answered'] for l in open('$OUT/summary.json')))")
alerts=$(wc -l <"$OUT/alerts.json")
{
	echo "# sipscope monitor soak"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(nproc) CPUs"
	echo "- sipp: $CALLS calls at $RATE/s through kamailio on 127.0.0.1 ($SECONDS_TOTAL s)"
	echo "- sipp counted $made successful and $failed failed calls; sipscope saw $seen calls, $answered answered; $alerts alerts"
	echo
	echo "| minute | sipscope RSS (KiB) |"
	echo "|---|---:|"
	tail -n +2 "$OUT/rss.tsv" | awk -F'\t' '{printf "| %s | %s |\n", $1, $2}'
} >"$OUT/results.md"
cat "$OUT/results.md"
