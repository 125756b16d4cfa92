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

use crate::output::frame::{Frame, Kind, TableSink, Value};
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
        row.push(Value::Str(Some(self.capture.clone())));
        row.push(Value::Str(self.sensor.clone()));
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
        for t in &mut self.tables {
            t.open.sort_by_key(|p| p.day);
            for part in t.open.drain(..) {
                self.published.push(close(part)?);
            }
        }
        Ok(std::mem::take(&mut self.published))
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
