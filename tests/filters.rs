//! One filter, everywhere: every command honours the common filters the same way (the session
//! decides once per event), a filter that matches nothing yields nothing, a named call keeps its
//! own streams and alerts, and the detectors still see the unfiltered traffic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::repo;

fn sample(name: &str) -> PathBuf {
    repo().join("samples").join(name)
}

fn run(args: &[&str], file: &Path) -> (String, String) {
    crate::support::sipscope_ok(args, file)
}

/// `sipscope ARGS FILE` that must find nothing: exit 1 (issue 15), and its stderr.
fn run_nothing(args: &[&str], file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(args)
        .arg(file)
        .arg("--no-progress")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    err
}

/// The JSON objects a command printed, one a line.
fn json(args: &[&str], file: &Path) -> Vec<serde_json::Value> {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    run(&a, file)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

const NOTHING: &[&[&str]] = &[
    &["--call-id", "NOSUCH"],
    &["--from", "^nobody$"],
    &["--to", "^nobody$"],
    &["--addr", "192.0.2.99"],
    &["--since", "2030-01-01T00:00:00"],
    &["--until", "2000-01-01T00:00:00"],
    &["--method", "PUBLISH"],
];

#[test]
fn a_filter_that_matches_nothing_yields_nothing_in_every_command() {
    for file in [
        "sipp-faults.pcap",
        "sip_rtp.pcap",
        "kamailio-sipp-outcomes.pcap",
    ] {
        let f = sample(file);
        for filter in NOTHING {
            let with = |cmd: &[&'static str]| -> Vec<&'static str> {
                let mut v = cmd.to_vec();
                v.extend_from_slice(filter);
                v
            };
            for cmd in [
                &["messages"][..],
                &["calls"],
                &["calls", "--all"],
                &["rtp"],
                &["rtp", "--rtp-heuristic"],
                &["alerts"],
                &["registrations"],
            ] {
                let got = json(&with(cmd), &f);
                assert!(
                    got.is_empty(),
                    "{} {filter:?} on {file}: {got:?}",
                    cmd.join(" ")
                );
            }
            let err = run_nothing(
                &with(&["ladder", "--all", "-o", "/nonexistent-dir-never"]),
                &f,
            );
            assert!(
                err.contains("no call"),
                "ladder {filter:?} on {file}: {err}"
            );
            let (out, _) = run(&with(&["stats", "--format", "json"]), &f);
            assert!(
                !out.lines().any(|l| l.contains("\"table\":\"outcomes\"")
                    || l.contains("\"table\":\"messages\"")),
                "stats {filter:?} on {file}: {out}"
            );
        }
    }
}

#[test]
fn outcome_filters_calls_and_what_belongs_to_them() {
    let f = sample("sipp-faults.pcap");
    for c in json(&["calls", "--outcome", "answered"], &f) {
        assert_eq!(field(&c, "outcome"), "answered", "{c}");
    }
    let answered: BTreeSet<String> = json(&["calls", "--outcome", "answered"], &f)
        .iter()
        .map(|c| field(c, "call_id"))
        .collect();
    assert!(answered.len() >= 3, "{answered:?}");
    for a in json(&["alerts", "--outcome", "answered"], &f) {
        assert!(answered.contains(&field(&a, "call_id")), "{a}");
    }
    // Messages are printed as they come, before their call has an outcome: refused, said.
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["messages", "--outcome", "busy"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--outcome selects calls"));
}

#[test]
fn a_named_call_keeps_its_own_streams_and_alerts_and_nothing_else() {
    let f = sample("sipp-faults.pcap");
    let all_alerts = json(&["alerts"], &f);
    let all_streams = json(&["rtp", "--rtp-heuristic"], &f);
    let calls: BTreeSet<String> = json(&["calls", "--all"], &f)
        .iter()
        .map(|c| field(c, "call_id"))
        .collect();
    assert!(calls.len() > 20);
    for id in &calls {
        let mine = |v: &[serde_json::Value]| -> Vec<String> {
            v.iter()
                .filter(|x| field(x, "call_id") == *id)
                .map(|x| x.to_string())
                .collect()
        };
        let alerts = json(&["alerts", "--call-id", id], &f);
        assert_eq!(
            alerts.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            mine(&all_alerts),
            "alerts of {id}"
        );
        let streams = json(&["rtp", "--rtp-heuristic", "--call-id", id], &f);
        assert_eq!(
            streams.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            mine(&all_streams),
            "streams of {id}"
        );
    }
    // The case: the clean call has no alert of its own, so none is listed.
    assert!(json(&["alerts", "--call-id", "clean-1-1543@faults.test"], &f).is_empty());
    let err = run_nothing(&["show", "NOSUCH"], &f);
    assert!(err.contains("no message with Call-ID"), "{err}");
}

#[test]
fn rtp_honours_every_common_filter() {
    let f = sample("sip_rtp.pcap");
    assert_eq!(json(&["rtp"], &f).len(), 1);
    assert_eq!(json(&["rtp", "--call-id", "1-7879@127.0.0.1"], &f).len(), 1);
    assert_eq!(json(&["rtp", "--from", "^sipp$"], &f).len(), 1);
    assert_eq!(json(&["rtp", "--addr", "127.0.0.1"], &f).len(), 1);
    assert_eq!(
        json(&["rtp", "--since", "2014-06-29T20:47:00"], &f).len(),
        1
    );
    assert!(json(&["rtp", "--since", "2014-06-29T20:48:00"], &f).is_empty());
}

#[test]
fn detectors_see_unfiltered_traffic_the_filter_only_chooses_what_is_said() {
    // A filter must not invent an alert by hiding the context a detector needs (the
    // successes beside the failures): every filtered alert is one of the unfiltered ones.
    for (file, filters) in [
        (
            "kamailio-sipp-outcomes.pcap",
            vec![
                vec!["--from", "alice"],
                vec!["--to", "busy"],
                vec!["--method", "REGISTER"],
            ],
        ),
        (
            "sipp-faults.pcap",
            vec![
                vec!["--from", "sipp"],
                vec!["--addr", "127.0.0.15"],
                vec!["--until", "2026-11-22T11:12:05"],
            ],
        ),
    ] {
        let f = sample(file);
        let all: BTreeSet<String> = json(&["alerts"], &f)
            .iter()
            .map(|a| a.to_string())
            .collect();
        for filter in filters {
            let mut args = vec!["alerts"];
            args.extend(filter.iter());
            for a in json(&args, &f) {
                assert!(
                    all.contains(&a.to_string()),
                    "{file} {filter:?} invented {a}"
                );
            }
        }
    }
}

#[test]
fn the_monitor_summary_counts_only_what_the_filter_selects() {
    let f = sample("sipp-faults.pcap");
    let dir = std::env::temp_dir().join(format!("sipscope-filters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let summary = |filter: &[&str]| -> (u64, u64, u64) {
        let path = dir.join("summary.ndjson");
        let mut args = vec!["monitor", "--interval", "1h", "--summary-json"];
        let p = path.to_string_lossy().to_string();
        args.push(&p);
        args.extend(filter);
        run(&args, &f);
        let mut t = (0, 0, 0);
        for l in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            t.0 += v["calls"].as_u64().unwrap();
            t.1 += v["messages"].as_u64().unwrap();
            t.2 += v["alerts"].as_u64().unwrap();
        }
        t
    };
    let all = summary(&[]);
    assert!(all.0 > 20 && all.1 > 50 && all.2 > 3, "{all:?}");
    assert_eq!(summary(&["--call-id", "NOSUCH"]), (0, 0, 0));
    let one = summary(&["--call-id", "oneway-1-1543@faults.test"]);
    assert_eq!(one.0, 1, "{one:?}");
    assert!(one.1 >= 5 && one.1 < all.1 && one.2 >= 1, "{one:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
