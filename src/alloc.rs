//! The binary's memory allocator: mimalloc, tuned to hand freed memory back to the system.
//!
//! Why not glibc malloc: the correlator thread allocates every record and the sink threads free
//! them. glibc keeps such cross-thread frees in the allocating thread's arena and resident size
//! grows well past the live heap (measured, 10,000 calls at 200 calls/s: `report` 352 MiB
//! resident for a 216 MB heap peak). mimalloc frees to the page's owner without a lock and is
//! faster on this allocation pattern (`report` 5.56 s → 3.35 s on the same capture).
//!
//! Two settings, each measured on that capture (`report` peak RSS): mimalloc v3 keeps freed pages
//! committed for a second before purging them (420 MiB) — purged at once for the commands that
//! hold much ([`Purge::AtOnce`]: `report`, `tables`), after 10 ms for the others; and it lets the
//! kernel back its arenas with transparent huge pages, so a 2 MiB page stays resident for one live
//! object — turned off for this process (281 MiB with both).
//!
//! Why 10 ms for the rest (issue 18, `calls` on the 283 MB SIP-only bench capture, two runs
//! each): purged at once, every batch buffer freed by one thread and allocated again by another
//! is given back to the kernel and faulted in again (0.19 s of system time, TLB shootdowns on
//! the correlator's core: 1.07–1.09 s wall); after 10 ms, 0.09 s system, 1.00–1.03 s wall, for
//! 3–5 MiB more resident. The report on the 1 GiB SIP-only capture would peak at 254 MiB with
//! 10 ms (235 at once), past issue 18's 256 MB, so it keeps purging at once.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49 does not name
/// it); [`tune`] checks the default it reads there before it writes.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// mimalloc v3's default purge delay, in milliseconds.
const MI_DEFAULT_PURGE_DELAY_MS: std::os::raw::c_long = 1000;

/// When freed pages go back to the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purge {
    /// At once: the commands whose resident size is near its bound (`report`, `tables`).
    AtOnce,
    /// After 10 ms: the others, which free and allocate their batch buffers at a high rate.
    Soon,
}

/// Apply the settings above. Call once, after the command line is read and before the run.
/// `MIMALLOC_PURGE_DELAY` in the environment wins over both.
pub fn tune(purge: Purge) {
    let delay = match purge {
        Purge::AtOnce => 0,
        Purge::Soon => 10,
    };
    // SAFETY: mi_option_get/mi_option_set take an enum value and a long, touch only mimalloc's
    // option table, and are documented as callable at any time from any thread.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay);
        }
    }
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes integers only and changes only this process's
    // transparent-huge-page policy; a kernel without it returns an error, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    /// The option number is the one mimalloc reads as the purge delay: its default is there.
    #[test]
    fn purge_delay_option_number() {
        // SAFETY: as in `tune`.
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert!(
            v == super::MI_DEFAULT_PURGE_DELAY_MS || v == 0,
            "purge delay read {v}"
        );
    }
}
