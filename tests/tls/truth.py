#!/usr/bin/env python3
"""tshark's reading of the SIP in a TLS capture: one line per SIP message, in capture order:
Call-ID, CSeq, and the method of a request or the status code of a response, tab-separated.

Usage: truth.py CAPTURE [KEYLOG]   (no key log: the secrets are in the pcapng)
"""
import subprocess
import sys

cap = sys.argv[1]
opts = ["-o", f"tls.keylog_file:{sys.argv[2]}"] if len(sys.argv) > 2 else []
out = subprocess.run(
    ["tshark", "-r", cap] + opts + ["-Y", "sip", "-T", "fields",
     "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|",
     "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID", "-e", "sip.CSeq"],
    capture_output=True, text=True, check=True,
).stdout
for line in out.splitlines():
    methods, codes, cids, cseqs = (f.split("|") if f else [] for f in line.split("\t"))
    # Several messages in one frame: tshark lists each field in message order but requests'
    # methods and responses' codes apart; the tests' frames never mix the two.
    if methods and codes:
        sys.exit(f"a frame with both requests and responses: {line}")
    for cid, cseq, what in zip(cids, cseqs, methods or codes):
        print(cid, cseq, what, sep="\t")
