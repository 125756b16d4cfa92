//! The media tracker: RTP and RTCP streams, beside reassembly (UDP that is not SIP leaves the
//! reassembler and comes here), with their idle expiry and their progress reports.
//!
//! Bounded by [`RtpTracker`]'s stream table, and the RTCP datagrams kept for a sink (when asked
//! for) by the frames of one batch: the caller takes them after each. Time is capture time,
//! passed in. Streams end [`RTP_IDLE`] after their last packet, checked at most once a second of
//! capture time at the batch watermark, so when a stream ends depends on capture time only, not
//! on sharding.

use std::net::SocketAddr;

use crate::analysis::rtcp::RtcpSeen;
use crate::analysis::rtp::{LiveStream, RtpHeader, RtpTracker, StreamStats};
use crate::decode::Packet;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// An RTP stream with no packet for this long (capture time) is finished.
pub const RTP_IDLE: Nanos = 60 * NANOS_PER_SEC;

#[derive(Clone, Debug, Default)]
pub struct MediaConfig {
    /// Analyse RTP streams in UDP that is not SIP (costs a lookup per media packet).
    pub track_rtp: bool,
    /// With `track_rtp`: keep each stream's figures per interval of this length.
    pub rtp_series: Option<Nanos>,
    /// With `track_rtp`: report the streams still flowing every interval of this length.
    pub rtp_progress: Option<Nanos>,
    /// Keep every RTCP datagram as it passes ([`MediaTracker::take_rtcp`]), for a sink that
    /// forwards each report; with `track_rtp` off, RTCP is then still recognised (RTP is not).
    pub rtcp_packets: bool,
}

pub struct MediaTracker {
    cfg: MediaConfig,
    pub rtp: RtpTracker,
    last_sweep: Ts,
    last_progress: Ts,
    rtcp_seen: Vec<RtcpSeen>,
}

impl MediaTracker {
    pub fn new(cfg: MediaConfig) -> MediaTracker {
        let mut rtp = RtpTracker::default();
        rtp.series = cfg.rtp_series;
        MediaTracker {
            cfg,
            rtp,
            last_sweep: Ts::ZERO,
            last_progress: Ts::ZERO,
            rtcp_seen: Vec::new(),
        }
    }

    /// One UDP packet that was not SIP (from frame `frame`): RTP, RTCP, or neither.
    pub fn packet(&mut self, p: &Packet, frame: u64) {
        if !self.cfg.track_rtp && !self.cfg.rtcp_packets {
            return;
        }
        let src = SocketAddr::new(p.src, p.sport);
        let dst = SocketAddr::new(p.dst, p.dport);
        if let Some(h) = RtpHeader::parse(&p.payload) {
            if self.cfg.track_rtp {
                self.rtp.packet(p.ts, src, dst, &h, &p.payload);
            }
        } else if let Some(r) = crate::analysis::rtcp::parse(&p.payload) {
            if self.cfg.track_rtp {
                self.rtp.rtcp_packet(p.ts, src, dst, &r);
            }
            if self.cfg.rtcp_packets {
                self.rtcp_seen.push(RtcpSeen {
                    frame,
                    ts: p.ts,
                    src,
                    dst,
                    raw: p.payload.clone(),
                    call_id: None,
                });
            }
        }
    }

    /// The RTCP datagrams seen since the last call (with `rtcp_packets`), in capture order.
    pub fn take_rtcp(&mut self) -> Vec<RtcpSeen> {
        std::mem::take(&mut self.rtcp_seen)
    }

    /// Finishes streams idle at `now`, at most once a second of capture time.
    pub fn expire(&mut self, now: Ts) {
        if self.cfg.track_rtp && now.since(self.last_sweep) >= NANOS_PER_SEC {
            self.last_sweep = now;
            self.rtp.expire(now, RTP_IDLE);
        }
    }

    /// Every `rtp_progress` of capture time: the streams that had a packet since the last
    /// report (the boundaries are multiples of the period, the same for every shard).
    pub fn progress(&mut self, now: Ts) -> Vec<LiveStream> {
        let Some(p) = self.cfg.rtp_progress.filter(|_| self.cfg.track_rtp) else {
            return Vec::new();
        };
        let p = p.max(1);
        if now.0.div_euclid(p) == self.last_progress.0.div_euclid(p) {
            return Vec::new();
        }
        let since = self.last_progress;
        self.last_progress = now;
        self.rtp.live_since(since)
    }

    /// Streams finished since the last call.
    pub fn take_done(&mut self) -> Vec<StreamStats> {
        self.rtp.take_done()
    }

    /// End of input: every stream still open.
    pub fn finish(&mut self) -> Vec<StreamStats> {
        self.rtp.finish()
    }
}
