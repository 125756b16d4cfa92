//! Drawing the terminal UI: header (capture health), tabs, the screen, the bottom lines.
//!
//! Every text from the wire goes through [`clean`] (control characters, bidi overrides and
//! escapes made visible) before it reaches the terminal.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Tabs};
use ratatui::Frame;
use sipscope::render::text::TimeMode;
use sipscope::render::time_of_day;

use super::app::{App, Prompt, Screen, Tab, KEYMAP, SORTS, TABS};
use super::store::CallEntry;

/// Wire text made safe for the terminal.
pub fn clean(s: &str) -> String {
    sipscope::output::escape(s)
}

fn secs(v: Option<f64>, digits: usize) -> String {
    v.map_or(String::new(), |v| format!("{v:.digits$}"))
}

impl App {
    pub(super) fn style(&self, s: Style) -> Style {
        if self.color {
            s
        } else {
            // NO_COLOR: emphasis without colour.
            Style {
                fg: None,
                bg: None,
                ..s
            }
        }
    }
}

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(2),
        ])
        .split(area);
    header(f, app, chunks[0]);
    match app.screen {
        Screen::List => list_screen(f, app, chunks[1]),
        Screen::Call => super::call_view::call_screen(f, app, chunks[1]),
        Screen::Help => help(f, app, chunks[1]),
    }
    footer(f, app, chunks[2]);
}

fn header(f: &mut Frame, app: &App, area: Rect) {
    let s = &app.store;
    let c = &s.counters;
    let span = match (c.first_ts, c.last_ts) {
        (Some(a), Some(b)) => format!("{} – {}", time_of_day(a), time_of_day(b)),
        _ => "no traffic yet".into(),
    };
    let state = if let Some(e) = &app.feed.error {
        format!("error: {}", clean(e))
    } else if app.feed.done {
        "done".into()
    } else if let Some((d, t)) = app.feed.progress.filter(|(_, t)| *t > 0) {
        format!("loading {}%", d * 100 / t)
    } else if app.live {
        "live".into()
    } else {
        "loading".into()
    };
    let first = Line::from(vec![
        Span::styled(
            " sipscope ",
            app.style(
                Style::default()
                    .add_modifier(Modifier::BOLD)
                    .fg(Color::Cyan),
            ),
        ),
        Span::raw(format!("{} · {state} · {span}", clean(&app.source))),
        if app.paused {
            Span::styled(
                format!("  PAUSED ({} new hidden)", app.new_rows),
                app.style(
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                ),
            )
        } else {
            Span::raw("")
        },
    ]);
    let mut health = format!(
        " packets {} · calls {} active {} · msgs {} retrans {} malformed {} · alerts {}",
        c.frames,
        c.calls_seen,
        s.active_calls(),
        c.messages,
        c.retransmissions,
        c.anomalies,
        c.alerts_fired
    );
    let mut lost: Vec<String> = Vec::new();
    for (n, what) in [
        (c.kernel_drops, "kernel drops"),
        (c.tcp_gaps, "TCP gaps"),
        (c.calls_evicted, "calls evicted"),
        (c.texts_evicted, "messages let go"),
        (c.msgs_dropped, "messages over the per-call cap"),
        (c.detector_evictions, "detector evictions"),
        (
            c.streams_dropped + c.regs_dropped + c.alerts_dropped,
            "old rows dropped",
        ),
    ] {
        if n > 0 {
            lost.push(format!("{n} {what}"));
        }
    }
    if !lost.is_empty() {
        health.push_str(" · ");
        health.push_str(&lost.join(", "));
    }
    let second = Line::from(Span::styled(
        health,
        if lost.is_empty() {
            Style::default()
        } else {
            app.style(Style::default().fg(Color::Yellow))
        },
    ));
    f.render_widget(Paragraph::new(vec![first, second]), area);
}

fn footer(f: &mut Frame, app: &App, area: Rect) {
    let prompt = match &app.prompt {
        Prompt::Filter(t) => Some(("filter", t)),
        Prompt::Search(t) => Some(("search", t)),
        Prompt::Save(t) => Some(("save as", t)),
        Prompt::None => None,
    };
    let first = match prompt {
        Some((what, t)) => Line::from(vec![
            Span::styled(
                format!(" {what}: "),
                app.style(Style::default().fg(Color::Cyan)),
            ),
            Span::raw(format!("{t}█")),
            match (&app.prompt, super::query::Query::parse(t)) {
                (Prompt::Filter(_), Err(e)) => {
                    Span::styled(format!("  {e}"), app.style(Style::default().fg(Color::Red)))
                }
                _ => Span::raw(""),
            },
        ]),
        None => Line::from(Span::styled(
            format!(" {}", app.status),
            app.style(Style::default().fg(Color::Yellow)),
        )),
    };
    let hints = match app.screen {
        Screen::List => " Enter open · Space select · f filter · s sort · p pause · F2 save · Tab tabs · ? help · q quit",
        Screen::Call => " ↑↓ message · ←→ scroll · t time · m mark · Space+c compare · / search · A legs · P ports · F2 save · q back",
        Screen::Help => " q back",
    };
    let second = Line::from(Span::styled(
        hints,
        app.style(Style::default().add_modifier(Modifier::REVERSED)),
    ));
    f.render_widget(Paragraph::new(vec![first, second]), area);
}

fn tabs(f: &mut Frame, app: &App, area: Rect) {
    let titles: Vec<Line> = TABS
        .iter()
        .enumerate()
        .map(|(i, (t, name))| {
            let n = match t {
                Tab::Calls | Tab::Other if *t == app.tab => format!(" ({})", app.rows.len()),
                Tab::Registrations => format!(" ({})", app.store.regs.len()),
                Tab::Alerts => format!(" ({})", app.store.alerts.len()),
                Tab::Streams => format!(" ({})", app.store.streams.len()),
                _ => String::new(),
            };
            Line::from(format!("{} {name}{n}", i + 1))
        })
        .collect();
    let sel = TABS.iter().position(|(t, _)| *t == app.tab).unwrap_or(0);
    let w = Tabs::new(titles)
        .select(sel)
        .highlight_style(app.style(Style::default().add_modifier(Modifier::REVERSED)));
    f.render_widget(w, area);
}

fn list_screen(f: &mut Frame, app: &mut App, area: Rect) {
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .split(area);
    app.refresh();
    tabs(f, app, chunks[0]);
    let body = chunks[1];
    app.page = body.height.saturating_sub(1) as usize;
    match app.tab {
        Tab::Calls | Tab::Other => calls_table(f, app, body, chunks[2]),
        Tab::Registrations => regs_table(f, app, body),
        Tab::Streams => streams_table(f, app, body),
        Tab::Alerts => alerts_table(f, app, body),
        Tab::Stats => stats_view(f, app, body),
    }
}

/// Keeps the selection inside the window of `height` rows; returns the first row shown.
fn window(sel: usize, offset: &mut usize, height: usize) -> usize {
    let h = height.max(1);
    if sel < *offset {
        *offset = sel;
    } else if sel >= *offset + h {
        *offset = sel + 1 - h;
    }
    *offset
}

/// One column of the call list: title, width, and how soon it goes when the terminal is narrow
/// (higher goes first).
struct Col {
    title: &'static str,
    width: u16,
    drop: u8,
    cell: fn(&CallEntry) -> String,
}

const COLS: &[Col] = &[
    Col {
        title: "start",
        width: 12,
        drop: 0,
        cell: |e| time_of_day(e.call.start)[..12].to_string(),
    },
    Col {
        title: "from",
        width: 14,
        drop: 0,
        cell: |e| clean(&e.call.from),
    },
    Col {
        title: "to",
        width: 14,
        drop: 0,
        cell: |e| clean(&e.call.to),
    },
    Col {
        title: "state",
        width: 16,
        drop: 0,
        cell: CallEntry::state,
    },
    Col {
        title: "st",
        width: 3,
        drop: 1,
        cell: |e| e.call.final_status.map_or(String::new(), |s| s.to_string()),
    },
    Col {
        title: "pdd",
        width: 5,
        drop: 4,
        cell: |e| secs(e.call.pdd, 2),
    },
    Col {
        title: "dur",
        width: 7,
        drop: 2,
        cell: |e| format!("{:.1}", e.call.duration),
    },
    Col {
        title: "tr",
        width: 3,
        drop: 6,
        cell: |e| e.transport.to_string(),
    },
    Col {
        title: "msgs",
        width: 4,
        drop: 1,
        cell: |e| e.call.messages.to_string(),
    },
    Col {
        title: "retr",
        width: 4,
        drop: 5,
        cell: |e| e.call.retransmissions.to_string(),
    },
    Col {
        title: "legs",
        width: 4,
        drop: 5,
        cell: |e| e.call.legs.len().to_string(),
    },
    Col {
        title: "al",
        width: 3,
        drop: 2,
        cell: |e| e.alerts.len().to_string(),
    },
    Col {
        title: "mos",
        width: 4,
        drop: 3,
        cell: |e| secs(e.worst_mos(), 2),
    },
    Col {
        title: "loss%",
        width: 5,
        drop: 4,
        cell: |e| secs(e.worst_loss(), 1),
    },
];

/// Width the Call-ID column keeps at least.
const CALL_ID_MIN: u16 = 16;

fn calls_table(f: &mut Frame, app: &mut App, area: Rect, detail: Rect) {
    app.refresh();
    // Columns that fit with the Call-ID's minimum, dropping the least needed first.
    let mut level = 6u8;
    let cols: Vec<&Col> = loop {
        let cols: Vec<&Col> = COLS.iter().filter(|c| c.drop <= level).collect();
        let w: u16 = cols.iter().map(|c| c.width + 1).sum();
        if w + 2 + CALL_ID_MIN <= area.width || level == 0 {
            break cols;
        }
        level -= 1;
    };
    let h = area.height.saturating_sub(1) as usize;
    let first = window(app.sel, &mut app.offset, h);
    let sort_title = SORTS
        .iter()
        .find(|(k, _)| *k == app.sort)
        .map_or("", |s| s.1);
    let mut header: Vec<Cell> = vec![Cell::from(" ")];
    header.extend(cols.iter().map(|c| {
        let mut t = c.title.to_string();
        if t == sort_title || (sort_title == "msgs" && t == "msgs") {
            t.push(if app.desc { '▼' } else { '▲' });
        }
        Cell::from(t)
    }));
    header.push(Cell::from("call-id"));
    // What the filter matched is underlined in the rows it kept.
    let hit_style = app.style(
        Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::UNDERLINED),
    );
    let rows: Vec<Row> = app
        .rows
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .filter_map(|(i, id)| {
            let e = app.store.calls.get(id)?;
            let mut cells: Vec<Cell> =
                vec![Cell::from(if app.marked.contains(id) { "*" } else { " " })];
            cells.extend(cols.iter().map(|c| {
                let text = (c.cell)(e);
                let hit = app.query.highlights(c.title, &text);
                let cell = Cell::from(text);
                if hit {
                    cell.style(hit_style)
                } else {
                    cell
                }
            }));
            let id_cell = Cell::from(clean(id));
            cells.push(if app.query.highlights("call-id", id) {
                id_cell.style(hit_style)
            } else {
                id_cell
            });
            let mut style = Style::default();
            if !e.finished() {
                style = style.add_modifier(Modifier::BOLD);
            }
            if matches!(e.phase, Some(sipscope::correlate::record::Phase::Failed))
                || !e.alerts.is_empty()
            {
                style = style.fg(Color::Red);
            }
            if i == app.sel {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Some(Row::new(cells).style(app.style(style)))
        })
        .collect();
    let mut widths: Vec<Constraint> = vec![Constraint::Length(1)];
    widths.extend(cols.iter().map(|c| Constraint::Length(c.width)));
    widths.push(Constraint::Min(CALL_ID_MIN));
    let t = Table::new(rows, widths)
        .header(
            Row::new(header).style(app.style(Style::default().add_modifier(Modifier::UNDERLINED))),
        )
        .column_spacing(1);
    f.render_widget(t, area);
    // The detail line: the whole Call-ID (never cut) and the full users of the selected call.
    let line = match app.selected() {
        Some(e) => format!(
            " {} · {} → {} · {}{}",
            clean(&e.call.call_id),
            clean(&e.call.from),
            clean(&e.call.to),
            e.state(),
            if app.new_rows > 0 && !app.follow {
                format!(" · {} new (End to follow)", app.new_rows)
            } else {
                String::new()
            }
        ),
        None if app.store.calls.is_empty() => " waiting for calls…".into(),
        None => " no call matches the filter".into(),
    };
    f.render_widget(
        Paragraph::new(line).style(app.style(Style::default().fg(Color::Cyan))),
        detail,
    );
}

fn simple_table(
    f: &mut Frame,
    app: &mut App,
    area: Rect,
    titles: &[&str],
    widths: &[Constraint],
    rows: Vec<Vec<String>>,
) {
    let h = area.height.saturating_sub(1) as usize;
    if app.follow && !rows.is_empty() {
        app.sel = rows.len() - 1;
    }
    app.sel = app.sel.min(rows.len().saturating_sub(1));
    let first = window(app.sel, &mut app.offset, h);
    let sel = app.sel;
    let body: Vec<Row> = rows
        .into_iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, cells)| {
            let r = Row::new(cells);
            if i == sel {
                r.style(app.style(Style::default().add_modifier(Modifier::REVERSED)))
            } else {
                r
            }
        })
        .collect();
    let t = Table::new(body, widths.to_vec())
        .header(
            Row::new(titles.to_vec())
                .style(app.style(Style::default().add_modifier(Modifier::UNDERLINED))),
        )
        .column_spacing(1);
    f.render_widget(t, area);
}

fn regs_table(f: &mut Frame, app: &mut App, area: Rect) {
    let rows: Vec<Vec<String>> = app
        .store
        .regs
        .iter()
        .filter(|r| app.query.filter.registration(r))
        .map(|r| {
            vec![
                time_of_day(r.start)[..12].to_string(),
                clean(&r.aor),
                r.result.to_string(),
                r.final_status.map_or(String::new(), |s| s.to_string()),
                r.expires.map_or(String::new(), |s| s.to_string()),
                secs(r.rrd, 3),
                r.client.to_string(),
                r.registrar.to_string(),
                clean(&r.call_id),
            ]
        })
        .collect();
    simple_table(
        f,
        app,
        area,
        &[
            "start",
            "aor",
            "result",
            "st",
            "expires",
            "rrd",
            "client",
            "registrar",
            "call-id",
        ],
        &[
            Constraint::Length(12),
            Constraint::Min(14),
            Constraint::Length(12),
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(21),
            Constraint::Length(21),
            Constraint::Min(16),
        ],
        rows,
    );
}

fn streams_table(f: &mut Frame, app: &mut App, area: Rect) {
    let rows: Vec<Vec<String>> = app
        .store
        .streams
        .iter()
        .map(|s| {
            vec![
                time_of_day(s.first)[..12].to_string(),
                format!("{} → {}", s.src, s.dst),
                s.encoding
                    .clone()
                    .unwrap_or_else(|| format!("pt{}", s.payload_type)),
                s.packets.to_string(),
                s.missing().to_string(),
                secs(s.max_jitter_ms, 1),
                secs(s.mos, 2),
                s.call_id.as_deref().map(clean).unwrap_or_default(),
            ]
        })
        .collect();
    simple_table(
        f,
        app,
        area,
        &[
            "start", "stream", "codec", "pkts", "lost", "jit ms", "mos", "call-id",
        ],
        &[
            Constraint::Length(12),
            Constraint::Min(30),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Min(16),
        ],
        rows,
    );
}

fn alerts_table(f: &mut Frame, app: &mut App, area: Rect) {
    let v = app.alerts_sorted();
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|a| {
            vec![
                time_of_day(a.ts)[..12].to_string(),
                a.severity.as_str().to_string(),
                a.code.to_string(),
                clean(&a.evidence),
                a.call_id.as_deref().map(clean).unwrap_or_default(),
            ]
        })
        .collect();
    simple_table(
        f,
        app,
        area,
        &["time", "severity", "alert", "evidence", "call-id"],
        &[
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(20),
            Constraint::Min(30),
            Constraint::Min(16),
        ],
        rows,
    );
}

fn stats_view(f: &mut Frame, app: &mut App, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    let bold = app.style(Style::default().add_modifier(Modifier::BOLD));
    lines.push(Line::from(Span::styled(
        "Ratios over the calls that have ended (RFC 6076, ITU-T E.411/E.425)",
        bold,
    )));
    for (name, num, den, def) in app.stats.ratio_rows() {
        let pct = if den > 0 {
            format!("{:6.1} %", num as f64 * 100.0 / den as f64)
        } else {
            "     – ".into()
        };
        lines.push(Line::from(format!(
            " {name:<10} {pct}  {num:>7}/{den:<7} {def}"
        )));
    }
    let (outcomes, in_progress) = app.stats.outcome_counts();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Calls by outcome", bold)));
    let mut o: Vec<String> = outcomes
        .iter()
        .map(|(o, n)| format!("{} {n}", o.as_str()))
        .collect();
    o.push(format!("in progress {in_progress}"));
    o.push(format!("active now {}", app.store.active_calls()));
    lines.push(Line::from(format!(" {}", o.join(" · "))));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Final answers to INVITEs", bold)));
    let codes: Vec<String> = app
        .store
        .counters
        .codes
        .iter()
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    lines.push(Line::from(format!(" {}", codes.join("  "))));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!(
            "Per {} s (latest last): start · calls started · answered · failed · messages",
            super::store::INTERVAL / sipscope::time::NANOS_PER_SEC
        ),
        bold,
    )));
    let room = (area.height as usize).saturating_sub(lines.len());
    let n = app.store.intervals.len();
    for iv in app.store.intervals.iter().skip(n.saturating_sub(room)) {
        lines.push(Line::from(format!(
            " {}  {:>6} {:>6} {:>6} {:>8}",
            &time_of_day(iv.start)[..8],
            iv.invites,
            iv.answered,
            iv.failed,
            iv.messages
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn help(f: &mut Frame, app: &App, area: Rect) {
    let rows: Vec<Row> = KEYMAP
        .iter()
        .map(|k| Row::new(vec![k.keys, k.what, k.screen]))
        .collect();
    let t = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Min(30),
            Constraint::Length(12),
        ],
    )
    .header(
        Row::new(vec!["keys", "does", "where"])
            .style(app.style(Style::default().add_modifier(Modifier::UNDERLINED))),
    )
    .block(Block::default().borders(Borders::ALL).title(" keys "));
    f.render_widget(Clear, area);
    f.render_widget(t, area);
}

/// What the time gutter shows, in words (said when `t` changes it).
pub fn time_mode_name(t: TimeMode) -> &'static str {
    match t {
        TimeMode::Absolute => "absolute",
        TimeMode::SincePrevious => "since previous",
        TimeMode::SinceFirst => "since first",
        TimeMode::SinceMark(_) => "since mark",
    }
}
