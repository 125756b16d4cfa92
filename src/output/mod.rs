//! Output: tables aligned to the terminal, CSV, and JSON (one object per line).
//!
//! Every string that came off the wire goes through one rule before it leaves the program,
//! whatever the format: the characters of [`is_unsafe`] (C0 controls, DEL, C1 controls and the
//! bidirectional formatting characters, which move the cursor, retitle the terminal or reorder
//! what follows on screen) never reach a terminal or a file raw.
//!
//! - Tables and CSV show them as visible escapes ([`escape`]: `\x1b`, `\u{202e}`, `\n`); CSV has
//!   no escape of its own, so a CSV cell holds that visible form. CSV cells that a spreadsheet
//!   would run as a formula are defused as well ([`csv_cell`]).
//! - JSON keeps the exact value: they are written as `\u` escapes ([`json`]), so a parser reads
//!   back the very string that was on the wire.
//! - File names derived from wire text come from [`names`].
//!
//! Invalid UTF-8 never gets here: the decoder has already replaced it with U+FFFD. Writing into a
//! closed pipe (`sipscope calls x.pcap | head`) is reported as [`OutputError::BrokenPipe`] so the
//! binary can exit quietly with status 0.

#[cfg(feature = "tables")]
pub mod frame;
pub mod json;
pub mod names;
pub mod prometheus;
pub mod schema;
#[cfg(feature = "tables")]
pub mod sink;

use std::fmt;
use std::io::{self, Write};

/// Characters that must never reach a terminal or a file raw: C0 controls, DEL and C1 controls
/// (`char::is_control`), and the bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069), which make a terminal or an editor show text in another order
/// than it is (`exe.txt` shown for `txt.exe`).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Whether `s` may hold an [`is_unsafe`] character, by its bytes: a C0 control or DEL, or the
/// first byte of a C1 control (0xC2), of U+061C (0xD8) or of the U+20xx controls (0xE2). A
/// `false` is certain, so the common clean string is copied whole without decoding its chars.
pub fn may_be_unsafe(s: &str) -> bool {
    s.bytes()
        .any(|b| b < 0x20 || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
}

/// Appends `s` to `out` with every [`is_unsafe`] character shown as an escape: `\t`, `\r`,
/// `\n`, `\xNN` up to U+00FF, `\u{NNNN}` above.
pub fn escape_into(s: &str, out: &mut String) {
    use fmt::Write;
    if !may_be_unsafe(s) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_unsafe(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `s` with every [`is_unsafe`] character shown as an escape (see [`escape_into`]), so wire text
/// cannot move the cursor, change colours, retitle the terminal or reorder the line.
pub fn escape(s: &str) -> String {
    if !may_be_unsafe(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(s, &mut out);
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

/// Whether a CSV cell is a plain number (`-1.5`, `42`, `+3`): a spreadsheet reads it as a
/// number, never as a formula, so it keeps its sign.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Appends the text of one CSV cell (before quoting): [`is_unsafe`] characters as visible
/// escapes ([`escape_into`]), then a cell a spreadsheet would take for a formula (starting with
/// `=`, `+`, `-`, `@`, TAB or CR, OWASP's list) gets a leading `'`, unless it is a plain number
/// such as `-1.5`. Every CSV writer goes through this: [`write_csv_row`] and, for tables written
/// by polars, [`frame::csv_safe`].
pub fn csv_cell_into(s: &str, out: &mut String) {
    let start = out.len();
    escape_into(s, out);
    let cell = &out[start..];
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(cell) {
        out.insert(start, '\'');
    }
}

/// [`csv_cell_into`] into a new string.
pub fn csv_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    csv_cell_into(s, &mut out);
    out
}

/// Quotes a CSV field when needed (RFC 4180). The text is taken as it is: see [`csv_cell`].
pub fn csv_field(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    csv_field_into(s, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`csv_field`] onto `out`: in quotes, its quotes doubled, when it holds a comma, a quote or a
/// line end.
pub fn csv_field_into(s: &str, out: &mut Vec<u8>) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\"\"");
            }
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// One CSV row: each field made safe ([`csv_cell`]) and quoted when needed.
pub fn write_csv_row(w: &mut dyn Write, fields: &[String]) -> Result<(), OutputError> {
    let mut cell = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        cell.clear();
        csv_cell_into(f, &mut cell);
        // Quoting is rare: no second String in the common case.
        if cell.contains([',', '"']) {
            w.write_all(csv_field(&cell).as_bytes())?;
        } else {
            w.write_all(cell.as_bytes())?;
        }
    }
    w.write_all(b"\n")?;
    Ok(())
}

/// Display width in columns (one per char; wide CJK glyphs are rare in SIP and counted as one).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// A file name's extension, lower case ("" for none): what `-o FILE` and the terminal UI's save
/// choose a format by.
pub fn extension_of(path: &std::path::Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
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

    /// Writes the table. On a terminal (`max_width` given) cells of flexible columns are cut with
    /// `…` to fit; the last column is never cut (it runs, so a Call-ID there can be copied
    /// whole). Off a terminal nothing is cut.
    pub fn write(&self, out: &mut dyn Write, max_width: Option<usize>) -> Result<(), OutputError> {
        let w = self.widths(max_width);
        let cut = max_width.is_some();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        write_row(out, &headers, &w, cut)?;
        for r in &self.rows {
            write_row(out, r, &w, cut)?;
        }
        Ok(())
    }
}

/// One table row with the given column widths. With `cut` (a terminal), a cell wider than its
/// column is cut with `…`, except in the last column, which runs; without it (a pipe or a file)
/// every cell is whole and a wider cell pushes the rest of its row right.
pub fn write_row(
    out: &mut dyn Write,
    cells: &[String],
    w: &[usize],
    cut: bool,
) -> Result<(), OutputError> {
    let n = cells.len();
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        let last = i + 1 == n;
        let cw = w.get(i).copied().unwrap_or(c.len());
        let c = if cut && !last { fit(c, cw) } else { c.clone() };
        s.push_str(&c);
        if !last {
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

    /// Bidirectional controls reorder a line on screen (`exe.txt` for `txt.exe`): shown like the
    /// other controls, with their code point.
    #[test]
    fn escapes_bidi_controls() {
        assert_eq!(escape("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
            assert_eq!(escape(&c.to_string()), format!("\\u{{{:04x}}}", c as u32));
        }
        // Letters of right-to-left scripts are text, not controls.
        assert_eq!(escape("שלום"), "שלום");
    }

    /// The byte pre-check never misses: every unsafe character, whatever its neighbours, makes
    /// `may_be_unsafe` true (checked over every char).
    #[test]
    fn the_byte_precheck_sees_every_unsafe_char() {
        let mut buf = [0u8; 4];
        let mut n = 0;
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            if is_unsafe(c) {
                n += 1;
                assert!(may_be_unsafe(c.encode_utf8(&mut buf)), "{c:?}");
            }
        }
        assert_eq!(n, 32 + 1 + 32 + 1 + 2 + 5 + 4);
        assert!(!may_be_unsafe("plain ascii, é, ü, 日本, שלום"));
    }

    /// OWASP's CSV injection list: `=`, `+`, `-`, `@`, TAB, CR at the start of a cell.
    #[test]
    fn csv_cells_that_look_like_formulas_are_defused() {
        for (wire, cell) in [
            (
                "=HYPERLINK(\"http://evil\")",
                "'=HYPERLINK(\"http://evil\")",
            ),
            ("=1+1", "'=1+1"),
            ("+1+1", "'+1+1"),
            ("-rf --no-preserve-root", "'-rf --no-preserve-root"),
            (
                "@SUM(1+1)*cmd|' /C calc'!A0",
                "'@SUM(1+1)*cmd|' /C calc'!A0",
            ),
            ("\t=1", "\\t=1"),
            ("\r=1", "\\r=1"),
            ("-", "'-"),
            ("-1.5x", "'-1.5x"),
            ("a=1", "a=1"),
        ] {
            assert_eq!(csv_cell(wire), cell, "{wire:?}");
        }
        // Numbers keep their sign: a spreadsheet reads them as numbers, not formulas.
        for n in ["-1.5", "-1141367296.000", "+3", "0", "42"] {
            assert_eq!(csv_cell(n), n);
        }
        let mut out = Vec::new();
        write_csv_row(&mut out, &["-1.5".into(), "=1+1".into(), "a,\x1b".into()]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "-1.5,'=1+1,\"a,\\x1b\"\n");
    }

    /// Strings heavy in what matters here: controls, bidi characters, quotes, formula starts.
    fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let special = prop::sample::select(vec![
            '\0', '\x07', '\x08', '\t', '\n', '\r', '\x1b', '\x7f', '\u{85}', '\u{9b}', '\u{9f}',
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
            '\u{2028}', '\u{feff}', '"', ',', '\'', '=', '+', '-', '@', '\\', 'a', 'é',
        ]);
        prop::collection::vec(prop_oneof![special, any::<char>()], 0..24)
            .prop_map(|v| v.into_iter().collect())
    }

    /// No raw control: bytes below 0x20 other than the ones allowed, DEL, C1 or bidi characters.
    fn assert_clean(what: &str, text: &str, allowed: &[char]) {
        for c in text.chars() {
            assert!(
                allowed.contains(&c) || !is_unsafe(c),
                "{what}: raw {:?} in {text:?}",
                c
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any string through the CSV, JSON and table writers gives no raw control character,
        /// and JSON reads back the very string.
        #[test]
        fn any_string_leaves_every_writer_without_raw_controls(
            a in hostile(),
            b in proptest::prelude::any::<String>(),
        ) {
            let mut csv = Vec::new();
            write_csv_row(&mut csv, &[a.clone(), b.clone()]).unwrap();
            let csv = String::from_utf8(csv).unwrap();
            assert_clean("csv", &csv, &['\n']);
            proptest::prop_assert_eq!(csv.matches('\n').count(), 1, "one line per row: {:?}", csv);
            for cell in [csv_cell(&a), csv_cell(&b)] {
                proptest::prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || cell.starts_with('\'') || is_plain_number(&cell));
            }

            let j = json::to_string(&[&a, &b]).unwrap();
            assert_clean("json", &j, &[]);
            let back: Vec<String> = serde_json::from_str(&j).unwrap();
            proptest::prop_assert_eq!(back, vec![a.clone(), b.clone()]);

            let mut t = Table::new(vec!["a", "b"], vec![true, true]);
            t.rows.push(vec![escape(&a), escape(&b)]);
            let mut out = Vec::new();
            t.write(&mut out, Some(30)).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_clean("table", &out, &['\n']);
            proptest::prop_assert_eq!(out.matches('\n').count(), 2);

            let mut ml = escape_multiline(&a);
            ml.retain(|c| c != '\n');
            assert_clean("multiline", &ml, &[]);
        }
    }

    #[test]
    fn table_squeezes_flexible_columns() {
        let mut t = Table::new(vec!["a", "call-id"], vec![false, true]);
        t.rows.push(vec!["1".into(), "x".repeat(50)]);
        let w = t.widths(Some(20));
        assert_eq!(w[1], 17);
    }
}
