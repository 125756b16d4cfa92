//! The binary's memory allocator: mimalloc, tuned to hand freed memory back to the system.
//!
//! Why not glibc malloc: the correlator thread allocates every record and the sink threads free
//! them. glibc keeps such cross-thread frees in the allocating thread's arena and resident size
//! grows well past the live heap (measured, 10,000 calls at 200 calls/s: `report` 352 MiB
//! resident for a 216 MB heap peak). mimalloc frees to the page's owner without a lock and is
//! faster on this allocation pattern (`report` 5.56 s → 3.35 s on the same capture).
//!
//! Two settings, each measured on that capture (`report` peak RSS): mimalloc v3 keeps freed pages
//! committed for a second before purging them (420 MiB) — purged at once here; and it lets the
//! kernel back its arenas with transparent huge pages, so a 2 MiB page stays resident for one live
//! object — turned off for this process (281 MiB with both).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49 does not name
/// it); [`tune`] checks the default it reads there before it writes.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// mimalloc v3's default purge delay, in milliseconds.
const MI_DEFAULT_PURGE_DELAY_MS: std::os::raw::c_long = 1000;

/// Apply the settings above. Call once, first thing in `main`.
pub fn tune() {
    // SAFETY: mi_option_get/mi_option_set take an enum value and a long, touch only mimalloc's
    // option table, and are documented as callable at any time from any thread.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
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
