//! The HEP agent: session events as HEPv3 packets for a HOMER collector (heplify-server).
//!
//! What is sent, each packet with the capture node's id (`--hep-id`), name and password:
//! - every SIP message as captured (reassembled from TCP, fragments and WebSocket), type SIP (1),
//!   with the time, addresses and ports it was captured with, retransmissions included. Chunk
//!   17 (correlation id) is the Call-ID of the B2BUA leg it is linked to, by the one leg rule
//!   ([`crate::session::legs`], applied as messages pass: [`LiveLegs`]), so HOMER shows both
//!   legs in one call view; a message of a leg not linked to another carries none.
//! - for each RTP stream when it ends, tied to its call: a QoS report as heplify-server reads
//!   it, type 34 ("rtpagent": `MOS`, `JITTER`, `PACKET_LOSS`, `DELTA` and the stream's
//!   addresses), with chunk 17 = the call's Call-ID. A stream no call claims is not sent (HOMER
//!   stores this type by correlation id only).
//! - every RTCP datagram as the endpoints sent it (a compound packet, every few seconds of a
//!   call), type 5, in heplify's RTCP JSON layout ([`super::rtcp`]), with its own capture time,
//!   addresses and ports, and chunk 17 = the Call-ID of the call whose SDP announced its media
//!   (the session's media index: RTP port + 1, `a=rtcp-mux`, `a=rtcp:`); none when no call
//!   did, as heplify sends it. HOMER charts a call's jitter and loss over time from these.
//! - every alert as a log (type 100): its line, chunk 17 = its Call-ID when it has one.
//!
//! Never blocks: packets go to a [`Sender`]'s bounded queues; see [`super::sender`].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::sender::{HepOutStats, Sender};
use super::wire::{self, proto_type, Meta};
use crate::analysis::alerts::Alert;
use crate::analysis::rtcp::RtcpSeen;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::MsgRow;
use crate::reassembly::Carrier;
use crate::session::legs::LiveLegs;
use crate::session::{Event, Needs};

/// HEP's type for a QoS report of an RTP agent (heplify-server's "rtpagent").
pub const PROTO_QOS: u8 = 34;

/// Call-IDs (and session keys) the live leg index keeps.
pub const LEG_INDEX: usize = 200_000;

#[derive(Clone, Debug, Default)]
pub struct AgentConfig {
    pub capture_id: u32,
    pub password: Option<String>,
    pub node_name: Option<String>,
    /// The headers that link B2BUA legs (`--link-header`, the correlator's list).
    pub link_headers: Vec<String>,
}

pub struct Agent {
    cfg: AgentConfig,
    sender: Sender,
    legs: LiveLegs,
    buf: Vec<u8>,
    /// Messages without their bytes (should not happen: [`Agent::needs`] asks for them).
    unsent_no_bytes: u64,
}

fn ip_proto(c: Carrier) -> u8 {
    match c {
        Carrier::Udp | Carrier::HepUdp => 17,
        // TLS and WSS run over TCP: HEP's IP protocol is the layer-4 one.
        Carrier::Tcp | Carrier::Ws | Carrier::HepTcp | Carrier::Tls | Carrier::Wss => 6,
        Carrier::Sctp => 132,
    }
}

const NOWHERE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

impl Agent {
    pub fn new(cfg: AgentConfig, sender: Sender) -> Agent {
        Agent {
            cfg,
            sender,
            legs: LiveLegs::new(LEG_INDEX),
            buf: Vec::new(),
            unsent_no_bytes: 0,
        }
    }

    /// What the agent needs of the session.
    pub fn needs() -> Needs {
        Needs {
            messages: true,
            raw: true,
            media: true,
            alerts: true,
            rtcp: true,
            ..Needs::default()
        }
    }

    fn emit(buf: &mut Vec<u8>, sender: &Sender, meta: Meta<'_>, payload: &[u8]) {
        buf.clear();
        match wire::encode(&meta, payload, buf) {
            Ok(()) => sender.send(Bytes::copy_from_slice(buf)),
            Err(_) => sender.count_too_large(),
        }
    }

    fn meta<'a>(
        cfg: &'a AgentConfig,
        src: SocketAddr,
        dst: SocketAddr,
        ip_proto: u8,
        ts: crate::time::Ts,
        kind: u8,
        correlation: Option<&'a [u8]>,
    ) -> Meta<'a> {
        Meta {
            src,
            dst,
            ip_proto,
            ts,
            proto_type: kind,
            capture_id: cfg.capture_id,
            auth_key: cfg.password.as_deref().map(str::as_bytes),
            correlation_id: correlation,
            node_name: cfg.node_name.as_deref().map(str::as_bytes),
        }
    }

    fn message(&mut self, m: &MsgRow) {
        let Some(sip) = &m.sip else {
            self.unsent_no_bytes += 1;
            return;
        };
        let keys = crate::correlate::call::link_keys(sip, &self.cfg.link_headers);
        let linked = match &m.call_id {
            Some(id) => self.legs.message(id, &keys).map(str::to_string),
            None => None,
        };
        let meta = Self::meta(
            &self.cfg,
            m.src,
            m.dst,
            ip_proto(m.transport),
            m.ts,
            proto_type::SIP,
            linked.as_deref().map(str::as_bytes),
        );
        let raw = sip.raw.clone();
        Self::emit(&mut self.buf, &self.sender, meta, &raw);
    }

    fn stream(&mut self, s: &StreamStats) {
        let Some(call) = s.call_id.clone() else {
            return;
        };
        let qos = qos_json(s, &call);
        let meta = Self::meta(
            &self.cfg,
            s.src,
            s.dst,
            17,
            s.last,
            PROTO_QOS,
            Some(call.as_bytes()),
        );
        Self::emit(&mut self.buf, &self.sender, meta, qos.as_bytes());
    }

    fn rtcp(&mut self, r: &RtcpSeen) {
        let Some(json) = super::rtcp::heplify_json(&r.raw) else {
            return;
        };
        let meta = Self::meta(
            &self.cfg,
            r.src,
            r.dst,
            17,
            r.ts,
            proto_type::RTCP_JSON,
            r.call_id.as_deref().map(str::as_bytes),
        );
        Self::emit(&mut self.buf, &self.sender, meta, json.as_bytes());
    }

    fn alert(&mut self, a: &Alert) {
        let line = a.to_string();
        let cid = a.call_id.clone();
        let meta = Self::meta(
            &self.cfg,
            NOWHERE,
            NOWHERE,
            17,
            a.ts,
            proto_type::LOG,
            cid.as_deref().map(str::as_bytes),
        );
        Self::emit(&mut self.buf, &self.sender, meta, line.as_bytes());
    }

    /// One session event (the selected ones: what the user's filter keeps is what is sent).
    pub fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::Message(m) => self.message(m),
            Event::Stream(s) => self.stream(s),
            Event::Alert(a) => self.alert(a),
            Event::Rtcp(r) => self.rtcp(r),
            _ => {}
        }
    }

    /// What was sent and lost so far.
    pub fn stats(&self) -> HepOutStats {
        let mut s = self.sender.stats();
        s.links_forgotten = self.legs.forgotten;
        s.too_large += self.unsent_no_bytes;
        s
    }

    /// Drains the queues for at most `drain`, then stops.
    pub fn finish(self, drain: Duration) -> HepOutStats {
        let forgotten = self.legs.forgotten;
        let missing = self.unsent_no_bytes;
        let mut s = self.sender.finish(drain);
        s.links_forgotten = forgotten;
        s.too_large += missing;
        s
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The stream's quality as heplify-server's rtpagent report (type 34): the keys it reads
/// (`DELTA`, `JITTER`, `MOS`, `PACKET_LOSS`) and the stream around them.
pub fn qos_json(s: &StreamStats, call_id: &str) -> String {
    let (sec, _) = wire::ts_parts(s.last);
    let v = serde_json::json!({
        "CORRELATION_ID": call_id,
        "RTP_SIP_CALL_ID": call_id,
        "REPORT_TS": sec,
        "REPORT_NAME": "sipscope",
        "TYPE": "HANGUP",
        "SRC_IP": s.src.ip().to_string(),
        "SRC_PORT": s.src.port(),
        "DST_IP": s.dst.ip().to_string(),
        "DST_PORT": s.dst.port(),
        "SSRC": s.ssrc,
        "CODEC_PT": s.payload_type,
        "CODEC_NAME": s.encoding.clone().unwrap_or_default(),
        "CLOCK": s.clock_rate,
        "TOTAL_PK": s.packets,
        "EXPECTED_PK": s.expected,
        "PACKET_LOSS": s.lost,
        "LOSS_PCT": s.loss_pct.map(round2),
        "OUT_ORDER": s.out_of_order,
        "DELTA": round2(s.max_delta_ms),
        "MEAN_DELTA": round2(s.mean_delta_ms),
        "JITTER": s.mean_jitter_ms.map(round2),
        "MAX_JITTER": s.max_jitter_ms.map(round2),
        "MOS": s.mos.map(round2),
        "RFACTOR": s.r_factor.map(round2),
    });
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::hep::{parse_hep3, HepPayload};
    use crate::hep::sender::{Bounds, Target};
    use crate::sip::SipMessage;

    fn row(call_id: &str, extra: &str) -> MsgRow {
        let text = format!(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{call_id}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        let mut r = crate::testutil::msg_row();
        r.call_id = Some(call_id.into());
        r.sip = Some(Box::new(
            SipMessage::parse(bytes::Bytes::from(text), true).unwrap(),
        ));
        r
    }

    #[test]
    fn b2bua_legs_carry_the_linked_call_id_in_chunk_17() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let t = Target::parse(&format!("udp:{}", rx.local_addr().unwrap())).unwrap();
        let cfg = AgentConfig {
            capture_id: 0xdead_beef,
            password: Some("pw".into()),
            node_name: Some("sbc".into()),
            link_headers: crate::correlate::CorrelatorConfig::default().link_headers,
        };
        let mut a = Agent::new(cfg, Sender::start(&[t], Bounds::default()).unwrap());
        let legs = [
            row("leg-a", ""),
            row("leg-b", "X-Call-ID: leg-a\r\n"),
            row("leg-c", "Session-ID: 0123456789abcdef0123456789abcdef\r\n"),
            row("leg-d", "Session-ID: 0123456789abcdef0123456789abcdef\r\n"),
        ];
        for r in &legs {
            a.event(&Event::Message(&std::sync::Arc::new(r.clone())));
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        for r in &legs {
            let n = rx.recv(&mut buf).unwrap();
            let (h, used) = parse_hep3(&buf[..n]).unwrap();
            assert_eq!(used, n);
            assert!(crate::decode::hep::check_chunk_sizes(&buf[..n]).is_ok());
            assert!(crate::decode::hep::auth_key_is(&buf[..n], b"pw"));
            assert_eq!(h.capture_id, Some(0xdead_beef));
            assert_eq!(h.node_name, Some(&b"sbc"[..]));
            assert_eq!(h.proto_type, Some(1));
            assert_eq!(h.payload, HepPayload::Raw(&r.sip.as_ref().unwrap().raw[..]));
            got.push(
                h.correlation_id
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
            );
        }
        assert_eq!(
            got,
            vec![None, Some("leg-a".into()), None, Some("leg-c".into())]
        );
        let st = a.finish(Duration::from_secs(1));
        assert_eq!((st.sent, st.too_large), (4, 0));
    }
}
