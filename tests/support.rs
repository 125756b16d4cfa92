//! Shared helpers: where the captures are, and running the library pipeline on them.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::capture::file::FileSource;
use sipscope::capture::Source;
use sipscope::correlate::record::{CallRecord, MsgRow, RegRecord};
use sipscope::output::OutputError;
use sipscope::pipeline::{PipelineConfig, RunStats};
use sipscope::session::{self, Event, Needs, SessionConfig, Sink};

/// Debian's chromium, if installed.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// A page that opens offline: no external script, style, image or link.
pub fn assert_self_contained(page: &str) {
    for bad in [
        "<script src",
        "<link",
        "<img",
        "href=\"http",
        "src=\"http",
        "@import",
    ] {
        assert!(!page.contains(bad), "page references {bad}");
    }
}

/// Runs a page check of tests/js (`node SCRIPT ARGS…`, puppeteer-core driving chromium) and
/// returns the JSON it prints; `None` (skipped) when chromium or the npm packages are missing,
/// which only `SIPSCOPE_SKIP_LIVE` allows.
pub fn browser_check(script: &str, args: &[&std::ffi::OsStr]) -> Option<serde_json::Value> {
    let js = repo().join("tests/js");
    if chromium().is_none() || !js.join("node_modules/puppeteer-core").exists() {
        assert!(
            std::env::var_os("SIPSCOPE_SKIP_LIVE").is_some(),
            "chromium or tests/js/node_modules missing: run .ci/run (or set SIPSCOPE_SKIP_LIVE=1)"
        );
        eprintln!("SKIPPED: chromium or puppeteer-core not installed");
        return None;
    }
    let out = std::process::Command::new("node")
        .arg(js.join(script))
        .args(args)
        .current_dir(&js)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpus: `SIPSCOPE_CORPUS` (CI sets it and it must exist), else ../shared/corpus.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("SIPSCOPE_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.join("truth").is_dir(),
                "SIPSCOPE_CORPUS={} has no truth/ folder",
                p.display()
            );
            Some(p)
        }
        None => {
            let p = repo().join("../shared/corpus");
            p.join("truth").is_dir().then_some(p)
        }
    }
}

/// A capture by its corpus-relative name: the copy in tests/data, else the shared corpus;
/// None only when no corpus is configured.
pub fn capture(rel: &str) -> Option<PathBuf> {
    let local = repo().join("tests/data").join(rel);
    if local.exists() {
        return Some(local);
    }
    // No corpus configured: the caller skips, and says so. A configured corpus that lacks the
    // file is a failure, never a silent skip.
    let c = corpus()?;
    let p = c.join("pcaps").join(rel);
    assert!(
        p.exists(),
        "the corpus at {} has no {rel}: the test cannot run",
        c.display()
    );
    Some(p)
}

#[derive(Default)]
pub struct Run {
    pub messages: Vec<MsgRow>,
    /// Calls as the session closes them: legs linked in its window, media joined.
    pub calls: Vec<CallRecord>,
    pub regs: Vec<RegRecord>,
    /// Each call's SDP media addresses with the endpoint that announced them.
    pub media: Vec<(std::net::SocketAddr, std::net::SocketAddr)>,
    /// RTP streams, tied to their calls by the session.
    pub streams: Vec<sipscope::analysis::rtp::StreamStats>,
    pub stats: RunStats,
}

/// Collects every event of a session.
struct Collect<'a> {
    run: &'a mut Run,
    needs: Needs,
}

impl Sink for Collect<'_> {
    fn needs(&self) -> Needs {
        self.needs
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        match e {
            Event::Message(m) => self
                .run
                .messages
                .push(sipscope::correlate::record::MsgRow::clone(m)),
            Event::CallClosed(c) => {
                self.run.media.extend(c.media.iter().copied());
                self.run.calls.push(c.call.clone());
            }
            Event::Registration(r) => self.run.regs.push((*r).clone()),
            Event::Stream(s) => self.run.streams.push((*s).clone()),
            _ => {}
        }
        Ok(())
    }
}

/// Runs captures through the pipeline and a session, as the commands do; the work done is what
/// `cfg`'s switches ask for.
pub fn run_with(paths: &[&Path], cfg: PipelineConfig) -> Run {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for p in paths {
        sources.push(Box::new(
            FileSource::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        ));
    }
    let source: Box<dyn Source> = if sources.len() == 1 {
        sources.remove(0)
    } else {
        Box::new(sipscope::capture::merge::MergedSource::new(sources))
    };
    let needs = Needs {
        messages: cfg.correlator.want_messages,
        text: cfg.correlator.want_text,
        raw: cfg.correlator.want_raw,
        detail: cfg.correlator.want_detail,
        media: cfg.media.track_rtp || cfg.correlator.want_media,
        series: cfg.media.rtp_series,
        ..Needs::default()
    };
    let mut run = Run::default();
    let mut sink = Collect {
        run: &mut run,
        needs,
    };
    let report = session::run(
        source,
        &cfg,
        SessionConfig::default(),
        Arc::new(AtomicBool::new(false)),
        None,
        &mut sink,
    )
    .expect("pipeline");
    run.stats = report.run;
    run.calls
        .sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    run
}

pub fn run(path: &Path) -> Run {
    let mut cfg = PipelineConfig::default();
    cfg.correlator.want_messages = true;
    run_with(&[path], cfg)
}

pub fn call<'a>(run: &'a Run, call_id: &str) -> &'a CallRecord {
    run.calls
        .iter()
        .find(|c| c.call_id == call_id)
        .unwrap_or_else(|| panic!("no call {call_id}"))
}

/// Builds Ethernet + IPv4 frames for tests that need traffic no public capture has.
pub mod build {
    fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + l4.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            proto,
            0,
            0,
        ]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(l4);
        f
    }

    pub fn udp(src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&src.1.to_be_bytes());
        u.extend_from_slice(&dst.1.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        ipv4(src.0, dst.0, 17, &u)
    }

    pub fn tcp(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&src.1.to_be_bytes());
        t.extend_from_slice(&dst.1.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&0u32.to_be_bytes());
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        ipv4(src.0, dst.0, 6, &t)
    }

    /// One WebSocket frame (RFC 6455 §5.2), length in its shortest form.
    pub fn ws_frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n <= 0xffff => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }
}

/// Runs `sipscope ARGS FILE --no-progress` and returns (stdout, stderr); fails unless it exits
/// 0. Stdout is a pipe, so tables are not fitted to a terminal's width.
pub fn sipscope_ok(args: &[&str], file: &Path) -> (String, String) {
    run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(args)
            .arg(file)
            .arg("--no-progress"),
    )
}

/// Runs a prepared command and returns (stdout, stderr); fails, with its stderr, unless it exits
/// 0.
pub fn run_ok(cmd: &mut std::process::Command) -> (String, String) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("UTF-8 on stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 on stderr"),
    )
}

/// A counter's value in `--stats` output (the `stage.counter  value` table on stderr).
pub fn stat(stderr: &str, key: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().unwrap_or("").to_string())
    })
}
