//! Replays the fuzzers' inputs without fuzzing (docs/FUZZING.md): every committed finding and
//! seed in fuzz/regressions/TARGET/ and fuzz/corpus/TARGET/, and the per-packet split of a few
//! captures, each through the same entry function the fuzz target calls
//! (`sipscope::fuzzing`), which asserts the stage's bounds; each input within a time bound.
//!
//! fuzz/regressions/known-slow.txt lists findings whose fix is under way elsewhere: they are
//! skipped (and said) until their line is removed; `SIPSCOPE_FUZZ_KNOWN=1` runs them too.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sipscope::fuzzing;

use crate::support::repo;

/// Per input, in the test profile (unoptimised): the fuzzers' own limit is 2 s, optimised.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `target` on `data` on a thread of its own; fails on a panic or past the deadline.
fn replay(target: &'static str, name: &str, data: Vec<u8>) -> Duration {
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    let h = std::thread::Builder::new()
        .name(format!("{target}:{name}"))
        .stack_size(64 << 20)
        .spawn(move || {
            assert!(fuzzing::run(target, &data), "unknown target {target}");
            let _ = tx.send(());
        })
        .expect("spawn");
    match rx.recv_timeout(DEADLINE) {
        Ok(()) => {
            h.join().expect("join");
            t0.elapsed()
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let e = h.join().expect_err("the thread ended without a result");
            std::panic::resume_unwind(e)
        }
        // The thread is left running: the test fails now rather than hanging.
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{target} {name}: still running after {DEADLINE:?}")
        }
    }
}

fn known_slow() -> Vec<String> {
    let p = repo().join("fuzz/regressions/known-slow.txt");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('#').next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

/// Every committed input of every target; the known-slow ones only when asked.
#[test]
fn committed_inputs() {
    let known = known_slow();
    let all = std::env::var_os("SIPSCOPE_FUZZ_KNOWN").is_some();
    let mut n = 0;
    let mut skipped = Vec::new();
    for target in fuzzing::TARGETS {
        for kind in ["regressions", "corpus"] {
            for f in files(&repo().join("fuzz").join(kind).join(target)) {
                let rel = format!("{target}/{}", f.file_name().unwrap().to_string_lossy());
                if kind == "regressions" && known.contains(&rel) && !all {
                    skipped.push(rel);
                    continue;
                }
                let data = std::fs::read(&f).unwrap();
                let took = replay(target, &rel, data);
                assert!(took < DEADLINE, "{kind}/{rel}: {took:?}");
                n += 1;
            }
        }
    }
    // Every target has committed inputs: a missing folder must not pass unseen.
    for target in fuzzing::TARGETS {
        let d = repo().join("fuzz/corpus").join(target);
        let r = repo().join("fuzz/regressions").join(target);
        assert!(
            !files(&d).is_empty() || !files(&r).is_empty(),
            "no committed inputs for {target}"
        );
    }
    for k in &known {
        assert!(
            repo().join("fuzz/regressions").join(k).is_file(),
            "known-slow.txt names {k}, which is not there"
        );
    }
    if !skipped.is_empty() {
        eprintln!(
            "fuzz replay: {n} inputs run; {} known-slow skipped: {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    assert!(n > 0);
}

/// A few captures split per packet, connection and message, as the fuzzers' seeds are: every
/// target gets some input from them, and none fails.
#[test]
fn capture_split() {
    let data = repo().join("tests/data");
    let captures = [
        "aboutsip_pkts/sip_rtp.pcap",
        "aboutsip_pkts/fragmented_tcp_sip.pcap",
        "aboutsip_pkts/fragmented_udp_sip.pcap",
        "sipcapture_hep-wireshark/hep3_compressed.pcap.pcapng",
        "irontec_sngrep/ipv6frag.pcap",
        "ntop_nDPI/sip_hello.pcapng",
        // With their key logs beside them: the tls target's seeds decrypt.
        "tls/tls13-keyupdate.pcap",
        "tls/tls12-rsa-aes128cbc-sha.pcap",
        "tls/wss-tls12.pcap",
    ];
    let mut per_target = std::collections::BTreeMap::new();
    for c in captures {
        for (target, name, bytes) in fuzzing::seeds(&data.join(c)) {
            *per_target.entry(target).or_insert(0) += 1;
            replay(target, &format!("{c}:{name}"), bytes);
        }
    }
    for target in fuzzing::TARGETS {
        assert!(
            per_target.get(target).copied().unwrap_or(0) > 0,
            "no seed for {target}: {per_target:?}"
        );
    }
}

/// Every target name has an entry, which takes the empty input; other names have none.
#[test]
fn target_names() {
    assert!(!fuzzing::run("nope", b""));
    for t in fuzzing::TARGETS {
        assert!(fuzzing::run(t, b""));
    }
}
