//! F2: the chosen calls as a capture, the open ladder as a drawing, the list as CSV or JSON.
//!
//! The name's extension chooses: `.pcap` the frames of the calls (the marked ones, else the open
//! or selected one); `.txt`, `.svg`, `.html`, `.mmd`, `.png` the ladder of the open call; `.csv`
//! and `.json` the calls listed (the marked ones, else every call the filter shows), with the
//! columns and field names of `sipscope calls`.
//!
//! The frames come from reading the capture again (files) or the UI's spool of the live capture:
//! every frame that carried one of the calls' messages (same capture time and addresses), the
//! frames of a TCP connection of the call from 2 s before its first message on that connection to
//! its last, and the packets of the calls' RTP streams between their first and last packet.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sipscope::capture::file::FileSource;
use sipscope::capture::writer::PcapFile;
use sipscope::capture::Source;
use sipscope::decode::Decoder;
use sipscope::output::{schema, write_csv_row};
use sipscope::reassembly::Carrier;
use sipscope::render;
use sipscope::time::{Ts, NANOS_PER_SEC};

use super::app::{App, Screen};

pub fn save(app: &App, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("no file name".into());
    }
    let path = Path::new(name);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pcap" => pcap(app, path),
        "csv" | "json" => list(app, path, &ext),
        "txt" | "svg" | "html" | "mmd" | "png" => ladder(app, path, &ext),
        _ => Err(format!(
            "unknown extension {ext:?}: .pcap, .txt, .svg, .html, .mmd, .png, .csv or .json"
        )),
    }
}

/// The calls F2 acts on: the marked ones, else the open call, else the selected one.
fn chosen(app: &App) -> Vec<String> {
    if !app.marked.is_empty() {
        return app.marked.iter().cloned().collect();
    }
    if app.screen == Screen::Call {
        return app.call_id.iter().cloned().collect();
    }
    app.rows.get(app.sel).cloned().into_iter().collect()
}

fn list(app: &App, path: &Path, ext: &str) -> Result<String, String> {
    let ids: Vec<String> = if app.marked.is_empty() {
        app.rows.clone()
    } else {
        app.marked.iter().cloned().collect()
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut n = 0;
    if ext == "csv" {
        write_csv_row(&mut w, &schema::names(schema::CALLS)).map_err(|e| e.to_string())?;
    }
    for id in &ids {
        let Some(e) = app.store.calls.get(id) else {
            continue;
        };
        if ext == "csv" {
            let cells: Vec<String> = schema::call_row(&e.call).iter().map(schema::text).collect();
            write_csv_row(&mut w, &cells).map_err(|e| e.to_string())?;
        } else {
            sipscope::output::json::write_line(&mut w, &e.call).map_err(|e| e.to_string())?;
        }
        n += 1;
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok(format!("{n} calls written to {}", path.display()))
}

fn ladder(app: &App, path: &Path, ext: &str) -> Result<String, String> {
    if app.screen != Screen::Call {
        return Err("open a call (Enter) to save its ladder".into());
    }
    let l = super::call_view::ladder_of(app).ok_or("no call open")?;
    let body = match ext {
        "txt" => render::text::render(
            &l,
            &render::text::TextOptions {
                time: app.time,
                ..Default::default()
            },
        ),
        "svg" => render::svg::render(&l),
        "html" => render::html::render(&l),
        "mmd" => render::mermaid::render(&l),
        _ => {
            render::png::render_to(&l, path).map_err(|e| e.to_string())?;
            return Ok(format!("ladder drawn to {}", path.display()));
        }
    };
    std::fs::write(path, body).map_err(|e| e.to_string())?;
    Ok(format!("ladder written to {}", path.display()))
}

/// What picks a call's frames out of a capture.
#[derive(Default)]
pub struct Wanted {
    /// (capture time, source, destination) of every message.
    msgs: HashSet<(i64, SocketAddr, SocketAddr)>,
    /// TCP connections (either direction, lower address first) and the time span to take.
    tcp: HashMap<(SocketAddr, SocketAddr), (Ts, Ts)>,
    /// RTP: (source, destination) and the stream's span.
    rtp: Vec<(SocketAddr, SocketAddr, Ts, Ts)>,
}

fn ordered(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Wanted {
    pub fn of(app: &App, ids: &[String]) -> Wanted {
        let mut w = Wanted::default();
        for id in ids {
            let Some(e) = app.store.calls.get(id) else {
                continue;
            };
            for m in &e.msgs {
                w.msgs.insert((m.ts.0, m.src, m.dst));
                if !matches!(m.transport, Carrier::Udp) {
                    let span = w.tcp.entry(ordered(m.src, m.dst)).or_insert((m.ts, m.ts));
                    span.0 = span.0.min(m.ts);
                    span.1 = span.1.max(m.ts);
                }
            }
            for s in &e.streams {
                w.rtp.push((s.src, s.dst, s.first, s.last));
            }
        }
        for span in w.tcp.values_mut() {
            span.0 = Ts(span.0 .0 - 2 * NANOS_PER_SEC);
        }
        w
    }

    pub fn wants(&self, ts: Ts, src: SocketAddr, dst: SocketAddr) -> bool {
        self.msgs.contains(&(ts.0, src, dst))
            || self
                .tcp
                .get(&ordered(src, dst))
                .is_some_and(|(a, b)| ts >= *a && ts <= *b)
            || self
                .rtp
                .iter()
                .any(|(s, d, a, b)| *s == src && *d == dst && ts >= *a && ts <= *b)
    }
}

/// Where the frames are: the capture files, or the live spool.
fn inputs(app: &App) -> Vec<PathBuf> {
    let Some(dir) = &app.spool else {
        return app.files.clone();
    };
    // The spool's names sort in the order they were written (capture time, then a number).
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn pcap(app: &App, path: &Path) -> Result<String, String> {
    let ids = chosen(app);
    if ids.is_empty() {
        return Err("no call selected".into());
    }
    let wanted = Wanted::of(app, &ids);
    if wanted.msgs.is_empty() {
        return Err("none of these calls' messages is held (let go for memory)".into());
    }
    let files = inputs(app);
    if files.is_empty() || files.iter().any(|f| f.as_os_str() == "-") {
        return Err("the capture cannot be read again (standard input)".into());
    }
    let mut out: Option<PcapFile> = None;
    let (mut n, mut other_link) = (0u64, 0u64);
    for f in &files {
        let mut src = FileSource::open(f).map_err(|e| e.to_string())?;
        let mut dec = Decoder::default();
        while let Some(fr) = src.next_frame().map_err(|e| e.to_string())? {
            let frame = fr.to_owned();
            let Some(p) = dec.decode(&frame) else {
                continue;
            };
            let (s, d) = (
                SocketAddr::new(p.src, p.sport),
                SocketAddr::new(p.dst, p.dport),
            );
            if !wanted.wants(frame.ts, s, d) {
                continue;
            }
            let w = match &mut out {
                Some(w) => w,
                None => out.insert(PcapFile::create(path, frame.link).map_err(|e| e.to_string())?),
            };
            if w.link != frame.link {
                other_link += 1;
                continue;
            }
            w.write(&frame).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    let Some(mut w) = out else {
        return Err("no frame of these calls was found in the capture".into());
    };
    w.flush().map_err(|e| e.to_string())?;
    let mut msg = format!(
        "{n} frames of {} call(s) written to {}",
        ids.len(),
        path.display()
    );
    if other_link > 0 {
        msg.push_str(&format!(
            " ({other_link} frames of another link type left out)"
        ));
    }
    Ok(msg)
}
