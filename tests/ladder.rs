//! Golden ladders (insta snapshots in tests/snapshots) for calls from the corpus, in text and
//! Mermaid, and the `ladder` command's files.

use std::path::Path;
use std::process::Command;

use sipscope::render::{self, Ladder, LadderOptions};

use crate::support::{capture, repo, run_with};

fn ladder_of(path: &Path, call_id: &str, legs: bool, opts: &LadderOptions) -> Ladder {
    let mut cfg = sipscope::pipeline::PipelineConfig::default();
    cfg.correlator.want_messages = true;
    let r = run_with(&[path], cfg);
    let mut ids = vec![call_id.to_string()];
    if legs {
        let c = crate::support::call(&r, call_id);
        ids.extend(c.legs.iter().map(|l| l.call_id.clone()));
    }
    let rows: Vec<_> = r
        .messages
        .into_iter()
        .filter(|m| {
            m.call_id
                .as_deref()
                .is_some_and(|c| ids.iter().any(|i| i == c))
        })
        .collect();
    assert!(!rows.is_empty(), "no messages for {call_id}");
    Ladder::build(&rows, opts)
}

fn text(l: &Ladder, ascii: bool) -> String {
    render::text::render(
        l,
        &render::text::TextOptions {
            ascii,
            ..Default::default()
        },
    )
}

#[test]
fn ladder_plain_call_with_rtp() {
    // As the ladder command builds it: the call's RTP stream drawn as a span between the
    // endpoints whose SDP announced its addresses.
    let path = capture("aboutsip_pkts/sip_rtp.pcap").unwrap();
    let mut cfg = sipscope::pipeline::PipelineConfig::default();
    cfg.correlator.want_messages = true;
    cfg.correlator.want_media = true;
    cfg.media.track_rtp = true;
    let r = run_with(&[&path], cfg);
    let owners = r.media.iter().copied().collect();
    let mut l = Ladder::build(&r.messages, &LadderOptions::default());
    l.add_streams(&r.streams, &owners);
    let span = l
        .rows
        .iter()
        .find(|x| x.rtp.is_some())
        .expect("an RTP span");
    assert_eq!((span.from, span.to), (0, 1), "caller to callee, not a loop");
    assert!(span.label.contains("501 pkts"));
    insta::assert_snapshot!("plain_call_text", text(&l, false));
    insta::assert_snapshot!("plain_call_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_cancel_in_ascii() {
    let l = ladder_of(
        &capture("aboutsip_pkts/cancel.pcap").unwrap(),
        "1-6261@127.0.1.1",
        false,
        &LadderOptions::default(),
    );
    insta::assert_snapshot!("cancel_ascii", text(&l, true));
}

#[test]
fn ladder_through_a_proxy_with_aliases() {
    // kamailio between sipp caller and callee: every message drawn on both hops.
    let mut opts = LadderOptions::default();
    opts.aliases
        .insert("127.0.0.1:5060".into(), "kamailio".into());
    let l = ladder_of(
        &repo().join("samples/kamailio-sipp-outcomes.pcap"),
        "answered-udp-1-050517-17473@sipscope.test",
        false,
        &opts,
    );
    assert_eq!(l.columns.len(), 3);
    insta::assert_snapshot!("proxy_text", text(&l, false));
    insta::assert_snapshot!("proxy_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_forked_invite() {
    let l = ladder_of(
        &capture("irontec_sngrep/ipv6frag.pcap").unwrap(),
        "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521",
        false,
        &LadderOptions {
            by_host: true,
            ..Default::default()
        },
    );
    insta::assert_snapshot!("forked_text", text(&l, false));
}

#[test]
fn ladder_folds_retransmissions() {
    let l = ladder_of(
        &capture("irontec_sngrep/aaa.pcap").unwrap(),
        "105090259-446faf7a@192.168.1.2",
        false,
        &LadderOptions::default(),
    );
    assert!(l.rows.iter().any(|r| r.count > 1), "retransmissions folded");
    insta::assert_snapshot!("retransmissions_text", text(&l, false));
}

#[test]
fn ladder_refer_transfer() {
    // Made by two sipp instances (tests/sipp/refer.sh): the REFER's target and each NOTIFY's
    // sipfrag progress read straight from the arrows.
    let l = ladder_of(
        &repo().join("samples/refer-transfer.pcap"),
        "refer-udp-1@sipscope.test",
        false,
        &LadderOptions::default(),
    );
    let labels: Vec<&str> = l.rows.iter().map(|r| r.label.as_str()).collect();
    assert!(
        labels.contains(&"REFER → carol@127.0.0.1:5095"),
        "{labels:?}"
    );
    assert!(labels.contains(&"NOTIFY (100 Trying)"));
    assert!(labels.contains(&"NOTIFY (200 OK)"));
    insta::assert_snapshot!("refer_text", text(&l, false));
    insta::assert_snapshot!("refer_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_merges_b2bua_legs() {
    let l = ladder_of(
        &crate::correlation::b2bua_capture(),
        "leg1@a",
        true,
        &LadderOptions::default(),
    );
    assert_eq!(l.call_ids, ["leg1@a", "leg2@sbc"]);
    insta::assert_snapshot!("b2bua_legs_text", text(&l, false));
    insta::assert_snapshot!("b2bua_legs_mermaid", render::mermaid::render(&l));
}

#[test]
fn ladder_command_writes_one_safe_file_per_call() {
    let dir = std::env::temp_dir().join(format!("sipscope-ladders-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ladder", "--all", "--format", "mermaid", "-o"])
        .arg(&dir)
        .arg(repo().join("samples/kamailio-sipp-outcomes.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    // 22 calls, plus the REGISTER and OPTIONS exchanges (UDP and TCP): one per Call-ID.
    assert_eq!(files.len(), 26, "one file per Call-ID");
    for f in &files {
        let name = f.file_name().to_string_lossy().into_owned();
        assert!(name.ends_with(".mmd"));
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        let body = std::fs::read_to_string(f.path()).unwrap();
        assert!(body.starts_with("sequenceDiagram\n"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn svg_parses_and_holds_every_label() {
    let l = ladder_of(
        &repo().join("samples/kamailio-sipp-outcomes.pcap"),
        "cancelled-udp-1-050517-17473@sipscope.test",
        false,
        &LadderOptions::default(),
    );
    let svg = render::svg::render(&l);
    let doc = roxmltree::Document::parse(&svg).expect("SVG is well-formed XML");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    for r in &l.rows {
        assert!(
            texts.iter().any(|t| t == &r.label),
            "label {:?} missing from the SVG",
            r.label
        );
        assert!(
            texts.iter().any(|t| t.contains(&r.cseq)),
            "CSeq {:?}",
            r.cseq
        );
    }
    for c in &l.columns {
        assert!(
            texts.iter().any(|t| t == &c.address),
            "column {}",
            c.address
        );
    }
    let root = doc.root_element();
    let width: f64 = root.attribute("width").unwrap().parse().unwrap();
    assert!(
        width >= 250.0 + 3.0 * 240.0,
        "width grows with the endpoints"
    );
}

#[test]
fn svg_repeats_column_headings_on_long_ladders() {
    // aaa.pcap's longest call has fewer rows; build a long one from every call of the sample.
    let mut cfg = sipscope::pipeline::PipelineConfig::default();
    cfg.correlator.want_messages = true;
    let r = run_with(&[&repo().join("samples/kamailio-sipp-outcomes.pcap")], cfg);
    let l = Ladder::build(&r.messages, &LadderOptions::default());
    assert!(l.rows.len() > 2 * render::svg::REPEAT_HEADINGS);
    let svg = render::svg::render(&l);
    let first = &l.columns[0].address;
    let headings = svg.matches(&format!(">\n{first}\n</text>")).count();
    assert!(
        headings >= 3,
        "{headings} headings for {} rows",
        l.rows.len()
    );
}

#[test]
fn html_ladder_is_self_contained_and_a_click_shows_the_message() {
    let dir = repo().join("target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("ladder-cancel.html");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args([
            "ladder",
            "--call-id",
            "cancelled-udp-1-050517-17473@sipscope.test",
            "--format",
            "html",
            "-o",
        ])
        .arg(&html)
        .arg(repo().join("samples/kamailio-sipp-outcomes.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    crate::support::assert_self_contained(&page);
    assert_eq!(
        page.matches("class=\"m\"").count(),
        14,
        "one link per arrow"
    );

    // A real click (puppeteer-core driving Debian's chromium) on arrow 6, the caller's CANCEL:
    // the panel must then show that message, the arrow be marked, and the page raise no error
    // and fetch nothing. The screenshot is kept.
    let shot = dir.join("ladder-cancel.png");
    let _ = std::fs::remove_file(&shot);
    let Some(v) = crate::support::browser_check(
        "click.mjs",
        &[html.as_os_str(), "m6".as_ref(), shot.as_os_str()],
    ) else {
        return;
    };
    assert_eq!(v["before"], "", "nothing shown before the click");
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("CANCEL sip:cancelled@127.0.0.1:5060 SIP/2.0"),
        "panel shows: {text:.200}"
    );
    assert_eq!(v["selected"], true, "the clicked arrow is marked");
    assert_eq!(v["errors"], serde_json::json!([]), "page errors or fetches");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot written"
    );
}

#[test]
fn mermaid_ladders_pass_the_mermaid_parser() {
    let check = repo().join("tests/js");
    if !check.join("node_modules/mermaid").exists() {
        assert!(
            std::env::var_os("SIPSCOPE_SKIP_LIVE").is_some(),
            "tests/js/node_modules missing: run .ci/run (npm ci --prefix tests/js)"
        );
        eprintln!("SKIPPED: mermaid package not installed");
        return;
    }
    let dir = repo().join("target/test-artefacts/mermaid");
    let _ = std::fs::remove_dir_all(&dir);
    // Every call of the sample capture, and the corpus cases with odd text.
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ladder", "--all", "--format", "mermaid", "-o"])
        .arg(&dir)
        .arg(repo().join("samples/kamailio-sipp-outcomes.pcap"))
        .arg(capture("irontec_sngrep/aaa.pcap").unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    // The hostile captures (T4 of ../shared/adversarial): markup, quotes, controls, bidi.
    for name in ["inject.pcap", "inject2.pcap"] {
        let Some(pcap) = crate::safety::adversarial(name) else {
            continue;
        };
        let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["ladder", "--all", "--format", "mermaid", "-o"])
            .arg(dir.join(name))
            .arg(pcap)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    // Wire text with everything Mermaid treats specially.
    let mut l = ladder_of(
        &capture("aboutsip_pkts/cancel.pcap").unwrap(),
        "1-6261@127.0.1.1",
        false,
        &LadderOptions::default(),
    );
    l.rows[0].label = "INVITE; drop #1 ->> B: x %% y <br/> \"q\" end".into();
    l.columns[0].name = Some("evil; participant Z as #1".into());
    l.call_ids[0] = "a;b#c\nd".into();
    std::fs::write(dir.join("hostile.mmd"), render::mermaid::render(&l)).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    for name in ["inject.pcap", "inject2.pcap"] {
        if let Ok(d) = std::fs::read_dir(dir.join(name)) {
            files.extend(d.flatten().map(|e| e.path()));
        }
    }
    files.retain(|f| f.is_file());
    assert!(files.len() > 20);
    let res = Command::new("node")
        .arg(check.join("check.mjs"))
        .args(&files)
        .current_dir(&check)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&res.stdout);
    assert!(res.status.success(), "mermaid rejected:\n{report}");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
}

#[test]
fn png_has_the_layouts_size() {
    let l = ladder_of(
        &repo().join("samples/refer-transfer.pcap"),
        "refer-udp-1@sipscope.test",
        false,
        &LadderOptions::default(),
    );
    let dir = repo().join("target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ladder-refer.png");
    render::png::render_to(&l, &path).unwrap();
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    let lay = render::svg::Layout::of(&l);
    assert_eq!((w as i32, h as i32), (lay.width, lay.height));
    assert!(w >= 250 + 2 * 240 + 40, "gutter + two columns + margin");
    // Text was drawn: a blank image of this size compresses far smaller.
    assert!(png.len() > 15_000, "{} bytes", png.len());
}

#[test]
fn png_text_stays_inside_the_image() {
    // The SDP summaries of this call through a proxy (IPv6 addresses, five codecs) start at
    // the proxy's column and ran past the last one: the image's edge cut them. Now the image is
    // as wide as its text: the rightmost columns hold no ink.
    let Some(p) = capture("irontec_sngrep/ipv6frag.pcap") else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let l = ladder_of(
        &p,
        "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521",
        false,
        &LadderOptions::default(),
    );
    assert_eq!(l.columns.len(), 3);
    assert!(
        l.rows
            .iter()
            .any(|r| r.sdp.as_ref().is_some_and(|s| s.len() > 100)),
        "the call has long SDP summaries"
    );
    let (w, h, rgb) = render::png::render_rgb(&l);
    let ink = |x: u32| (0..h).any(|y| rgb[((y * w + x) * 3) as usize] < 200);
    let last = (0..w).rev().find(|&x| ink(x)).unwrap();
    assert!(
        last + 12 < w,
        "ink at x = {last} of {w}: text clipped at the edge"
    );
}

#[test]
fn aliases_from_a_file_and_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sipscope-alias-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("aliases.txt");
    std::fs::write(
        &file,
        "# lab\n127.0.0.1:5060 = kamailio   # the proxy\n127.0.0.1:5071=callee\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args([
            "ladder",
            "--call-id",
            "answered-udp-1-050517-17473@sipscope.test",
        ])
        .arg("--alias-file")
        .arg(&file)
        .args(["--alias", "127.0.0.1:5071=bob"])
        .arg(repo().join("samples/kamailio-sipp-outcomes.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let names = text.lines().nth(2).unwrap();
    assert!(names.contains("kamailio (proxy)"), "{names}");
    assert!(names.contains("bob (UA)"), "the command line wins: {names}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn svg_text_stays_inside_the_drawing_in_a_browser() {
    // The same call drawn as SVG and laid out by chromium: no text of the drawing, measured
    // with the browser's own fonts, lies outside it.
    let Some(p) = capture("irontec_sngrep/ipv6frag.pcap") else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let dir = repo().join("target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("ladder-ipv6frag.svg");
    let shot = dir.join("ladder-ipv6frag-svg.png");
    crate::support::run_ok(
        Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["ladder", "--call-id"])
            .arg("71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521")
            .arg(&p)
            .arg("-o")
            .arg(&svg),
    );
    assert!(
        std::fs::read_to_string(&svg).unwrap().starts_with("<svg"),
        "-o .svg means SVG"
    );
    let Some(v) = crate::support::browser_check(
        "layout.mjs",
        &[svg.as_os_str(), "1400".as_ref(), shot.as_os_str()],
    ) else {
        return;
    };
    assert_eq!(
        v["clipped"],
        serde_json::json!([]),
        "text outside the drawing"
    );
    assert_eq!(v["errors"], serde_json::json!([]));
}

/// Every ladder drawing opens with its title: the Call-ID, the date and zone, the outcome and
/// final status (the PNG is drawn from the same layout, title band included); `--local-time`
/// moves the date into the zone of `TZ`.
#[test]
fn svg_ladders_carry_the_call_id_date_and_outcome_in_their_title() {
    let file = repo().join("samples/kamailio-sipp-outcomes.pcap");
    let dir = repo().join("target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    let title = |extra: &[&str], tz: &str| -> String {
        let svg = dir.join(format!("ladder-title{}.svg", extra.len()));
        crate::support::run_ok(
            Command::new(env!("CARGO_BIN_EXE_sipscope"))
                .env("TZ", tz)
                .args(extra)
                .args([
                    "ladder",
                    "--call-id",
                    "cancelled-udp-1-050517-17473@sipscope.test",
                ])
                .arg(&file)
                .arg("-o")
                .arg(&svg),
        );
        let text = std::fs::read_to_string(&svg).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("SVG is well-formed XML");
        let first = doc
            .descendants()
            .find(|n| n.has_tag_name("text"))
            .and_then(|n| n.text())
            .unwrap_or("")
            .trim()
            .to_string();
        first
    };
    assert_eq!(
        title(&[], "UTC"),
        "Call-ID: cancelled-udp-1-050517-17473@sipscope.test · 2026-11-22 UTC · cancelled · 487"
    );
    // 05:05 UTC on 22 November is 21 November in Los Angeles (UTC-8).
    let local = title(&["--local-time"], "America/Los_Angeles");
    assert!(
        local.contains("· 2026-11-21") && local.ends_with("· cancelled · 487"),
        "{local}"
    );
}

/// The report's network map reads roles from a shape-only ladder (no texts, addresses, SDP):
/// the columns and their roles are those of the full ladder, call by call and for all the calls
/// of a B2BUA-free proxy sample at once.
#[test]
fn shape_only_ladder_keeps_columns_and_roles() {
    let mut cfg = sipscope::pipeline::PipelineConfig::default();
    cfg.correlator.want_messages = true;
    let r = run_with(&[&repo().join("samples/kamailio-sipp-outcomes.pcap")], cfg);
    let shape = LadderOptions {
        skip_text: true,
        ..LadderOptions::default()
    };
    let roles = |l: &Ladder| -> Vec<_> {
        l.columns
            .iter()
            .map(|c| (c.endpoint.clone(), c.role))
            .collect()
    };
    let mut ids: Vec<&str> = r
        .messages
        .iter()
        .filter_map(|m| m.call_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() > 5);
    let mut proxies = 0;
    for id in ids {
        let rows: Vec<_> = r
            .messages
            .iter()
            .filter(|m| m.call_id.as_deref() == Some(id))
            .cloned()
            .collect();
        let (full, bare) = (
            Ladder::build(&rows, &LadderOptions::default()),
            Ladder::build(&rows, &shape),
        );
        assert_eq!(roles(&full), roles(&bare), "{id}");
        assert!(bare
            .rows
            .iter()
            .all(|r| r.sdp.is_none() && r.text.is_none()));
        proxies += full
            .columns
            .iter()
            .filter(|c| c.role == Some(render::Role::Proxy))
            .count();
    }
    assert!(
        proxies > 0,
        "the sample's kamailio is a proxy in some calls"
    );
    let all = Ladder::build(&r.messages, &LadderOptions::default());
    assert_eq!(roles(&all), roles(&Ladder::build(&r.messages, &shape)));
}
