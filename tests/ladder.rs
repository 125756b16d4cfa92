//! Golden ladders (insta snapshots in tests/snapshots) for calls from the corpus, in text and
//! Mermaid, and the `ladder` command's files.

use std::path::Path;
use std::process::Command;

use sipscope::render::{self, Ladder, LadderOptions};

use crate::support::{capture, repo, run_with};

fn ladder_of(path: &Path, call_id: &str, legs: bool, opts: &LadderOptions) -> Ladder {
    let mut cfg = sipscope::pipeline::PipelineConfig::default();
    cfg.correlator.want_messages = true;
    let r = run_with(&[path], cfg);
    let mut ids = vec![call_id.to_string()];
    if legs {
        let c = crate::support::call(&r, call_id);
        ids.extend(c.legs.iter().map(|l| l.call_id.clone()));
    }
    let rows: Vec<_> = r
        .messages
        .into_iter()
        .filter(|m| m.call_id.as_ref().is_some_and(|c| ids.contains(c)))
        .collect();
    assert!(!rows.is_empty(), "no messages for {call_id}");
    Ladder::build(&rows, opts)
}

fn text(l: &Ladder, ascii: bool) -> String {
    render::text::render(
        l,
        &render::text::TextOptions {
            ascii,
            ..Default::default()
        },
    )
}

#[test]
fn ladder_plain_call_with_rtp() {
    let l = ladder_of(
        &capture("aboutsip_pkts/sip_rtp.pcap").unwrap(),
        "1-7879@127.0.0.1",
        false,
        &LadderOptions::default(),
    );
    insta::assert_snapshot!("plain_call_text", text(&l, false));
    insta::assert_snapshot!("plain_call_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_cancel_in_ascii() {
    let l = ladder_of(
        &capture("aboutsip_pkts/cancel.pcap").unwrap(),
        "1-6261@127.0.1.1",
        false,
        &LadderOptions::default(),
    );
    insta::assert_snapshot!("cancel_ascii", text(&l, true));
}

#[test]
fn ladder_through_a_proxy_with_aliases() {
    // kamailio between sipp caller and callee: every message drawn on both hops.
    let mut opts = LadderOptions::default();
    opts.aliases
        .insert("127.0.0.1:5060".into(), "kamailio".into());
    let l = ladder_of(
        &repo().join("samples/kamailio-sipp-outcomes.pcap"),
        "answered-udp-1-050517-17473@sipscope.test",
        false,
        &opts,
    );
    assert_eq!(l.columns.len(), 3);
    insta::assert_snapshot!("proxy_text", text(&l, false));
    insta::assert_snapshot!("proxy_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_forked_invite() {
    let l = ladder_of(
        &capture("irontec_sngrep/ipv6frag.pcap").unwrap(),
        "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521",
        false,
        &LadderOptions {
            by_host: true,
            ..Default::default()
        },
    );
    insta::assert_snapshot!("forked_text", text(&l, false));
}

#[test]
fn ladder_folds_retransmissions() {
    let l = ladder_of(
        &capture("irontec_sngrep/aaa.pcap").unwrap(),
        "105090259-446faf7a@192.168.1.2",
        false,
        &LadderOptions::default(),
    );
    assert!(l.rows.iter().any(|r| r.count > 1), "retransmissions folded");
    insta::assert_snapshot!("retransmissions_text", text(&l, false));
}

#[test]
fn ladder_merges_b2bua_legs() {
    let l = ladder_of(
        &crate::correlation::b2bua_capture(),
        "leg1@a",
        true,
        &LadderOptions::default(),
    );
    assert_eq!(l.call_ids, ["leg1@a", "leg2@sbc"]);
    insta::assert_snapshot!("b2bua_legs_text", text(&l, false));
    insta::assert_snapshot!("b2bua_legs_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_command_writes_one_safe_file_per_call() {
    let dir = std::env::temp_dir().join(format!("sipscope-ladders-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ladder", "--all", "--format", "mermaid", "-o"])
        .arg(&dir)
        .arg(repo().join("samples/kamailio-sipp-outcomes.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    // 22 calls, plus the REGISTER and OPTIONS exchanges (UDP and TCP): one per Call-ID.
    assert_eq!(files.len(), 26, "one file per Call-ID");
    for f in &files {
        let name = f.file_name().to_string_lossy().into_owned();
        assert!(name.ends_with(".mmd"));
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        let body = std::fs::read_to_string(f.path()).unwrap();
        assert!(body.starts_with("sequenceDiagram\n"));
    }
    std::fs::remove_dir_all(&dir).ok();
}
