//! SIP over TLS: the captures of tests/data/tls (made by tests/tls/make.sh with openssl
//! s_server/s_client, one per TLS version and cipher suite) decrypted with their key logs give
//! the messages tshark finds in them (`NAME.truth`, tests/tls/truth.py); the failures are
//! counted by their reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sipscope::pipeline::PipelineConfig;
use sipscope::reassembly::tls::keylog::KeyLog;
use sipscope::reassembly::tls::TlsStats;

use crate::support::{self, Run};

/// Every capture whose suite sipscope decrypts.
const SUITES: &[&str] = &[
    "tls13-aes128gcm",
    "tls13-aes256gcm",
    "tls13-chacha20",
    "tls13-keyupdate",
    "tls12-ecdhe-aes128gcm",
    "tls12-ecdhe-aes256gcm",
    "tls12-rsa-aes128gcm",
    "tls12-rsa-aes256gcm",
    "tls12-ecdhe-chacha20",
    "tls12-rsa-aes128cbc-sha",
    "tls12-rsa-aes128cbc-sha-noetm",
    "tls12-ecdhe-aes128cbc-sha256",
    "tls12-ecdhe-aes256cbc-sha384",
    "wss-tls13",
    "wss-tls12",
];

fn data(name: &str) -> PathBuf {
    support::repo().join("tests/data/tls").join(name)
}

fn keys_from(text: &[u8]) -> Arc<KeyLog> {
    let k = KeyLog::default();
    k.add_text(text);
    Arc::new(k)
}

fn run(capture: &Path, keys: Option<Arc<KeyLog>>) -> Run {
    let mut cfg = PipelineConfig::default();
    cfg.correlator.want_messages = true;
    cfg.reassembly.tls_keys = keys;
    support::run_with(&[capture], cfg)
}

/// Call-ID, CSeq and method or status of each message, as tests/tls/truth.py writes them.
fn lines(r: &Run) -> String {
    r.messages
        .iter()
        .map(|m| {
            let what = match (&m.method, m.status) {
                (Some(x), _) => x.to_string(),
                (None, Some(s)) => s.to_string(),
                _ => "?".into(),
            };
            format!(
                "{}\t{} {}\t{what}\n",
                m.call_id.as_deref().unwrap_or(""),
                m.cseq.unwrap_or(0),
                m.cseq_method.as_deref().unwrap_or("")
            )
        })
        .collect()
}

fn tls(r: &Run) -> &TlsStats {
    &r.stats.reassembly.tls
}

#[test]
fn every_suite_gives_the_messages_tshark_finds() {
    for name in SUITES {
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        assert_eq!(truth.lines().count(), 7, "{name}");
        let keys = std::fs::read(data(&format!("{name}.keys"))).unwrap();
        let r = run(&data(&format!("{name}.pcap")), Some(keys_from(&keys)));
        assert_eq!(lines(&r), truth, "{name}");
        let t = tls(&r);
        assert_eq!(
            (t.connections, t.decrypted, t.failed()),
            (1, 1, 0),
            "{name}: {t:?}"
        );
        let want = if name.starts_with("wss") {
            "wss"
        } else {
            "tls"
        };
        assert!(
            r.messages.iter().all(|m| m.transport.as_str() == want),
            "{name}"
        );
        // The 100 and the 180 came in one record, the 200 OK over two: the 200 is whole.
        let ok = r.messages.iter().find(|m| m.status == Some(200)).unwrap();
        assert_eq!(
            ok.sdp.as_deref(),
            Some("audio 127.0.0.1:40000 PCMU sendrecv"),
            "{name}"
        );
    }
}

/// The committed truth files are what tshark says today (CI has tshark; elsewhere skipped
/// when it is missing).
#[test]
fn the_truth_files_are_tsharks() {
    let ci = std::env::var_os("CI").is_some();
    let have = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(!ci, "tshark is missing under CI");
        eprintln!("SKIPPED: no tshark");
        return;
    }
    for name in SUITES.iter().chain(&["tls13-ccm"]) {
        let (out, _) = support::run_ok(
            std::process::Command::new("python3")
                .arg(support::repo().join("tests/tls/truth.py"))
                .arg(data(&format!("{name}.pcap")))
                .arg(data(&format!("{name}.keys"))),
        );
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        assert_eq!(out, truth, "{name}");
    }
    // And tshark reads the pcapng's own secrets as sipscope does.
    for name in ["tls13-aes128gcm", "tls12-ecdhe-aes128gcm"] {
        let (out, _) = support::run_ok(
            std::process::Command::new("python3")
                .arg(support::repo().join("tests/tls/truth.py"))
                .arg(data(&format!("{name}-dsb.pcapng"))),
        );
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        assert_eq!(out, truth, "{name}");
    }
}

/// A pcapng with a Decryption Secrets Block (editcap --inject-secrets) decrypts with no flag.
#[test]
fn secrets_inside_a_pcapng_need_no_flag() {
    for name in ["tls13-aes128gcm", "tls12-ecdhe-aes128gcm"] {
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        let r = run(&data(&format!("{name}-dsb.pcapng")), None);
        assert_eq!(lines(&r), truth, "{name}");
        assert_eq!(r.stats.tls_keys.entries, 1);
        assert_eq!(r.stats.tls_keys.bad_lines, 0);
    }
    // The command line too: no --tls-keylog, the messages and no warning.
    let (out, err) = support::sipscope_ok(
        &["messages", "--format", "csv"],
        &data("tls13-aes128gcm-dsb.pcapng"),
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(",tls,")).count(),
        7,
        "{out}"
    );
    assert!(!err.contains("TLS"), "{err}");
}

/// A pcap record: its header and its data.
type Record = (Vec<u8>, Vec<u8>);

/// The file header and frames of a legacy pcap.
fn frames(pcap: &[u8]) -> (Vec<u8>, Vec<Record>) {
    let head = pcap[..24].to_vec();
    let mut at = 24;
    let mut v = Vec::new();
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        v.push((
            pcap[at..at + 16].to_vec(),
            pcap[at + 16..at + 16 + len].to_vec(),
        ));
        at += 16 + len;
    }
    (head, v)
}

/// The TCP payload of an Ethernet/IPv4 frame.
fn payload(f: &[u8]) -> &[u8] {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tcp = 14 + ihl;
    let doff = usize::from(f[tcp + 12] >> 4) * 4;
    &f[tcp + doff..]
}

/// Writes the capture `name` without the frames `drop` picks (by index and frame).
fn without(name: &str, drop: impl Fn(usize, &[u8]) -> bool) -> tempfile_path::TempPath {
    let pcap = std::fs::read(data(&format!("{name}.pcap"))).unwrap();
    let (head, fs) = frames(&pcap);
    let mut out = head;
    let mut dropped = 0;
    for (i, (h, f)) in fs.iter().enumerate() {
        if drop(i, f) {
            dropped += 1;
            continue;
        }
        out.extend_from_slice(h);
        out.extend_from_slice(f);
    }
    assert!(dropped > 0);
    tempfile_path::write(&out)
}

/// A temporary file removed when dropped.
mod tempfile_path {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct TempPath(PathBuf);

    impl std::ops::Deref for TempPath {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    pub fn write(bytes: &[u8]) -> TempPath {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "sipscope-tls-{}-{}.pcap",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, bytes).unwrap();
        TempPath(p)
    }
}

#[test]
fn wrong_keys_are_a_record_that_fails_to_authenticate() {
    for name in [
        "tls13-aes128gcm",
        "tls12-ecdhe-aes128gcm",
        "tls12-rsa-aes128cbc-sha",
    ] {
        let keys = std::fs::read_to_string(data(&format!("{name}.keys"))).unwrap();
        // The same client randoms, other secrets: the last hex digit of each changed.
        let wrong: String = keys
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                if !l.starts_with('#') {
                    let last = l.pop().unwrap();
                    l.push(if last == '0' { '1' } else { '0' });
                }
                l + "\n"
            })
            .collect();
        let r = run(
            &data(&format!("{name}.pcap")),
            Some(keys_from(wrong.as_bytes())),
        );
        let t = tls(&r);
        assert_eq!(
            (t.bad_record, t.failed(), t.decrypted),
            (1, 1, 0),
            "{name}: {t:?}"
        );
        assert!(r.messages.is_empty(), "{name}");
        assert_eq!(t.by_port.get(&5061), Some(&1));
    }
}

#[test]
fn no_key_and_an_unsupported_suite_are_said() {
    let r = run(&data("tls13-aes128gcm.pcap"), None);
    assert_eq!((tls(&r).no_key, tls(&r).failed()), (1, 1));
    // Another connection's keys only.
    let other = std::fs::read(data("tls12-ecdhe-aes128gcm.keys")).unwrap();
    let r = run(&data("tls13-aes128gcm.pcap"), Some(keys_from(&other)));
    assert_eq!((tls(&r).no_key, tls(&r).failed()), (1, 1));
    // TLS_AES_128_CCM_SHA256: tshark reads it, sipscope says it does not.
    let keys = std::fs::read(data("tls13-ccm.keys")).unwrap();
    let r = run(&data("tls13-ccm.pcap"), Some(keys_from(&keys)));
    assert_eq!((tls(&r).unsupported, tls(&r).failed()), (1, 1));
    assert!(r.messages.is_empty());
    // Said at the end of the run, with the reason.
    let (_, err) = support::sipscope_ok(&["calls"], &data("tls13-aes128gcm.pcap"));
    assert!(
        err.contains("1 TLS connection not decrypted: no key for them"),
        "{err}"
    );
    let (_, err) = support::run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["calls", "--no-progress", "--tls-keylog"])
            .arg(data("tls13-ccm.keys"))
            .arg(data("tls13-ccm.pcap")),
    );
    assert!(
        err.contains("1 TLS connection not decrypted: a TLS version or cipher suite"),
        "{err}"
    );
}

#[test]
fn a_capture_without_the_handshake_is_said() {
    for name in ["tls13-aes128gcm", "tls12-ecdhe-aes128gcm"] {
        // Every frame up to the last one with a handshake record in the clear goes.
        let pcap = std::fs::read(data(&format!("{name}.pcap"))).unwrap();
        let (_, fs) = frames(&pcap);
        let last_hs = fs
            .iter()
            .rposition(|(_, f)| payload(f).starts_with(&[22, 3]))
            .unwrap();
        let cut = without(name, |i, _| i <= last_hs);
        let keys = std::fs::read(data(&format!("{name}.keys"))).unwrap();
        let r = run(&cut, Some(keys_from(&keys)));
        let t = tls(&r);
        assert_eq!((t.no_handshake, t.failed()), (1, 1), "{name}: {t:?}");
        assert!(r.messages.is_empty());
    }
}

#[test]
fn a_lost_segment_is_a_gap_and_the_rest_still_reads() {
    for name in [
        "tls13-aes128gcm",
        "tls12-ecdhe-aes128gcm",
        "tls12-rsa-aes128cbc-sha",
    ] {
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        // The first half of the 200 OK (the server's fourth application data segment) is lost:
        // the server's direction stops there, the client's reads on.
        let pcap = std::fs::read(data(&format!("{name}.pcap"))).unwrap();
        let (_, fs) = frames(&pcap);
        let server_data: Vec<usize> = fs
            .iter()
            .enumerate()
            .filter(|(_, (_, f))| {
                let sport = u16::from_be_bytes([f[34], f[35]]);
                sport == 5061 && payload(f).starts_with(&[23, 3])
            })
            .map(|(i, _)| i)
            .collect();
        // TLS 1.3: two session tickets come first.
        let lost = server_data[server_data.len() - 3];
        let cut = without(name, |i, _| i == lost);
        let keys = std::fs::read(data(&format!("{name}.keys"))).unwrap();
        let r = run(&cut, Some(keys_from(&keys)));
        let t = tls(&r);
        assert_eq!((t.gap, t.failed()), (1, 1), "{name}: {t:?}");
        let want: String = truth
            .lines()
            .filter(|l| !l.ends_with("\t200"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(lines(&r), want, "{name}");
    }
}

/// Replays a committed capture through a reassembler whose key log (a file, waited for as
/// live capture waits) is empty until frame `key_at` (1-based), then holds the capture's keys;
/// `pause` after writing them. The SIP messages found and the TLS figures.
fn key_written_at(name: &str, key_at: usize, pause: std::time::Duration) -> (usize, TlsStats) {
    use sipscope::capture::file::FileSource;
    use sipscope::capture::Source;
    use sipscope::decode::Decoder;
    use sipscope::reassembly::{Reassembler, ReassemblyConfig};

    let dir = std::env::temp_dir().join(format!(
        "sipscope-tls-{name}-{key_at}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    std::fs::write(&file, b"# written as it goes\n").unwrap();
    let keys = KeyLog::default().waiting(true);
    keys.add_file(&file).unwrap();
    let mut r = Reassembler::new(ReassemblyConfig {
        tls_keys: Some(Arc::new(keys)),
        ..ReassemblyConfig::default()
    });
    let mut src = FileSource::open(&data(&format!("{name}.pcap"))).unwrap();
    let mut dec = Decoder::default();
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(f) = src.next_frame().unwrap() {
        let f = f.to_owned();
        n += 1;
        if n == key_at {
            std::fs::copy(data(&format!("{name}.keys")), &file).unwrap();
            std::thread::sleep(pause);
        }
        if let Some(p) = dec.decode(&f) {
            r.packet(p, &mut out);
        }
    }
    r.finish(&mut out);
    std::fs::remove_dir_all(&dir).unwrap();
    (out.len(), r.stats.tls.clone())
}

/// Live, an SBC writes its key log as connections open: a connection whose key is not there
/// yet keeps its records (bounded) and reads them once the key is written.
#[test]
fn a_key_written_after_the_handshake_is_waited_for() {
    // Past the INVITE and the 100/180: the key arrives now, and later records find it.
    let (msgs, st) = key_written_at(
        "tls12-ecdhe-aes128gcm",
        16,
        std::time::Duration::from_millis(30),
    );
    assert_eq!(msgs, 7, "{st:?}");
    assert_eq!(st.decrypted, 1);
}

/// The whole connection comes within one key-log reading interval (loopback is that fast) and
/// the key is written just after: the connection's end reads the key log once more and its
/// waiting records are decrypted (it counted them as "no key": the CI's live TLS test failed so).
#[test]
fn a_key_written_before_the_connection_ends_is_read_at_its_end() {
    // Every record is in (frames 1-29); the FINs (30, 31) end the connection.
    let (msgs, st) = key_written_at("tls13-aes128gcm", 30, std::time::Duration::ZERO);
    assert_eq!(msgs, 7, "{st:?}");
    assert_eq!(st.decrypted, 1);
    assert_eq!(st.no_key, 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// The fuzz target's seeds (a key log, then both directions of a real connection), with
    /// bytes changed, dropped or cut anywhere: never a panic, bounds held (asserted inside).
    #[test]
    fn mutated_connections_never_panic(
        seed in 0usize..10,
        edits in proptest::collection::vec((proptest::prelude::any::<u16>(), proptest::prelude::any::<u8>()), 1..8),
        cut in proptest::prelude::any::<u16>(),
    ) {
        let dir = support::repo().join("fuzz/corpus/tls");
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        seeds.sort();
        let mut data = std::fs::read(&seeds[seed % seeds.len()]).unwrap();
        for (at, b) in edits {
            let at = usize::from(at) % data.len();
            data[at] = b;
        }
        data.truncate(data.len() - usize::from(cut) % (data.len() / 4));
        sipscope::fuzzing::fuzz_tls(&data);
    }
}

/// Live: sipscope captures loopback while openssl's client writes its key log as it connects
/// (the file empty when sipscope starts): the file is read again as it grows and the call is
/// decrypted as it happens.
#[test]
fn live_capture_reads_a_key_log_written_as_it_goes() {
    use std::process::{Command, Stdio};
    if !crate::live::tools_or_skip(&["openssl", "python3"]) {
        return;
    }
    let dir = crate::live::tempdir("tls-live");
    let (key, cert, log) = (
        dir.join("key.pem"),
        dir.join("cert.pem"),
        dir.join("keys.log"),
    );
    support::run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=sip.sipscope.test",
                "-days",
                "2",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    std::fs::write(&log, b"").unwrap();
    // A port of this test's own, so other traffic on loopback stays out.
    let port = 20_000 + std::process::id() % 20_000;
    let sipscope = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args([
            "messages",
            "--format",
            "json",
            "-i",
            "lo",
            "--duration",
            "12",
            "--bpf",
        ])
        .arg(format!("tcp port {port}"))
        .arg("--tls-keylog")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    support::run_ok(
        Command::new("python3")
            .arg(support::repo().join("tests/tls/converse.py"))
            .arg(port.to_string())
            .arg("live")
            .arg("sip")
            .args(["--", "-tls1_3", "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(["--", "-tls1_3", "-keylogfile"])
            .arg(&log),
    );
    let out = sipscope.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let msgs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(msgs.len(), 7, "{stdout}\n{stderr}");
    assert!(msgs
        .iter()
        .all(|m| m["transport"] == "tls" && m["call_id"] == "live@sipscope.test"));
    assert!(!stderr.contains("TLS"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--tls-keylog` several times: each file's secrets are used (two captures merged, each with
/// its own key log).
#[test]
fn several_key_logs() {
    let (a, b) = ("tls13-chacha20", "tls12-rsa-aes128cbc-sha");
    let (out, err) = support::run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["calls", "--no-progress", "--format", "csv", "--tls-keylog"])
            .arg(data(&format!("{a}.keys")))
            .arg("--tls-keylog")
            .arg(data(&format!("{b}.keys")))
            .arg(data(&format!("{a}.pcap")))
            .arg(data(&format!("{b}.pcap"))),
    );
    for name in [a, b] {
        assert!(out.contains(&format!("{name}@sipscope.test")), "{out}");
    }
    assert!(!err.contains("TLS"), "{err}");
}

/// TLS is told by its handshake, not its port: the same connections moved from 5061 to 443 and
/// 8443 decrypt to the same messages, and the ladder marks each arrow `[tls]` or `[wss]`.
#[test]
fn tls_is_read_on_any_port_and_marked_on_the_ladder() {
    for (name, port, mark) in [
        ("tls13-aes128gcm", 443u16, "[tls]"),
        ("wss-tls12", 8443, "[wss]"),
    ] {
        let pcap = std::fs::read(data(&format!("{name}.pcap"))).unwrap();
        let (mut out, fs) = frames(&pcap);
        let mut moved = 0;
        for (h, mut f) in fs {
            // Ethernet, IPv4, TCP: the server's port, whichever side it is on.
            let tcp = 14 + usize::from(f[14] & 0x0f) * 4;
            for at in [tcp, tcp + 2] {
                if f[at..at + 2] == 5061u16.to_be_bytes() {
                    f[at..at + 2].copy_from_slice(&port.to_be_bytes());
                    moved += 1;
                }
            }
            out.extend_from_slice(&h);
            out.extend_from_slice(&f);
        }
        assert!(moved > 10, "{name}");
        let moved_file = tempfile_path::write(&out);
        let keys = std::fs::read(data(&format!("{name}.keys"))).unwrap();
        let r = run(&moved_file, Some(keys_from(&keys)));
        let truth = std::fs::read_to_string(data(&format!("{name}.truth"))).unwrap();
        assert_eq!(lines(&r), truth, "{name} on port {port}");
        assert!(
            r.messages
                .iter()
                .all(|m| m.dst.port() == port || m.src.port() == port),
            "{name}"
        );
        let (ladder, _) = support::run_ok(
            std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
                .args(["ladder", "--call-id", &format!("{name}@sipscope.test")])
                .arg("--tls-keylog")
                .arg(data(&format!("{name}.keys")))
                .arg(&*moved_file),
        );
        let arrows: Vec<&str> = ladder.lines().filter(|l| l.contains('─')).collect();
        assert!(arrows.len() >= 7, "{ladder}");
        for a in &arrows {
            assert!(
                a.contains(mark),
                "{name}: an arrow without {mark}:\n{ladder}"
            );
        }
    }
}
