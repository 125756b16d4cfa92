//! The ladder as one self-contained HTML page: the SVG drawing inline, a transparent band over
//! each arrow that is a link (`#m3`), and a panel that shows the clicked message's full text.
//! No network fetch: styles and script are inline, so the file opens from disk offline. Wire
//! text reaches the page only through `textContent` (never as markup) and the embedded JSON
//! has `<` escaped, so a message cannot end the script or inject elements.

use std::fmt::Write as _;

use super::svg::{Layout, GUTTER, ROW};
use super::Ladder;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON string literal safe inside `<script>`.
fn js_string(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
}

pub fn render(l: &Ladder) -> String {
    let lay = Layout::of(l);
    let svg = super::svg::render(l);
    let title = html_escape(&l.call_ids.join(" + "));
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
#wrap {{ display: flex; align-items: flex-start; }}
#ladder {{ position: relative; flex: none; }}
#ladder a.m {{ position: absolute; display: block; left: {GUTTER}px; height: {ROW}px; }}
#ladder a.m:hover, #ladder a.m.sel {{ background: rgba(255, 200, 0, 0.18); outline: 1px solid #e0b000; }}
#panel {{ position: sticky; top: 0; flex: 1; min-width: 320px; max-height: 100vh; overflow: auto;
         padding: 10px 16px; border-left: 1px solid #d0d7e2; background: #fbfbfb; }}
#panel pre {{ white-space: pre-wrap; word-break: break-all; font-size: 13px; }}
</style></head>
<body>
<header>Call-ID <code>{title}</code> · {n} messages · click an arrow to read the message</header>
<div id="wrap"><div id="ladder" style="width:{w}px;height:{h}px">
"#,
        n = l.rows.len(),
        w = lay.width,
        h = lay.height
    );
    out.push_str(&svg);
    for (i, &top) in lay.row_top.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<a class="m" id="m{i}" href="#m{i}" title="{}" style="top:{top}px;width:{}px"></a>"##,
            html_escape(&l.rows[i].label),
            lay.width - GUTTER
        );
    }
    out.push_str(
        "</div>\n<aside id=\"panel\"><h3 id=\"msg-title\">No message selected</h3><pre id=\"msg-text\"></pre></aside></div>\n<script>\nconst MSGS = [\n",
    );
    for r in &l.rows {
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
        let _ = writeln!(
            out,
            "  [{}, {}],",
            js_string(&head),
            js_string(r.text.as_deref().unwrap_or("(message text not kept)"))
        );
    }
    out.push_str(
        r#"];
function show(i) {
  const m = MSGS[i];
  if (!m) return;
  document.querySelectorAll('#ladder a.m.sel').forEach(e => e.classList.remove('sel'));
  const a = document.getElementById('m' + i);
  if (a) a.classList.add('sel');
  document.getElementById('msg-title').textContent = m[0];
  document.getElementById('msg-text').textContent = m[1];
}
function fromHash() {
  const k = location.hash.match(/^#m(\d+)$/);
  if (k) show(Number(k[1]));
}
window.addEventListener('hashchange', fromHash);
document.querySelectorAll('#ladder a.m').forEach((a, i) =>
  a.addEventListener('click', () => show(i)));
fromHash();
</script>
</body></html>
"#,
    );
    out
}
