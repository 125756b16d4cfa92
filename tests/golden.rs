//! Golden snapshots of what the CLI prints today: `calls`, `stats`, `alerts` and the report's
//! summary.md on the samples, `calls` and `alerts` on two captures of the shared corpus. They pin
//! the output down so that a refactor can show it changed nothing but what it meant to change.
//! On a mismatch insta leaves the new output in a `.snap.new` beside the snapshot;
//! `INSTA_UPDATE=always` rewrites the snapshots (then read the diff).

use std::path::{Path, PathBuf};

use crate::support::{corpus, repo};

const KAMAILIO: &str = "kamailio-sipp-outcomes.pcap";
const FAULTS: &str = "sipp-faults.pcap";
const SIP_RTP: &str = "sip_rtp.pcap";

const CALLS: &[&str] = &["calls", "--format", "csv"];
const ALERTS: &[&str] = &["alerts", "--format", "csv"];

/// What `sipscope ARGS FILE --no-progress` printed on stdout (it must exit 0).
fn sipscope(args: &[&str], file: &Path) -> String {
    crate::support::sipscope_ok(args, file).0
}

/// Snapshot `name` of `text`, described by what made it (instead of the expression's source).
fn snapshot(name: &str, what: String, text: String) {
    insta::with_settings!({ description => what, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Snapshot `name` of what `sipscope ARGS FILE` prints.
fn golden(name: &str, args: &[&str], file: &Path) {
    let what = format!(
        "sipscope {} {} --no-progress",
        args.join(" "),
        file.file_name().unwrap().to_string_lossy()
    );
    snapshot(name, what, sipscope(args, file));
}

fn sample(name: &str) -> PathBuf {
    repo().join("samples").join(name)
}

/// A capture of the shared corpus: `None` (the test is skipped) only when no corpus is
/// configured; a configured corpus without the file fails the test.
fn corpus_capture(rel: &str) -> Option<PathBuf> {
    let Some(c) = corpus() else {
        eprintln!("SKIPPED: no shared corpus (set SIPSCOPE_CORPUS)");
        return None;
    };
    let p = c.join("pcaps").join(rel);
    assert!(p.is_file(), "{} is not in the corpus", p.display());
    Some(p)
}

/// `report -o DIR FILE`, then DIR/summary.md, made the same on every machine. Running it from
/// two working directories, into two output directories, with `--threads 1` and the default,
/// under another TZ and LANG, changes nothing: the capture is named by its file name (never a
/// path on the engineer's disk, issue 15), and the summary names no output directory (checked
/// below), version or wall-clock time.
fn report_summary(file: &Path) -> String {
    let dir = std::env::temp_dir().join(format!(
        "sipscope-golden-{}-{}",
        std::process::id(),
        file.file_name().unwrap().to_string_lossy()
    ));
    let dir_s = dir.to_str().expect("UTF-8 temp dir");
    sipscope(&["report", "-o", dir_s], file);
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(!md.contains(dir_s), "summary.md names its directory");
    let root = repo().display().to_string();
    assert!(!md.contains(&root), "summary.md names a local path");
    md
}

#[test]
fn calls_kamailio_outcomes() {
    golden("calls_kamailio_outcomes", CALLS, &sample(KAMAILIO));
}

#[test]
fn calls_sipp_faults() {
    golden("calls_sipp_faults", CALLS, &sample(FAULTS));
}

#[test]
fn calls_sip_rtp() {
    golden("calls_sip_rtp", CALLS, &sample(SIP_RTP));
}

/// `--all` adds the Call-IDs without an INVITE: here 12 OPTIONS scans and 6 REGISTERs.
#[test]
fn calls_all_sipp_faults() {
    golden(
        "calls_all_sipp_faults",
        &["calls", "--all", "--format", "csv"],
        &sample(FAULTS),
    );
}

/// `stats` in its table format: on a terminal it cuts the definition, reason and note columns to
/// the terminal's width; on a pipe, as here, never (same output as on a 250-column terminal).
#[test]
fn stats_kamailio_outcomes() {
    golden("stats_kamailio_outcomes", &["stats"], &sample(KAMAILIO));
}

#[test]
fn stats_sipp_faults() {
    golden("stats_sipp_faults", &["stats"], &sample(FAULTS));
}

#[test]
fn stats_sip_rtp() {
    golden("stats_sip_rtp", &["stats"], &sample(SIP_RTP));
}

#[test]
fn alerts_kamailio_outcomes() {
    golden("alerts_kamailio_outcomes", ALERTS, &sample(KAMAILIO));
}

#[test]
fn alerts_sipp_faults() {
    golden("alerts_sipp_faults", ALERTS, &sample(FAULTS));
}

#[test]
fn alerts_sip_rtp() {
    golden("alerts_sip_rtp", ALERTS, &sample(SIP_RTP));
}

/// Snapshot `name` of the report's summary.md on the sample `file`.
fn report_golden(name: &str, file: &str) {
    let what = format!("sipscope report -o DIR {file} --no-progress; DIR/summary.md");
    snapshot(name, what, report_summary(&sample(file)));
}

#[test]
fn report_summary_kamailio_outcomes() {
    report_golden("report_summary_kamailio_outcomes", KAMAILIO);
}

#[test]
fn report_summary_sipp_faults() {
    report_golden("report_summary_sipp_faults", FAULTS);
}

/// Asterisk between two phones: the two legs of one conversation under two Call-IDs (a B2BUA,
/// not linked by any header), a digest challenge, re-INVITEs moving the media, and RTP.
const VOIP1B: &str = "goffinet_sip_captures/voip1b.pcapng";
/// A SIPp load run: 771 dialogs, a few without ACK or BYE at the end of the capture.
const UAC_UAS: &str = "goffinet_sip_captures/uac-uas-scenario-sipp.pcapng";

#[test]
fn corpus_calls_voip1b() {
    if let Some(p) = corpus_capture(VOIP1B) {
        golden("corpus_calls_voip1b", CALLS, &p);
    }
}

#[test]
fn corpus_alerts_voip1b() {
    if let Some(p) = corpus_capture(VOIP1B) {
        golden("corpus_alerts_voip1b", ALERTS, &p);
    }
}

#[test]
fn corpus_calls_uac_uas_sipp() {
    if let Some(p) = corpus_capture(UAC_UAS) {
        golden("corpus_calls_uac_uas_sipp", CALLS, &p);
    }
}

#[test]
fn corpus_alerts_uac_uas_sipp() {
    if let Some(p) = corpus_capture(UAC_UAS) {
        golden("corpus_alerts_uac_uas_sipp", ALERTS, &p);
    }
}
