//! HEPv3 out and in with real peers: sngrep's HEP listener receives what `monitor --hep-out`
//! sends and tshark counts every SIP message in what it saved; sipscope receives its own HEP
//! (`--hep-listen`) and keeps every message, time and address; a TCP collector that stops
//! reading costs drops (counted and said), never the capture's results. Needs sngrep and tshark
//! (.ci/run installs them); SIPSCOPE_SKIP_LIVE=1 skips, and says so.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::live::{tempdir, tools_or_skip};
use crate::support::{build, repo, run_ok};

fn sipscope(command: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipscope"));
    c.args([command, "--no-progress"]);
    c
}

/// A port free on loopback now (for UDP or TCP).
fn free_port() -> u16 {
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = std::net::TcpListener::bind(u.local_addr().unwrap());
    match t {
        Ok(t) => t.local_addr().unwrap().port(),
        Err(_) => free_port(),
    }
}

/// A child process this test started: stopped by a signal and reaped, and killed if the test
/// fails before that (no sngrep or listener outlives a failed test).
struct Started(Option<Child>);

impl Started {
    /// Sends `signal` (TERM, INT), waits up to 5 s, then kills; returns what it wrote.
    fn signal(mut self, signal: &str) -> std::process::Output {
        let mut c = self.0.take().unwrap();
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &c.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait_with_output().unwrap()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(cmd: &mut Command) -> Started {
    Started(Some(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ))
}

/// (time, Call-ID, CSeq) of every SIP message tshark finds, one per line, in order.
fn tshark_messages(pcap: &Path) -> Vec<String> {
    let (out, _) = run_ok(Command::new("tshark").arg("-r").arg(pcap).args([
        "-Y",
        "sip",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-e",
        "sip.Call-ID",
        "-e",
        "sip.CSeq",
    ]));
    let mut v = Vec::new();
    for l in out.lines() {
        let mut f = l.split('\t');
        let ids: Vec<&str> = f.next().unwrap_or("").split(',').collect();
        let cseqs: Vec<&str> = f.next().unwrap_or("").split(',').collect();
        for (i, c) in ids.iter().zip(cseqs) {
            v.push(format!("{i} {c}"));
        }
    }
    v
}

/// Runs `monitor FILE --hep-out TARGET` (and the extra arguments) to its end.
fn send(file: &Path, target: &str, extra: &[&str]) -> (String, String) {
    run_ok(
        sipscope("monitor")
            .args(["--interval", "1h", "--hep-out", target])
            .args(extra)
            .arg(file),
    )
}

#[test]
fn sngrep_receives_every_sip_message_sipscope_sends() {
    if !tools_or_skip(&["sngrep", "tshark"]) {
        return;
    }
    let dir = tempdir("hep-sngrep");
    // Small samples: UDP has no flow control, and a burst of hundreds of datagrams at a
    // listener starved of CPU (tests run in parallel on two cores) overflows its socket buffer.
    for sample in ["refer-transfer.pcap", "sip-tcp.pcap", "sip_rtp.pcap"] {
        let file = repo().join("samples").join(sample);
        let port = free_port();
        let out = dir.join(format!("{sample}.sngrep.pcap"));
        let sngrep = start(
            Command::new("sngrep")
                .args(["-N", "-q", "-L", &format!("udp:127.0.0.1:{port}"), "-O"])
                .arg(&out),
        );
        std::thread::sleep(Duration::from_millis(800));
        let (_, err) = send(&file, &format!("udp:127.0.0.1:{port}"), &["--hep-id", "7"]);
        std::thread::sleep(Duration::from_millis(800));
        let o = sngrep.signal("TERM");
        assert!(
            out.exists(),
            "{sample}: sngrep saved nothing: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // What sipscope itself reads in the sample: every message, in capture order.
        let (csv, _) = run_ok(sipscope("messages").args(["--format", "csv"]).arg(&file));
        let rows: Vec<Vec<String>> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        let got = tshark_messages(&out);
        assert_eq!(got.len(), rows.len(), "{sample}: {err}");
        // And tshark finds the same messages, in the same order, in the sample itself.
        assert_eq!(got, tshark_messages(&file), "{sample}");
        assert!(!err.contains("not sent"), "{sample}: {err}");
    }
}

/// The messages CSV as (header, rows) with the columns a HEP hop may change set aside:
/// frame numbers (the receiver numbers HEP packets), the transport (`udp+hep3`) and the node.
fn comparable(csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let keep: Vec<usize> = header
        .iter()
        .enumerate()
        // Where the message came from: its frame, its node, and whether IP fragments carried
        // it (the HEP packet carries the message whole).
        .filter(|(_, h)| !matches!(**h, "frame" | "msg_in_frame" | "node" | "ip_reassembled"))
        .map(|(i, _)| i)
        .collect();
    let transport = header.iter().position(|h| *h == "transport").unwrap();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            keep.iter()
                .map(|&i| {
                    let v = c.get(i).copied().unwrap_or("");
                    if i == transport {
                        // HEP says the IP protocol: TLS and WebSocket travelled over TCP.
                        match v.trim_end_matches("+hep3") {
                            "ws" | "wss" | "tls" => "tcp".to_string(),
                            v => v.to_string(),
                        }
                    } else {
                        v.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn node_column(csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let i = header.iter().position(|h| *h == "node").unwrap();
    lines
        .map(|l| l.split(',').nth(i).unwrap_or("").to_string())
        .collect()
}

#[test]
fn round_trip_through_hep_keeps_every_message_time_and_address() {
    if !tools_or_skip(&[]) {
        return;
    }
    // The large sample over TCP (flow-controlled), small ones over UDP (see the sngrep test).
    // Then SIP that had to be put together before it could be sent: IPv6 fragments, and SIP
    // over TLS and over secure WebSocket, decrypted with their key logs (HEP carries the
    // message, not the bytes that carried it).
    let sample = |name: &str| repo().join("samples").join(name);
    let data = |name: &str| repo().join("tests/data").join(name);
    for (transport, file, keys) in [
        ("tcp", sample("kamailio-sipp-outcomes.pcap"), None),
        ("tcp", sample("sip-tcp.pcap"), None),
        ("udp", sample("refer-transfer.pcap"), None),
        ("udp", sample("sip_rtp.pcap"), None),
        ("udp", data("irontec_sngrep/ipv6frag.pcap"), None),
        (
            "tcp",
            data("tls/wss-tls12.pcap"),
            Some(data("tls/wss-tls12.keys")),
        ),
        (
            "udp",
            data("tls/tls13-aes128gcm.pcap"),
            Some(data("tls/tls13-aes128gcm.keys")),
        ),
    ] {
        let sample = file.file_name().unwrap().to_string_lossy().into_owned();
        let key_args: Vec<String> = keys
            .iter()
            .flat_map(|k| ["--tls-keylog".to_string(), k.display().to_string()])
            .collect();
        let key_args: Vec<&str> = key_args.iter().map(String::as_str).collect();
        let port = free_port();
        let listen = format!("{transport}:127.0.0.1:{port}");
        let rx = start(sipscope("messages").args([
            "--format",
            "csv",
            "--duration",
            "60",
            "--hep-listen",
            &listen,
        ]));
        std::thread::sleep(Duration::from_millis(800));
        let mut extra = vec!["--hep-id", "42", "--hep-name", "probe-1"];
        extra.extend(&key_args);
        send(&file, &listen, &extra);
        // Everything sent is in the listener's queue within moments; Ctrl-C ends the run.
        std::thread::sleep(Duration::from_millis(1500));
        let o = rx.signal("INT");
        // Ended by Ctrl-C, as any live capture: 130 (interrupted), or 0 when the listener saw
        // the request before the reader did.
        assert!(
            matches!(o.status.code(), Some(0 | 130)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = String::from_utf8(o.stdout).unwrap();
        let (want, _) = run_ok(
            sipscope("messages")
                .args(["--format", "csv"])
                .args(&key_args)
                .arg(&file),
        );
        assert!(
            want.lines().count() > 2,
            "{sample}: nothing to send\n{want}"
        );
        let (g, w) = (comparable(&got), comparable(&want));
        if let Some(i) = (0..g.len().max(w.len())).find(|&i| g.get(i) != w.get(i)) {
            panic!(
                "{sample} over {transport}: {} messages received, {} sent; first difference at {i}:\n got {:?}\nwant {:?}",
                g.len(),
                w.len(),
                g.get(i),
                w.get(i)
            );
        }
        assert!(node_column(&got).iter().all(|n| n == "42"), "{sample}");
        // Nothing lost on the way (Ctrl-C is said, as on any live capture).
        let err = String::from_utf8_lossy(&o.stderr);
        let lost: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("warning") && !l.contains("interrupted"))
            .collect();
        assert!(lost.is_empty(), "{sample}: {err}");
    }
}

/// A capture of `n` OPTIONS and their 200s, each message padded to about `size` bytes.
fn padded_capture(path: &Path, n: usize, size: usize) {
    let mut frames = Vec::new();
    let pad = "x".repeat(size);
    for i in 0..n {
        let t = 1_700_000_000_000_000_000i64 + i as i64 * 1_000_000;
        let req = format!(
            "OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{i}\r\nFrom: <sip:a@10.0.0.1>;tag={i}\r\nTo: <sip:b@10.0.0.2>\r\nCall-ID: c{i}@x\r\nCSeq: 1 OPTIONS\r\nX-Pad: {pad}\r\nContent-Length: 0\r\n\r\n"
        );
        let resp = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{i}\r\nFrom: <sip:a@10.0.0.1>;tag={i}\r\nTo: <sip:b@10.0.0.2>;tag=r{i}\r\nCall-ID: c{i}@x\r\nCSeq: 1 OPTIONS\r\nX-Pad: {pad}\r\nContent-Length: 0\r\n\r\n"
        );
        frames.push((
            t,
            build::udp(([10, 0, 0, 1], 5060), ([10, 0, 0, 2], 5060), req.as_bytes()),
        ));
        frames.push((
            t + 500_000,
            build::udp(
                ([10, 0, 0, 2], 5060),
                ([10, 0, 0, 1], 5060),
                resp.as_bytes(),
            ),
        ));
    }
    crate::threads::write_pcap(path, &frames);
}

#[test]
fn a_collector_that_stops_reading_costs_counted_drops_not_results() {
    if !tools_or_skip(&[]) {
        return;
    }
    let dir = tempdir("hep-slow");
    let cap = dir.join("padded.pcap");
    // 8000 messages of 4 KB: 32 MB of HEP, more than the kernel's socket buffers hold.
    padded_capture(&cap, 4000, 4000);
    let collector = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp:{}", collector.local_addr().unwrap());
    // The collector accepts (from the kernel's backlog) and never reads.
    let summary = |extra: &[&str]| {
        let json = dir.join(format!("summary-{}.json", extra.len()));
        let t = Instant::now();
        let (out, err) = run_ok(
            sipscope("monitor")
                .args(["--interval", "1s", "--summary-json"])
                .arg(&json)
                .args(extra)
                .arg(&cap),
        );
        (
            std::fs::read_to_string(&json).unwrap(),
            out,
            err,
            t.elapsed(),
        )
    };
    let (plain, plain_out, _, plain_time) = summary(&[]);
    let (with_hep, hep_out, err, hep_time) = summary(&["--hep-out", &target, "--hep-queue", "100"]);
    assert_eq!(with_hep, plain, "the summaries differ");
    assert_eq!(hep_out, plain_out);
    let dropped: u64 = err
        .lines()
        .filter(|l| l.contains("HEP packets not sent") || l.contains("HEP packets still queued"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.parse::<u64>().ok()))
        .sum();
    let sent: u64 = err
        .lines()
        .find(|l| l.contains("sent") && l.contains("HEP packets ("))
        .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap();
    assert!(err.contains("the queue to the collector was full"), "{err}");
    assert_eq!(sent + dropped, 8000, "{err}");
    // The drain at the end waits 2 s at most.
    assert!(
        hep_time < plain_time + Duration::from_secs(4),
        "{hep_time:?} vs {plain_time:?}"
    );
    drop(collector);
}

/// The last record of each call in `calls --all --format json` output (live, a call is printed
/// at its end and again, final, when it closes).
fn calls_by_id(json: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    json.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["call_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn kamailio_siptrace_to_the_listener_gives_the_calls_of_a_tcpdump_capture() {
    if !tools_or_skip(&["sipp", "kamailio", "tcpdump"]) {
        return;
    }
    let _one_at_a_time = crate::live::SCENARIOS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = tempdir("hep-kamailio");
    let port = free_port();
    // The test proxy's configuration, plus siptrace mirroring every message it receives and
    // sends as HEPv3 (trace_mode 1) to sipscope's listener, as capture node 7.
    let cfg = std::fs::read_to_string(repo().join("tests/sipp/kamailio.cfg")).unwrap();
    let siptrace = format!(
        "loadmodule \"auth.so\"\nloadmodule \"siptrace.so\"\n\
         modparam(\"siptrace\", \"duplicate_uri\", \"sip:127.0.0.1:{port}\")\n\
         modparam(\"siptrace\", \"hep_mode_on\", 1)\n\
         modparam(\"siptrace\", \"hep_version\", 3)\n\
         modparam(\"siptrace\", \"hep_capture_id\", 7)\n\
         modparam(\"siptrace\", \"trace_to_database\", 0)\n\
         modparam(\"siptrace\", \"trace_on\", 1)\n\
         modparam(\"siptrace\", \"trace_mode\", 1)"
    );
    assert!(cfg.contains("loadmodule \"auth.so\""));
    let kcfg = dir.join("kamailio-siptrace.cfg");
    std::fs::write(&kcfg, cfg.replace("loadmodule \"auth.so\"", &siptrace)).unwrap();
    let rx = start(
        sipscope("calls")
            .args([
                "--all",
                "--format",
                "json",
                "--duration",
                "120",
                "--hep-listen",
            ])
            .arg(format!("udp:127.0.0.1:{port}")),
    );
    std::thread::sleep(Duration::from_millis(800));
    let scen = Command::new("bash")
        .arg(repo().join("tests/sipp/run-scenarios.sh"))
        .arg("--out")
        .arg(&dir)
        .arg("--tcpdump")
        .arg("--kamailio-cfg")
        .arg(&kcfg)
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let o = rx.signal("INT");
    assert!(
        scen.status.success(),
        "{}",
        String::from_utf8_lossy(&scen.stderr)
    );
    let from_hep = calls_by_id(&String::from_utf8(o.stdout).unwrap());
    let (pcap_json, _) = run_ok(
        sipscope("calls")
            .args(["--all", "--format", "json"])
            .arg(dir.join("capture.pcap")),
    );
    let from_pcap = calls_by_id(&pcap_json);
    assert_eq!(
        from_hep.keys().collect::<Vec<_>>(),
        from_pcap.keys().collect::<Vec<_>>()
    );
    assert!(from_pcap.len() >= 26, "{}", from_pcap.len());
    for (id, h) in &from_hep {
        let p = &from_pcap[id];
        for f in [
            "kind",
            "outcome",
            "final_status",
            "reason",
            "invite_attempts",
            "dialogs",
            "ended_by",
            "from_user",
            "to_user",
            "caller",
            "addresses",
            "legs",
        ] {
            assert_eq!(h[f], p[f], "{id}: {f}");
        }
        // Distinct messages: siptrace mirrors the ACK that tm absorbs (to a negative final
        // response) twice, and sipscope rightly calls the copy a retransmission.
        let distinct = |v: &serde_json::Value| {
            v["messages"].as_u64().unwrap() - v["retransmissions"].as_u64().unwrap()
        };
        assert_eq!(distinct(h), distinct(p), "{id}: messages");
        assert_eq!(h["nodes"], serde_json::json!([7]), "{id}");
        assert_eq!(p["nodes"], serde_json::json!([]), "{id}");
    }
}

/// Every HEP packet a TCP collector receives from `monitor FILE --hep-out tcp:…` (framed by
/// HEP's length), each checked against the chunk sizes of the specification.
fn collect_tcp(file: &Path, extra: &[&str]) -> Vec<Vec<u8>> {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp:{}", l.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        all
    });
    send(file, &target, extra);
    let all = reader.join().unwrap();
    let mut packets = Vec::new();
    let mut at = 0;
    while at < all.len() {
        let n = sipscope::decode::hep::check_chunk_sizes(&all[at..]).unwrap();
        packets.push(all[at..at + n].to_vec());
        at += n;
    }
    packets
}

#[test]
fn quality_rtcp_and_alerts_go_out_with_the_call_id() {
    use sipscope::decode::hep::{parse_hep3, HepPayload};
    if !tools_or_skip(&[]) {
        return;
    }
    let text = |h: &sipscope::decode::hep::Hep<'_>| match h.payload {
        HepPayload::Raw(p) => String::from_utf8_lossy(p).into_owned(),
        _ => panic!("no payload"),
    };
    let packets = collect_tcp(&repo().join("samples/sip_rtp.pcap"), &["--hep-id", "9"]);
    let mut kinds = std::collections::BTreeMap::new();
    for p in &packets {
        let (h, _) = parse_hep3(p).unwrap();
        assert_eq!(h.capture_id, Some(9));
        *kinds.entry(h.proto_type.unwrap()).or_insert(0) += 1;
        if h.proto_type == Some(34) {
            // heplify-server's rtpagent report: the keys its metrics read.
            let v: serde_json::Value = serde_json::from_str(&text(&h)).unwrap();
            assert_eq!(h.correlation_id, Some(&b"1-7879@127.0.0.1"[..]));
            assert_eq!(v["RTP_SIP_CALL_ID"], "1-7879@127.0.0.1");
            for k in ["MOS", "JITTER", "PACKET_LOSS", "DELTA"] {
                assert!(v[k].is_number(), "{k}: {v}");
            }
        }
    }
    // 6 SIP messages, one QoS report per RTP stream of the call (1, as `sipscope rtp` lists).
    assert_eq!(kinds.get(&1), Some(&6), "{kinds:?}");
    assert_eq!(kinds.get(&34), Some(&1), "{kinds:?}");
    // Alerts as logs (type 100), with the Call-ID when they are about a call.
    let packets = collect_tcp(&repo().join("samples/sipp-faults.pcap"), &[]);
    let logs: Vec<(Option<String>, String)> = packets
        .iter()
        .filter_map(|p| {
            let (h, _) = parse_hep3(p).unwrap();
            (h.proto_type == Some(100)).then(|| {
                (
                    h.correlation_id
                        .map(|c| String::from_utf8_lossy(c).into_owned()),
                    text(&h),
                )
            })
        })
        .collect();
    let (alerts, _) = run_ok(
        sipscope("alerts")
            .args(["--format", "json"])
            .arg(repo().join("samples/sipp-faults.pcap")),
    );
    assert_eq!(logs.len(), alerts.lines().count(), "{logs:?}");
    // Each log's correlation id is its alert's Call-ID (none for an endpoint's alert).
    let mut want: Vec<Option<String>> = alerts
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["call_id"].as_str().map(str::to_string)
        })
        .collect();
    let mut have: Vec<Option<String>> = logs.iter().map(|(c, _)| c.clone()).collect();
    want.sort();
    have.sort();
    assert_eq!(have, want);
    assert!(have.iter().any(Option::is_some));
}

/// tshark's fields of every RTCP frame of `pcap`, one map per frame (`occurrence=a`: the values
/// of a field that occurs several times joined by commas).
fn tshark_rtcp(pcap: &Path) -> Vec<std::collections::BTreeMap<&'static str, String>> {
    const FIELDS: [&str; 17] = [
        "frame.time_epoch",
        "ip.src",
        "udp.srcport",
        "ip.dst",
        "udp.dstport",
        "rtcp.pt",
        "rtcp.senderssrc",
        "rtcp.timestamp.ntp.msw",
        "rtcp.timestamp.ntp.lsw",
        "rtcp.timestamp.rtp",
        "rtcp.sender.packetcount",
        "rtcp.sender.octetcount",
        "rtcp.ssrc.fraction",
        "rtcp.ssrc.cum_nr",
        "rtcp.ssrc.ext_high",
        "rtcp.ssrc.jitter",
        "rtcp.ssrc.dlsr",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-Y", "rtcp", "-T", "fields", "-E", "occurrence=a"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let (out, _) = run_ok(&mut cmd);
    out.lines()
        .map(|l| {
            FIELDS
                .iter()
                .copied()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn every_rtcp_report_goes_out_as_type_5_with_its_time_addresses_and_call_id() {
    use sipscope::decode::hep::{parse_hep3, HepPayload};
    let Some(corpus) = crate::support::corpus() else {
        assert!(
            std::env::var("CI").is_err(),
            "the shared corpus is missing under CI"
        );
        eprintln!("SKIPPED: no shared corpus (set SIPSCOPE_CORPUS)");
        return;
    };
    if !tools_or_skip(&["tshark"]) {
        return;
    }
    // One call (BV32 and PCMU) whose endpoints send an SR or RR with SDES every few seconds,
    // on the RTP ports + 1.
    let pcap = corpus.join("pcaps/goffinet_sip_captures/Forensic_challenge_4.pcap");
    let want = tshark_rtcp(&pcap);
    let (sdp, _) = run_ok(Command::new("tshark").arg("-r").arg(&pcap).args([
        "-Y",
        "sdp",
        "-T",
        "fields",
        "-e",
        "sip.Call-ID",
    ]));
    let calls: std::collections::BTreeSet<&str> = sdp.lines().collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call_id = *calls.iter().next().unwrap();
    assert!(want.len() >= 20, "tshark finds {} RTCP frames", want.len());

    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let target = format!("udp:{}", rx.local_addr().unwrap());
    let (_, err) = send(&pcap, &target, &[]);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    // Every packet was sent before `monitor` exited; the socket's buffer holds them (~45).
    while let Ok(n) = rx.recv(&mut buf) {
        sipscope::decode::hep::check_chunk_sizes(&buf[..n]).unwrap();
        let (h, _) = parse_hep3(&buf[..n]).unwrap();
        if h.proto_type == Some(5) {
            let HepPayload::Raw(p) = h.payload else {
                panic!("no payload")
            };
            let json: serde_json::Value = serde_json::from_slice(p).unwrap();
            got.push((
                h.ts_sec.unwrap(),
                h.ts_usec.unwrap(),
                format!("{}:{}", h.src.unwrap(), h.src_port.unwrap()),
                format!("{}:{}", h.dst.unwrap(), h.dst_port.unwrap()),
                h.correlation_id
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
                h.ip_proto,
                json,
            ));
        }
        if got.len() == want.len() && h.proto_type == Some(5) {
            // Keep reading: more type-5 packets than tshark's frames would be a fault too.
            rx.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
    }
    assert_eq!(got.len(), want.len(), "{err}");
    let num = |s: &str| -> u64 { s.parse().unwrap_or_else(|_| panic!("{s:?}")) };
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let (sec, usec, src, dst, cid, proto, v) = g;
        // Chunks 9/10: the frame's own capture time (to the microsecond HEP carries).
        let (ws, wf) = w["frame.time_epoch"].split_once('.').unwrap();
        assert_eq!(
            (u64::from(*sec), u64::from(*usec)),
            (num(ws), num(&wf[..6])),
            "{w:?}"
        );
        assert_eq!(src, &format!("{}:{}", w["ip.src"], w["udp.srcport"]));
        assert_eq!(dst, &format!("{}:{}", w["ip.dst"], w["udp.dstport"]));
        assert_eq!(cid.as_deref(), Some(call_id));
        assert_eq!(*proto, Some(17));
        // The report, field by field as tshark decodes it.
        let pts: Vec<&str> = w["rtcp.pt"].split(',').collect();
        assert_eq!(v["type"].to_string(), pts[0], "{v}");
        assert_eq!(v["ssrc"].as_u64(), Some(hex(&w["rtcp.senderssrc"])));
        let si = &v["sender_information"];
        if pts[0] == "200" {
            for (k, f) in [
                ("ntp_timestamp_sec", "rtcp.timestamp.ntp.msw"),
                ("ntp_timestamp_usec", "rtcp.timestamp.ntp.lsw"),
                ("rtp_timestamp", "rtcp.timestamp.rtp"),
                ("packets", "rtcp.sender.packetcount"),
                ("octets", "rtcp.sender.octetcount"),
            ] {
                assert_eq!(si[k].as_u64(), Some(num(&w[f])), "{k}: {v}");
            }
        } else {
            assert_eq!(si["packets"], 0);
        }
        let blocks = v["report_blocks"].as_array().unwrap();
        let col =
            |f: &str| -> Vec<u64> { w[f].split(',').filter(|s| !s.is_empty()).map(num).collect() };
        assert_eq!(blocks.len(), col("rtcp.ssrc.ext_high").len(), "{v}");
        for (k, f) in [
            ("fraction_lost", "rtcp.ssrc.fraction"),
            ("packets_lost", "rtcp.ssrc.cum_nr"),
            ("highest_seq_no", "rtcp.ssrc.ext_high"),
            ("ia_jitter", "rtcp.ssrc.jitter"),
            ("dlsr", "rtcp.ssrc.dlsr"),
        ] {
            let have: Vec<u64> = blocks.iter().map(|b| b[k].as_u64().unwrap()).collect();
            assert_eq!(have, col(f), "{k}: {v}");
        }
    }
}
