//! TCP sequence numbers with wrap-around arithmetic (RFC 793 §3.3, RFC 1982 style comparison).

use std::ops::{Add, Sub};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl Sub for SeqNumber {
    type Output = i64;
    /// Signed distance `self - other`, correct across the 2^32 wrap for distances below 2^31.
    #[inline]
    fn sub(self, other: SeqNumber) -> i64 {
        self.0.wrapping_sub(other.0) as i32 as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps() {
        let a = SeqNumber(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b, SeqNumber(2));
        assert_eq!(b - a, 4);
        assert_eq!(a - b, -4);
    }
}
