//! F2: the chosen calls as a capture, the open ladder as a drawing, the list as CSV or JSON.
//!
//! The name's extension chooses: `.pcap` or `.pcapng` the frames of the calls (the marked ones,
//! else the open or selected one); `.txt`, `.svg`, `.html`, `.mmd`, `.png` the ladder of the open call; `.csv`
//! and `.json` the calls listed (the marked ones, else every call the filter shows), with the
//! columns and field names of `sipscope calls`.
//!
//! The frames come from reading the capture again (files) or the UI's spool of the live capture,
//! chosen by [`sipscope::export`] as `sipscope export` chooses them: the frames of the calls'
//! messages (by frame number, or by time and addresses in the spool), their IP fragments and
//! whole TCP segments, and their RTP/RTCP. A `.pcap` holds one link type: calls whose frames
//! have two are saved as `.pcapng`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use sipscope::export::{self, CallFrames, Container, Locate, MediaAt, MsgAt, Target};
use sipscope::output::{schema, write_csv_row};
use sipscope::render;

use super::app::{App, Screen};

pub fn save(app: &App, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("no file name".into());
    }
    let path = Path::new(name);
    let ext = sipscope::output::extension_of(path);
    match ext.as_str() {
        "pcap" => pcap(app, path, Container::Pcap),
        "pcapng" => pcap(app, path, Container::Pcapng),
        "csv" | "json" => list(app, path, &ext),
        "txt" | "svg" | "html" | "mmd" | "png" => ladder(app, path, &ext),
        _ => Err(format!(
            "unknown extension {ext:?}: .pcap, .pcapng, .txt, .svg, .html, .mmd, .png, .csv or .json"
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

fn pcap(app: &App, path: &Path, container: Container) -> Result<String, String> {
    let ids = chosen(app);
    if ids.is_empty() {
        return Err("no call selected".into());
    }
    let calls: Vec<CallFrames> = ids
        .iter()
        .filter_map(|id| app.store.calls.get(id).map(|e| (id, e)))
        .filter(|(_, e)| !e.msgs.is_empty())
        .map(|(id, e)| CallFrames {
            call_id: id.clone(),
            msgs: e.msgs.iter().map(MsgAt::from).collect(),
            media: e.streams.iter().map(MediaAt::from).collect(),
        })
        .collect();
    if calls.is_empty() {
        return Err("none of these calls' messages is held (let go for memory)".into());
    }
    // Live: the spool's writer puts the frames it was given on disk first (the call's last
    // messages were captured before the screen showed them).
    let synced = app
        .spool_tap
        .as_ref()
        .is_none_or(|t| t.sync(std::time::Duration::from_secs(2)));
    let files = inputs(app);
    if files.is_empty() || files.iter().any(|f| f.as_os_str() == "-") {
        return Err("the capture cannot be read again (standard input)".into());
    }
    let opts = export::Options {
        // The spool's files are not numbered as the live capture was: messages by time.
        locate: if app.spool.is_some() {
            Locate::Times
        } else {
            Locate::Frames
        },
        ..export::Options::default()
    };
    let target = Target {
        path: path.to_path_buf(),
        container,
        calls,
    };
    let st = export::write(&files, &[target], &opts, &AtomicBool::new(false))
        .map_err(|e| e.to_string())?;
    let Some((_, n)) = st.files.first() else {
        return Err("no frame of these calls was found in the capture".into());
    };
    let mut msg = format!(
        "{n} frames of {} call(s) written to {}",
        ids.len(),
        path.display()
    );
    for w in st.warnings() {
        msg.push_str(" (");
        msg.push_str(&w);
        msg.push(')');
    }
    if !synced {
        msg.push_str(" (the spool's writer did not answer: its latest frames may be missing)");
    }
    Ok(msg)
}
