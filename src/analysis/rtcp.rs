//! RTCP (RFC 3550 §6.4): what the endpoints themselves report about each stream — sender
//! reports, receiver report blocks (fraction lost, cumulative lost, interarrival jitter, LSR and
//! DLSR) and RTCP XR VoIP metrics (RFC 3611 §4.7). Reported beside our own figures, never
//! instead of them (METRICS.md, RTP).
//!
//! Round trip at the capture point (RFC 3550 §6.4.1, as tshark computes it): a report block whose
//! LSR names a sender report we captured gives RTT = (report's capture time − that SR's capture
//! time) − DLSR. Captured next to the media sender this is the sender's own round trip.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::time::{Nanos, Ts, NANOS_PER_MILLI};

/// One reception report block.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The SSRC of the stream being reported on.
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

/// RTCP XR VoIP metrics (RFC 3611 §4.7), as sent; 127 (R, MOS) or 0 mean "unavailable".
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VoipMetrics {
    #[serde(skip)]
    pub ssrc: u32,
    /// Loss and discard rates in 1/256.
    pub loss_rate: u8,
    pub discard_rate: u8,
    pub burst_density: u8,
    pub gap_density: u8,
    pub burst_duration_ms: u16,
    pub gap_duration_ms: u16,
    pub round_trip_ms: u16,
    pub end_system_delay_ms: u16,
    pub r_factor: u8,
    /// MOS-LQ and MOS-CQ in tenths.
    pub mos_lq: u8,
    pub mos_cq: u8,
    pub jb_nominal_ms: u16,
    pub jb_max_ms: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcpPacket {
    Sr {
        ssrc: u32,
        /// The middle 32 bits of the NTP timestamp: what a later LSR names.
        ntp_middle: u32,
        packets: u32,
        octets: u32,
        blocks: Vec<ReportBlock>,
    },
    Rr {
        ssrc: u32,
        blocks: Vec<ReportBlock>,
    },
    Xr {
        ssrc: u32,
        voip: Vec<VoipMetrics>,
    },
    /// SDES, BYE, APP and the rest: valid, not used.
    Other(u8),
}

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([d[i], d[i + 1]])
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}

fn blocks(d: &[u8], count: usize) -> Option<Vec<ReportBlock>> {
    if d.len() < count * 24 {
        return None;
    }
    Some(
        (0..count)
            .map(|i| {
                let b = &d[i * 24..i * 24 + 24];
                // 24-bit two's complement.
                let cum = (u32_at(b, 4) & 0x00ff_ffff) as i32;
                let cum = if cum & 0x0080_0000 != 0 {
                    cum - 0x0100_0000
                } else {
                    cum
                };
                ReportBlock {
                    ssrc: u32_at(b, 0),
                    fraction_lost: b[4],
                    cumulative_lost: cum,
                    highest_seq: u32_at(b, 8),
                    jitter: u32_at(b, 12),
                    lsr: u32_at(b, 16),
                    dlsr: u32_at(b, 20),
                }
            })
            .collect(),
    )
}

fn xr_blocks(mut d: &[u8]) -> Vec<VoipMetrics> {
    let mut out = Vec::new();
    while d.len() >= 4 {
        let bt = d[0];
        let len = 4 + 4 * usize::from(u16_at(d, 2));
        if len > d.len() {
            break;
        }
        if bt == 7 && len >= 36 {
            let b = &d[4..len];
            out.push(VoipMetrics {
                ssrc: u32_at(b, 0),
                loss_rate: b[4],
                discard_rate: b[5],
                burst_density: b[6],
                gap_density: b[7],
                burst_duration_ms: u16_at(b, 8),
                gap_duration_ms: u16_at(b, 10),
                round_trip_ms: u16_at(b, 12),
                end_system_delay_ms: u16_at(b, 14),
                r_factor: b[20],
                mos_lq: b[22],
                mos_cq: b[23],
                jb_nominal_ms: u16_at(b, 26),
                jb_max_ms: u16_at(b, 28),
            });
        }
        d = &d[len..];
    }
    out
}

/// Parses a compound RTCP datagram (RFC 3550 §6.1, validity checks of Appendix A.2: version 2,
/// a known packet type first, lengths that add up to the datagram). None if it is not RTCP.
pub fn parse(d: &[u8]) -> Option<Vec<RtcpPacket>> {
    if d.len() < 8 || d[0] >> 6 != 2 || !(200..=207).contains(&d[1]) {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = d;
    while !rest.is_empty() {
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return None;
        }
        let count = usize::from(rest[0] & 0x1f);
        let pt = rest[1];
        let len = 4 + 4 * usize::from(u16_at(rest, 2));
        if len > rest.len() {
            return None;
        }
        let mut body = &rest[4..len];
        // Padding (only legal on the last packet) is dropped from the body.
        if rest[0] & 0x20 != 0 && len == rest.len() {
            let pad = usize::from(*body.last()?);
            body = body.get(..body.len().checked_sub(pad)?)?;
        }
        out.push(match pt {
            200 if body.len() >= 24 => RtcpPacket::Sr {
                ssrc: u32_at(body, 0),
                ntp_middle: (u32_at(body, 4) << 16) | (u32_at(body, 8) >> 16),
                packets: u32_at(body, 16),
                octets: u32_at(body, 20),
                blocks: blocks(&body[24..], count)?,
            },
            201 if body.len() >= 4 => RtcpPacket::Rr {
                ssrc: u32_at(body, 0),
                blocks: blocks(&body[4..], count)?,
            },
            207 if body.len() >= 4 => RtcpPacket::Xr {
                ssrc: u32_at(body, 0),
                voip: xr_blocks(&body[4..]),
            },
            200 | 201 | 207 => return None,
            other => RtcpPacket::Other(other),
        });
        rest = &rest[len..];
    }
    Some(out)
}

/// One RTCP datagram as captured (a compound packet, RFC 3550 §6.1, that [`parse`] accepted), for
/// a sink that forwards every report (the HEP agent's type 5). Made only when asked for
/// (`MediaConfig::rtcp_packets`); at most one per frame, so a batch carries at most its frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtcpSeen {
    /// The frame it came in (its place in capture order).
    pub frame: u64,
    pub ts: Ts,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The UDP payload: a slice of the batch's bytes, not a copy.
    pub raw: Bytes,
    /// The call its media belongs to, as the session's media index says when it passes.
    pub call_id: Option<String>,
}

/// What RTCP said about one stream (the stream's SSRC), summed over its reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RtcpReport {
    /// Reception report blocks about the stream.
    pub reports: u64,
    /// Sender reports the stream's sender sent, and the packet count in its last one.
    pub sender_reports: u64,
    pub sender_packets: Option<u32>,
    /// Fraction lost (%) of the last report and the largest seen.
    pub fraction_lost_pct: Option<f64>,
    pub max_fraction_lost_pct: Option<f64>,
    pub cumulative_lost: Option<i32>,
    /// Interarrival jitter reported, in timestamp units (converted once the clock is known).
    #[serde(skip)]
    pub jitter_units_last: u32,
    #[serde(skip)]
    pub jitter_units_max: u32,
    pub jitter_ms: Option<f64>,
    pub max_jitter_ms: Option<f64>,
    /// Round trips at the capture point (LSR/DLSR), ms.
    pub rtt_samples: u64,
    pub rtt_mean_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    /// The last XR VoIP metrics block about the stream.
    pub xr: Option<VoipMetrics>,
}

impl RtcpReport {
    /// Converts the reported jitter with the stream's clock rate.
    pub fn resolve_clock(&mut self, clock: u32) {
        if clock == 0 || self.reports == 0 {
            return;
        }
        let ms = |u: u32| f64::from(u) * 1000.0 / f64::from(clock);
        self.jitter_ms = Some(ms(self.jitter_units_last));
        self.max_jitter_ms = Some(ms(self.jitter_units_max));
    }

    /// Half the mean round trip: the one-way delay the E-model uses when RTCP gives one.
    pub fn one_way_ms(&self) -> Option<f64> {
        self.rtt_mean_ms.map(|r| r / 2.0)
    }
}

/// Key of a report: the stream's SSRC and the unordered pair of hosts RTCP travels between
/// (the same two hosts as the stream), so relayed legs with one SSRC stay apart.
type ReportKey = (u32, IpAddr, IpAddr);

fn key(ssrc: u32, a: IpAddr, b: IpAddr) -> ReportKey {
    if a <= b {
        (ssrc, a, b)
    } else {
        (ssrc, b, a)
    }
}

/// Counters of RTCP handling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtcpStats {
    pub packets: u64,
    /// Reports dropped because the table of reported streams was full.
    pub evicted: u64,
}

/// RTCP state of one decode worker: reports per stream and the sender reports that LSR names.
#[derive(Default)]
pub struct RtcpTracker {
    reports: FxHashMap<ReportKey, (RtcpReport, Ts, f64)>,
    /// Capture time of each sender report, by (sender SSRC, NTP middle 32 bits).
    srs: FxHashMap<(u32, u32), Ts>,
    pub stats: RtcpStats,
}

const MAX_REPORTS: usize = 200_000;
const MAX_SRS: usize = 200_000;

impl RtcpTracker {
    pub fn packet(&mut self, ts: Ts, src: IpAddr, dst: IpAddr, packets: &[RtcpPacket]) {
        self.stats.packets += 1;
        for p in packets {
            let (reporter_blocks, xr) = match p {
                RtcpPacket::Sr {
                    ssrc,
                    ntp_middle,
                    packets,
                    blocks,
                    ..
                } => {
                    if self.srs.len() >= MAX_SRS {
                        self.srs.clear();
                    }
                    self.srs.insert((*ssrc, *ntp_middle), ts);
                    if let Some(r) = self.entry(key(*ssrc, src, dst), ts) {
                        r.sender_reports += 1;
                        r.sender_packets = Some(*packets);
                    }
                    (blocks.as_slice(), &[][..])
                }
                RtcpPacket::Rr { blocks, .. } => (blocks.as_slice(), &[][..]),
                RtcpPacket::Xr { voip, .. } => (&[][..], voip.as_slice()),
                RtcpPacket::Other(_) => continue,
            };
            for b in reporter_blocks {
                let sr_at = (b.lsr != 0)
                    .then(|| self.srs.get(&(b.ssrc, b.lsr)).copied())
                    .flatten();
                let Some(r) = self.entry(key(b.ssrc, src, dst), ts) else {
                    continue;
                };
                r.reports += 1;
                let frac = f64::from(b.fraction_lost) * 100.0 / 256.0;
                r.fraction_lost_pct = Some(frac);
                r.max_fraction_lost_pct =
                    Some(r.max_fraction_lost_pct.map_or(frac, |m| m.max(frac)));
                r.cumulative_lost = Some(b.cumulative_lost);
                r.jitter_units_last = b.jitter;
                r.jitter_units_max = r.jitter_units_max.max(b.jitter);
                if let Some(sr) = sr_at {
                    // DLSR is in 1/65536 s.
                    let dlsr: Nanos = (i64::from(b.dlsr) * 1_000_000_000) >> 16;
                    let rtt = ts.since(sr) - dlsr;
                    if rtt >= 0 {
                        let ms = rtt as f64 / NANOS_PER_MILLI as f64;
                        let n = r.rtt_samples as f64;
                        r.rtt_mean_ms = Some((r.rtt_mean_ms.unwrap_or(0.0) * n + ms) / (n + 1.0));
                        r.rtt_max_ms = Some(r.rtt_max_ms.map_or(ms, |m| m.max(ms)));
                        r.rtt_samples += 1;
                    }
                }
            }
            for x in xr {
                if let Some(r) = self.entry(key(x.ssrc, src, dst), ts) {
                    r.xr = Some(*x);
                }
            }
        }
    }

    fn entry(&mut self, k: ReportKey, ts: Ts) -> Option<&mut RtcpReport> {
        if !self.reports.contains_key(&k) && self.reports.len() >= MAX_REPORTS {
            self.stats.evicted += 1;
            return None;
        }
        let e = self
            .reports
            .entry(k)
            .or_insert_with(|| (RtcpReport::default(), ts, 0.0));
        e.1 = ts;
        Some(&mut e.0)
    }

    /// What RTCP reported about the stream `ssrc` between hosts `a` and `b`, if anything.
    pub fn report(&self, ssrc: u32, a: IpAddr, b: IpAddr) -> Option<RtcpReport> {
        self.reports.get(&key(ssrc, a, b)).map(|e| e.0.clone())
    }

    /// Forgets reports not updated for `idle` (their streams have ended).
    pub fn expire(&mut self, now: Ts, idle: Nanos) {
        self.reports.retain(|_, e| now.since(e.1) <= idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(ssrc: u32, about: u32, frac: u8, cum: i32, jitter: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
        let mut v = vec![0x81, 201, 0, 7];
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.extend_from_slice(&about.to_be_bytes());
        let c = (cum as u32) & 0x00ff_ffff;
        v.extend_from_slice(&((u32::from(frac) << 24) | c).to_be_bytes());
        v.extend_from_slice(&1000u32.to_be_bytes());
        v.extend_from_slice(&jitter.to_be_bytes());
        v.extend_from_slice(&lsr.to_be_bytes());
        v.extend_from_slice(&dlsr.to_be_bytes());
        v
    }

    fn sr(ssrc: u32, ntp_hi: u32, ntp_lo: u32) -> Vec<u8> {
        let mut v = vec![0x80, 200, 0, 6];
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.extend_from_slice(&ntp_hi.to_be_bytes());
        v.extend_from_slice(&ntp_lo.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1]); // RTP timestamp
        v.extend_from_slice(&50u32.to_be_bytes()); // packets
        v.extend_from_slice(&8000u32.to_be_bytes()); // octets
        v
    }

    #[test]
    fn compound_packets_and_fields() {
        let mut d = rr(1, 2, 64, -3, 80, 0, 0);
        // An SDES chunk after it: SSRC, CNAME "ab", end, padded to a word.
        d.extend_from_slice(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']);
        let p = parse(&d).unwrap();
        assert_eq!(p.len(), 2);
        let RtcpPacket::Rr { ssrc, blocks } = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(*ssrc, 1);
        assert_eq!(
            blocks[0],
            ReportBlock {
                ssrc: 2,
                fraction_lost: 64,
                cumulative_lost: -3,
                highest_seq: 1000,
                jitter: 80,
                lsr: 0,
                dlsr: 0
            }
        );
        assert_eq!(p[1], RtcpPacket::Other(202));
        // Not RTCP: RTP, a bad length, truncation.
        assert!(parse(&[0x80, 0, 0, 1, 0, 0, 0, 0]).is_none());
        let mut bad = rr(1, 2, 0, 0, 0, 0, 0);
        bad[3] = 9;
        assert!(parse(&bad).is_none());
        assert!(parse(&rr(1, 2, 0, 0, 0, 0, 0)[..20]).is_none());
    }

    #[test]
    fn round_trip_from_lsr_and_dlsr() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut t = RtcpTracker::default();
        // A's SR at t = 10 s; B reports 250 ms later, having held it 200 ms (DLSR 0.2·65536).
        let srp = parse(&sr(0xaa, 0x0001_0002, 0x0003_0004)).unwrap();
        t.packet(Ts(10_000_000_000), a, b, &srp);
        let lsr = 0x0002_0003;
        let rrp = parse(&rr(0xbb, 0xaa, 26, 5, 160, lsr, 13_107)).unwrap();
        t.packet(Ts(10_250_000_000), b, a, &rrp);
        let mut r = t.report(0xaa, a, b).unwrap();
        assert_eq!(
            (r.reports, r.sender_reports, r.sender_packets),
            (1, 1, Some(50))
        );
        let rtt = r.rtt_mean_ms.unwrap();
        // 250 ms − 13107/65536 s (199.997 ms) = 50.003 ms.
        assert!((rtt - 50.003).abs() < 0.01, "{rtt}");
        assert_eq!(r.cumulative_lost, Some(5));
        assert!((r.fraction_lost_pct.unwrap() - 10.156).abs() < 0.001);
        r.resolve_clock(8000);
        assert_eq!(r.jitter_ms, Some(20.0));
        assert_eq!(r.one_way_ms(), Some(rtt / 2.0));
        // The same SSRC between other hosts is another stream.
        assert!(t.report(0xaa, a, "192.0.2.3".parse().unwrap()).is_none());
    }

    #[test]
    fn xr_voip_metrics_block() {
        let mut v = vec![0x80, 207, 0, 10];
        v.extend_from_slice(&7u32.to_be_bytes());
        v.extend_from_slice(&[7, 0, 0, 8]);
        v.extend_from_slice(&9u32.to_be_bytes());
        v.extend_from_slice(&[13, 0, 5, 6, 0, 40, 1, 0, 0, 120, 0, 30]);
        v.extend_from_slice(&[0, 0, 0, 0, 88, 127, 41, 38, 0, 0, 0, 60, 0, 120, 0, 200]);
        let p = parse(&v).unwrap();
        let RtcpPacket::Xr { voip, .. } = &p[0] else {
            panic!()
        };
        let m = voip[0];
        assert_eq!(
            (m.ssrc, m.loss_rate, m.burst_duration_ms, m.round_trip_ms),
            (9, 13, 40, 120)
        );
        assert_eq!((m.r_factor, m.mos_lq, m.mos_cq), (88, 41, 38));
        assert_eq!((m.jb_nominal_ms, m.jb_max_ms), (60, 120));
    }
}
