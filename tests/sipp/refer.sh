#!/usr/bin/env bash
# A call transferred with REFER, made by two sipp instances on loopback:
# INVITE/200/ACK, REFER (Refer-To carol) -> 202, NOTIFY (sipfrag 100) -> 200,
# NOTIFY (sipfrag 200, subscription terminated) -> 200, BYE -> 200.
#
#   refer.sh --out DIR     writes DIR/refer.pcap (tcpdump) and DIR/expected.tsv
set -euo pipefail
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=${2:?}; shift 2 ;;
        *) echo "usage: $0 --out DIR" >&2; exit 2 ;;
    esac
done
[ -n "$OUT" ] || { echo "usage: $0 --out DIR" >&2; exit 2; }
mkdir -p "$OUT"
HERE=$(cd "$(dirname "$0")" && pwd)
UAS_PORT=5095
UAC_PORT=5195
CID="refer-udp-$$@sipscope.test"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

tcpdump -i lo -s 0 -U -w "$OUT/refer.pcap" "udp port $UAS_PORT or udp port $UAC_PORT" >"$OUT/tcpdump.log" 2>&1 &
pids+=($!)
sleep 1
cd "$OUT"
sipp -sf "$HERE/scenarios/uas_refer.xml" -i 127.0.0.1 -p "$UAS_PORT" -m 1 -timeout 15s >"$OUT/uas.log" 2>&1 &
pids+=($!)
sleep 0.5
sipp -sf "$HERE/scenarios/uac_refer.xml" -i 127.0.0.1 -p "$UAC_PORT" -s transferee -m 1 \
    -timeout 15s -cid_str "$CID" 127.0.0.1:"$UAS_PORT" >"$OUT/uac.log" 2>&1
sleep 0.5
kill -INT "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
printf 'call_id\ttransport\tscenario\texpected_outcome\texpected_final_status\n%s\tudp\trefer\tanswered\t200\n' \
    "$CID" >"$OUT/expected.tsv"
echo "wrote $OUT/refer.pcap ($CID)"
