//! The report's tables appended to a Hive-partitioned Parquet dataset
//! (`DIR/table=NAME/date=YYYY-MM-DD/part-….parquet`), so the captures of many runs, days and
//! sensors read as one dataset in DuckDB, polars or Spark.
//!
//! Contract:
//! - A row goes to the partition of its own capture time's UTC date (a call's by its start, a
//!   message's by its time; a leg by its call's start), so a capture spanning midnight writes
//!   into two dates.
//! - Each row carries the dataset's columns ([`schema::DATASET`]): `capture`, the run's input by
//!   file name (never the path on the writer's disk), and `sensor`, the `--sensor` name or null.
//! - Parts are never overwritten: a name is `part-<capture stem>-<run id>-<n>.parquet`, the run id
//!   hashing the inputs, the clock, the process and the std hasher's random keys; a part is
//!   written under a hidden temporary name (`.part-….parquet.tmp`, which readers' `*.parquet`
//!   globs and Spark skip) and published by a hard link that fails if the name exists (or, where
//!   the filesystem has no links, a rename after checking it does not), so a reader never sees
//!   half a file. A run that fails removes its temporary files.
//! - One schema per table for the dataset's life: before anything is written, a part of each
//!   table already in the dataset is read, and a different column list or type is refused with
//!   an error naming the first difference (write a new dataset directory; README, "Datasets").
//! - A table (or a date) without rows writes no part.
//!
//! Bounds: each table keeps at most [`MAX_OPEN`] parts open (a [`TableSink`] each: one batch
//! being filled, two waiting and one row group, see `output::frame`); a row for another date
//! closes the least recently used part, and a later row for that date starts a new part. Rows
//! of more than [`MAX_OPEN`] dates interleaved thus make more, smaller parts (complete, counted
//! in [`Dataset::notes`]), never more memory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use polars::prelude::{ParquetReader, SerReader};

use crate::output::frame::{Frame, Kind, Value};
use crate::output::sink::TableSink;
use crate::output::{schema, OutputError};
use crate::time::Ts;

/// Parts open at once per table.
pub const MAX_OPEN: usize = 4;

/// Where a run's rows go, and what they are tagged with.
#[derive(Clone, Debug)]
pub struct DatasetOptions {
    pub dir: PathBuf,
    /// The `capture` column: the input's file name (names joined by ` + ` when several files
    /// are read as one run).
    pub capture: String,
    /// The `sensor` column (null without one).
    pub sensor: Option<String>,
    /// Names the parts: the (first) capture file's stem, sanitised here.
    pub stem: String,
}

/// One table of the dataset: its columns and the parts open for it.
struct DsTable {
    name: &'static str,
    cols: Vec<(&'static str, Kind)>,
    open: Vec<Part>,
}

/// A part being written: its date (days since the epoch), the sink, and its two names.
struct Part {
    day: i64,
    sink: TableSink,
    tmp: PathBuf,
    dst: PathBuf,
    used: u64,
}

/// The dataset a run appends to.
pub struct Dataset {
    dir: PathBuf,
    capture: String,
    sensor: Option<String>,
    /// `<capture stem>-<run id>`: every part name of this run starts with it.
    run: String,
    tables: Vec<DsTable>,
    /// Parts started by this run (numbers the part names).
    started: u64,
    /// Rows written (the clock of the open parts' recency).
    tick: u64,
    /// Parts closed to make room for another date.
    closed_early: u64,
    published: Vec<PathBuf>,
}

fn err(msg: String) -> OutputError {
    OutputError::Io(io::Error::other(msg))
}

/// A name's safe form for a file name: ASCII letters, digits, `.`, `_` and `-`, at most 48.
pub fn sanitise(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    if out.trim_matches(|c| c == '.' || c == '_').is_empty() {
        out = "capture".into();
    }
    out
}

/// `YYYY-MM-DD` of a day counted from the epoch (UTC).
fn date_of(day: i64) -> String {
    let (y, m, d, ..) = Ts(day.saturating_mul(86_400 * crate::time::NANOS_PER_SEC)).civil();
    format!("{y:04}-{m:02}-{d:02}")
}

fn day_of(ts: Ts) -> i64 {
    ts.0.div_euclid(86_400 * crate::time::NANOS_PER_SEC)
}

/// Publishes `tmp` as `dst` without ever replacing a file: a hard link fails if `dst` exists.
/// Where links are not supported, a rename after checking `dst` is free.
fn publish(tmp: &Path, dst: &Path) -> io::Result<()> {
    match std::fs::hard_link(tmp, dst) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if dst.exists() => Err(io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(tmp, dst),
    }
}

/// A part of `table` already in the dataset, if any.
fn existing_part(table_dir: &Path) -> Option<PathBuf> {
    let mut dates: Vec<PathBuf> = std::fs::read_dir(table_dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("date="))
        })
        .collect();
    dates.sort();
    dates.into_iter().find_map(|d| {
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&d)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("part-") && n.ends_with(".parquet")
                })
            })
            .collect();
        parts.sort();
        parts.into_iter().next()
    })
}

/// Refuses a dataset whose `table` parts have other columns than `cols`.
fn check_schema(
    dir: &Path,
    table: &'static str,
    cols: &[(&'static str, Kind)],
) -> Result<(), OutputError> {
    let Some(part) = existing_part(&dir.join(format!("table={table}"))) else {
        return Ok(());
    };
    let theirs = ParquetReader::new(std::fs::File::open(&part)?)
        .with_slice(Some((0, 0)))
        .finish()
        .map_err(|e| err(format!("cannot read {}: {e}", part.display())))?;
    let ours = Frame::new(cols.to_vec())
        .finish(table, table)
        .map_err(|e| err(e.to_string()))?;
    let theirs: Vec<(String, String)> = theirs
        .schema()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let ours: Vec<(String, String)> = ours
        .frame
        .schema()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    if theirs == ours {
        return Ok(());
    }
    let show = |c: Option<&(String, String)>| match c {
        Some((n, t)) => format!("{n} ({t})"),
        None => "no column".into(),
    };
    let at = (0..theirs.len().max(ours.len()))
        .find(|&i| theirs.get(i) != ours.get(i))
        .unwrap_or(0);
    Err(err(format!(
        "the dataset {} holds {table} parts of another schema ({}: column {} is {}, this sipscope writes {}); a dataset keeps one schema: append to a new dataset directory",
        dir.display(),
        part.display(),
        at + 1,
        show(theirs.get(at)),
        show(ours.get(at)),
    )))
}

impl Dataset {
    /// Opens the dataset at `opts.dir` for these tables (created if new), after checking that
    /// the parts already there have the same columns.
    pub fn open(
        opts: &DatasetOptions,
        tables: Vec<(&'static str, Vec<(&'static str, Kind)>)>,
    ) -> Result<Dataset, OutputError> {
        if opts.dir.is_file() {
            return Err(err(format!(
                "--dataset {} is a file: a dataset is a directory",
                opts.dir.display()
            )));
        }
        std::fs::create_dir_all(&opts.dir)?;
        let mut ds = Vec::with_capacity(tables.len());
        for (name, mut cols) in tables {
            cols.extend_from_slice(schema::DATASET);
            check_schema(&opts.dir, name, &cols)?;
            ds.push(DsTable {
                name,
                cols,
                open: Vec::new(),
            });
        }
        let mut h = RandomState::new().build_hasher();
        h.write(opts.capture.as_bytes());
        h.write(opts.sensor.as_deref().unwrap_or("").as_bytes());
        h.write_u32(std::process::id());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.write_u128(now);
        Ok(Dataset {
            dir: opts.dir.clone(),
            capture: opts.capture.clone(),
            sensor: opts.sensor.clone(),
            run: format!("{}-{:016x}", sanitise(&opts.stem), h.finish()),
            tables: ds,
            started: 0,
            tick: 0,
            closed_early: 0,
            published: Vec::new(),
        })
    }

    /// Adds a row to table `t` (the index in the list given to [`Dataset::open`]), in the
    /// partition of `ts`'s UTC date.
    pub fn row(&mut self, t: usize, ts: Ts, mut row: Vec<Value>) -> Result<(), OutputError> {
        self.tick += 1;
        let day = day_of(ts);
        row.push(Value::Str(Some(self.capture.clone().into())));
        row.push(Value::Str(self.sensor.clone().map(Into::into)));
        let table = &mut self.tables[t];
        let i = match table.open.iter().position(|p| p.day == day) {
            Some(i) => i,
            None => {
                if table.open.len() >= MAX_OPEN {
                    let lru = (0..table.open.len())
                        .min_by_key(|&i| table.open[i].used)
                        .unwrap_or(0);
                    let part = table.open.swap_remove(lru);
                    self.closed_early += 1;
                    let published = close(part)?;
                    self.published.push(published);
                }
                let table = &mut self.tables[t];
                let date_dir = self
                    .dir
                    .join(format!("table={}", table.name))
                    .join(format!("date={}", date_of(day)));
                std::fs::create_dir_all(&date_dir)?;
                let file = format!("part-{}-{}.parquet", self.run, self.started);
                self.started += 1;
                let tmp = date_dir.join(format!(".{file}.tmp"));
                let sink = TableSink::parquet_only(&tmp, table.name, table.cols.clone())?;
                table.open.push(Part {
                    day,
                    sink,
                    tmp,
                    dst: date_dir.join(file),
                    used: 0,
                });
                table.open.len() - 1
            }
        };
        let part = &mut self.tables[t].open[i];
        part.used = self.tick;
        part.sink.row(row)
    }

    /// Closes every part and publishes it; returns the parts this run wrote, in the order they
    /// were published.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, OutputError> {
        let mut first_err = None;
        for t in &mut self.tables {
            let mut open = std::mem::take(&mut t.open);
            open.sort_by_key(|p| p.day);
            // Every part is closed (and a failed one's temporary file removed), even after an
            // error; the first error is the run's.
            for part in open {
                match close(part) {
                    Ok(p) => self.published.push(p),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut self.published)),
        }
    }

    /// What the user should know about the run's parts.
    pub fn notes(&self) -> Vec<String> {
        if self.closed_early == 0 {
            return Vec::new();
        }
        vec![format!(
            "dataset: rows of more than {MAX_OPEN} dates came interleaved, so {} parts were closed early and more, smaller parts written (the dataset is complete)",
            self.closed_early
        )]
    }
}

/// Finishes a part's file and publishes it under its name (the next free number if, against
/// all odds, the name is taken).
fn close(part: Part) -> Result<PathBuf, OutputError> {
    let Part { sink, tmp, dst, .. } = part;
    if let Err(e) = sink.finish() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let mut dst = dst;
    for n in 0..100 {
        match publish(&tmp, &dst) {
            Ok(()) => return Ok(dst),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let stem = dst
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                dst.set_file_name(format!("{stem}-{n}.parquet"));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    Err(err(format!(
        "cannot find a free name for {}",
        dst.display()
    )))
}

impl Drop for Dataset {
    /// A run that stopped on an error leaves no temporary file behind (the parts it published
    /// stay: each is complete).
    fn drop(&mut self) {
        for t in &mut self.tables {
            for part in t.open.drain(..) {
                drop(part.sink);
                let _ = std::fs::remove_file(&part.tmp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sipscope-ds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn opts(dir: &Path) -> DatasetOptions {
        DatasetOptions {
            dir: dir.to_path_buf(),
            capture: "a b.pcap".into(),
            sensor: Some("s1".into()),
            stem: "../a b".into(),
        }
    }

    fn all_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }

    const DAY: i64 = 86_400 * crate::time::NANOS_PER_SEC;

    #[test]
    fn dates_are_utc_days_and_names_are_safe() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(day_of(Ts(-1)), -1);
        assert_eq!(date_of(day_of(Ts(-1))), "1969-12-31");
        let t = Ts::parse("2024-02-29T23:59:59.999999999Z").unwrap();
        assert_eq!(date_of(day_of(t)), "2024-02-29");
        assert_eq!(date_of(day_of(Ts(t.0 + 1))), "2024-03-01");
        assert_eq!(sanitise("../a b\u{202e}"), ".._a_b_");
        assert_eq!(sanitise(".."), "capture");
        assert_eq!(sanitise(&"x".repeat(100)).len(), 48);
    }

    /// Rows of six dates interleaved: never more than MAX_OPEN parts open, every row in a
    /// published part of its date, the early closings said, no temporary file left.
    #[test]
    fn interleaved_dates_keep_at_most_max_open_parts_and_lose_no_row() {
        let dir = tmp("lru");
        let cols = vec![("n", Kind::U64), ("time", Kind::Time)];
        let mut ds = Dataset::open(&opts(&dir), vec![("t", cols)]).unwrap();
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for n in 0..120u64 {
            let ts = Ts((n % 6) as i64 * DAY + n as i64);
            ds.row(0, ts, vec![Value::U64(Some(n)), Value::Time(Some(ts))])
                .unwrap();
            assert!(ds.tables[0].open.len() <= MAX_OPEN);
            *want.entry(date_of(day_of(ts))).or_default() += 1;
        }
        assert_eq!(want.len(), 6);
        let notes = ds.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        let parts = ds.finish().unwrap();
        let files = all_files(&dir);
        let mut sorted = parts.clone();
        sorted.sort();
        assert_eq!(files, sorted, "every file is a published part");
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen = Vec::new();
        for p in &parts {
            let date = p.parent().unwrap().file_name().unwrap().to_string_lossy();
            let date = date.strip_prefix("date=").unwrap().to_string();
            assert!(p.to_string_lossy().contains("table=t/"), "{}", p.display());
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("part-.._a_b-"), "{name}");
            let df = ParquetReader::new(std::fs::File::open(p).unwrap())
                .finish()
                .unwrap();
            let names: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
            assert_eq!(names, ["n", "time", "capture", "sensor"]);
            *got.entry(date).or_default() += df.height() as u64;
            seen.extend(df.column("n").unwrap().u64().unwrap().into_no_null_iter());
            let cap = df.column("capture").unwrap().str().unwrap();
            assert!(cap.iter().all(|c| c == Some("a b.pcap")));
        }
        assert_eq!(got, want);
        seen.sort();
        assert!(seen.into_iter().eq(0..120));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn publishing_never_replaces_a_file() {
        let dir = tmp("publish");
        std::fs::create_dir_all(&dir).unwrap();
        let (tmp_file, dst) = (dir.join(".x.tmp"), dir.join("x"));
        std::fs::write(&tmp_file, b"new").unwrap();
        std::fs::write(&dst, b"old").unwrap();
        let e = publish(&tmp_file, &dst).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dst).unwrap(), b"old");
        std::fs::remove_file(&dst).unwrap();
        publish(&tmp_file, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");
        assert!(!tmp_file.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A run that stops on an error (the dataset dropped unfinished) leaves no temporary file.
    #[test]
    fn an_unfinished_run_leaves_no_temporary_file() {
        let dir = tmp("drop");
        let mut ds = Dataset::open(&opts(&dir), vec![("t", vec![("n", Kind::U64)])]).unwrap();
        ds.row(0, Ts(0), vec![Value::U64(Some(1))]).unwrap();
        ds.row(0, Ts(DAY), vec![Value::U64(Some(2))]).unwrap();
        assert_eq!(all_files(&dir).len(), 2);
        drop(ds);
        assert_eq!(all_files(&dir), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
