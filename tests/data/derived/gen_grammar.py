#!/usr/bin/env python3
"""Writes the two grammar fixtures of tests/grammar.rs (Python 3 standard library only):

    python3 tests/data/derived/gen_grammar.py tests/data/derived

grammar-breaks.pcap  one UDP datagram per grammar break: the invalid messages of RFC 4475
                     (SIP torture tests, section 3.1.2) and RFC 5118 (IPv6, section 4.2) that
                     sipscope once listed as well formed, a few variants of them, and two older
                     cases (bad CSeq, negative Content-Length). The Call-ID names the case.
grammar-clean.pcap   one UDP datagram per message the grammar allows however odd it looks: the
                     valid messages of RFC 4475 (3.1.1, 3.3) and RFC 5118 (4.1, 4.3-4.10).

The messages are the RFCs' (line ends CRLF, the RFCs' <allOneLine> and <hex> notations expanded);
Content-Length is computed where the RFC's value is meant to be right, and kept as printed where
it is the point of the test.
"""
import struct
import sys

CL = b'@CL@'  # replaced by the body's length


def msg(text):
    """A message from text with LF line ends: CRLF everywhere, @CL@ = the body's length."""
    data = text.lstrip(b'\n').replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    head, sep, body = data.partition(b'\r\n\r\n')
    if not sep:
        head, body = data.rstrip(b'\r\n'), b''
    return head.replace(CL, str(len(body)).encode()) + b'\r\n\r\n' + body


SDP = b"""v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"""

# ---------------------------------------------------------------------------- breaks
BREAKS = [
    # RFC 4475 3.1.2.? bigcode: a ten-digit status code (once read as 429)
    msg(b"""
SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>
"""),
    # variant: a status outside 100-699
    msg(b"""
SIP/2.0 099 Too Low
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaof
Call-ID: lowcode.asdof3uj203
CSeq: 353495 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
"""),
    # RFC 4475 mismatch01: OPTIONS with CSeq INVITE
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
l: 0
"""),
    # RFC 4475 mismatch02: an unknown method with CSeq INVITE
    msg(b"""
NEWMETHOD sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: @CL@

""" + SDP),
    # RFC 4475 quotbal: the display name's quote is never closed
    msg(b"""
INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: @CL@

""" + SDP),
    # RFC 4475 badinv01: empty Via parameters and values
    msg(b"""
INVITE sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: @CL@
Content-Type: application/sdp

""" + SDP),
    # RFC 4475 ltgtruri: the Request-URI in <>
    msg(b"""
INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: @CL@

""" + SDP),
    # RFC 4475 multi01: two Call-IDs, CSeqs, Froms and Tos (which one is meant cannot be told)
    msg(b"""
INVITE sip:user@company.com SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.com;tag=3413415
To: sip:user@example.com
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
Content-Type: application/sdp
l: @CL@
Contact: <sip:caller@host36.example.net>
Max-Forwards: 5

""" + SDP),
    # RFC 4475 mcl01: two Content-Lengths (13 and 5)
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
To: sip:user@example.com
From: sip:other@example.net;tag=3923942
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Max-Forwards: 60
Content-Length: 5
Content-Type: text/plain

There's no way to know how many octets are supposed to be here.
"""),
    # variant: the same Call-ID twice (a break, but its value is clear and kept)
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293424
To: sip:user@example.com
From: sip:other@example.net;tag=3923943
Call-ID: dupsame.fhn2323orihaw
Call-ID:   dupsame.fhn2323orihaw
CSeq: 15933 OPTIONS
Content-Length: 0
"""),
    # RFC 5118 4.2 ipv6-bad: an IPv6 Request-URI without brackets
    msg(b"""
REGISTER sip:2001:db8::10 SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-ipv6bad
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::1]>
CSeq: 98176 REGISTER
Content-Length: 0
"""),
    # variant: an IPv6 Via sent-by without brackets
    msg(b"""
OPTIONS sip:user@[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x3
Via: SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bKas3-112
Call-ID: via-ipv6-nobrackets@hlau_4100
Max-Forwards: 70
CSeq: 98177 OPTIONS
Content-Length: 0
"""),
    # variant: an IPv6 host without brackets in From
    msg(b"""
OPTIONS sip:user@[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: <sip:user@2001:db8::1>;tag=81x4
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-113
Call-ID: from-ipv6-nobrackets@hlau_4100
Max-Forwards: 70
CSeq: 98178 OPTIONS
Content-Length: 0
"""),
    # RFC 4475 scalar02 (already an anomaly before): a CSeq number past 2**32
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
Contact: <sip:user@host129.example.com>
  ;expires=280297596632815
Content-Length: 0
"""),
    # RFC 4475 ncl (already an anomaly before): a negative Content-Length
    msg(b"""
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 254
To: sip:j.user@example.com
From: sip:caller@example.net;tag=32394234
Call-ID: ncl.0ha0isndaksdj2193423r542w35
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
Contact: <sip:caller@example53.example.net>
Content-Type: application/sdp
Content-Length: -999

""" + SDP),

    # Contact parameter breaks (RFC 3261 §20.10, §25.1 contact-params): an empty
    # parameter, expires without delta-seconds, a quoted parameter never closed, a < without >
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.61;branch=z9hG4bKct01
Max-Forwards: 70
From: <sip:ct@example.com>;tag=ct01
To: <sip:ct@example.com>
Call-ID: contact-emptyparam.ct01
CSeq: 1 REGISTER
Contact: <sip:ct@192.0.2.61>;;expires=60
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.61;branch=z9hG4bKct02
Max-Forwards: 70
From: <sip:ct@example.com>;tag=ct02
To: <sip:ct@example.com>
Call-ID: contact-expires-empty.ct02
CSeq: 2 REGISTER
Contact: <sip:ct@192.0.2.61>;expires=
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.61;branch=z9hG4bKct03
Max-Forwards: 70
From: <sip:ct@example.com>;tag=ct03
To: <sip:ct@example.com>
Call-ID: contact-expires-word.ct03
CSeq: 3 REGISTER
Contact: <sip:ct@192.0.2.61>;q=0.7;expires=soon
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.61;branch=z9hG4bKct04
Max-Forwards: 70
From: <sip:ct@example.com>;tag=ct04
To: <sip:ct@example.com>
Call-ID: contact-quotparam.ct04
CSeq: 4 REGISTER
Contact: <sip:ct@192.0.2.61>;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765>;expires=60
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.61;branch=z9hG4bKct05
Max-Forwards: 70
From: <sip:ct@example.com>;tag=ct05
To: <sip:ct@example.com>
Call-ID: contact-nogt.ct05
CSeq: 5 REGISTER
Contact: "Ct" <sip:ct@192.0.2.61;transport=udp;expires=60
Content-Length: 0
"""),
    # URI headers in a Request-URI (RFC 3261 §19.1.5: not allowed there)
    msg(b"""
INVITE sip:user@example.com?Subject=hello&Priority=urgent SIP/2.0
Via: SIP/2.0/UDP 192.0.2.62;branch=z9hG4bKrh01
Max-Forwards: 70
From: <sip:caller@example.net>;tag=rh01
To: <sip:user@example.com>
Call-ID: ruri-headers.rh01
CSeq: 1 INVITE
Contact: <sip:caller@192.0.2.62>
Content-Length: 0
"""),
]

# ---------------------------------------------------------------------------- clean
CLEAN = [
    # RFC 4475 3.1.1.1 wsinv: folding and white space everywhere, escaped quotes, empty Subject
    msg(b"""
INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : @CL@
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

""" + SDP),
    # RFC 4475 3.1.1.2 intmeth: every token character, an unknown method, odd URI, raw UTF-8
    msg(b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
        b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
        b"To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\n"
        b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\""
        + "\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439".encode() + b"\";tag=_token~1'+`*%!-.\n"
        b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
        b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
        b"Max-Forwards: 255\n"
        b"extensionHeader-!.%*+_`'~:" + "\ufeff\u5927\u505c\u96fb".encode() + b"\n"
        b"Content-Length: 0\n"),
    # RFC 4475 3.1.1.3 esc01: % escapes in URIs, a Contact folded onto its own line
    msg(b"""
INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: @CL@

""" + SDP),
    # RFC 4475 3.1.1.4 escnull: escaped NULs
    msg(b"""
REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0
"""),
    # RFC 4475 3.1.1.5 esc02: % is a token character, in a method and a header name
    msg(b"""
RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0
"""),
    # RFC 4475 3.1.1.6 lwsdisp: no space between display name and <
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0
"""),
    # RFC 4475 3.1.1.7 longreq: long values, many Vias in every spelling of the name
    msg(b"""
INVITE sip:user@example.com SIP/2.0
To: "I have a user name of """ + b"extreme" * 10 + b""" proportion"<sip:user@example.com:6000;unknownparam1=very""" + b"long" * 20 + b"""value;longparam""" + b"name" * 25 + b"""=shortvalue;very""" + b"long" * 25 + b"""ParameterNameWithNoValue>
F: sip:""" + b"amazinglylongcallername" * 5 + b"""@example.net;tag=12""" + b"982" * 50 + b"""424;unknownheaderparam""" + b"name" * 25 + b"""=unknowheaderparam""" + b"value" * 15 + b""";unknownValueless""" + b"paramname" * 10 + b"""
Call-ID: longreq.one""" + b"really" * 20 + b"""longcallid
CSeq: 3882340 INVITE
Unknown-""" + b"Long" * 20 + b"""-Name: unknown-""" + b"long" * 20 + b"""-value; unknown-""" + b"long" * 20 + b"""-parameter-name = unknown-""" + b"long" * 20 + b"""-parameter-value
Via: SIP/2.0/TCP sip33.example.com
v: SIP/2.0/TCP sip32.example.com
V: SIP/2.0/TCP sip31.example.com
Via: SIP/2.0/TCP sip30.example.com
ViA: SIP/2.0/TCP sip29.example.com
VIa: SIP/2.0/TCP sip28.example.com
VIA: SIP/2.0/TCP sip27.example.com
via: SIP/2.0/TCP sip26.example.com
viA: SIP/2.0/TCP sip25.example.com
vIa: SIP/2.0/TCP sip24.example.com
vIA: SIP/2.0/TCP sip23.example.com
V :  SIP/2.0/TCP sip22.example.com
v :  SIP/2.0/TCP sip21.example.com
V  : SIP/2.0/TCP sip20.example.com
v  : SIP/2.0/TCP sip19.example.com
Via : SIP/2.0/TCP sip18.example.com
Via  : SIP/2.0/TCP sip17.example.com
Via: SIP/2.0/TCP sip16.example.com
Via: SIP/2.0/TCP sip15.example.com
Via: SIP/2.0/TCP sip14.example.com
Via: SIP/2.0/TCP sip13.example.com
Via: SIP/2.0/TCP sip12.example.com
Via: SIP/2.0/TCP sip11.example.com
Via: SIP/2.0/TCP sip10.example.com
Via: SIP/2.0/TCP sip9.example.com
Via: SIP/2.0/TCP sip8.example.com
Via: SIP/2.0/TCP sip7.example.com
Via: SIP/2.0/TCP sip6.example.com
Via: SIP/2.0/TCP sip5.example.com
Via: SIP/2.0/TCP sip4.example.com
Via: SIP/2.0/TCP sip3.example.com
Via: SIP/2.0/TCP sip2.example.com
Via: SIP/2.0/TCP sip1.example.com
Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very""" + b"long" * 50 + b"""branchvalue
Max-Forwards: 70
Contact: <sip:""" + b"amazinglylongcallername" * 5 + b"""@host5.example.net>
Content-Type: application/sdp
l: @CL@

""" + SDP),
    # RFC 4475 3.1.1.9 semiuri: a ; in the user part of the Request-URI, a folded Accept
    msg(b"""
OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0
"""),
    # RFC 4475 3.1.1.10 transports: unusual transports
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0
"""),
    # RFC 4475 3.1.1.12 unreason: a reason phrase in UTF-8
    msg(b"SIP/2.0 200 = 2**3 * 5**2 " + "\u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435".encode() + b"""
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: @CL@
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>

""" + SDP),
    # RFC 4475 3.1.1.13 noreason: an empty reason phrase
    msg(b"""
SIP/2.0 100 
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>
"""),
    # RFC 4475 3.3.1 unkscm, 3.3.2 novelsc, 3.3.3 unksm2: unknown schemes
    msg(b"""
OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0
"""),
    msg(b"""
OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: novelsc.asdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
To: isbn:2983792873
From: <http://www.example.com>;tag=3234233
Call-ID: unksm2.daksdj@hyphenated-host.example.com
CSeq: 234902 REGISTER
Max-Forwards: 70
Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw
Contact: <name:John_Smith>
l: 0
"""),
    # RFC 4475 3.3.4 bext01: unknown Require and Proxy-Require
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.net;tag=242etr
Max-Forwards: 6
Call-ID: bext01.0ha0isndaksdj
Require: nothingSupportsThis, nothingSupportsThisEither
Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis
CSeq: 8 OPTIONS
Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw
Content-Length: 0
"""),
    # RFC 4475 3.3.6 invut-like: a body of an unknown type
    msg(b"""
INVITE sip:user@example.com SIP/2.0
Contact: <sip:caller@host5.example.net>
To: sip:j.user@example.com
From: sip:caller@example.net;tag=8392034
Max-Forwards: 70
Call-ID: invut.0ha0isndaksdjadsfij34n23d
CSeq: 235448 INVITE
Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw
Content-Type: application/unknownformat
Content-Length: @CL@

<audio>
 <pcmu port="443"/>
</audio>
"""),
    # RFC 4475 3.3.7 regaut01, 3.3.12 regescrt, 3.3.13 sdp01 (unusual but valid)
    msg(b"""
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=87321hj23128
Max-Forwards: 8
Call-ID: regaut01.0ha0isndaksdj
CSeq: 9338 REGISTER
Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw
Authorization: NoOneKnowsThisScheme opaque-data=here
Content-Length:0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=8
Max-Forwards: 70
Call-ID: regescrt.k345asrl3fdbv@192.0.2.1
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>
L:0
"""),
    msg(b"""
INVITE sip:user@example.com SIP/2.0
To: sip:j_user@example.com
Contact: <sip:caller@host15.example.net>
From: sip:caller@example.net;tag=234
Max-Forwards: 5
Call-ID: sdp01.ndaksdj9342dasdd
Accept: text/nobodyKnowsThis
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw
Content-Length: @CL@
Content-Type: application/sdp

""" + SDP),
    # RFC 4475 3.3.14 inv2543: an RFC 2543 request (no branch, no Max-Forwards)
    msg(b"""
INVITE sip:UserB@example.com SIP/2.0
Via: SIP/2.0/UDP iftgw.example.com
From: <sip:+13035551111@ift.client.example.net;user=phone>
Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>
To: sip:+16505552222@ss1.example.net;user=phone
Call-ID: inv2543.1717@ift.client.example.com
CSeq: 56 INVITE
Content-Type: application/sdp

""" + SDP),
    # RFC 4475 3.3.15 zeromf, 3.1.1.11 cparam01/02, dblreq
    msg(b"""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=3ghsd41
Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas
CSeq: 39234321 OPTIONS
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i
Max-Forwards: 0
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe
To: sip:watson@example.com
Call-ID: cparam01.70710@saturn.example.com
CSeq: 2 REGISTER
Contact: sip:+19725552222@gw1.example.net;unknownparam
l: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=838293
To: sip:watson@example.com
Call-ID: cparam02.70710@saturn.example.com
CSeq: 3 REGISTER
Contact: <sip:+19725552222@gw1.example.net;unknownparam>
l: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0
"""),
    # RFC 5118 4.1 ipv6-good
    msg(b"""
REGISTER sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-ipv6good
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::1]>
CSeq: 98176 REGISTER
Content-Length: 0
"""),
    # RFC 5118 4.3 port-ambiguous, 4.4 port-unambiguous
    msg(b"""
REGISTER sip:[2001:db8::10:5070] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-portamb
Contact: "Caller" <sip:caller@[2001:db8::1]>
Max-Forwards: 70
CSeq: 98176 REGISTER
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:[2001:db8::10]:5070 SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-portunamb
Contact: "Caller" <sip:caller@[2001:db8::1]>
Max-Forwards: 70
CSeq: 98176 REGISTER
Content-Length: 0
"""),
    # RFC 5118 4.5 via-received-param-with-delim / -no-delim
    msg(b"""
BYE sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com;tag=bd76ya
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-recvdelim
Max-Forwards: 70
CSeq: 321 BYE
Content-Length: 0
"""),
    msg(b"""
OPTIONS sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3
Call-ID: SSG95523997077@hlau_4100-recvnodelim
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::9:1]>
CSeq: 921 OPTIONS
Content-Length: 0
"""),
    # RFC 5118 4.7 mix-ip4-ip6, 4.9 ipv4-mapped-ipv6, 4.10 ipv6-in-ipv4 (both spellings)
    msg(b"""
BYE sip:user@host.example.net SIP/2.0
Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144
Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200
Call-ID: 997077@lau_4100
Max-Forwards: 70
CSeq: 89187 BYE
To: sip:user@example.net;tag=9817--94
From: sip:user@example.com;tag=81x2
Content-Length: 0
"""),
    msg(b"""
INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:user@east.example.com;tag=81x2
Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19
Via: SIP/2.0/UDP [::ffff:192.0.2.2];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100-mapped
Contact: "T. desk phone" <sip:ted@[::ffff:192.0.2.2]>
CSeq: 612 INVITE
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: @CL@

""" + SDP),
    msg(b"""
OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0
To: sip:user@[2001:db8:::192.0.2.1]
From: sip:user@example.com;tag=810x2
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111
Call-ID: G9559905523997077@hlau_4100-3colons
CSeq: 689 OPTIONS
Max-Forwards: 70
Content-Length: 0
"""),
    msg(b"""
OPTIONS sip:user@[2001:db8::192.0.2.1] SIP/2.0
To: sip:user@[2001:db8::192.0.2.1]
From: sip:user@example.com;tag=810x2
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111
Call-ID: G9559905523997077@hlau_4100-2colons
CSeq: 689 OPTIONS
Max-Forwards: 70
Content-Length: 0
"""),
    # What a Contact and URI headers may be: `*` (with Expires: 0), a display name with escaped
    # quotes, expires=0, several contacts with parameters around LWS, URI headers in a Contact
    # and in a Refer-To (RFC 3261 §10.2.2, §19.1.5, §20.10; RFC 3515)
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.63;branch=z9hG4bKcc01
Max-Forwards: 70
From: <sip:cc@example.com>;tag=cc01
To: <sip:cc@example.com>
Call-ID: contact-star.cc01
CSeq: 9 REGISTER
Contact: *
Expires: 0
Content-Length: 0
"""),
    msg(b"""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.63;branch=z9hG4bKcc02
Max-Forwards: 70
From: <sip:cc@example.com>;tag=cc02
To: <sip:cc@example.com>
Call-ID: contact-forms.cc02
CSeq: 10 REGISTER
Contact: "J \\"Bob\\" Smith" <sip:cc@192.0.2.63>;expires=0, <sip:cc@[2001:db8::63]:5070>
  ; expires = 3600 ; q=0.5 ;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"
Contact: sip:cc@192.0.2.64;expires=120
Content-Length: 0
"""),
    msg(b"""
REFER sip:bob@192.0.2.65 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKcc03
Max-Forwards: 70
From: <sip:alice@example.com>;tag=cc03
To: <sip:bob@example.com>;tag=cc03b
Call-ID: uri-headers-allowed.cc03
CSeq: 2 REFER
Contact: <sip:alice@192.0.2.66?Subject=transfer>
Refer-To: <sip:carol@example.com?Replaces=abc%40192.0.2.9%3Bto-tag%3D1%3Bfrom-tag%3D2>
Content-Length: 0
"""),
]


def checksum(h):
    s = sum(struct.unpack('!10H', h))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return struct.pack('!H', ~s & 0xffff)


def udp_frame(payload, ident):
    src, dst = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    udp = struct.pack('!HHHH', 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), ident, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + checksum(ip) + ip[12:]
    eth = b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00'
    return eth + ip + udp


def write(path, msgs):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, m in enumerate(msgs):
            frame = udp_frame(m, i + 1)
            f.write(struct.pack('<IIII', 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)


if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else '.'
    write(out + '/grammar-breaks.pcap', BREAKS)
    write(out + '/grammar-clean.pcap', CLEAN)
