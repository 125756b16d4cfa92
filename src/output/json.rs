//! JSON that keeps the exact wire value and still never carries a raw control character.
//!
//! `serde_json` escapes C0 controls, `"` and `\` but writes DEL, the C1 controls (U+0080–U+009F,
//! among them the one-byte CSI U+009B) and the bidirectional formatting characters as they are,
//! so `sipscope calls --format json` printed to a terminal could move its cursor or reorder a
//! line. Every JSON sipscope writes goes through [`escape_unsafe`]: each
//! [`is_unsafe`](super::is_unsafe) character becomes a `\uNNNN` escape, which every JSON parser
//! reads back as the same character. The result is still valid JSON for the same value.
//!
//! Serde values are written with [`to_writer`] / [`to_string`] (a `serde_json` formatter that
//! escapes each string fragment); JSON text made by another writer (polars) is passed through
//! [`escape_unsafe`] whole: outside strings JSON has only ASCII punctuation, digits, letters and
//! whitespace, so the only characters it touches are inside strings.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

use super::is_unsafe;

/// Writes `text` (JSON text or a fragment of a JSON string) with every
/// [`is_unsafe`](super::is_unsafe) character other than the JSON whitespace `\t`, `\n`, `\r` as a
/// `\uNNNN` escape. Those three cannot occur raw inside a valid JSON string, and outside one they
/// are the line breaks of JSON lines.
pub fn escape_unsafe<W: ?Sized + Write>(w: &mut W, text: &str) -> io::Result<()> {
    if !super::may_be_unsafe(text) {
        return w.write_all(text.as_bytes());
    }
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if is_unsafe(c) && !matches!(c, '\t' | '\n' | '\r') {
            w.write_all(&text.as_bytes()[start..i])?;
            // Every such character is in the Basic Multilingual Plane: one escape each.
            write!(w, "\\u{:04x}", c as u32)?;
            start = i + c.len_utf8();
        }
    }
    w.write_all(&text.as_bytes()[start..])
}

/// `serde_json`'s compact formatter (the trait's default methods), with string contents through
/// [`escape_unsafe`].
#[derive(Default, Clone, Copy, Debug)]
pub struct SafeFormatter;

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        escape_unsafe(writer, fragment)
    }
}

/// `value` as compact JSON, with no raw control character (see the module docs).
pub fn to_writer<W: Write, T: ?Sized + Serialize>(w: W, value: &T) -> serde_json::Result<()> {
    value.serialize(&mut Serializer::with_formatter(w, SafeFormatter))
}

/// `value` as one line of JSON lines ([`to_writer`] and a newline). A failed write keeps its kind,
/// so a closed pipe is [`OutputError::BrokenPipe`](super::OutputError::BrokenPipe).
pub fn write_line<W: Write, T: ?Sized + Serialize>(
    mut w: W,
    value: &T,
) -> Result<(), super::OutputError> {
    to_writer(&mut w, value).map_err(io::Error::from)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// [`to_writer`] into a string.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut buf = Vec::with_capacity(128);
    to_writer(&mut buf, value)?;
    // The serializer writes UTF-8 and the escapes are ASCII, so nothing is ever replaced.
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_del_and_bidi_are_escaped_and_read_back() {
        let s = "a\u{9b}31m\u{7f}\u{202e}txt.exe\u{2066}\x1b]0;t\x07\n";
        let j = to_string(&s).unwrap();
        assert!(j.is_ascii(), "{j}");
        assert!(!j.bytes().any(|b| b < 0x20 || b == 0x7f), "{j}");
        assert!(j.contains("\\u009b") && j.contains("\\u202e") && j.contains("\\u007f"));
        assert_eq!(serde_json::from_str::<String>(&j).unwrap(), s);
    }

    #[test]
    fn whole_json_text_keeps_its_line_breaks() {
        let text = "{\"a\":\"x\u{85}y\"}\n{\"b\":1}\n";
        let mut out = Vec::new();
        escape_unsafe(&mut out, text).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "{\"a\":\"x\\u0085y\"}\n{\"b\":1}\n");
    }
}
