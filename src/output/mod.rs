//! Output: tables aligned to the terminal, CSV, and JSON (one object per line).
//!
//! Every string that came off the wire goes through [`escape`] before it reaches a terminal or a
//! table: control characters and invalid UTF-8 are shown as escapes, never interpreted. Writing
//! into a closed pipe (`sipscope calls x.pcap | head`) is reported as [`OutputError::BrokenPipe`]
//! so the binary can exit quietly with status 0.

#[cfg(feature = "tables")]
pub mod frame;
pub mod prometheus;

use std::fmt;
use std::io::{self, Write};

/// Escapes control characters (C0, DEL, C1) and the escape character so wire text cannot move the
/// cursor, change colours or retitle the terminal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                use fmt::Write;
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Like [`escape`] but keeps line breaks, for printing whole messages.
pub fn escape_multiline(s: &str) -> String {
    s.split('\n')
        .map(|l| escape(l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug)]
pub enum OutputError {
    BrokenPipe,
    Io(io::Error),
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::BrokenPipe => f.write_str("broken pipe"),
            OutputError::Io(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for OutputError {}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::BrokenPipe
        } else {
            OutputError::Io(e)
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Quotes a CSV field when needed (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn write_csv_row(w: &mut dyn Write, fields: &[String]) -> Result<(), OutputError> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        // Written in place: quoting is rare, so no per-field String in the common case.
        if f.contains([',', '"', '\n', '\r']) {
            w.write_all(csv_field(f).as_bytes())?;
        } else {
            w.write_all(f.as_bytes())?;
        }
    }
    w.write_all(b"\n")?;
    Ok(())
}

/// Display width in columns (one per char; wide CJK glyphs are rare in SIP and counted as one).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to `w` columns, marking the cut with `…`.
pub fn fit(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// A table whose column widths come from its contents, squeezed to `max_width` by shrinking the
/// columns marked flexible (Call-IDs, users) first.
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub flexible: Vec<bool>,
}

impl Table {
    pub fn new(headers: Vec<&'static str>, flexible: Vec<bool>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
            flexible,
        }
    }

    pub fn widths(&self, max_width: Option<usize>) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(width(c));
                }
            }
        }
        if let Some(max) = max_width {
            let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
            // Shrink the widest flexible column one step at a time down to a floor of 8.
            while total(&w) > max {
                let Some((i, _)) = w
                    .iter()
                    .enumerate()
                    .filter(|(i, v)| self.flexible.get(*i) == Some(&true) && **v > 8)
                    .max_by_key(|(_, v)| **v)
                else {
                    break;
                };
                w[i] -= 1;
            }
        }
        w
    }

    pub fn write(&self, out: &mut dyn Write, max_width: Option<usize>) -> Result<(), OutputError> {
        let w = self.widths(max_width);
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        write_row(out, &headers, &w)?;
        for r in &self.rows {
            write_row(out, r, &w)?;
        }
        Ok(())
    }
}

/// One table row with the given column widths (cells cut with `…` to fit).
pub fn write_row(out: &mut dyn Write, cells: &[String], w: &[usize]) -> Result<(), OutputError> {
    let n = cells.len();
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        let cw = w.get(i).copied().unwrap_or(c.len());
        let c = fit(c, cw);
        s.push_str(&c);
        if i + 1 < n {
            s.push_str(&" ".repeat(cw.saturating_sub(width(&c)) + 2));
        }
    }
    writeln!(out, "{}", s.trim_end())?;
    Ok(())
}

/// The terminal's width when stdout is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b[31mb\x07"), "a\\x1b[31mb\\x07");
        assert_eq!(escape("x\u{9b}y"), "x\\x9by");
        assert_eq!(escape_multiline("l1\r\nl2\x1b"), "l1\nl2\\x1b");
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn table_squeezes_flexible_columns() {
        let mut t = Table::new(vec!["a", "call-id"], vec![false, true]);
        t.rows.push(vec!["1".into(), "x".repeat(50)]);
        let w = t.widths(Some(20));
        assert_eq!(w[1], 17);
    }
}
