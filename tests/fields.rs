//! One name per field (issue 15): for every command that lists records, the CSV header is the
//! record's field list, every CSV column is a key of the same record's JSON (at any depth: a call's
//! media figures sit under `media`), and the report's Parquet table of the same records has the
//! same columns in the same order (the report's calls add `alerts`); a dataset's parts of the
//! same table add `capture` and `sensor` after them.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::{ParquetReader, SerReader};

use crate::support::{repo, sipscope_ok};

fn json_keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                json_keys(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_keys(v, out)),
        _ => {}
    }
}

fn parquet_columns(dir: &Path, name: &str) -> Vec<String> {
    let f = std::fs::File::open(dir.join("data").join(format!("{name}.parquet"))).unwrap();
    let df = ParquetReader::new(f).finish().unwrap();
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The columns of the (first) part of a dataset's table.
fn dataset_columns(ds: &Path, table: &str) -> Vec<String> {
    let date = std::fs::read_dir(ds.join(format!("table={table}")))
        .unwrap()
        .flatten()
        .next()
        .unwrap_or_else(|| panic!("no {table} partition"));
    let part = std::fs::read_dir(date.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let df = ParquetReader::new(std::fs::File::open(part.path()).unwrap())
        .finish()
        .unwrap();
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn every_format_names_a_field_the_same_way() {
    let faults = repo().join("samples/sipp-faults.pcap");
    let report = std::env::temp_dir().join(format!("sipscope-fields-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&report);
    let dataset = report.join("dataset");
    sipscope_ok(
        &[
            "report",
            "-o",
            report.to_str().unwrap(),
            "--dataset",
            dataset.to_str().unwrap(),
        ],
        &faults,
    );
    // (command args, report table, columns the report adds)
    let cases: [(&[&str], &str, &[&str]); 5] = [
        (&["calls"], "calls", &["alerts"]),
        (&["messages"], "messages", &[]),
        (&["registrations"], "registrations", &[]),
        (&["rtp", "--rtp-heuristic"], "rtp_streams", &[]),
        (&["alerts"], "alerts", &[]),
    ];
    for (args, table, extra) in cases {
        let what = args.join(" ");
        let csv = sipscope_ok(&[args, &["--format", "csv"]].concat(), &faults).0;
        let header: Vec<String> = csv
            .lines()
            .next()
            .unwrap_or_else(|| panic!("{what}: no CSV header"))
            .split(',')
            .map(str::to_string)
            .collect();
        for h in &header {
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{what}: CSV column {h:?} is not snake_case"
            );
        }
        let json = sipscope_ok(&[args, &["--format", "json"]].concat(), &faults).0;
        let mut keys = BTreeSet::new();
        let mut records = 0;
        for l in json.lines().filter(|l| !l.trim().is_empty()) {
            json_keys(&serde_json::from_str(l).unwrap(), &mut keys);
            records += 1;
        }
        assert!(records > 0, "{what}: no JSON records on the sample");
        for h in &header {
            assert!(
                keys.contains(h),
                "{what}: CSV column {h:?} is not a JSON key (keys: {keys:?})"
            );
        }
        let mut want = header.clone();
        want.extend(extra.iter().map(|s| s.to_string()));
        assert_eq!(
            parquet_columns(&report, table),
            want,
            "{what}: the report's {table}.parquet and the CLI's CSV"
        );
        want.extend(["capture".to_string(), "sensor".to_string()]);
        assert_eq!(
            dataset_columns(&dataset, table),
            want,
            "{what}: the dataset's {table} parts"
        );
    }
    let _ = std::fs::remove_dir_all(&report);
}
