//! The call screen: the open call's ladder, its message pane, and two messages compared by
//! header. Wire text goes through [`clean`] before it is drawn.

use std::collections::BTreeMap;

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use sipscope::correlate::record::MsgRow;
use sipscope::render::text::{self, TextOptions};
use sipscope::render::{Ladder, LadderOptions};

use super::app::{App, Screen};
use super::view::clean;

/// The open call's ladder: its messages (and its legs' when merged), streams and alerts.
pub fn ladder_of(app: &App) -> Option<Ladder> {
    let e = app.open_call()?;
    let mut msgs: Vec<MsgRow> = e.msgs.clone();
    let mut streams = e.streams.clone();
    let mut media: BTreeMap<std::net::SocketAddr, std::net::SocketAddr> =
        e.media.iter().copied().collect();
    if app.legs {
        for l in &e.call.legs {
            if let Some(o) = app.store.calls.get(&l.call_id) {
                msgs.extend(o.msgs.iter().cloned());
                streams.extend(o.streams.iter().cloned());
                media.extend(o.media.iter().copied());
            }
        }
        msgs.sort_by_key(|m| (m.ts, m.frame, m.msg_in_frame));
    }
    let opts = LadderOptions {
        by_host: app.by_host,
        aliases: app.aliases.clone(),
        skip_text: false,
    };
    let mut l = Ladder::build(&msgs, &opts);
    l.add_streams(&streams, &media);
    Some(l)
}

pub fn call_screen(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(l) = ladder_of(app) else {
        app.screen = Screen::List;
        return;
    };
    app.msg_sel = app.msg_sel.min(l.rows.len().saturating_sub(1));
    let Some(e) = app.open_call() else {
        return;
    };
    let title = format!(
        " {} · {} → {} · {} · {} msgs{} ",
        clean(&e.call.call_id),
        clean(&e.call.from),
        clean(&e.call.to),
        e.state(),
        e.call.messages,
        if e.msgs_dropped > 0 {
            format!(" ({} not kept)", e.msgs_dropped)
        } else {
            String::new()
        }
    );
    let wide = area.width >= 160;
    let parts = Layout::default()
        .direction(if wide {
            Direction::Horizontal
        } else {
            Direction::Vertical
        })
        .constraints(if wide {
            [Constraint::Percentage(58), Constraint::Percentage(42)]
        } else {
            [Constraint::Percentage(60), Constraint::Percentage(40)]
        })
        .split(area);
    let alerts: Vec<(u64, &'static str)> = e
        .alerts
        .iter()
        .filter_map(|a| Some((a.frame?, a.code)))
        .collect();
    let legs_why: Vec<String> = e
        .call
        .legs
        .iter()
        .map(|l| format!("{} via {}", clean(&l.call_id), clean(&l.via)))
        .collect();
    ladder_pane(f, app, &l, parts[0], &title, &alerts, &legs_why);
    if app.comparing {
        compare_pane(f, app, &l, parts[1]);
    } else {
        message_pane(f, app, &l, parts[1]);
    }
}

fn ladder_pane(
    f: &mut Frame,
    app: &App,
    l: &Ladder,
    area: Rect,
    title: &str,
    alerts: &[(u64, &'static str)],
    legs_why: &[String],
) {
    let opts = TextOptions {
        ascii: false,
        color: false,
        verbose: false,
        width: Some(area.width.saturating_sub(2) as usize),
        time: app.time,
    };
    let lines = text::lines(l, &opts);
    let mut out: Vec<Line> = lines
        .heading
        .iter()
        .skip(1)
        .map(|h| Line::from(h.clone()))
        .collect();
    if app.legs && !legs_why.is_empty() {
        out.insert(0, Line::from(format!("legs: {}", legs_why.join(", "))));
    }
    let head = out.len();
    let palette = [
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
    ];
    let mut sel_line = 0usize;
    for (i, (r, rl)) in l.rows.iter().zip(&lines.rows).enumerate() {
        if i == app.msg_sel {
            sel_line = out.len();
        }
        for (k, s) in rl.iter().enumerate() {
            let mut st = Style::default();
            if k == 0 {
                st = st.fg(palette[(r.transaction % palette.len() as u64) as usize]);
                if r.rtp.is_some() {
                    st = Style::default().fg(Color::Gray);
                }
            }
            if i == app.msg_sel {
                st = st.add_modifier(Modifier::REVERSED);
            }
            if Some(i) == app.compare_with {
                st = st.add_modifier(Modifier::UNDERLINED);
            }
            let mut spans = vec![Span::styled(s.clone(), app.style(st))];
            if k == 0 {
                for (_, code) in alerts
                    .iter()
                    .filter(|(fr, _)| *fr == r.frame && r.rtp.is_none())
                {
                    spans.push(Span::styled(
                        format!("  ⚠ {code}"),
                        app.style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)),
                    ));
                }
            }
            out.push(Line::from(spans));
        }
    }
    if l.rows.is_empty() {
        out.push(Line::from(
            "  (no message of this call is held: see the header's counts)",
        ));
    }
    // The heading (addresses, names) stays; the rows scroll under it, both sideways together.
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title.to_string());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let head_h = (head as u16).min(inner.height.saturating_sub(1));
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(head_h), Constraint::Min(1)])
        .split(inner);
    let rows_out = out.split_off(head);
    f.render_widget(Paragraph::new(out).scroll((0, app.ladder_x)), parts[0]);
    let h = parts[1].height as usize;
    let sel = sel_line.saturating_sub(head);
    let y = (sel + 3).saturating_sub(h);
    f.render_widget(
        Paragraph::new(rows_out).scroll((y as u16, app.ladder_x)),
        parts[1],
    );
}

/// The message behind a ladder row (by frame and position; RTP rows have none).
fn row_message<'a>(app: &'a App, l: &Ladder, i: usize) -> Option<&'a MsgRow> {
    let r = l.rows.get(i)?;
    if r.rtp.is_some() {
        return None;
    }
    let e = app.open_call()?;
    let id = l.call_ids.get(r.leg)?;
    let msgs = if *id == e.call.call_id {
        &e.msgs
    } else {
        &app.store.calls.get(id)?.msgs
    };
    msgs.iter().find(|m| m.frame == r.frame)
}

fn message_pane(f: &mut Frame, app: &App, l: &Ladder, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    let title;
    match (row_message(app, l, app.msg_sel), l.rows.get(app.msg_sel)) {
        (Some(m), _) => {
            title = format!(
                " frame {} · {} → {} · {} ",
                m.frame,
                m.src,
                m.dst,
                m.transport.as_str()
            );
            let text = m.text.as_deref().unwrap_or("");
            let needle = app.search.to_lowercase();
            for (k, raw) in text.lines().enumerate() {
                let line = clean(raw.trim_end_matches('\r'));
                let mut spans: Vec<Span> = Vec::new();
                let name_end = line.find(':').filter(|_| k > 0 && !line.starts_with(' '));
                match name_end {
                    Some(p) if !line[..p].contains(' ') => {
                        spans.push(Span::styled(
                            line[..p].to_string(),
                            app.style(Style::default().fg(Color::Cyan)),
                        ));
                        spans.push(Span::raw(line[p..].to_string()));
                    }
                    _ if k == 0 => spans.push(Span::styled(
                        line.clone(),
                        app.style(Style::default().add_modifier(Modifier::BOLD)),
                    )),
                    _ => spans.push(Span::raw(line.clone())),
                }
                let mut l = Line::from(spans);
                if !needle.is_empty() && line.to_lowercase().contains(&needle) {
                    l = l.style(app.style(Style::default().bg(Color::DarkGray)));
                }
                lines.push(l);
            }
            if !m.anomalies.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("anomalies: {}", m.anomalies.join(", ")),
                    app.style(Style::default().fg(Color::Red)),
                )));
            }
        }
        (None, Some(r)) if r.rtp.is_some() => {
            title = " RTP stream ".into();
            lines.push(Line::from(clean(&r.label)));
            lines.push(Line::from(clean(&r.cseq)));
        }
        _ => title = " message ".into(),
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(title))
            .wrap(Wrap { trim: false })
            .scroll((app.text_scroll, 0)),
        area,
    );
}

/// A message's headers by name, in order (a name seen twice keeps both values).
pub fn headers(text: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in text.lines().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = v.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, val)) = line.split_once(':') {
            v.push((n.trim().to_ascii_lowercase(), val.trim().to_string()));
        }
    }
    v
}

/// Two messages side by side by header name (not by line position): what differs is marked.
pub fn compare(a: &str, b: &str) -> Vec<(String, String, String)> {
    let ha = headers(a);
    let hb = headers(b);
    let mut names: Vec<String> = Vec::new();
    for (n, _) in ha.iter().chain(hb.iter()) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let join = |h: &[(String, String)], n: &str| {
        h.iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut out = vec![(
        "start line".to_string(),
        a.lines().next().unwrap_or("").trim_end().to_string(),
        b.lines().next().unwrap_or("").trim_end().to_string(),
    )];
    out.extend(names.into_iter().map(|n| {
        let (x, y) = (join(&ha, &n), join(&hb, &n));
        (n, x, y)
    }));
    out
}

fn compare_pane(f: &mut Frame, app: &App, l: &Ladder, area: Rect) {
    let a = app.compare_with.and_then(|i| row_message(app, l, i));
    let b = row_message(app, l, app.msg_sel);
    let (Some(a), Some(b)) = (a, b) else {
        f.render_widget(
            Paragraph::new("compare needs two SIP messages (not RTP rows)")
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let rows: Vec<Row> = compare(
        a.text.as_deref().unwrap_or(""),
        b.text.as_deref().unwrap_or(""),
    )
    .into_iter()
    .map(|(n, x, y)| {
        let same = x == y;
        let r = Row::new(vec![clean(&n), clean(&x), clean(&y)]);
        if same {
            r
        } else {
            r.style(
                app.style(
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                ),
            )
        }
    })
    .collect();
    let t = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Percentage(50),
            Constraint::Percentage(50),
        ],
    )
    .header(Row::new(vec![
        "header".to_string(),
        format!("frame {}", a.frame),
        format!("frame {}", b.frame),
    ]))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" compare by header (differences in bold) · Esc back "),
    );
    f.render_widget(t, area);
}
