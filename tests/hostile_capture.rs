//! Hostile captures of ../shared/adversarial against the capture readers (pcap, pcapng, NetMon)
//! and capture time: each once lost frames silently, stamped them wrong, or took memory on a
//! header's word.

use std::io::Read;
use std::path::{Path, PathBuf};

use sipscope::capture::file::FileSource;
use sipscope::capture::Source;

/// A capture of ../shared/adversarial; None (skipped, said) only outside CI when the folder is
/// absent.
fn adversarial(name: &str) -> Option<PathBuf> {
    let dir = crate::support::repo().join("../shared/adversarial");
    if !dir.exists() {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "CI has ../shared beside the clone: {} is missing",
            dir.display()
        );
        eprintln!("SKIPPED: ../shared/adversarial not present");
        return None;
    }
    Some(dir.join(name))
}

/// Every frame of a capture file: (time in ns, length), and the source's statistics.
fn frames(path: &Path) -> (Vec<(i64, usize)>, sipscope::capture::CaptureStats) {
    let mut src = FileSource::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        out.push((f.ts.0, f.data.len()));
    }
    (out, src.stats())
}

/// ng_bad_ifid.pcapng: four EPBs naming interfaces 0, 1, 7 and 0 of a file that declares one.
/// The two strays have no known link type: skipped, but counted and said (they vanished).
#[test]
fn pcapng_packets_of_undeclared_interfaces_are_counted_and_said() {
    let Some(p) = adversarial("ng_bad_ifid.pcapng") else {
        return;
    };
    let (f, st) = frames(&p);
    assert_eq!(f.len(), 2);
    assert_eq!(st.unknown_interface, 2);
    let (out, err) = crate::support::sipscope_ok(&["messages", "--stats"], &p);
    assert!(out.contains("ifid-0-frame1@x") && out.contains("ifid-0-frame4@x"));
    assert!(!out.contains("ifid-1-frame2@x") && !out.contains("ifid-7-frame3@x"));
    assert!(
        err.contains("2 pcapng packets skipped: they name an interface the file never declared"),
        "{err}"
    );
    assert_eq!(
        crate::support::stat(&err, "capture.unknown_interface").as_deref(),
        Some("2"),
        "--stats: {err}"
    );
}

/// ng_tsresol_pow2.pcapng: if_tsresol = 0x94 (2^-20 s). pcap-parser reads every 2^-n unit as
/// None (docs/upstream/pcap-parser-tsresol.md), which was then taken for microseconds:
/// 2026-06-27 and +1.048576 s. `tshark -T fields -e frame.time_epoch` says 1700000000.000000000
/// and 1700000001.000000000.
#[test]
fn pcapng_binary_time_resolution_is_read_exactly() {
    let Some(p) = adversarial("ng_tsresol_pow2.pcapng") else {
        return;
    };
    let (f, st) = frames(&p);
    let ts: Vec<i64> = f.iter().map(|x| x.0).collect();
    assert_eq!(ts, [1_700_000_000_000_000_000, 1_700_000_001_000_000_000]);
    assert_eq!(st.bad_tsresol, 0);
    let (out, _) = crate::support::sipscope_ok(&["messages"], &p);
    assert!(out.contains("2023-11-14T22:13:20.000000Z"), "{out}");
    assert!(out.contains("2023-11-14T22:13:21.000000Z"), "{out}");
}

/// The pcapng units in both forms and if_tsoffset, in both byte orders, against values worked
/// out by hand (and by tshark for the 2^-20 and 10^-9 cases).
#[test]
fn pcapng_time_units_and_offsets() {
    use sipscope::capture::file::TsResolution as R;
    let t = |r: R, raw: u64, off: i64| r.to_ts(raw, off).0;
    assert_eq!(R::from_option(0x94), Some(R::Binary(20)));
    assert_eq!(R::from_option(6), Some(R::Decimal(6)));
    assert_eq!(R::from_option(20), None);
    assert_eq!(R::from_option(0x80 | 64), None);
    assert_eq!(R::from_option(0x80 | 63), Some(R::Binary(63)));
    // 2^-20: 1.5 s and one tick (953.67431640625 ns, truncated).
    assert_eq!(t(R::Binary(20), (3 << 19) + 1, 0), 1_500_000_953);
    assert_eq!(t(R::Binary(0), 7, 0), 7_000_000_000);
    assert_eq!(t(R::Binary(63), u64::MAX, 0), 1_999_999_999);
    assert_eq!(
        t(R::Decimal(9), 1_700_000_000_123_456_789, 0),
        1_700_000_000_123_456_789
    );
    assert_eq!(t(R::Decimal(0), 5, -2), 3_000_000_000);
    assert_eq!(t(R::Decimal(19), u64::MAX, 0), 1_844_674_407);

    // One IDB with if_tsresol 2^-10 and if_tsoffset 100 s, in each byte order.
    for be in [false, true] {
        let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let block = |ty: u32, body: &[u8]| {
            let mut body = body.to_vec();
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
            let len = 12 + body.len() as u32;
            let mut b = u32b(ty).to_vec();
            b.extend_from_slice(&u32b(len));
            b.extend_from_slice(&body);
            b.extend_from_slice(&u32b(len));
            b
        };
        let mut shb = u32b(0x1A2B_3C4D).to_vec();
        shb.extend_from_slice(&u16b(1));
        shb.extend_from_slice(&u16b(0));
        shb.extend_from_slice(&[0xff; 8]);
        let mut idb = u16b(1).to_vec();
        idb.extend_from_slice(&u16b(0));
        idb.extend_from_slice(&u32b(65535));
        idb.extend_from_slice(&u16b(9));
        idb.extend_from_slice(&u16b(1));
        idb.extend_from_slice(&[0x8a, 0, 0, 0]);
        idb.extend_from_slice(&u16b(14));
        idb.extend_from_slice(&u16b(8));
        idb.extend_from_slice(&if be {
            100i64.to_be_bytes()
        } else {
            100i64.to_le_bytes()
        });
        idb.extend_from_slice(&[0; 4]);
        let frame = [0u8; 60];
        let raw: u64 = (1_700_000_000 << 10) + 512; // + 0.5 s
        let mut epb = u32b(0).to_vec();
        epb.extend_from_slice(&u32b((raw >> 32) as u32));
        epb.extend_from_slice(&u32b(raw as u32));
        epb.extend_from_slice(&u32b(60));
        epb.extend_from_slice(&u32b(60));
        epb.extend_from_slice(&frame);
        let mut file = block(0x0A0D_0D0A, &shb);
        file.extend(block(1, &idb));
        file.extend(block(6, &epb));
        let mut src = FileSource::from_reader(
            Path::new("mem.pcapng"),
            Box::new(std::io::Cursor::new(file)),
            0,
        )
        .unwrap();
        let f = src.next_frame().unwrap().expect("one frame");
        assert_eq!(f.ts.0, 1_700_000_100_500_000_000, "big-endian: {be}");
    }
}

/// time_warp_ns.pcap: nanosecond pcap with sub-second fields 999,999,999 and 0xffffffff.
/// time_warp.pcap: µs pcap with ts_usec 5,000,000 and 0xffffffff. The excess was carried into
/// the following seconds (+4.29 s, +71 min); it is clamped to its second and counted.
#[test]
fn pcap_sub_second_fields_out_of_range_are_clamped_and_said() {
    let Some(p) = adversarial("time_warp_ns.pcap") else {
        return;
    };
    let (f, st) = frames(&p);
    let ts: Vec<i64> = f.iter().map(|x| x.0).collect();
    assert_eq!(
        ts,
        [
            1_700_000_000_999_999_999,
            1_700_000_000_999_999_999,
            0x7fff_ffff * 1_000_000_000 + 999_999_999
        ]
    );
    assert_eq!(st.bad_subsecond, 2);
    let (_, err) = crate::support::sipscope_ok(&["messages"], &p);
    assert!(
        err.contains("2 frames with an out-of-range sub-second time field"),
        "{err}"
    );

    let p = adversarial("time_warp.pcap").unwrap();
    let (f, st) = frames(&p);
    assert_eq!(st.bad_subsecond, 2);
    assert_eq!(f[5].0, 1_700_000_001_999_999_000, "ACK, ts_usec 5,000,000");
    assert_eq!(f[6].0, 1_700_000_000_999_999_000, "BYE, ts_usec 0xffffffff");
}

/// A pcap (and a pcapng) whose one record claims 200 MiB, followed by 100 bytes and the end:
/// the buffer was grown and zero-filled to the claim before a byte of it arrived (265 MiB of
/// RSS for a 140-byte file, the fuzz findings slow-bigrec-*). It now grows only when full of
/// real bytes, and the run ends with "truncated".
#[test]
fn a_record_claiming_200_mib_costs_only_the_bytes_that_arrive() {
    let claim: u32 = 200 << 20;
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1, 1_700_000_000, 0, claim, claim] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    pcap.extend_from_slice(&[0u8; 100]);
    assert_eq!(pcap.len(), 140);

    let mut ng = Vec::new();
    let le = |v: u32| v.to_le_bytes();
    ng.extend_from_slice(&le(0x0A0D_0D0A));
    ng.extend_from_slice(&le(28));
    ng.extend_from_slice(&le(0x1A2B_3C4D));
    ng.extend_from_slice(&[1, 0, 0, 0]);
    ng.extend_from_slice(&[0xff; 8]);
    ng.extend_from_slice(&le(28));
    ng.extend_from_slice(&le(1));
    ng.extend_from_slice(&le(20));
    ng.extend_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0, 0]);
    ng.extend_from_slice(&le(20));
    ng.extend_from_slice(&le(6));
    ng.extend_from_slice(&le(claim));
    ng.extend_from_slice(&[0u8; 100]);

    for (name, file) in [("bigrec.pcap", pcap), ("bigrec.pcapng", ng)] {
        // A reader that hands out at most 7 bytes a call, as a pipe or a gzip stream may.
        struct Trickle(std::io::Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(7);
                self.0.read(&mut buf[..n])
            }
        }
        for trickle in [false, true] {
            let input: Box<dyn Read + Send> = if trickle {
                Box::new(Trickle(std::io::Cursor::new(file.clone())))
            } else {
                Box::new(std::io::Cursor::new(file.clone()))
            };
            let mut src = FileSource::from_reader(Path::new(name), input, 0).unwrap();
            assert!(src.next_frame().unwrap().is_none(), "{name}");
            assert!(
                src.buffer_capacity() <= 1 << 20,
                "{name}: buffer grew to {} for 140 bytes",
                src.buffer_capacity()
            );
            let st = src.stats();
            assert_eq!(st.stopped_early.len(), 1, "{name}");
            assert!(
                st.stopped_early[0].contains("truncated"),
                "{name}: {:?}",
                st.stopped_early
            );
        }
    }
}

/// A record that really is large still grows the buffer as far as it needs (and no further).
#[test]
fn a_large_record_that_is_there_is_read_whole() {
    let len: u32 = 3 << 20;
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, len, 1] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..2u32 {
        for v in [1_700_000_000 + i, 0, len, len] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend(std::iter::repeat_n(i as u8 + 1, len as usize));
    }
    let mut src = FileSource::from_reader(
        Path::new("big.pcap"),
        Box::new(std::io::Cursor::new(pcap)),
        0,
    )
    .unwrap();
    for i in 0..2u8 {
        let f = src.next_frame().unwrap().expect("frame");
        assert_eq!(f.data.len(), len as usize);
        assert!(f.data.iter().all(|&b| b == i + 1));
    }
    assert!(src.next_frame().unwrap().is_none());
    assert!(src.stats().stopped_early.is_empty());
    assert_eq!(src.buffer_capacity(), 4 << 20);
}

/// Peak RSS in KiB of `sipscope ARGS FILE --no-progress`, measured for that child alone
/// (wait4), with its stderr.
// The child is reaped by wait4, which std does not see.
#[allow(clippy::zombie_processes)]
fn peak_rss_kib(args: &[&str], file: &Path) -> (i64, String) {
    // The peak as the run itself reads it (VmHWM, `--stats`): wait4's ru_maxrss of a spawned
    // child also counts the test process's own image from before the exec, which a loaded
    // test binary makes larger than the bounds checked here.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(args)
        .arg(file)
        .args(["--no-progress", "--stats"])
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let rss = crate::support::stat(&err, "process.peak_rss_kib")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no process.peak_rss_kib in --stats: {err}"));
    (rss, err)
}

/// netmon_bomb (gen_captures.py): a gzip'd NetMon header with an empty frame table, followed
/// by 192 MiB of zeros (the shared 913 KB one has 896 MiB: 969 MiB of RSS, said nothing). The
/// file was inflated whole into memory; only what precedes the end of the frame table is kept
/// now, and the absurd rest is counted and said.
#[test]
fn gzipped_netmon_bomb_is_not_inflated_into_memory() {
    let Some(gen) = adversarial("gen_captures.py") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("sipscope-netmon-bomb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bomb = dir.join("bomb192.cap.gz");
    let ok = std::process::Command::new("python3")
        .arg(&gen)
        .args(["netmon_bomb"])
        .arg(&bomb)
        .arg("3")
        .status()
        .unwrap();
    assert!(ok.success());
    let (rss, err) = peak_rss_kib(&["calls"], &bomb);
    std::fs::remove_dir_all(&dir).ok();
    // The debug binary alone takes ~30 MiB, and up to twice that when the allocator's
    // segments land on huge pages; inflating the bomb whole took at least its 192 MiB more.
    assert!(
        rss < 128 << 10,
        "peak RSS {rss} KiB for a 192 MiB NetMon bomb"
    );
    assert!(
        err.contains("the NetMon frame table lists no frames"),
        "{err}"
    );
    assert!(
        err.contains("201326592 bytes past the end of a NetMon file's frame table skipped"),
        "{err}"
    );
}

/// A NetMon 2.0 file: `n` Ethernet frames of `size` bytes after a 128-byte header, then the
/// frame table.
fn netmon_file(n: u32, size: usize) -> Vec<u8> {
    let mut f = b"GMBU".to_vec();
    f.extend_from_slice(&[0, 2, 1, 0]);
    for v in [2020u16, 1, 3, 1, 0, 0, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.resize(128, 0);
    let mut table = Vec::new();
    for i in 0..n {
        table.push(f.len() as u32);
        f.extend_from_slice(&(u64::from(i) * 1000).to_le_bytes());
        f.extend_from_slice(&(size as u32).to_le_bytes());
        f.extend_from_slice(&(size as u32).to_le_bytes());
        f.extend(std::iter::repeat_n(i as u8, size));
    }
    let at = f.len() as u32;
    for t in &table {
        f.extend_from_slice(&t.to_le_bytes());
    }
    f[24..28].copy_from_slice(&at.to_le_bytes());
    f[28..32].copy_from_slice(&(table.len() as u32 * 4).to_le_bytes());
    f
}

/// The three ways a NetMon file is read give the same frames: in place (a plain file, seeking),
/// spooled to memory (a small stream) and spooled to a temporary file (a stream past 8 MiB).
/// A frame table that runs past the end of the stream is an error that says so.
#[test]
fn netmon_in_place_and_spooled_agree() {
    for (n, size) in [(3u32, 60usize), (300, 30_000)] {
        let data = netmon_file(n, size);
        let dir = std::env::temp_dir().join(format!("sipscope-netmon-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("x.cap");
        std::fs::write(&plain, &data).unwrap();
        let (a, sa) = frames(&plain);
        std::fs::remove_dir_all(&dir).ok();
        let mut src = FileSource::from_reader(
            Path::new("x.cap"),
            Box::new(std::io::Cursor::new(data.clone())),
            0,
        )
        .unwrap();
        let mut b = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            assert!(f.data.iter().all(|&x| x == b.len() as u8));
            b.push((f.ts.0, f.data.len()));
        }
        assert_eq!(a.len(), n as usize);
        assert_eq!(a, b);
        assert_eq!(a[1].0 - a[0].0, 1_000_000, "1000 µs apart");
        assert!(sa.stopped_early.is_empty() && src.stats().stopped_early.is_empty());
        assert_eq!(sa.skipped_bytes + src.stats().skipped_bytes, 0);

        // The stream ends before the frame table does.
        let cut = data[..data.len() - 2].to_vec();
        let e =
            FileSource::from_reader(Path::new("cut.cap"), Box::new(std::io::Cursor::new(cut)), 0)
                .err()
                .expect("a truncated frame table is an error");
        assert!(e.to_string().contains("NetMon capture truncated"), "{e}");
    }
}

/// The NetMon sample of the corpus, gzip'd, reads as the plain file does.
#[test]
fn gzipped_netmon_sample_matches_the_plain_file() {
    let Some(p) = crate::support::capture("realjimmy_sample-captures/c07-sip-r2.cap") else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let data = std::fs::read(&p).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &data).unwrap();
    let gz = gz.finish().unwrap();
    let (a, _) = frames(&p);
    let mut src = FileSource::from_reader(
        Path::new("c07.cap.gz"),
        Box::new(std::io::Cursor::new(gz)),
        0,
    )
    .unwrap();
    let mut b = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        b.push((f.ts.0, f.data.len()));
    }
    assert_eq!(a.len(), 39);
    assert_eq!(a, b);
}

/// `sipscope calls --format json FILE` as JSON values, with stderr.
fn calls_json(file: &Path) -> (Vec<serde_json::Value>, String) {
    let (out, err) = crate::support::sipscope_ok(&["calls", "--format", "json"], file);
    let calls = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (calls, err)
}

/// time_warp.pcap: one call whose 100 Trying is stamped 10 years back, 180 in 1987, 183 at the
/// epoch, 200 OK in 2106, RTP jumping 5 years back. It gave a PDD of −1,141,367,296 s, one
/// INVITE split into two call records (ASR 50 %) and 30,000 empty daily load rows; only one
/// warp was said. Now: one call, answered; what would be measured from a warped frame is absent;
/// the messages keep their own stamps on display; every warp is said.
#[test]
fn time_warps_neither_split_a_call_nor_make_spans_wrong() {
    let Some(p) = adversarial("time_warp.pcap") else {
        return;
    };
    let (calls, err) = calls_json(&p);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(c["call_id"], "warp@x");
    assert_eq!(c["outcome"], "answered");
    assert_eq!(c["final_status"], 200);
    assert!(c["pdd"].is_null(), "PDD from a warped 180: {}", c["pdd"]);
    assert!(
        c["setup_time"].is_null(),
        "setup to a warped 200: {}",
        c["setup_time"]
    );
    assert!(
        c["talk_time"].is_null(),
        "talk from a warped 200: {}",
        c["talk_time"]
    );
    let d = c["duration"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&d), "duration {d}");
    assert_eq!(c["start"], "2023-11-14T22:13:20.000000Z");
    for said in [
        "1 frames stamped more than an hour ahead of the rest",
        "8 frames stamped more than an hour before the rest",
        "10 frames stamped earlier than the frame before them (out of order)",
        "2 frames with an out-of-range sub-second time field",
    ] {
        assert!(err.contains(said), "{said}: {err}");
    }

    // The messages keep their own stamps (tshark's frame.time_epoch, sub-second clamped).
    let (out, _) = crate::support::sipscope_ok(&["messages"], &p);
    for t in [
        "2013-11-16T22:13:20.000000Z",
        "1987-09-14T15:45:04.000000Z",
        "1970-01-01T00:00:00.000000Z",
        "2106-02-07T06:28:15.999999Z",
    ] {
        assert!(out.contains(t), "{t}: {out}");
    }

    // stats: one INVITE, answered; no negative delay; a load table of seconds, not of days.
    let (out, _) = crate::support::sipscope_ok(&["stats"], &p);
    let asr = out.lines().find(|l| l.starts_with("ASR ")).unwrap();
    assert!(asr.contains("100.000  1          1"), "{asr}");
    assert!(!out.contains("-1141367296") && !out.contains(" -"), "{out}");
    assert!(out.lines().count() < 300, "{} lines", out.lines().count());
}

/// time_warp_ns.pcap: the BYE, last frame, is stamped in 2038; nothing follows to confirm it.
#[test]
fn a_lone_last_frame_far_ahead_is_a_glitch() {
    let Some(p) = adversarial("time_warp_ns.pcap") else {
        return;
    };
    let (calls, err) = calls_json(&p);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["outcome"], "answered");
    assert!(calls[0]["duration"].as_f64().unwrap() < 1.0);
    assert!(calls[0]["talk_time"].is_null());
    assert!(
        err.contains("1 frames stamped more than an hour ahead of the rest"),
        "{err}"
    );
}

/// A capture that resumes after two quiet hours is not a warp: the step is confirmed by the
/// next frame, followed, said, and both calls are measured as stamped.
#[test]
fn a_confirmed_clock_step_is_followed() {
    use crate::support::build::udp;
    let (a, b) = (([192, 0, 2, 1], 5060), ([192, 0, 2, 2], 5060));
    let invite = |id: &str| {
        format!(
            "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{id}\r\n\
From: <sip:alice@192.0.2.1>;tag=a{id}\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: {id}@x\r\n\
CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let resp = |id: &str, st: &str| {
        format!(
            "SIP/2.0 {st}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{id}\r\n\
From: <sip:alice@192.0.2.1>;tag=a{id}\r\nTo: <sip:bob@192.0.2.2>;tag=b{id}\r\nCall-ID: {id}@x\r\n\
CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let t0 = 1_700_000_000_000_000_000i64;
    let ms = 1_000_000i64;
    let mut frames = Vec::new();
    for (base, id) in [(t0, "early"), (t0 + 7200 * 1000 * ms, "late")] {
        frames.push((base, udp(a, b, invite(id).as_bytes())));
        frames.push((
            base + 250 * ms,
            udp(b, a, resp(id, "180 Ringing").as_bytes()),
        ));
        frames.push((base + 1500 * ms, udp(b, a, resp(id, "200 OK").as_bytes())));
    }
    let dir = std::env::temp_dir().join(format!("sipscope-step-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("step.pcap");
    crate::threads::write_pcap(&p, &frames);
    let (calls, err) = calls_json(&p);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["call_id"], "late@x");
    assert_eq!(calls[1]["start"], "2023-11-15T00:13:20.000000Z");
    for c in &calls {
        assert_eq!(c["pdd"].as_f64(), Some(0.25), "{c}");
        assert_eq!(c["setup_time"].as_f64(), Some(1.5), "{c}");
    }
    // Nothing was lost or doubted: no warning; --stats counts the step.
    assert!(err.is_empty(), "{err}");
    let (_, err) = crate::support::sipscope_ok(&["calls", "--stats"], &p);
    for (k, v) in [
        ("run.ts_outliers", "0"),
        ("run.ts_behind", "0"),
        ("run.ts_steps", "1"),
    ] {
        assert_eq!(
            crate::support::stat(&err, k).as_deref(),
            Some(v),
            "{k}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// F7 (many_callids): distinct Call-IDs of one INVITE each. Live calls stay within
/// `--max-live-calls` over all correlators (the default was 500,000 per correlator: 2M Call-IDs
/// took 1.8 GiB), every call is still reported, and the evictions are counted; with the whole
/// capture under the bound nothing is evicted.
#[test]
fn live_calls_stay_within_their_bound() {
    let Some(gen) = adversarial("gen_captures.py") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("sipscope-many-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("many.pcap");
    let ok = std::process::Command::new("python3")
        .arg(&gen)
        .args(["many_callids"])
        .arg(&p)
        .args(["5000", "1"])
        .status()
        .unwrap();
    assert!(ok.success());
    for (threads, bound) in [(1usize, 500usize), (4, 500), (2, 10_000)] {
        let mut cfg = sipscope::pipeline::PipelineConfig {
            workers: threads,
            correlators: threads.div_ceil(2),
            ..Default::default()
        };
        cfg.correlator.max_calls = bound;
        let r = crate::support::run_with(&[&p], cfg);
        let c = &r.stats.correlate;
        assert_eq!(
            r.calls.len(),
            5000,
            "every call is reported ({threads} threads)"
        );
        assert!(
            c.peak_live_calls <= bound as u64,
            "{} live calls with a bound of {bound} ({threads} threads)",
            c.peak_live_calls
        );
        if bound < 5000 {
            assert!(c.calls_evicted >= (5000 - bound) as u64, "{c:?}");
        } else {
            assert_eq!(c.calls_evicted, 0);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
