//! `sipscope ladder`: the ladder of one call (or of every selected call) as text or Mermaid.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::correlate::record::{CallRecord, MsgRow};
use sipscope::output::names::FileNames;
use sipscope::output::OutputError;
use sipscope::render::{self, Ladder, LadderOptions};
use sipscope::session::{ClosedCall, Event, Needs, Report, Sink};

use super::commands::{drive, RunError};
use super::{Config, LadderArgs, LadderFormat, UsageError};

/// What to draw, validated.
#[derive(Clone, Debug)]
pub struct LadderRequest {
    pub format: LadderFormat,
    pub output: Option<PathBuf>,
    pub all: bool,
    pub legs: bool,
    pub opts: LadderOptions,
    pub text: render::text::TextOptions,
}

impl LadderRequest {
    pub fn from_args(a: &LadderArgs) -> Result<LadderRequest, UsageError> {
        if !a.all && a.common.call_id.is_none() {
            return Err(UsageError(
                "ladder needs --call-id ID (or --all -o DIR for every call)".into(),
            ));
        }
        if a.all && a.output.as_ref().is_none_or(|o| o.is_file()) {
            return Err(UsageError(
                "--all writes one file per call: give -o DIR (a directory)".into(),
            ));
        }
        // `-o call.svg` means SVG, as the terminal UI's save does; --format wins when given.
        let format = a.format.unwrap_or_else(|| match &a.output {
            Some(o) if !a.all => format_of(o),
            _ => LadderFormat::Text,
        });
        if format == LadderFormat::Png && a.output.is_none() {
            return Err(UsageError(
                "--format png writes a file: give -o FILE.png".into(),
            ));
        }
        let aliases = aliases(&a.aliases, &a.alias_file)?;
        let to_terminal = a.output.is_none() && io::stdout().is_terminal();
        Ok(LadderRequest {
            format,
            output: a.output.clone(),
            all: a.all,
            legs: a.legs,
            opts: LadderOptions {
                by_host: a.by_host,
                aliases,
                skip_text: false,
            },
            text: render::text::TextOptions {
                ascii: a.ascii,
                color: super::colour_on(to_terminal),
                verbose: a.verbose,
                width: if to_terminal {
                    sipscope::output::terminal_width()
                } else {
                    None
                },
                time: render::text::TimeMode::Absolute,
            },
        })
    }
}

/// Endpoint names from `--alias ADDR=NAME` and `--alias-file` (the command line's win).
pub fn aliases(
    given: &[String],
    file: &Option<std::path::PathBuf>,
) -> Result<BTreeMap<String, String>, UsageError> {
    let mut aliases = BTreeMap::new();
    let mut lines: Vec<String> = Vec::new();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| UsageError(format!("cannot read --alias-file {}: {e}", f.display())))?;
        lines.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
                .filter(|l| !l.is_empty()),
        );
    }
    lines.extend(given.iter().cloned());
    for s in &lines {
        let (addr, name) = render::parse_alias(s).ok_or_else(|| {
            UsageError(format!(
                "bad --alias {s:?}: use ADDR=NAME, e.g. 10.0.0.1=SBC"
            ))
        })?;
        aliases.insert(addr, name);
    }
    Ok(aliases)
}

fn draw(l: &Ladder, req: &LadderRequest) -> String {
    match req.format {
        LadderFormat::Png => String::new(),
        LadderFormat::Text => render::text::render(l, &req.text),
        LadderFormat::Mermaid => render::mermaid::render(l),
        LadderFormat::Svg => render::svg::render(l),
        LadderFormat::Html => render::html::render(l),
    }
}

/// Holds what the ladders need: the messages of the wanted calls (of every call with --all or
/// --legs, since a leg is not selected by the filter that selects its call) and the closed calls.
struct LadderSink {
    wanted: Option<String>,
    keep_all: bool,
    legs: bool,
    text: bool,
    by_call: BTreeMap<String, Vec<MsgRow>>,
    /// The calls the filter selects, in the order they closed.
    selected: Vec<String>,
    closed: BTreeMap<String, ClosedCall>,
}

impl Sink for LadderSink {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            text: self.text,
            // The calls' RTP streams are drawn as spans.
            media: true,
            context: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        match e {
            Event::Message(m) => {
                let cid = m.call_id.as_deref().unwrap_or_default();
                if self.keep_all || self.wanted.as_deref() == Some(cid) {
                    self.by_call
                        .entry(cid.to_string())
                        .or_default()
                        .push(MsgRow::clone(m));
                }
            }
            Event::CallClosed(c) if selected || self.legs => {
                if selected {
                    self.selected.push(c.call.call_id.clone());
                }
                self.closed.insert(c.call.call_id.clone(), (*c).clone());
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn ladder(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &LadderRequest,
) -> Result<Report, RunError> {
    let wanted = cfg.filter.call_id.clone();
    let mut sink = LadderSink {
        wanted: wanted.clone(),
        keep_all: req.all || req.legs,
        legs: req.legs,
        text: req.text.verbose || req.format == LadderFormat::Html,
        by_call: BTreeMap::new(),
        selected: Vec::new(),
        closed: BTreeMap::new(),
    };
    let stats = drive(cfg, stop, None, &mut sink)?;
    let LadderSink {
        by_call,
        mut selected,
        closed,
        ..
    } = sink;
    selected.sort_by(|a, b| {
        let key = |id: &String| closed.get(id).map(|c| c.call.start);
        (key(a), a).cmp(&(key(b), b))
    });
    let selected: Vec<&CallRecord> = selected
        .iter()
        .filter_map(|id| closed.get(id).map(|c| &c.call))
        .collect();
    if selected.is_empty() {
        let what = match wanted.as_deref() {
            Some(id) => format!("no call with Call-ID {}", sipscope::output::escape(id)),
            None => "no call matches the filters".into(),
        };
        return Err(RunError::NoMatch(Box::new(stats), what));
    }
    // Which calls to draw, with the legs each one merges (a leg drawn with its call is not
    // drawn again on its own).
    let mut drawn: BTreeSet<String> = BTreeSet::new();
    let mut jobs: Vec<(String, Vec<String>)> = Vec::new();
    for c in selected {
        if drawn.contains(&c.call_id) {
            continue;
        }
        let mut ids = vec![c.call_id.clone()];
        if req.legs {
            ids.extend(c.legs.iter().map(|l| l.call_id.clone()));
        }
        drawn.extend(ids.iter().cloned());
        jobs.push((c.call_id.clone(), ids));
    }
    if req.all {
        if let Some(dir) = &req.output {
            std::fs::create_dir_all(dir).map_err(|e| RunError::Output(OutputError::from(e)))?;
        }
    }
    // Each ladder's file, named before the parallel part so that the names (and their `-2`
    // suffixes, if two Call-IDs would share one) follow the calls' order.
    let mut names = FileNames::new();
    let ext = extension(req.format);
    let jobs: Vec<(Vec<String>, Option<PathBuf>)> = jobs
        .into_iter()
        .map(|(call_id, ids)| {
            let path = match (&req.output, req.all) {
                (Some(dir), true) => Some(dir.join(names.name(&call_id, ext))),
                (Some(file), false) => Some(file.clone()),
                (None, _) => None,
            };
            (ids, path)
        })
        .collect();
    // Every ladder is independent: build, draw and write them in parallel (one file each).
    use rayon::prelude::*;
    let results: Vec<Result<(), RunError>> = jobs
        .par_iter()
        .map(|(ids, path)| {
            let mut rows: Vec<MsgRow> = ids
                .iter()
                .flat_map(|id| by_call.get(id).cloned().unwrap_or_default())
                .collect();
            rows.sort_by_key(|m| (m.frame, m.msg_in_frame));
            let mut l = Ladder::build(&rows, &req.opts);
            l.outcome = ids
                .iter()
                .filter_map(|id| closed.get(id))
                .next()
                .and_then(|c| Ladder::outcome_of(&c.call));
            let mut mine = Vec::new();
            let mut owners = BTreeMap::new();
            for c in ids.iter().filter_map(|id| closed.get(id)) {
                mine.extend(c.streams.iter().cloned());
                owners.extend(c.media.iter().copied());
            }
            mine.sort_by_key(|s| (s.first, s.src, s.dst, s.ssrc));
            l.add_streams(&mine, &owners);
            if req.format == LadderFormat::Png {
                let path = path.clone().unwrap_or_else(unreachable_png);
                return render::png::render_to(&l, &path)
                    .map_err(|e| RunError::Output(OutputError::Io(io::Error::other(e))));
            }
            let text = draw(&l, req);
            write_out(path.as_deref(), &text)
        })
        .collect();
    for r in results {
        r?;
    }
    Ok(stats)
}

/// The format a file name asks for by its extension; text for any other name.
fn format_of(path: &std::path::Path) -> LadderFormat {
    match sipscope::output::extension_of(path).as_str() {
        "svg" => LadderFormat::Svg,
        "png" => LadderFormat::Png,
        "html" | "htm" => LadderFormat::Html,
        "mmd" | "mermaid" => LadderFormat::Mermaid,
        _ => LadderFormat::Text,
    }
}

fn extension(format: LadderFormat) -> &'static str {
    match format {
        LadderFormat::Text => "txt",
        LadderFormat::Mermaid => "mmd",
        LadderFormat::Svg => "svg",
        LadderFormat::Html => "html",
        LadderFormat::Png => "png",
    }
}

/// The drawing to its file, or to stdout without one.
fn write_out(path: Option<&Path>, text: &str) -> Result<(), RunError> {
    let io_err = |e: io::Error| RunError::Output(OutputError::from(e));
    match path {
        Some(path) => std::fs::write(path, text).map_err(io_err),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).map_err(io_err)?;
            out.flush().map_err(io_err)
        }
    }
}

/// `from_args` refuses PNG without -o, so this is never reached; a path is still returned
/// rather than a panic.
fn unreachable_png() -> PathBuf {
    PathBuf::from("ladder.png")
}
