//! Property tests: every truncation and random mutation of real messages and frames gives a value
//! or an error, never a panic; and the stream stages (SIP framing, TCP reassembly, WebSocket) give
//! the same output however their input is cut up.
//!
//! Seeds are real SIP messages and frames from the shared corpus (the capture and frame number is
//! on each constant; `tshark -T fields -e udp.payload` or the TCP stream for the messages, the raw
//! frame for the frames). The corpus has no folded or LF-only message, so those variants are
//! derived from real seeds ([`lf_only`], [`folded`]).
//!
//! Each property runs 512 cases (about 5 s for the whole file in a debug build on two cores);
//! `PROPTEST_CASES` overrides that. A failure prints the shrunk input; nothing is written to disk.

use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use sipscope::capture::file::FileSource;
use sipscope::capture::{Frame, LinkType, Source};
use sipscope::correlate::transaction::{Facts, TxKey};
use sipscope::decode::gtp;
use sipscope::decode::hep::{hep3_packet_len, inflate_payload, is_hep3, parse_hep3, HepPayload};
use sipscope::decode::{shard_hash, tcp_flags, Decoder};
use sipscope::reassembly::framing::{FramingStats, SipFramer};
use sipscope::reassembly::tcp::{Chunk, HalfStream, TcpStats};
use sipscope::reassembly::websocket::{header_value, http_upgrade_head, WsDecoder};
use sipscope::sip::message::{looks_like_sip, Anomaly, SipMessage};
use sipscope::sip::nameaddr::NameAddr;
use sipscope::sip::sdp::{parse_sdp, sdp_parts, static_payload};
use sipscope::sip::uri::Uri;
use sipscope::sip::via::{params, split_host_port, split_values, Via};
use sipscope::sip::HeaderName;
use sipscope::time::Ts;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        // Failures are reported with their shrunk input; no regression files next to the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------------
// Seeds: real SIP messages.

/// aboutsip_pkts/sip_rtp.pcap frame 1 (SIPp INVITE with SDP)
const INVITE_SDP: &[u8] = b"INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7879-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=7879SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5060>\r\n\
Call-ID: 1-7879@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   129\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6001 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// aboutsip_pkts/sip_rtp.pcap frame 2
const RINGING_180: &[u8] = b"SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7879-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=7879SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5060>;tag=7868SIPpTag011\r\n\
Call-ID: 1-7879@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:127.0.0.1:5060;transport=UDP>\r\n\
Content-Length: 0\r\n\
\r\n";

/// aboutsip_pkts/sip_rtp.pcap frame 3 (200 OK with SDP)
const OK_200_SDP: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7879-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=7879SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5060>;tag=7868SIPpTag011\r\n\
Call-ID: 1-7879@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:127.0.0.1:5060;transport=UDP>\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   129\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// aboutsip_pkts/sip_rtp.pcap frame 506
const BYE: &[u8] = b"BYE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7879-1-8\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=7879SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5060>;tag=7868SIPpTag011\r\n\
Call-ID: 1-7879@127.0.0.1\r\n\
CSeq: 2 BYE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Length: 0\r\n\
\r\n";

/// aboutsip_pkts/cancel.pcap frame 4
const CANCEL: &[u8] = b"CANCEL sip:service@127.0.0.1:5090 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.1.1:5060;branch=z9hG4bK-6261-1-0\r\n\
From: sip:service@127.0.1.1:5060;tag=6261SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5090>;tag=6204SIPpTag012\r\n\
Contact: sip:service@127.0.1.1:5060\r\n\
Call-ID: 1-6261@127.0.1.1\r\n\
CSeq: 1 CANCEL\r\n\
Max-Forwards: 70\r\n\
\r\n";

/// aboutsip_pkts/cancel.pcap frame 6
const TERMINATED_487: &[u8] = b"SIP/2.0 487 Request Terminated\r\n\
Via: SIP/2.0/UDP 127.0.1.1:5060;branch=z9hG4bK-6261-1-0\r\n\
From: sip:service@127.0.1.1:5060;tag=6261SIPpTag001\r\n\
To: sut <sip:service@127.0.0.1:5090>;tag=6204SIPpTag012;tag=2\r\n\
Call-ID: 1-6261@127.0.1.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length:     0\r\n\
\r\n";

/// goffinet_sip_captures/sip-register-wrong_password-401-403-401-403.pcapng frame 3 (Authorization: Digest)
const REGISTER_DIGEST: &[u8] = b"REGISTER sip:172.16.98.101;transport=UDP SIP/2.0\r\n\
Via: SIP/2.0/UDP 172.16.98.1:42952;branch=z9hG4bK-d8754z-596cea95ab7919bd-1---d8754z-\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:telephone1@172.16.98.1:42952;rinstance=86ea255205fe2d87;transport=UDP>\r\n\
To: <sip:telephone1@172.16.98.101;transport=UDP>\r\n\
From: <sip:telephone1@172.16.98.101;transport=UDP>;tag=2f16b070\r\n\
Call-ID: YzAwMDllYjUyNmVlZWFhZjE0NDViMWRkNDUyNzJmZDU.\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, norefersub, extended-refer, timer, X-cisco-serviceuri\r\n\
User-Agent: Z 3.3.21933 r21903\r\n\
Authorization: Digest username=\"telephone1\",realm=\"asterisk\",nonce=\"54bd660f\",uri=\"sip:172.16.98.101;transport=UDP\",response=\"9d8d8d88f4fbf069f90ebba0f6aa1cb8\",algorithm=MD5\r\n\
Allow-Events: presence, kpml\r\n\
Content-Length: 0\r\n\
\r\n";

/// goffinet_sip_captures/sip-register-wrong_password-401-403-401-403.pcapng frame 4
const FORBIDDEN_403: &[u8] = b"SIP/2.0 403 Forbidden\r\n\
Via: SIP/2.0/UDP 172.16.98.1:42952;branch=z9hG4bK-d8754z-596cea95ab7919bd-1---d8754z-;received=172.16.98.1\r\n\
From: <sip:telephone1@172.16.98.101;transport=UDP>;tag=2f16b070\r\n\
To: <sip:telephone1@172.16.98.101;transport=UDP>;tag=as74e53fa9\r\n\
Call-ID: YzAwMDllYjUyNmVlZWFhZjE0NDViMWRkNDUyNzJmZDU.\r\n\
CSeq: 2 REGISTER\r\n\
Server: Asterisk PBX 11.7.0~dfsg-1ubuntu1\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH\r\n\
Supported: replaces, timer\r\n\
Content-Length: 0\r\n\
\r\n";

/// goffinet_sip_captures/sip-register-wrong_password-401-403-401-403.pcapng frame 5
const SUBSCRIBE: &[u8] = b"SUBSCRIBE sip:telephone1@172.16.98.101;transport=UDP SIP/2.0\r\n\
Via: SIP/2.0/UDP 172.16.98.1:42952;branch=z9hG4bK-d8754z-3c50351dd4a8a7b1-1---d8754z-\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:telephone1@172.16.98.1:42952;transport=UDP>\r\n\
To: <sip:telephone1@172.16.98.101;transport=UDP>\r\n\
From: <sip:telephone1@172.16.98.101;transport=UDP>;tag=e6409e13\r\n\
Call-ID: MGJmNzkwZTBmYjg4NDAyMjM2ODRmMDMyYTdkNjZiNDU.\r\n\
CSeq: 1 SUBSCRIBE\r\n\
Expires: 3600\r\n\
Accept: application/simple-message-summary\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, norefersub, extended-refer, timer, X-cisco-serviceuri\r\n\
User-Agent: Z 3.3.21933 r21903\r\n\
Event: message-summary\r\n\
Allow-Events: presence, kpml\r\n\
Content-Length: 0\r\n\
\r\n";

/// seladb_PcapPlusPlus/sip_resp.pcap frame 4 (WWW-Authenticate)
const UNAUTHORIZED_401: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 10.3.160.214:5060;rport=5060;received=10.3.160.214;branch=z9hG4bK758266975\r\n\
Call-ID: 434981653\r\n\
From: <sip:user3@ims.hom>;tag=1597735002\r\n\
To: <sip:user3@ims.hom>;tag=z9hG4bKPjNwtzXu2EwWIjxR8qftv00jzO9arV-iyh\r\n\
CSeq: 1 REGISTER\r\n\
WWW-Authenticate: Digest  realm=\"ims.hom\",nonce=\"021fa2db5ff06518\",opaque=\"627f7bb95d5e2dcd\",algorithm=MD5,qop=\"auth\"\r\n\
Content-Length:  0\r\n\
\r\n";

/// OISF_suricata-verify/sip-compact-form/sip_compact_form.pcap frame 1 (compact header names)
const COMPACT_INVITE: &[u8] = b"INVITE sip:97239287044@voip.brujula.net SIP/2.0\r\n\
v: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp104984053-44ce4a41192.168.1.2;rport\r\n\
f: \\\"arik\\\" <sip:816666@voip.brurjula.net>;tag=6433ef9\r\n\
t: <sip:97239287044@voip.brujula.net>\r\n\
Call-ID: 105090259-446faf7a@192.168.1.2\r\n\
CSeq: 1 INVITE\r\n\
User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n\
Expires: 120\r\n\
Accept: application/sdp\r\n\
c: application/sdp\r\n\
l: 272\r\n\
Contact: <sip:816666@192.168.1.2>\r\n\
Max-Forwards: 70\r\n\
Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, NOTIFY, INFO\r\n\
\r\n\
v=0\r\n\
o=SIPPS 105015165 105015162 IN IP4 192.168.1.2\r\n\
s=SIP call\r\n\
i=Session Description Protocol\r\n\
u=https://www.sdp.proto\r\n\
e=j.doe@example.com (Jane Doe)\r\n\
p=+1 617 555-6011 (Jane Doe)\r\n\
c=IN IP4 192.168.1.2\r\n\
b=AS:64\r\n\
t=3034423619 3042462419\r\n\
r=604800 3600 0 90000\r\n\
z=2882844526 -1h 2898848070 0\r\n\
k=prompt\r\n\
a=sendrecv\r\n\
m=audio 30000 RTP/AVP 0 8 97 2 3\r\n\
a=rtpmap:0 pcmu/8000\r\n";

/// OISF_suricata-verify/sip-header-multi-value/sip_header_multi_val.pcap frame 1 (To twice, comma lists)
const MULTI_VALUE_INVITE: &[u8] = b"INVITE sip:97239287044@voip.brujula.net SIP/2.0\r\n\
v: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp104984053-44ce4a41192.168.1.2;rport\r\n\
f: \\\"arik\\\" <sip:816666@voip.brurjula.net>;tag=6433ef9\r\n\
t: <sip:97239287044@voip.brujula.net>\r\n\
To: <sip:12345@voip.brujula.net>\r\n\
Call-ID: 105090259-446faf7a@192.168.1.2\r\n\
CSeq: 1 INVITE\r\n\
User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n\
Expires: 120\r\n\
Accept: application/sdp\r\n\
c: application/sdp\r\n\
l: 272\r\n\
Contact: <sip:816666@192.168.1.2>\r\n\
Max-Forwards: 70\r\n\
Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, NOTIFY, INFO\r\n\
\r\n\
v=0\r\n\
o=SIPPS 105015165 105015162 IN IP4 192.168.1.2\r\n\
s=SIP call\r\n\
i=Session Description Protocol\r\n\
u=https://www.sdp.proto\r\n\
e=j.doe@example.com (Jane Doe)\r\n\
p=+1 617 555-6011 (Jane Doe)\r\n\
c=IN IP4 192.168.1.2\r\n\
b=AS:64\r\n\
t=3034423619 3042462419\r\n\
r=604800 3600 0 90000\r\n\
z=2882844526 -1h 2898848070 0\r\n\
k=prompt\r\n\
a=sendrecv\r\n\
m=audio 30000 RTP/AVP 0 8 97 2 3\r\n\
a=rtpmap:0 pcmu/8000\r\n";

/// zeek_zeek/invalid-content-length.pcap frame 1 (Content-Length: bad)
const BAD_CL_INVITE: &[u8] = b"INVITE sip:bob@10.0.0.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776\r\n\
From: <sip:alice@10.0.0.1>;tag=1928301774\r\n\
To: <sip:bob@10.0.0.2>\r\n\
Call-ID: a84b4c76e66710@10.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: bad\r\n\
\r\n";

/// realjimmy_sample-captures/metasploit-sip-invite-spoof.pcap frame 1 (empty user, no tags)
const SPOOF_INVITE: &[u8] = b"INVITE sip:@127.0.0.1 SIP/2.0\r\n\
To: <sip:10.0.1.45>\r\n\
Via: SIP/2.0/UDP 10.0.1.45\r\n\
From: \"testtest\"<sip:10.0.1.199>\r\n\
Call-ID: 14810.0.1.45\r\n\
CSeq: 1 INVITE\r\n\
Max-Forwards: 20\r\n\
Contact: <sip:127.0.0.1>\r\n\
\r\n";

/// zeek_zeek/sip-junk-before-request.pcap frame 2 (two lines only)
const REGISTER_MIN: &[u8] = b"REGISTER sip:1.1.1.1:5060 SIP/2.0\r\n\
Expires: 3600\r\n\
\r\n";

/// goffinet_sip_captures/sip-488-Not-Acceptable-Here-codec-null.pcapng frame 5 (addr-spec From/To)
const OPTIONS_PING: &[u8] = b"OPTIONS sip:s@176.132.182.27:5060;line=qynrfeg SIP/2.0\r\n\
Via: SIP/2.0/UDP 176.9.39.206:5010;branch=0\r\n\
From: sip:ping@noname.com;tag=uloc-5d600d84-d1a-0d02-a8bb6286-524ce261\r\n\
To: sip:s@176.132.182.27:5060;line=qynrfeg\r\n\
Call-ID: fab24225-14f8a735-e063ce6@176.9.39.206\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

/// irontec_sngrep/ipv6frag.pcap frame 2 (IPv6, Route list, reassembled from fragments)
const IPV6_INVITE: &[u8] = b"INVITE sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060 SIP/2.0\r\n\
Via: SIP/2.0/UDP [fd17:625c:f037:2:a00:27ff:feb9:1521]:15060;branch=z9hG4bK-397430-71846-0\r\n\
From: sipp <sip:sipp@[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060>;tag=397430SIPpTag0071846\r\n\
To: mcr <sip:mcr@[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062>\r\n\
Call-ID: 71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Supported: 100rel,precondition\r\n\
Route:  <sip:[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062;lr>,<sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060;lr>,<sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060;lr>\r\n\
Record-Route: <sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060;lr>\r\n\
P-Served-User: \"uas\" <sip:08019200026@example.org>;sescase=orig\r\n\
P-Asserted-Identity: \"uas\"<sip:08019200026@example.org>\r\n\
Allow: INVITE,PRACK,CANCEL,BYE,UPDATE\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   655\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP6 [fd17:625c:f037:2:a00:27ff:feb9:1521]\r\n\
s=-\r\n\
c=IN IP6 fd17:625c:f037:2:a00:27ff:feb9:1521\r\n\
t=0 0\r\n\
m=audio 15062 RTP/AVP 100 101 0 120 121\r\n\
a=rtpmap:100 AMR-WB/16000\r\n\
a=fmtp:100 mode-set=\"0,1,2\";octet-align=0\r\n\
a=rtpmap:101 AMR-WB/16000\r\n\
a=fmtp:101 mode-set=\"0,1,2\";octet-align=1\r\n\
a=rtpmap:110 AMR/8000\r\n\
a=fmtp:110 mode-set=\"0,1,2\";octet-align=0\r\n\
a=rtpmap:111 AMR/8000\r\n\
a=fmtp:111 mode-set=\"0,1,2\";octet-align=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:120 telephone-event/8000\r\n\
a=rtpmap:121 telephone-event/16000\r\n\
a=des:qos mandatory local none\r\n\
a=des:qos mandatory remote none\r\n\
a=curr:qos local none\r\n\
a=curr:qos remote none\r\n";

/// OISF_suricata-verify/sip-tcp-method/sip-tcp.pcap client stream (REGISTER over two TCP segments)
const TCP_REGISTER: &[u8] = b"REGISTER sip:192.168.43.100;transport=TCP SIP/2.0\r\n\
Via: SIP/2.0/TCP 192.168.43.1:48376;branch=z9hG4bK-524287-1---dcf4eddfaf9f1239;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:987654@192.168.43.1:48376;rinstance=be2ec98d0f43e70c;transport=tcp>\r\n\
To: <sip:987654@192.168.43.100;transport=TCP>\r\n\
From: <sip:987654@192.168.43.100;transport=TCP>;tag=9b99167f\r\n\
Call-ID: 8OmtYUU8EdlafUh4g4jiAw..\r\n\
CSeq: 1 REGISTER\r\n\
Expires: 600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
User-Agent: Zoiper rv2.10.3.2\r\n\
Allow-Events: presence, kpml, talk\r\n\
Content-Length: 0\r\n\
\r\n";

/// OISF_suricata-verify/sip-tcp-method/sip-tcp.pcap server stream (200 OK)
const TCP_REGISTER_OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP 192.168.43.1:48376;branch=z9hG4bK-524287-1---dcf4eddfaf9f1239;rport=43168;received=192.168.43.1\r\n\
To: <sip:987654@192.168.43.100;transport=TCP>;tag=9dd61ff61e802d8e2bef5f14621ef3c2.5c1b\r\n\
From: <sip:987654@192.168.43.100;transport=TCP>;tag=9b99167f\r\n\
Call-ID: 8OmtYUU8EdlafUh4g4jiAw..\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:987654@192.168.43.1:48376;rinstance=be2ec98d0f43e70c;transport=tcp>;expires=600\r\n\
Server: kamailio (5.2.1 (x86_64/linux))\r\n\
Content-Length: 0\r\n\
\r\n";

const SEEDS: &[&[u8]] = &[
    INVITE_SDP,
    RINGING_180,
    OK_200_SDP,
    BYE,
    CANCEL,
    TERMINATED_487,
    REGISTER_DIGEST,
    FORBIDDEN_403,
    SUBSCRIBE,
    UNAUTHORIZED_401,
    COMPACT_INVITE,
    MULTI_VALUE_INVITE,
    BAD_CL_INVITE,
    SPOOF_INVITE,
    REGISTER_MIN,
    OPTIONS_PING,
    IPV6_INVITE,
    TCP_REGISTER,
    TCP_REGISTER_OK,
];

// ------------------------------------------------------------------------------------------------
// Seeds: real frames (hex), with their link types.

/// ntop_nDPI/gre.pcapng frame 1: 802.1Q -> IPv4 -> GRE -> PPP -> IPv4 -> UDP -> SIP 100 Trying.
const ETH_VLAN_GRE_PPP: (LinkType, &str) = (
    LinkType::Ethernet,
    "0000000000029c37f47c6e918100008e08004500016eafa50000f22f584f6d69e4fd0ab162543081880b014a98500000\
     006a0000008cff03002145a0014638c100003f114dfbc0a80ad2c0a8672813c413c4013257d55349502f322e30203130\
     3020547279696e670d0a5669613a205349502f322e302f554450203139322e3136382e3130332e34303a353036303b72\
     706f72743d353036303b72656365697665643d3139322e3136382e3130332e34303b6272616e63683d7a39684734624b\
     5f41493230303041756730363439313336373232373131300d0a546f3a203c7369703a323731403139322e3136382e31\
     302e3231303e0d0a46726f6d3a203c7369703a323831403139322e3136382e3130332e34303e3b7461673d4149434346\
     383035453537384345363430330d0a43616c6c2d49443a20414931373337414235343931414443333932403139322e31\
     36382e3130332e34300d0a435365713a203120494e564954450d0a436f6e74656e742d4c656e6774683a20300d0a0d0a",
);

/// aboutsip_pkts/sipp_sll.pcap frame 10: Linux SLL -> IPv4 -> UDP -> SIP 200 OK.
const SLL_UDP: (LinkType, &str) = (
    LinkType::LinuxSll,
    "00000001000600000000000000000800450001460000400040113ba57f0000017f00000113e213c40132ff455349502f\
     322e3020323030204f4b0d0a5669613a205349502f322e302f554450203132372e302e312e313a353036303b6272616e\
     63683d7a39684734624b2d31363733322d312d370d0a46726f6d3a2073697070203c7369703a73697070403132372e30\
     2e312e313a353036303e3b7461673d3136373332534950705461673030310d0a546f3a20737574203c7369703a736572\
     76696365403132372e302e302e313a353039303e3b7461673d313636343053495070546167303131350d0a43616c6c2d\
     49443a20312d3136373332403132372e302e312e310d0a435365713a2032204259450d0a436f6e746163743a203c7369\
     703a3132372e302e312e313a353039303b7472616e73706f72743d5544503e0d0a436f6e74656e742d4c656e6774683a\
     20300d0a0d0a",
);

/// irontec_sngrep/ipv6frag.pcap frame 1: IPv6 fragment header, offset 0, more fragments.
const SLL_IPV6_FRAG_1: (LinkType, &str) = (
    LinkType::LinuxSll,
    "0000000100060050568b531c555486dd6000d77f05b02c40fd17625cf03700020a0027fffeb91521fd17625cf0370002\
     0a0027fffeb9351911000001b06477803ad413c606a37bce494e56495445207369703a3038303139323030303238405b\
     666431373a363235633a663033373a323a6130303a323766663a666562393a343232325d3a3235303630205349502f32\
     2e300d0a5669613a205349502f322e302f554450205b666431373a363235633a663033373a323a6130303a323766663a\
     666562393a313532315d3a31353036303b6272616e63683d7a39684734624b2d3339373433302d37313834362d300d0a\
     46726f6d3a2073697070203c7369703a73697070405b666431373a363235633a663033373a323a6130303a323766663a\
     666562393a313532315d3a31353036303e3b7461673d33393734333053495070546167303037313834360d0a546f3a20\
     6d6372203c7369703a6d6372405b666431373a363235633a663033373a323a6130303a323766663a666562393a333531\
     395d3a353036323e0d0a43616c6c2d49443a2037313834362d313634373932343832392d33393734333040666431373a\
     363235633a663033373a323a6130303a323766663a666562393a313532310d0a435365713a203120494e564954450d0a\
     436f6e746163743a207369703a73697070405b666431373a363235633a663033373a323a6130303a323766663a666562\
     393a313532315d3a31353036300d0a4d61782d466f7277617264733a2037300d0a5375626a6563743a20506572666f72\
     6d616e636520546573740d0a537570706f727465643a2031303072656c2c707265636f6e646974696f6e0d0a526f7574\
     653a20203c7369703a5b666431373a363235633a663033373a323a6130303a323766663a666562393a333531395d3a35\
     3036323b6c723e2c3c7369703a3038303139323030303238405b666431373a363235633a663033373a323a6130303a32\
     3766663a666562393a343232325d3a32353036303b6c723e2c3c7369703a3038303139323030303238405b666431373a\
     363235633a663033373a323a6130303a323766663a666562393a343232325d3a32353036303b6c723e0d0a5265636f72\
     642d526f7574653a203c7369703a3038303139323030303238405b666431373a363235633a663033373a323a6130303a\
     323766663a666562393a343232325d3a32353036303b6c723e0d0a502d5365727665642d557365723a20227561732220\
     3c7369703a3038303139323030303236406578616d706c652e6f72673e3b736573636173653d6f7269670d0a502d4173\
     7365727465642d4964656e746974793a2022756173223c7369703a3038303139323030303236406578616d706c652e6f\
     72673e0d0a416c6c6f773a20494e564954452c505241434b2c43414e43454c2c4259452c5550444154450d0a436f6e74\
     656e742d547970653a206170706c69636174696f6e2f7364700d0a436f6e74656e742d4c656e6774683a202020363535\
     0d0a0d0a763d300d0a6f3d7573657231203533363535373635203233353336383736333720494e20495036205b666431\
     373a363235633a663033373a323a6130303a323766663a666562393a313532315d0d0a733d2d0d0a633d494e20495036\
     20666431373a363235633a663033373a323a6130303a323766663a666562393a313532310d0a743d3020300d0a6d3d61\
     7564696f203135303632205254502f4156502031303020313031203020313230203132310d0a613d7274706d61703a31\
     303020414d522d57422f31363030300d0a613d666d74703a313030206d6f64652d7365743d22302c312c32223b6f6374\
     65742d616c69676e3d300d0a613d7274706d61703a31303120414d522d57422f31363030300d0a613d666d74703a3130\
     31206d6f64652d7365743d22302c312c32223b6f637465742d616c69676e3d310d0a613d7274706d61703a3131302041\
     4d522f383030300d0a613d666d74703a313130206d6f64652d7365743d22302c312c32223b6f637465742d616c69676e\
     3d300d0a613d7274706d61703a31313120414d522f383030",
);

/// irontec_sngrep/ipv6frag.pcap frame 2: IPv6 fragment header, last fragment of the same datagram.
const SLL_IPV6_FRAG_2: (LinkType, &str) = (
    LinkType::LinuxSll,
    "0000000100060050568b531c312c86dd6000d77f01032c40fd17625cf03700020a0027fffeb91521fd17625cf0370002\
     0a0027fffeb93519110005a8b0647780300d0a613d666d74703a313131206d6f64652d7365743d22302c312c32223b6f\
     637465742d616c69676e3d310d0a613d7274706d61703a302050434d552f383030300d0a613d7274706d61703a313230\
     2074656c6570686f6e652d6576656e742f383030300d0a613d7274706d61703a3132312074656c6570686f6e652d6576\
     656e742f31363030300d0a613d6465733a716f73206d616e6461746f7279206c6f63616c206e6f6e650d0a613d646573\
     3a716f73206d616e6461746f72792072656d6f7465206e6f6e650d0a613d637572723a716f73206c6f63616c206e6f6e\
     650d0a613d637572723a716f732072656d6f7465206e6f6e650d0a",
);

/// goffinet_sip_captures/private-test-sip-2.pcapng frame 12: IPv4 first fragment (MF set).
const ETH_IPV4_FRAG_1: (LinkType, &str) = (
    LinkType::Ethernet,
    "000c29de39d6000c2931b3820800450005dceb1b200040114cb9ac106266ac1062b513c413c405d7ae3c494e56495445\
     207369703a74656c6570686f6e6531403137322e31362e39382e3138313a353036303b6f62205349502f322e300d0a56\
     69613a205349502f322e302f554450203137322e31362e39382e3130323a353036303b6272616e63683d7a3968473462\
     4b2d3532343238372d312d2d2d333661306330353163396635626537633b72706f72740d0a5669613a205349502f322e\
     302f554450203137322e31362e39382e313a353036303b6272616e63683d7a39684734624b2d3334333233302d396235\
     38636161343931646163363438313332303538366539353332626433390d0a4d61782d466f7277617264733a2036390d\
     0a436f6e746163743a202274656c6570686f6e653222203c7369703a74656c6570686f6e6532403137322e31362e3938\
     2e313a353036303b7472616e73706f72743d7564703b7265676973746572696e675f6163633d646f6d61696e5f78797a\
     3e0d0a546f3a203c7369703a74656c6570686f6e653140646f6d61696e2e78797a3e0d0a46726f6d3a202274656c6570\
     686f6e6532223c7369703a74656c6570686f6e653240646f6d61696e2e78797a3e3b7461673d65343334613735350d0a\
     43616c6c2d49443a20383937666661363466333261386536663563316433643735336239306632656440303a303a303a\
     303a303a303a303a300d0a435365713a203120494e564954450d0a436f6e74656e742d547970653a206170706c696361\
     74696f6e2f7364700d0a557365722d4167656e743a204a69747369322e382e353432364d6163204f5320580d0a436f6e\
     74656e742d4c656e6774683a203838350d0a0d0a763d300d0a6f3d74656c6570686f6e65322d6a697473692e6f726720\
     30203020494e20495034203137322e31362e39382e310d0a733d2d0d0a633d494e20495034203137322e31362e39382e\
     310d0a743d3020300d0a6d3d617564696f2035303238205254502f415650203936203937203938203920313030203130\
     322030203820313033203320313034203130310d0a613d7274706d61703a3936206f7075732f34383030302f320d0a61\
     3d666d74703a3936207573656474783d310d0a613d7274706d61703a39372053494c4b2f32343030300d0a613d727470\
     6d61703a39382053494c4b2f31363030300d0a613d7274706d61703a3920473732322f383030300d0a613d7274706d61\
     703a3130302073706565782f33323030300d0a613d7274706d61703a3130322073706565782f31363030300d0a613d72\
     74706d61703a302050434d552f383030300d0a613d7274706d61703a382050434d412f383030300d0a613d7274706d61\
     703a31303320694c42432f383030300d0a613d7274706d61703a332047534d2f383030300d0a613d7274706d61703a31\
     30342073706565782f383030300d0a613d7274706d61703a3130312074656c6570686f6e652d6576656e742f38303030\
     0d0a613d6578746d61703a312075726e3a696574663a706172616d733a7274702d6864726578743a637372632d617564\
     696f2d6c6576656c0d0a613d6578746d61703a322075726e3a696574663a706172616d733a7274702d6864726578743a\
     737372632d617564696f2d6c6576656c0d0a613d727463702d78723a766f69702d6d6574726963730d0a6d3d76696465\
     6f2035303330205254502f415650203130352039390d0a613d726563766f6e6c790d0a613d7274706d61703a31303520\
     483236342f39303030300d0a613d666d74703a3130352070726f66696c652d6c6576656c2d69643d3444453031663b70\
     61636b6574697a6174696f6e2d6d6f64653d310d0a613d696d616765617474723a3130352073656e64202a2072656376\
     205b783d5b302d313638305d2c793d5b302d313035305d5d0d0a613d7274706d61703a393920483236342f3930303030\
     0d0a613d666d74703a39392070726f66696c652d6c6576656c2d69643d3444453031660d0a613d696d61676561747472\
     3a39392073656e64202a2072656376205b783d5b302d31363830",
);

/// goffinet_sip_captures/private-test-sip-2.pcapng frame 13: IPv4 last fragment of the same datagram.
const ETH_IPV4_FRAG_2: (LinkType, &str) = (
    LinkType::Ethernet,
    "000c29de39d6000c2931b382080045000023eb1b00b9401171b9ac106266ac1062b55d2c793d5b302d313035305d5d0d\
     0a0000000000000000000000",
);

/// irontec_sngrep/ipip.pcap frame 4: IPv4-in-IPv4 -> TCP -> SIP BYE.
const ETH_IPIP_TCP: (LinkType, &str) = (
    LinkType::Ethernet,
    "005056bb8e31005056bb260c0800450001cd203b400040067e4b0a0fc5670a0fc11f13e281457d9e8aaf274593518018\
     00249c6400000101080a047d24fda8649d32425945207369703a31626461613630383133313531373534303030314031\
     37322e32382e312e333b7472616e73706f72743d746370205349502f322e300d0a5669613a205349502f322e302f5443\
     502031302e31352e3139372e3130333a353039303b6272616e63683d7a39684734624b38643658534e33764532690d0a\
     546f3a203c7369703a31626461613630383133313531373534303030304031302e31352e3139332e33313e3b7461673d\
     746f2d7461670d0a46726f6d3a203c7369703a31626461613630383133313531373534303030304031302e31352e3139\
     372e3130333e3b7461673d6a7235376e61367368680d0a43616c6c2d49643a2031524c75567a7a42436c594366320d0a\
     435365713a203136204259450d0a436f6e746163743a203c7369703a3162646161363038313331353137353430303030\
     2d31626461613630383133313531373534303030302d617368746561646965762d344031302e31352e3139372e313033\
     3a353039303b7472616e73706f72743d7463703e0d0a436f6e74656e742d4c656e6774683a20300d0a0d0a",
);

/// OISF_suricata-verify/sip-body-large/sip-body-large.pcap frame 1: BSD loopback (NULL) -> IPv4 -> TCP SYN.
const NULL_TCP_SYN: (LinkType, &str) = (
    LinkType::Null,
    "020000004500004000004000400600007f0000017f000001e9a113c48f3fa6d100000000b002fffffe34000002043fd8\
     010303060101080a830056530000000004020000",
);

/// arkime_arkime/arkime_synthetic.pcap frame 513: 802.1ad + 802.1Q -> IPv4 -> ICMP.
const ETH_QINQ_ICMP: (LinkType, &str) = (
    LinkType::Ethernet,
    "66778899aabc00112233445688a800c88100012c08004500002500010000400162690a0502640a05020108001e3d0000\
     000071696e712074657374",
);

/// CESNET_ipfixprobe/sip.pcap frame 7: ICMP port unreachable quoting a SIP request.
const ETH_ICMP_QUOTING_SIP: (LinkType, &str) = (
    LinkType::Ethernet,
    "681729a6258e1ce6c75333c0080045c001ce4d5400003b01dff0c371ac2793204d71030a4ed000000000450001b2229b\
     40003c11ca7593204d71c371ac2713c413c5019ef6a2494e56495445207369703a313030403139352e3131332e313732\
     2e3339205349502f322e300d0a5669613a205349502f322e302f554450203132372e302e312e313a353036303b627261\
     6e63683d7a39684734624b2d323037353835303735323b72706f72740d0a436f6e74656e742d4c656e6774683a20300d\
     0a46726f6d3a2022736970766963696f7573223c7369703a31303040312e312e312e313e3b7461673d36333333333733\
     3136313633333233373331333336333335303133323336333633343337333133313330333633370d0a4163636570743a\
     206170706c69636174696f6e2f7364700d0a557365722d4167656e743a20667269656e646c792d7363616e6e65720d0a\
     546f3a2022736970766963696f7573223c7369703a31303040312e312e312e313e0d0a436f6e746163743a207369703a\
     313030403132372e302e312e313a353036300d0a435365713a203120494e564954450d0a43616c6c2d49443a20313030\
     353631383632363835363630313035383937333033310d0a4d61782d466f7277617264733a2037300d0a0d0a",
);

/// sipcapture_hep-wireshark/hep.pcap frame 2: IPv4 -> UDP -> HEP3 with a SIP payload.
const ETH_UDP_HEP3: (LinkType, &str) = (
    LinkType::Ethernet,
    "0000000000000000000000000800450001e704e740004011361d7f0000017f000001c7d8236401d3ffe64845503301cb\
     000000010007020000000200071100000003000ac0a8010200000004000ac0a8010100000007000813c4000000080008\
     13c400000009000a584d365c0000000a000a000001450000000b0007010000000c000a000007d10000000e000b6d7948\
     657000000011001b71676633646d3972756469403132372e302e302e310000000f01485349502f322e30203130302054\
     7279696e670a43616c6c2d49443a2071676633646d3972756469403132372e302e302e310a435365713a203120494e56\
     4954450a46726f6d3a203c7369703a6e6f64656a73403132372e302e302e313e3b7461673d323632383838313536390a\
     546f3a203c7369703a6e6f64656a73403132372e302e302e313e3b7461673d3164323461323861306264656436633430\
     6433316536646238616162396163362e333639660a5669613a205349502f322e302f554450203139322e3136382e312e\
     313a34383439353b6272616e63683d7a39684734624b3962383261613866623463373730353436366133343536646666\
     6637663338343333333333323b72706f72743d34383439350a557365722d4167656e743a2048455047454e2d5541530a\
     436f6e74656e742d4c656e6774683a20300d0a0d0a",
);

/// sipcapture_hep-wireshark/hep3_compressed.pcap.pcapng frame 4: IPv4 -> UDP -> HEP3 with a compressed payload.
const SLL_UDP_HEP3_COMPRESSED: (LinkType, &str) = (
    LinkType::LinuxSll,
    "00040001000600155d1808d1000008004500037d2df740004011bed9c0a889f7ffffffffbf56236403694e1a48455033\
     0361000000010007020000000200070600000007000813c400000008000813ce00000009000a59950fa20000000a000a\
     000951270000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a889f70000000e000b6d\
     794865700000001002f9789c9554df739b38107e6786ff41e3993e0551891fc640c9c471718649ebe48c9b691f851058\
     63833849249dfcf527ec5e73bdc95d5b3dc04afbedaef6db5d6df39ba2dce55ba0f89048aa5ca54159dcbff55c645b0f\
     9c247fefdeee56f700c79e8be70b17fb91eb055112a2394ae520a44e2b497abacf9ee3fd4d50dde23f0ecf3986a4ddde\
     7cbafd89239cf8de0285673f5918f881911965fc91d5d90fc07f050931f1e366110498a2aa8a49b458c4010b7ccf5b84\
     513dafd20363836dada5e812f06e4af002873808c310a130b83a677b996ad266b5d710df8b82b9b989c762068386209f\
     123ad1b013ff636e5b2b723cc2e27d02160d454d13311837a861154270ee0561453c7cf5431ac6a4647f260083ed37f6\
     6deb23f90ad7423e1159ab04cc638311bd66bd861f58dfea7d02d0f98850fdda6d5e2354549729fb3a70c9543647d34a\
     2f5ad76f87c1e54472285993cd46d9bff197e60b23f39f94900cc39153a2b9e85ddea913d86d55472057ceafe20d3dcc\
     6df4efe00d7caff5f07b2178377bc98aaaffce4a31f9c8293b9b1ba0db759a1d4fc6a223ae6114f2eebb2baae0a330f0\
     f491d74ca41746edf25e69d37f2c9bbd339e9371e475c216b8a1418c60e3d30afa288a6110130ceb88cc2baf895185fd\
     cb99e9e71672d3cdb6558ec3d4e7ac4e80187525c6be765a398ece40f4deb6eec954eb537d37873546919998ab57c74e\
     9b5950a791d174488f722ab76d7d866545e146d40c162684aae8d5588dbd1e8d6bf8c0153791e186e927210f27c4b98d\
     6d6b793c8aa704149b8762973b60b9ba75c06ab959e51f1c7077bf2bee36a503aebf18d5365fe75b076cee76c5fa8b03\
     3ee665b9bc31e7e5a7eb72b52dae8d586cd677c6e5a8f742f2e753d912f09eb7ccbc2ea329444f3ac3e22be334738064\
     e4d865b3effb5e9c2837d22879367b79a74e58c340af26f594df9252a6d44b7a7d6326b7c8f31c9aa976314e01874f47\
     d2c37ee2c7d4a3f9c79a1cac44e70ebdfa66394831555f665eaac581f5d9b56847b59b44dbb2adbf0002db96bc",
);

const FRAMES: &[(LinkType, &str)] = &[
    ETH_VLAN_GRE_PPP,
    SLL_UDP,
    SLL_IPV6_FRAG_1,
    SLL_IPV6_FRAG_2,
    ETH_IPV4_FRAG_1,
    ETH_IPV4_FRAG_2,
    ETH_IPIP_TCP,
    NULL_TCP_SYN,
    ETH_QINQ_ICMP,
    ETH_ICMP_QUOTING_SIP,
    ETH_UDP_HEP3,
    SLL_UDP_HEP3_COMPRESSED,
];

/// `msg` with the header block's CRLFs turned into bare LFs (the body, and so Content-Length, kept).
fn lf_only(msg: &[u8]) -> Vec<u8> {
    let split = find(msg, b"\r\n\r\n").map_or(msg.len(), |p| p + 4);
    let mut out = Vec::with_capacity(msg.len());
    let head = &msg[..split];
    let mut i = 0;
    while i < head.len() {
        if head[i..].starts_with(b"\r\n") {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(head[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&msg[split..]);
    out
}

/// `msg` with every `, ` and `;` of its header block folded onto a continuation line
/// (RFC 3261 §7.3.1), keeping the line-end style of the message.
fn folded(msg: &[u8]) -> Vec<u8> {
    let crlf = find(msg, b"\r\n").is_some();
    let end = if crlf { &b"\r\n\r\n"[..] } else { &b"\n\n"[..] };
    let split = find(msg, end).map_or(msg.len(), |p| p + end.len());
    let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let first_line = find(msg, nl).map_or(0, |p| p + nl.len());
    let mut out = msg[..first_line].to_vec();
    let head = &msg[first_line..split];
    let mut i = 0;
    while i < head.len() {
        if head[i..].starts_with(b", ") {
            out.extend_from_slice(b",");
            out.extend_from_slice(nl);
            out.extend_from_slice(b"\t ");
            i += 2;
        } else if head[i] == b';' {
            out.extend_from_slice(nl);
            out.extend_from_slice(b"   ;");
            i += 1;
        } else {
            out.push(head[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&msg[split..]);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The real seeds plus the derived LF-only and folded variants.
fn sip_seeds() -> &'static [Vec<u8>] {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.to_vec()).collect();
        v.push(lf_only(INVITE_SDP));
        v.push(lf_only(TCP_REGISTER));
        v.push(folded(REGISTER_DIGEST));
        v.push(folded(IPV6_INVITE));
        v.push(folded(&lf_only(COMPACT_INVITE)));
        v
    })
}

/// Header values, URIs and SDP bodies cut from the seeds, for the stage-two parsers.
struct Parts {
    vias: Vec<Vec<u8>>,
    name_addrs: Vec<Vec<u8>>,
    uris: Vec<Vec<u8>>,
    sdp_bodies: Vec<Vec<u8>>,
}

fn parts() -> &'static Parts {
    static P: OnceLock<Parts> = OnceLock::new();
    P.get_or_init(|| {
        let mut p = Parts {
            vias: Vec::new(),
            name_addrs: Vec::new(),
            uris: Vec::new(),
            sdp_bodies: Vec::new(),
        };
        for s in SEEDS {
            let m = SipMessage::parse(Bytes::from_static(s), true).expect("seed parses");
            p.vias
                .extend(m.headers_named(HeaderName::Via).map(<[u8]>::to_vec));
            for h in [
                HeaderName::From,
                HeaderName::To,
                HeaderName::Contact,
                HeaderName::Route,
                HeaderName::RecordRoute,
            ] {
                for v in m.headers_named(h) {
                    p.name_addrs.extend(split_values(v).map(<[u8]>::to_vec));
                }
            }
            p.uris.extend(m.request_uri().map(<[u8]>::to_vec));
            if !m.body().is_empty() {
                p.sdp_bodies.push(m.body().to_vec());
            }
        }
        let uris: Vec<Vec<u8>> = p
            .name_addrs
            .iter()
            .filter_map(|v| NameAddr::parse(v).map(|n| n.uri_text.to_vec()))
            .collect();
        p.uris.extend(uris);
        p.uris
            .push(b"tel:+1-201-555-0123;phone-context=example.com".to_vec());
        p.uris
            .push(b"sips:alice;day=tue:secret@[2001:db8::1]:5061;transport=tcp?subject=x".to_vec());
        p
    })
}

/// Does `inner` (when not empty) lie within `outer`'s memory?
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

// ------------------------------------------------------------------------------------------------
// Mutations.

/// Byte strings a mutation may insert: the separators and numbers the parsers branch on.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\n\n",
    b"\r\n ",
    b"\r\n\t",
    b":",
    b";",
    b",",
    b"=",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"[",
    b"]",
    b"@",
    b"?",
    b" ",
    b"\t",
    b"\0",
    b"\xff",
    b"\xc3",
    b"SIP/2.0 ",
    b" SIP/2.0\r\n",
    b"SIP/2.0/UDP ",
    b"Content-Length: ",
    b"l: 4294967296\r\n",
    b"Content-Length: 99999\r\n",
    b"Content-Type: multipart/mixed;boundary=b\r\n",
    b"--b\r\nContent-Type: application/sdp\r\n\r\n",
    b"\r\n--b--",
    b"v=0\r\n",
    b"m=audio 0 RTP/AVP 0\r\n",
    b"a=rtpmap:96 x/0/0\r\n",
    b"c=IN IP6 ::\r\n",
    b"4294967295",
    b"65536",
    b"-1",
    b"0",
    b"HEP3",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Set {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Token {
        at: usize,
        token: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    /// Copy `len` bytes from `from` to `to` (a duplicated chunk).
    Duplicate {
        from: usize,
        len: usize,
        to: usize,
    },
    Truncate {
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        1 => (any::<usize>(), bytes(1..16))
            .prop_map(|(at, b)| Mutation::Insert { at, bytes: b.0 }),
        3 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Token { at, token }),
        2 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        2 => (any::<usize>(), 1usize..200, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..8)
}

fn mutate(seed: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for m in muts {
        let n = d.len();
        match m {
            Mutation::Flip { at, bit } if n > 0 => d[at % n] ^= 1 << bit,
            Mutation::Set { at, byte } if n > 0 => d[at % n] = *byte,
            Mutation::Insert { at, bytes } => {
                let at = at % (n + 1);
                d.splice(at..at, bytes.iter().copied());
            }
            Mutation::Token { at, token } => {
                let at = at % (n + 1);
                d.splice(at..at, TOKENS[*token].iter().copied());
            }
            Mutation::Delete { at, len } if n > 0 => {
                let at = at % n;
                d.drain(at..(at + len).min(n));
            }
            Mutation::Duplicate { from, len, to } if n > 0 => {
                let from = from % n;
                let chunk = d[from..(from + len).min(n)].to_vec();
                let to = to % (n + 1);
                d.splice(to..to, chunk);
            }
            Mutation::Truncate { at } => d.truncate(at % (n + 1)),
            _ => {}
        }
    }
    d
}

/// Generated bytes, shown escaped (not as a list of numbers) when a property fails.
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Input> {
    prop::collection::vec(any::<u8>(), len).prop_map(Input)
}

/// One of `seeds`, mutated.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Input> {
    (prop::sample::select(seeds), mutations()).prop_map(|(s, m)| Input(mutate(&s, &m)))
}

/// Bytes from the alphabet SIP text is made of, after a real start line, so that random input
/// gets past the start line into the header and body code.
fn sipish() -> impl Strategy<Value = Input> {
    const ALPHABET: &[u8] = b"aZ09 \t\r\n\r\n\r\n:;,=<>\"\\[]@?/.-+%*~'!lLtTfFvViI\x00\xff";
    const STARTS: &[&[u8]] = &[
        b"INVITE sip:bob@example.com SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\n",
        b"SIP/2.0 180\n",
        b"X sip:x SIP/2.0\r\n",
        b"SIP/2.0 999 \r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/TCP h\r\nContent-Length: ",
        b"REGISTER sip:r SIP/1.0\r\nFrom: ",
    ];
    (
        prop::sample::select(STARTS),
        prop::collection::vec(prop::sample::select(ALPHABET), 0..400),
    )
        .prop_map(|(start, tail)| {
            let mut v = start.to_vec();
            v.extend(tail);
            Input(v)
        })
}

fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Checks shared by the properties: call everything, assert what must hold.

/// Parses `data` as one SIP message and, when it parses, calls every accessor and the stage-two
/// parsers on what they return.
fn check_sip(data: &[u8], datagram: bool) {
    let _ = looks_like_sip(data);
    let m = match SipMessage::parse(Bytes::copy_from_slice(data), datagram) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(&m.raw[..], data);
    // Borrowed values point into the message's own copy of the bytes.
    let data = &m.raw[..];
    let len = data.len();
    assert!(m.body.start <= m.body.end, "body span {:?}", m.body);
    assert!(
        m.body.end as usize <= len,
        "body span {:?} past {len}",
        m.body
    );
    assert_eq!(m.body(), &data[m.body.range()]);
    for h in &m.headers {
        for s in [h.name_span, h.value] {
            assert!(
                s.start <= s.end && s.end as usize <= len,
                "header span {s:?}"
            );
        }
    }
    let _ = m.text();
    let _ = (m.is_request(), m.method(), m.status());
    let _ = (m.request_uri(), m.reason_phrase(), m.call_id(), m.cseq());
    assert_eq!(m.is_request(), m.request_uri().is_some());
    assert_eq!(m.is_request(), m.reason_phrase().is_none());
    for a in m.anomalies.iter() {
        let _ = a.code();
    }
    if let Some(v) = m.top_via() {
        check_via_fields(data, &v);
    }
    let _ = m.via_count();
    for na in [m.from(), m.to()].into_iter().flatten() {
        check_name_addr_fields(data, &na);
    }
    for name in [
        "Call-ID",
        "i",
        "X-Call-ID",
        "content-length",
        "P-Asserted-Identity",
        "",
    ] {
        if let Some(v) = m.header_by_name(name) {
            assert!(within(data, v));
        }
    }
    for v in m.headers_named(HeaderName::Via) {
        check_via(v);
    }
    for h in [
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
    ] {
        for v in m.headers_named(h) {
            check_name_addr(v);
        }
    }
    if let Some(u) = m.request_uri() {
        check_uri(u);
    }
    let ct = m
        .header(HeaderName::ContentType)
        .unwrap_or(b"application/sdp");
    for part in sdp_parts(ct, m.body()) {
        assert!(within(data, part));
        check_sdp(part);
    }
}

fn check_via(v: &[u8]) {
    for item in split_values(v) {
        assert!(within(v, item));
        if let Some(via) = Via::parse(item) {
            check_via_fields(v, &via);
        }
    }
    if let Some(via) = Via::parse_first(v) {
        check_via_fields(v, &via);
    }
    let (host, _port) = split_host_port(v);
    assert!(within(v, host));
    for (n, val) in params(v) {
        assert!(within(v, n) && within(v, val.unwrap_or_default()));
    }
}

fn check_via_fields(outer: &[u8], via: &Via<'_>) {
    let _ = via.is_rfc3261();
    for s in [via.transport, via.sent_by, via.host] {
        assert!(within(outer, s));
    }
    for s in [via.branch, via.received, via.rport].into_iter().flatten() {
        assert!(within(outer, s));
    }
}

fn check_name_addr(v: &[u8]) {
    if let Some(na) = NameAddr::parse(v) {
        check_name_addr_fields(v, &na);
    }
}

fn check_name_addr_fields(outer: &[u8], na: &NameAddr<'_>) {
    assert!(within(outer, na.uri_text) && within(outer, na.params));
    assert!(within(outer, na.display.unwrap_or_default()));
    for s in [na.tag(), na.param("lr"), na.param("")]
        .into_iter()
        .flatten()
    {
        assert!(within(outer, s));
    }
    assert!(within(outer, na.user()));
    if let Some(u) = na.uri() {
        check_uri_fields(outer, &u);
    }
}

fn check_uri(s: &[u8]) {
    if let Some(u) = Uri::parse(s) {
        check_uri_fields(s, &u);
    }
}

fn check_uri_fields(outer: &[u8], u: &Uri<'_>) {
    for s in [u.scheme, u.host, u.params, u.user.unwrap_or_default()] {
        assert!(within(outer, s));
    }
}

fn check_sdp(body: &[u8]) {
    let Ok(sdp) = parse_sdp(body) else {
        return;
    };
    if let Some(o) = &sdp.origin {
        for s in [
            o.username,
            o.session_id,
            o.version,
            o.net_type,
            o.addr_type,
            o.addr,
        ] {
            assert!(within(body, s));
        }
    }
    assert!(within(body, sdp.session_name.unwrap_or_default()));
    if let Some(c) = &sdp.connection {
        let _ = c.is_unspecified();
        assert!(within(body, c.addr));
    }
    for m in &sdp.media {
        assert!(within(body, m.kind) && within(body, m.proto));
        let _ = m.effective_connection(&sdp).map(|c| c.is_unspecified());
        let d = m.effective_direction(&sdp);
        let _ = (
            d.as_str(),
            d.sends(),
            d.receives(),
            d.reversed(),
            d.to_string(),
        );
        let _ = (m.is_disabled(), m.is_hold(&sdp), m.is_rtp());
        for f in &m.formats {
            assert!(within(body, f));
        }
        let pts = m
            .rtpmap
            .iter()
            .map(|r| r.pt)
            .chain(m.fmtp.iter().map(|f| f.0));
        for pt in pts.chain([0, 8, 18, 96, 101, 127, 128, 255]) {
            let _ = (m.codec(pt), m.fmtp_for(pt), static_payload(pt));
        }
    }
}

fn frame(link: LinkType, data: &[u8]) -> Frame {
    Frame {
        ts: Ts::from_parts(1_700_000_000, 0),
        link,
        data: Bytes::copy_from_slice(data),
        orig_len: data.len() as u32,
    }
}

/// Decodes one frame; a packet's payload must come from the frame unless it was reassembled.
fn check_decode(dec: &mut Decoder, link: LinkType, data: &[u8]) {
    let f = frame(link, data);
    let _ = shard_hash(f.link, &f.data);
    if let Some(p) = dec.decode(&f) {
        assert!(p.reassembled || p.payload.len() <= data.len());
    }
}

/// Raw IPv4 carrying a UDP header cut to 6 bytes (any length 6 or 7 does it): the decoder
/// slices the payload from byte 8 of the 6 it has.
#[test]
fn udp_header_shorter_than_8_bytes_does_not_panic() {
    let ip = "4500001a 00000000 40110000 c0000201 c0000202 13c413c4 0008";
    Decoder::default().decode(&frame(LinkType::Raw, &unhex(ip)));
}

const LINKS: [LinkType; 9] = [
    LinkType::Null,
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Loop,
    LinkType::Other(147),
];

fn real_frames() -> Vec<(LinkType, Vec<u8>)> {
    FRAMES.iter().map(|(l, h)| (*l, unhex(h))).collect()
}

/// The UDP payload (HEP3) of the corpus HEP frames.
fn hep_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (link, hex) in [ETH_UDP_HEP3, SLL_UDP_HEP3_COMPRESSED] {
        let p = Decoder::default()
            .decode(&frame(link, &unhex(hex)))
            .expect("HEP frame decodes");
        assert!(is_hep3(&p.payload));
        out.push(p.payload.to_vec());
    }
    out.push(hep3_from(INVITE_SDP, false, false));
    out.push(hep3_from(UNAUTHORIZED_401, true, true));
    out
}

/// A HEP3 packet around a SIP message, with every generic chunk, an unknown vendor's chunk, and
/// the payload raw or zlib-compressed.
fn hep3_from(sip: &[u8], v6: bool, compress: bool) -> Vec<u8> {
    use std::io::Write;
    let mut body = Vec::new();
    let mut chunk = |vendor: u16, kind: u16, value: &[u8]| {
        body.extend_from_slice(&vendor.to_be_bytes());
        body.extend_from_slice(&kind.to_be_bytes());
        body.extend_from_slice(&(value.len() as u16 + 6).to_be_bytes());
        body.extend_from_slice(value);
    };
    if v6 {
        chunk(0, 0x01, &[10]);
        chunk(
            0,
            0x05,
            &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        chunk(
            0,
            0x06,
            &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        );
    } else {
        chunk(0, 0x01, &[2]);
        chunk(0, 0x03, &[192, 0, 2, 1]);
        chunk(0, 0x04, &[192, 0, 2, 2]);
    }
    chunk(0, 0x02, &[17]);
    chunk(0, 0x07, &5060u16.to_be_bytes());
    chunk(0, 0x08, &5080u16.to_be_bytes());
    chunk(0, 0x09, &1_700_000_000u32.to_be_bytes());
    chunk(0, 0x0a, &123_456u32.to_be_bytes());
    chunk(0, 0x0b, &[1]);
    chunk(0, 0x0c, &2001u32.to_be_bytes());
    chunk(0, 0x0e, b"secret");
    chunk(0, 0x11, b"correlation");
    chunk(0, 0x12, &100u16.to_be_bytes());
    chunk(0, 0x13, b"node-1");
    chunk(0x1234, 0x0f, b"not generic");
    if compress {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(sip).unwrap();
        chunk(0, 0x10, &z.finish().unwrap());
    } else {
        chunk(0, 0x0f, sip);
    }
    let mut out = b"HEP3".to_vec();
    out.extend_from_slice(&(body.len() as u16 + 6).to_be_bytes());
    out.extend(body);
    out
}

fn check_hep(data: &[u8]) {
    let _ = (is_hep3(data), hep3_packet_len(data));
    match parse_hep3(data) {
        Ok((hep, used)) => {
            assert!(used <= data.len() && used >= 6);
            for s in [hep.correlation_id, hep.node_name].into_iter().flatten() {
                assert!(within(data, s));
            }
            match hep.payload {
                HepPayload::Raw(p) => {
                    assert!(within(data, p));
                    check_sip(p, true);
                }
                HepPayload::Compressed(p) => {
                    assert!(within(data, p));
                    if let Ok(sip) = inflate_payload(p, 4096) {
                        assert!(sip.len() <= 4096);
                        check_sip(&sip, true);
                    }
                }
                HepPayload::None => {}
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A message to send over WebSocket: (bytes, number of fragments, masking key, ping before the
/// last fragment).
type WsMessage = (Vec<u8>, usize, Option<[u8; 4]>, bool);

/// A WebSocket stream carrying `msgs`.
fn ws_stream(msgs: &[WsMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    for (m, pieces, mask, ping) in msgs {
        let step = m.len().div_ceil(*pieces).max(1);
        let chunks: Vec<&[u8]> = m.chunks(step).collect();
        for (i, c) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            if last && *ping {
                out.extend(crate::support::build::ws_frame(true, 0x9, *mask, b"ping"));
            }
            let op = if i == 0 { 0x1 } else { 0x0 };
            out.extend(crate::support::build::ws_frame(last, op, *mask, c));
        }
    }
    out
}

/// Feeds `data` to `f` in pieces cut at `cuts` (positions taken modulo the length).
fn pieces(data: &[u8], cuts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| w[0]..w[1]).collect()
}

fn frame_sip(data: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<Bytes> {
    let mut f = SipFramer::default();
    let mut st = FramingStats::default();
    let mut out = Vec::new();
    for r in ranges {
        f.push(&data[r.clone()], &mut st, &mut out);
    }
    f.finish(&mut st, &mut out);
    out
}

/// Seeds the framer cuts back out of a stream unchanged (Content-Length right, no trailing bytes).
fn stream_seeds() -> Vec<Vec<u8>> {
    sip_seeds()
        .iter()
        .filter(|s| {
            let out = frame_sip(s, &pieces(s, &[]));
            out.len() == 1 && out[0][..] == s[..]
        })
        .cloned()
        .collect()
}

/// Delivered chunks against the original: each data chunk matches the original at its offset.
/// Returns the final offset (data plus gaps).
fn replay(original: &[u8], chunks: &[Chunk]) -> usize {
    let mut pos = 0usize;
    for c in chunks {
        match c {
            Chunk::Data(d) => {
                assert!(!d.is_empty(), "empty data chunk");
                assert!(
                    pos + d.len() <= original.len(),
                    "data past the end at {pos}"
                );
                assert_eq!(
                    &d[..],
                    &original[pos..pos + d.len()],
                    "data differs at {pos}"
                );
                pos += d.len();
            }
            Chunk::Gap(n) => {
                assert!(*n > 0, "empty gap");
                pos += *n as usize;
            }
        }
    }
    pos
}

// ------------------------------------------------------------------------------------------------
// 1. SIP parsing.

#[test]
fn seeds_are_sip() {
    for s in sip_seeds() {
        let m = SipMessage::parse(Bytes::copy_from_slice(s), true).expect("seed parses");
        assert!(m.call_id().is_some() || s.starts_with(b"REGISTER sip:1.1.1.1"));
        check_sip(s, true);
    }
    assert!(stream_seeds().len() >= 10, "too few stream seeds");
    let p = parts();
    assert!(p.vias.len() > 15 && p.name_addrs.len() > 40 && p.sdp_bodies.len() >= 5);
}

#[test]
fn sip_every_prefix() {
    for s in sip_seeds() {
        for n in 0..=s.len() {
            check_sip(&s[..n], true);
            check_sip(&s[..n], false);
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn sip_mutations(data in mutated(sip_seeds().to_vec()), datagram in any::<bool>()) {
        check_sip(&data, datagram);
    }

    #[test]
    fn sip_arbitrary_bytes(data in bytes(0..600), datagram in any::<bool>()) {
        check_sip(&data, datagram);
    }

    #[test]
    fn sip_sipish_bytes(data in sipish(), datagram in any::<bool>()) {
        check_sip(&data, datagram);
    }
}

// ------------------------------------------------------------------------------------------------
// 1b. Grammar: odd but valid messages are clean; each injected break is its anomaly, never a
// wrong value (issue 14).

/// A message RFC 3261's grammar allows, however odd, and the values it must read as.
#[derive(Clone, Debug)]
struct Odd {
    text: Vec<u8>,
    method: Option<String>,
    status: Option<u16>,
    call_id: String,
    cseq: u32,
    cseq_method: String,
    branch: String,
    from_tag: String,
    to_user: String,
    via_count: usize,
}

/// Linear white space where the grammar allows it (around `:`, `;`, `=`, `,`, `/`): nothing, a
/// space, or a folded line end.
fn lws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "\t", "\r\n ", "\r\n\t", " \r\n   ", "  "])
}

fn token(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(b"abcXYZ019-.!%*_+`'~".to_vec()), len)
        .prop_map(|v| String::from_utf8(v).unwrap())
}

/// A user part with % escapes and unreserved marks (RFC 3261 §25.1 user).
fn user() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "B", "7", "%41", "%2c", "-", "_", ".", "!", "~", "*", "'", "(", ")", "&", "=",
            "+", "$",
        ]),
        1..12,
    )
    .prop_map(|v| v.concat())
}

fn odd() -> impl Strategy<Value = Odd> {
    let start = prop_oneof![
        // a request: a known or an extension method, any URI scheme
        (
            prop_oneof![
                prop::sample::select(vec!["INVITE", "OPTIONS", "REGISTER", "BYE", "MESSAGE"])
                    .prop_map(String::from),
                token(1..=20),
            ],
            prop_oneof![
                user().prop_map(|u| format!("sip:{u}@example.com")),
                user().prop_map(|u| format!("sips:{u}@[2001:db8::1]:5061;transport=tls")),
                Just("tel:+1-201-555-0123".to_string()),
                Just("nobodyKnowsThisScheme:totallyopaquecontent".to_string()),
                Just("soap.beep://192.0.2.103:3002".to_string()),
            ],
        )
            .prop_map(|(m, uri)| (Some(m), None, uri)),
        // a response: any class, empty or long or UTF-8 reason phrase
        (
            100u16..=699,
            prop::sample::select(vec![
                "",
                "OK",
                " spaced  reason ",
                "\u{43d}\u{43e} \u{441}\u{442}\u{43e}",
                "x"
            ]),
        )
            .prop_map(|(s, r)| (None, Some(s), r.to_string())),
    ];
    (
        start,
        prop::sample::select(vec!["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "UNKNOWN", "x-new-1"]),
        (token(1..=30), 0usize..400),
        (token(1..=16), 0u32..=u32::MAX),
        prop::collection::vec(lws(), 16),
        any::<bool>(),
        user(),
        (1usize..4, 0usize..5),
    )
        .prop_map(|((method, status, third), transport, (cid, pad), (tag, cseq), w, quoted, to_user, (vias, form))| {
            let cseq_method = method.clone().unwrap_or_else(|| "INVITE".into());
            let call_id = format!("{cid}{}@host", "x".repeat(pad));
            let branch = format!("z9hG4bK{tag}");
            let start = match (&method, status) {
                (Some(m), _) => format!("{m} {third} SIP/2.0"),
                (None, Some(s)) => format!("SIP/2.0 {s} {third}"),
                _ => unreachable!(),
            };
            let mut via = format!(
                "SIP{}/{}2.0{}/{}{transport} host-1.example.com:5060{};{}branch{}={}{branch}{};rport;received=[2001:db8::9:255]",
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
            );
            for i in 1..vias {
                via.push_str(&format!(",{}SIP/2.0/UDP 192.0.2.{i};branch=z9hG4bK{i}", w[9]));
            }
            let display = if quoted {
                format!("\"J \\\"R\\\\ {}\"{}", tag, w[10])
            } else {
                format!("{tag} Person{}", w[10])
            };
            // A Contact in one of the forms its grammar allows (RFC 3261 §20.10): `*`, a quoted
            // display name with escapes, URI headers inside the `<>`, expires=0, several
            // contacts, LWS around every `;` and `=`, a quoted parameter value.
            let contact = match form {
                0 => "*".to_string(),
                1 => format!(
                    "\"J \\\"{tag}\\\"\"{}<sip:{to_user}@192.0.2.9:5070;transport=tcp?Subject=x&Route=%3Csip:p%3E>{};{}expires{}={}0",
                    w[4], w[5], w[6], w[7], w[8]
                ),
                2 => format!(
                    "<sip:{to_user}@example.org>{};{}q=0.5{};+sip.instance=\"<urn:uuid:{tag}>\"{},{}sip:{to_user}@[2001:db8::2]",
                    w[9], w[10], w[11], w[12], w[13]
                ),
                3 => format!("sip:{to_user}@example.net;expires=3600;ob"),
                _ => format!("{tag} <sips:{to_user}@example.com>"),
            };
            let body = "v=0\r\n";
            // LWS is optional around `:`, `;`, `=` and `/`, required between the CSeq number
            // and method.
            let sep = if w[15].is_empty() { " " } else { w[15] };
            let text = format!(
                "{start}\r\nVia:{w11}{via}\r\nFrom:{w12}{display}<sip:{to_user}@example.net>{w13};{w14}tag{w0}={w1}{tag}\r\nTo: sip:{to_user}@example.com\r\nCall-ID:{w2}{call_id}\r\nCSeq:{w3}{cseq}{sep}{cseq_method}\r\nX-Long: {long}\r\nContact:{w4}{contact}\r\nContent-Length: {len}\r\n\r\n{body}",
                w4 = w[4],
                w11 = w[11],
                w12 = w[12],
                w13 = w[13],
                w14 = w[14],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3],
                long = "v".repeat(pad * 5),
                len = body.len(),
            );
            Odd {
                text: text.into_bytes(),
                method,
                status,
                call_id,
                cseq,
                cseq_method,
                branch,
                from_tag: tag,
                to_user,
                via_count: vias,
            }
        })
}

fn parse(text: &[u8]) -> SipMessage {
    SipMessage::parse(Bytes::copy_from_slice(text), true).unwrap()
}

/// The values an odd message must read as.
fn reads_as(m: &SipMessage, o: &Odd) {
    assert_eq!(m.method().map(|x| x.as_str().to_string()), o.method);
    assert_eq!(m.status(), o.status);
    assert_eq!(m.call_id(), Some(o.call_id.as_bytes()));
    let (n, meth) = m.cseq().unwrap();
    assert_eq!((n, meth.as_str()), (o.cseq, o.cseq_method.as_str()));
    assert_eq!(m.top_via().unwrap().branch, Some(o.branch.as_bytes()));
    assert_eq!(m.via_count(), o.via_count);
    assert_eq!(m.from().unwrap().tag(), Some(o.from_tag.as_bytes()));
    assert_eq!(m.to().unwrap().user(), o.to_user.as_bytes());
}

fn has(m: &SipMessage, a: Anomaly) -> bool {
    m.anomalies.contains(a)
}

/// Replaces the first occurrence of `from` (which must be there).
fn swap(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = find(text, from.as_bytes()).unwrap_or_else(|| panic!("no {from:?}"));
    [&text[..at], to.as_bytes(), &text[at + from.len()..]].concat()
}

/// Inserts a header line after the start line.
fn with_header(text: &[u8], line: &str) -> Vec<u8> {
    swap(text, "\r\n", &format!("\r\n{line}\r\n"))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn odd_but_valid_messages_are_clean(o in odd()) {
        let m = parse(&o.text);
        prop_assert!(m.anomalies.is_empty(), "{:?} in {}", m.anomalies.iter().collect::<Vec<_>>(), String::from_utf8_lossy(&o.text));
        reads_as(&m, &o);
    }

    #[test]
    fn a_status_code_not_three_digits_in_range_is_never_read(
        o in odd(),
        code in prop_oneof![
            Just("4294967301".to_string()),
            (0u64..100).prop_map(|c| format!("{c:03}")),
            (700u64..1000).prop_map(|c| c.to_string()),
            (1000u64..u64::MAX).prop_map(|c| c.to_string()),
            (0u64..100).prop_map(|c| c.to_string()),
        ],
    ) {
        let rest = &o.text[find(&o.text, b"\r\n").unwrap()..];
        let text = [format!("SIP/2.0 {code} Huge Response").as_bytes(), rest].concat();
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::BadStatusCode));
        prop_assert_eq!(m.status(), None);
        prop_assert_eq!(m.reason_phrase(), Some(&b"Huge Response"[..]));
    }

    #[test]
    fn a_cseq_of_another_method_matches_no_transaction(o in odd(), other in token(1..=12)) {
        let Some(method) = o.method.clone() else { return Ok(()) };
        prop_assume!(other != method);
        let at = find(&o.text, b"CSeq:").unwrap();
        let end = at + find(&o.text[at..], b"\r\nX-Long").unwrap();
        let text = [&o.text[..at], format!("CSeq: {} {other}", o.cseq).as_bytes(), &o.text[end..]].concat();
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::CSeqMethodMismatch));
        let f = Facts::of(&m);
        prop_assert!(f.cseq.is_none() && TxKey::of(&m, &f).is_none());
        prop_assert_eq!(m.method().unwrap().as_str(), method.as_str());
    }

    #[test]
    fn an_unterminated_display_name_reads_no_address(o in odd()) {
        let text = swap(&o.text, "To: sip:", "To: \"Mr. J. User <sip:");
        let text = swap(&text, "@example.com\r\nCall-ID", "@example.com>\r\nCall-ID");
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::UnterminatedQuote));
        prop_assert!(m.to().is_none());
    }

    #[test]
    fn empty_via_parameters_and_entries_are_a_bad_via(
        o in odd(),
        junk in prop::sample::select(vec![";;", ";", ",", ",,", ";=x", ";branch=", ";,", " junk", "=x=y"]),
    ) {
        let text = swap(&o.text, ";rport", &format!("{junk};rport"));
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::BadVia), "{}", String::from_utf8_lossy(&text));
    }

    #[test]
    fn contact_parameter_breaks_are_a_bad_contact(
        o in odd(),
        junk in prop::sample::select(vec![";;", ";", ";=x", ";x=", ";expires=", ";expires", ";expires=soon", " junk", ",", "<"]),
    ) {
        let text = swap(&o.text, "\r\nContent-Length", &format!("{junk}\r\nContent-Length"));
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::BadContact), "{}", String::from_utf8_lossy(&text));
        // Still read where its meaning is clear.
        reads_as(&m, &o);
    }

    #[test]
    fn a_contact_without_its_closing_angle_bracket_is_a_bad_contact(o in odd(), u in user()) {
        let at = find(&o.text, b"\r\nContact:").unwrap() + 2;
        let end = at + find(&o.text[at..], b"\r\nContent-Length").unwrap();
        let text = [&o.text[..at], format!("Contact: \"X\" <sip:{u}@example.org;expires=60").as_bytes(), &o.text[end..]].concat();
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::BadContact), "{}", String::from_utf8_lossy(&text));
    }

    #[test]
    fn uri_headers_in_a_request_uri_are_an_anomaly(
        o in odd(),
        headers in prop::sample::select(vec!["?Subject=x", "?a=b&c=%20d", "?"]),
    ) {
        let Some(method) = o.method.clone() else { return Ok(()) };
        let sp = method.len() + 1;
        let uri_end = sp + find(&o.text[sp..], b" SIP/2.0").unwrap();
        let uri = String::from_utf8_lossy(&o.text[sp..uri_end]).into_owned();
        let text = [format!("{method} {uri}{headers}").as_bytes(), &o.text[uri_end..]].concat();
        let m = parse(&text);
        // sip and sips only: other schemes are opaque.
        let sip = uri.starts_with("sip:") || uri.starts_with("sips:");
        prop_assert_eq!(has(&m, Anomaly::UriHeadersInRequestUri), sip, "{}", String::from_utf8_lossy(&text));
        reads_as(&m, &o);
    }

    #[test]
    fn a_request_uri_in_angle_brackets_is_not_a_uri(o in odd()) {
        let Some(method) = o.method.clone() else { return Ok(()) };
        let sp = method.len() + 1;
        let uri_end = sp + find(&o.text[sp..], b" SIP/2.0").unwrap();
        let uri = String::from_utf8_lossy(&o.text[sp..uri_end]).into_owned();
        let text = [format!("{method} <{uri}>").as_bytes(), &o.text[uri_end..]].concat();
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::BadRequestUri));
        prop_assert!(Uri::parse(m.request_uri().unwrap()).is_none());
    }

    #[test]
    fn a_repeated_single_value_header_is_a_duplicate_and_read_only_when_equal(
        o in odd(),
        which in 0usize..5,
        same in any::<bool>(),
    ) {
        let (name, value, anomaly, header) = [
            ("Call-ID", format!("{}-2", o.call_id), Anomaly::DuplicateCallId, HeaderName::CallId),
            ("CSeq", format!("{} {}", o.cseq.wrapping_add(1), o.cseq_method), Anomaly::DuplicateCSeq, HeaderName::CSeq),
            ("From", "<sip:other@example.org>;tag=zz".into(), Anomaly::DuplicateFrom, HeaderName::From),
            ("t", "sip:other@example.org".into(), Anomaly::DuplicateTo, HeaderName::To),
            ("l", "4".into(), Anomaly::DuplicateContentLength, HeaderName::ContentLength),
        ][which].clone();
        let m0 = parse(&o.text);
        let value = if same { String::from_utf8_lossy(m0.header(header).unwrap()).into_owned() } else { value };
        let m = parse(&with_header(&o.text, &format!("{name}: {value}")));
        prop_assert!(has(&m, anomaly));
        if same {
            prop_assert_eq!(m.header(header), m0.header(header));
            reads_as(&m, &o);
        } else {
            prop_assert_eq!(m.header(header), None);
            match which {
                0 => prop_assert_eq!(m.call_id(), None),
                1 => prop_assert_eq!(m.cseq(), None),
                2 => prop_assert!(m.from().is_none()),
                3 => prop_assert!(m.to().is_none()),
                _ => prop_assert_eq!(m.body(), b"v=0\r\n"),
            }
        }
    }

    #[test]
    fn an_ipv6_host_without_brackets_is_no_host(o in odd(), groups in prop::collection::vec(0u16..=0xffff, 3..8), port in any::<bool>()) {
        let mut v6 = groups.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":");
        if port {
            v6.push_str(":5060");
        }
        let text = swap(&o.text, "host-1.example.com:5060", &v6);
        let m = parse(&text);
        prop_assert!(has(&m, Anomaly::Ipv6WithoutBrackets));
        let via = m.top_via().unwrap();
        prop_assert!(via.host.is_empty() && via.port.is_none());
        let u = format!("sip:user@{v6};transport=udp");
        prop_assert!(Uri::parse(u.as_bytes()).unwrap().host.is_empty());
        let req = [format!("OPTIONS {u} SIP/2.0").as_bytes(), &o.text[find(&o.text, b"\r\n").unwrap()..]].concat();
        prop_assert!(has(&parse(&req), Anomaly::Ipv6WithoutBrackets));
    }
}

// ------------------------------------------------------------------------------------------------
// 2. Framing.

proptest! {
    #![proptest_config(config(512))]

    /// Several messages (with CRLF keep-alives between some) cut at random points frame to the
    /// same messages as the whole stream, and those are the messages put in.
    #[test]
    fn framing_split_equals_whole(
        msgs in prop::collection::vec((prop::sample::select(stream_seeds()), any::<bool>()), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let mut stream = Vec::new();
        for (m, keepalive) in &msgs {
            if *keepalive {
                stream.extend_from_slice(b"\r\n\r\n");
            }
            stream.extend_from_slice(m);
        }
        let whole = frame_sip(&stream, &pieces(&stream, &[]));
        let split = frame_sip(&stream, &pieces(&stream, &cuts));
        prop_assert_eq!(&whole, &split);
        prop_assert_eq!(whole.len(), msgs.len());
        for (got, (want, _)) in whole.iter().zip(&msgs) {
            prop_assert_eq!(&got[..], &want[..]);
        }
    }

    /// The same with gaps between pieces (the piece after a gap sometimes lost): never more
    /// messages than were put in, and each one is the tail of a message put in.
    #[test]
    fn framing_with_gaps(
        msgs in prop::collection::vec(prop::sample::select(stream_seeds()), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
        actions in prop::collection::vec(0u8..3, 24),
    ) {
        let stream: Vec<u8> = msgs.concat();
        let mut f = SipFramer::default();
        let mut st = FramingStats::default();
        let mut out = Vec::new();
        let mut drop_next = false;
        for (i, r) in pieces(&stream, &cuts).into_iter().enumerate() {
            if !drop_next {
                f.push(&stream[r], &mut st, &mut out);
            }
            drop_next = false;
            match actions[i % actions.len()] {
                1 => f.gap(&mut st),
                2 => {
                    f.gap(&mut st);
                    drop_next = true;
                }
                _ => {}
            }
        }
        f.finish(&mut st, &mut out);
        prop_assert!(out.len() <= msgs.len());
        for m in &out {
            prop_assert!(msgs.iter().any(|s| s.ends_with(m)), "not the tail of an input: {:?}", m);
            check_sip(m, false);
        }
    }

    /// Any stream (mutated messages) cut anywhere frames as the whole stream does.
    #[test]
    fn framing_mutated_split_equals_whole(
        msgs in prop::collection::vec(prop::sample::select(stream_seeds()), 1..4),
        muts in mutations(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let stream = mutate(&msgs.concat(), &muts);
        let ranges = pieces(&stream, &cuts);
        let whole = frame_sip(&stream, &pieces(&stream, &[]));
        let split = frame_sip(&stream, &ranges);
        prop_assert_eq!(whole, split, "{:?} in {:?}", Input(stream.clone()), ranges);
    }

    /// Mutated streams, cut anywhere, with gaps: no panic.
    #[test]
    fn framing_mutated_streams(
        msgs in prop::collection::vec(prop::sample::select(stream_seeds()), 1..4),
        muts in mutations(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        gaps in prop::collection::vec(any::<bool>(), 16),
        max_header in prop_oneof![Just(64usize << 10), 16usize..600],
        max_body in prop_oneof![Just(16usize << 20), 0usize..300],
    ) {
        let stream = mutate(&msgs.concat(), &muts);
        let mut f = SipFramer::new(max_header, max_body);
        let mut st = FramingStats::default();
        let mut out = Vec::new();
        for (i, r) in pieces(&stream, &cuts).into_iter().enumerate() {
            f.push(&stream[r], &mut st, &mut out);
            if gaps[i % gaps.len()] {
                f.gap(&mut st);
            }
            prop_assert!(f.buffered() <= stream.len());
        }
        f.finish(&mut st, &mut out);
        for m in &out {
            check_sip(m, false);
        }
    }
}

/// Garbage of under 12 bytes holding an empty line, at the start of a stream or after skipped
/// garbage, is taken as a message when it arrives in its own piece (the start-line check at
/// framing.rs:155 only runs on 12 bytes or more), but skipped when more bytes come with it.
#[test]
fn framer_short_garbage_is_not_a_message() {
    let stream = b"a\r\n\r\nSIP/2.0 200 OK\r\nl: 0\r\n\r\n";
    let whole = frame_sip(stream, &pieces(stream, &[]));
    assert_eq!(whole, [Bytes::from_static(&stream[5..])]);
    let split = frame_sip(stream, &pieces(stream, &[5]));
    assert_eq!(
        split, whole,
        "\"a\\r\\n\\r\\n\" alone came out as a message"
    );
}

// ------------------------------------------------------------------------------------------------
// 3. TCP reassembly.

/// A byte string cut into segments, plus extra segments repeating random ranges of it
/// (retransmissions and overlaps), in a random order.
#[derive(Debug, Clone)]
struct Segments {
    data: Vec<u8>,
    isn: u32,
    /// (offset, length, tiling): in feed order; the `tiling` ones cut the data into pieces that
    /// cover it exactly once, the others repeat part of it.
    segs: Vec<(usize, usize, bool)>,
}

fn segments() -> impl Strategy<Value = Segments> {
    (
        bytes(1..800),
        prop_oneof![any::<u32>(), (u32::MAX - 2000)..=u32::MAX],
        prop::collection::vec(any::<usize>(), 0..20),
        prop::collection::vec((any::<usize>(), 1usize..300), 0..8),
        prop::collection::vec(any::<u32>(), 32),
    )
        .prop_map(|(data, isn, cuts, extra, keys)| {
            let mut segs: Vec<(usize, usize, bool)> = pieces(&data, &cuts)
                .into_iter()
                .map(|r| (r.start, r.len(), true))
                .collect();
            for (at, len) in extra {
                let at = at % data.len();
                segs.push((at, len.min(data.len() - at), false));
            }
            let mut keyed: Vec<(u32, (usize, usize, bool))> = segs
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        keys[i % keys.len()] ^ (i as u32).wrapping_mul(0x9e37_79b9),
                        s,
                    )
                })
                .collect();
            keyed.sort_by_key(|k| k.0);
            Segments {
                data: data.0,
                isn,
                segs: keyed.into_iter().map(|k| k.1).collect(),
            }
        })
}

/// Feeds a SYN with the ISN (when `syn`), then the segments but `lost`, then flushes.
fn reassemble(s: &Segments, syn: bool, lost: Option<usize>, max_buffered: usize) -> Vec<Chunk> {
    let mut h = HalfStream::new(max_buffered);
    let mut st = TcpStats::default();
    let mut out = Vec::new();
    if syn {
        h.segment(s.isn, tcp_flags::SYN, Bytes::new(), &mut st, &mut out);
    }
    for (i, (at, len, _)) in s.segs.iter().enumerate() {
        if Some(i) == lost {
            continue;
        }
        let seq = s.isn.wrapping_add(1).wrapping_add(*at as u32);
        let payload = Bytes::copy_from_slice(&s.data[*at..at + len]);
        h.segment(seq, tcp_flags::ACK, payload, &mut st, &mut out);
    }
    h.flush(&mut st, &mut out);
    assert_eq!(h.buffered(), 0);
    let gaps: u64 = out
        .iter()
        .map(|c| match c {
            Chunk::Gap(n) => *n,
            Chunk::Data(_) => 0,
        })
        .sum();
    assert_eq!(st.gap_bytes, gaps);
    out
}

proptest! {
    #![proptest_config(config(512))]

    /// Reordered, duplicated and overlapping segments deliver exactly the original bytes.
    #[test]
    fn tcp_lossless_delivers_the_original(s in segments()) {
        let out = reassemble(&s, true, None, 1 << 20);
        prop_assert!(out.iter().all(|c| matches!(c, Chunk::Data(_))), "gap without loss");
        prop_assert_eq!(replay(&s.data, &out), s.data.len());
    }

    /// With one tiling segment lost, data and gaps add up to the end of the last segment that
    /// arrived, and every data chunk sits at its place in the original.
    #[test]
    fn tcp_one_segment_lost(s in segments(), pick in any::<prop::sample::Index>(), small in any::<bool>(), max in 0usize..64) {
        let tiling: Vec<usize> = (0..s.segs.len()).filter(|i| s.segs[*i].2).collect();
        let lost = tiling[pick.index(tiling.len())];
        let end = s.segs.iter().enumerate().filter(|(i, _)| *i != lost).map(|(_, (a, l, _))| a + l).max().unwrap_or(0);
        let out = reassemble(&s, true, Some(lost), if small { max } else { 1 << 20 });
        prop_assert_eq!(replay(&s.data, &out), end);
    }

    /// Without the SYN the first segment fixes the stream start: what comes is the original from
    /// there, whatever the buffer limit.
    #[test]
    fn tcp_without_syn(s in segments(), max in prop_oneof![Just(1usize << 20), 0usize..64]) {
        let start = s.segs[0].0;
        let end = s.segs.iter().map(|(a, l, _)| a + l).max().unwrap_or(0);
        let out = reassemble(&s, false, None, max);
        prop_assert_eq!(replay(&s.data[start..], &out), end - start);
    }

    /// Arbitrary segments (any flags, sequence numbers around one point or anywhere): no panic.
    #[test]
    fn tcp_arbitrary_segments(
        base in any::<u32>(),
        segs in prop::collection::vec((prop_oneof![(-3000i32..3000).prop_map(Some), Just(None)], any::<u32>(), any::<u8>(), bytes(0..200)), 0..30),
        max in prop_oneof![Just(1usize << 20), 0usize..500],
    ) {
        let mut h = HalfStream::new(max);
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        for (delta, seq, flags, payload) in segs {
            let seq = delta.map_or(seq, |d| base.wrapping_add(d as u32));
            h.segment(seq, flags, Bytes::from(payload.0), &mut st, &mut out);
        }
        h.flush(&mut st, &mut out);
        prop_assert_eq!(h.buffered(), 0);
    }
}

// ------------------------------------------------------------------------------------------------
// 3c. SCTP: a SIP message cut into DATA fragments comes out whole and once, however the
// fragments are ordered, repeated and bundled; any chunk bytes give messages or counts.

fn sctp_data(tsn: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut c = vec![0, flags];
    c.extend_from_slice(&((16 + payload.len()) as u16).to_be_bytes());
    c.extend_from_slice(&tsn.to_be_bytes());
    c.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    c.extend_from_slice(payload);
    while c.len() % 4 != 0 {
        c.push(0);
    }
    c
}

fn sctp_packet(chunks: Vec<u8>) -> sipscope::decode::Packet {
    sipscope::decode::Packet {
        ts: Ts::from_parts(1_700_000_000, 0),
        src: "10.0.0.1".parse().unwrap(),
        dst: "10.0.0.2".parse().unwrap(),
        sport: 5060,
        dport: 5060,
        transport: sipscope::decode::Transport::Sctp,
        tcp: Default::default(),
        payload: Bytes::from(chunks),
        reassembled: false,
        tunnels: 0,
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sctp_fragments_in_any_order_give_each_message_once(
        seed in 0..stream_seeds().len(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        order in any::<prop::sample::Index>(),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        per_packet in 1usize..4,
        first_tsn in any::<u32>(),
    ) {
        use sipscope::reassembly::sctp::{SctpConfig, SctpReassembler};
        let msg = stream_seeds()[seed].clone();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(msg.len())).filter(|c| *c > 0).collect();
        at.sort();
        at.dedup();
        let mut bounds = vec![0];
        bounds.extend(at);
        bounds.push(msg.len());
        let n = bounds.len() - 1;
        let mut chunks: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let flags = (u8::from(i == 0) << 1) | u8::from(i == n - 1);
                sctp_data(first_tsn.wrapping_add(i as u32), flags, &msg[bounds[i]..bounds[i + 1]])
            })
            .collect();
        // A rotation of the order, and a few retransmissions.
        let k = order.index(n);
        chunks.rotate_left(k);
        for d in &dups {
            let c = chunks[d.index(n)].clone();
            chunks.push(c);
        }
        let mut r = SctpReassembler::new(SctpConfig::default());
        let mut out = Vec::new();
        for group in chunks.chunks(per_packet) {
            r.packet(&sctp_packet(group.concat()), &mut out);
        }
        // The seeds are single messages that Content-Length frames whole: never split.
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(&out[0].bytes[..], &msg[..]);
        prop_assert_eq!(r.stats.duplicates as usize, dups.len());
        prop_assert_eq!(r.held(), 0);
        r.finish();
        prop_assert_eq!(r.stats.incomplete, 0);
    }

    #[test]
    fn sctp_arbitrary_chunks(data in prop_oneof![bytes(0..300), mutated(vec![sctp_data(7, 3, sip_seeds()[0].as_slice()), [sctp_data(1, 2, b"OPTIONS sip:a SIP/2.0\r\n"), sctp_data(2, 1, b"\r\n")].concat()])]) {
        use sipscope::reassembly::{Reassembler, ReassemblyConfig};
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut out = Vec::new();
        r.packet(sctp_packet(data.to_vec()), &mut out);
        r.packet(sctp_packet(data.to_vec()), &mut out);
        r.finish(&mut out);
        for m in &out {
            prop_assert!(m.bytes.len() <= data.len());
        }
    }
}

// ------------------------------------------------------------------------------------------------
// 4. Decoding frames.

#[test]
fn real_frames_decode() {
    let mut dec = Decoder::default();
    let mut packets = 0;
    for (link, data) in real_frames() {
        packets += usize::from(dec.decode(&frame(link, &data)).is_some());
    }
    // Every frame but the two ICMP ones and the first fragment of each pair gives a packet.
    assert_eq!(packets, FRAMES.len() - 4, "{:?}", dec.stats);
    assert_eq!(dec.stats.ip_reassembled, 2, "{:?}", dec.stats);
}

#[test]
fn decode_every_prefix_of_real_frames() {
    for (link, data) in real_frames() {
        let mut dec = Decoder::default();
        for n in 0..=data.len() {
            check_decode(&mut dec, link, &data[..n]);
        }
        for l in LINKS {
            check_decode(&mut dec, l, &data);
        }
        dec.finish();
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn decode_arbitrary_bytes(link in prop::sample::select(&LINKS[..]), data in bytes(0..200)) {
        check_decode(&mut Decoder::default(), link, &data);
    }

    /// The first `keep` bytes of a real frame, then random bytes: random content at every layer.
    #[test]
    fn decode_real_prefix_random_tail(
        idx in 0..FRAMES.len(),
        keep in any::<prop::sample::Index>(),
        tail in prop_oneof![bytes(0..4), bytes(0..120)],
    ) {
        let (link, data) = &real_frames()[idx];
        let mut d = data[..keep.index(data.len() + 1)].to_vec();
        d.extend_from_slice(&tail);
        check_decode(&mut Decoder::default(), *link, &d);
    }

    /// Mutated real frames, under their own link type, another one, and as raw IP from some
    /// offset on.
    #[test]
    fn decode_mutated_real_frames(
        idx in 0..FRAMES.len(),
        muts in mutations(),
        other in prop::sample::select(&LINKS[..]),
        strip in 0usize..64,
    ) {
        let (link, data) = &real_frames()[idx];
        let d = mutate(data, &muts);
        let mut dec = Decoder::default();
        check_decode(&mut dec, *link, &d);
        check_decode(&mut dec, other, &d);
        check_decode(&mut dec, LinkType::Raw, d.get(strip..).unwrap_or_default());
        dec.finish();
    }

    /// Mutated fragments of one datagram (IPv4 or IPv6), in any order and repeated, through one
    /// decoder with a small or default fragment table.
    #[test]
    fn decode_mutated_fragments(
        v6 in any::<bool>(),
        order in prop::collection::vec((any::<bool>(), prop::option::of(mutations()), 0i64..3), 1..6),
        small in any::<bool>(),
    ) {
        let (a, b) = if v6 { (SLL_IPV6_FRAG_1, SLL_IPV6_FRAG_2) } else { (ETH_IPV4_FRAG_1, ETH_IPV4_FRAG_2) };
        let mut dec = if small {
            Decoder::new(sipscope::decode::ipfrag::IpDefrag::new(1, 1600, 1_000_000_000))
        } else {
            Decoder::default()
        };
        for (second, muts, secs) in order {
            let (link, hex) = if second { b } else { a };
            let mut d = unhex(hex);
            if let Some(m) = muts {
                d = mutate(&d, &m);
            }
            let mut f = frame(link, &d);
            f.ts = Ts::from_parts(1_700_000_000 + secs, 0);
            let _ = dec.decode(&f);
        }
        dec.finish();
    }
}

/// A real SIP datagram (the IP packet of [`SLL_UDP`]) inside GTP-U on raw IPv4: with the S flag
/// and a chain of two extension headers when `ext`, else the plain 8-byte header.
fn gtpu_frame(ext: bool) -> Vec<u8> {
    let ip = unhex(SLL_UDP.1)[16..].to_vec();
    let mut g: Vec<u8> = if ext {
        vec![
            0x36, 0xff, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0xc0, 1, 0, 5, 0x85, 1, 0x10, 9, 0,
        ]
    } else {
        vec![0x30, 0xff, 0, 0, 0, 0, 0, 7]
    };
    let len = (g.len() - 8 + ip.len()) as u16;
    g[2..4].copy_from_slice(&len.to_be_bytes());
    g.extend_from_slice(&ip);
    let total = 28 + g.len();
    let mut f = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    f.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2, 0x08, 0x68, 0x08, 0x68]);
    f.extend_from_slice(&((8 + g.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&g);
    f
}

#[test]
fn gtpu_seeds_decode_to_their_sip() {
    for ext in [false, true] {
        let mut dec = Decoder::default();
        let p = dec.decode(&frame(LinkType::Raw, &gtpu_frame(ext))).unwrap();
        assert!(looks_like_sip(&p.payload));
        assert_eq!((p.tunnels, dec.stats.gtpu.decoded), (1, 1));
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Any bytes: a GTP-U header or an error, and a header's T-PDU lies within the bytes.
    #[test]
    fn gtpu_parse_stays_in_bounds(data in prop_oneof![bytes(0..64), mutated(vec![gtpu_frame(true)[28..].to_vec()])]) {
        if let Ok(g) = gtp::parse(&data) {
            prop_assert!(g.start <= g.end && g.end <= data.len());
            prop_assert!(g.start >= 8);
        }
    }

    /// Mutated GTP-U frames (header, extension chain, inner IP, SIP) decode or are counted.
    #[test]
    fn decode_mutated_gtpu(ext in any::<bool>(), muts in mutations()) {
        let d = mutate(&gtpu_frame(ext), &muts);
        let mut dec = Decoder::default();
        check_decode(&mut dec, LinkType::Raw, &d);
        check_decode(&mut dec, LinkType::Ipv4, &d);
        dec.finish();
    }
}

// ------------------------------------------------------------------------------------------------
// 5. SDP, Via, name-addr, URI, HEP, WebSocket.

/// An RFC 3204 style SIP-T body around a real SDP, and its Content-Type.
fn multipart(sdp: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut b =
        b"preamble\r\n--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n".to_vec();
    b.extend_from_slice(sdp);
    b.extend_from_slice(
        b"\r\n--unique-boundary-1\r\nContent-Type: application/isup;version=itu-t92+\r\n\
Content-Disposition: signal;handling=optional\r\nContent-Transfer-Encoding: binary\r\n\r\n\
\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\r\n\
--unique-boundary-1\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n\
--inner\r\nContent-Type: APPLICATION/SDP\r\n\r\nv=0\r\nm=audio 0 RTP/AVP 0\r\n--inner--\r\n\
--unique-boundary-1--\r\nepilogue",
    );
    (b, b"multipart/mixed; boundary=unique-boundary-1".to_vec())
}

const CONTENT_TYPES: &[&[u8]] = &[
    b"application/sdp",
    b"Application/SDP; charset=utf-8",
    b"multipart/mixed;boundary=unique-boundary-1",
    b"multipart/related; boundary=\"unique-boundary-1\"; type=application/sdp",
    b"multipart/mixed",
    b"multipart/mixed;boundary=",
    b"text/plain",
    b"",
];

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn sdp_mutated(body in mutated(parts().sdp_bodies.clone())) {
        check_sdp(&body);
    }

    #[test]
    fn sdp_arbitrary(body in bytes(0..400)) {
        check_sdp(&body);
        let mut v = b"v=0\n".to_vec();
        v.extend_from_slice(&body);
        check_sdp(&v);
    }

    /// Multipart bodies and content types, mutated: the parts found lie in the body.
    #[test]
    fn sdp_parts_mutated(
        sdp in prop::sample::select(parts().sdp_bodies.clone()),
        muts in mutations(),
        ct in prop::sample::select(CONTENT_TYPES),
        ct_muts in prop::option::of(mutations()),
    ) {
        let (body, _) = multipart(&sdp);
        let body = mutate(&body, &muts);
        let ct = match ct_muts {
            Some(m) => mutate(ct, &m),
            None => ct.to_vec(),
        };
        for part in sdp_parts(&ct, &body) {
            prop_assert!(within(&body, part));
            check_sdp(part);
        }
    }

    #[test]
    fn via_mutated(v in mutated(parts().vias.clone())) {
        check_via(&v);
    }

    #[test]
    fn name_addr_mutated(v in mutated(parts().name_addrs.clone())) {
        check_name_addr(&v);
        check_uri(&v);
    }

    #[test]
    fn uri_mutated(v in mutated(parts().uris.clone())) {
        check_uri(&v);
        check_name_addr(&v);
    }

    #[test]
    fn header_values_arbitrary(v in bytes(0..200)) {
        check_via(&v);
        check_name_addr(&v);
        check_uri(&v);
        let mut s = b"SIP/2.0/UDP ".to_vec();
        s.extend_from_slice(&v);
        check_via(&s);
        let mut u = b"sip:".to_vec();
        u.extend_from_slice(&v);
        check_uri(&u);
    }
}

#[test]
fn multipart_seed_finds_both_sdps() {
    let sdp = &parts().sdp_bodies[0];
    let (body, ct) = multipart(sdp);
    let found = sdp_parts(&ct, &body);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], &sdp[..]);
}

#[test]
fn hep_every_prefix_is_too_short() {
    for h in hep_seeds() {
        let (_, used) = parse_hep3(&h).expect("HEP seed parses");
        assert_eq!(used, h.len());
        for n in 0..h.len() {
            let r = parse_hep3(&h[..n]);
            assert!(
                matches!(r, Err(sipscope::decode::hep::HepError::TooShort { .. })),
                "prefix {n}: {r:?}"
            );
        }
        check_hep(&h);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn hep_mutated(data in mutated(hep_seeds())) {
        check_hep(&data);
    }

    #[test]
    fn hep_arbitrary(data in bytes(0..300), len in any::<u16>()) {
        check_hep(&data);
        let mut d = b"HEP3".to_vec();
        d.extend_from_slice(&len.to_be_bytes());
        d.extend_from_slice(&data);
        check_hep(&d);
    }

    /// Compressed payloads, mutated: a value within the limit or an error.
    #[test]
    fn hep_inflate_mutated(seed in prop::sample::select(SEEDS), gzip in any::<bool>(), muts in mutations(), max in prop_oneof![Just(4096usize), 0usize..600]) {
        use std::io::Write;
        let z = if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(seed).unwrap();
            e.finish().unwrap()
        } else {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(seed).unwrap();
            e.finish().unwrap()
        };
        if let Ok(out) = inflate_payload(&z, max) {
            prop_assert!(out.len() <= max);
            prop_assert_eq!(&out[..], seed);
        }
        if let Ok(out) = inflate_payload(&mutate(&z, &muts), max) {
            prop_assert!(out.len() <= max);
        }
    }
}

/// RFC 7118 §A.1's opening handshake.
const WS_UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: sip-ws.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://www.example.com\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n";
const WS_ACCEPT: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: sip\r\n\r\n";

fn ws_message() -> impl Strategy<Value = WsMessage> {
    (
        prop::sample::select(sip_seeds().to_vec()),
        1usize..4,
        prop::option::of(any::<[u8; 4]>()),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(config(512))]

    /// Messages in (fragmented, masked, with pings between fragments) cut anywhere: the same
    /// messages out.
    #[test]
    fn ws_split_equals_whole(msgs in prop::collection::vec(ws_message(), 1..4), cuts in prop::collection::vec(any::<usize>(), 0..24)) {
        let stream = ws_stream(&msgs);
        let mut dec = WsDecoder::new(1 << 16);
        let mut out = Vec::new();
        for r in pieces(&stream, &cuts) {
            prop_assert!(dec.push(&stream[r], &mut out).is_ok());
        }
        prop_assert!(dec.is_idle());
        let want: Vec<Vec<u8>> = msgs.into_iter().map(|m| m.0).collect();
        prop_assert_eq!(out, want);
    }

    /// Mutated streams in pieces, through errors and resets: no panic, nothing over the limit.
    #[test]
    fn ws_mutated(
        msgs in prop::collection::vec(ws_message(), 1..3),
        muts in mutations(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        max in prop_oneof![Just(1usize << 16), 0usize..700],
    ) {
        let stream = mutate(&ws_stream(&msgs), &muts);
        let mut dec = WsDecoder::new(max);
        let mut out = Vec::new();
        for r in pieces(&stream, &cuts) {
            if let Err(e) = dec.push(&stream[r], &mut out) {
                let _ = e.to_string();
            }
            prop_assert!(dec.buffered() <= max + 14 + 125);
        }
        prop_assert!(out.iter().all(|m| m.len() <= max));
        let _ = dec.stats();
    }

    #[test]
    fn ws_arbitrary(data in bytes(0..600), cuts in prop::collection::vec(any::<usize>(), 0..8), max in 0usize..300) {
        let mut dec = WsDecoder::new(max);
        let mut out = Vec::new();
        for r in pieces(&data, &cuts) {
            let _ = dec.push(&data[r], &mut out);
        }
        prop_assert!(out.iter().all(|m| m.len() <= max));
    }

    #[test]
    fn ws_upgrade_head_mutated(head in mutated(vec![WS_UPGRADE.to_vec(), WS_ACCEPT.to_vec()])) {
        use sipscope::reassembly::websocket::UpgradeHead;
        match http_upgrade_head(&head) {
            UpgradeHead::Request { len, .. } | UpgradeHead::Response { len, .. } => {
                prop_assert!(len <= head.len());
            }
            UpgradeHead::NotUpgrade | UpgradeHead::Incomplete => {}
        }
        for name in [&b"sec-websocket-protocol"[..], b"upgrade", b""] {
            if let Some(v) = header_value(&head, name) {
                prop_assert!(within(&head, v));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// 6. Truncated capture files.

/// A little-endian pcap file (microseconds, Ethernet) of the Ethernet frames.
fn synthetic_pcap() -> Vec<u8> {
    let mut f = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for (i, (link, data)) in real_frames().iter().enumerate() {
        if *link != LinkType::Ethernet {
            continue;
        }
        for v in [
            1_700_000_000 + i as u32,
            0,
            data.len() as u32,
            data.len() as u32,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(data);
    }
    f
}

/// A pcapng file with an Ethernet and a Linux SLL interface and every frame as an EPB.
fn synthetic_pcapng() -> Vec<u8> {
    fn block(f: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(body);
        f.resize(f.len() + padded - body.len(), 0);
        f.extend_from_slice(&len.to_le_bytes());
    }
    let mut f = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut f, 0x0a0d_0d0a, &shb);
    block(&mut f, 1, &[1, 0, 0, 0, 0, 0, 4, 0]);
    block(&mut f, 1, &[113, 0, 0, 0, 0, 0, 4, 0]);
    for (i, (link, data)) in real_frames().iter().enumerate() {
        let if_id = u32::from(*link != LinkType::Ethernet);
        let mut epb = Vec::new();
        let ts = 1_700_000_000_000_000u64 + i as u64;
        for v in [
            if_id,
            (ts >> 32) as u32,
            ts as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(data);
        block(&mut f, 6, &epb);
    }
    f
}

/// Ends of the records of a pcap or pcapng file: (offset just past the record, is a packet).
fn records(file: &[u8]) -> Vec<(usize, bool)> {
    let u32_at = |at: usize, le: bool| {
        let b: [u8; 4] = file[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut out = Vec::new();
    if file.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let le = file[8..12] == [0x4d, 0x3c, 0x2b, 0x1a];
        let mut at = 0;
        while at + 8 <= file.len() {
            let kind = u32_at(at, le);
            at += u32_at(at + 4, le) as usize;
            out.push((at, kind == 6 || kind == 3));
        }
    } else {
        let le = file[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || file[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
        out.push((24, false));
        let mut at = 24;
        while at + 16 <= file.len() {
            at += 16 + u32_at(at + 8, le) as usize;
            out.push((at, true));
        }
    }
    assert_eq!(out.last().map(|r| r.0), Some(file.len()), "record walk");
    out
}

/// Reads a whole capture: its frames' bytes and what it reported.
fn read_capture(path: &std::path::Path) -> Option<(Vec<Bytes>, Vec<String>)> {
    let mut src = FileSource::open(path).ok()?;
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame().expect("damage is not an error") {
        frames.push(bytes::Bytes::copy_from_slice(f.data));
    }
    assert!(
        src.next_frame().unwrap().is_none(),
        "a finished source stays finished"
    );
    Some((frames, src.stats().stopped_early))
}

/// Writes every 97th-byte cut of `file` (and a cut at each record boundary) and reads it to the
/// end: the frames before the cut, and a note in `stopped_early` unless the cut falls on a record
/// boundary.
fn check_truncations(name: &str, file: &[u8]) {
    let dir = std::env::temp_dir().join(format!("sipscope-props-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recs = records(file);
    let whole = dir.join("whole");
    std::fs::write(&whole, file).unwrap();
    let (all, stopped) = read_capture(&whole).expect("the whole file opens");
    assert!(stopped.is_empty(), "{name}: {stopped:?}");
    assert_eq!(all.len(), recs.iter().filter(|r| r.1).count(), "{name}");
    let path = dir.join("cut");
    let cuts = (0..file.len()).step_by(97).chain(recs.iter().map(|r| r.0));
    for cut in cuts {
        std::fs::write(&path, &file[..cut]).unwrap();
        let header_end = recs[0].0;
        let Some((frames, stopped)) = read_capture(&path) else {
            assert!(cut < header_end, "{name}: cut at {cut} does not open");
            continue;
        };
        let whole_records = recs.iter().filter(|r| r.0 <= cut).count();
        let packets = recs.iter().filter(|r| r.0 <= cut && r.1).count();
        assert_eq!(frames[..], all[..packets], "{name}: cut at {cut}");
        let on_boundary = recs.iter().any(|r| r.0 == cut);
        assert_eq!(
            stopped.is_empty(),
            on_boundary,
            "{name}: cut at {cut} ({whole_records} whole records): {stopped:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_synthetic_captures() {
    check_truncations("pcap", &synthetic_pcap());
    check_truncations("pcapng", &synthetic_pcapng());
}

/// A corpus capture (tests/data, else the shared corpus; a configured corpus lacking it fails).
fn corpus_file(rel: &str) -> Option<std::path::PathBuf> {
    crate::support::capture(rel)
}

#[test]
fn truncated_corpus_captures() {
    for rel in ["aboutsip_pkts/cancel.pcap", "ntop_nDPI/sip_hello.pcapng"] {
        match corpus_file(rel) {
            Some(p) => check_truncations(&rel.replace('/', "-"), &std::fs::read(p).unwrap()),
            None => eprintln!("skipped: {rel} not found (set SIPSCOPE_CORPUS)"),
        }
    }
}

/// A gzip-compressed capture cut anywhere: an error at open, or the frames before the damage and
/// a note in `stopped_early`.
#[test]
fn truncated_gzip_capture() {
    use std::io::Write;
    let pcap = synthetic_pcap();
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&pcap).unwrap();
    let gz = z.finish().unwrap();
    let dir = std::env::temp_dir().join(format!("sipscope-props-{}-gz", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.pcap.gz");
    let total = records(&pcap).iter().filter(|r| r.1).count();
    for cut in (0..=gz.len()).step_by(97).chain([gz.len()]) {
        std::fs::write(&path, &gz[..cut]).unwrap();
        let Some((frames, stopped)) = read_capture(&path) else {
            continue;
        };
        assert!(frames.len() <= total);
        if cut == gz.len() {
            assert!(stopped.is_empty() && frames.len() == total, "{stopped:?}");
        } else {
            assert!(
                !stopped.is_empty(),
                "gzip cut at {cut}: {} frames",
                frames.len()
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
