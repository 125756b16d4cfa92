//! The media detectors, from the SDP each side announced and the RTP streams tied to the call:
//! no-rtp and one-way-audio (judged mid-call from the live streams, else when the call closes
//! and its streams are in), rtp-stopped (a gap or an end well before the BYE) and missing-bye
//! (media gone for good, no BYE). At most 16 media lines and 16 streams per call.

use std::net::SocketAddr;

use super::{ns, secs, Engine, Severity};
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallKind, CallRecord, Outcome};
use crate::correlate::MediaInfo;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// A closed call waiting for its streams before the media checks.
#[derive(Debug)]
pub(super) struct Settle {
    due: Ts,
    call_id: String,
    answered: bool,
    /// When the 2xx came (from the watch, else from the record's talk time).
    answer_at: Ts,
    talk: f64,
    bye: Option<Ts>,
    rtp_stopped: bool,
    /// An SDP of the call put media on hold.
    on_hold: bool,
    /// no-rtp and one-way-audio were already judged while the call was up.
    media_checked: bool,
}

/// How long after a call's last message its streams may still arrive: RTP idle (60 s) plus the
/// workers' one-second sweep, with a second to spare.
const SETTLE: Nanos = 62 * NANOS_PER_SEC;

/// Progress reports of live streams come every 5 s of capture time; a call is judged this long
/// after its `media_after_s` mark, when every stream that began by then has been reported.
pub const MEDIA_DECIDE: Nanos = 10 * NANOS_PER_SEC;
/// The period of those reports.
pub const MEDIA_PROGRESS: Nanos = 5 * NANOS_PER_SEC;
/// Answered calls with SDP and no RTP, in a capture that has carried no RTP at all, after which
/// that is said once (a signalling-only capture would otherwise raise no-rtp for every call).
pub const NO_MEDIA_CALLS: u64 = 10;

#[derive(Clone, Debug)]
pub(super) struct StreamBrief {
    dst: SocketAddr,
    last: Ts,
}

impl Engine {
    /// An SDP media line: where one side of a call wants its RTP.
    pub fn on_media(&mut self, m: &MediaInfo) {
        if m.held {
            if let Some(w) = self.calls.get_mut(&m.call_id) {
                w.on_hold = true;
            }
        }
        if m.addr.port() == 0 || m.addr.ip().is_unspecified() {
            return;
        }
        self.nat_sdp(m);
        let v = self.media.entry(m.call_id.clone()).or_default();
        if v.len() < 16 && !v.contains(&(m.addr, m.announced_by)) {
            v.push((m.addr, m.announced_by));
        }
    }

    /// RTP is flowing somewhere in the capture (a stream of any call, or of none): from now on
    /// a call without RTP is a call whose media did not flow, not a capture that cannot show it.
    pub fn media_flowing(&mut self) {
        self.rtp_seen = true;
    }

    /// End of input: a capture that never carried RTP says once, with the count, what it could
    /// not judge (fewer than [`NO_MEDIA_CALLS`] such calls are said here, not on the way).
    pub fn media_end(&mut self, now: Ts) {
        if self.no_media > 0 && !self.no_media_said && !self.rtp_seen {
            self.no_media_said = true;
            self.no_media_alert(now);
        }
    }

    fn no_media_alert(&mut self, at: Ts) {
        let n = self.no_media;
        self.raise(
            "no-rtp",
            Severity::Warning,
            at,
            None,
            None,
            format!(
                "{n} answered call{} offered media and the capture holds no RTP at all so far: \
                 no-rtp is not judged per call until RTP is seen",
                if n == 1 { "" } else { "s" }
            ),
            None,
            "a signalling-only capture (a SIP-only filter, an SBC trace, HEP of SIP) cannot show \
             media; if RTP was captured too, media is blocked for every call: check firewall and NAT",
        );
    }

    /// A stream still flowing, tied to its call: what mid-call media checks go by.
    pub fn on_live_stream(&mut self, call_id: &str, dst: SocketAddr, last: Ts) {
        self.rtp_seen = true;
        if !self.calls.contains_key(call_id) {
            return;
        }
        let v = self.streams.entry(call_id.to_string()).or_default();
        if let Some(s) = v.iter_mut().find(|s| s.dst == dst) {
            s.last = s.last.max(last);
        } else if v.len() < 16 {
            v.push(StreamBrief { dst, last });
        }
    }

    /// Mid-call media checks: an answered call that has talked `media_after_s` is judged once
    /// the progress reports that could show its RTP are in (`MEDIA_DECIDE` later). Run it only
    /// after a batch's outputs are all taken in (on ticks), so the result is the same live and
    /// on replay.
    pub fn decide_media(&mut self, now: Ts) {
        self.media_gone(now);
        let after = ns(self.cfg.media_after_s);
        let mut due: Vec<(String, Ts)> = self
            .calls
            .iter()
            .filter(|(_, w)| !w.media_checked && !w.bye)
            .filter_map(|(c, w)| w.answered.map(|a| (c.clone(), a)))
            .filter(|(_, a)| now.since(*a) >= after + MEDIA_DECIDE)
            .collect();
        // The map's order changes from run to run: judge in the order the alerts are dated.
        due.sort_by(|(c, a), (d, b)| (a, c).cmp(&(b, d)));
        for (cid, a) in due {
            if let Some(w) = self.calls.get_mut(&cid) {
                w.media_checked = true;
            }
            let media = self.media.get(&cid).cloned().unwrap_or_default();
            if media.is_empty() {
                continue;
            }
            let streams = self.streams.get(&cid).cloned().unwrap_or_default();
            let talk = secs(now.since(a));
            self.direction_check(&cid, a.saturating_add(after), talk, &media, &streams);
        }
    }

    /// A finished RTP stream, tied to its call (or not).
    pub fn on_stream(&mut self, s: &StreamStats) {
        self.rtp_seen = true;
        self.poor_quality(s);
        let Some(cid) = s.call_id.clone() else { return };
        // A pause inside the stream while the dialog was up (and not put on hold by its SDP).
        if s.max_delta_ms > self.cfg.rtp_gap_s * 1000.0 {
            let w = self.calls.get(&cid);
            let explained = w.is_some_and(|w| w.has("rtp-stopped") || w.on_hold);
            if !explained {
                if let Some(w) = self.calls.get_mut(&cid) {
                    w.fired.push(("rtp-stopped", false));
                }
                self.raise(
                    "rtp-stopped",
                    Severity::Warning,
                    s.last,
                    Some(&cid),
                    Some(format!("{} -> {}", s.src, s.dst)),
                    format!(
                        "RTP {:#010x} paused {:.1} s mid-stream",
                        s.ssrc,
                        s.max_delta_ms / 1000.0
                    ),
                    None,
                    "media stopped while the call was up: hold without SDP, a media server or NAT timeout",
                );
            }
        }
        let v = self.streams.entry(cid.clone()).or_default();
        if v.len() < 16 {
            v.push(StreamBrief {
                dst: s.dst,
                last: s.last,
            });
        }
    }

    /// Media gone for good while the call is up and no BYE: every stream of an answered call
    /// silent for `media_gone_s` (judged on ticks, so any `media_gone_s` works, longer than
    /// the streams' own 60 s idle end too).
    fn media_gone(&mut self, now: Ts) {
        let gone = ns(self.cfg.media_gone_s);
        let mut hung: Vec<(Ts, String)> = self
            .calls
            .iter()
            .filter(|(_, w)| w.answered.is_some() && !w.bye && !w.has("missing-bye"))
            .filter_map(|(c, _)| {
                let last = self.streams.get(c)?.iter().map(|s| s.last).max()?;
                (now.since(last) >= gone).then(|| (last.saturating_add(gone), c.clone()))
            })
            .collect();
        // The map's order changes from run to run: raise in the order the alerts are dated.
        hung.sort();
        for (at, cid) in hung {
            if let Some(w) = self.calls.get_mut(&cid) {
                w.fired.push(("missing-bye", true));
            }
            self.raise(
                "missing-bye",
                Severity::Warning,
                at,
                Some(&cid),
                None,
                format!(
                    "answered call, media stopped {:.0} s ago, no BYE",
                    self.cfg.media_gone_s
                ),
                None,
                "the BYE was lost or never sent: the call may still be billed and hold a channel",
            );
        }
    }

    /// A call closed (its record): the media checks that need the whole call, then forget it.
    pub fn on_call(&mut self, c: &CallRecord) {
        let w = self.calls.remove(&c.call_id);
        // A call closes 32 s after it ends, its streams 60 s after their last packet: the media
        // checks wait until the streams are in (or the input ends).
        self.settling.push_back(Settle {
            due: c.end.saturating_add(SETTLE),
            call_id: c.call_id.clone(),
            answered: c.kind == CallKind::Invite && c.outcome == Some(Outcome::Answered),
            // The same instant the mid-call check uses, so both give the same alert time.
            answer_at: w.as_ref().and_then(|w| w.answered).unwrap_or_else(|| {
                Ts::from_secs_f64(c.end.secs_f64() - c.talk_time.unwrap_or(0.0))
            }),
            talk: c.talk_time.unwrap_or(0.0),
            bye: c.detail.as_ref().and_then(|d| d.bye),
            rtp_stopped: w.as_ref().is_some_and(|w| w.has("rtp-stopped")),
            on_hold: w.as_ref().is_some_and(|w| w.on_hold),
            media_checked: w.as_ref().is_some_and(|w| w.media_checked),
        });
    }

    /// Runs the media checks of the closed calls whose streams are all in by `now` (all of them
    /// when `all`); returns their Call-IDs.
    pub fn settle(&mut self, now: Ts, all: bool) -> Vec<String> {
        let mut done = Vec::new();
        while let Some(s) = self.settling.front() {
            if !all && s.due > now {
                break;
            }
            let s = self.settling.pop_front().expect("front");
            self.media_checks(&s);
            done.push(s.call_id);
        }
        done
    }

    /// no-rtp and one-way-audio: with SDP from both sides, RTP reached neither or only one.
    fn direction_check(
        &mut self,
        call_id: &str,
        at: Ts,
        talk: f64,
        media: &[(SocketAddr, SocketAddr)],
        streams: &[StreamBrief],
    ) {
        // Each media address belongs to whoever announced it first: through a proxy the same
        // SDP is announced again by the proxy on the next hop, which is not another side.
        let mut owner: Vec<(SocketAddr, SocketAddr)> = Vec::new();
        for (addr, by) in media {
            if !owner.iter().any(|(a, _)| a == addr) {
                owner.push((*addr, *by));
            }
        }
        let sides: Vec<SocketAddr> = {
            let mut v: Vec<SocketAddr> = owner.iter().map(|(_, by)| *by).collect();
            v.sort();
            v.dedup();
            v
        };
        if streams.is_empty() && !self.rtp_seen {
            // Nothing to tell a call whose media did not flow from a capture without media:
            // counted, and said once for the capture.
            self.no_media += 1;
            if self.no_media >= NO_MEDIA_CALLS && !self.no_media_said {
                self.no_media_said = true;
                self.no_media_alert(at);
            }
            return;
        }
        if streams.is_empty() {
            self.raise(
                "no-rtp",
                Severity::Critical,
                at,
                Some(call_id),
                None,
                format!(
                    "answered, {talk:.1} s of talk, SDP offered media at {} and no RTP was seen",
                    media
                        .iter()
                        .map(|(a, _)| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
                "media never flowed: firewall, NAT (private address in SDP) or a codec mismatch",
            );
            return;
        }
        // One-way: both sides announced where they want RTP, and only one of them got any.
        if sides.len() >= 2 {
            let got: Vec<SocketAddr> = sides
                .iter()
                .filter(|side| {
                    owner
                        .iter()
                        .filter(|(_, by)| by == *side)
                        .any(|(addr, _)| streams.iter().any(|s| s.dst == *addr))
                })
                .copied()
                .collect();
            if got.len() == 1 {
                let deaf: Vec<String> = sides
                    .iter()
                    .filter(|s| !got.contains(s))
                    .map(|s| s.to_string())
                    .collect();
                self.raise(
                    "one-way-audio",
                    Severity::Critical,
                    at,
                    Some(call_id),
                    None,
                    format!(
                        "answered, {talk:.1} s of talk, RTP reached {} but none reached {}",
                        got[0],
                        deaf.join(", ")
                    ),
                    None,
                    "one direction is blocked: NAT, a firewall pinhole, or a wrong c= address in SDP",
                );
            }
        }
    }

    fn media_checks(&mut self, c: &Settle) {
        let media = self.media.remove(&c.call_id).unwrap_or_default();
        let streams = self.streams.remove(&c.call_id).unwrap_or_default();
        if !c.answered {
            return;
        }
        let talk = c.talk;
        if talk < self.cfg.media_after_s || media.is_empty() {
            return;
        }
        let at = c.answer_at.saturating_add(ns(self.cfg.media_after_s));
        if !c.media_checked {
            self.direction_check(&c.call_id, at, talk, &media, &streams);
        }
        // A stream that stopped well before the BYE, the dialog still up.
        if let (Some(bye), false) = (c.bye, c.rtp_stopped || c.on_hold) {
            let gap = ns(self.cfg.rtp_gap_s);
            if let Some(s) = streams
                .iter()
                .filter(|s| bye.since(s.last) > gap)
                .min_by_key(|s| s.last)
            {
                self.raise(
                    "rtp-stopped",
                    Severity::Warning,
                    s.last.saturating_add(gap),
                    Some(&c.call_id),
                    Some(s.dst.to_string()),
                    format!(
                        "RTP to {} stopped {:.1} s before the BYE",
                        s.dst,
                        secs(bye.since(s.last))
                    ),
                    None,
                    "media stopped while the call was up: hold without SDP, a media server or NAT timeout",
                );
            }
        }
    }
}
