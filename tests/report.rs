//! `sipscope report`: the page used in a real browser (Debian's chromium driven by
//! puppeteer-core), the data tables read back with polars against tshark's figures, and the
//! bounds that keep a huge capture's report small.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::{AnyValue, DataFrame, DataType, ParquetReader, SerReader, TimeUnit};

use crate::support::{capture, corpus, repo};

/// Runs `sipscope report` into `dir` (emptied first).
fn report(files: &[&Path], dir: &Path, extra: &[&str]) -> String {
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("report")
        .args(files)
        .arg("-o")
        .arg(dir)
        .arg("--no-progress")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn table(dir: &Path, name: &str) -> DataFrame {
    let f = std::fs::File::open(dir.join("data").join(format!("{name}.parquet")))
        .unwrap_or_else(|e| panic!("{name}.parquet: {e}"));
    ParquetReader::new(f).finish().unwrap()
}

fn strings(df: &DataFrame, col: &str) -> Vec<String> {
    let c = df.column(col).unwrap();
    (0..df.height())
        .map(|i| match c.get(i).unwrap() {
            AnyValue::String(s) => s.to_string(),
            AnyValue::StringOwned(s) => s.to_string(),
            AnyValue::Null => String::new(),
            v => v.to_string(),
        })
        .collect()
}

fn artefacts(name: &str) -> PathBuf {
    let d = repo().join("target/test-artefacts").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Rows of a truth TSV (without its header).
fn tsv_rows(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn tables_read_back_with_polars_hold_tsharks_calls_and_messages() {
    let Some(c) = corpus() else {
        eprintln!("SKIPPED: no shared corpus (set SIPSCOPE_CORPUS)");
        return;
    };
    for rel in [
        "goffinet_sip_captures/uac-uas-scenario-sipp.pcapng",
        "goffinet_sip_captures/Forensic_challenge_4.pcap",
        "goffinet_sip_captures/private-test-sip-2.pcapng",
    ] {
        let pcap = c.join("pcaps").join(rel);
        let truth = c.join("truth").join(rel);
        let t = |ext: &str| PathBuf::from(format!("{}.{ext}", truth.display()));
        let dir = std::env::temp_dir().join(format!(
            "sipscope-report-pq-{}-{}",
            std::process::id(),
            pcap.file_name().unwrap().to_string_lossy()
        ));
        report(&[&pcap], &dir, &[]);
        // The Call-IDs tshark saw, each in a calls row. A Call-ID can have more than one row: a
        // REGISTER refreshed on the same Call-ID is a new registration, and a BYE retransmitted
        // after its call was closed opens a record of its own (private-test-sip-2).
        let want: BTreeSet<String> = tsv_rows(&t("callids.tsv"))
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        let calls = table(&dir, "calls");
        let got: BTreeSet<String> = strings(&calls, "call_id").into_iter().collect();
        assert_eq!(got, want, "{rel}: Call-IDs");
        assert!(calls.height() >= want.len(), "{rel}: calls rows");
        if rel.contains("uac-uas") {
            assert_eq!(calls.height(), 771, "{rel}: one row per call");
        }
        // One messages row per SIP message tshark lists.
        let messages = table(&dir, "messages");
        let tshark = tsv_rows(&t("sip_messages.tsv")).len();
        assert_eq!(messages.height(), tshark, "{rel}: messages rows");
        // Typed columns: times are UTC nanosecond datetimes, counts unsigned, figures floats.
        for (df, col, want) in [
            (
                &calls,
                "start",
                DataType::Datetime(TimeUnit::Nanoseconds, Some(polars::prelude::TimeZone::UTC)),
            ),
            (&calls, "pdd", DataType::Float64),
            (&calls, "messages", DataType::UInt64),
            (&calls, "outcome", DataType::String),
            (&messages, "retransmission", DataType::Boolean),
            (&messages, "status", DataType::UInt64),
        ] {
            assert_eq!(df.column(col).unwrap().dtype(), &want, "{rel}: {col}");
        }
        for name in [
            "legs",
            "transactions",
            "registrations",
            "rtp_streams",
            "alerts",
        ] {
            let df = table(&dir, name);
            let csv =
                std::fs::read_to_string(dir.join("data").join(format!("{name}.csv"))).unwrap();
            // The CSV holds the same rows (a header, then one line per row; no field here
            // spans lines).
            assert_eq!(
                csv.lines().count(),
                df.height() + 1,
                "{rel}: {name}.csv rows"
            );
        }
        let rtp = table(&dir, "rtp_streams");
        if rel.contains("Forensic") {
            // tshark's rtp,streams lists two streams of the call (one each way).
            let streams = std::fs::read_to_string(t("rtp_streams.txt")).unwrap();
            let n = streams
                .lines()
                .filter(|l| l.contains("0x") && !l.contains("SSRC"))
                .count();
            assert_eq!(rtp.height(), n, "{rel}: rtp_streams rows\n{streams}");
            // lost counts duplicates apart: never negative, the same figure as `rtp` prints.
            assert_eq!(rtp.column("lost").unwrap().dtype(), &DataType::UInt64);
        }
        assert!(dir.join("data/stats/ratios.parquet").exists());
        assert!(dir.join("summary.md").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn report_opens_offline_in_chromium_filters_and_shows_a_ladder() {
    let dir = artefacts("report");
    let sample = repo().join("samples/kamailio-sipp-outcomes.pcap");
    let out = dir.join("kamailio");
    report(&[&sample], &out, &[]);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    crate::support::assert_self_contained(&page);
    // The sample's design (tests/sipp/run-scenarios.sh): 22 calls, 2 of them timeouts.
    let calls = table(&out, "calls");
    let outcomes = strings(&calls, "outcome");
    let timeouts = outcomes.iter().filter(|o| *o == "timeout").count();
    assert_eq!(timeouts, 2);
    let invites = strings(&calls, "kind")
        .iter()
        .filter(|k| *k == "invite")
        .count();
    assert_eq!(invites, 22);

    let index = out.join("index.html");
    let Some(v) = crate::support::browser_check(
        "report.mjs",
        &[index.as_os_str(), dir.as_os_str(), "timeout".as_ref()],
    ) else {
        return;
    };
    assert_eq!(v["errors"], serde_json::json!([]), "page errors or fetches");
    assert_eq!(v["all"], 22, "every call listed");
    // Signalling only: attempts, concurrent calls, status codes and PDD; no empty MOS, loss or
    // jitter box (issue 15).
    assert_eq!(v["charts"], 4, "four charts drawn");
    assert_eq!(
        v["filtered"], timeouts,
        "the outcome filter keeps the timeouts"
    );
    assert_eq!(v["filteredOutcomes"], serde_json::json!(["timeout"]));
    let first = v["searched"][0].as_str().unwrap();
    assert_eq!(
        v["searched"].as_array().unwrap().len(),
        1,
        "a Call-ID searched finds its call alone"
    );
    assert!(v["linked"].as_bool().unwrap(), "a timeout has a section");
    assert_eq!(
        v["sectionCallId"], first,
        "the link leads to the call's section"
    );
    assert!(
        v["ladderSvg"].as_f64().unwrap() > 100.0,
        "the ladder is drawn"
    );
    let panel = v["panel"].as_str().unwrap();
    assert!(
        panel.starts_with("INVITE sip:noresponse@"),
        "a click on the first arrow shows the INVITE: {panel:.120}"
    );
    assert_eq!(v["selected"], true);
    // Problem calls by design: busy, rejected, server failure, auth failed, no answer, timeout
    // and the black hole that never ended, once over UDP and once over TCP; answered,
    // redirected and cancelled calls are not problems.
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("22 (14 with problems)"),
        "{}",
        v["summary"]
    );
    for shot in [
        "report-top.png",
        "report-calls-filtered.png",
        "report-call.png",
    ] {
        assert!(
            std::fs::metadata(dir.join(shot)).unwrap().len() > 10_000,
            "{shot} written"
        );
    }
}

#[test]
fn bounds_cut_the_page_not_the_tables_and_say_so() {
    let dir = artefacts("report-bounds");
    let sample = repo().join("samples/kamailio-sipp-outcomes.pcap");
    report(
        &[&sample],
        &dir,
        &["--max-calls", "3", "--sample-good", "1", "--max-list", "5"],
    );
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(page.matches("<section class=\"call\"").count(), 4);
    let list = page
        .split("<script type=\"application/json\" id=\"calls-data\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(list).unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter().all(|r| r["score"].as_u64().unwrap() > 0),
        "problem calls take the list's places first"
    );
    assert!(
        page.contains("17 calls not in the page's list"),
        "the cut is said"
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("17 calls not in the page's list"),
        "summary.md says it too: {summary}"
    );
    // The tables still hold every call and message.
    assert_eq!(table(&dir, "calls").height(), 26);
    assert_eq!(table(&dir, "messages").height(), 241);
}

/// The sections of a report's page (without the rest of it).
fn page_sections(dir: &Path) -> String {
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let a = page.find("<section id=\"sections\">").unwrap();
    let b = page.find("<section id=\"data\">").unwrap();
    page[a..b].to_string()
}

/// The calls' captures beside a page: each file's name and bytes.
fn call_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir.join("calls")) else {
        return Vec::new();
    };
    let mut v: Vec<(String, Vec<u8>)> = rd
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sections_read_again_by_place_equal_sections_held() {
    // No memory for message texts: the pass keeps only where each message was, the second
    // reading takes the frames between those hosts alone (or, when that does not give the same
    // messages back, reads the files whole), and the captures are written meanwhile from the
    // places. Sections and captures must be those of a run that held every message: through a
    // proxy over UDP and TCP, in an IP-in-IP tunnel (the outer hosts are not the messages'),
    // in HEP (the same), and fragmented over IPv6.
    let mut files: Vec<PathBuf> = [
        "kamailio-sipp-outcomes.pcap",
        "sipp-faults.pcap",
        "refer-transfer.pcap",
    ]
    .iter()
    .map(|f| repo().join("samples").join(f))
    .collect();
    match corpus() {
        Some(c) => files.extend(
            [
                "irontec_sngrep/ipip.pcap",
                "irontec_sngrep/ipv6frag.pcap",
                "sipcapture_hep-wireshark/hep.pcap",
            ]
            .iter()
            .map(|f| c.join("pcaps").join(f)),
        ),
        None => eprintln!("SKIPPED the corpus captures: no shared corpus (set SIPSCOPE_CORPUS)"),
    }
    let dir = artefacts("report-by-place");
    for (i, f) in files.iter().enumerate() {
        let args = ["--sample-good", "5"];
        let held = dir.join(format!("{i}-held"));
        let placed = dir.join(format!("{i}-placed"));
        report(&[f], &held, &args);
        report(&[f], &placed, &["--sample-good", "5", "--hold-memory", "0"]);
        let s = page_sections(&held);
        assert!(
            s.contains("<section class=\"call\""),
            "{}: no section",
            f.display()
        );
        assert!(s.contains(" SIP/2.0"), "{}: no message text", f.display());
        assert!(
            s == page_sections(&placed),
            "{}: sections differ",
            f.display()
        );
        assert_eq!(call_files(&held), call_files(&placed), "{}", f.display());
    }
}

#[test]
fn sections_read_again_equal_sections_held() {
    // With no memory to hold messages, every section's messages come from a second reading of
    // the file: the sections must be the same as when they were held.
    let Some(pcap) = capture("goffinet_sip_captures/uac-uas-scenario-sipp.pcapng") else {
        eprintln!("SKIPPED: no shared corpus (set SIPSCOPE_CORPUS)");
        return;
    };
    let dir = artefacts("report-budget");
    let sections = |p: &Path| {
        let page = std::fs::read_to_string(p.join("index.html")).unwrap();
        let a = page.find("<section id=\"sections\">").unwrap();
        let b = page.find("<section id=\"data\">").unwrap();
        page[a..b].to_string()
    };
    // The capture is signalling only (sipp without media): its answered calls are not problem
    // calls (no-rtp is said once for the capture); two of its calls are sampled.
    let args = ["--max-calls", "2", "--sample-good", "2"];
    report(&[&pcap], &dir.join("held"), &args);
    let mut zero = args.to_vec();
    zero.extend(["--hold-memory", "0"]);
    report(&[&pcap], &dir.join("reread"), &zero);
    let held = sections(&dir.join("held"));
    assert_eq!(held.matches("<section class=\"call\"").count(), 2);
    assert!(!held.contains("(message text not kept)"));
    assert!(held == sections(&dir.join("reread")), "sections differ");
    // Standard input cannot be read twice: the sections are drawn without their messages, and
    // the page says so.
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "-", "-o"])
        .arg(dir.join("stdin"))
        .args([
            "--no-progress",
            "--hold-memory",
            "0",
            "--max-calls",
            "2",
            "--sample-good",
            "2",
        ])
        .stdin(std::fs::File::open(&pcap).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.join("stdin/index.html")).unwrap();
    assert!(
        page.contains("2 call sections without their messages"),
        "the cut is said"
    );
    // Also at the end of the run and in summary.md, with the flag that raises the bound.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: 2 call sections without their messages")
            && err.contains("--hold-memory"),
        "{err}"
    );
    let summary = std::fs::read_to_string(dir.join("stdin/summary.md")).unwrap();
    assert!(
        summary.contains("2 call sections without their messages"),
        "{summary}"
    );
}

#[test]
fn wire_text_cannot_script_the_page_or_break_the_summary() {
    use crate::support::build::udp;
    let dir = artefacts("report-hostile");
    let evil = "<script>alert(1)</script>";
    let invite = format!(
        "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1\r\n\
         From: \"{evil}\" <sip:{evil}@192.0.2.1>;tag=a1\r\nTo: <sip:bob|`x@192.0.2.2>\r\n\
         Call-ID: </script><script>alert(2)</script>\r\nCSeq: 1 INVITE\r\n\
         User-Agent: {evil}\r\nSubject: \x1b[31mred\r\nContent-Length: 0\r\n\r\n"
    );
    let busy = "SIP/2.0 486 <b>Busy</b>\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1\r\n\
                From: <sip:a@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>;tag=b1\r\n\
                Call-ID: </script><script>alert(2)</script>\r\nCSeq: 1 INVITE\r\n\
                Server: </script><img src=x onerror=alert(3)>\r\nContent-Length: 0\r\n\r\n";
    let pcap = dir.join("hostile.pcap");
    crate::threads::write_pcap(
        &pcap,
        &[
            (
                1_700_000_000_000_000_000,
                udp(
                    ([192, 0, 2, 1], 5060),
                    ([192, 0, 2, 2], 5060),
                    invite.as_bytes(),
                ),
            ),
            (
                1_700_000_000_100_000_000,
                udp(
                    ([192, 0, 2, 2], 5060),
                    ([192, 0, 2, 1], 5060),
                    busy.as_bytes(),
                ),
            ),
        ],
    );
    let out = dir.join("r");
    report(&[&pcap], &out, &[]);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    for bad in ["<script>alert", "<img src=x", "<b>Busy", "\x1b["] {
        assert!(!page.contains(bad), "page holds raw {bad:?}");
    }
    // The page's own scripts are the only ones: three data/code blocks and the ladder's data.
    assert_eq!(page.matches("<script").count(), 4, "script elements");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(!md.contains("<script>") && !md.contains("bob|`"), "{md}");
    let calls = table(&out, "calls");
    assert_eq!(
        strings(&calls, "call_id"),
        vec!["</script><script>alert(2)</script>".to_string()],
        "the tables keep the text as it was"
    );
}

#[test]
fn committed_example_reports_are_what_the_script_makes() {
    // scripts/example-reports.sh made reports/faults and reports/outcomes; the pages and
    // summaries of this build must be the same, or the script has to be run again.
    let dir = artefacts("report-examples");
    for (name, sample, title) in [
        (
            "faults",
            "samples/sipp-faults.pcap",
            "sipscope example · detector faults (samples/sipp-faults.pcap)",
        ),
        (
            "outcomes",
            "samples/kamailio-sipp-outcomes.pcap",
            "sipscope example · one call per outcome through kamailio (samples/kamailio-sipp-outcomes.pcap)",
        ),
    ] {
        let out = dir.join(name);
        // The script runs from the repo root with relative paths; so does this.
        let _ = std::fs::remove_dir_all(&out);
        let run = Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["report", sample, "-o"])
            .arg(&out)
            .args(["--title", title, "--no-progress"])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        for file in ["index.html", "summary.md", "data/calls.csv", "data/messages.csv"] {
            let committed = repo().join("reports").join(name).join(file);
            let made = out.join(file);
            assert!(
                std::fs::read(&committed).unwrap() == std::fs::read(&made).unwrap(),
                "reports/{name}/{file} is stale: run scripts/example-reports.sh"
            );
        }
    }
}

/// Issue 15: the report has no empty chart box (a signalling-only capture has no MOS or loss
/// chart at all), and axes that count (calls, responses, histogram bins) are labelled in whole
/// steps: no "0.2 calls".
#[test]
fn charts_are_never_empty_and_counts_are_whole() {
    for sample in ["kamailio-sipp-outcomes.pcap", "sipp-faults.pcap"] {
        let dir =
            std::env::temp_dir().join(format!("sipscope-charts-{}-{sample}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::support::sipscope_ok(
            &["report", "-o", dir.to_str().unwrap()],
            &crate::support::repo().join("samples").join(sample),
        );
        let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let mut charts = 0;
        for fig in page.split("<figure>").skip(1) {
            let fig = &fig[..fig.find("</figure>").unwrap_or(fig.len())];
            let texts: Vec<&str> = fig
                .split("<text")
                .skip(1)
                .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim()))
                .collect();
            if !fig.contains("<svg") || texts.len() < 2 {
                continue;
            }
            charts += 1;
            assert!(
                !texts.contains(&"no data"),
                "{sample}: an empty chart: {:?}",
                texts[0]
            );
            if ["count", "calls", "responses"].contains(&texts[1]) {
                let fractional: Vec<&&str> = texts
                    .iter()
                    .filter(|t| t.contains('.') && t.parse::<f64>().is_ok_and(|v| v.fract() != 0.0))
                    .collect();
                assert!(
                    fractional.is_empty(),
                    "{sample} {:?}: {fractional:?}",
                    texts[0]
                );
            }
        }
        assert!(charts >= 3, "{sample}: {charts} charts");
    }
}

#[test]
fn a_burst_of_identical_failures_is_one_incident() {
    // samples/sipp-faults.pcap: 25 INVITEs refused with 503 by the same server in one burst,
    // and three calls that each fail their own way. The page draws the burst once and names
    // the other 24 calls in that section; each of the 25 links there from the call list.
    let dir = artefacts("report-incidents");
    report(&[&repo().join("samples/sipp-faults.pcap")], &dir, &[]);
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let sections: Vec<&str> = page.split("<section class=\"call\"").skip(1).collect();
    let refused: Vec<&&str> = sections
        .iter()
        .filter(|s| s.contains("badge o-server-failure"))
        .collect();
    assert_eq!(refused.len(), 1, "one section for the 503 burst");
    assert!(
        refused[0].contains("24 more calls failed the same way"),
        "{:.600}",
        refused[0]
    );
    let named = refused[0].matches("@faults.test</code>").count();
    assert_eq!(
        named,
        1 + 20,
        "the drawn call and the first 20 others are named"
    );
    assert!(refused[0].contains("and 4 more (the call list"));
    let problems = sections
        .iter()
        .filter(|s| s.contains("Why it is here"))
        .count();
    assert_eq!(problems, 4, "the burst and the three single faults");
    let anchors = page
        .split("<script type=\"application/json\" id=\"anchors-data\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    let anchors: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(anchors).unwrap();
    let to_burst = anchors
        .iter()
        .filter(|(k, _)| k.starts_with("refused-"))
        .map(|(_, v)| v.as_str().unwrap())
        .collect::<BTreeSet<_>>();
    assert_eq!(
        to_burst.len(),
        1,
        "every named call of the burst links to its section"
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let burst = summary
        .lines()
        .find(|l| l.contains("| server-failure | 503 |"))
        .unwrap();
    assert!(
        burst.contains("| 25 |"),
        "summary.md counts the burst once: {burst}"
    );
    // The tables keep every call.
    assert_eq!(
        strings(&table(&dir, "calls"), "final_status")
            .iter()
            .filter(|s| *s == "503")
            .count(),
        25
    );
}

#[test]
fn the_page_fits_1400_pixels_without_scrolling_sideways() {
    // Measured by chromium at a 1400 px window: the page is no wider than the window, no text of
    // a chart or ladder lies outside its drawing, and the only boxes that scroll on their own
    // are ladders with more columns than fit (the call list wraps its Call-IDs and names).
    for sample in ["kamailio-sipp-outcomes.pcap", "sipp-faults.pcap"] {
        let dir = artefacts(&format!("report-1400-{sample}"));
        report(&[&repo().join("samples").join(sample)], &dir, &[]);
        let shot = dir.join("top-1400.png");
        let Some(v) = crate::support::browser_check(
            "layout.mjs",
            &[
                dir.join("index.html").as_os_str(),
                "1400".as_ref(),
                shot.as_os_str(),
            ],
        ) else {
            return;
        };
        assert_eq!(v["errors"], serde_json::json!([]), "{sample}");
        assert_eq!(
            v["scrollWidth"], v["viewport"],
            "{sample}: the page scrolls sideways"
        );
        assert_eq!(v["wide"], serde_json::json!([]), "{sample}");
        assert_eq!(v["clipped"], serde_json::json!([]), "{sample}");
        for s in v["scrollers"].as_array().unwrap() {
            let s = s.as_str().unwrap();
            assert!(
                s.starts_with("div.ladder "),
                "{sample}: {s} scrolls sideways"
            );
        }
    }
}

#[test]
fn network_map_roles_are_the_ladders() {
    // The network map reads each call's roles from a note of every message (no ladder is
    // built): they must be the roles the call's ladder draws, address by address. Through
    // kamailio (proxy, registrar, redirect), REFER, scans and faults, over UDP and TCP.
    use sipscope::render::{Endpoint, Ladder, LadderOptions};
    use sipscope::report::netmap::{NetMap, Steps};
    let mut files: Vec<PathBuf> = [
        "kamailio-sipp-outcomes.pcap",
        "sipp-faults.pcap",
        "refer-transfer.pcap",
        "sip-tcp.pcap",
        "kamailio-healthy-busy.pcap.gz",
    ]
    .iter()
    .map(|f| repo().join("samples").join(f))
    .collect();
    if let Some(c) = corpus() {
        files.push(c.join("pcaps/goffinet_sip_captures/Forensic_challenge_4.pcap"));
    }
    let mut roles_seen = BTreeSet::new();
    for f in &files {
        let run = crate::support::run(f);
        let mut by_call: std::collections::HashMap<
            &str,
            Vec<&sipscope::correlate::record::MsgRow>,
        > = std::collections::HashMap::new();
        for m in &run.messages {
            if let Some(c) = m.call_id.as_deref() {
                by_call.entry(c).or_default().push(m);
            }
        }
        for c in &run.calls {
            let msgs: Vec<_> = by_call
                .get(c.call_id.as_str())
                .map(|v| v.iter().map(|m| (*m).clone()).collect())
                .unwrap_or_default();
            let ladder = Ladder::build(&msgs, &LadderOptions::default());
            let mut want = BTreeSet::new();
            for col in &ladder.columns {
                if let (Endpoint::Addr(a), Some(r)) = (&col.endpoint, col.role) {
                    want.insert((*a, format!("{} ×1", r.as_str())));
                    roles_seen.insert(r.as_str());
                }
            }
            let mut map = NetMap::default();
            let mut steps = Steps::default();
            for m in &msgs {
                map.message(m);
                map.note(&mut steps, m);
            }
            map.call(c, steps);
            let got: BTreeSet<_> = map
                .hosts
                .iter()
                .filter(|(_, h)| h.main_role().is_some())
                .map(|(a, h)| (*a, h.roles()))
                .collect();
            assert_eq!(got, want, "{}: call {}", f.display(), c.call_id);
        }
    }
    for r in ["proxy", "registrar", "redirect server", "UA"] {
        assert!(roles_seen.contains(r), "no {r} among {roles_seen:?}");
    }
}

/// A pcap (Ethernet, microseconds) of one UDP call between two hosts with `infos` INFO
/// transactions in its middle: INVITE, 200, ACK, then INFO and 200 each, then BYE and 200.
fn long_call_pcap(infos: u32) -> Vec<u8> {
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut msgs: Vec<(bool, String)> = Vec::new();
    // The Via is the request's sender's, on the request and on its answer.
    let head = |first: &str, from_a: bool, n: u32, method: &str| {
        let via = if from_a { "10.0.0.1" } else { "10.0.0.2" };
        format!(
            "{first}\r\nVia: SIP/2.0/UDP {via}:5060;branch=z9hG4bK-{n}-{method}\r\nFrom: <sip:a@10.0.0.1>;tag=fa\r\nTo: <sip:b@10.0.0.2>;tag=tb\r\nCall-ID: long-call@test\r\nCSeq: {n} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut req = |n: u32, method: &str, from_a: bool, answered: bool| {
        let line = format!("{method} sip:b@10.0.0.2 SIP/2.0");
        msgs.push((from_a, head(&line, from_a, n, method)));
        if answered {
            msgs.push((!from_a, head("SIP/2.0 200 OK", from_a, n, method)));
        }
    };
    req(1, "INVITE", true, true);
    req(1, "ACK", true, false);
    for n in 0..infos {
        req(2 + n, "INFO", true, true);
    }
    req(2 + infos, "BYE", true, true);
    let mut f = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    for v in [2u16, 4] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, 0, 65535, 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for (i, (from_a, text)) in msgs.iter().enumerate() {
        let (src, dst) = if *from_a { (a, b) } else { (b, a) };
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .udp(5060, 5060)
            .write(&mut frame, text.as_bytes())
            .unwrap();
        for v in [
            1_700_000_000u32,
            i as u32 * 1000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&frame);
    }
    f
}

#[test]
fn messages_past_a_sections_limit_are_counted_when_read_again() {
    // 457 messages in one call: a section shows 400, and the page says how many it left out,
    // whether the messages were held or read again by place.
    let dir = artefacts("report-long-call");
    let pcap = dir.join("long.pcap");
    std::fs::write(&pcap, long_call_pcap(226)).unwrap();
    for (name, extra) in [("held", vec![]), ("placed", vec!["--hold-memory", "0"])] {
        let out = dir.join(name);
        let mut args = vec!["--sample-good", "1"];
        args.extend(extra);
        report(&[&pcap], &out, &args);
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(
            page.contains("57 messages beyond a section's limit"),
            "{name}: the cut is not said"
        );
        assert_eq!(table(&out, "messages").height(), 457, "{name}");
    }
}

/// Calls over one TCP connection whose messages are cut across segments the way a busy stack
/// sends them: some whole, some split in two with other traffic between the halves (a few frames
/// or many), some segments carrying one message's tail and the next one's head. Returns the
/// capture and the number of SIP messages in it.
fn split_tcp_pcap(calls: u32) -> (Vec<u8>, usize) {
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (pa, pb) = (40_000u16, 5060u16);
    let mut msgs: Vec<(bool, String)> = Vec::new();
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    for k in 0..calls {
        let cid = format!("split-{k}@test");
        let msg = |first: &str, via_a: bool, cseq: &str, to_tag: bool, body: &str| {
            let via = if via_a {
                "10.0.0.1:40000"
            } else {
                "10.0.0.2:5060"
            };
            let tag = if to_tag { ";tag=tb" } else { "" };
            let ctype = if body.is_empty() {
                ""
            } else {
                "Content-Type: application/sdp\r\n"
            };
            format!(
                "{first}\r\nVia: SIP/2.0/TCP {via};branch=z9hG4bK-{k}-{}\r\nFrom: <sip:a@10.0.0.1>;tag=fa{k}\r\nTo: <sip:b{k}@10.0.0.2>{tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq}\r\nContact: <sip:a@10.0.0.1:40000;transport=tcp>\r\nUser-Agent: split-test\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
                cseq.replace(' ', "-"),
                body.len()
            )
        };
        let ruri = format!("sip:b{k}@10.0.0.2 SIP/2.0");
        msgs.push((
            true,
            msg(&format!("INVITE {ruri}"), true, "1 INVITE", false, body),
        ));
        if k % 3 == 0 {
            msgs.push((
                false,
                msg("SIP/2.0 486 Busy Here", true, "1 INVITE", true, ""),
            ));
            msgs.push((true, msg(&format!("ACK {ruri}"), true, "1 ACK", true, "")));
        } else {
            msgs.push((
                false,
                msg("SIP/2.0 180 Ringing", true, "1 INVITE", true, ""),
            ));
            msgs.push((false, msg("SIP/2.0 200 OK", true, "1 INVITE", true, body)));
            msgs.push((true, msg(&format!("ACK {ruri}"), true, "1 ACK", true, "")));
            msgs.push((true, msg(&format!("BYE {ruri}"), true, "2 BYE", true, "")));
            msgs.push((false, msg("SIP/2.0 200 OK", true, "2 BYE", true, "")));
        }
    }
    let count = msgs.len();
    // The frames, in order: (from a?, TCP payload) or None for a frame of other traffic.
    let mut frames: Vec<Option<(bool, Vec<u8>)>> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut n = 0usize;
    for (i, (from_a, text)) in msgs.iter().enumerate() {
        pending.extend_from_slice(text.as_bytes());
        let next_same = msgs.get(i + 1).is_some_and(|(f, _)| f == from_a);
        n += 1;
        match n % 4 {
            // Whole.
            0 => frames.push(Some((*from_a, std::mem::take(&mut pending)))),
            // In two, with 2 or 40 frames of other traffic between the halves.
            1 | 2 => {
                let cut = pending.len() / 2;
                let rest = pending.split_off(cut);
                frames.push(Some((*from_a, std::mem::take(&mut pending))));
                let between = if n % 4 == 1 { 2 } else { 40 };
                frames.extend((0..between).map(|_| None));
                frames.push(Some((*from_a, rest)));
            }
            // Its last part goes with the head of the next message the same way.
            _ => {
                let cut = pending.len() * 2 / 3;
                let rest = pending.split_off(cut);
                frames.push(Some((*from_a, std::mem::take(&mut pending))));
                frames.push(None);
                if next_same {
                    pending = rest;
                } else {
                    frames.push(Some((*from_a, rest)));
                }
            }
        }
    }
    if !pending.is_empty() {
        frames.push(Some((msgs[count - 1].0, pending)));
    }
    let mut f = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    for v in [2u16, 4] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, 0, 65535, 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    // Each direction's next sequence number: [from a, from b].
    let mut seq = [1000u32, 9000u32];
    for (i, fr) in frames.iter().enumerate() {
        let mut frame = Vec::new();
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        match fr {
            Some((from_a, data)) => {
                let (me, peer) = if *from_a { (0, 1) } else { (1, 0) };
                let ((src, sp), (dst, dp)) = if *from_a {
                    ((a, pa), (b, pb))
                } else {
                    ((b, pb), (a, pa))
                };
                builder
                    .ipv4(src, dst, 64)
                    .tcp(sp, dp, seq[me], 65535)
                    .psh()
                    .ack(seq[peer])
                    .write(&mut frame, data)
                    .unwrap();
                seq[me] = seq[me].wrapping_add(data.len() as u32);
            }
            None => builder
                .ipv4([10, 0, 1, 1], [10, 0, 1, 2], 64)
                .udp(7000, 7001)
                .write(&mut frame, b"other traffic")
                .unwrap(),
        }
        for v in [
            1_700_000_000u32 + i as u32 / 50,
            (i as u32 % 50) * 20_000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&frame);
    }
    (f, count)
}

#[test]
fn sections_read_again_by_frame_equal_sections_held_when_tcp_splits_messages() {
    // The second reading decodes only the frames the pass located (and a few before each): a
    // message split across segments far apart, or sharing a segment with the next one's head, is
    // not given back as located from those alone and its section is read again more widely. The
    // sections, the captures and the messages table must be those of a run that held every
    // message.
    let dir = artefacts("report-split-tcp");
    let pcap = dir.join("split.pcap");
    let (bytes, count) = split_tcp_pcap(12);
    std::fs::write(&pcap, bytes).unwrap();
    let held = dir.join("held");
    let placed = dir.join("placed");
    report(&[&pcap], &held, &["--sample-good", "20"]);
    report(
        &[&pcap],
        &placed,
        &["--sample-good", "20", "--hold-memory", "0"],
    );
    assert_eq!(table(&held, "messages").height(), count);
    let s = page_sections(&held);
    // One incident for the four busy calls, and the eight good ones.
    assert_eq!(s.matches("<section class=\"call\"").count(), 9, "{s}");
    assert!(s == page_sections(&placed), "sections differ");
    let files = call_files(&held);
    assert!(!files.is_empty());
    assert_eq!(files, call_files(&placed));
}
