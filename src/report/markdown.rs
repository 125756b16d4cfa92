//! `summary.md`: the headline figures, KPIs, alerts and worst calls in Markdown, to paste into a
//! ticket. Wire text is escaped for Markdown (no `|`, backticks, `<` or line breaks get through).

use std::fmt::Write as _;

use super::html::Context;
use crate::output::escape;
use crate::time::fmt_secs;

/// Wire text inside a Markdown table cell.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape(s).chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Some columns of one of the statistics tables, under `head`.
fn markdown_table(out: &mut String, cx: &Context, name: &str, cols: &[&str], head: &str) {
    let Some(t) = cx.tabs.iter().find(|t| t.name == name) else {
        return;
    };
    let _ = writeln!(out, "{head}");
    let at: Vec<Option<usize>> = cols
        .iter()
        .map(|c| t.columns.iter().position(|x| x == c))
        .collect();
    for row in crate::output::frame::rows(t).unwrap_or_default() {
        let cells: Vec<String> = at
            .iter()
            .map(|i| md(&i.and_then(|i| row.get(i).cloned()).unwrap_or_default()))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

pub fn render(cx: &Context) -> String {
    let f = cx.fin;
    let c = &f.counts;
    let r = cx.run;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md(&f.opts.title));
    if let Some(p) = super::html::partial(r) {
        let _ = writeln!(out, "**Partial report:** {}.\n", md(&p));
    }
    let span = match (r.first_ts, r.last_ts) {
        (Some(a), Some(b)) => format!("{a} — {b} ({} s)", fmt_secs(b.since(a))),
        _ => "no frames".into(),
    };
    let _ = writeln!(out, "| | |\n|---|---|");
    let files: Vec<String> = f.opts.files.iter().map(|p| md(p)).collect();
    let loss = r.capture.dropped_kernel + r.capture.dropped_interface + r.capture.dropped_behind;
    for (k, v) in [
        ("Capture files", files.join(", ")),
        ("Time span", span),
        ("Packets", r.capture.frames.to_string()),
        (
            "SIP messages",
            format!("{} ({} retransmissions)", c.sip_messages, c.retransmissions),
        ),
        (
            "Calls",
            format!("{} ({} with problems)", c.invite_calls, c.problem_calls),
        ),
        ("Registrations", c.registrations.to_string()),
        ("RTP streams", c.rtp_streams.to_string()),
        ("Alerts fired", c.alerts_fired.to_string()),
        (
            "Capture loss",
            format!("{loss} packets dropped, {} TCP gaps", r.reassembly.tcp.gaps),
        ),
    ] {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    let _ = writeln!(out, "\n## KPIs\n");
    markdown_table(
        &mut out,
        cx,
        "ratios",
        &["metric", "percent", "numerator", "denominator"],
        "| metric | % | numerator | denominator |\n|---|---:|---:|---:|",
    );
    let _ = writeln!(out);
    markdown_table(
        &mut out,
        cx,
        "delays",
        &["metric", "n", "mean", "p50", "p90", "p99", "max"],
        "| delay (s) | n | mean | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|",
    );
    let _ = writeln!(out, "\n## Alerts\n");
    if f.alert_counts.is_empty() {
        let _ = writeln!(out, "No alert fired.");
    } else {
        let mut counts: Vec<_> = f.alert_counts.iter().collect();
        counts.sort_by(|a, b| b.0 .0.cmp(&a.0 .0).then(b.1.cmp(a.1)));
        let _ = writeln!(out, "| severity | alert | count |\n|---|---|---:|");
        for ((sev, code), n) in counts {
            let _ = writeln!(out, "| {} | {code} | {n} |", sev.as_str());
        }
        let _ = writeln!(out, "\nMost severe first:\n");
        for a in f.alerts.iter().take(10) {
            let _ = writeln!(
                out,
                "- {} **{}** {}{}: {}",
                a.ts,
                a.severity.as_str(),
                a.code,
                a.call_id
                    .as_deref()
                    .map(|c| format!(" call {}", md(c)))
                    .unwrap_or_default(),
                md(&a.evidence)
            );
        }
    }
    // One row per incident: a burst of calls failing the same way is one line, with its count.
    let worst: Vec<&super::Section> = f.sections.iter().filter(|s| s.score > 0).collect();
    let _ = writeln!(out, "\n## Worst incidents\n");
    if worst.is_empty() {
        let _ = writeln!(out, "No problem call.");
    } else {
        let _ = writeln!(
            out,
            "| start | calls | from | to | outcome | status | why | Call-ID |\n|---|---:|---|---|---|---:|---|---|"
        );
        for s in worst.into_iter().take(10) {
            let c = &s.call;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                s.similar.first.unwrap_or(c.start).min(c.start),
                1 + s.similar.count,
                md(&c.from),
                md(&c.to),
                c.outcome.map_or("unknown", |o| o.as_str()),
                c.final_status.map(|s| s.to_string()).unwrap_or_default(),
                s.reasons.join(", "),
                md(&c.call_id)
            );
        }
    }
    let cuts = super::html::page_cuts(cx);
    if !cx.warnings.is_empty() || !cuts.is_empty() {
        // What the run lost and what the page leaves out, as the page and stderr say it.
        let _ = writeln!(out, "\n## Warnings\n");
        for n in cx.warnings.iter().chain(cuts.iter()) {
            let _ = writeln!(out, "- {}", md(n));
        }
    }
    let _ = writeln!(
        out,
        "\nFull report: `index.html`; data tables (Parquet, CSV): `data/`."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn wire_text_cannot_break_a_table() {
        let s = md("a|b`c<script>\r\n# x");
        assert!(!s.contains("<script>") && !s.contains('\n'), "{s}");
        assert!(s.contains("\\`c"), "backticks are escaped: {s}");
        assert!(s.contains("a\\|b"), "{s}");
    }
}
