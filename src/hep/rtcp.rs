//! One RTCP datagram (a compound packet, RFC 3550 §6.1) as the JSON a HOMER collector reads in
//! a HEP type-5 packet: heplify's RTCP layout (`RTCP_Packet` of heplify 1.x, which
//! heplify-server and HOMER chart jitter and loss from).
//!
//! ```text
//! { "sender_information": { "ntp_timestamp_sec", "ntp_timestamp_usec", "rtp_timestamp",
//!                           "packets", "octets" },
//!   "ssrc", "type", "report_count",
//!   "report_blocks": [ { "source_ssrc", "fraction_lost", "packets_lost", "highest_seq_no",
//!                        "ia_jitter", "lsr", "dlsr" } ],
//!   "report_blocks_xr": { "type", "id", "fraction_lost", "fraction_discard", "burst_density",
//!                         "gap_density", "burst_duration", "gap_duration",
//!                         "round_trip_delay", "end_system_delay" },
//!   "sdes_ssrc" }
//! ```
//! As heplify fills it, over the whole compound packet: `sender_information` from the sender
//! report (zeros without one; `ntp_timestamp_sec`/`_usec` are the NTP timestamp's two 32-bit
//! words as sent, the second a binary fraction despite its name); `ssrc` the SSRC of the SR, RR
//! or XR sender; `report_blocks` every reception report block of the SR and RR packets, in
//! order; `report_blocks_xr` the last XR VoIP metrics block (RFC 3611 §4.7; zeros without one);
//! `sdes_ssrc` the first SDES chunk's SSRC. Two choices differ from heplify 1.x on purpose:
//! `type` and `report_count` are those of the report (SR 200, RR 201, else the first packet)
//! where heplify left the last packet's (SDES, 202, in nearly every compound packet, as
//! RFC 3550 §6.1 puts SDES after the report); `packets_lost` is the 24-bit signed count
//! (RFC 3550 §6.4.1) where heplify read it unsigned (a duplicate-caused −1 became 16777215).

use serde_json::{json, Value};

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([d[i], d[i + 1]])
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}

fn block(b: &[u8]) -> Value {
    let cum = (u32_at(b, 4) & 0x00ff_ffff) as i32;
    let cum = if cum & 0x0080_0000 != 0 {
        cum - 0x0100_0000
    } else {
        cum
    };
    json!({
        "source_ssrc": u32_at(b, 0),
        "fraction_lost": b[4],
        "packets_lost": cum,
        "highest_seq_no": u32_at(b, 8),
        "ia_jitter": u32_at(b, 12),
        "lsr": u32_at(b, 16),
        "dlsr": u32_at(b, 20),
    })
}

/// The JSON of one compound RTCP datagram; None when it is not RTCP (the same validity checks
/// as [`crate::analysis::rtcp::parse`]).
pub fn heplify_json(d: &[u8]) -> Option<String> {
    crate::analysis::rtcp::parse(d)?;
    let mut sender = json!({
        "ntp_timestamp_sec": 0,
        "ntp_timestamp_usec": 0,
        "rtp_timestamp": 0,
        "packets": 0,
        "octets": 0,
    });
    let mut ssrc = 0u32;
    let mut kind: Option<(u8, u8)> = None;
    let mut first: Option<(u8, u8)> = None;
    let mut blocks = Vec::new();
    let mut xr = json!({
        "type": 0, "id": 0, "fraction_lost": 0, "fraction_discard": 0, "burst_density": 0,
        "gap_density": 0, "burst_duration": 0, "gap_duration": 0, "round_trip_delay": 0,
        "end_system_delay": 0,
    });
    let mut sdes_ssrc: Option<u32> = None;
    let mut rest = d;
    while rest.len() >= 4 {
        let count = rest[0] & 0x1f;
        let pt = rest[1];
        let len = (4 + 4 * usize::from(u16_at(rest, 2))).min(rest.len());
        let mut body = &rest[4..len];
        if rest[0] & 0x20 != 0 && len == rest.len() {
            let pad = usize::from(body.last().copied().unwrap_or(0));
            body = &body[..body.len().saturating_sub(pad)];
        }
        first.get_or_insert((pt, count));
        let reports = |at: usize, blocks: &mut Vec<Value>| {
            for i in 0..usize::from(count) {
                if let Some(b) = body.get(at + i * 24..at + i * 24 + 24) {
                    blocks.push(block(b));
                }
            }
        };
        match pt {
            200 if body.len() >= 24 => {
                ssrc = u32_at(body, 0);
                sender = json!({
                    "ntp_timestamp_sec": u32_at(body, 4),
                    "ntp_timestamp_usec": u32_at(body, 8),
                    "rtp_timestamp": u32_at(body, 12),
                    "packets": u32_at(body, 16),
                    "octets": u32_at(body, 20),
                });
                kind.get_or_insert((pt, count));
                reports(24, &mut blocks);
            }
            201 if body.len() >= 4 => {
                ssrc = u32_at(body, 0);
                kind.get_or_insert((pt, count));
                reports(4, &mut blocks);
            }
            202 if body.len() >= 4 => {
                sdes_ssrc.get_or_insert(u32_at(body, 0));
            }
            207 if body.len() >= 4 => {
                if kind.is_none() {
                    ssrc = u32_at(body, 0);
                }
                let mut x = &body[4..];
                while x.len() >= 4 {
                    let blen = 4 + 4 * usize::from(u16_at(x, 2));
                    if blen > x.len() {
                        break;
                    }
                    if x[0] == 7 && blen >= 36 {
                        let b = &x[4..blen];
                        xr = json!({
                            "type": 7,
                            "id": u32_at(b, 0),
                            "fraction_lost": b[4],
                            "fraction_discard": b[5],
                            "burst_density": b[6],
                            "gap_density": b[7],
                            "burst_duration": u16_at(b, 8),
                            "gap_duration": u16_at(b, 10),
                            "round_trip_delay": u16_at(b, 12),
                            "end_system_delay": u16_at(b, 14),
                        });
                    }
                    x = &x[blen..];
                }
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    let (pt, count) = kind.or(first)?;
    Some(
        json!({
            "sender_information": sender,
            "ssrc": ssrc,
            "type": pt,
            "report_count": count,
            "report_blocks": blocks,
            "report_blocks_xr": xr,
            "sdes_ssrc": sdes_ssrc.unwrap_or(0),
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn json_of(s: &str) -> Value {
        serde_json::from_str(&heplify_json(&hex(s)).unwrap()).unwrap()
    }

    /// Frame 1526 of the corpus' goffinet_sip_captures/Forensic_challenge_4.pcap: an SR with one
    /// report block, then SDES (CNAME and PRIV). Every expected value is tshark's decoding
    /// (`tshark -V -Y 'frame.number==1526'`).
    const SR_SDES: &str = "81c8000ca254e017cf86ee5e55c28f5c00023730000000790000514c42afe59b000000000000902c00000015000000000000000081ca001ea254e017013d323439323730323935323033344433454239384131414542304642333546423540756e697175652e7a453745393137433238443936343145452e6f7267083110782d7274702d73657373696f6e2d696433393544454637363241303734313330423933363546464131463144364332420000";

    #[test]
    fn sender_report_with_a_block_as_tshark_decodes_it() {
        let v = json_of(SR_SDES);
        // Sender SSRC 0xa254e017; Timestamp MSW 3481726558, LSW 1438814044; RTP timestamp
        // 145200; sender's packet count 121, octet count 20812.
        assert_eq!(v["type"], 200);
        assert_eq!(v["report_count"], 1);
        assert_eq!(v["ssrc"], 0xa254_e017u32);
        let si = &v["sender_information"];
        assert_eq!(si["ntp_timestamp_sec"], 3_481_726_558u32);
        assert_eq!(si["ntp_timestamp_usec"], 1_438_814_044u32);
        assert_eq!(si["rtp_timestamp"], 145_200);
        assert_eq!(si["packets"], 121);
        assert_eq!(si["octets"], 20_812);
        // Source 1: identifier 0x42afe59b, fraction lost 0/256, cumulative lost 0, extended
        // highest sequence number 36908, jitter 21, LSR 0, DLSR 0.
        assert_eq!(
            v["report_blocks"],
            json!([{ "source_ssrc": 0x42af_e59bu32, "fraction_lost": 0, "packets_lost": 0,
                     "highest_seq_no": 36_908, "ia_jitter": 21, "lsr": 0, "dlsr": 0 }])
        );
        // The SDES chunk's identifier.
        assert_eq!(v["sdes_ssrc"], 0xa254_e017u32);
        assert_eq!(v["report_blocks_xr"]["type"], 0);
    }

    #[test]
    fn receiver_reports_with_and_without_blocks_as_tshark_decodes_them() {
        // Frame 1308 of Forensic_challenge_4.pcap: RR with no block (report count 0), SDES.
        let v = json_of("80c90001a254e01781ca001ea254e017013d323439323730323935323033344433454239384131414542304642333546423540756e697175652e7a453745393137433238443936343145452e6f7267083110782d7274702d73657373696f6e2d696433393544454637363241303734313330423933363546464131463144364332420000");
        assert_eq!(
            (v["type"].clone(), v["report_count"].clone()),
            (json!(201), json!(0))
        );
        assert_eq!(v["ssrc"], 0xa254_e017u32);
        assert_eq!(v["report_blocks"], json!([]));
        assert_eq!(v["sender_information"]["packets"], 0);
        // Frame 4 of ntop_nDPI/rtcp_multiple_pkts_in_the_same_datagram.pcap: RR from
        // 0x01932db4 about 0x5d931534: fraction 0, cumulative lost 1, extended highest 49035,
        // jitter 6, LSR 3245362529, DLSR 263452 (tshark: 4019 ms); SDES (CNAME, NOTE).
        let v = json_of("81c9000701932db45d931534000000010000bf8b00000006c1704d610004051c81ca000e01932db40107313933326462340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d00000000");
        assert_eq!(v["ssrc"], 0x0193_2db4u32);
        assert_eq!(
            v["report_blocks"],
            json!([{ "source_ssrc": 0x5d93_1534u32, "fraction_lost": 0, "packets_lost": 1,
                     "highest_seq_no": 49_035, "ia_jitter": 6, "lsr": 3_245_362_529u32,
                     "dlsr": 263_452 }])
        );
        assert_eq!(v["sdes_ssrc"], 0x0193_2db4u32);
    }

    #[test]
    fn negative_loss_xr_and_what_is_not_rtcp() {
        // An RR whose block says −2 lost (duplicates), then an XR with a VoIP metrics block.
        let mut d = hex("81c90007000000010000000200fffffe000003e8000000500000000000000000");
        d.extend_from_slice(&hex("80cf000a00000001070000080000000d0d05060000280100"));
        d.extend_from_slice(&hex("0078001e00000000587f29260000003c007800c8"));
        let v: Value = serde_json::from_str(&heplify_json(&d).unwrap()).unwrap();
        assert_eq!(v["report_blocks"][0]["packets_lost"], -2);
        assert_eq!(v["type"], 201);
        let x = &v["report_blocks_xr"];
        assert_eq!((x["type"].clone(), x["id"].clone()), (json!(7), json!(13)));
        assert_eq!(x["fraction_lost"], 13);
        assert_eq!(x["burst_duration"], 40);
        assert_eq!(x["round_trip_delay"], 120);
        assert!(heplify_json(&[0x80, 0, 0, 1, 0, 0, 0, 0]).is_none());
        assert!(heplify_json(&d[..20]).is_none());
    }
}
