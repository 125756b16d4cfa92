//! The terminal UI on real captures: screens drawn by ratatui's TestBackend and compared with
//! insta snapshots at 80×24 and 200×50; the keys' effects on the state.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Prompt, Screen, Tab};
use super::store::Store;
use super::{apply, call_view, collect, view};
use crate::cli::{CommonArgs, FormatArg};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// An app that has read the whole capture, as the UI would by its end.
fn loaded(name: &str) -> App {
    let common = CommonArgs {
        files: vec![sample(name)],
        ..CommonArgs::default()
    };
    let cfg = common.config(FormatArg::Table, true).expect("config");
    let mut app = App::new(
        Store::new(100_000, 512 << 20),
        name.to_string(),
        false,
        vec![sample(name)],
    );
    app.color = false;
    for m in collect(&cfg) {
        apply(&mut app, m);
    }
    app
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, app)).expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn every_screen_at_two_sizes() {
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        app.screen = Screen::List;
        for (i, (tab, _)) in super::app::TABS.iter().enumerate() {
            app.tab = Tab::Calls;
            key(&mut app, KeyCode::Char(char::from(b'1' + i as u8)));
            assert_eq!(app.tab, *tab);
            insta::assert_snapshot!(format!("tab{}_{w}x{h}", i + 1), screen(&mut app, w, h));
        }
        key(&mut app, KeyCode::Char('1'));
        key(&mut app, KeyCode::Home);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Call);
        key(&mut app, KeyCode::Down);
        insta::assert_snapshot!(format!("call_{w}x{h}"), screen(&mut app, w, h));
        key(&mut app, KeyCode::Char('?'));
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&mut app, w, h));
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::List);
    }
}

#[test]
fn filter_select_sort_and_back() {
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    app.refresh();
    let all = app.rows.len();
    assert!(all > 3, "{all} calls");
    // The filter applies as it is typed; an outcome key means what --outcome means.
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, "outcome:busy");
    assert!(matches!(app.prompt, Prompt::Filter(_)));
    key(&mut app, KeyCode::Enter);
    let busy: Vec<String> = app.rows.clone();
    assert!(!busy.is_empty() && busy.len() < all);
    for id in &busy {
        assert_eq!(
            app.store.calls[id].call.outcome,
            Some(sipscope::correlate::record::Outcome::Busy)
        );
    }
    // A wrong term is said and the filter stays as it was.
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, " addr:nohost");
    key(&mut app, KeyCode::Enter);
    assert!(
        app.status.starts_with("filter not applied: addr:"),
        "{}",
        app.status
    );
    assert_eq!(app.rows, busy);
    // Esc leaves the filter as it was before the prompt opened, whatever was typed.
    key(&mut app, KeyCode::Char('f'));
    for _ in 0..40 {
        key(&mut app, KeyCode::Backspace);
    }
    assert_eq!(app.rows.len(), all, "the filter applies as it is typed");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.rows, busy);
    // Clearing it brings every call back.
    key(&mut app, KeyCode::Char('f'));
    for _ in 0..20 {
        key(&mut app, KeyCode::Backspace);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.rows.len(), all);
    // Space selects, again unselects.
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.marked.len(), 1);
    key(&mut app, KeyCode::Char(' '));
    assert!(app.marked.is_empty());
    // s sorts by the next column: from.
    key(&mut app, KeyCode::Char('s'));
    let froms: Vec<&str> = app
        .rows
        .iter()
        .map(|id| app.store.calls[id].call.from.as_str())
        .collect();
    let mut sorted = froms.clone();
    sorted.sort();
    assert_eq!(froms, sorted);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn mark_compare_and_search_in_a_call() {
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    app.refresh();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Call);
    // Mark the INVITE's time, move on: the gutter counts from the mark.
    key(&mut app, KeyCode::Char('m'));
    assert!(matches!(
        app.time,
        sipscope::render::text::TimeMode::SinceMark(_)
    ));
    // Space selects the first message, c compares it with the second, by header.
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('c'));
    assert!(app.comparing);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("compare by header"), "{s}");
    assert!(s.contains("call-id"), "{s}");
    key(&mut app, KeyCode::Esc);
    assert!(!app.comparing && app.screen == Screen::Call);
    // Search the messages: n finds the next BYE.
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "BYE");
    key(&mut app, KeyCode::Enter);
    let l = call_view::ladder_of(&app).unwrap();
    assert!(l.rows[app.msg_sel].label.contains("BYE") || app.status.contains("not found"));
}

#[test]
fn save_writes_the_call_pcap_the_ladder_and_the_list() {
    let dir = std::env::temp_dir().join(format!("sipscope-tui-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    app.refresh();
    key(&mut app, KeyCode::Enter);
    let id = app.call_id.clone().unwrap();
    let msgs = app.store.calls[&id].msgs.len();
    for ext in ["pcap", "pcapng", "txt", "svg", "html", "mmd", "csv", "json"] {
        let p = dir.join(format!("out.{ext}"));
        key(&mut app, KeyCode::F(2));
        assert!(matches!(app.prompt, Prompt::Save(_)));
        if let Prompt::Save(t) = &mut app.prompt {
            *t = p.display().to_string();
        }
        key(&mut app, KeyCode::Enter);
        assert!(p.exists(), "{ext}: {}", app.status);
    }
    // The saved capture, read again, holds exactly this call's messages.
    let common = CommonArgs {
        files: vec![dir.join("out.pcap")],
        ..CommonArgs::default()
    };
    let cfg = common.config(FormatArg::Table, true).unwrap();
    let mut again = App::new(Store::new(1000, 1 << 30), String::new(), false, vec![]);
    for m in collect(&cfg) {
        apply(&mut again, m);
    }
    assert_eq!(
        again.store.calls.len(),
        1,
        "{:?}",
        again.store.calls.keys().collect::<Vec<_>>()
    );
    assert_eq!(again.store.calls[&id].msgs.len(), msgs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aliases_name_the_ladder_columns() {
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    app.aliases
        .insert("127.0.0.1:5060".into(), "kamailio".into());
    app.refresh();
    key(&mut app, KeyCode::Enter);
    let l = call_view::ladder_of(&app).unwrap();
    assert!(
        l.columns
            .iter()
            .any(|c| c.name.as_deref() == Some("kamailio")),
        "{:?}",
        l.columns
    );
    assert!(screen(&mut app, 200, 50).contains("kamailio"));
}

/// A TCP segment lost from the capture: the header counts the gap as the run goes, the same
/// number the run's end reports.
#[test]
fn tcp_gaps_show_in_the_header() {
    use sipscope::capture::file::FileSource;
    use sipscope::capture::writer::PcapFile;
    use sipscope::capture::Source;
    use sipscope::decode::{Decoder, Transport};
    let dir = std::env::temp_dir().join(format!("sipscope-tui-gap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("gap.pcap");
    let mut src = FileSource::open(&sample("kamailio-sipp-outcomes.pcap")).unwrap();
    let mut dec = Decoder::default();
    let mut w: Option<PcapFile> = None;
    let mut data_segments = 0;
    while let Some(f) = src.next_frame().unwrap() {
        let f = f.to_owned();
        let w = match &mut w {
            Some(w) => w,
            None => w.insert(PcapFile::create(&out, f.link).unwrap()),
        };
        if let Some(p) = dec.decode(&f) {
            if p.transport == Transport::Tcp && !p.payload.is_empty() {
                data_segments += 1;
                // The fifth data segment goes missing (mid-connection: a gap, not a lost start).
                if data_segments == 5 {
                    continue;
                }
            }
        }
        w.write(&f).unwrap();
    }
    w.unwrap().flush().unwrap();
    let common = CommonArgs {
        files: vec![out.clone()],
        ..CommonArgs::default()
    };
    let cfg = common.config(FormatArg::Table, true).unwrap();
    let mut app = App::new(Store::new(1000, 1 << 30), String::new(), false, vec![]);
    app.color = false;
    for m in collect(&cfg) {
        apply(&mut app, m);
    }
    let gaps = app.store.counters.tcp_gaps;
    assert!(gaps > 0);
    assert!(
        app.feed
            .warnings
            .iter()
            .any(|w| w.starts_with(&format!("{gaps} gaps in TCP streams ("))),
        "{:?}",
        app.feed.warnings
    );
    assert!(screen(&mut app, 200, 50).contains(&format!("{gaps} TCP gaps")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Corpus captures (the licensed copies in tests/data): a call with its RTP, and SIP carried in
/// HEP. The call list, the first call's screen and the RTP tab at both sizes.
#[test]
fn corpus_captures_at_two_sizes() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (name, rel) in [
        ("sip_rtp", "aboutsip_pkts/sip_rtp.pcap"),
        ("hep", "sipcapture_hep-wireshark/hep.pcap"),
    ] {
        let path = data.join(rel);
        let common = CommonArgs {
            files: vec![path.clone()],
            ..CommonArgs::default()
        };
        let cfg = common.config(FormatArg::Table, true).expect("config");
        let mut app = App::new(
            Store::new(100_000, 512 << 20),
            rel.to_string(),
            false,
            vec![path],
        );
        app.color = false;
        for m in collect(&cfg) {
            apply(&mut app, m);
        }
        app.refresh();
        assert!(!app.rows.is_empty(), "{rel}: no call listed");
        for (w, h) in [(80u16, 24u16), (200, 50)] {
            app.screen = Screen::List;
            key(&mut app, KeyCode::Char('1'));
            insta::assert_snapshot!(format!("{name}_calls_{w}x{h}"), screen(&mut app, w, h));
            key(&mut app, KeyCode::Home);
            key(&mut app, KeyCode::Enter);
            insta::assert_snapshot!(format!("{name}_call_{w}x{h}"), screen(&mut app, w, h));
            key(&mut app, KeyCode::Esc);
            key(&mut app, KeyCode::Char('4'));
            insta::assert_snapshot!(format!("{name}_rtp_{w}x{h}"), screen(&mut app, w, h));
        }
    }
}

/// The words of the filter are underlined where they matched, in the rows it kept.
#[test]
fn filter_matches_are_highlighted() {
    let mut app = loaded("kamailio-sipp-outcomes.pcap");
    app.color = true;
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, "noanswer");
    key(&mut app, KeyCode::Enter);
    assert!(!app.rows.is_empty());
    let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
    t.draw(|f| view::draw(f, &mut app)).unwrap();
    let buf = t.backend().buffer().clone();
    // Row 4 is the first call: its "to" cell says noanswer, underlined; "sipp" is not.
    let row: Vec<(String, bool)> = (0..200u16)
        .map(|x| {
            let c = &buf[(x, 4)];
            (
                c.symbol().to_string(),
                c.modifier.contains(ratatui::style::Modifier::UNDERLINED),
            )
        })
        .collect();
    let text: String = row.iter().map(|(s, _)| s.as_str()).collect();
    let at = text.find(" noanswer ").expect("the to cell") + 1;
    assert!(row[at].1, "noanswer not underlined: {text}");
    let sipp = text.find("sipp").unwrap();
    assert!(!row[sipp].1, "sipp underlined: {text}");
}

/// Every bound of the screen that let something go is said at the end of the run, once each.
#[test]
fn screen_losses_are_said_at_the_end() {
    let c = super::store::Counters {
        calls_evicted: 1,
        texts_evicted: 2,
        msgs_dropped: 3,
        streams_dropped: 4,
        regs_dropped: 5,
        alerts_dropped: 6,
        ..Default::default()
    };
    let w = c.losses();
    assert_eq!(w.len(), 6, "{w:?}");
    for (i, l) in w.iter().enumerate() {
        assert!(l.starts_with(&format!("{} ", i + 1)), "{l}");
    }
    assert!(w[0].contains("--max-calls") && w[1].contains("--text-memory"));
    assert!(super::store::Counters::default().losses().is_empty());
}
