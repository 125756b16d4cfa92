//! RTP sequence accounting in constant space: duplicates, late packets, forward jumps, and the
//! runs of missing packets that give the G.113 burst ratio.
//!
//! A window remembers which of the last [`SEQ_WINDOW`] sequence numbers arrived. Numbers are
//! settled as received or missing when they leave it, so a packet arriving late but inside the
//! window fills its gap instead of counting as loss.

/// How far back (in sequence numbers) a stream remembers which packets it received.
pub const SEQ_WINDOW: u16 = 64;

/// The received/missing record of sequence numbers that have left the window.
#[derive(Clone, Copy, Debug, Default)]
struct Settled {
    received: u64,
    missing: u64,
    /// received → missing transitions: loss runs.
    runs: u64,
    in_loss: bool,
}

impl Settled {
    fn push(&mut self, received: bool, n: u64) {
        if n == 0 {
            return;
        }
        if received {
            self.received += n;
        } else {
            self.runs += !self.in_loss as u64;
            self.missing += n;
        }
        self.in_loss = !received;
    }

    /// BurstR = 1/(p + q), p = P(received → missing), q = P(missing → received): ITU-T G.113
    /// Appendix I, from the two-state Markov model of the loss. Each run is one entry into and
    /// one exit from the missing state, so p = runs/received and q = runs/missing (the mean
    /// loss run is 1/q). 1 for random loss, and without loss.
    fn burst_ratio(&self) -> f64 {
        if self.missing == 0 || self.received == 0 {
            return 1.0;
        }
        let p = self.runs as f64 / self.received as f64;
        let q = self.runs as f64 / self.missing as f64;
        1.0 / (p + q)
    }
}

/// What a stream's sequence numbers showed, once it ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeqFigures {
    pub duplicates: u64,
    pub out_of_order: u64,
    pub jumps: u64,
    pub loss_runs: u64,
    pub burst_ratio: f64,
}

#[derive(Clone, Debug)]
pub struct SeqWindow {
    /// Highest sequence number received.
    high: u16,
    /// Bit i: `high − i` was received.
    seen: u64,
    /// Window positions that hold numbers of this stream (fewer than 64 at its start).
    span: u32,
    settled: Settled,
    duplicates: u64,
    out_of_order: u64,
    jumps: u64,
}

impl SeqWindow {
    /// A window opened by the stream's first packet.
    pub fn new(first: u16) -> SeqWindow {
        SeqWindow {
            high: first,
            seen: 1,
            span: 1,
            settled: Settled::default(),
            duplicates: 0,
            out_of_order: 0,
            jumps: 0,
        }
    }

    /// Judges a packet against the highest sequence number so far (16-bit serial arithmetic,
    /// so a wrap is a step forward). A packet more than [`SEQ_WINDOW`] behind cannot be told
    /// from a duplicate and counts as late.
    pub fn packet(&mut self, seq: u16) {
        let ahead = seq.wrapping_sub(self.high) as i16;
        if ahead > 0 {
            if ahead > 1 {
                self.jumps += 1;
            }
            let shift = ahead as u32;
            // The oldest positions leave the window, settled as received or missing; a jump
            // longer than the window also settles the numbers it skipped past it.
            for pos in (u64::BITS.saturating_sub(shift)..u64::BITS).rev() {
                if pos < self.span {
                    self.settled.push(self.seen >> pos & 1 == 1, 1);
                }
            }
            self.settled
                .push(false, shift.saturating_sub(u64::BITS) as u64);
            self.seen = if shift >= u64::BITS {
                1
            } else {
                (self.seen << shift) | 1
            };
            self.span = (self.span + shift).min(u64::BITS);
            self.high = seq;
            return;
        }
        let behind = ahead.unsigned_abs();
        if behind < SEQ_WINDOW {
            let bit = 1u64 << behind;
            if self.seen & bit != 0 {
                self.duplicates += 1;
                return;
            }
            self.seen |= bit;
        }
        self.out_of_order += 1;
    }

    /// Settles what is left in the window and gives the figures.
    pub fn finish(mut self) -> SeqFigures {
        for pos in (0..self.span).rev() {
            self.settled.push(self.seen >> pos & 1 == 1, 1);
        }
        SeqFigures {
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            jumps: self.jumps,
            loss_runs: self.settled.runs,
            burst_ratio: self.settled.burst_ratio(),
        }
    }
}
