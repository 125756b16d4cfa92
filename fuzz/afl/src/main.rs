//! AFL++ harness: the whole pipeline on one capture (`sipscope::fuzzing::fuzz_pipeline`, the
//! libFuzzer `pipeline` target's entry).
//!
//! `pipeline-afl FILE...` runs each file once (replay, afl-tmin, afl-showmap with `@@`). With no
//! argument it reads the capture from stdin in AFL++'s persistent mode: the forkserver child
//! runs up to [`LOOP`] inputs, each read from the start of stdin again (afl-fuzz rewrites the
//! file behind it and seeks it back to 0). Outside afl-fuzz the loop runs once.
//!
//! Built by `scripts/fuzz.sh afl` only: it needs AFL++'s `afl-compiler-rt.o` linked in, which
//! provides the symbols below and the SanitizerCoverage trace-pc-guard callbacks.

use std::io::Read;

/// Inputs per forked child before afl-fuzz forks a fresh one.
const LOOP: u32 = 1000;

/// afl-fuzz looks for this string in the binary to turn persistent mode on (what the C
/// `__AFL_LOOP` macro embeds).
static PERSISTENT_SIG: &[u8] = b"##SIG_AFL_PERSISTENT##\0";

extern "C" {
    /// AFL++ runtime: true while the child should run one more input.
    fn __afl_persistent_loop(max: u32) -> i32;
}

fn main() {
    let files: Vec<_> = std::env::args_os().skip(1).collect();
    if !files.is_empty() {
        for f in files {
            let data = std::fs::read(&f).unwrap_or_else(|e| {
                eprintln!("{}: {e}", f.to_string_lossy());
                std::process::exit(2)
            });
            sipscope::fuzzing::fuzz_pipeline(&data);
        }
        return;
    }
    // Keeps the signature in the binary (the linker drops an unreferenced static).
    // SAFETY: a volatile read of an initialised static.
    unsafe { std::ptr::read_volatile(&PERSISTENT_SIG) };
    let mut data = Vec::new();
    // SAFETY: AFL++'s runtime function, no arguments beyond the count; outside afl-fuzz it
    // returns 1 once, then 0.
    while unsafe { __afl_persistent_loop(LOOP) } != 0 {
        data.clear();
        if std::io::stdin().lock().read_to_end(&mut data).is_err() {
            continue;
        }
        sipscope::fuzzing::fuzz_pipeline(&data);
    }
}
