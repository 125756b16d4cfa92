//! The output does not depend on the number of threads, nor on TCP segments arriving out of order.

use std::path::Path;

use sipscope::capture::file::FileSource;
use sipscope::capture::Source;
use sipscope::pipeline::PipelineConfig;

use crate::support::{capture, run, run_with};

fn fingerprint(r: &crate::support::Run) -> Vec<String> {
    let mut v: Vec<String> = r
        .messages
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    // Calls and registrations leave the correlators when their time is up, which may fall in
    // different batches; the commands sort them, and so does this comparison.
    let mut calls: Vec<_> = r.calls.iter().collect();
    calls.sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    v.extend(calls.iter().map(|c| serde_json::to_string(c).unwrap()));
    let mut regs: Vec<_> = r.regs.iter().collect();
    regs.sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    v.extend(regs.iter().map(|c| serde_json::to_string(c).unwrap()));
    v
}

#[test]
fn same_output_with_one_and_many_threads() {
    let names = [
        "aboutsip_pkts/sipp.pcap",
        "aboutsip_pkts/fragmented_tcp_sip.pcap",
        "irontec_sngrep/ipv6frag.pcap",
        "irontec_sngrep/aaa.pcap",
        "CESNET_ipfixprobe/sip.pcap",
        "arkime_arkime/arkime_synthetic.pcap",
    ];
    let paths: Vec<_> = names.iter().map(|n| capture(n).unwrap()).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let mut outputs = Vec::new();
    for (workers, correlators, batch) in [(1, 1, 512), (4, 3, 512), (3, 2, 7), (8, 4, 1)] {
        let mut cfg = PipelineConfig {
            workers,
            correlators,
            batch,
            ..PipelineConfig::default()
        };
        cfg.correlator.want_messages = true;
        // Several files in one run, merged in time order.
        let r = run_with(&refs, cfg);
        assert!(r.messages.len() > 100);
        outputs.push(fingerprint(&r));
    }
    for (k, o) in outputs.iter().enumerate().skip(1) {
        assert_eq!(o.len(), outputs[0].len(), "configuration {k}: row count");
        if let Some(i) = (0..o.len()).find(|&i| o[i] != outputs[0][i]) {
            panic!(
                "configuration {k} differs at row {i}:\n  1 thread: {}\n  N threads: {}",
                outputs[0][i], o[i]
            );
        }
    }
}

/// Writes frames as a classic pcap (Ethernet, microseconds).
pub fn write_pcap(path: &Path, frames: &[(i64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, d) in frames {
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000 / 1000) as u32).to_le_bytes());
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
        out.extend_from_slice(d);
    }
    std::fs::write(path, out).unwrap();
}

pub fn read_frames(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let mut src = FileSource::open(path).unwrap();
    let mut v = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        v.push((f.ts.0, f.data.to_vec()));
    }
    v
}

#[test]
fn tcp_segments_out_of_order_give_the_same_messages() {
    // A SIPp call over TCP whose 2.2 KB INVITE spans several segments: deliver every data segment
    // pair swapped, and one segment duplicated (a retransmission), keeping the timestamps ordered.
    let p = capture("aboutsip_pkts/fragmented_tcp_sip.pcap").unwrap();
    let frames = read_frames(&p);
    let baseline = run(&p);
    assert_eq!(baseline.messages.len(), 6);
    // Ethernet + IPv4: addresses and ports at 26..38; TCP payload when the IP packet is longer
    // than its headers.
    let same_dir = |a: &[u8], b: &[u8]| a.get(26..38) == b.get(26..38);
    let has_data = |f: &[u8]| {
        let ip_len = u16::from_be_bytes([f[16], f[17]]) as usize;
        let tcp_hl = ((f[46] >> 4) as usize) * 4;
        ip_len > 20 + tcp_hl
    };
    let mut shuffled = frames.clone();
    let mut swaps = 0;
    let mut i = 0;
    while i + 1 < shuffled.len() {
        let (a, b) = (&shuffled[i].1, &shuffled[i + 1].1);
        if same_dir(a, b) && has_data(a) && has_data(b) {
            let (ta, tb) = (shuffled[i].0, shuffled[i + 1].0);
            shuffled.swap(i, i + 1);
            shuffled[i].0 = ta;
            shuffled[i + 1].0 = tb;
            swaps += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    assert!(swaps >= 2, "only {swaps} swaps");
    let first_data = shuffled.iter().position(|f| has_data(&f.1)).unwrap();
    let dup = shuffled[first_data].clone();
    shuffled.insert(first_data + 2, (shuffled[first_data + 1].0, dup.1));
    let dir = std::env::temp_dir().join(format!("sipscope-ooo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("reordered.pcap");
    write_pcap(&out, &shuffled);
    let r = run(&out);
    let key = |r: &crate::support::Run| -> Vec<(Option<String>, Option<u16>, Option<String>)> {
        r.messages
            .iter()
            .map(|m| {
                (
                    m.method.as_deref().map(str::to_string),
                    m.status,
                    m.call_id.as_deref().map(String::from),
                )
            })
            .collect()
    };
    assert_eq!(key(&r), key(&baseline));
    assert!(r.stats.reassembly.tcp.out_of_order > 0);
    assert_eq!(r.stats.reassembly.framing.cut_by_gap, 0);
    std::fs::remove_dir_all(&dir).ok();
}

/// A live-like source that has every frame ready at once: faster than any analysis.
struct Flood {
    frames: Vec<Vec<u8>>,
    next: usize,
    stats: sipscope::capture::CaptureStats,
}

impl Source for Flood {
    fn next_frame(
        &mut self,
    ) -> Result<Option<sipscope::capture::FrameRef<'_>>, sipscope::capture::CaptureError> {
        let Some(f) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.stats.frames += 1;
        Ok(Some(sipscope::capture::FrameRef {
            ts: sipscope::time::Ts(1_700_000_000_000_000_000 + self.next as i64 * 1000),
            link: sipscope::capture::LinkType::Ethernet,
            data: f,
            orig_len: f.len() as u32,
            shared: None,
        }))
    }

    fn stats(&self) -> sipscope::capture::CaptureStats {
        self.stats.clone()
    }

    fn is_live(&self) -> bool {
        true
    }
}

#[test]
fn a_live_capture_never_waits_for_a_slow_analysis() {
    // 50,000 OPTIONS arrive at once while the sink takes a while over each message: live, the
    // reader drops whole batches rather than wait, and every frame is either analysed or counted
    // as dropped.
    let n = 50_000;
    let frames = (0..n)
        .map(|i| {
            let msg = format!(
                "OPTIONS sip:x@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{i}\r\nFrom: <sip:a@192.0.2.1>;tag={i}\r\nTo: <sip:x@192.0.2.2>\r\nCall-ID: {i}@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            crate::support::build::udp(([192, 0, 2, 1], 5060), ([192, 0, 2, 2], 5060), msg.as_bytes())
        })
        .collect();
    let source = Box::new(Flood {
        frames,
        next: 0,
        stats: Default::default(),
    });
    let mut cfg = PipelineConfig {
        workers: 2,
        correlators: 1,
        batch: 256,
        ..Default::default()
    };
    cfg.correlator.want_messages = true;
    let mut seen = 0u64;
    let stats = sipscope::pipeline::run(
        source,
        &cfg,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        None,
        |o| {
            if let sipscope::correlate::Output::Msg(_) = o {
                seen += 1;
                if seen.is_multiple_of(64) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        },
    )
    .unwrap();
    let dropped = stats.capture.dropped_behind;
    assert!(dropped > 0, "the analysis kept up with {n} frames at once");
    assert_eq!(seen + dropped, n, "every frame analysed or counted");
    let report = sipscope::session::Report {
        run: stats,
        ..Default::default()
    };
    assert!(report
        .warnings()
        .iter()
        .any(|w| w.contains("analysis was behind")));
}

/// A SIP message over TCP from 10.0.0.1:5060 to 10.0.0.2:5060, at sequence number `seq`.
fn tcp_frame(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(5060, 5060, seq, 65535)
        .ack(1)
        .psh()
        .write(&mut out, payload)
        .unwrap();
    out
}

fn options(call_id_line: &str, cseq: u32) -> String {
    format!(
        "OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK{cseq}\r\n\
         From: <sip:a@10.0.0.1>;tag=f{cseq}\r\nTo: <sip:b@10.0.0.2>\r\n{call_id_line}\r\n\
         CSeq: {cseq} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_second_reading_for_a_few_calls_keeps_their_messages_and_numbers() {
    // The report's second reading (`only_calls`) lets other calls' messages go unparsed when their
    // Call-ID is plain to see. Each frame here carries several messages: the wanted ones must
    // keep the number they have in a whole reading, however their Call-ID is written (compact,
    // folded, repeated, odd spacing), and the others must not be kept.
    let segments: Vec<Vec<String>> = vec![
        vec![
            options("Call-ID: other-1", 1),
            options("Call-ID: want-1", 2),
        ],
        vec![
            options("i: other-2", 3),
            options("Call-ID:\r\n want-2", 4),
            options("call-id :  want-1  ", 5),
        ],
        vec![
            options("Call-ID: other-3\r\nCall-ID: want-2", 6),
            options("CALL-ID: want-2", 7),
        ],
        vec![options("Call-ID:\r\n other-4", 8), options("i:want-1", 9)],
        vec![
            "NOT A START LINE\r\n\r\n".to_string(),
            options("Call-ID: want-2", 10),
        ],
    ];
    let mut seq = 1u32;
    let mut frames = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let payload = seg.concat();
        frames.push((
            1_700_000_000_000_000_000 + i as i64 * 1_000_000,
            tcp_frame(seq, payload.as_bytes()),
        ));
        seq += payload.len() as u32;
    }
    let dir = std::env::temp_dir().join(format!("sipscope-only-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("several-per-segment.pcap");
    write_pcap(&p, &frames);
    // Also real captures (UDP, TCP split over segments, IPv6 fragments, SCTP bundles).
    let mut paths = vec![p.clone()];
    for n in [
        "aboutsip_pkts/sipp.pcap",
        "aboutsip_pkts/fragmented_tcp_sip.pcap",
        "irontec_sngrep/ipv6frag.pcap",
        "derived/sctp-sip.pcap",
    ] {
        paths.push(capture(n).unwrap());
    }
    for path in &paths {
        let whole = run(path);
        let mut ids: Vec<String> = whole
            .messages
            .iter()
            .filter_map(|m| m.call_id.as_deref().map(String::from))
            .collect();
        ids.sort();
        ids.dedup();
        // Every other call, and the synthetic capture's two.
        let wanted: std::collections::HashSet<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, c)| i % 2 == 0 || c.starts_with("want-"))
            .filter(|(_, c)| !c.starts_with("other-"))
            .map(|(_, c)| c.clone())
            .collect();
        let mut cfg = PipelineConfig::default();
        cfg.correlator.want_messages = true;
        cfg.only_calls = Some(std::sync::Arc::new(sipscope::pipeline::CallSet::new(
            wanted.iter().map(|c| Box::<[u8]>::from(c.as_bytes())),
        )));
        let some = run_with(&[path.as_path()], cfg);
        let key = |m: &sipscope::correlate::record::MsgRow| {
            (
                m.frame,
                m.msg_in_frame,
                m.call_id.as_deref().map(String::from),
                m.cseq,
            )
        };
        let expected: Vec<_> = whole
            .messages
            .iter()
            .filter(|m| m.call_id.as_deref().is_some_and(|c| wanted.contains(c)))
            .map(key)
            .collect();
        let got: Vec<_> = some.messages.iter().map(key).collect();
        assert!(!expected.is_empty(), "{}", path.display());
        assert_eq!(got, expected, "{}", path.display());
        assert_eq!(
            some.stats.sip_rejected,
            whole.stats.sip_rejected,
            "{}",
            path.display()
        );
    }
    // The synthetic capture: messages 2, 1+3, 2, 2, 2 (the first is not SIP) of each frame.
    let whole = run(&p);
    let numbers: Vec<(u64, u16, Option<String>)> = whole
        .messages
        .iter()
        .map(|m| {
            (
                m.frame,
                m.msg_in_frame,
                m.call_id.as_deref().map(String::from),
            )
        })
        .collect();
    assert!(
        numbers.contains(&(2, 3, Some("want-1".into()))),
        "{numbers:?}"
    );
    assert!(
        numbers.contains(&(5, 1, Some("want-2".into()))),
        "{numbers:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
