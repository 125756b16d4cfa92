//! SIP inside GTP-U tunnels (TS 29.281), against tshark's reading of the same capture.
//!
//! No public capture with SIP over GTP-U could be found whose licence allows copying it here (the
//! searched ones, nDPI's and nokia/pcaptoparquet's GTP captures, carry no SIP: real VoLTE SIP in
//! GTP-U is mostly IPsec-protected), so the capture is built here from real ones: every frame of
//! three public SIP captures (IPv4 UDP with RTP, a TCP call whose INVITE spans segments, IPv6 with
//! fragment headers) has its IP packet put in a G-PDU, the GTP-U header cycling through every
//! shape (plain; sequence number; a chain of two extension headers; E, S and PN together), under
//! Ethernet + 802.1Q or Ethernet + MPLS, with echo request/response and an end marker between.
//! `tests/data/derived/gtpu-sip.tsv` is tshark 4.0.17's reading of that generated file
//! (`tshark -r F -Y sip -T fields -e frame.number -e sip.Method -e sip.Status-Code -e sip.Call-ID
//! -e sip.CSeq`); when tshark is installed the test also runs it on the file it generated and
//! checks it still reads the same, and that it reports no malformed packet.

use std::path::Path;

use sipscope::capture::file::FileSource;
use sipscope::capture::{LinkType, Source};

use crate::support::{repo, run};
use crate::threads::write_pcap;

/// One GTP-U header shape, chosen by the frame's position.
fn gtp_header(i: usize, teid: u32, uplink: bool, payload_len: usize, msg_type: u8) -> Vec<u8> {
    let mut opt: Vec<u8> = Vec::new();
    let flags = match i % 4 {
        0 => 0x30,
        1 => {
            opt.extend_from_slice(&(i as u16).to_be_bytes());
            opt.extend_from_slice(&[0, 0]);
            0x32
        }
        2 => {
            // PDCP PDU number (0xC0, one word) then a PDU session container (0x85, one word).
            opt.extend_from_slice(&[0, 0, 0, 0xc0]);
            opt.extend_from_slice(&[1, (i >> 8) as u8, i as u8, 0x85]);
            opt.extend_from_slice(&[1, if uplink { 0x10 } else { 0x00 }, 0x09, 0]);
            0x34
        }
        _ => {
            opt.extend_from_slice(&(i as u16).to_be_bytes());
            opt.extend_from_slice(&[(i % 256) as u8, 0x85]);
            opt.extend_from_slice(&[1, if uplink { 0x10 } else { 0x00 }, 0x05, 0]);
            0x37
        }
    };
    let mut h = vec![flags, msg_type];
    h.extend_from_slice(&((opt.len() + payload_len) as u16).to_be_bytes());
    h.extend_from_slice(&teid.to_be_bytes());
    h.extend_from_slice(&opt);
    h
}

fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = {
        let mut s: u32 = 0;
        for c in ip.chunks(2) {
            s += u16::from_be_bytes([c[0], c[1]]) as u32;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    ip.extend_from_slice(payload);
    ip
}

/// Ethernet with an 802.1Q tag, or with one MPLS label, around an IPv4 packet.
fn outer(mpls: bool, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x66, 0x77, 0x88, 0x99, 0xaa,
    ];
    if mpls {
        f.extend_from_slice(&[0x88, 0x47, 0x00, 0x3e, 0x81, 0x40]); // label 1000, bottom, TTL 64
    } else {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]); // VLAN 100
    }
    f.extend_from_slice(ip);
    f
}

const ENB: [u8; 4] = [192, 0, 2, 10];
const SGW: [u8; 4] = [198, 51, 100, 20];

/// The GTP-U capture (see the module docs), as (time in ns, Ethernet frame), and the number of
/// distinct TEIDs its G-PDUs carry.
pub fn gtpu_capture() -> (Vec<(i64, Vec<u8>)>, usize) {
    let mut teids = std::collections::BTreeSet::new();
    let sources = [
        ("tests/data/aboutsip_pkts/sip_rtp.pcap", false),
        ("tests/data/aboutsip_pkts/fragmented_tcp_sip.pcap", false),
        ("tests/data/irontec_sngrep/ipv6frag.pcap", true),
    ];
    let mut out: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut t = 1_700_000_000_000_000_000i64;
    let mut i = 0usize;
    for (n, (rel, mpls)) in sources.iter().enumerate() {
        let mut src = FileSource::open(&repo().join(rel)).unwrap();
        let mut first: Option<(i64, Vec<u8>)> = None;
        let mut last = t;
        while let Some(f) = src.next_frame().unwrap() {
            let ip = match f.link {
                LinkType::Ethernet => &f.data[14..],
                LinkType::LinuxSll => &f.data[16..],
                l => panic!("{rel}: link {l:?}"),
            };
            // The UE is the source of the capture's first packet: its packets go uplink.
            let addr = |ip: &[u8]| -> Vec<u8> {
                if ip[0] >> 4 == 4 {
                    ip[12..16].to_vec()
                } else {
                    ip[8..24].to_vec()
                }
            };
            let (t0, ue) = first.get_or_insert_with(|| (f.ts.0, addr(ip))).clone();
            let uplink = addr(ip) == ue;
            let ts = t + (f.ts.0 - t0);
            last = ts;
            let teid = 0x1000_0000 * (n as u32 + 1) + if uplink { 1 } else { 2 };
            teids.insert(teid);
            let mut gtp = gtp_header(i, teid, uplink, ip.len(), 0xff);
            gtp.extend_from_slice(ip);
            let (s, d) = if uplink { (ENB, SGW) } else { (SGW, ENB) };
            out.push((ts, outer(*mpls, &ipv4_udp(s, d, 2152, 2152, &gtp))));
            i += 1;
            if i == 3 {
                // Echo request and response between the tunnel ends (no user data).
                let mut req = vec![0x32, 0x01, 0, 4, 0, 0, 0, 0];
                req.extend_from_slice(&[0, 7, 0, 0]);
                out.push((
                    ts + 1000,
                    outer(false, &ipv4_udp(ENB, SGW, 2152, 2152, &req)),
                ));
                let mut resp = vec![0x32, 0x02, 0, 6, 0, 0, 0, 0];
                resp.extend_from_slice(&[0, 7, 0, 0, 14, 0]);
                out.push((
                    ts + 2000,
                    outer(false, &ipv4_udp(SGW, ENB, 2152, 2152, &resp)),
                ));
            }
        }
        // An end marker closes each tunnel (after a handover, say).
        let teid = 0x1000_0000 * (n as u32 + 1) + 2;
        let em = gtp_header(0, teid, false, 0, 0xfe);
        out.push((
            last + 1000,
            outer(*mpls, &ipv4_udp(SGW, ENB, 2152, 2152, &em)),
        ));
        t = last + 1_000_000_000;
    }
    (out, teids.len())
}

/// A directory of its own under the system's temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("sipscope-gtpu-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tshark's `frame method-or-status Call-ID CSeq` rows (one per SIP message).
fn truth_rows(text: &str) -> Vec<(u64, String, String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let what = if c[1].is_empty() { c[2] } else { c[1] };
            (
                c[0].parse().unwrap(),
                what.to_string(),
                c[3].to_string(),
                c[4].to_string(),
            )
        })
        .collect()
}

fn tshark(file: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn sip_inside_gtp_u_matches_tshark() {
    let dir = TempDir::new("match");
    let file = dir.0.join("gtpu-sip.pcap");
    let (frames, teids) = gtpu_capture();
    write_pcap(&file, &frames);
    if let Ok(keep) = std::env::var("SIPSCOPE_KEEP_GTPU") {
        std::fs::copy(&file, keep).unwrap();
    }
    let truth_text =
        std::fs::read_to_string(repo().join("tests/data/derived/gtpu-sip.tsv")).unwrap();
    let truth = truth_rows(&truth_text);
    assert!(truth.len() >= 40, "{} rows", truth.len());
    match tshark(
        &file,
        &[
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq",
        ],
    ) {
        Some(now) => {
            assert_eq!(
                truth_rows(&now),
                truth,
                "tshark reads the generated file differently"
            );
            let bad = tshark(
                &file,
                &["-Y", "_ws.malformed || _ws.expert.severity >= error"],
            )
            .unwrap();
            assert!(bad.trim().is_empty(), "tshark finds damage: {bad}");
        }
        None => eprintln!("tshark not installed: compared with the committed truth only"),
    }
    let r = run(&file);
    let ours: Vec<(u64, String, String, String)> = r
        .messages
        .iter()
        .map(|m| {
            (
                m.frame,
                m.method
                    .as_deref()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.status.map(|s| s.to_string()).unwrap_or_default()),
                m.call_id.as_deref().unwrap_or_default().to_string(),
                format!(
                    "{} {}",
                    m.cseq.map(|c| c.to_string()).unwrap_or_default(),
                    m.cseq_method.clone().unwrap_or_default()
                ),
            )
        })
        .collect();
    assert_eq!(ours, truth);
    let g = &r.stats.decode.gtpu;
    let echo_and_end_markers = 2 + 3;
    assert_eq!(g.not_gpdu, echo_and_end_markers);
    assert_eq!(
        g.decoded as usize,
        frames.len() - echo_and_end_markers as usize
    );
    assert_eq!((g.malformed, g.teids_untracked), (0, 0));
    assert_eq!(g.teids.len(), teids);
    assert!(
        teids >= 5,
        "an uplink and a downlink TEID per capture, but for one-way ones"
    );
    assert!(
        r.messages.iter().any(|m| m.ip_reassembled),
        "IPv6 fragments inside the tunnel"
    );
    // The calls are whole: RTP inside the tunnel joined to the call of sip_rtp.pcap.
    assert!(r.calls.iter().all(|c| c.outcome.is_some()));
}

#[test]
fn gtp_u_counts_show_in_stats() {
    let dir = TempDir::new("stats");
    let file = dir.0.join("gtpu-sip.pcap");
    let (frames, teids) = gtpu_capture();
    write_pcap(&file, &frames);
    let (_, err) = crate::support::sipscope_ok(&["calls", "--stats"], &file);
    let stat = |k: &str| crate::support::stat(&err, k);
    assert_eq!(stat("decode.gtpu.teids"), Some(teids.to_string()), "{err}");
    assert_eq!(stat("decode.gtpu.not_gpdu").as_deref(), Some("5"));
    assert_eq!(stat("decode.gtpu.malformed").as_deref(), Some("0"));
}
