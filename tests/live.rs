//! Real SIP software on this machine: sipp callers and callees through kamailio on loopback,
//! captured live by sipscope itself; and IP fragments and TCP segments made by a small MTU
//! between two network namespaces. Needs root, sipp, kamailio, tcpdump and iproute2 (.ci/run
//! installs them). Set SIPSCOPE_SKIP_LIVE=1 to skip on a machine without them; the skip is said.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{repo, run};

/// tests/sipp/run-scenarios.sh binds fixed ports (5060, 5071-5089, 5101-5133): one run at a
/// time in this test binary.
pub(crate) static SCENARIOS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn tools_or_skip(tools: &[&str]) -> bool {
    if std::env::var_os("SIPSCOPE_SKIP_LIVE").is_some() {
        eprintln!("SKIPPED: SIPSCOPE_SKIP_LIVE is set");
        return false;
    }
    for t in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{t} is not installed: run .ci/run (or set SIPSCOPE_SKIP_LIVE=1 to skip live tests)"
        );
    }
    true
}

pub(crate) fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sipscope-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `expected.tsv` of the scenario scripts: Call-ID → (outcome, final status).
fn expected(path: &Path) -> BTreeMap<String, (String, Option<u16>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), (c[3].to_string(), c[4].parse().ok()))
        })
        .collect()
}

#[test]
fn live_capture_of_sipp_calls_through_kamailio() {
    if !tools_or_skip(&["sipp", "kamailio", "tcpdump"]) {
        return;
    }
    let _one_at_a_time = SCENARIOS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir("live");
    let sipscope = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args([
            "calls",
            "--all",
            "-i",
            "lo",
            "--bpf",
            "port 5060 or portrange 5070-5089",
            "--format",
            "json",
            "--duration",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let scen = Command::new("bash")
        .arg(repo().join("tests/sipp/run-scenarios.sh"))
        .arg("--out")
        .arg(&dir)
        .arg("--tcpdump")
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Ctrl-C: sipscope must stop reading, drain its pipeline and still print every call.
    let _ = Command::new("kill")
        .args(["-INT", &sipscope.id().to_string()])
        .status();
    let out = sipscope.wait_with_output().unwrap();
    assert!(
        scen.status.success(),
        "scenarios failed: {}",
        String::from_utf8_lossy(&scen.stderr)
    );
    assert!(
        out.status.success(),
        "sipscope: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A call is printed at its end, then again (`"update": "closed"`) as it finally is: the
    // last line of each Call-ID wins.
    let live: BTreeMap<String, serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["call_id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let exp = expected(&dir.join("expected.tsv"));
    assert!(exp.len() >= 20, "{} expected calls", exp.len());
    let mut wrong = Vec::new();
    for (cid, (outcome, status)) in &exp {
        let Some(c) = live.get(cid) else {
            wrong.push(format!("{cid}: not seen live"));
            continue;
        };
        // A black-holed INVITE has no final response; the capture ends a few seconds later, well
        // before Timer B (32 s), so the honest answer is "in progress", not yet "timeout".
        let want = if status.is_none() && outcome == "timeout" {
            "in-progress"
        } else {
            outcome.as_str()
        };
        let got = c["outcome"].as_str().unwrap_or("");
        let got_status = c["final_status"].as_u64().map(|s| s as u16);
        if got != want || got_status != *status {
            wrong.push(format!(
                "{cid}: expected {want} {status:?}, sipscope said {got} {got_status:?}"
            ));
        }
    }
    // REGISTER and OPTIONS exchanges are there too, as Call-IDs of their own kind.
    for (cid, (outcome, _)) in expected(&dir.join("expected_other.tsv")) {
        let kind = live.get(&cid).and_then(|c| c["kind"].as_str());
        let want = if outcome == "registered" {
            "register"
        } else {
            "options"
        };
        if kind != Some(want) {
            wrong.push(format!("{cid}: expected a {want} exchange, got {kind:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same traffic written by tcpdump and read back gives the same answers.
    let replay = run(&dir.join("capture.pcap"));
    for c in &replay.calls {
        if let Some(l) = live.get(&c.call_id) {
            assert_eq!(
                l["outcome"].as_str(),
                c.outcome.map(|o| o.as_str()),
                "{}: live and replay differ",
                c.call_id
            );
            assert_eq!(
                l["messages"].as_u64(),
                Some(c.messages as u64),
                "{}",
                c.call_id
            );
        }
    }
    let regs: Vec<_> = replay
        .regs
        .iter()
        .filter(|r| r.result == "registered")
        .collect();
    assert_eq!(regs.len(), 2, "one UDP and one TCP registration");
    assert!(regs
        .iter()
        .all(|r| r.challenged && r.final_status == Some(200)));
    // The RFC 6076 and KPI figures of this fresh run equal those computed by hand from the
    // scenario design (the arithmetic is in stats::assert_scenario_kpis).
    let tables = crate::stats::stats_json(&[&dir.join("capture.pcap")], &[]);
    crate::stats::assert_scenario_kpis(&tables);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ip_fragments_and_tcp_segments_between_namespaces() {
    if !tools_or_skip(&["sipp", "tcpdump", "ip"]) {
        return;
    }
    let dir = tempdir("frag");
    let out = Command::new("bash")
        .arg(repo().join("tests/sipp/fragments.sh"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fragments.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = run(&dir.join("fragments.pcap"));
    let exp = expected(&dir.join("expected.tsv"));
    assert_eq!(exp.len(), 4);
    for (cid, (outcome, status)) in &exp {
        let c = crate::support::call(&r, cid);
        assert_eq!(
            c.outcome.map(|o| o.as_str()),
            Some(outcome.as_str()),
            "{cid}"
        );
        assert_eq!(c.final_status, *status, "{cid}");
    }
    // The UDP INVITEs crossed a 576-byte (IPv4) and 1280-byte (IPv6) link: both were rebuilt
    // from fragments; the TCP ones from several segments.
    let invites: Vec<_> = r
        .messages
        .iter()
        .filter(|m| m.method.as_deref() == Some("INVITE"))
        .collect();
    assert_eq!(invites.len(), 4);
    let reassembled: Vec<bool> = invites.iter().map(|m| m.ip_reassembled).collect();
    assert_eq!(
        reassembled.iter().filter(|x| **x).count(),
        2,
        "{reassembled:?}"
    );
    assert_eq!(r.stats.decode.ip_frag_incomplete, 0);
    assert!(r.stats.decode.ip_reassembled >= 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_filter_and_unknown_interface_are_named() {
    if !tools_or_skip(&["tcpdump"]) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["calls", "-i", "lo", "--bpf", "port ((", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad capture filter \"port ((\""), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["calls", "-i", "nosuchif0", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuchif0"), "{err}");
}

#[test]
fn list_interfaces_names_loopback() {
    if !tools_or_skip(&["tcpdump"]) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("--list-interfaces")
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("lo\t") && l.contains("127.0.0.1")),
        "{list}"
    );
}

#[test]
fn refer_transfer_between_two_sipp_instances() {
    if !tools_or_skip(&["sipp", "tcpdump"]) {
        return;
    }
    let dir = tempdir("refer");
    let out = Command::new("bash")
        .arg(repo().join("tests/sipp/refer.sh"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "refer.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = run(&dir.join("refer.pcap"));
    let exp = expected(&dir.join("expected.tsv"));
    let (cid, (outcome, status)) = exp.iter().next().unwrap();
    let c = crate::support::call(&r, cid);
    assert_eq!(c.outcome.map(|o| o.as_str()), Some(outcome.as_str()));
    assert_eq!(c.final_status, *status);
    let methods: Vec<String> = r
        .messages
        .iter()
        .filter_map(|m| m.method.as_deref().map(str::to_string))
        .collect();
    assert_eq!(
        methods,
        ["INVITE", "ACK", "REFER", "NOTIFY", "NOTIFY", "BYE"],
        "the whole transfer was captured"
    );
    let frags: Vec<&str> = r
        .messages
        .iter()
        .filter_map(|m| m.sipfrag.as_deref())
        .collect();
    assert_eq!(frags, ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn monitor_raises_each_fault_once_live_and_on_replay() {
    // tests/sipp/faults.sh: sipp callers and callees on 127.0.0.10-26 make a clean call and one
    // of each fault (one-way RTP, no ACK, no answer, a friendly-scanner sweep, wrong-password
    // REGISTERs, a burst of 503s) while `sipscope monitor -i lo` watches, with Timer B/F/H cut
    // to 4 s so the run takes seconds. The Prometheus endpoint is scraped during the run.
    if !tools_or_skip(&["sipp", "tcpdump"]) {
        return;
    }
    let dir = tempdir("faults");
    let alerts = dir.join("alerts.json");
    let summary = dir.join("summary.json");
    let bpf = "net 127.0.0.0/27 and not host 127.0.0.1";
    let common = ["--transaction-timeout", "4", "--fail-on", "critical"];
    let monitor = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["monitor", "-i", "lo", "--bpf", bpf, "--interval", "2s"])
        .args(common)
        .arg("--alerts-json")
        .arg(&alerts)
        .arg("--summary-json")
        .arg(&summary)
        .args(["--metrics-listen", "127.0.0.1:19934", "--duration", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let faults = Command::new("bash")
        .arg(repo().join("tests/sipp/faults.sh"))
        .arg("--out")
        .arg(&dir)
        .arg("--tcpdump")
        .output()
        .unwrap();
    assert!(
        faults.status.success(),
        "faults.sh: {}",
        String::from_utf8_lossy(&faults.stderr)
    );
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = scrape("127.0.0.1:19934");
    let _ = Command::new("kill")
        .args(["-INT", &monitor.id().to_string()])
        .status();
    let out = monitor.wait_with_output().unwrap();
    // A critical alert fired: --fail-on critical makes the status 3.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = alert_keys(&std::fs::read_to_string(&alerts).unwrap());
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut wrong = Vec::new();
    for line in expected.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let (scenario, call_id, code, endpoint) = (c[0], c[1], c[2], c[3]);
        let about = |a: &(String, String, String, String, String)| {
            if endpoint == "-" {
                a.3 == call_id
            } else {
                a.4 == endpoint
            }
        };
        if code == "-" {
            // The clean call: nothing may name it or its two hosts.
            let named: Vec<_> = live
                .iter()
                .filter(|a| {
                    a.3 == call_id || a.4.starts_with("127.0.0.10") || a.4.starts_with("127.0.0.20")
                })
                .collect();
            if !named.is_empty() {
                wrong.push(format!("{scenario}: clean traffic raised {named:?}"));
            }
            continue;
        }
        let n = live
            .iter()
            .filter(|a| a.0 == code && a.1 == "fired" && about(a))
            .count();
        if n != 1 {
            wrong.push(format!("{scenario}: {code} fired {n} times: {live:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The endpoint's counters match what the scenarios sent: 12 OPTIONS, 6 REGISTERs, 25 503s.
    for want in [
        "sipscope_requests_total{method=\"OPTIONS\"} 12\n",
        "sipscope_requests_total{method=\"REGISTER\"} 6\n",
        "sipscope_responses_total{method=\"INVITE\",status=\"503\"} 25\n",
        "sipscope_alerts_total{code=\"scanner\"} 1\n",
        "sipscope_alerts_total{code=\"error-spike\"} 1\n",
        "sipscope_table_entries{table=\"watched_calls\"}",
    ] {
        assert!(metrics.contains(want), "{want} not in\n{metrics}");
    }
    // Summaries were written as the run went.
    let summaries = std::fs::read_to_string(&summary).unwrap();
    assert!(summaries.lines().count() >= 3, "{summaries}");
    // The same capture (tcpdump's) replayed: the same alerts, at the same capture times (to the
    // microsecond rounding of the two captures).
    let replay = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("monitor")
        .arg(dir.join("capture.pcap"))
        .args(common)
        .args(["--alerts-json", "-", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(3));
    let again = alert_keys(&String::from_utf8_lossy(&replay.stdout));
    let strip = |v: &[(String, String, String, String, String)]| {
        let mut k: Vec<_> = v
            .iter()
            .map(|a| (a.0.clone(), a.1.clone(), a.3.clone(), a.4.clone()))
            .collect();
        k.sort();
        k
    };
    assert_eq!(strip(&live), strip(&again));
    let by_key = |v: &[(String, String, String, String, String)]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| (&a.0, &a.1, &a.3, &a.4).cmp(&(&b.0, &b.1, &b.3, &b.4)));
        v
    };
    for (a, b) in by_key(&live).iter().zip(&by_key(&again)) {
        let t = |s: &str| sipscope::time::Ts::parse(s).unwrap();
        assert!(t(&a.2).since(t(&b.2)).abs() < 1_000_000, "{a:?} {b:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// (code, state, time, call-id, endpoint) of each NDJSON alert.
fn alert_keys(text: &str) -> Vec<(String, String, String, String, String)> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (
                s("code"),
                s("state"),
                s("time"),
                s("call_id"),
                s("endpoint"),
            )
        })
        .collect()
}

fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}
