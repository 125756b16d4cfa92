#!/usr/bin/env bash
# Check a capture made by run-scenarios.sh --tcpdump (or fragments.sh) with
# tshark: every Call-ID in the expected*.tsv files must appear, and the final
# status the caller received must be the expected one.
#
#   verify-capture.sh DIR [PCAP]      (PCAP defaults to DIR/capture.pcap)
#
# "Caller-facing leg" = packets between the proxy (port 5060) and a sipp UAC
# (local ports >= 5100); for fragments.sh (no proxy) every packet counts.
# Final status of a call = the final (>=200) response to the last initial
# request (method of the call's first request, no To-tag) - so re-INVITEs do
# not count and an auth retry replaces the first attempt.  "-" = no final
# response at all.  Also prints tshark's -z sip,stat summary.
set -euo pipefail

DIR=${1:?usage: $0 DIR [PCAP]}
PCAP=${2:-$DIR/capture.pcap}
[ -f "$PCAP" ] || { echo "no capture: $PCAP" >&2; exit 1; }

# sipp UAS TCP ports are not SIP ports for tshark: decode them as SIP
DECODE=(-d 'tcp.port==5071-5089,sip' -d 'udp.port==5071-5089,sip')

if [ "${CALLER_LEG:-proxy}" = proxy ]; then
	LEG='((udp.srcport==5060 && udp.dstport>=5100) || (udp.dstport==5060 && udp.srcport>=5100) || (tcp.srcport==5060 && tcp.dstport>=5100) || (tcp.dstport==5060 && tcp.srcport>=5100))'
else
	LEG='sip'
fi

msgs=$(mktemp)
trap 'rm -f "$msgs"' EXIT
# frame, call-id, method (requests), status (responses), cseq seq, cseq method, to-tag
tshark -r "$PCAP" "${DECODE[@]}" -Y "sip && $LEG" -T fields -E separator=/t \
	-e frame.number -e sip.Call-ID -e sip.Method -e sip.Status-Code \
	-e sip.CSeq.seq -e sip.CSeq.method -e sip.to.tag >"$msgs" 2>/dev/null

fail=0
for f in "$DIR"/expected.tsv "$DIR"/expected_other.tsv; do
	[ -f "$f" ] || continue
	while IFS=$'\t' read -r cid tr sc outcome want; do
		[ "$cid" = call_id ] && continue
		seen=$(awk -F'\t' -v cid="$cid" '
			$2 != cid { next }
			$3 != "" && first == "" { first = $3 }
			$3 != "" && $3 == first && $7 == "" { initial[$5] = 1 }
			$4 != "" && $4 >= 200 && $6 == first { final[$5] = $4 }
			END {
				if (first == "") { print "absent"; exit }
				best = -1
				for (s in initial) if ((s in final) && s + 0 > best) best = s + 0
				print (best < 0 ? "-" : final[best])
			}' "$msgs")
		if [ "$seen" = "$want" ]; then res=OK; else res=MISMATCH; fail=1; fi
		printf '%-8s %-4s %-11s %-15s want=%-4s seen=%-6s %s\n' "$res" "$tr" "$sc" "$outcome" "$want" "$seen" "$cid"
	done <"$f"
done

echo
tshark -r "$PCAP" "${DECODE[@]}" -q -z sip,stat 2>/dev/null
exit $fail
