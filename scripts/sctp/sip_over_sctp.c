/* A SIP call over a real SCTP association, for tests/data/derived/sctp-sip.pcap.
 *
 * Uses usrsctp (Debian: libusrsctp-dev), the userland SCTP stack of FreeBSD's, over raw IP
 * (protocol 132, no UDP encapsulation), so it runs where the kernel has no SCTP module. Two
 * processes of this program talk over 127.0.0.1: `server` answers on port 5060, `client`
 * (from port 5070) sends OPTIONS, REGISTER, an INVITE with a long SDP body and many headers,
 * ACK, a pair of MESSAGE requests in one user message, and BYE. Both sides set SCTP_MAXSEG to
 * 300 octets, so long messages leave in several DATA chunks (B/E fragments); short ones sent
 * back to back are bundled in one packet. scripts/sctp/make-capture.sh builds it and captures the
 * traffic with tcpdump in a network namespace of its own.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usrsctp.h>

#define MAXSEG 300

static void die(const char *what) { perror(what); exit(1); }

static void set_maxseg(struct socket *s) {
    struct sctp_assoc_value av;
    memset(&av, 0, sizeof av);
    av.assoc_id = SCTP_FUTURE_ASSOC;
    av.assoc_value = MAXSEG;
    if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_MAXSEG, &av, sizeof av) < 0) die("SCTP_MAXSEG");
}

static void send_msg(struct socket *s, const char *m) {
    struct sctp_sndinfo si;
    memset(&si, 0, sizeof si);
    si.snd_ppid = htonl(0); /* SIP has no PPID of its own */
    if (usrsctp_sendv(s, m, strlen(m), NULL, 0, &si, sizeof si, SCTP_SENDV_SNDINFO, 0) < 0)
        die("sendv");
}

/* One whole user message into buf (NUL-terminated); 0 at the end of the association. */
static size_t recv_msg(struct socket *s, char *buf, size_t cap) {
    size_t got = 0;
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        struct sctp_rcvinfo ri;
        socklen_t il = sizeof ri;
        unsigned int it = 0;
        int flags = 0;
        ssize_t n = usrsctp_recvv(s, buf + got, cap - 1 - got, (struct sockaddr *)&from, &fl, &ri,
                                  &il, &it, &flags);
        if (n <= 0) return 0;
        got += (size_t)n;
        if (flags & MSG_EOR) break;
    }
    buf[got] = 0;
    return got;
}

/* The value of header `name` (up to the line end) in msg, copied to out. */
static void header(const char *msg, const char *name, char *out, size_t cap) {
    out[0] = 0;
    size_t nl = strlen(name);
    for (const char *p = msg; (p = strstr(p, "\r\n")) != NULL; p += 2) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= cap) l = cap - 1;
            memcpy(out, v, l);
            out[l] = 0;
            return;
        }
    }
}

static const char *SDP_A =
    "v=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio 49170 RTP/AVP 0 8 97 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:97 AMR-WB/16000\r\na=fmtp:97 mode-change-capability=2;max-red=0\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=maxptime:240\r\n"
    "a=sendrecv\r\n";
static const char *SDP_B =
    "v=0\r\no=bob 2808844564 2808844564 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio 3456 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

static void response(char *out, size_t cap, const char *req, int code, const char *reason,
                     const char *body) {
    char via[512], from[256], to[256], cid[256], cseq[64];
    header(req, "Via", via, sizeof via);
    header(req, "From", from, sizeof from);
    header(req, "To", to, sizeof to);
    header(req, "Call-ID", cid, sizeof cid);
    header(req, "CSeq", cseq, sizeof cseq);
    const char *tag = (code > 100 && !strstr(to, "tag=")) ? ";tag=b0b5ct" : "";
    snprintf(out, cap,
             "SIP/2.0 %d %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
             "Contact: <sip:bob@127.0.0.1:5060;transport=sctp>\r\nServer: sip_over_sctp\r\n"
             "%sContent-Length: %zu\r\n\r\n%s",
             code, reason, via, from, to, tag, cid, cseq,
             body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
             body ? body : "");
}

static int server(void) {
    struct socket *l = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!l) die("socket");
    set_maxseg(l);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(5060);
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (usrsctp_bind(l, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (usrsctp_listen(l, 1) < 0) die("listen");
    struct socket *s = usrsctp_accept(l, NULL, NULL);
    if (!s) die("accept");
    static char req[65536], resp[8192], two[16384];
    while (recv_msg(s, req, sizeof req) > 0) {
        const char *m = req;
        /* Each SIP request in the user message (two MESSAGEs come in one). */
        while (m && *m) {
            const char *next = strstr(m + 1, "MESSAGE sip:");
            if (strncmp(m, "ACK ", 4) == 0) {
            } else if (strncmp(m, "INVITE ", 7) == 0) {
                response(resp, sizeof resp, m, 100, "Trying", NULL);
                strcpy(two, resp);
                response(resp, sizeof resp, m, 180, "Ringing", NULL);
                strcat(two, resp);
                send_msg(s, two); /* 100 and 180 in one user message */
                usleep(20000);
                response(resp, sizeof resp, m, 200, "OK", SDP_B);
                send_msg(s, resp);
            } else {
                response(resp, sizeof resp, m, 200, "OK", NULL);
                send_msg(s, resp);
            }
            m = next;
        }
    }
    usrsctp_close(s);
    usrsctp_close(l);
    return 0;
}

static void request(char *out, size_t cap, const char *method, int cseq, const char *extra,
                    const char *ctype, const char *body) {
    snprintf(out, cap,
             "%s sip:bob@127.0.0.1:5060;transport=sctp SIP/2.0\r\n"
             "Via: SIP/2.0/SCTP 127.0.0.1:5070;branch=z9hG4bK-sctp-%s-%d\r\n"
             "Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a11ce\r\n"
             "To: <sip:bob@127.0.0.1>%s\r\nCall-ID: %s@127.0.0.1\r\nCSeq: %d %s\r\n"
             "Contact: <sip:alice@127.0.0.1:5070;transport=sctp>\r\nUser-Agent: sip_over_sctp\r\n"
             "%s%s%s%sContent-Length: %zu\r\n\r\n%s",
             method, method, cseq,
             (strcmp(method, "ACK") == 0 || strcmp(method, "BYE") == 0) ? ";tag=b0b5ct" : "",
             strcmp(method, "REGISTER") == 0 ? "reg-sctp" : "call-sctp", cseq, method,
             extra ? extra : "", ctype ? "Content-Type: " : "", ctype ? ctype : "",
             ctype ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
}

static int client(void) {
    struct socket *s = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!s) die("socket");
    set_maxseg(s);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(5070);
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (usrsctp_bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    a.sin_port = htons(5060);
    if (usrsctp_connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    static char m[16384], m2[4096], r[65536];
    request(m, sizeof m, "OPTIONS", 1, "Accept: application/sdp\r\n", NULL, NULL);
    send_msg(s, m);
    recv_msg(s, r, sizeof r);
    request(m, sizeof m, "REGISTER", 2, "Expires: 3600\r\n", NULL, NULL);
    send_msg(s, m);
    recv_msg(s, r, sizeof r);
    /* An INVITE of some 2 KB: many headers an IMS core adds, and an SDP offer. */
    char extra[4096] = "";
    for (int i = 0; i < 12; i++) {
        char h[160];
        snprintf(h, sizeof h, "P-Test-Header-%02d: value-%02d-abcdefghijklmnopqrstuvwxyz0123456789\r\n",
                 i, i);
        strcat(extra, h);
    }
    strcat(extra, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, UPDATE, PRACK\r\n");
    request(m, sizeof m, "INVITE", 3, extra, "application/sdp", SDP_A);
    send_msg(s, m);
    recv_msg(s, r, sizeof r); /* 100 + 180 */
    recv_msg(s, r, sizeof r); /* 200 */
    request(m, sizeof m, "ACK", 3, NULL, NULL, NULL);
    send_msg(s, m);
    usleep(50000);
    /* Two MESSAGE requests in one user message, framed by Content-Length. */
    request(m, sizeof m, "MESSAGE", 4, NULL, "text/plain", "hello over SCTP");
    request(m2, sizeof m2, "MESSAGE", 5, NULL, "text/plain", "and a second one");
    strcat(m, m2);
    send_msg(s, m);
    recv_msg(s, r, sizeof r);
    recv_msg(s, r, sizeof r);
    usleep(50000);
    request(m, sizeof m, "BYE", 6, NULL, NULL, NULL);
    send_msg(s, m);
    recv_msg(s, r, sizeof r);
    usleep(50000);
    usrsctp_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s server|client\n", argv[0]);
        return 2;
    }
    usrsctp_init(0, NULL, NULL); /* port 0: SCTP over raw IP, no UDP encapsulation */
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    /* Both processes read every SCTP packet on lo: stay silent on the ones for the other. */
    usrsctp_sysctl_set_sctp_blackhole(2);
    int rc = strcmp(argv[1], "server") == 0 ? server() : client();
    sleep(1); /* let SHUTDOWN complete */
    while (usrsctp_finish() != 0) sleep(1);
    return rc;
}
