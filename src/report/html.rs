//! `index.html` of a report: one self-contained page (styles, scripts, charts and ladders
//! inline; nothing fetched), readable on a laptop screen. Wire text enters the page escaped
//! ([`esc`]) or as JSON read through `textContent`, never as markup.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use polars::prelude::{AnyValue, DataFrame};

use super::{Finished, Section};
use crate::analysis::alerts::Alert;
use crate::output::escape;
use crate::output::frame::Tab;
use crate::render::charts::{self, Line};
use crate::render::{html as ladder_html, Ladder, LadderOptions};
use crate::time::{fmt_secs, Ts};

pub use crate::render::html::esc;

/// Wire text for the page: control characters made visible, then HTML-escaped.
fn w(s: &str) -> String {
    esc(&escape(s))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// What the page says besides the collector's figures.
pub struct Context<'a> {
    pub fin: &'a Finished,
    pub run: &'a crate::pipeline::RunStats,
    pub tabs: &'a [Tab],
    pub warnings: &'a [String],
}

const STYLE: &str = r#"
:root { --ok: #2e7d32; --warn: #b26a00; --bad: #c62828; --info: #1565c0; --line: #d0d7e2; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; font-size: 14px; }
nav { position: sticky; top: 0; z-index: 5; background: #24364f; padding: 6px 16px; }
nav a { color: #fff; margin-right: 16px; text-decoration: none; font-weight: 600; }
main { padding: 8px 16px 40px; max-width: 1900px; }
h1 { font-size: 22px; margin: 10px 0; } h2 { margin-top: 28px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
/* A table wider than the window scrolls in its own box; the page never scrolls sideways. */
table { display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f4fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid figure { margin: 0; border: 1px solid var(--line); }
.sev-critical { color: #fff; background: var(--bad); } .sev-warning { background: #ffe0a3; } .sev-info { background: #dbe9fb; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; font-weight: 600; }
.o-answered { background: #e3f3e4; } .o-busy, .o-no-answer { background: #fff3d6; }
.o-rejected, .o-auth-failed, .o-redirected { background: #ffe6d1; }
.o-server-failure, .o-timeout { background: #fbd9d9; } .o-cancelled { background: #ececec; } .o-in-progress { background: #dbe9fb; }
#filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 8px 0; }
#filters input, #filters select { padding: 3px 6px; font-size: 14px; }
#calls-table th { cursor: pointer; user-select: none; white-space: nowrap; }
#calls-table th.asc::after { content: " ▲"; } #calls-table th.desc::after { content: " ▼"; }
#calls-table { font-size: 13px; }
#calls-table th, #calls-table td { padding: 2px 5px; }
#calls-table td { white-space: nowrap; }
/* Names, addresses and Call-IDs are shown whole: they wrap rather than being cut. */
#calls-table td.wrap { white-space: normal; overflow-wrap: break-word; }
#calls-table td.id { overflow-wrap: anywhere; min-width: 24ch; }
section.call { border: 1px solid var(--line); border-radius: 6px; margin: 18px 0; padding: 6px 12px; }
section.call h3 { margin: 6px 0; }
section.call .ladder-scroll { overflow-x: auto; max-width: 100%; }
.muted { color: #666; } .cut { color: var(--warn); }
.partial { border-left: 4px solid var(--warn); padding: .4em .8em; background: #fff8e6; }
"#;

/// Columns of a DataFrame as text (times RFC 3339).
fn tab_html(t: &Tab) -> String {
    let mut out = String::from("<table><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>");
    let rows = crate::output::frame::rows(t).unwrap_or_default();
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"muted\">none</td></tr>",
            t.columns.len()
        );
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let numeric = !c.is_empty() && c.parse::<f64>().is_ok();
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                w(&c)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn tab<'a>(tabs: &'a [Tab], name: &str) -> Option<&'a Tab> {
    tabs.iter().find(|t| t.name == name)
}

fn col_values(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let Ok(c) = df.column(name) else {
        return Vec::new();
    };
    (0..df.height())
        .map(|i| match c.get(i) {
            Ok(AnyValue::UInt64(n)) => Some(n as f64),
            Ok(AnyValue::Int64(n)) => Some(n as f64),
            Ok(AnyValue::Float64(x)) => Some(x),
            Ok(AnyValue::Datetime(ns, _, _)) => Some(ns as f64),
            _ => None,
        })
        .collect()
}

/// Lines over the load table's intervals.
fn load_lines(load: &Tab, cols: &[(&str, &str)]) -> Vec<Line> {
    let times = col_values(&load.frame, "interval");
    cols.iter()
        .map(|(col, name)| Line {
            name: name.to_string(),
            points: times
                .iter()
                .zip(col_values(&load.frame, col))
                .filter_map(|(t, v)| Some((Ts((*t)? as i64), v?)))
                .collect(),
        })
        .collect()
}

fn code_colour(label: &str) -> (u8, u8, u8) {
    match label.as_bytes().first() {
        Some(b'1') => (120, 144, 156),
        Some(b'2') => (67, 160, 71),
        Some(b'3') => (126, 87, 194),
        Some(b'4') => (251, 140, 0),
        Some(b'5') => (229, 57, 53),
        Some(b'6') => (142, 36, 170),
        _ => (158, 158, 158),
    }
}

/// The report's charts: only those with something to show (a signalling-only capture has no
/// MOS histogram, a capture without bad streams no loss chart), never an empty box.
fn charts(cx: &Context) -> Vec<String> {
    let f = cx.fin;
    let mut out = Vec::new();
    if let Some(load) = tab(cx.tabs, "load").filter(|t| t.frame.height() > 0) {
        out.push(charts::time_lines(
            "Call attempts and answers per interval",
            "calls",
            &load_lines(load, &[("attempts", "attempts"), ("answered", "answered")]),
            true,
        ));
        out.push(charts::time_lines(
            "Concurrent calls (peak per interval)",
            "calls",
            &load_lines(load, &[("peak_concurrent", "concurrent calls")]),
            true,
        ));
    }
    let codes: Vec<(String, f64)> = f
        .codes
        .iter()
        .map(|(c, n)| (c.to_string(), *n as f64))
        .collect();
    if !codes.is_empty() {
        out.push(charts::bars(
            "Responses by status code (retransmissions not counted)",
            "responses",
            &codes,
            &code_colour,
        ));
    }
    if f.pdd.iter().any(|b| b.2 > 0) {
        out.push(charts::histogram(
            "Post-dial delay (PDD)",
            "seconds",
            &f.pdd,
        ));
    }
    if f.mos.iter().any(|b| b.2 > 0) {
        out.push(charts::histogram("MOS of RTP streams", "MOS", &f.mos));
    }
    if f.bad_streams.is_empty() {
        return out;
    }
    // One line per bad stream, of one figure of its points.
    let lines = |y: &dyn Fn(&crate::analysis::series::SeriesPoint) -> Option<f64>| -> Vec<Line> {
        f.bad_streams
            .iter()
            .map(|s| Line {
                name: format!(
                    "{} → {}{}",
                    s.src,
                    s.dst,
                    s.mos.map(|m| format!(" (MOS {m:.2})")).unwrap_or_default()
                ),
                points: s
                    .series
                    .iter()
                    .filter_map(|p| Some((p.start, y(p)?)))
                    .collect(),
            })
            .collect()
    };
    let loss = lines(&|p| Some(p.lost as f64 * 100.0 / p.expected.max(1) as f64));
    let jitter = lines(&|p| p.max_jitter_ms);
    out.push(charts::time_lines(
        "Packet loss of the worst streams (% per second)",
        "loss %",
        &loss,
        false,
    ));
    out.push(charts::time_lines(
        "Jitter of the worst streams (max per second)",
        "jitter ms",
        &jitter,
        false,
    ));
    out
}

/// The malformed messages by anomaly code (`; by anomaly: bad-via 2, …`), in `Anomaly::ALL` order.
fn by_anomaly(r: &crate::pipeline::RunStats) -> String {
    let parts: Vec<String> = crate::sip::Anomaly::ALL
        .iter()
        .filter_map(|a| {
            let n = r.correlate.anomalies.get(a.code())?;
            Some(format!("{} {n}", a.code()))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; by anomaly: {}", parts.join(", "))
    }
}

/// What the page leaves out to stay readable (the data tables have it all), said under the
/// summary with the run's warnings; `summary.md` says the same.
pub fn page_cuts(cx: &Context) -> Vec<String> {
    let f = cx.fin;
    let c = &f.counts;
    [
        (
            c.list_cut,
            "calls not in the page's list (the calls table has every call; --max-list raises it)",
        ),
        (
            c.alerts_cut,
            "alerts not listed on the page (the alerts table has them all)",
        ),
        (
            c.msgs_cut,
            "messages beyond a section's limit (in the messages table)",
        ),
        (
            f.netmap.hosts_cut + f.netmap.pairs_cut,
            "times a message's endpoint or endpoint pair was beyond the network map's bounds",
        ),
        (
            f.netmap.roles_cut,
            "calls whose roles the network map did not read (over its bound on open calls' messages)",
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect()
}

fn summary(cx: &Context) -> String {
    let f = cx.fin;
    let c = &f.counts;
    let r = cx.run;
    let span = match (r.first_ts, r.last_ts) {
        (Some(a), Some(b)) => format!("{a} — {b} ({} s)", fmt_secs(b.since(a))),
        _ => "no frames".into(),
    };
    let loss = r.capture.dropped_kernel + r.capture.dropped_interface + r.capture.dropped_behind;
    let decode = r.sip_rejected + c.message_anomalies + r.decode.unknown_link;
    let rows: Vec<(&str, String)> = vec![
        ("Capture files", f.opts.files.iter().map(|p| w(p)).collect::<Vec<_>>().join("<br>")),
        ("Time span", span),
        ("Packets", format!("{} ({} bytes)", r.capture.frames, r.capture.bytes)),
        ("SIP messages", format!("{} ({} retransmissions)", c.sip_messages, c.retransmissions)),
        ("Calls (INVITE dialogs)", format!("{} ({} with problems)", c.invite_calls, c.problem_calls)),
        ("Other Call-IDs (REGISTER, OPTIONS, SUBSCRIBE …)", c.other_dialogs.to_string()),
        ("Registrations", c.registrations.to_string()),
        ("RTP streams", c.rtp_streams.to_string()),
        ("Alerts fired", c.alerts_fired.to_string()),
        ("Decode anomalies", format!("{decode} ({} malformed messages, {} SIP-looking payloads that did not parse, {} frames of unknown link type){}", c.message_anomalies, r.sip_rejected, r.decode.unknown_link, by_anomaly(r))),
        ("Capture loss", format!("{loss} packets dropped, {} TCP gaps, {} frames cut by the snap length", r.reassembly.tcp.gaps, r.capture.truncated_frames)),
    ];
    let mut out = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    out.push_str("</table>");
    let notes: Vec<String> = cx
        .warnings
        .iter()
        .chain(page_cuts(cx).iter())
        .map(|s| w(s))
        .collect();
    if !notes.is_empty() {
        out.push_str("<ul class=\"cut\">");
        for n in notes {
            let _ = write!(out, "<li>{n}</li>");
        }
        out.push_str("</ul>");
    }
    out
}

fn alert_row(a: &Alert, anchors: &BTreeMap<&str, String>) -> String {
    let call = match &a.call_id {
        Some(cid) => match anchors.get(cid.as_str()) {
            Some(id) => format!("<a href=\"#{id}\">{}</a>", w(cid)),
            None => w(cid),
        },
        None => String::new(),
    };
    format!(
        "<tr><td>{}</td><td class=\"sev-{sev}\">{sev}</td><td><b>{}</b></td><td>{call}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
        a.ts,
        a.code,
        w(a.endpoint.as_deref().unwrap_or("")),
        w(&a.evidence),
        esc(a.hint),
        sev = a.severity.as_str(),
    )
}

fn alerts(cx: &Context, anchors: &BTreeMap<&str, String>) -> String {
    let f = cx.fin;
    if f.alerts.is_empty() {
        return "<p class=\"muted\">No alert fired.</p>".into();
    }
    let mut out = String::from("<table><tr><th>severity</th><th>alert</th><th>count</th></tr>");
    let mut counts: Vec<_> = f.alert_counts.iter().collect();
    counts.sort_by(|a, b| b.0 .0.cmp(&a.0 .0).then(b.1.cmp(a.1)));
    for ((sev, code), n) in counts {
        let _ = write!(
            out,
            "<tr><td class=\"sev-{s}\">{s}</td><td>{code}</td><td class=\"n\">{n}</td></tr>",
            s = sev.as_str()
        );
    }
    out.push_str("</table><table id=\"alerts-table\"><tr><th>time</th><th>severity</th><th>alert</th><th>call</th><th>endpoint</th><th>evidence</th><th>hint</th></tr>");
    for a in &f.alerts {
        out.push_str(&alert_row(a, anchors));
    }
    out.push_str("</table>");
    out
}

fn netmap(cx: &Context) -> String {
    let n = &cx.fin.netmap;
    let (hosts, pairs) = n.folded();
    let mut out = format!("<div class=\"grid\"><figure>{}</figure><div>", n.svg());
    out.push_str("<table><tr><th>endpoint</th><th>software</th><th>roles</th><th>sent</th><th>received</th></tr>");
    for (ip, h) in hosts.iter().take(50) {
        let _ = write!(
            out,
            "<tr><td>{ip}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            w(h.name.as_deref().unwrap_or("")),
            esc(&h.roles()),
            h.sent,
            h.received
        );
    }
    out.push_str(
        "</table><table><tr><th>from</th><th>to</th><th>requests</th><th>responses</th></tr>",
    );
    for ((a, b), (req, resp)) in pairs.iter().take(50) {
        let _ = write!(
            out,
            "<tr><td>{a}</td><td>{b}</td><td class=\"n\">{req}</td><td class=\"n\">{resp}</td></tr>"
        );
    }
    out.push_str("</table></div></div>");
    out
}

/// One call's block: why it is here, its figures, alerts, ladder (click an arrow for the
/// message) and RTP streams.
/// The other calls of the section's incident: how many, over what time, which.
fn similar(s: &Section) -> String {
    let m = &s.similar;
    if m.count == 0 {
        return String::new();
    }
    let mut out = format!(
        "<p class=\"similar\"><b>{} more call{} failed the same way</b> (outcome, status, reasons, caller host and callee) between {} and {}:",
        m.count,
        if m.count == 1 { "" } else { "s" },
        m.first.unwrap_or(s.call.start),
        m.last.unwrap_or(s.call.start),
    );
    for (i, id) in m.call_ids.iter().enumerate() {
        let _ = write!(
            out,
            "{} <code>{}</code>",
            if i == 0 { "" } else { "," },
            w(id)
        );
    }
    let more = m.count.saturating_sub(m.call_ids.len() as u64);
    if more > 0 {
        let _ = write!(
            out,
            " and {more} more (the call list and the calls table have them all)"
        );
    }
    out.push_str(".</p>");
    out
}

pub fn section(s: &Section, id: &str) -> String {
    let c = &s.call;
    let outcome = c.outcome.map_or("unknown", |o| o.as_str());
    let mut out = format!(
        "<section class=\"call\" id=\"{id}\" data-call-id=\"{}\"><h3><span class=\"badge o-{outcome}\">{outcome}</span> {} → {} · {} · <code>{}</code></h3>",
        w(&c.call_id),
        w(&c.from),
        w(&c.to),
        c.start,
        w(&c.call_id)
    );
    if !s.reasons.is_empty() {
        let _ = write!(
            out,
            "<p><b>Why it is here:</b> {}</p>",
            esc(&s.reasons.join(", "))
        );
        out.push_str(&similar(s));
    } else {
        out.push_str("<p class=\"muted\">A sample of the good calls.</p>");
    }
    let _ = write!(
        out,
        "<p>status {} {} · duration {:.3} s · PDD {} · {} messages, {} retransmissions{}{}</p>",
        opt(c.final_status),
        w(c.reason.as_deref().unwrap_or("")),
        c.duration,
        c.pdd
            .map(|p| format!("{p:.3} s"))
            .unwrap_or_else(|| "—".into()),
        c.messages,
        c.retransmissions,
        if c.legs.is_empty() {
            String::new()
        } else {
            format!(
                " · legs {}",
                w(&c.legs
                    .iter()
                    .map(|l| l.call_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
            )
        },
        if s.msgs_cut > 0 {
            format!(
                " · <span class=\"cut\">{} more messages not drawn</span>",
                s.msgs_cut
            )
        } else {
            String::new()
        },
    );
    if let Some(p) = &s.capture {
        let _ = write!(
            out,
            "<p class=\"capture\"><a href=\"{}\" download>The frames of this call (pcapng)</a>: its SIP on every hop and its RTP, for Wireshark or a vendor.</p>",
            w(p)
        );
    }
    if !s.alerts.is_empty() {
        out.push_str("<ul>");
        for a in &s.alerts {
            let _ = write!(
                out,
                "<li><span class=\"badge sev-{}\">{}</span> <b>{}</b> {}: {}</li>",
                a.severity.as_str(),
                a.severity.as_str(),
                a.code,
                a.ts,
                w(&a.evidence)
            );
        }
        out.push_str("</ul>");
    }
    let mut ladder = Ladder::build(&s.msgs, &LadderOptions::default());
    ladder.outcome = Ladder::outcome_of(&s.call);
    ladder.add_streams(&s.streams, &s.owners);
    let _ = write!(
        out,
        "<div class=\"ladder-scroll\">{}</div>",
        ladder_html::fragment(&ladder, &format!("{id}-"))
    );
    if !s.streams.is_empty() {
        out.push_str("<table><tr><th>RTP</th><th>codec</th><th>packets</th><th>lost</th><th>loss %</th><th>jitter mean / max ms</th><th>max delta ms</th><th>MOS</th><th>MOS (adaptive buffer)</th><th>DTMF</th></tr>");
        for st in &s.streams {
            let _ = write!(
                out,
                "<tr><td>{} → {}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                st.src,
                st.dst,
                w(&st.encoding.clone().unwrap_or_else(|| format!("pt{}", st.payload_type))),
                st.packets,
                st.lost,
                opt(st.loss_pct().map(|l| format!("{l:.2}"))),
                opt(st.mean_jitter_ms.map(|j| format!("{j:.2}"))),
                opt(st.max_jitter_ms.map(|j| format!("{j:.2}"))),
                st.max_delta_ms,
                opt(st.mos.map(|m| format!("{m:.2}"))),
                opt(st.mos_adaptive.map(|m| format!("{m:.2}"))),
                w(&st.dtmf),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");
    out
}

/// The call list: rows as JSON, drawn, sorted and filtered by the script.
const LIST_SCRIPT: &str = r#"
(() => {
  const calls = JSON.parse(document.getElementById('calls-data').textContent);
  const anchors = JSON.parse(document.getElementById('anchors-data').textContent);
  const body = document.querySelector('#calls-table tbody');
  const heads = document.querySelectorAll('#calls-table th');
  const count = document.getElementById('calls-count');
  const f = id => document.getElementById(id);
  const outcomes = [...new Set(calls.map(c => c.outcome))].sort();
  for (const o of outcomes) {
    const opt = document.createElement('option');
    opt.value = o; opt.textContent = o;
    f('f-outcome').appendChild(opt);
  }
  let key = 'start', dir = 1;
  const SHOWN = 1000;
  const WRAP = new Set(['from', 'to', 'call_id']);
  const fmt = (k, v) => v === null || v === undefined ? '' :
    (k === 'duration' || k === 'pdd') && typeof v === 'number' ? v.toFixed(3) :
    (typeof v === 'number' && !Number.isInteger(v)) ? v.toFixed(2) : String(v);
  function draw() {
    const outcome = f('f-outcome').value, user = f('f-user').value.toLowerCase(),
          addr = f('f-addr').value.toLowerCase(), text = f('f-text').value.toLowerCase(),
          problems = f('f-problems').checked;
    const rows = calls.filter(c =>
      (!outcome || c.outcome === outcome) &&
      (!problems || c.score > 0) &&
      (!user || c.from.toLowerCase().includes(user) || c.to.toLowerCase().includes(user)) &&
      (!addr || c.caller.toLowerCase().includes(addr) || c.callee.toLowerCase().includes(addr)) &&
      (!text || JSON.stringify(c).toLowerCase().includes(text)));
    rows.sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    body.replaceChildren();
    for (const c of rows.slice(0, SHOWN)) {
      const tr = document.createElement('tr');
      tr.className = 'o-' + c.outcome;
      tr.dataset.callId = c.call_id;
      for (const h of heads) {
        const k = h.dataset.key, td = document.createElement('td');
        if (k === 'call_id' && anchors[c.call_id]) {
          const a = document.createElement('a');
          a.href = '#' + anchors[c.call_id];
          a.textContent = c.call_id;
          td.appendChild(a);
        } else if (k === 'reasons') {
          td.textContent = c.reasons.join(', ');
        } else {
          td.textContent = fmt(k, c[k]);
        }
        if (typeof c[k] === 'number') td.className = 'n';
        else if (WRAP.has(k)) td.className = k === 'call_id' ? 'wrap id' : 'wrap';
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    count.textContent = rows.length > SHOWN ?
      `${rows.length} calls match; the first ${SHOWN} are shown (narrow the filters)` :
      `${rows.length} of ${calls.length} calls`;
  }
  heads.forEach(h => h.addEventListener('click', () => {
    if (key === h.dataset.key) dir = -dir; else { key = h.dataset.key; dir = 1; }
    heads.forEach(x => x.classList.remove('asc', 'desc'));
    h.classList.add(dir > 0 ? 'asc' : 'desc');
    draw();
  }));
  for (const id of ['f-outcome', 'f-user', 'f-addr', 'f-text', 'f-problems'])
    f(id).addEventListener('input', draw);
  draw();
})();
"#;

const LIST_COLUMNS: [(&str, &str); 15] = [
    ("start", "start"),
    ("duration", "duration s"),
    ("from", "from"),
    ("to", "to"),
    ("caller", "caller"),
    ("callee", "callee"),
    ("outcome", "outcome"),
    ("status", "status"),
    ("pdd", "PDD s"),
    ("mos", "MOS"),
    ("loss", "loss %"),
    ("msgs", "msgs"),
    ("retrans", "retrans"),
    ("alerts", "alerts"),
    ("call_id", "Call-ID"),
];

/// The whole page. `sections` are the rendered call blocks, in order, with their anchors.
/// What an interrupted run's report says at its top (none for a run that read all its input).
pub fn partial(r: &crate::pipeline::RunStats) -> Option<String> {
    r.interrupted.then(|| match r.last_ts {
        Some(t) => format!(
            "the run was interrupted (Ctrl-C or SIGTERM) at capture time {t}; what the input held after that is not in it"
        ),
        None => "the run was interrupted (Ctrl-C or SIGTERM) before any frame was read".into(),
    })
}

pub fn page(cx: &Context, sections: &[(String, String)]) -> String {
    let f = cx.fin;
    // A call of an incident links to the incident's section, as its drawn call does.
    let anchors: BTreeMap<&str, String> = f
        .sections
        .iter()
        .zip(sections)
        .flat_map(|(s, (id, _))| {
            std::iter::once(s.call.call_id.as_str())
                .chain(s.similar.call_ids.iter().map(String::as_str))
                .map(move |c| (c, id.clone()))
        })
        .collect();
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}{ladder}</style></head>
<body>
<nav><a href="#summary">Summary</a><a href="#kpi">KPIs</a><a href="#alerts">Alerts</a><a href="#charts">Charts</a><a href="#network">Network</a><a href="#calls">Calls</a><a href="#sections">Call details</a><a href="#data">Data</a></nav>
<main>
<h1>{title}</h1>
{partial}<p class="muted">Made by sipscope {version} from {files}.</p>
<section id="summary"><h2>Summary</h2>{summary}</section>
<section id="kpi"><h2>Key performance indicators</h2>
<p class="muted">Ratios with their numerator and denominator, delays with their sample size (RFC 6076, ITU-T E.411/E.425; definitions in the README).</p>
{ratios}{delays}<h3>Calls by outcome</h3>{outcomes}</section>
<section id="alerts"><h2>Alerts</h2>{alerts}</section>
<section id="charts"><h2>Charts</h2><div class="grid">"##,
        title = esc(&f.opts.title),
        partial = partial(cx.run)
            .map(|p| format!(
                "<p class=\"partial\"><strong>Partial report:</strong> {}</p>\n",
                w(&p)
            ))
            .unwrap_or_default(),
        ladder = ladder_html::style(),
        version = env!("CARGO_PKG_VERSION"),
        files = f
            .opts
            .files
            .iter()
            .map(|p| w(p))
            .collect::<Vec<_>>()
            .join(", "),
        summary = summary(cx),
        ratios = tab(cx.tabs, "ratios").map(tab_html).unwrap_or_default(),
        delays = tab(cx.tabs, "delays").map(tab_html).unwrap_or_default(),
        outcomes = tab(cx.tabs, "outcomes").map(tab_html).unwrap_or_default(),
        alerts = alerts(cx, &anchors),
    );
    for svg in charts(cx) {
        let _ = write!(
            out,
            "<figure>{}</figure>",
            svg.trim_start_matches(|c| c != '<')
        );
    }
    let _ = write!(
        out,
        r#"</div></section>
<section id="network"><h2>Network map</h2><p class="muted">SIP endpoints (where they listen; ephemeral ports folded in), the roles their messages show, and the messages between them (the {drawn} busiest are drawn).</p>{netmap}</section>
<section id="calls"><h2>Calls</h2>
<div id="filters"><label>outcome <select id="f-outcome"><option value="">all</option></select></label>
<label>user <input id="f-user" placeholder="from or to"></label>
<label>address <input id="f-addr" placeholder="caller or callee"></label>
<label>search <input id="f-text" placeholder="any text"></label>
<label><input type="checkbox" id="f-problems"> problems only</label>
<span id="calls-count" class="muted"></span></div>
<table id="calls-table"><thead><tr>"#,
        drawn = 16,
        netmap = netmap(cx),
    );
    for (k, label) in LIST_COLUMNS {
        let _ = write!(out, "<th data-key=\"{k}\">{label}</th>");
    }
    let _ = write!(
        out,
        "</tr></thead><tbody></tbody></table></section>\n<section id=\"sections\"><h2>Call details</h2><p class=\"muted\">{} incidents (worst first, at most {}; the calls that failed the same way are one incident, drawn once) covering {} problem calls, and a sample of {} good calls. Click an arrow of a ladder to read the message.</p>\n",
        f.sections.iter().filter(|s| s.score > 0).count(),
        f.opts.max_calls,
        f.sections
            .iter()
            .filter(|s| s.score > 0)
            .map(|s| 1 + s.similar.count)
            .sum::<u64>(),
        f.sections.iter().filter(|s| s.score == 0).count(),
    );
    for (_, html) in sections {
        out.push_str(html);
    }
    out.push_str("</section>\n<section id=\"data\"><h2>Data tables</h2><p>Parquet and CSV, typed columns (see the README): <code>data/</code>.</p><table><tr><th>table</th><th>rows</th><th>files</th></tr>");
    for (name, n) in &f.table_rows {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"n\">{n}</td><td><a href=\"data/{name}.parquet\">{name}.parquet</a> · <a href=\"data/{name}.csv\">{name}.csv</a></td></tr>"
        );
    }
    for t in cx.tabs {
        let _ = write!(
            out,
            "<tr><td>stats/{n}</td><td class=\"n\">{}</td><td><a href=\"data/stats/{n}.parquet\">{n}.parquet</a> · <a href=\"data/stats/{n}.csv\">{n}.csv</a></td></tr>",
            t.frame.height(),
            n = t.name
        );
    }
    out.push_str("</table></section></main>\n");
    let list = crate::output::json::to_string(&f.list).unwrap_or_else(|_| "[]".into());
    let anchors_json = crate::output::json::to_string(&anchors).unwrap_or_else(|_| "{}".into());
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"calls-data\">{}</script>\n<script type=\"application/json\" id=\"anchors-data\">{}</script>\n<script>{LIST_SCRIPT}{}</script>\n</body></html>\n",
        ladder_html::script_json(&list),
        ladder_html::script_json(&anchors_json),
        ladder_html::SCRIPT,
    );
    out
}
