//! Hostile captures of ../shared/adversarial against reassembly and IP defragmentation: each
//! message the README says was lost is found, and each drop is said on stderr.

use std::path::PathBuf;

use crate::support::sipscope_ok;

/// A capture of ../shared/adversarial; None (skipped, said) only outside CI when the folder is
/// absent.
fn adversarial(name: &str) -> Option<PathBuf> {
    let dir = crate::support::repo().join("../shared/adversarial");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI has ../shared beside the clone: {} is missing",
            dir.display()
        );
        eprintln!("SKIPPED: ../shared/adversarial not present");
        return None;
    }
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing", p.display());
    Some(p)
}

/// S3: a HEP-over-TCP packet announcing 65,535 bytes with 56 sent swallowed the valid packet
/// after it; nothing was counted.
#[test]
fn hep_tcp_lying_length_resyncs_on_the_next_packet() {
    let Some(p) = adversarial("hep_tcp_swallow.pcap") else {
        return;
    };
    let (out, err) = sipscope_ok(&["messages"], &p);
    assert!(out.contains("hep-swallowed@x"), "{out}");
    assert!(err.contains("1 damaged HEP packets"), "{err}");
}

/// S6: a SIP stream whose first 11 bytes came in 4 segments was judged not SIP.
#[test]
fn tcp_start_line_in_tiny_segments_is_read() {
    let Some(p) = adversarial("tcp_tiny_first.pcap") else {
        return;
    };
    let (out, _) = sipscope_ok(&["messages"], &p);
    assert!(out.contains("tiny-first@x"), "{out}");
    assert!(out.contains("tiny-second@x"), "{out}");
}

/// S7: fragments ending past 65,575 bytes dropped their datagram without a word.
#[test]
fn ip_fragments_past_the_size_bound_are_said() {
    let Some(p) = adversarial("frag_edge.pcap") else {
        return;
    };
    let (out, err) = sipscope_ok(&["messages"], &p);
    assert!(out.contains("fragedge@x"), "{out}");
    assert!(
        err.contains("2 IP datagrams dropped: a fragment ends past 65,535 bytes"),
        "{err}"
    );
}

/// S1: a WebSocket frame with a non-minimal length was refused with the rest of its segment
/// (2 of 3 messages lost) and nothing was said. It is read (counted as an anomaly), and the
/// frame sharing its segment is read too.
#[test]
fn websocket_non_minimal_length_loses_nothing() {
    let Some(p) = adversarial("ws_nonminimal.pcap") else {
        return;
    };
    let (out, err) = sipscope_ok(&["messages", "--stats"], &p);
    for cid in ["ws-one@x", "ws-ping@x", "ws-three@x"] {
        assert!(out.contains(cid), "{cid}: {out}");
    }
    assert_eq!(
        crate::support::stat(&err, "reassembly.ws.non_minimal_lengths").as_deref(),
        Some("1"),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
}
