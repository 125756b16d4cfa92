//! Jitter buffers simulated on a stream's arrivals (METRICS.md, MOS: "jitter becomes loss
//! through a jitter buffer"). A packet that arrives after its playout time is discarded by the
//! receiver as surely as if the network had lost it, so each buffer's late packets are added to
//! the network loss and the stream is scored again with the buffer's delay.
//!
//! Both buffers work in constant space on one number per packet, its relative transit time
//! n = arrival − media time (ms, media time from the RTP timestamps):
//! - **fixed**: playout is [`FIXED_MS`] after the arrival of the first packet of each talkspurt
//!   (the stream's first packet, then every marker bit); a packet is late when its n exceeds the
//!   talkspurt's anchor by more than the buffer.
//! - **adaptive**: Ramjee, Kurose, Towsley and Schulzrinne's algorithm 1 (IEEE INFOCOM 1994):
//!   running estimates d̂ ← α·d̂ + (1−α)·n and v̂ ← α·v̂ + (1−α)·|d̂ − n| with α = 0.998002; the
//!   playout point d̂ + 4·v̂ is set at each talkspurt, and every second of media for streams sent
//!   without silence suppression (no marker bits). The margin 4·v̂ is held between
//!   [`ADAPTIVE_MIN_MS`] and [`ADAPTIVE_MAX_MS`], as real buffers bound theirs.
//!
//! A jump of more than [`RESYNC_MS`] in n is a timestamp discontinuity (a new source behind the
//! same SSRC, a restarted clock): both buffers re-anchor there instead of calling every packet
//! late. A smaller lasting shift (a sender that paused without advancing its timestamps) makes a
//! run of late packets: after [`RESYNC_AFTER`] in a row a buffer re-anchors on the new delay,
//! as real receivers resynchronise, rather than discard the rest of the call.

/// The fixed buffer's depth.
pub const FIXED_MS: f64 = 50.0;
pub const ADAPTIVE_MIN_MS: f64 = 20.0;
pub const ADAPTIVE_MAX_MS: f64 = 300.0;
pub const RESYNC_MS: f64 = 5_000.0;
/// Consecutive late packets after which a buffer re-anchors (200 ms of 20 ms packets).
pub const RESYNC_AFTER: u32 = 10;
const ALPHA: f64 = 0.998_002;
/// Media time between re-adjustments of the adaptive buffer when no talkspurt starts.
const ADJUST_EVERY_MS: f64 = 1_000.0;

#[derive(Clone, Debug, Default)]
pub struct Playout {
    started: bool,
    prev_ts: u32,
    /// Media time of the last packet, ms since the first.
    media_ms: f64,
    fixed_anchor: f64,
    pub fixed_late: u64,
    fixed_run: u32,
    d_hat: f64,
    v_hat: f64,
    /// The adaptive buffer's playout point, as a relative transit time.
    point: f64,
    margin: f64,
    last_adjust: f64,
    margin_sum: f64,
    adjustments: u64,
    pub adaptive_late: u64,
    adaptive_run: u32,
    pub packets: u64,
}

impl Playout {
    /// One packet: arrival time (ms), RTP timestamp, marker bit, clock rate (Hz, non-zero).
    pub fn packet(&mut self, arrival_ms: f64, rtp_ts: u32, marker: bool, clock: u32) {
        let per_ms = f64::from(clock.max(1)) / 1000.0;
        if self.started {
            self.media_ms += f64::from(rtp_ts.wrapping_sub(self.prev_ts) as i32) / per_ms;
        }
        self.prev_ts = rtp_ts;
        let n = arrival_ms - self.media_ms;
        self.packets += 1;
        let discontinuity = self.started && (n - self.d_hat).abs() > RESYNC_MS;
        if !self.started || discontinuity {
            self.started = true;
            self.fixed_anchor = n;
            self.d_hat = n;
            self.v_hat = 0.0;
            self.adjust();
            return;
        }
        // Fixed: re-anchored at each talkspurt.
        if marker {
            self.fixed_anchor = n;
            self.fixed_run = 0;
        } else if n - self.fixed_anchor > FIXED_MS {
            self.fixed_late += 1;
            self.fixed_run += 1;
            if self.fixed_run >= RESYNC_AFTER {
                self.fixed_anchor = n;
                self.fixed_run = 0;
            }
        } else {
            self.fixed_run = 0;
        }
        // Adaptive: judged against the point set before this packet, then the estimates move.
        let late = !marker && n > self.point;
        if late {
            self.adaptive_late += 1;
            self.adaptive_run += 1;
        } else {
            self.adaptive_run = 0;
        }
        self.d_hat = ALPHA * self.d_hat + (1.0 - ALPHA) * n;
        self.v_hat = ALPHA * self.v_hat + (1.0 - ALPHA) * (self.d_hat - n).abs();
        if self.adaptive_run >= RESYNC_AFTER {
            self.d_hat = n;
            self.adaptive_run = 0;
            self.adjust();
        } else if marker || self.media_ms - self.last_adjust >= ADJUST_EVERY_MS {
            self.adjust();
        }
    }

    fn adjust(&mut self) {
        self.margin = (4.0 * self.v_hat).clamp(ADAPTIVE_MIN_MS, ADAPTIVE_MAX_MS);
        self.point = self.d_hat + self.margin;
        self.last_adjust = self.media_ms;
        self.margin_sum += self.margin;
        self.adjustments += 1;
    }

    /// The adaptive buffer's mean margin over its adjustments: the delay it added, in ms.
    pub fn adaptive_delay_ms(&self) -> Option<f64> {
        (self.adjustments > 0).then(|| self.margin_sum / self.adjustments as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms G.711 packets (160 timestamp units at 8 kHz) arriving with the given extra delays.
    fn run(delays_ms: &[f64], markers: &[usize]) -> Playout {
        let mut p = Playout::default();
        for (i, d) in delays_ms.iter().enumerate() {
            let arrival = 1_000.0 + 20.0 * i as f64 + d;
            p.packet(arrival, 160 * i as u32, markers.contains(&i), 8000);
        }
        p
    }

    #[test]
    fn steady_stream_has_no_late_packets() {
        let p = run(&[0.0; 500], &[]);
        assert_eq!((p.fixed_late, p.adaptive_late, p.packets), (0, 0, 500));
        // No variation: the adaptive margin stays at its floor.
        assert_eq!(p.adaptive_delay_ms(), Some(ADAPTIVE_MIN_MS));
    }

    #[test]
    fn fixed_buffer_drops_what_is_later_than_its_depth() {
        // Packet 10 is 60 ms late, packet 20 is 40 ms late: only the first exceeds 50 ms.
        let mut d = vec![0.0; 100];
        d[10] = 60.0;
        d[20] = 40.0;
        let p = run(&d, &[]);
        assert_eq!(p.fixed_late, 1);
        // The adaptive buffer still sits at its 20 ms floor: both spikes are late for it.
        assert_eq!(p.adaptive_late, 2);
    }

    #[test]
    fn a_talkspurt_re_anchors_the_fixed_buffer() {
        // From packet 50 on, every packet is 80 ms later (a route change at a talkspurt start).
        // Without the marker bit the buffer discards a resync run before it catches up.
        let d: Vec<f64> = (0..100).map(|i| if i >= 50 { 80.0 } else { 0.0 }).collect();
        assert_eq!(run(&d, &[]).fixed_late, u64::from(RESYNC_AFTER));
        assert_eq!(run(&d, &[50]).fixed_late, 0);
    }

    #[test]
    fn adaptive_buffer_grows_with_jitter() {
        // Alternating 0/30 ms for 30 s: v̂ settles near 15 ms, so the margin 4·v̂ reaches its
        // 60 ms region and late packets stop once it has grown past 30 ms.
        let d: Vec<f64> = (0..1500)
            .map(|i| if i % 2 == 0 { 0.0 } else { 30.0 })
            .collect();
        let p = run(&d, &[]);
        let delay = p.adaptive_delay_ms().unwrap();
        assert!(delay > 30.0 && delay < 70.0, "{delay}");
        let mut late_tail = Playout::default();
        for (i, x) in d.iter().enumerate() {
            late_tail.packet(1_000.0 + 20.0 * i as f64 + x, 160 * i as u32, false, 8000);
            if i == 999 {
                late_tail.adaptive_late = 0;
            }
        }
        assert_eq!(late_tail.adaptive_late, 0, "late once adapted");
        assert_eq!(p.fixed_late, 0, "30 ms fits a 50 ms buffer");
    }

    #[test]
    fn a_lasting_shift_costs_one_resync_run() {
        // From packet 100 on, everything is 400 ms later and stays so (no marker bit).
        let d: Vec<f64> = (0..300)
            .map(|i| if i >= 100 { 400.0 } else { 0.0 })
            .collect();
        let p = run(&d, &[]);
        assert_eq!(p.fixed_late, u64::from(RESYNC_AFTER));
        assert_eq!(p.adaptive_late, u64::from(RESYNC_AFTER));
    }

    #[test]
    fn discontinuity_re_anchors_instead_of_dropping_everything() {
        let mut p = Playout::default();
        for i in 0..100u32 {
            // The RTP clock restarts at packet 50 while arrivals go on.
            let ts = if i < 50 {
                160 * i
            } else {
                160 * (i - 50) + 7_000_000
            };
            p.packet(20.0 * f64::from(i), ts, false, 8000);
        }
        assert_eq!((p.fixed_late, p.adaptive_late), (0, 0));
    }
}
