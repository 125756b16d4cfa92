#!/usr/bin/env python3
"""One SIP call over one TLS connection between `openssl s_server` and `openssl s_client`.

Usage: converse.py PORT NAME MODE -- SERVER_ARGS... -- CLIENT_ARGS...

MODE is `sip` (SIP straight over TLS), `keyupdate` (the same, with a TLS 1.3 key update asked by
the client half-way) or `wss` (an HTTP upgrade, then SIP in WebSocket frames, RFC 7118). The
messages are timed so that the records fall as the tests want them: the 100 and the 180 in one
write (two messages in one record), the 200 OK in two writes (one message over two records).
"""
import os
import subprocess
import sys
import time

port, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
rest = sys.argv[4:]
assert rest[0] == "--"
i = rest.index("--", 1)
server_args, client_args = rest[1:i], rest[i + 1:]

CID = f"{name}@sipscope.test"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def msg(start, cseq, via_branch, body="", extra=""):
    head = (
        f"{start}\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{via_branch}\r\n"
        f"From: <sips:alice@sipscope.test>;tag=a1\r\n"
        f"To: <sips:bob@sipscope.test>{extra}\r\n"
        f"Call-ID: {CID}\r\n"
        f"CSeq: {cseq}\r\n"
        f"Contact: <sips:alice@127.0.0.1:5061;transport=tls>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body.encode())}\r\n\r\n"
    )
    return (head + body).encode()


invite = msg("INVITE sips:bob@sipscope.test SIP/2.0", "1 INVITE", "inv", SDP)
trying = msg("SIP/2.0 100 Trying", "1 INVITE", "inv")
ringing = msg("SIP/2.0 180 Ringing", "1 INVITE", "inv", extra=";tag=b1")
ok = msg("SIP/2.0 200 OK", "1 INVITE", "inv", SDP, extra=";tag=b1")
ack = msg("ACK sips:bob@sipscope.test SIP/2.0", "1 ACK", "ack", extra=";tag=b1")
bye = msg("BYE sips:bob@sipscope.test SIP/2.0", "2 BYE", "bye", extra=";tag=b1")
bye_ok = msg("SIP/2.0 200 OK", "2 BYE", "bye", extra=";tag=b1")


def ws(payload, masked):
    """One WebSocket text frame (RFC 6455); a client's frames are masked."""
    n = len(payload)
    head = bytes([0x81])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    else:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    if masked:
        key = bytes([0x37, 0xFA, 0x21, 0x3D])
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


srv = subprocess.Popen(
    ["openssl", "s_server", "-naccept", "1", "-quiet", "-accept", port] + server_args,
    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
)
time.sleep(0.6)
cli = subprocess.Popen(
    ["openssl", "s_client", "-quiet", "-no_ign_eof", "-connect", f"127.0.0.1:{port}"]
    + client_args,
    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
time.sleep(0.6)


def say(p, data, pause=0.25):
    p.stdin.write(data)
    p.stdin.flush()
    time.sleep(pause)


if mode == "wss":
    say(cli, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n")
    say(srv, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    for who, m in [(cli, invite), (srv, trying), (srv, ringing), (srv, ok), (cli, ack),
                   (cli, bye), (srv, bye_ok)]:
        say(who, ws(m, who is cli))
else:
    say(cli, invite)
    say(srv, trying + ringing)
    say(srv, ok[:150], 0.15)
    say(srv, ok[150:])
    say(cli, ack)
    if mode == "keyupdate":
        # s_client's command letter: a key update that asks the peer to update too.
        say(cli, b"K\n", 0.4)
    say(cli, bye)
    say(srv, bye_ok)
time.sleep(0.3)
cli.stdin.close()
try:
    cli.wait(timeout=5)
except subprocess.TimeoutExpired:
    cli.terminate()
    cli.wait()
srv.stdin.close()
try:
    srv.wait(timeout=5)
except subprocess.TimeoutExpired:
    srv.terminate()
    srv.wait()
