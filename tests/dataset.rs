//! Datasets (issue 16): `tables --dataset` and `report --dataset` append the report's tables to a
//! Hive-partitioned Parquet dataset. DuckDB (Python's `duckdb`, installed by .ci/run) reads a
//! dataset of two captures and finds each capture's calls and messages as sipscope's own `calls`
//! and `messages` count them (and, for messages, as tshark does); the README's three queries give
//! the answers sipscope's own output gives; appending twice doubles the rows and replaces no
//! part; a capture over midnight writes into two dates; another schema is refused.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::{ParquetReader, SerReader};
use serde_json::Value;

use crate::support::{capture, repo, run_ok, sipscope_ok};

const AAA: &str = "irontec_sngrep/aaa.pcap";
const SIPP: &str = "aboutsip_pkts/sipp.pcap";

/// A fresh, empty temporary directory for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sipscope-dataset-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `sipscope ARGS… --no-progress`, which must succeed; its standard output.
fn sipscope<S: AsRef<OsStr>>(args: &[S]) -> String {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(args)
            .arg("--no-progress"),
    )
    .0
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Whether Python's duckdb can be used; outside CI its absence skips (said), under CI it fails.
fn duckdb_present() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs Python's duckdb (.ci/run): `python3 -c 'import duckdb'` failed"
        );
        eprintln!("SKIPPED: Python's duckdb is not installed (pip install duckdb)");
    }
    ok
}

/// The rows of a DuckDB query run in `cwd`, each a list of JSON values (dates and times as text).
fn duckdb(cwd: &Path, sql: &str) -> Vec<Vec<Value>> {
    const PY: &str = "import duckdb, json, sys\n\
        rows = duckdb.sql(sys.argv[1]).fetchall()\n\
        print(json.dumps([list(r) for r in rows], default=str))";
    let out = run_ok(
        Command::new("python3")
            .args(["-c", PY, sql])
            .current_dir(cwd),
    )
    .0;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{sql}: {e}: {out}"))
}

/// The ```sql blocks of the README's dataset section, in order.
fn readme_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("### `sipscope tables` and datasets")
        .expect("the README's dataset section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |i| i + 4)];
    section
        .split("```sql\n")
        .skip(1)
        .map(|b| b[..b.find("```").unwrap()].to_string())
        .collect()
}

/// Every part of `table` in the dataset: (date, path).
fn parts(ds: &Path, table: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dates) = std::fs::read_dir(ds.join(format!("table={table}"))) else {
        return out;
    };
    for d in dates.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let date = name
            .strip_prefix("date=")
            .expect("date= partition")
            .to_string();
        for p in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push((date.clone(), p.path()));
        }
    }
    out.sort();
    out
}

/// Rows of `table` per (date, capture), read with polars.
fn rows_by_date(ds: &Path, table: &str) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (date, p) in parts(ds, table) {
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        for c in df.column("capture").unwrap().str().unwrap().iter() {
            *out.entry((date.clone(), c.unwrap().to_string()))
                .or_default() += 1;
        }
    }
    out
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn truth_messages(rel: &str) -> u64 {
    let local = repo()
        .join("tests/data")
        .join(format!("{rel}.summary.json"));
    let text = std::fs::read_to_string(local).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["sip_messages"].as_u64().unwrap()
}

#[test]
fn duckdb_counts_each_captures_calls_and_messages_as_sipscope_and_tshark_do() {
    let (Some(aaa), Some(sipp)) = (capture(AAA), capture(SIPP)) else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    if !duckdb_present() {
        return;
    }
    let dir = tmp("duckdb");
    let ds = dir.join("ds");
    // One capture through the report, one through `tables`, from two sensors.
    let rep = dir.join("report");
    let printed = sipscope(&[
        OsStr::new("report"),
        aaa.as_os_str(),
        OsStr::new("-o"),
        rep.as_os_str(),
        OsStr::new("--dataset"),
        ds.as_os_str(),
        OsStr::new("--sensor"),
        OsStr::new("sensor-a"),
    ]);
    let printed = printed
        + &sipscope(&[
            OsStr::new("tables"),
            sipp.as_os_str(),
            OsStr::new("--dataset"),
            ds.as_os_str(),
            OsStr::new("--sensor"),
            OsStr::new("sensor-b"),
        ]);
    // Every part the runs name exists in the dataset, and nothing else is there.
    let listed: Vec<PathBuf> = printed
        .lines()
        .filter(|l| l.ends_with(".parquet") && l.contains("table="))
        .map(PathBuf::from)
        .collect();
    let mut on_disk: Vec<PathBuf> = files(&ds).into_keys().collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    on_disk.sort();
    assert_eq!(listed_sorted, on_disk);

    for (rel, path, sensor) in [(AAA, &aaa, "sensor-a"), (SIPP, &sipp, "sensor-b")] {
        let name = path.file_name().unwrap().to_str().unwrap();
        let calls = json_lines(&sipscope_ok(&["calls", "--all", "--format", "json"], path).0);
        let messages = json_lines(&sipscope_ok(&["messages", "--format", "json"], path).0);
        assert!(!calls.is_empty() && !messages.is_empty(), "{rel}");
        assert_eq!(messages.len() as u64, truth_messages(rel), "{rel}: tshark");
        for (table, want) in [("calls", calls.len()), ("messages", messages.len())] {
            let got = duckdb(
                &dir,
                &format!(
                    "SELECT count(*), min(sensor), max(sensor) FROM read_parquet('ds/table={table}/*/*.parquet', hive_partitioning = true) WHERE capture = '{name}'"
                ),
            );
            assert_eq!(
                got,
                vec![vec![
                    Value::from(want),
                    Value::from(sensor),
                    Value::from(sensor)
                ]],
                "{rel}: {table}"
            );
        }
    }

    // The README's queries, exactly as printed there, against what sipscope says.
    let q = readme_queries();
    assert_eq!(q.len(), 3, "three example queries");
    let mut calls = Vec::new();
    let mut messages = Vec::new();
    for (p, sensor) in [(&aaa, "sensor-a"), (&sipp, "sensor-b")] {
        for mut c in json_lines(&sipscope_ok(&["calls", "--all", "--format", "json"], p).0) {
            c["sensor"] = sensor.into();
            calls.push(c);
        }
        messages.extend(json_lines(
            &sipscope_ok(&["messages", "--format", "json"], p).0,
        ));
    }
    // 1. Calls per day and outcome.
    let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
    for c in calls.iter().filter(|c| c["kind"] == "invite") {
        let day = c["start"].as_str().unwrap()[..10].to_string();
        *want
            .entry((day, c["outcome"].as_str().unwrap().to_string()))
            .or_default() += 1;
    }
    let got: BTreeMap<(String, String), u64> = duckdb(&dir, &q[0])
        .into_iter()
        .map(|r| {
            let s = |v: &Value| v.as_str().unwrap().to_string();
            ((s(&r[0]), s(&r[1])), r[2].as_u64().unwrap())
        })
        .collect();
    assert_eq!(got, want, "calls per day and outcome");
    assert!(want.len() >= 5, "{want:?}");
    // 2. The worst PDD per sensor.
    for row in duckdb(&dir, &q[1]) {
        let sensor = row[0].as_str().unwrap();
        let worst = calls
            .iter()
            .filter(|c| c["sensor"] == sensor && c["pdd"].is_f64())
            .max_by(|a, b| {
                a["pdd"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&b["pdd"].as_f64().unwrap())
            })
            .unwrap();
        assert!(
            (row[1].as_f64().unwrap() - worst["pdd"].as_f64().unwrap()).abs() < 1e-9,
            "{row:?} vs {worst}"
        );
        assert_eq!(row[2], worst["call_id"], "{sensor}");
    }
    // 3. The messages of one call by method.
    let cid = "105090259-446faf7a@192.168.1.2";
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for m in messages.iter().filter(|m| m["call_id"] == cid) {
        let what = match m["method"].as_str() {
            Some(meth) => meth.to_string(),
            None => format!("{} {}", m["cseq_method"].as_str().unwrap(), m["status"]),
        };
        let e = want.entry(what).or_default();
        e.0 += 1;
        e.1 += u64::from(m["retransmission"] == true);
    }
    let got: BTreeMap<String, (u64, u64)> = duckdb(&dir, &q[2])
        .into_iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                (r[1].as_u64().unwrap(), r[2].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, want, "messages of {cid}");
    assert!(got.values().any(|(_, r)| *r > 0), "retransmissions seen");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn appending_a_capture_twice_doubles_its_rows_and_replaces_no_part() {
    let Some(sipp) = capture(SIPP) else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let dir = tmp("twice");
    let ds = dir.join("ds");
    let args = [
        OsStr::new("tables"),
        sipp.as_os_str(),
        OsStr::new("--dataset"),
        ds.as_os_str(),
    ];
    let first_out = sipscope(&args);
    let first = files(&ds);
    let once = rows_by_date(&ds, "messages");
    assert_eq!(once.values().sum::<usize>(), 30);
    let second_out = sipscope(&args);
    let both = files(&ds);
    // The first run's parts are all there, byte for byte; the second added as many.
    for (p, bytes) in &first {
        assert_eq!(both.get(p), Some(bytes), "{} changed", p.display());
    }
    assert_eq!(both.len(), 2 * first.len());
    assert_ne!(first_out, second_out, "new part names");
    for t in ["calls", "transactions", "messages"] {
        let twice = rows_by_date(&ds, t);
        assert!(!twice.is_empty(), "{t}");
        for (k, n) in &twice {
            assert_eq!(*n % 2, 0, "{t} {k:?}");
        }
    }
    let twice = rows_by_date(&ds, "messages");
    assert_eq!(
        twice,
        once.iter().map(|(k, n)| (k.clone(), 2 * n)).collect(),
        "messages doubled"
    );
    // No temporary file is left, and the tables without rows wrote no part.
    assert!(both
        .keys()
        .all(|p| p.extension().is_some_and(|e| e == "parquet")
            && p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-sipp-")));
    for t in ["legs", "registrations", "rtp_streams", "alerts"] {
        assert!(parts(&ds, t).is_empty(), "{t}: a part for no rows");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_capture_over_midnight_writes_into_two_dates() {
    let Some(sipp) = capture(SIPP) else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let dir = tmp("midnight");
    // sipp.pcap's five calls, one a second from 23:45:09.79 UTC, moved so that midnight falls
    // between the third and the fourth: 23:59:57.79 .. 00:00:02.79.
    const SHIFT: i64 = (14 * 60 + 48) * 1_000_000_000;
    let frames: Vec<(i64, Vec<u8>)> = crate::threads::read_frames(&sipp)
        .into_iter()
        .map(|(ts, d)| (ts + SHIFT, d))
        .collect();
    let pcap = dir.join("over-midnight.pcap");
    crate::threads::write_pcap(&pcap, &frames);
    let midnight = sipscope::time::Ts::parse("2012-06-24T00:00:00Z").unwrap().0;
    let before = frames.iter().filter(|(ts, _)| *ts < midnight).count();
    assert!(before > 0 && before < frames.len());
    let ds = dir.join("ds");
    sipscope(&[
        OsStr::new("tables"),
        pcap.as_os_str(),
        OsStr::new("--dataset"),
        ds.as_os_str(),
    ]);
    // One SIP message a frame: the messages split where the frames do.
    let c = "over-midnight.pcap".to_string();
    let msgs = rows_by_date(&ds, "messages");
    assert_eq!(
        msgs,
        BTreeMap::from([
            (("2012-06-23".into(), c.clone()), before),
            (("2012-06-24".into(), c.clone()), frames.len() - before),
        ])
    );
    // A call goes to its start's date, as `calls` gives it.
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for call in json_lines(&sipscope_ok(&["calls", "--all", "--format", "json"], &pcap).0) {
        *want
            .entry((call["start"].as_str().unwrap()[..10].to_string(), c.clone()))
            .or_default() += 1;
    }
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(rows_by_date(&ds, "calls"), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dataset_of_another_schema_is_refused_and_left_as_it_was() {
    let Some(sipp) = capture(SIPP) else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let dir = tmp("schema");
    let ds = dir.join("ds");
    // A part as an older writer might have left it: the same table, other columns.
    let old = ds.join("table=messages/date=2012-06-23");
    std::fs::create_dir_all(&old).unwrap();
    let mut df = polars::df!("frame" => [1i32], "time" => ["x"]).unwrap();
    polars::prelude::ParquetWriter::new(
        std::fs::File::create(old.join("part-old.parquet")).unwrap(),
    )
    .finish(&mut df)
    .unwrap();
    let before = files(&ds);
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("tables")
        .arg(&sipp)
        .arg("--dataset")
        .arg(&ds)
        .arg("--no-progress")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another schema")
            && err.contains("frame (i32)")
            && err.contains("frame (u64)"),
        "{err}"
    );
    assert_eq!(files(&ds), before, "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}
