//! `sipscope export`: the frames of chosen calls, checked with tshark (the call's SIP messages,
//! exactly, and its RTP) and with sipscope itself (the export reads back to the same call).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use sipscope::capture::file::FileSource;
use sipscope::capture::writer::PcapFile;
use sipscope::capture::{LinkType, Source};

use crate::correlation::b2bua_capture;
use crate::support::{build, capture, repo, run_ok};

const OUTCOMES: &str = "samples/kamailio-sipp-outcomes.pcap";

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sipscope-export-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sipscope() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipscope"));
    c.current_dir(repo()).arg("--color").arg("never");
    c
}

/// Whether tshark can be run: required under CI (.ci/run installs it), else the test skips.
fn tshark_or_skip() -> bool {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is not installed: run .ci/run"
        );
        eprintln!("SKIPPED: tshark is not installed");
    }
    found
}

/// tshark's SIP per frame (Call-ID, method, status, CSeq; several messages of a frame joined),
/// for the frames `filter` selects.
fn tshark_sip(file: &Path, filter: &str) -> Vec<String> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E"])
        .arg("aggregator=|")
        .args([
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
        ])
        .args(["-e", "sip.CSeq"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn tshark_count(file: &Path, args: &[&str]) -> usize {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().count()
}

fn export(args: &[&str]) -> String {
    run_ok(sipscope().arg("export").args(args).arg("--no-progress")).0
}

/// `calls --format json` for one Call-ID.
fn call_json(file: &Path, id: &str) -> String {
    run_ok(
        sipscope()
            .args([
                "calls",
                "--all",
                "--format",
                "json",
                "--no-progress",
                "--call-id",
                id,
            ])
            .arg(file),
    )
    .0
}

fn call_ids(file: &Path) -> Vec<String> {
    run_ok(
        sipscope()
            .args(["calls", "--all", "--format", "json", "--no-progress"])
            .arg(file),
    )
    .0
    .lines()
    .map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["call_id"].as_str().unwrap().to_string()
    })
    .collect()
}

#[test]
fn each_call_exported_holds_exactly_its_sip_and_reads_back_the_same() {
    let d = dir("outcomes");
    let original = repo().join(OUTCOMES);
    let all = call_ids(&original);
    assert_eq!(all.len(), 26, "{all:?}");
    // Over UDP and TCP: a call with re-INVITEs, one cancelled (CANCEL and 487 share segments
    // with the INVITE's transaction), one answered, a REGISTER dialog.
    let ids: Vec<&String> = all
        .iter()
        .filter(|id| {
            ["hold-", "cancelled-", "answered-", "register-"]
                .iter()
                .any(|p| id.starts_with(p))
        })
        .collect();
    assert_eq!(ids.len(), 8);
    let tshark = tshark_or_skip();
    // UDP calls, and TCP calls whose connections kamailio shares between calls: each segment
    // taken is one holding the call's bytes.
    for id in &ids {
        let out = d.join("call.pcap");
        let said = export(&[
            OUTCOMES,
            "--all",
            "--call-id",
            id,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(said.starts_with(out.to_str().unwrap()), "{said}");
        assert_eq!(call_json(&out, id), call_json(&original, id), "{id}");
        // Nothing of another call came along.
        assert_eq!(call_ids(&out), [(*id).clone()], "{id}");
        if tshark {
            let want = tshark_sip(&original, &format!("sip.Call-ID == \"{id}\""));
            assert!(!want.is_empty(), "{id}");
            assert_eq!(tshark_sip(&out, "sip"), want, "{id}");
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rtp_of_the_call_comes_with_it() {
    let d = dir("rtp");
    let original = repo().join("samples/sipp-faults.pcap");
    let out = d.join("oneway.pcapng");
    let id = "oneway-1-1543@faults.test";
    export(&[
        "samples/sipp-faults.pcap",
        "--call-id",
        id,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(call_json(&out, id), call_json(&original, id));
    let streams = run_ok(
        sipscope()
            .args(["rtp", "--format", "json", "--no-progress", "--call-id", id])
            .arg(&out),
    )
    .0;
    let v: serde_json::Value = serde_json::from_str(streams.lines().next().unwrap()).unwrap();
    assert_eq!(v["packets"], 825);
    // --no-rtp leaves it out.
    let sig = d.join("sig.pcap");
    export(&[
        "samples/sipp-faults.pcap",
        "--call-id",
        id,
        "--no-rtp",
        "-o",
        sig.to_str().unwrap(),
    ]);
    if tshark_or_skip() {
        let heur = ["-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp"];
        let stream = "rtp && ip.src == 127.0.0.11 && udp.srcport == 16000 && ip.dst == 127.0.0.21 && udp.dstport == 17000";
        let in_original = tshark_count(&original, &["-o", "rtp.heuristic_rtp:TRUE", "-Y", stream]);
        assert_eq!(in_original, 825);
        assert_eq!(tshark_count(&out, &heur), in_original);
        assert_eq!(tshark_count(&sig, &heur), 0);
        assert_eq!(
            tshark_sip(&sig, "sip"),
            tshark_sip(&original, &format!("sip.Call-ID == \"{id}\""))
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_b2bua_call_with_legs_holds_both_legs() {
    let d = dir("legs");
    let cap = b2bua_capture();
    let out = d.join("legs.pcap");
    let c = cap.to_str().unwrap();
    export(&[
        c,
        "--call-id",
        "leg1@a",
        "--legs",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(call_ids(&out), ["leg1@a", "leg2@sbc"]);
    for id in ["leg1@a", "leg2@sbc"] {
        assert_eq!(call_json(&out, id), call_json(&cap, id), "{id}");
    }
    let alone = d.join("alone.pcap");
    export(&[c, "--call-id", "leg1@a", "-o", alone.to_str().unwrap()]);
    assert_eq!(call_ids(&alone), ["leg1@a"]);
    // --split: one file per chosen call with the legs it brought, named as `ladder --all` does.
    let split = d.join("split");
    let said = export(&[
        c,
        "--from",
        ".",
        "--legs",
        "--split",
        split.to_str().unwrap(),
    ]);
    let mut names: Vec<String> = std::fs::read_dir(&split)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{said}");
    let leg1 = sipscope::output::names::file_name("leg1@a", "pcapng");
    let leg3 = sipscope::output::names::file_name("leg3@a", "pcapng");
    assert_eq!(names, [leg1.clone(), leg3]);
    assert_eq!(call_ids(&split.join(&leg1)), ["leg1@a", "leg2@sbc"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn memory_bounds_do_not_change_the_export() {
    // --hold-memory 0: every call's notes are let go and the chosen one is read again.
    let d = dir("bounds");
    let a = d.join("a.pcap");
    let b = d.join("b.pcap");
    let id = "hold-tcp-1-050517-17473@sipscope.test";
    export(&[OUTCOMES, "--call-id", id, "-o", a.to_str().unwrap()]);
    export(&[
        OUTCOMES,
        "--call-id",
        id,
        "--hold-memory",
        "0",
        "-o",
        b.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // A queue too small for a TCP segment to wait for the rest of its message: decided early,
    // the decision that comes with the message's end is late, and both are said.
    let invite =
        "INVITE sip:b@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKx\r\n\
From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>\r\nCall-ID: split@x\r\nCSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";
    let (a_, b_) = (([192, 0, 2, 1], 5060), ([192, 0, 2, 2], 5060));
    let (head, tail) = invite.as_bytes().split_at(40);
    let t0 = 1_700_000_000_000_000_000i64;
    let cap = d.join("split.pcap");
    crate::threads::write_pcap(
        &cap,
        &[
            (t0, build::tcp(a_, b_, 1000, 0x18, head)),
            (
                t0 + 1_000_000,
                build::tcp(a_, b_, 1000 + head.len() as u32, 0x18, tail),
            ),
        ],
    );
    let r = crate::support::run(&cap);
    let mut cf = sipscope::export::CallFrames::new("split@x");
    cf.msgs = r
        .messages
        .iter()
        .map(sipscope::export::MsgAt::from)
        .collect();
    assert_eq!(cf.msgs.len(), 1);
    let target = |name: &str| sipscope::export::Target {
        path: d.join(name),
        container: sipscope::export::Container::Pcapng,
        calls: vec![cf.clone()],
    };
    let write = |t, queue_frames| {
        let opts = sipscope::export::Options {
            queue_frames,
            ..Default::default()
        };
        sipscope::export::write(
            std::slice::from_ref(&cap),
            &[t],
            &opts,
            &AtomicBool::new(false),
        )
        .unwrap()
    };
    let st = write(target("roomy.pcapng"), 100);
    assert_eq!(
        (st.frames_written, st.decided_early, st.decided_late),
        (2, 0, 0)
    );
    assert!(st.warnings().is_empty());
    let st = write(target("small.pcapng"), 0);
    assert_eq!(
        (st.frames_written, st.decided_early, st.decided_late),
        (1, 1, 1),
        "{st:?}"
    );
    assert_eq!(st.warnings().len(), 2, "{:?}", st.warnings());
    let _ = std::fs::remove_dir_all(&d);
}

/// The b2bua capture's frames as raw IP (link type 101): a second link type to merge with.
fn raw_ip_copy(from: &Path, to: &Path) {
    let mut src = FileSource::open(from).unwrap();
    let mut w = PcapFile::create(to, LinkType::Raw).unwrap();
    while let Some(f) = src.next_frame().unwrap() {
        let mut f = f.to_owned();
        f.data = f.data.slice(14..);
        f.link = LinkType::Raw;
        f.orig_len -= 14;
        w.write(&f).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn two_link_types_make_a_pcapng_and_a_pcap_is_refused() {
    let d = dir("links");
    let raw = d.join("raw.pcap");
    raw_ip_copy(&b2bua_capture(), &raw);
    let both = d.join("both.pcapng");
    let args = |out: &Path| -> Vec<String> {
        vec![
            "samples/sip_rtp.pcap".into(),
            raw.display().to_string(),
            "--since".into(),
            "2000-01-01T00:00:00Z".into(),
            "-o".into(),
            out.display().to_string(),
        ]
    };
    let a: Vec<String> = args(&both);
    export(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let mut src = FileSource::open(&both).unwrap();
    let mut links = std::collections::BTreeSet::new();
    let mut n = 0;
    while let Some(f) = src.next_frame().unwrap() {
        links.insert(format!("{:?}", f.link));
        n += 1;
    }
    assert_eq!(links.len(), 2, "{links:?}");
    // sip_rtp.pcap's call (507 frames) and the b2bua capture's two INVITE calls (8 frames).
    assert_eq!(n, 507 + 8);
    if tshark_or_skip() {
        assert_eq!(tshark_count(&both, &["-Y", "sip"]), 6 + 8);
    }
    let pcap = d.join("both.pcap");
    let out = sipscope()
        .arg("export")
        .args(args(&pcap))
        .arg("--no-progress")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("two link types") && err.contains(".pcapng"),
        "{err}"
    );
    assert!(!pcap.exists(), "a refused pcap is not left behind");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn fragments_and_tcp_segments_travel_with_their_messages() {
    let d = dir("frag");
    for rel in [
        "irontec_sngrep/ipv6frag.pcap",
        "aboutsip_pkts/fragmented_tcp_sip.pcap",
    ] {
        let Some(original) = capture(rel) else {
            eprintln!("SKIPPED: no corpus");
            return;
        };
        for id in call_ids(&original) {
            let out = d.join("call.pcapng");
            export(&[
                original.to_str().unwrap(),
                "--all",
                "--call-id",
                &id,
                "-o",
                out.to_str().unwrap(),
            ]);
            assert_eq!(
                call_json(&out, &id),
                call_json(&original, &id),
                "{rel} {id}"
            );
            let s = run_ok(
                sipscope()
                    .args(["messages", "--format", "json", "--no-progress"])
                    .arg(&out),
            )
            .0;
            let reassembled = s.matches("\"ip_reassembled\":true").count();
            let before = run_ok(
                sipscope()
                    .args([
                        "messages",
                        "--format",
                        "json",
                        "--no-progress",
                        "--call-id",
                        &id,
                    ])
                    .arg(&original),
            )
            .0;
            assert_eq!(
                reassembled,
                before.matches("\"ip_reassembled\":true").count(),
                "{rel}"
            );
            if tshark_or_skip() {
                assert_eq!(
                    tshark_sip(&out, "sip"),
                    tshark_sip(&original, &format!("sip.Call-ID == \"{id}\"")),
                    "{rel} {id}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_refuses_what_it_cannot_do() {
    for (args, said) in [
        (vec![OUTCOMES, "-o", "x.pcap"], "--call-id ID or a filter"),
        (vec![OUTCOMES, "--call-id", "a", "-o", "x.txt"], "OUT.pcap"),
        (vec![OUTCOMES, "--call-id", "a"], "-o OUT.pcap"),
        (
            vec!["-", "--call-id", "a", "-o", "x.pcap"],
            "standard input",
        ),
    ] {
        let out = sipscope().arg("export").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    let out = sipscope()
        .args(["export", OUTCOMES, "--call-id", "nobody", "-o"])
        .arg(std::env::temp_dir().join("sipscope-export-nobody.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no call with Call-ID nobody"));
}
