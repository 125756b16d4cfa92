//! The ladder as a Mermaid `sequenceDiagram`, to paste into a Markdown ticket (GitHub and GitLab
//! render it). Wire text is made safe for Mermaid ([`safe`]): every character Mermaid or the HTML
//! it renders into would read as syntax (`<`, `>`, `&`, `"`, `#`, `;`, `%`, backtick) becomes a
//! numeric entity code (`#60;`), which Mermaid shows as the character itself; line breaks,
//! control and bidirectional characters ([`is_unsafe`]) become spaces. So no tag, directive
//! (`%%{init}%%`), statement break or comment from the wire reaches the diagram's source, and the
//! page stays safe even where the Markdown host does not sanitise what Mermaid draws.

use std::fmt::Write as _;

use super::Ladder;
use crate::output::is_unsafe;

/// Text Mermaid takes literally in a participant alias, a message, a note or a comment.
pub fn safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' | '>' | '&' | '"' | '#' | ';' | '%' | '`' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c if is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(l: &Ladder) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    %% Call-ID: {}", safe(&l.call_ids.join(" + ")));
    for (i, c) in l.columns.iter().enumerate() {
        let (_, second) = l.column_title(i);
        let title = match &second {
            Some(n) => format!("{}<br/>{}", safe(&c.address), safe(n)),
            None => safe(&c.address),
        };
        let _ = writeln!(out, "    participant P{i} as {title}");
    }
    for r in &l.rows {
        let mut label = safe(&r.label);
        if r.count > 1 {
            let _ = write!(label, " ×{}", r.count);
        }
        let leg = if l.call_ids.len() > 1 {
            format!(" [leg {}]", r.leg + 1)
        } else {
            String::new()
        };
        let arrow = if r.rtp.is_some() { "-->>" } else { "->>" };
        let _ = writeln!(
            out,
            "    P{}{arrow}P{}: {label} · {} · +{:.3}s{leg}",
            r.from,
            r.to,
            safe(&r.cseq),
            r.delta as f64 / 1e9
        );
        if let Some(sdp) = &r.sdp {
            let (a, b) = (r.from.min(r.to), r.from.max(r.to));
            let _ = writeln!(out, "    Note over P{a},P{b}: SDP {}", safe(sdp));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::safe;

    /// Tags, attribute quotes, entities, comments and directives from the wire reach the source
    /// only as entity codes; controls and bidi characters as spaces.
    #[test]
    fn wire_text_reaches_mermaid_as_entity_codes() {
        let s = safe(
            "<script>alert(\"x\")</script>&amp; `code` #1; %%{init: {}}%%\x1b[2J\u{9b}\u{202e}\n",
        );
        assert_eq!(
            s,
            "#60;script#62;alert(#34;x#34;)#60;/script#62;#38;amp#59; #96;code#96; #35;1#59; \
             #37;#37;{init: {}}#37;#37; [2J   "
        );
        // Without its entity codes, nothing special is left.
        let mut bare = s.clone();
        for code in [60, 62, 34, 38, 59, 96, 35, 37] {
            bare = bare.replace(&format!("#{code};"), "");
        }
        for c in [
            '<', '>', '&', '"', '`', '#', ';', '%', '\n', '\x1b', '\u{9b}', '\u{202e}',
        ] {
            assert!(!bare.contains(c), "{c:?} in {s}");
        }
    }
}
