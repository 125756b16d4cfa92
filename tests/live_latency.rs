//! Live output is never held until Ctrl-C: while sipp makes a call every few seconds on
//! loopback, `sipscope messages`, `sipscope calls` and `sipscope monitor` watch `lo`, and the
//! test stamps each line with the wall clock the moment it reaches the test, then compares:
//!
//! 1. each `messages` line must arrive within 1 s of its message's capture time (`ts`, which is
//!    the wall clock at capture);
//! 2. each `calls` line within 1 s of the call's end (the 200 OK to its BYE, as the `messages`
//!    run timed it);
//! 3. each `monitor` summary (`--interval 1s`) closed while a call is up counts it in
//!    `active_calls`; the first one closed after a call's BYE was answered arrives within 2 s of
//!    that answer and, unless the next call is about to start, counts 0.
//!
//! `tcpdump -l --immediate-mode` watches the same traffic as a yardstick, read and timed the
//! same way: its lines come out as each packet is captured, so their measured delay (a few ms)
//! shows the measuring itself is sound; were the machine too loaded for it, the test says so
//! rather than blaming sipscope.
//!
//! The callers and callees are sipp on 127.0.0.71 and 127.0.0.72 (no other test uses them, so
//! this runs beside the other live tests). Needs root, sipp and tcpdump; SIPSCOPE_SKIP_LIVE=1
//! skips it. About 25 s.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sipscope::time::{Ts, NANOS_PER_SEC};

use crate::live::{tempdir, tools_or_skip};
use crate::support::repo;

const UAC_IP: &str = "127.0.0.71";
const UAS_IP: &str = "127.0.0.72";
const UAS_PORT: u16 = 5270;
const UAC_PORT: u16 = 5261;
const BPF: &str = "host 127.0.0.71 and host 127.0.0.72";
/// Calls made, one every PERIOD_MS, each held HOLD_MS between ACK and BYE (so ~2 s long).
const CALLS: usize = 6;
const PERIOD_MS: u64 = 3000;
const HOLD_MS: u64 = 1800;
/// How late a `messages` or `calls` line may be, in seconds.
const LINE_BOUND: f64 = 1.0;
/// How late the first summary after a call's end may be, in seconds.
const SUMMARY_BOUND: f64 = 2.0;
/// The summaries' interval, in seconds.
const INTERVAL: f64 = 1.0;
/// tcpdump -l must do at least this well, or the machine is too loaded to judge.
const YARDSTICK_BOUND: f64 = 0.5;
/// What each call sends, in order (retransmissions aside).
const LADDER: [&str; 7] = [
    "INVITE",
    "100/INVITE",
    "180/INVITE",
    "200/INVITE",
    "ACK",
    "BYE",
    "200/BYE",
];

/// The wall clock as a capture timestamp.
fn wall() -> Ts {
    Ts(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64)
}

/// `a - b` in seconds.
fn secs(a: Ts, b: Ts) -> f64 {
    a.since(b) as f64 / NANOS_PER_SEC as f64
}

/// One line as it reached the test, stamped with the wall clock on arrival.
struct Arrived {
    at: Ts,
    text: String,
}

/// Reads a pipe line by line, stamping each line as it completes.
fn stamp_lines(r: impl Read + Send + 'static) -> JoinHandle<Vec<Arrived>> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let at = wall();
                    let text = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if !text.is_empty() {
                        lines.push(Arrived { at, text });
                    }
                }
            }
        }
        lines
    })
}

/// Follows a file as it grows (every 20 ms), stamping each new line when it is read: a line is
/// taken as arrived up to 20 ms after it was written, which errs towards "late".
fn tail_file(path: PathBuf, done: Arc<AtomicBool>) -> JoinHandle<Vec<Arrived>> {
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut pos = 0u64;
        loop {
            let last_round = done.load(Ordering::SeqCst);
            if let Ok(mut f) = File::open(&path) {
                let mut buf = Vec::new();
                if f.seek(SeekFrom::Start(pos)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                    pos += buf.len() as u64;
                    pending.extend(buf);
                }
            }
            let at = wall();
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                lines.push(Arrived { at, text });
            }
            if last_round {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        lines
    })
}

/// The processes this test started; whatever still runs when it ends (or fails) is killed.
#[derive(Default)]
struct Procs(Vec<(&'static str, Child)>);

impl Procs {
    fn add(&mut self, name: &'static str, c: Child) {
        self.0.push((name, c));
    }

    fn child(&mut self, name: &str) -> &mut Child {
        &mut self.0.iter_mut().find(|(n, _)| *n == name).unwrap().1
    }

    /// Waits up to `limit` for `name` to exit; kills it after that. Its exit status, or None if
    /// it had to be killed.
    fn wait(&mut self, name: &str, limit: Duration) -> Option<std::process::ExitStatus> {
        let c = self.child(name);
        let t = Instant::now();
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            if t.elapsed() >= limit {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C, as a user stops a live run.
    fn interrupt(&mut self, name: &str) {
        let id = self.child(name).id();
        let _ = Command::new("kill")
            .args(["-INT", &id.to_string()])
            .status();
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    Stdio::from(File::create(dir.join(name)).unwrap())
}

fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// `sipscope ARGS -i lo` on the sipp hosts only; stdout piped, stderr to DIR/NAME.err.
fn sipscope(args: &[&str], dir: &Path, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(args)
        .args(["-i", "lo", "--bpf", BPF, "--no-progress"])
        // A bound should the test die before its Ctrl-C (wall time, not capture time).
        .args(["--duration", "60"])
        .stdout(Stdio::piped())
        .stderr(log_file(dir, &format!("{name}.err")))
        .spawn()
        .unwrap()
}

/// One message as `sipscope messages` listed it.
struct Msg {
    call: usize,
    what: String,
    ts: Ts,
    at: Ts,
    retrans: bool,
}

/// A call's timing, from the `messages` run: its INVITE and the 200 OK to its BYE.
#[derive(Clone, Copy)]
struct CallTimes {
    invite: Ts,
    end: Ts,
}

/// The call number N of our Call-ID `latency-N-RUN@sipscope.test`.
fn call_number(call_id: &str, run: &str) -> Option<usize> {
    let n = call_id
        .strip_prefix("latency-")?
        .strip_suffix(&format!("-{run}@sipscope.test"))?;
    n.parse().ok()
}

fn json(l: &Arrived, what: &str) -> serde_json::Value {
    serde_json::from_str(&l.text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {:?}", l.text))
}

fn ts_of(v: &serde_json::Value, key: &str) -> Ts {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} string in {v}"));
    Ts::parse(s).unwrap_or_else(|| panic!("{key} {s:?} does not parse as a time"))
}

#[test]
fn live_output_is_not_held_until_ctrl_c() {
    if !tools_or_skip(&["sipp", "tcpdump", "ss"]) {
        return;
    }
    let dir = tempdir("latency");
    let run = std::process::id().to_string();
    let scen = repo().join("tests/sipp/scenarios");
    let mut procs = Procs::default();

    // The callee, and wait until it listens.
    let uas = Command::new("sipp")
        .arg("-sf")
        .arg(scen.join("uas_answered.xml"))
        .args(["-i", UAS_IP, "-p", &UAS_PORT.to_string(), "-mp", "17800"])
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(dir.join("uas.err"))
        .current_dir(&dir)
        .stdout(log_file(&dir, "uas.out"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    procs.add("uas", uas);
    let listening = (0..50).any(|_| {
        let out = Command::new("ss")
            .args(["-Hlnu", &format!("src {UAS_IP}:{UAS_PORT}")])
            .output()
            .unwrap();
        if out.stdout.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
        !out.stdout.is_empty()
    });
    assert!(listening, "sipp UAS: {}", read_log(&dir, "uas.out"));

    // The three live runs and the yardstick.
    let summary = dir.join("summary.json");
    let mut messages = sipscope(&["messages", "--format", "json"], &dir, "messages");
    let msg_lines = stamp_lines(messages.stdout.take().unwrap());
    procs.add("messages", messages);
    let mut calls = sipscope(&["calls", "--format", "json"], &dir, "calls");
    let call_lines = stamp_lines(calls.stdout.take().unwrap());
    procs.add("calls", calls);
    let monitor = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["monitor", "-i", "lo", "--bpf", BPF, "--no-progress"])
        .args(["--interval", "1s", "--duration", "60", "--summary-json"])
        .arg(&summary)
        .stdout(log_file(&dir, "monitor.out"))
        .stderr(log_file(&dir, "monitor.err"))
        .spawn()
        .unwrap();
    procs.add("monitor", monitor);
    let mut tcpdump = Command::new("tcpdump")
        // --immediate-mode: without it libpcap hands packets over in blocks up to ~0.1 s old.
        .args(["-l", "--immediate-mode", "-tt", "-n", "-q", "-i", "lo", BPF])
        .stdout(Stdio::piped())
        .stderr(log_file(&dir, "tcpdump.err"))
        .spawn()
        .unwrap();
    let dump_lines = stamp_lines(tcpdump.stdout.take().unwrap());
    procs.add("tcpdump", tcpdump);
    let tail_done = Arc::new(AtomicBool::new(false));
    let summary_lines = tail_file(summary.clone(), tail_done.clone());
    std::thread::sleep(Duration::from_millis(1500));

    // The caller: a call every PERIOD_MS (the first one period after it starts), each held
    // HOLD_MS; about 20 s in all.
    let uac = Command::new("sipp")
        .arg(format!("{UAS_IP}:{UAS_PORT}"))
        .arg("-sf")
        .arg(scen.join("uac_held.xml"))
        .args(["-s", "held", "-i", UAC_IP, "-p", &UAC_PORT.to_string()])
        .args(["-mp", "17700", "-m", &CALLS.to_string(), "-r", "1"])
        .args(["-rp", &PERIOD_MS.to_string(), "-d", &HOLD_MS.to_string()])
        .args(["-cid_str", &format!("latency-%u-{run}@sipscope.test")])
        .args(["-nostdin", "-timeout", "30s", "-timeout_error"])
        .args(["-trace_err", "-error_file"])
        .arg(dir.join("uac.err"))
        .current_dir(&dir)
        .stdout(log_file(&dir, "uac.out"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    procs.add("uac", uac);
    let expected_run = Duration::from_millis(PERIOD_MS * CALLS as u64 + HOLD_MS + 1000);
    let uac_status = procs.wait("uac", expected_run + Duration::from_secs(6));
    // Time for the last call's lines and the summaries after it, then Ctrl-C.
    std::thread::sleep(Duration::from_millis(2500));
    let stopped_at = wall();
    for name in ["messages", "calls", "monitor", "tcpdump"] {
        procs.interrupt(name);
    }
    let mut not_stopped = Vec::new();
    for name in ["messages", "calls", "monitor", "tcpdump"] {
        if procs.wait(name, Duration::from_secs(10)).is_none() {
            not_stopped.push(name);
        }
    }
    tail_done.store(true, Ordering::SeqCst);
    procs.wait("uas", Duration::ZERO);
    let msg_lines = msg_lines.join().unwrap();
    let call_lines = call_lines.join().unwrap();
    let dump_lines = dump_lines.join().unwrap();
    let summary_lines = summary_lines.join().unwrap();
    drop(procs);

    assert!(
        uac_status.is_some_and(|s| s.success()),
        "sipp UAC failed ({uac_status:?}): {}\n{}",
        read_log(&dir, "uac.err"),
        read_log(&dir, "uac.out")
    );
    assert!(
        not_stopped.is_empty(),
        "{not_stopped:?} did not stop within 10 s of SIGINT"
    );
    let late_mark = |at: Ts| {
        if at >= stopped_at {
            "  (at Ctrl-C)"
        } else {
            ""
        }
    };
    let mut report = String::new();
    let mut failures: Vec<String> = Vec::new();

    // The yardstick: tcpdump -l's lines, `EPOCH.USEC IP a > b: UDP, length N`.
    let mut dump_delays = Vec::new();
    for l in &dump_lines {
        let first = l.text.split_whitespace().next().unwrap_or("");
        let ts = Ts::parse(first)
            .unwrap_or_else(|| panic!("tcpdump line without an epoch time: {:?}", l.text));
        dump_delays.push(secs(l.at, ts));
    }
    let dump_max = dump_delays.iter().cloned().fold(f64::MIN, f64::max);
    let dump_min = dump_delays.iter().cloned().fold(f64::MAX, f64::min);
    let _ = writeln!(
        report,
        "yardstick: tcpdump -l printed {} packets, arrival - capture time {:+.3} .. {:+.3} s",
        dump_lines.len(),
        dump_min,
        dump_max
    );
    assert!(
        dump_lines.len() >= CALLS * LADDER.len(),
        "tcpdump saw {} packets, expected at least {}: {}",
        dump_lines.len(),
        CALLS * LADDER.len(),
        read_log(&dir, "tcpdump.err")
    );
    // Arrival before capture would mean the two clocks differ: then no delay here means anything.
    assert!(
        dump_min > -0.05 && dump_max <= YARDSTICK_BOUND,
        "the yardstick failed, so this run cannot judge sipscope: tcpdump -l's lines arrived \
         {dump_min:+.3} .. {dump_max:+.3} s after capture (want 0 .. {YARDSTICK_BOUND} s)"
    );

    // `messages`: every line is one of our messages, every call's ladder is whole.
    let mut msgs = Vec::new();
    for l in &msg_lines {
        let v = json(l, "messages");
        let cid = v["call_id"].as_str().unwrap_or("");
        let call = call_number(cid, &run)
            .unwrap_or_else(|| panic!("messages: a line of another Call-ID: {}", l.text));
        let what = match (v["method"].as_str(), v["status"].as_u64()) {
            (Some(m), _) => m.to_string(),
            (None, Some(s)) => format!("{s}/{}", v["cseq_method"].as_str().unwrap_or("?")),
            _ => panic!("messages: neither request nor response: {}", l.text),
        };
        msgs.push(Msg {
            call,
            what,
            ts: ts_of(&v, "time"),
            at: l.at,
            retrans: v["retransmission"].as_bool().unwrap_or(false),
        });
    }
    let mut times: Vec<CallTimes> = Vec::new();
    for n in 1..=CALLS {
        let ladder: Vec<&Msg> = msgs.iter().filter(|m| m.call == n && !m.retrans).collect();
        let seen: Vec<&str> = ladder.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(
            seen, LADDER,
            "messages: call {n} was not captured whole (first INVITE missed? sipscope too slow \
             to start?)"
        );
        times.push(CallTimes {
            invite: ladder[0].ts,
            end: ladder[6].ts,
        });
    }
    assert_eq!(
        msgs.iter().filter(|m| m.call > CALLS).count(),
        0,
        "messages: more calls than sipp made"
    );

    // Check 1: each message line within LINE_BOUND of its capture time.
    let _ = writeln!(
        report,
        "\n1. messages: arrival - capture time (bound {LINE_BOUND} s)"
    );
    let mut late = Vec::new();
    for m in &msgs {
        let d = secs(m.at, m.ts);
        let _ = writeln!(
            report,
            "   call {} {:<11} {}  {d:+7.3} s{}{}",
            m.call,
            m.what,
            m.ts,
            if m.retrans { "  retransmission" } else { "" },
            late_mark(m.at)
        );
        assert!(
            d > -0.05,
            "messages: a line arrived {d:.3} s before its capture time: the clocks differ"
        );
        if d > LINE_BOUND {
            late.push(d);
        }
    }
    if !late.is_empty() {
        failures.push(format!(
            "check 1 (messages): {} of {} lines arrived more than {LINE_BOUND} s after their \
             capture time: {:.3} .. {:.3} s late; {} only at Ctrl-C",
            late.len(),
            msgs.len(),
            late.iter().cloned().fold(f64::MAX, f64::min),
            late.iter().cloned().fold(f64::MIN, f64::max),
            msgs.iter().filter(|m| m.at >= stopped_at).count()
        ));
    }

    // Check 2: each call line within LINE_BOUND of the call's end (its BYE's 200 OK).
    let _ = writeln!(
        report,
        "\n2. calls: arrival - the call's end, the 200 OK to its BYE (bound {LINE_BOUND} s)"
    );
    let mut call_at: Vec<Option<Ts>> = vec![None; CALLS];
    for l in &call_lines {
        let v = json(l, "calls");
        if v.get("update").is_some() {
            // The call again as it closed (at Ctrl-C here): not its first listing.
            continue;
        }
        let cid = v["call_id"].as_str().unwrap_or("");
        let n = call_number(cid, &run)
            .filter(|n| (1..=CALLS).contains(n))
            .unwrap_or_else(|| panic!("calls: a line of another Call-ID: {}", l.text));
        assert!(call_at[n - 1].is_none(), "calls: call {n} listed twice");
        assert_eq!(v["kind"], "invite", "calls: {}", l.text);
        assert_eq!(v["outcome"], "answered", "calls: {}", l.text);
        let t = times[n - 1];
        let (start, end) = (ts_of(&v, "start"), ts_of(&v, "end"));
        // The same packets, seen by two captures: the same times, give or take.
        assert!(
            secs(start, t.invite).abs() < 0.1 && secs(end, t.end) > -0.1,
            "calls: call {n} from {start} to {end}, but its INVITE was at {} and the 200 OK to \
             its BYE at {}",
            t.invite,
            t.end
        );
        call_at[n - 1] = Some(l.at);
    }
    let mut late = Vec::new();
    for (i, at) in call_at.iter().enumerate() {
        let t = times[i];
        match at {
            Some(at) => {
                let d = secs(*at, t.end);
                let _ = writeln!(
                    report,
                    "   call {} ended {}  {d:+7.3} s{}",
                    i + 1,
                    t.end,
                    late_mark(*at)
                );
                if d > LINE_BOUND {
                    late.push(format!("call {} {d:.3} s", i + 1));
                }
            }
            None => {
                let _ = writeln!(report, "   call {} ended {}  never listed", i + 1, t.end);
                late.push(format!("call {} never listed", i + 1));
            }
        }
    }
    if !late.is_empty() {
        failures.push(format!(
            "check 2 (calls): {} of {CALLS} calls listed more than {LINE_BOUND} s after they \
             ended: {}; {} only at Ctrl-C",
            late.len(),
            late.join(", "),
            call_at
                .iter()
                .flatten()
                .filter(|at| **at >= stopped_at)
                .count()
        ));
    }

    // Check 3: the monitor's active calls. A summary describes its interval's close, start +
    // INTERVAL: every message before the close has been counted.
    struct Summary {
        close: Ts,
        active: u64,
        at: Ts,
    }
    let iv = (INTERVAL * NANOS_PER_SEC as f64) as i64;
    let summaries: Vec<Summary> = summary_lines
        .iter()
        .map(|l| {
            let v = json(l, "summary");
            Summary {
                close: ts_of(&v, "start").saturating_add(iv),
                active: v["active_calls"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("summary without active_calls: {}", l.text)),
                at: l.at,
            }
        })
        .collect();
    let up = |close: Ts| {
        times
            .iter()
            .position(|t| close > t.invite && close <= t.end)
            .map_or("no call up".to_string(), |i| format!("call {} up", i + 1))
    };
    let _ = writeln!(
        report,
        "\n3. monitor: summaries by the close of their interval (arrival - close)"
    );
    for s in &summaries {
        let _ = writeln!(
            report,
            "   close {}  active_calls {}  {:<10}  arrived {:+7.3} s{}",
            s.close,
            s.active,
            up(s.close),
            secs(s.at, s.close),
            late_mark(s.at)
        );
    }
    let mut wrong = Vec::new();
    for (i, t) in times.iter().enumerate() {
        let n = i + 1;
        // While the call is up: well inside it (its start and end may fall in the tick that
        // closes an interval), the count includes it.
        let inside: Vec<&Summary> = summaries
            .iter()
            .filter(|s| secs(s.close, t.invite) > 0.2 && secs(t.end, s.close) > 0.4)
            .collect();
        if inside.is_empty() {
            wrong.push(format!("no summary closed while call {n} was up"));
        }
        for s in inside.iter().filter(|s| s.active == 0) {
            wrong.push(format!(
                "call {n} up but the summary closed at {} says active_calls 0",
                s.close
            ));
        }
        // After it: the next summary comes within SUMMARY_BOUND of the end and, unless the
        // next call's INVITE is near, counts 0.
        let next_invite = times.get(i + 1).map(|t| t.invite);
        match summaries.iter().find(|s| s.close > t.end) {
            None => wrong.push(format!(
                "no summary closed after call {n} ended at {}",
                t.end
            )),
            Some(s) => {
                let d = secs(s.at, t.end);
                if d > SUMMARY_BOUND {
                    wrong.push(format!(
                        "the first summary after call {n} ended arrived {d:.3} s after its end{}",
                        late_mark(s.at)
                    ));
                }
                let quiet = next_invite.is_none_or(|inv| secs(inv, s.close) > 0.5);
                if quiet && s.active != 0 {
                    wrong.push(format!(
                        "call {n} ended at {} but the next summary (closed at {}) says \
                         active_calls {}",
                        t.end, s.close, s.active
                    ));
                }
            }
        }
    }
    if !wrong.is_empty() {
        failures.push(format!(
            "check 3 (monitor active_calls): {}",
            wrong.join("; ")
        ));
    }

    if failures.is_empty() {
        eprintln!("{report}");
    }
    assert!(
        failures.is_empty(),
        "live output was held:\n- {}\n\n{report}\nmessages stderr: {}\ncalls stderr: {}\n\
         monitor stderr: {}",
        failures.join("\n- "),
        read_log(&dir, "messages.err"),
        read_log(&dir, "calls.err"),
        read_log(&dir, "monitor.err")
    );
    std::fs::remove_dir_all(&dir).ok();
}
