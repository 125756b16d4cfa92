//! The ladder as terminal text: one column per endpoint, one arrow per message.
//!
//! Unicode box drawing by default, plain ASCII on request. Column spacing shrinks to fit the
//! width given (the terminal's), labels longer than the space between two columns are cut
//! with `…`. With colour on, each transaction gets its own colour. Verbose ladders print each
//! message's text under its arrow. All wire text is escaped before it is drawn.

use std::fmt::Write as _;

use super::Ladder;
use crate::output::escape;
use crate::time::Ts;

#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    pub ascii: bool,
    pub color: bool,
    pub verbose: bool,
    /// Total width to fit in (the terminal's), if any. Without one (a file, a pipe) nothing is
    /// cut: columns widen to their longest heading and labels wrap onto as many lines as they
    /// need.
    pub width: Option<usize>,
    /// What the time gutter shows.
    pub time: TimeMode,
}

/// What the time gutter of each row shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// Time of day, and the delta to the previous row.
    #[default]
    Absolute,
    /// Time since the previous row.
    SincePrevious,
    /// Time since the first row.
    SinceFirst,
    /// Time since a marked moment (negative before it).
    SinceMark(Ts),
}

impl TimeMode {
    fn gutter(self, r: &super::Row, first: Ts) -> String {
        let secs = |from: Ts| r.ts.since(from) as f64 / 1e9;
        match self {
            TimeMode::Absolute => format!(
                "{} {:>+9.3}",
                super::time_of_day(r.ts),
                r.delta as f64 / 1e9
            ),
            TimeMode::SincePrevious => format!("{:>+16.6} prev", r.delta as f64 / 1e9),
            TimeMode::SinceFirst => format!("{:>+16.6} first", secs(first)),
            TimeMode::SinceMark(m) => format!("{:>+16.6} mark", secs(m)),
        }
    }
}

/// A ladder as lines: the heading (Call-ID, column titles, the empty lifelines), then each
/// row's lines (its arrow, the label's continuation lines, its SDP, its text when verbose).
#[derive(Clone, Debug, Default)]
pub struct Lines {
    pub heading: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

struct Glyphs {
    vert: char,
    horiz: char,
    right: char,
    left: char,
    /// RTP spans.
    media: char,
}

const UNICODE: Glyphs = Glyphs {
    vert: '│',
    horiz: '─',
    right: '▶',
    left: '◀',
    media: '═',
};
const ASCII: Glyphs = Glyphs {
    vert: '|',
    horiz: '-',
    right: '>',
    left: '<',
    media: '=',
};

/// Width of the time and delta gutter: `HH:MM:SS.mmmmmm +SSSS.mmm `.
const GUTTER: usize = 26;
const MAX_GAP: usize = 30;
const MIN_GAP: usize = 14;
/// The widest a column grows, without a terminal, to show its heading whole.
const WHOLE_GAP: usize = 120;

fn fit(s: &str, w: usize) -> String {
    crate::output::fit(s, w)
}

/// Splits `s` into at most `lines` lines of at most `w` columns, at spaces where it can; the
/// last line is cut with `…` if the text still does not fit.
fn wrap(s: &str, w: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest: Vec<char> = s.chars().collect();
    while !rest.is_empty() && out.len() < lines {
        if rest.len() <= w {
            out.push(rest.iter().collect());
            rest.clear();
            break;
        }
        if out.len() + 1 == lines {
            out.push(fit(&rest.iter().collect::<String>(), w));
            rest.clear();
            break;
        }
        let cut = rest[..=w.min(rest.len() - 1)]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|p| *p > 0)
            .unwrap_or(w);
        out.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        rest = rest[cut..]
            .iter()
            .copied()
            .skip_while(|c| *c == ' ')
            .collect();
    }
    out
}

/// Cuts from the left: what tells two addresses apart is their end (`…feb9:1521`).
fn fit_tail(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - (w - 1)));
    out
}

/// Renders the ladder as text.
pub fn render(l: &Ladder, o: &TextOptions) -> String {
    let colors = [31, 32, 33, 34, 35, 36];
    let ls = lines(l, o);
    let mut out = String::new();
    for h in &ls.heading {
        let _ = writeln!(out, "{h}");
    }
    for (r, lines) in l.rows.iter().zip(&ls.rows) {
        for (k, line) in lines.iter().enumerate() {
            if o.color && k == 0 {
                let c = colors[(r.transaction % colors.len() as u64) as usize];
                let _ = writeln!(out, "\x1b[{c}m{line}\x1b[0m");
            } else {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// Renders the ladder as lines, row by row (no colour: a caller colours them its own way).
pub fn lines(l: &Ladder, o: &TextOptions) -> Lines {
    let g = if o.ascii { &ASCII } else { &UNICODE };
    let n = l.columns.len().max(1);
    let gap = match o.width {
        Some(w) if n > 1 => ((w.saturating_sub(GUTTER + 24)) / (n - 1)).clamp(MIN_GAP, MAX_GAP),
        Some(_) => MAX_GAP,
        // Whole values outside a terminal: as wide as the longest address or name.
        None => (0..l.columns.len())
            .map(|i| {
                let (addr, name) = l.column_title(i);
                let name = name.map_or(0, |n| escape(&n).chars().count());
                addr.chars().count().max(name) + 2
            })
            .max()
            .unwrap_or(0)
            .clamp(MAX_GAP, WHOLE_GAP),
    };
    let label_lines = if o.width.is_some() { 3 } else { usize::MAX };
    let center = |i: usize| GUTTER + gap / 2 + i * gap;
    let line_width = center(n - 1) + gap / 2 + 1;
    let mut out = Lines::default();
    // The rows show the time of day: the date and zone are said once, here.
    out.heading.push(format!(
        "Call-ID: {}{}",
        l.call_ids
            .iter()
            .map(|c| escape(c))
            .collect::<Vec<_>>()
            .join(" + "),
        l.rows
            .first()
            .map(|r| format!("  ·  {}", r.ts.date_and_zone()))
            .unwrap_or_default()
    ));
    // Column headings: address, then name, each centred on its column.
    for which in 0..2 {
        let mut buf: Vec<char> = vec![' '; line_width];
        for i in 0..l.columns.len() {
            let (addr, name) = l.column_title(i);
            let t = if which == 0 {
                addr
            } else {
                match name {
                    Some(n) => escape(&n),
                    None => continue,
                }
            };
            let t = if which == 0 {
                fit_tail(&t, gap - 2)
            } else {
                fit(&t, gap - 2)
            };
            let chars: Vec<char> = t.chars().collect();
            let start = center(i).saturating_sub(chars.len() / 2);
            for (k, c) in chars.into_iter().enumerate() {
                if let Some(slot) = buf.get_mut(start + k) {
                    *slot = c;
                }
            }
        }
        let s: String = buf.into_iter().collect();
        out.heading.push(s.trim_end().to_string());
    }
    let blank = {
        let mut buf: Vec<char> = vec![' '; line_width];
        for i in 0..l.columns.len() {
            buf[center(i)] = g.vert;
        }
        buf
    };
    out.heading
        .push(blank.iter().collect::<String>().trim_end().to_string());
    let first = l.rows.first().map_or(Ts::default(), |r| r.ts);
    for r in &l.rows {
        let mut lines: Vec<String> = Vec::new();
        let mut buf = blank.clone();
        let gutter = o.time.gutter(r, first);
        for (k, c) in gutter.chars().enumerate().take(GUTTER - 1) {
            buf[k] = c;
        }
        let mut wrapped: Vec<String> = Vec::new();
        let mut label = escape(&r.label);
        if r.count > 1 {
            label.push_str(&format!(" ×{}", r.count));
            if o.ascii {
                label = label.replace('×', "x");
            }
        }
        let (a, b) = (center(r.from), center(r.to));
        if a == b {
            // A message to itself (rare: a B2BUA on one address): a loop mark beside the column.
            let t = format!("{}{} {}", g.horiz, if o.ascii { '>' } else { '↺' }, label);
            for (k, c) in t.chars().enumerate() {
                if let Some(slot) = buf.get_mut(a + 1 + k) {
                    *slot = c;
                }
            }
        } else {
            let (lo, hi) = (a.min(b), a.max(b));
            let line = if r.rtp.is_some() { g.media } else { g.horiz };
            for slot in buf.iter_mut().take(hi).skip(lo + 1) {
                *slot = line;
            }
            if b > a {
                buf[hi - 1] = g.right;
            } else {
                buf[lo + 1] = g.left;
            }
            let room = hi - lo - 3;
            let width = room.saturating_sub(2).max(1);
            let parts = wrap(&label, width, label_lines);
            let first: Vec<char> = parts.first().map_or(Vec::new(), |p| p.chars().collect());
            let start = lo + 2 + (room - first.len()) / 2;
            for (k, c) in first.into_iter().enumerate() {
                buf[start + k] = c;
            }
            // What did not fit goes on continuation lines under the arrow, centred in its span.
            for p in parts.iter().skip(1) {
                let mut cont = blank.clone();
                let chars: Vec<char> = p.chars().collect();
                let at = lo + 2 + (room - chars.len().min(room)) / 2;
                for (k, c) in chars.into_iter().enumerate().take(room) {
                    cont[at + k] = c;
                }
                wrapped.push(cont.into_iter().collect::<String>().trim_end().to_string());
            }
        }
        let mut line: String = buf.into_iter().collect();
        let annotation = if l.call_ids.len() > 1 {
            format!("  {} [leg {}]", escape(&r.cseq), r.leg + 1)
        } else {
            format!("  {}", escape(&r.cseq))
        };
        line = format!("{}{}", line.trim_end(), annotation);
        lines.push(line);
        lines.extend(wrapped);
        if let Some(sdp) = &r.sdp {
            let mut buf = blank.clone();
            let t: Vec<char> = format!(" SDP {}", escape(sdp)).chars().collect();
            let start = center(r.from.min(r.to)) + 1;
            buf.truncate(start);
            buf.extend(t);
            lines.push(buf.into_iter().collect::<String>().trim_end().to_string());
        }
        if o.verbose {
            if let Some(text) = &r.text {
                for tl in crate::output::escape_multiline(text).lines() {
                    lines.push(format!("{:GUTTER$}  {tl}", ""));
                }
            }
        }
        out.rows.push(lines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_the_last_line() {
        assert_eq!(
            wrap("100 trying -- your call is important", 20, 3),
            ["100 trying -- your", "call is important"]
        );
        assert_eq!(wrap("abcdefghij", 4, 2), ["abcd", "efg…"]);
        assert_eq!(wrap("short", 10, 3), ["short"]);
        assert!(wrap("", 10, 3).is_empty());
        for w in 1..12 {
            for part in wrap("a bb ccc dddd eeeee ffffff", w, 3) {
                assert!(part.chars().count() <= w, "{part:?} wider than {w}");
            }
        }
    }
}
