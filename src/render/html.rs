//! The ladder as HTML: the SVG drawing inline, a transparent band over each arrow that is a link
//! (`#m3`), and a panel that shows the clicked message's full text. [`render`] makes one
//! self-contained page; [`fragment`] the same ladder as a block of a larger page (the report),
//! several per page, driven by one copy of [`SCRIPT`]. No network fetch: styles and script are
//! inline, so the file opens from disk offline. Wire text reaches the page only through
//! `textContent` (never as markup) and the embedded JSON has `<` escaped, so a message cannot end
//! the script or inject elements; control and bidirectional characters are shown as escapes
//! (`\x1b`, `\u{202e}`), as in the terminal, so the page holds none raw.

use std::fmt::Write as _;

use super::svg::{Layout, GUTTER, ROW};
use super::Ladder;
use crate::output::{escape, escape_multiline};

/// Text as HTML character data or an attribute value.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Wire text as HTML character data or an attribute value: control and bidirectional characters
/// made visible ([`escape`]), then [`esc`].
pub fn wire(s: &str) -> String {
    esc(&escape(s))
}

/// JSON safe inside `<script>`: `<` only occurs in strings, where `\u003c` reads the same.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

fn js_string(s: &str) -> String {
    script_json(&crate::output::json::to_string(s).unwrap_or_else(|_| "\"\"".into()))
}

/// The styles of ladder blocks.
pub const STYLE: &str = r#"
.lwrap { display: flex; align-items: flex-start; }
.lwrap .ladder { position: relative; flex: 0 1 auto; min-width: 0; overflow-x: auto; }
.lwrap .ladder a.m { position: absolute; display: block; left: GUTTERpx; height: ROWpx; }
.lwrap .ladder a.m:hover, .lwrap .ladder a.m.sel { background: rgba(255, 200, 0, 0.18); outline: 1px solid #e0b000; }
.lwrap .panel { position: sticky; top: 0; flex: 1; min-width: 320px; max-height: 100vh; overflow: auto;
         padding: 10px 16px; border-left: 1px solid #d0d7e2; background: #fbfbfb; }
.lwrap .panel pre { white-space: pre-wrap; word-break: break-all; font-size: 13px; }
"#;

/// Wires every ladder block of the page: a click on an arrow shows its message, and so does a
/// link to `#PREFIXmN`.
pub const SCRIPT: &str = r#"
document.querySelectorAll('.lwrap').forEach(w => {
  const msgs = JSON.parse(w.querySelector('script.msgs').textContent);
  const arrows = w.querySelectorAll('a.m');
  w.showMessage = i => {
    const m = msgs[i];
    if (!m) return;
    arrows.forEach(e => e.classList.remove('sel'));
    arrows[i].classList.add('sel');
    w.querySelector('.msg-title').textContent = m[0];
    w.querySelector('.msg-text').textContent = m[1];
  };
  arrows.forEach((a, i) => a.addEventListener('click', () => w.showMessage(i)));
});
function ladderFromHash() {
  const k = location.hash.match(/^#(.*m)(\d+)$/);
  if (!k) return;
  const a = document.getElementById(k[1] + k[2]);
  const w = a && a.closest('.lwrap');
  if (w && w.showMessage) w.showMessage(Number(k[2]));
}
window.addEventListener('hashchange', ladderFromHash);
ladderFromHash();
"#;

/// The styles with the layout's constants in.
pub fn style() -> String {
    STYLE
        .replace("GUTTERpx", &format!("{GUTTER}px"))
        .replace("ROWpx", &format!("{ROW}px"))
}

/// The ladder as a block: drawing, arrow links `#{prefix}m{i}`, message panel and the messages
/// as JSON. Needs [`style`] and [`SCRIPT`] once on the page.
pub fn fragment(l: &Ladder, prefix: &str) -> String {
    let lay = Layout::of(l);
    let svg = super::svg::render(l);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<div class="lwrap"><div class="ladder" style="width:{}px;height:{}px">"#,
        lay.width, lay.height
    );
    out.push_str(svg.trim_start_matches(|c| c != '<'));
    for (i, &top) in lay.row_top.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<a class="m" id="{prefix}m{i}" href="#{prefix}m{i}" title="{}" style="top:{top}px;width:{}px"></a>"##,
            wire(&l.rows[i].label),
            lay.width - GUTTER
        );
    }
    let _ = write!(
        out,
        "</div>\n<aside class=\"panel\"><h3 class=\"msg-title\" id=\"{prefix}msg-title\">No message selected</h3><pre class=\"msg-text\" id=\"{prefix}msg-text\"></pre></aside>\n<script type=\"application/json\" class=\"msgs\">[\n"
    );
    for (i, r) in l.rows.iter().enumerate() {
        let head = format!(
            "frame {} · {} · {}{}",
            r.frame,
            r.ts,
            r.label,
            if r.count > 1 {
                format!(" ×{}", r.count)
            } else {
                String::new()
            }
        );
        // Shown as text, with control and bidirectional characters made visible like in the
        // terminal (a browser would reorder a line after U+202E).
        let _ = writeln!(
            out,
            "  [{}, {}]{}",
            js_string(&escape(&head)),
            js_string(&escape_multiline(
                r.text.as_deref().unwrap_or("(message text not kept)")
            )),
            if i + 1 < l.rows.len() { "," } else { "" }
        );
    }
    out.push_str("]</script></div>\n");
    out
}

pub fn render(l: &Ladder) -> String {
    let title = wire(&l.call_ids.join(" + "));
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>sipscope ladder · {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #222; }}
header {{ padding: 10px 16px; background: #f0f4fa; border-bottom: 1px solid #d0d7e2; }}
header code {{ font-size: 14px; }}
{}</style></head>
<body>
<header>Call-ID <code>{title}</code> · {n} messages · click an arrow to read the message</header>
"#,
        style(),
        n = l.rows.len(),
    );
    out.push_str(&fragment(l, ""));
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}
