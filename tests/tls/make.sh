#!/usr/bin/env bash
# Regenerates the SIP-over-TLS captures of tests/data/tls/: one SIP call per TLS version and
# cipher suite between `openssl s_server` and `openssl s_client` (tests/tls/converse.py), captured
# with tcpdump on the loopback of a network namespace of its own (nothing else on the wire, port
# 5061 free), the client's key log kept beside each capture, and tshark's reading of the SIP in
# it (decrypted with that key log) kept as the truth the tests compare sipscope with.
# Needs root (ip netns), openssl, tcpdump, tshark, editcap, python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../data/tls"
mkdir -p "$out"
tmp="$(mktemp -d)"
ns="sipscope-tls-$$"
cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -subj /CN=sip.sipscope.test -days 3650 2>/dev/null

one() { # name mode server-and-client-args...
    local name="$1" mode="$2"
    shift 2
    local cap="$tmp/$name.pcap" keys="$out/$name.keys"
    rm -f "$keys"
    ip netns exec "$ns" tcpdump -i lo -U -s 0 -w "$cap" 'tcp port 5061' 2>/dev/null &
    local dump=$!
    sleep 1
    ip netns exec "$ns" python3 "$here/converse.py" 5061 "$name" "$mode" \
        -- -cert "$tmp/cert.pem" -key "$tmp/key.pem" "$@" \
        -- -keylogfile "$keys" "$@"
    sleep 0.5
    kill -INT "$dump"
    wait "$dump" || true
    cp "$cap" "$out/$name.pcap"
    python3 "$here/truth.py" "$out/$name.pcap" "$keys" > "$out/$name.truth"
    echo "$name: $(wc -l < "$out/$name.truth") SIP messages, $(stat -c %s "$out/$name.pcap") bytes"
}

one tls13-aes128gcm sip -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
one tls13-aes256gcm sip -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
one tls13-chacha20 sip -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
one tls13-keyupdate keyupdate -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
one tls13-ccm sip -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256
one tls12-ecdhe-aes128gcm sip -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
one tls12-ecdhe-aes256gcm sip -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
one tls12-rsa-aes128gcm sip -tls1_2 -cipher AES128-GCM-SHA256
one tls12-rsa-aes256gcm sip -tls1_2 -cipher AES256-GCM-SHA384
one tls12-ecdhe-chacha20 sip -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
# TLS_RSA_WITH_AES_128_CBC_SHA (RFC 3261's), with and without encrypt-then-MAC (RFC 7366).
one tls12-rsa-aes128cbc-sha sip -tls1_2 -cipher AES128-SHA
one tls12-rsa-aes128cbc-sha-noetm sip -tls1_2 -cipher AES128-SHA -no_etm
one tls12-ecdhe-aes128cbc-sha256 sip -tls1_2 -cipher ECDHE-RSA-AES128-SHA256 -no_etm
one tls12-ecdhe-aes256cbc-sha384 sip -tls1_2 -cipher ECDHE-RSA-AES256-SHA384
one wss-tls13 wss -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
one wss-tls12 wss -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384

# The key log inside the capture (a pcapng Decryption Secrets Block): read with no flag.
for name in tls13-aes128gcm tls12-ecdhe-aes128gcm; do
    editcap --inject-secrets "tls,$out/$name.keys" "$out/$name.pcap" "$out/$name-dsb.pcapng"
done
