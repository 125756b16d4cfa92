#!/bin/bash
# Makes tests/data/derived/sctp-sip.pcap: a SIP call over a real SCTP association on loopback,
# and its tshark truth (tests/data/derived/sctp-sip.tsv).
#
# Two ways, the first that works:
#   kernel  the kernel has SCTP (`checksctp`, or /proc/sys/net/sctp): SIPp's own SCTP transport
#           (`sipp -t s1`, a SIPp built with SCTP: `sipp -v` says "-SCTP") with its built-in uas and
#           uac scenarios.
#   usrsctp otherwise (as in a container whose kernel lacks the module): sip_over_sctp.c, built on
#           the userland stack usrsctp (apt-get install libusrsctp-dev), which sends raw IP
#           protocol 132 itself.
# Both run in a network namespace of their own (unshare -n: only its loopback exists), captured
# by tcpdump on lo. Needs root, gcc, tcpdump and tshark. Usage: make-capture.sh [kernel|usrsctp]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../tests/data/derived}
mode=${1:-auto}
if [ "$mode" = auto ]; then
    if [ -d /proc/sys/net/sctp ] && sipp -v 2>&1 | grep -q SCTP; then mode=kernel; else mode=usrsctp; fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$mode" = usrsctp ]; then
    gcc -O1 -Wall -o "$work/sip_over_sctp" "$here/sip_over_sctp.c" -lusrsctp -lpthread
fi
cat > "$work/inside.sh" <<INNER
set -e
ip link set lo up
tcpdump -i lo -U -s 0 -w "$work/cap.pcap" 'ip proto 132' 2>"$work/tcpdump.err" &
td=\$!
sleep 1
if [ "$mode" = kernel ]; then
    timeout 30 sipp -sn uas -t s1 -i 127.0.0.1 -p 5060 -m 3 >/dev/null 2>&1 &
    uas=\$!
    sleep 1
    timeout 20 sipp -sn uac -t s1 -i 127.0.0.1 -p 5070 -m 3 -r 1 -l 1 127.0.0.1:5060 >/dev/null 2>&1 || true
    wait \$uas || true
else
    timeout 30 "$work/sip_over_sctp" server > "$work/server.log" 2>&1 &
    srv=\$!
    sleep 1
    timeout 20 "$work/sip_over_sctp" client > "$work/client.log" 2>&1 || echo "client failed: \$(cat "$work/client.log")" >&2
    wait \$srv || true
fi
sleep 1
kill \$td
wait \$td || true
INNER
timeout 90 unshare -n bash "$work/inside.sh"
cp "$work/cap.pcap" "$out/sctp-sip.pcap"
tshark -n -r "$out/sctp-sip.pcap" -Y sip -T fields -e frame.number -e sip.Method \
    -e sip.Status-Code -e sip.Call-ID -e sip.CSeq > "$out/sctp-sip.tsv"
echo "wrote $out/sctp-sip.pcap ($mode): $(wc -l < "$out/sctp-sip.tsv") SIP messages by tshark"
