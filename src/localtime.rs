//! The local zone's offset for `--local-time`, from the C library (`localtime_r`, which reads
//! `TZ` or /etc/localtime and knows daylight saving). It lives in the binary: the library forbids
//! unsafe code and takes the offset through `sipscope::time::set_local_display`.

/// Seconds east of UTC in the local zone at `secs` since the epoch (0 when the C library cannot
/// represent that time).
pub fn local_offset(secs: i64) -> i64 {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, a zeroed value on this stack, and returns null
    // on failure; no pointer outlives the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            0
        } else {
            tm.tm_gmtoff as i64
        }
    }
}

#[cfg(test)]
mod tests {
    /// Whatever the machine's zone, an offset is within a day (the CLI test sets TZ and checks
    /// the printed offsets).
    #[test]
    fn offsets_are_within_a_day() {
        for s in [0, 1_700_000_000, 2_000_000_000] {
            assert!(super::local_offset(s).abs() < 86_400);
        }
    }
}
