//! What the report's second reading of a file takes (`PipelineConfig::only_calls`,
//! `only_flows`, `only_frames`): the Call-IDs, host pairs or frame numbers of the messages it
//! wants, so the rest is let go as early as it can be told apart.

use crate::decode;

/// The frame numbers of [`super::PipelineConfig::only_frames`], in order.
#[derive(Debug, Default)]
pub struct FrameSet {
    frames: Vec<u64>,
}

impl FrameSet {
    pub fn new<I: IntoIterator<Item = u64>>(frames: I) -> FrameSet {
        let mut frames: Vec<u64> = frames.into_iter().collect();
        frames.sort_unstable();
        frames.dedup();
        FrameSet { frames }
    }

    /// The numbers, in order.
    pub fn frames(&self) -> &[u64] {
        &self.frames
    }
}

/// Walks a [`FrameSet`] along frames read in order: each call says whether that frame is one of
/// the set, in constant time (the numbers only grow).
pub(super) struct FrameCursor<'a> {
    frames: &'a [u64],
    next: usize,
}

impl<'a> FrameCursor<'a> {
    pub(super) fn new(set: &'a FrameSet) -> FrameCursor<'a> {
        FrameCursor {
            frames: &set.frames,
            next: 0,
        }
    }

    pub(super) fn takes(&mut self, no: u64) -> bool {
        while self.frames.get(self.next).is_some_and(|&f| f < no) {
            self.next += 1;
        }
        self.frames.get(self.next) == Some(&no)
    }

    /// Are all the set's frames behind?
    pub(super) fn done(&self, no: u64) -> bool {
        self.frames.last().is_none_or(|&l| no >= l)
    }
}

/// The outermost IP pairs of [`super::PipelineConfig::only_flows`], as [`decode::shard_hash`] hashes a
/// frame's (a collision only lets an extra frame through).
#[derive(Debug, Default)]
pub struct FlowSet {
    hashes: foldhash::HashSet<u64>,
}

impl FlowSet {
    pub fn new<I: IntoIterator<Item = (std::net::IpAddr, std::net::IpAddr)>>(pairs: I) -> FlowSet {
        FlowSet {
            hashes: pairs
                .into_iter()
                .map(|(a, b)| decode::pair_hash(a, b))
                .collect(),
        }
    }

    /// Is a frame with this [`decode::shard_hash`] taken?
    pub fn takes(&self, hash: u64) -> bool {
        hash == 0 || self.hashes.contains(&hash)
    }
}

/// The Call-IDs of [`super::PipelineConfig::only_calls`]. A message whose Call-ID the header lines
/// show at a glance ([`crate::sip::message::quick_call_id`]) and is not one of them is let go
/// unparsed; the others are parsed and kept when their Call-ID is one of the set.
#[derive(Debug, Default)]
pub struct CallSet {
    ids: foldhash::HashSet<Box<[u8]>>,
}

impl CallSet {
    pub fn new<I: IntoIterator<Item = Box<[u8]>>>(ids: I) -> CallSet {
        CallSet {
            ids: ids.into_iter().collect(),
        }
    }

    pub fn contains(&self, call_id: &[u8]) -> bool {
        self.ids.contains(call_id)
    }

    /// Could a message with these bytes be of one of the calls? False only when its Call-ID is
    /// plain to see and not one of them.
    pub fn may_hold(&self, msg: &[u8]) -> bool {
        use crate::sip::message::QuickCallId;
        match crate::sip::message::quick_call_id(msg) {
            QuickCallId::Known(Some(c)) => self.contains(c),
            QuickCallId::Known(None) => false,
            QuickCallId::Unsure => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_cursor_takes_the_sets_frames_and_knows_when_they_are_behind() {
        let set = FrameSet::new([9, 3, 4, 9, 12]);
        assert_eq!(set.frames(), &[3, 4, 9, 12]);
        let mut c = FrameCursor::new(&set);
        let taken: Vec<u64> = (1..=14).filter(|&n| c.takes(n)).collect();
        assert_eq!(taken, [3, 4, 9, 12]);
        assert!(c.done(12) && c.done(14));
        let mut c = FrameCursor::new(&set);
        // Numbers may skip (frames a BPF filter left out keep theirs).
        assert!(!c.takes(2) && c.takes(4) && !c.takes(11) && !c.done(11) && c.takes(12));
        assert!(FrameCursor::new(&FrameSet::default()).done(1));
    }
}
