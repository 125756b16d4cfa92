//! Capture time.
//!
//! Every timer in sipscope runs on the timestamps of the frames, never on the wall clock, so a live
//! run and a replay of its capture give the same answers. [`Ts`] holds nanoseconds since the Unix
//! epoch: microsecond captures lose nothing and nanosecond pcapng keeps its precision (jitter and
//! deltas are never truncated to whole milliseconds).

use std::fmt;

/// A capture timestamp: nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

/// Civil time: (year, month, day, hour, minute, second, nanosecond).
pub type Civil = (i64, u32, u32, u32, u32, u32, u32);

/// A span of capture time in nanoseconds (may be negative when frames are out of order).
pub type Nanos = i64;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;

impl Ts {
    pub const ZERO: Ts = Ts(0);

    #[inline]
    pub fn from_parts(secs: i64, nanos: i64) -> Ts {
        Ts(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
    }

    #[inline]
    pub fn from_secs_f64(s: f64) -> Ts {
        Ts((s * NANOS_PER_SEC as f64) as i64)
    }

    #[inline]
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    #[inline]
    pub fn saturating_add(self, d: Nanos) -> Ts {
        Ts(self.0.saturating_add(d))
    }

    /// `self - earlier` in nanoseconds.
    #[inline]
    pub fn since(self, earlier: Ts) -> Nanos {
        self.0.saturating_sub(earlier.0)
    }

    /// UTC civil time (year, month, day, hour, minute, second, nanosecond).
    pub fn civil(self) -> Civil {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = if m <= 2 { y + 1 } else { y };
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, nanos)
    }

    /// Parses RFC 3339 (`2026-01-01T10:00:00[.123456]` with `Z`, an offset such as `+02:00`, or
    /// nothing, read as UTC) or a plain number of seconds since the epoch.
    pub fn parse(s: &str) -> Option<Ts> {
        if let Ok(f) = s.parse::<f64>() {
            return Some(Ts::from_secs_f64(f));
        }
        let s = s.trim_end_matches(['Z', 'z']);
        let (date, time) = s.split_once(['T', 't', ' '])?;
        // An RFC 3339 offset (+02:00, -0530, +01): the time is local to it.
        let (time, offset) = match time.rfind(['+', '-']) {
            Some(i) => {
                let (t, o) = time.split_at(i);
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let o = &o[1..];
                let (oh, om) = match o.split_once(':') {
                    Some((h, m)) => (h, m),
                    None if o.len() == 4 => o.split_at(2),
                    None => (o, "0"),
                };
                let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
                if oh > 23 || om > 59 {
                    return None;
                }
                (t, sign * (oh * 3600 + om * 60))
            }
            None => (time, 0),
        };
        let mut dp = date.split('-');
        let y: i64 = dp.next()?.parse().ok()?;
        let mo: i64 = dp.next()?.parse().ok()?;
        let d: i64 = dp.next()?.parse().ok()?;
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, b),
            None => (time, ""),
        };
        let mut tp = hms.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next()?.parse().ok()?;
        let sec: i64 = tp.next().unwrap_or("0").parse().ok()?;
        let mut nanos = 0i64;
        if !frac.is_empty() {
            let digits: String = frac.chars().take(9).collect();
            let n: i64 = digits.parse().ok()?;
            nanos = n * 10i64.pow(9 - digits.len() as u32);
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        // days-from-civil, the inverse of `civil`.
        let y2 = if mo <= 2 { y - 1 } else { y };
        let era = y2.div_euclid(400);
        let yoe = y2.rem_euclid(400);
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(Ts::from_parts(
            days * 86_400 + h * 3600 + mi * 60 + sec - offset,
            nanos,
        ))
    }
}

/// The local zone's offset from UTC at an instant (seconds since the epoch → seconds east).
pub type OffsetFn = fn(i64) -> i64;

static LOCAL: std::sync::OnceLock<OffsetFn> = std::sync::OnceLock::new();

/// Shows every time of the run in a local zone (`--local-time`), as RFC 3339 with the offset of
/// that instant (`2026-11-22T12:12:04.822272+01:00`), so a time printed either way reads back as
/// the same instant ([`Ts::parse`]). The binary gives the zone's offsets (the C library's, which
/// follows `TZ`); the library itself stays free of unsafe code.
pub fn set_local_display(offset: OffsetFn) {
    let _ = LOCAL.set(offset);
}

impl Ts {
    /// Civil time as the run shows it ([`Ts::civil`] in UTC, or in the local zone after
    /// [`set_local_display`]), with that zone's offset in seconds.
    pub fn display_civil(self) -> (Civil, i64) {
        match LOCAL.get() {
            Some(offset) => {
                let off = offset(self.0.div_euclid(NANOS_PER_SEC)).clamp(-86_399, 86_399);
                (Ts(self.0.saturating_add(off * NANOS_PER_SEC)).civil(), off)
            }
            None => (self.civil(), 0),
        }
    }

    /// `2014-06-29 UTC` (or `2014-06-30 +05:30` in a local zone): the date and zone a ladder's
    /// rows, which show the time of day only, are in.
    pub fn date_and_zone(self) -> String {
        let ((y, mo, d, ..), off) = self.display_civil();
        let zone = if LOCAL.get().is_none() {
            "UTC".to_string()
        } else {
            let a = off.abs();
            let sign = if off < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
        };
        format!("{y:04}-{mo:02}-{d:02} {zone}")
    }
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuu` written digit by digit (a time is in every row of the report's
/// tables: through `write!` it was 4 % of the report's instructions, callgrind). Nanoseconds in
/// an i64 span the years 1677 to 2262, so the year always has four digits
/// (`digits_are_write_formatting` checks the whole range against `write!`).
fn civil_digits(c: Civil) -> [u8; 26] {
    let (y, mo, d, h, mi, s, ns) = c;
    let mut b = *b"0000-00-00T00:00:00.000000";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u32);
    put(5, 2, mo);
    put(8, 2, d);
    put(11, 2, h);
    put(14, 2, mi);
    put(17, 2, s);
    put(20, 6, ns / 1000);
    b
}

/// [`civil_digits`] as text (digits, `-`, `:`, `T`, `.`: ASCII).
fn digits_text(b: &[u8; 26]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

impl Ts {
    /// Appends the time as `Display` writes it, without going through a formatter: the tables'
    /// CSV writes one per row (through `write!` the adapter alone cost as much as the digits).
    pub fn push_text(self, out: &mut Vec<u8>) {
        if LOCAL.get().is_none() {
            out.extend_from_slice(&civil_digits(self.civil()));
            out.push(b'Z');
            return;
        }
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(out, format_args!("{self}"));
    }
}

impl fmt::Display for Ts {
    /// RFC 3339 with microseconds: in UTC (`2013-03-09T22:25:09.703901Z`), or with the local
    /// offset after [`set_local_display`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(offset) = LOCAL.get() {
            let off = offset(self.0.div_euclid(NANOS_PER_SEC)).clamp(-86_399, 86_399);
            let local = Ts(self.0.saturating_add(off * NANOS_PER_SEC)).civil();
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.abs();
            f.write_str(digits_text(&civil_digits(local)))?;
            return write!(f, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
        }
        f.write_str(digits_text(&civil_digits(self.civil())))?;
        f.write_str("Z")
    }
}

/// Formats a span of nanoseconds as seconds with millisecond precision (`1.234`).
pub fn fmt_secs(d: Nanos) -> String {
    format!("{:.3}", d as f64 / NANOS_PER_SEC as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit time is the one `write!` gives, across years, the epoch, times before
    /// it and the last microsecond of a day.
    #[test]
    fn digits_are_write_formatting() {
        let slow = |t: Ts| {
            let (y, mo, d, h, mi, s, ns) = t.civil();
            format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
                ns / 1000
            )
        };
        // Every 8.4 days across the whole range (1677 to 2262), at odd times of day.
        let mut t = i64::MIN;
        while let Some(next) = t.checked_add(726_172_461_999_937) {
            assert_eq!(Ts(t).to_string(), slow(Ts(t)));
            t = next;
        }
        for t in [0, -1, 1, 86_399_999_999_999, i64::MAX, i64::MIN] {
            assert_eq!(Ts(t).to_string(), slow(Ts(t)), "{t}");
        }
        assert_eq!(Ts(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        let mut out = b"x,".to_vec();
        Ts(1_385_000_000_123_456_789).push_text(&mut out);
        assert_eq!(out, b"x,2013-11-21T02:13:20.123456Z");
    }

    #[test]
    fn civil_round_trip() {
        let t = Ts::parse("2013-03-09T22:25:09.703901Z").unwrap();
        assert_eq!(t.to_string(), "2013-03-09T22:25:09.703901Z");
        assert_eq!(Ts::parse("1970-01-01T00:00:00").unwrap(), Ts(0));
        let leap = Ts::parse("2024-02-29T23:59:59.5").unwrap();
        assert_eq!(leap.to_string(), "2024-02-29T23:59:59.500000Z");
        assert_eq!(Ts::parse("12.5").unwrap(), Ts(12_500_000_000));
        assert!(Ts::parse("2024-13-01T00:00:00").is_none());
    }
}

/// `30s`, `1m`, `15m`, `1h`, `1d`, `500ms`; a bare number is seconds.
pub fn parse_interval(s: &str) -> Option<Nanos> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok().filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let unit = match unit.trim() {
        "ms" => NANOS_PER_MILLI,
        "" | "s" => NANOS_PER_SEC,
        "m" | "min" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        "d" => 86_400 * NANOS_PER_SEC,
        _ => return None,
    };
    let ns = (n * unit as f64).round();
    (1.0..1e18).contains(&ns).then_some(ns as Nanos)
}

#[cfg(test)]
mod interval_tests {
    use super::*;

    #[test]
    fn rfc3339_offsets() {
        let utc = Ts::parse("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(Ts::parse("2024-05-01T10:00:00"), Some(utc));
        assert_eq!(Ts::parse("2024-05-01T12:00:00+02:00"), Some(utc));
        assert_eq!(Ts::parse("2024-05-01T04:30:00-05:30"), Some(utc));
        assert_eq!(Ts::parse("2024-05-01T12:00:00+0200"), Some(utc));
        assert_eq!(
            Ts::parse("2024-05-01t11:00:00.5+01"),
            Some(Ts(utc.0 + 500_000_000))
        );
        assert_eq!(Ts::parse("2024-05-01T10:00:00+25:00"), None);
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30s"), Some(30 * NANOS_PER_SEC));
        assert_eq!(parse_interval("1m"), Some(60 * NANOS_PER_SEC));
        assert_eq!(parse_interval("1.5h"), Some(5400 * NANOS_PER_SEC));
        assert_eq!(parse_interval("250ms"), Some(250 * NANOS_PER_MILLI));
        assert_eq!(parse_interval("10"), Some(10 * NANOS_PER_SEC));
        for bad in ["", "0s", "-1m", "1w", "m", "1e30d", "nan"] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
    }
}

/// A step of capture time this large (either way) is a time warp until the next frame confirms it.
pub const TS_WARP: Nanos = 3600 * NANOS_PER_SEC;

/// The capture clock: the time every timer and every measured span runs on.
///
/// A frame's own time stamp is its time, except when it lies more than [`TS_WARP`] (an hour)
/// ahead of or behind the frames before it: such a frame waits for the next one. When the next
/// frame lies within an hour of it (and as far from the others), the capture's clock has stepped
/// (a capture resumed after a quiet night, an NTP correction): the waiting frame keeps its time,
/// and later frames are judged against it ([`CaptureClock::steps`]). Otherwise it was a glitch (a
/// frame stamped 10 years back or in 2106): the frame is analysed at the time of the frames
/// before it, is counted ([`CaptureClock::ahead`], [`CaptureClock::behind`]), and its own stamp
/// is only displayed. So one frame cannot expire every call and stream, split a call, or make a
/// span negative or years long. A frame still waiting at the end of the input is a glitch:
/// nothing confirmed it. The timers' time ([`CaptureClock::now`]) never goes back, not even at
/// a step back (timers then wait until the frames pass it again), so when a call or stream
/// expires depends on the frames only, never on how they were batched.
#[derive(Clone, Debug, Default)]
pub struct CaptureClock {
    /// The latest time of the frames since the last step: what a frame is judged against.
    base: Option<Ts>,
    /// The timers' time: the latest time ever accepted.
    now: Ts,
    /// The time stamp of the frame waiting for confirmation.
    pending: Option<Ts>,
    /// Frames stamped more than an hour ahead of the clock that nothing confirmed.
    pub ahead: u64,
    /// Frames stamped more than an hour behind the clock that nothing confirmed.
    pub behind: u64,
    /// Confirmed steps of more than an hour, which the clock followed.
    pub steps: u64,
}

/// What became of the frame that was waiting, when a later frame (or the end) settled it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The clock stepped to its time: it keeps its own stamp.
    Step(Ts),
    /// A glitch: it keeps the clock's time.
    Glitch,
}

fn far(a: Ts, b: Ts) -> bool {
    a.since(b).unsigned_abs() > TS_WARP as u64
}

impl CaptureClock {
    /// The timers' time (zero before the first frame): it never goes back.
    pub fn now(&self) -> Ts {
        self.now
    }

    /// A frame is waiting for the next one to settle its time.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn accept(&mut self, t: Ts) {
        let b = self.base.map_or(t, |b| b.max(t));
        self.base = Some(b);
        self.now = self.now.max(b);
    }

    /// Takes a frame stamped `ts`: what became of the frame that was waiting (if one was), and
    /// the time this frame is analysed at. When that time is not `ts`, the frame now waits
    /// itself (its time may still become `ts`, through the `Settled::Step` of a later call).
    pub fn frame(&mut self, ts: Ts) -> (Option<Settled>, Ts) {
        let settled = self.settle(ts);
        match self.base {
            Some(base) if far(ts, base) => {
                self.pending = Some(ts);
                (settled, base)
            }
            _ => {
                self.accept(ts);
                (settled, ts)
            }
        }
    }

    /// No frame for a while, at time `t` (a live capture's wall clock): settles a waiting frame
    /// as a frame at `t` would, and moves the clock on unless `t` is itself far from it.
    pub fn idle(&mut self, t: Ts) -> Option<Settled> {
        let settled = self.settle(t);
        if self.base.is_some_and(|b| !far(t, b)) {
            self.accept(t);
        }
        settled
    }

    /// The end of the input: a frame still waiting is a glitch.
    pub fn end(&mut self) -> Option<Settled> {
        let p = self.pending.take()?;
        self.count_glitch(p);
        Some(Settled::Glitch)
    }

    fn settle(&mut self, next: Ts) -> Option<Settled> {
        let p = self.pending.take()?;
        let base = self.base.unwrap_or(p);
        if far(next, base) && !far(next, p) {
            self.steps += 1;
            self.base = Some(p);
            self.now = self.now.max(p);
            Some(Settled::Step(p))
        } else {
            self.count_glitch(p);
            Some(Settled::Glitch)
        }
    }

    fn count_glitch(&mut self, p: Ts) {
        if self.base.is_some_and(|b| p > b) {
            self.ahead += 1;
        } else {
            self.behind += 1;
        }
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    const T: i64 = 1_700_000_000;
    fn at(s: i64) -> Ts {
        Ts::from_parts(s, 0)
    }

    #[test]
    fn glitches_keep_the_clock_and_steps_move_it() {
        let mut c = CaptureClock::default();
        assert_eq!(c.frame(at(T)), (None, at(T)));
        // 10 years back, then 1987, then the epoch: three glitches (none confirms another).
        assert_eq!(c.frame(at(T - 315_360_000)), (None, at(T)));
        assert_eq!(c.frame(at(558_632_704)), (Some(Settled::Glitch), at(T)));
        assert_eq!(c.frame(at(0)), (Some(Settled::Glitch), at(T)));
        // 2106, then back to normal: a glitch ahead.
        assert_eq!(c.frame(at(0xffff_ffff)), (Some(Settled::Glitch), at(T)));
        assert_eq!(c.frame(at(T + 2)), (Some(Settled::Glitch), at(T + 2)));
        assert_eq!((c.ahead, c.behind, c.steps), (1, 3, 0));
        // A small step back is out of order, not a warp; the clock does not go back.
        assert_eq!(c.frame(at(T + 1)), (None, at(T + 1)));
        assert_eq!(c.now(), at(T + 2));
        // Two hours of silence, then traffic again: a step, confirmed by the next frame.
        assert_eq!(c.frame(at(T + 7200)), (None, at(T + 2)));
        assert!(c.is_pending());
        assert_eq!(
            c.frame(at(T + 7201)),
            (Some(Settled::Step(at(T + 7200))), at(T + 7201))
        );
        assert_eq!(c.now(), at(T + 7201));
        // A clock set back by a day, confirmed: followed, but the timers' time stays.
        assert_eq!(c.frame(at(T - 86_400)), (None, at(T + 7201)));
        assert_eq!(
            c.frame(at(T - 86_399)),
            (Some(Settled::Step(at(T - 86_400))), at(T - 86_399))
        );
        assert_eq!(c.steps, 2);
        assert_eq!(c.now(), at(T + 7201));
        assert_eq!(c.frame(at(T - 86_390)), (None, at(T - 86_390)));
        // A lone last frame far ahead is a glitch.
        assert_eq!(c.frame(at(T + 10 * 86_400)), (None, at(T - 86_390)));
        assert_eq!(c.end(), Some(Settled::Glitch));
        assert_eq!(c.end(), None);
        assert_eq!((c.ahead, c.behind, c.steps), (2, 3, 2));
    }

    #[test]
    fn idle_settles_a_waiting_frame() {
        let mut c = CaptureClock::default();
        c.frame(at(T));
        c.frame(at(T + 7200));
        assert_eq!(c.idle(at(T + 7200)), Some(Settled::Step(at(T + 7200))));
        c.frame(at(T + 90_000));
        assert_eq!(c.idle(at(T + 7201)), Some(Settled::Glitch));
        assert_eq!(c.now(), at(T + 7201));
        assert_eq!(c.idle(at(T + 50_000)), None);
        assert_eq!(
            c.now(),
            at(T + 7201),
            "a far idle time does not move the clock"
        );
    }
}
