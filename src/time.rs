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
    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32, u32) {
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

impl fmt::Display for Ts {
    /// RFC 3339 with microseconds: in UTC (`2013-03-09T22:25:09.703901Z`), or with the local
    /// offset after [`set_local_display`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(offset) = LOCAL.get() {
            let off = offset(self.0.div_euclid(NANOS_PER_SEC)).clamp(-86_399, 86_399);
            let (y, mo, d, h, mi, s, ns) = Ts(self.0.saturating_add(off * NANOS_PER_SEC)).civil();
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.abs();
            return write!(
                f,
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}{sign}{:02}:{:02}",
                ns / 1000,
                a / 3600,
                a / 60 % 60
            );
        }
        let (y, mo, d, h, mi, s, ns) = self.civil();
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
            ns / 1000
        )
    }
}

/// Formats a span of nanoseconds as seconds with millisecond precision (`1.234`).
pub fn fmt_secs(d: Nanos) -> String {
    format!("{:.3}", d as f64 / NANOS_PER_SEC as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
