//! `sipscope tui -i lo` in a real pseudo-terminal (tmux) while sipp calls through kamailio on
//! loopback: the call is on screen before it ends, its state goes to answered and then ended,
//! Enter shows its ladder, F2 saves its frames (and tshark reads the saved file), q leaves with
//! the terminal restored.
//!
//! Its own addresses and ports so it runs beside the other live tests (whose filters do not see
//! it): kamailio on 127.0.0.91:5190 (the test proxy's configuration with the addresses
//! changed), the callee sipp on 127.0.0.92:5191, the caller on 127.0.0.93:5193. Needs root, sipp, kamailio, tmux and tshark; SIPSCOPE_SKIP_LIVE=1
//! skips it. About 20 s.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::live::{tempdir, tools_or_skip};
use crate::support::repo;

const PROXY: &str = "127.0.0.91";
const UAS: &str = "127.0.0.92";
const UAC: &str = "127.0.0.93";
/// How long the call stays up between its ACK and its BYE, ms.
const HOLD_MS: u64 = 6000;

/// Kills what it holds when the test ends, passed or not.
struct Guard {
    children: Vec<Child>,
    session: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SIGTERM first: kamailio then stops the worker processes it forked (a SIGKILL would
        // leave them running).
        for c in &mut self.children {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
        }
        for c in &mut self.children {
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(3)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// A detached tmux session of `cols`×`rows` running `cmd` (a shell line).
fn new_session(session: &str, cols: &str, rows: &str, cmd: &str) {
    let args = [
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        cols,
        "-y",
        rows,
        cmd,
    ];
    assert!(Command::new("tmux").args(args).status().unwrap().success());
}

fn pane(session: &str) -> String {
    let out = Command::new("tmux")
        .args(["capture-pane", "-p", "-t", session])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keys(session: &str, k: &[&str]) {
    let mut args = vec!["send-keys", "-t", session];
    args.extend_from_slice(k);
    assert!(Command::new("tmux").args(&args).status().unwrap().success());
}

/// Waits until the screen shows what `ok` looks for; returns the screen.
fn wait_for(session: &str, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let s = pane(session);
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < limit,
            "{what} not on screen within {limit:?}; the screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The call list's row of the call to user `answered`.
fn call_row(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.contains(" answered ") && l.contains("sipp"))
}

fn sipp(dir: &Path, args: &[&str]) -> Child {
    Command::new("sipp")
        .args(args)
        .args(["-nostdin", "-t", "u1"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn tui_shows_a_live_call_as_it_happens_and_saves_it() {
    if !tools_or_skip(&["sipp", "kamailio", "tmux", "tshark"]) {
        return;
    }
    let dir = tempdir("tui-live");
    let scen = repo().join("tests/sipp/scenarios");
    let cfg = std::fs::read_to_string(repo().join("tests/sipp/kamailio.cfg"))
        .unwrap()
        .replace("127.0.0.1:5060", &format!("{PROXY}:5190"))
        .replace("$var(port) = 5071;", "$var(port) = 5191;")
        .replace("\"sip:127.0.0.1:\"", &format!("\"sip:{UAS}:\""));
    std::fs::write(dir.join("kamailio.cfg"), cfg).unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    let session = format!("sipscope-tui-{}", std::process::id());
    let mut g = Guard {
        children: Vec::new(),
        session: session.clone(),
    };
    let run = dir.join("run");
    g.children.push(
        Command::new("kamailio")
            .arg("-f")
            .arg(dir.join("kamailio.cfg"))
            .args(["-DD", "-E", "-m", "32", "-M", "8", "-Y"])
            .arg(&run)
            .arg("-P")
            .arg(run.join("kamailio.pid"))
            .arg("-w")
            .arg(&run)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let uas = scen.join("uas_answered.xml");
    g.children.push(sipp(
        &dir,
        &["-sf", uas.to_str().unwrap(), "-i", UAS, "-p", "5191"],
    ));
    // The UI in a 200×50 pseudo-terminal; its exit status goes to a file.
    let cmd = format!(
        "cd {} && {} tui -i lo --bpf 'host {PROXY}'; echo EXIT=$? > exit; sleep 120",
        dir.display(),
        env!("CARGO_BIN_EXE_sipscope")
    );
    new_session(&session, "200", "50", &cmd);
    wait_for(&session, "the live header", Duration::from_secs(10), |s| {
        s.contains("live on lo")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let uac_scen = scen.join("uac_held.xml");
    let mut uac = sipp(
        &dir,
        &[
            "-sf",
            uac_scen.to_str().unwrap(),
            "-s",
            "answered",
            &format!("{PROXY}:5190"),
            "-i",
            UAC,
            "-p",
            "5193",
            "-m",
            "1",
            "-d",
            &HOLD_MS.to_string(),
        ],
    );
    // Answered on screen while the call is still up.
    let s = wait_for(&session, "the answered call", Duration::from_secs(4), |s| {
        // "answered" as the callee's user and again as the state.
        call_row(s).is_some_and(|r| r.matches("answered").count() >= 2 && !r.contains("ended"))
    });
    assert!(
        uac.try_wait().unwrap().is_none(),
        "the call had ended before the screen showed it:\n{s}"
    );
    let status = uac.wait().unwrap();
    assert!(status.success(), "sipp's call failed");
    // Ended within a second or two of its BYE.
    wait_for(&session, "the ended call", Duration::from_secs(3), |s| {
        call_row(s).is_some_and(|r| r.contains("ended by caller"))
    });
    // Enter: its ladder, with the BYE on it.
    keys(&session, &["G", "Enter"]);
    let s = wait_for(&session, "the ladder", Duration::from_secs(3), |s| {
        s.contains("BYE") && s.contains("INVITE") && s.contains("frame ")
    });
    let msgs: usize = s
        .lines()
        .find_map(|l| {
            let at = l.find(" msgs ")?;
            l[..at].rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no message count in the ladder's title:\n{s}"));
    // F2 with the name it offers: the call's frames as a pcap.
    keys(&session, &["F2"]);
    wait_for(&session, "the save prompt", Duration::from_secs(2), |s| {
        s.contains("save as:")
    });
    keys(&session, &["Enter"]);
    let s = wait_for(&session, "the save", Duration::from_secs(5), |s| {
        s.contains("written to") || s.contains("not saved")
    });
    assert!(s.contains("written to"), "{s}");
    let saved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&saved[0])
        .args(["-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), msgs, "tshark's SIP messages in the saved file");
    assert!(
        lines.windows(2).all(|w| w[0] == w[1]),
        "one call: {lines:?}"
    );
    // q back to the list, q again to leave: exit 0, the main screen back.
    keys(&session, &["q"]);
    keys(&session, &["q"]);
    let start = Instant::now();
    while !dir.join("exit").exists() {
        assert!(start.elapsed() < Duration::from_secs(5), "did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("exit")).unwrap().trim(),
        "EXIT=0"
    );
    let alt = Command::new("tmux")
        .args(["display-message", "-p", "-t", &session, "#{alternate_on}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&alt.stdout).trim(),
        "0",
        "alternate screen left on"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A terminal that goes away (the tmux session killed: SIGHUP) or a SIGTERM ends the UI, even
/// after its capture has been read to the end.
#[test]
fn tui_leaves_when_its_terminal_goes_away() {
    if !tools_or_skip(&["tmux"]) {
        return;
    }
    let dir = tempdir("tui-hup");
    // A copy under a name of its own, to find this run's process.
    let cap = dir.join("hup-check.pcap");
    std::fs::copy(repo().join("samples/kamailio-sipp-outcomes.pcap"), &cap).unwrap();
    for (how, session) in [("hangup", "sipscope-hup"), ("term", "sipscope-term")] {
        let session = format!("{session}-{}", std::process::id());
        let cmd = format!("{} tui {}", env!("CARGO_BIN_EXE_sipscope"), cap.display());
        new_session(&session, "100", "30", &cmd);
        let _g = Guard {
            children: Vec::new(),
            session: session.clone(),
        };
        wait_for(
            &session,
            "the loaded capture",
            Duration::from_secs(10),
            |s| s.contains("done"),
        );
        // Anchored on the binary: tmux's server, which may outlive the session while other
        // tests' sessions run, carries the same words in its own command line.
        let pattern = format!("^{} tui {}", env!("CARGO_BIN_EXE_sipscope"), cap.display());
        let running = || {
            Command::new("pgrep")
                .args(["-f", &pattern])
                .output()
                .unwrap()
                .stdout
        };
        assert!(!running().is_empty());
        if how == "hangup" {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &session])
                .status();
        } else {
            let _ = Command::new("pkill")
                .args(["-TERM", "-f", &pattern])
                .status();
        }
        let start = Instant::now();
        while !running().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "sipscope tui still running 3 s after the {how}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15: `calls` on an 80-column terminal keeps every Call-ID whole: it is the last column
/// and is never cut (other columns are), so a wrapped row still holds it in one piece to copy
/// into `show` or `ladder`. Off a terminal nothing at all is cut (tests/golden.rs).
#[test]
fn calls_on_an_80_column_terminal_keep_every_call_id_whole() {
    if !tools_or_skip(&["tmux"]) {
        return;
    }
    let file = repo().join("samples/kamailio-sipp-outcomes.pcap");
    let csv = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["calls", "--format", "csv"])
        .arg(&file)
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    let mut lines = csv.lines();
    let col = lines
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "call_id")
        .unwrap();
    let ids: Vec<String> = lines
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect();
    assert!(ids.len() >= 20, "{csv}");
    let session = format!("sipscope-80-{}", std::process::id());
    // The pane stays open after the table so it can be read; 60 rows hold the whole table.
    let cmd = format!(
        "{} calls --no-progress {}; echo END-OF-TABLE; sleep 30",
        env!("CARGO_BIN_EXE_sipscope"),
        file.display()
    );
    new_session(&session, "80", "60", &cmd);
    let _g = Guard {
        children: Vec::new(),
        session: session.clone(),
    };
    wait_for(&session, "the table", Duration::from_secs(10), |s| {
        s.contains("END-OF-TABLE")
    });
    // -J joins the lines the terminal wrapped, as a copy from the terminal does.
    let out = Command::new("tmux")
        .args(["capture-pane", "-p", "-J", "-S", "-", "-t", &session])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("20") && l.contains('@'))
        .collect();
    assert_eq!(rows.len(), ids.len(), "{screen}");
    for id in &ids {
        assert!(
            rows.iter()
                .any(|r| r.trim_end().ends_with(&format!(" {id}"))),
            "{id} not whole at the end of its row:\n{screen}"
        );
    }
}
