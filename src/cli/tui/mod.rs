//! `sipscope tui`: browse calls in the terminal, live or from captures.
//!
//! ```text
//! capture thread: source ─▶ pipeline ─▶ session ─▶ Forward ─(bounded channel)─▶ UI thread
//! UI thread: drain the channel into the Store · keys · redraw when something changed
//! ```
//! The capture never waits for the user: pausing freezes the view only, and the UI thread keeps
//! draining the channel whatever the screen shows. A live capture is also spooled to rotating
//! pcap files in a temporary directory (10 × 100 MB at most, removed at exit), so that F2 can
//! save a call's frames; files are simply read again.

pub mod app;
pub mod call_view;
mod query;
mod save;
pub mod store;
#[cfg(test)]
mod tests;
pub mod view;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use crossterm::event::{self, Event as TermEvent, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use sipscope::analysis::alerts::{Alert, Thresholds};
use sipscope::analysis::rtp::StreamStats;
use sipscope::capture::writer::{Rotate, RotatingWriter, Tap};
use sipscope::correlate::record::{CallChange, CallKind, MsgRow, RegRecord};
use sipscope::output::OutputError;
use sipscope::session::{
    self, ClosedCall, Event, Needs, Report, RunError, SessionConfig, Sink, Tick,
};

use super::{Config, Input, TuiArgs};
use app::App;
use store::Store;

/// What the capture thread tells the UI.
pub enum Msg {
    Message(Box<MsgRow>),
    Changed(Box<CallChange>),
    Closed(Box<ClosedCall>),
    Stream(Box<StreamStats>),
    Registration(Box<RegRecord>),
    Alert(Box<Alert>),
    Tick(Box<Tick>),
    Progress(u64, u64),
    Done(Box<Result<Report, String>>),
}

/// The session's sink: every event, owned, onto the channel. A closed UI ends the run.
pub struct Forward {
    pub tx: Sender<Msg>,
}

impl Sink for Forward {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            text: true,
            detail: true,
            changes: true,
            media: true,
            alerts: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        let m = match e {
            Event::Message(m) => Msg::Message(Box::new(MsgRow::clone(m))),
            Event::CallChanged(c) => Msg::Changed(Box::new((*c).clone())),
            Event::CallClosed(c) => Msg::Closed(Box::new((*c).clone())),
            Event::Stream(s) => Msg::Stream(Box::new((*s).clone())),
            Event::Registration(r) => Msg::Registration(Box::new((*r).clone())),
            Event::Alert(a) => Msg::Alert(Box::new((*a).clone())),
            Event::Tick(t) => Msg::Tick(Box::new((*t).clone())),
            // Not asked for (its needs leave `rtcp` off).
            Event::Rtcp(_) => return Ok(()),
        };
        self.tx.send(m).map_err(|_| OutputError::BrokenPipe)
    }
}

/// Applies one message from the capture thread to the UI's state.
pub fn apply(app: &mut App, m: Msg) {
    match m {
        Msg::Message(m) => app.store.message(*m),
        Msg::Changed(mut c) => {
            c.call.detail = None;
            app.store.changed(&c);
        }
        Msg::Closed(mut c) => {
            if c.call.kind == CallKind::Invite {
                app.stats.add_call(&c.call);
            }
            c.call.detail = None;
            app.store.closed(&c);
        }
        Msg::Stream(s) => app.store.stream(&s),
        Msg::Registration(r) => {
            app.stats.add_reg(&r);
            app.store.registration(&r);
        }
        Msg::Alert(a) => app.store.alert(&a),
        Msg::Tick(t) => app.store.tick(&t),
        Msg::Progress(d, t) => {
            app.feed.progress = Some((d, t));
            app.store.generation += 1;
        }
        Msg::Done(r) => {
            app.feed.done = true;
            app.store.generation += 1;
            match *r {
                Ok(rep) => app.feed.warnings = super::commands::warnings(&rep),
                Err(e) => app.feed.error = Some(e),
            }
            if !app.feed.warnings.is_empty() {
                app.status = format!("capture: {}", app.feed.warnings.join("; "));
            }
        }
    }
}

/// Runs the capture on its own thread into `tx`; the last message is `Done`.
pub fn spawn_capture(
    cfg: Config,
    thresholds: Thresholds,
    stop: Arc<AtomicBool>,
    tx: Sender<Msg>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let source = match super::commands::open_source(&cfg, stop.clone()) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Msg::Done(Box::new(Err(e.to_string()))));
                return;
            }
        };
        let total = source.progress().map(|(_, t)| t);
        let ptx = tx.clone();
        let progress: Option<sipscope::pipeline::Progress> = total.map(|t| {
            Box::new(move |d: Option<u64>| {
                // Progress is a hint: never wait for room.
                let _ = ptx.try_send(Msg::Progress(d.unwrap_or(t), t));
            }) as sipscope::pipeline::Progress
        });
        let scfg = SessionConfig {
            filter: cfg.filter.clone(),
            thresholds,
            hold: session::HOLD,
        };
        let mut sink = Forward { tx: tx.clone() };
        let r = session::run(source, &cfg.pipeline, scfg, stop, progress, &mut sink);
        let _ = tx.send(Msg::Done(Box::new(r.map_err(|e| e.to_string()))));
    })
}

/// Restores the terminal (raw mode off, main screen back, cursor shown).
pub fn restore_terminal() {
    restore()
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Moves what waits in the channel into the state, for at most `budget`.
fn drain(app: &mut App, rx: &Receiver<Msg>, budget: Duration) -> bool {
    let start = Instant::now();
    let mut any = false;
    while let Ok(m) = rx.try_recv() {
        apply(app, m);
        any = true;
        if start.elapsed() > budget {
            break;
        }
    }
    any
}

pub fn tui(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    args: &TuiArgs,
    thresholds: &Thresholds,
    aliases: std::collections::BTreeMap<String, String>,
) -> Result<Report, RunError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(RunError::Output(OutputError::Io(std::io::Error::other(
            "sipscope tui needs a terminal (for a file, use calls, ladder or report)",
        ))));
    }
    let mut cfg = cfg.clone();
    let (source, live, files) = match &cfg.input {
        Input::Files(f) => (
            f.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            false,
            f.clone(),
        ),
        Input::Live(o) => (format!("live on {}", o.iface), true, Vec::new()),
        Input::Hep(o) => {
            let on: Vec<String> = o.specs.iter().map(|s| s.addr.to_string()).collect();
            (format!("HEP on {}", on.join(", ")), true, Vec::new())
        }
    };
    // Live: spool what is captured, so that a call's frames can be saved.
    let mut spool: Option<(PathBuf, Tap, std::thread::JoinHandle<RotatingWriter>)> = None;
    if live {
        let dir = std::env::temp_dir().join(format!("sipscope-tui-{}", std::process::id()));
        let w = RotatingWriter::new(&dir, Rotate::Bytes(100_000_000), 10)?;
        let (tap, h) = Tap::spawn(w);
        cfg.pipeline.tap = Some(tap.clone());
        spool = Some((dir, tap, h));
    }
    let (tx, rx) = bounded::<Msg>(65_536);
    let capture = spawn_capture(cfg, thresholds.clone(), stop.clone(), tx);
    let mut app = App::new(
        Store::new(args.max_calls, args.text_memory.saturating_mul(1 << 20)),
        source,
        live,
        files,
    );
    app.spool = spool.as_ref().map(|s| s.0.clone());
    app.spool_tap = spool.as_ref().map(|s| s.1.clone());
    app.aliases = aliases;

    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let result = ui_loop(&mut term, &mut app, &rx, &stop);
    restore();
    // The capture stops; a send blocked on the full channel fails once the receiver is gone.
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = capture.join();
    if let Some((dir, tap, h)) = spool {
        // Every sender goes, or the writer waits for more frames for ever.
        app.spool_tap = None;
        drop(tap);
        let _ = h.join();
        let _ = std::fs::remove_dir_all(dir);
    }
    result?;
    if let Some(e) = app.feed.error.take() {
        return Err(RunError::Output(OutputError::Io(std::io::Error::other(e))));
    }
    for w in app.feed.warnings.iter().chain(&app.store.counters.losses()) {
        eprintln!("sipscope: warning: {w}");
    }
    Ok(Report::default())
}

/// Reads the terminal's events on a thread of its own, so that the UI loop never blocks in
/// crossterm: on a terminal that went away crossterm's poll spins without returning, and the
/// loop must still see the stop flag (SIGHUP) and leave.
fn spawn_input() -> Receiver<std::io::Result<TermEvent>> {
    let (tx, rx) = bounded(256);
    std::thread::spawn(move || loop {
        match event::poll(Duration::from_millis(200)) {
            Ok(true) => {
                let e = event::read();
                let failed = e.is_err();
                if tx.send(e).is_err() || failed {
                    return;
                }
            }
            Ok(false) => {}
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    rx
}

fn ui_loop(
    term: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    app: &mut App,
    rx: &Receiver<Msg>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let input = spawn_input();
    let mut drawn_gen = u64::MAX;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut dirty = true;
    loop {
        drain(app, rx, Duration::from_millis(40));
        // SIGTERM, SIGHUP (the terminal went away) or Ctrl-C outside raw mode set `stop`:
        // leave cleanly, whether or not the capture has ended.
        if app.quit || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let changed = app.store.generation != drawn_gen || app.list_stale();
        if dirty || (changed && last_draw.elapsed() >= Duration::from_millis(100)) {
            term.draw(|f| view::draw(f, app))?;
            drawn_gen = app.store.generation;
            last_draw = Instant::now();
            dirty = false;
        }
        match input.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                app.key(k);
                dirty = true;
            }
            Ok(Ok(TermEvent::Resize(..))) => dirty = true,
            Ok(Ok(_)) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Ok(Err(e)) => return Err(e),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(std::io::Error::other("the terminal's input ended"))
            }
        }
    }
}

/// For tests: runs a capture to its end and returns what the UI would have been told.
#[cfg(test)]
pub fn collect(cfg: &Config) -> Vec<Msg> {
    let (tx, rx) = bounded::<Msg>(1 << 20);
    let h = spawn_capture(
        cfg.clone(),
        Thresholds::default(),
        Arc::new(AtomicBool::new(false)),
        tx,
    );
    let mut v = Vec::new();
    for m in rx {
        v.push(m);
    }
    let _ = h.join();
    v
}
