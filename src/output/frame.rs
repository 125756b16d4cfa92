//! Tables as polars DataFrames: a small row-wise builder for typed columns, and the writers for
//! the terminal, CSV, JSON and Parquet.
//!
//! Column types are fixed when the table is declared, so an empty table still has its schema and
//! a column that is empty in every row is typed, not guessed. Times are `Datetime(ns, UTC)`,
//! counts `UInt64`, figures `Float64`, text `String`; a missing figure is a null, never 0.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use polars::prelude::{
    AnyValue, Column, CsvWriter, DataFrame, DataType, IntoSeries, JsonFormat, JsonWriter,
    ParquetWriter, PolarsResult, SerWriter, TimeUnit, TimeZone,
};

use super::{csv_cell_into, escape, json, write_csv_row, OutputError, Table};
use crate::time::Ts;

pub use super::schema::{Kind, Value};

/// A table being filled row by row, kept as one typed vector per column (a row costs no
/// allocation of its own, and the vectors become the DataFrame's columns as they are).
pub struct Frame {
    cols: Vec<(&'static str, Kind)>,
    data: Vec<ColumnData>,
    height: usize,
}

enum ColumnData {
    Str(Vec<Option<String>>),
    U64(Vec<Option<u64>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
}

/// A finished table: its name (the file stem with `-o`), a title, and the DataFrame.
pub struct Tab {
    pub name: &'static str,
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub frame: DataFrame,
}

impl Frame {
    pub fn new(cols: Vec<(&'static str, Kind)>) -> Frame {
        let data = cols
            .iter()
            .map(|(_, k)| match k {
                Kind::Str => ColumnData::Str(Vec::new()),
                Kind::U64 => ColumnData::U64(Vec::new()),
                Kind::I64 => ColumnData::I64(Vec::new()),
                Kind::F64 => ColumnData::F64(Vec::new()),
                Kind::Bool => ColumnData::Bool(Vec::new()),
                Kind::Time => ColumnData::Time(Vec::new()),
            })
            .collect();
        Frame {
            cols,
            data,
            height: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.height
    }

    pub fn is_empty(&self) -> bool {
        self.height == 0
    }

    /// Adds a row; its values must follow the declared columns (checked in debug builds). A
    /// value of the wrong type is a null.
    pub fn row(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.cols.len(), "row width");
        for (col, v) in self.data.iter_mut().zip(row) {
            match (col, v) {
                (ColumnData::Str(c), Value::Str(x)) => c.push(x),
                (ColumnData::U64(c), Value::U64(x)) => c.push(x),
                (ColumnData::I64(c), Value::I64(x)) => c.push(x),
                (ColumnData::F64(c), Value::F64(x)) => c.push(x.filter(|x| x.is_finite())),
                (ColumnData::Bool(c), Value::Bool(x)) => c.push(x),
                (ColumnData::Time(c), Value::Time(x)) => c.push(x.map(|t| t.0)),
                (ColumnData::Str(c), _) => c.push(None),
                (ColumnData::U64(c), _) => c.push(None),
                (ColumnData::I64(c), _) => c.push(None),
                (ColumnData::F64(c), _) => c.push(None),
                (ColumnData::Bool(c), _) => c.push(None),
                (ColumnData::Time(c), _) => c.push(None),
            }
        }
        self.height += 1;
    }

    pub fn finish(self, name: &'static str, title: &'static str) -> PolarsResult<Tab> {
        let mut columns = Vec::with_capacity(self.cols.len());
        for ((col, _), data) in self.cols.iter().zip(self.data) {
            let n = (*col).into();
            columns.push(match data {
                ColumnData::Str(v) => Column::new(n, v),
                ColumnData::U64(v) => Column::new(n, v),
                ColumnData::I64(v) => Column::new(n, v),
                ColumnData::F64(v) => Column::new(n, v),
                ColumnData::Bool(v) => Column::new(n, v),
                ColumnData::Time(v) => Column::new(n, v).cast(&DataType::Datetime(
                    TimeUnit::Nanoseconds,
                    Some(TimeZone::UTC),
                ))?,
            });
        }
        Ok(Tab {
            name,
            title,
            columns: self.cols.iter().map(|(n, _)| *n).collect(),
            frame: DataFrame::new(self.height, columns)?,
        })
    }
}

/// One cell as text: integers plainly, figures to three decimals, times as RFC 3339 UTC, nulls
/// empty.
pub fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::UInt64(n) => n.to_string(),
        AnyValue::Int64(n) => n.to_string(),
        AnyValue::UInt32(n) => n.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Float64(x) => format!("{x:.3}"),
        AnyValue::Datetime(ns, TimeUnit::Nanoseconds, _) => Ts(*ns).to_string(),
        other => other.to_string(),
    }
}

/// Every row of a table as text cells ([`cell`]).
pub fn rows(t: &Tab) -> PolarsResult<Vec<Vec<String>>> {
    let cols = t.frame.columns();
    let mut out = Vec::with_capacity(t.frame.height());
    for i in 0..t.frame.height() {
        let mut r = Vec::with_capacity(cols.len());
        for c in cols {
            r.push(cell(&c.get(i)?));
        }
        out.push(r);
    }
    Ok(out)
}

/// A copy with every time column as RFC 3339 UTC text: JSON and CSV have no time type, and polars
/// would write times without their zone. Parquet keeps the typed column.
fn with_text_times(df: &DataFrame) -> PolarsResult<DataFrame> {
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        if matches!(c.dtype(), DataType::Datetime(..)) {
            let mut v: Vec<Option<String>> = Vec::with_capacity(df.height());
            for i in 0..df.height() {
                v.push(match c.get(i)? {
                    AnyValue::Null => None,
                    a => Some(cell(&a)),
                });
            }
            cols.push(Column::new(c.name().clone(), v));
        } else {
            cols.push(c.clone());
        }
    }
    DataFrame::new(df.height(), cols)
}

/// A copy for CSV: every text column's cells through [`csv_cell_into`] (controls made visible,
/// formulas defused), the same rule as [`write_csv_row`]. Columns of numbers, times and booleans
/// are left as they are, so `-1.5` stays a number. Parquet and JSON get the frame itself, with the
/// exact wire text.
pub fn csv_safe(df: &DataFrame) -> PolarsResult<DataFrame> {
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        if c.dtype() == &DataType::String {
            let safe = c.str()?.apply_into_string_amortized(csv_cell_into);
            cols.push(Column::from(safe.into_series()));
        } else {
            cols.push(c.clone());
        }
    }
    DataFrame::new(df.height(), cols)
}

/// The frame as it goes into a CSV file: text made safe ([`csv_safe`]), times as text.
fn for_csv(df: &DataFrame) -> PolarsResult<DataFrame> {
    with_text_times(&csv_safe(df)?)
}

/// The frame as JSON lines, through [`json::escape_unsafe`] like every JSON sipscope writes
/// (polars writes C1 and bidirectional controls raw).
fn json_lines(df: &DataFrame) -> Result<Vec<u8>, OutputError> {
    let mut buf = Vec::new();
    JsonWriter::new(&mut buf)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut with_text_times(df).map_err(polars_err)?)
        .map_err(polars_err)?;
    let text = String::from_utf8(buf).map_err(|e| OutputError::Io(std::io::Error::other(e)))?;
    let mut out = Vec::with_capacity(text.len());
    json::escape_unsafe(&mut out, &text)?;
    Ok(out)
}

fn polars_err(e: polars::prelude::PolarsError) -> OutputError {
    OutputError::Io(std::io::Error::other(e))
}

/// Each table under its title, aligned to the terminal. Text from the wire is escaped.
pub fn write_tables(
    out: &mut dyn Write,
    tabs: &[Tab],
    width: Option<usize>,
) -> Result<(), OutputError> {
    for (i, t) in tabs.iter().enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        writeln!(out, "{}", t.title)?;
        if t.frame.height() == 0 {
            writeln!(out, "  (none)")?;
            continue;
        }
        let flexible = t
            .columns
            .iter()
            .map(|c| matches!(*c, "definition" | "reason" | "note"))
            .collect();
        let mut table = Table::new(t.columns.clone(), flexible);
        table.rows = rows(t)
            .map_err(polars_err)?
            .into_iter()
            .map(|r| r.iter().map(|c| escape(c)).collect())
            .collect();
        table.write(out, width)?;
    }
    Ok(())
}

/// Each table as CSV, after a `# name` line and separated by a blank line (for one stream).
pub fn write_csv_stream(out: &mut dyn Write, tabs: &[Tab]) -> Result<(), OutputError> {
    for (i, t) in tabs.iter().enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        writeln!(out, "# {}", t.name)?;
        write_csv_row(
            out,
            &t.columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        )?;
        for r in rows(t).map_err(polars_err)? {
            write_csv_row(out, &r)?;
        }
    }
    Ok(())
}

/// One JSON object per row, each with a `"table"` member naming its table (NDJSON).
pub fn write_json_stream(out: &mut dyn Write, tabs: &mut [Tab]) -> Result<(), OutputError> {
    for t in tabs.iter_mut() {
        let buf = json_lines(&t.frame)?;
        let prefix = format!(
            "{{\"table\":{},",
            json::to_string(t.name).unwrap_or_default()
        );
        for line in buf.split(|c| *c == b'\n').filter(|l| l.len() > 1) {
            // Each line is `{...}`: the table's name goes in first.
            out.write_all(prefix.as_bytes())?;
            if line == b"{}" {
                out.write_all(b"}")?;
            } else {
                out.write_all(&line[1..])?;
            }
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
    Parquet,
}

impl FileFormat {
    fn ext(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Json => "json",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// One file per table in `dir` (`NAME.csv`, `NAME.json` as JSON lines, `NAME.parquet`); returns
/// the paths written. CSV text is made safe ([`csv_safe`]); JSON and Parquet keep exact values.
pub fn write_dir(
    dir: &Path,
    tabs: &mut [Tab],
    format: FileFormat,
) -> Result<Vec<std::path::PathBuf>, OutputError> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for t in tabs.iter_mut() {
        let path = dir.join(format!("{}.{}", t.name, format.ext()));
        let mut f = std::io::BufWriter::new(File::create(&path)?);
        match format {
            FileFormat::Csv => CsvWriter::new(&mut f)
                .include_header(true)
                .finish(&mut for_csv(&t.frame).map_err(polars_err)?)
                .map_err(polars_err)?,
            FileFormat::Json => f.write_all(&json_lines(&t.frame)?)?,
            FileFormat::Parquet => {
                ParquetWriter::new(&mut f)
                    .finish(&mut t.frame)
                    .map_err(polars_err)?;
            }
        }
        f.flush()?;
        written.push(path);
    }
    Ok(written)
}

/// Rows after this many are turned into a polars batch and written to the CSV.
const SINK_BATCH: usize = 4096;

/// Batches are gathered into one Parquet row group until they hold this much (polars'
/// estimate of their size in memory), or [`GROUP_ROWS`] rows. The writer keeps every page's
/// header and statistics until the footer is written, about 45 KB per row group of the
/// messages table: with one row group per 4096-row batch that grew by 30 MB over 2.7 million
/// messages; with groups of this size it grows several times slower. The buffer itself is
/// bounded, and 4 MiB costs less at the peak than the metadata it saves (8 MiB did not).
const GROUP_BYTES: usize = 4 << 20;
const GROUP_ROWS: usize = 1 << 20;

/// A table written as it grows, in Parquet and CSV at once: rows are buffered into batches of
/// [`SINK_BATCH`] and batches into row groups of [`GROUP_BYTES`], so memory stays bounded
/// however many rows come. CSV gets times as RFC 3339 text and safe text ([`csv_safe`]), like
/// [`write_dir`]; Parquet the exact values.
///
/// The caller only fills batches; a thread of the sink's own turns them into DataFrames and
/// writes both files, so a report's single sink thread does not also encode Parquet and CSV.
/// At most two batches wait for it.
pub struct TableSink {
    cols: Vec<(&'static str, Kind)>,
    buf: Frame,
    tx: Option<crossbeam_channel::Sender<Frame>>,
    writer: Option<std::thread::JoinHandle<Result<(), OutputError>>>,
    pub rows: u64,
}

/// The writing half of a [`TableSink`], on its own thread.
struct SinkWriter {
    name: &'static str,
    /// Batches waiting to be one row group, and their estimated size and rows.
    group: Vec<DataFrame>,
    group_bytes: usize,
    group_rows: usize,
    parquet: polars::io::parquet::write::BatchedWriter<std::io::BufWriter<File>>,
    csv: Option<polars::io::csv::write::BatchedWriter<std::io::BufWriter<File>>>,
    /// Where the CSV goes; none for a Parquet-only sink.
    csv_path: Option<std::path::PathBuf>,
}

impl TableSink {
    /// Creates `dir/NAME.parquet` and `dir/NAME.csv`.
    pub fn create(
        dir: &Path,
        name: &'static str,
        cols: Vec<(&'static str, Kind)>,
    ) -> Result<TableSink, OutputError> {
        TableSink::open(
            &dir.join(format!("{name}.parquet")),
            Some(dir.join(format!("{name}.csv"))),
            name,
            cols,
        )
    }

    /// Creates one Parquet file at `path` (a dataset's part; no CSV). The file is created at
    /// once, with the schema written when the sink finishes.
    pub fn parquet_only(
        path: &Path,
        name: &'static str,
        cols: Vec<(&'static str, Kind)>,
    ) -> Result<TableSink, OutputError> {
        TableSink::open(path, None, name, cols)
    }

    fn open(
        parquet_path: &Path,
        csv_path: Option<std::path::PathBuf>,
        name: &'static str,
        cols: Vec<(&'static str, Kind)>,
    ) -> Result<TableSink, OutputError> {
        let empty = Frame::new(cols.clone())
            .finish(name, name)
            .map_err(polars_err)?;
        let file = File::create(parquet_path)?;
        let parquet = ParquetWriter::new(std::io::BufWriter::new(file))
            .batched(empty.frame.schema())
            .map_err(polars_err)?;
        let mut w = SinkWriter {
            name,
            group: Vec::new(),
            group_bytes: 0,
            group_rows: 0,
            parquet,
            csv: None,
            csv_path,
        };
        // The CSV file exists (with its header) even when no row comes.
        w.write(empty.frame.clone())?;
        let (tx, rx) = crossbeam_channel::bounded::<Frame>(2);
        let writer = std::thread::Builder::new()
            .name(format!("table-{name}"))
            .spawn(move || {
                for f in rx {
                    let tab = f.finish(w.name, w.name).map_err(polars_err)?;
                    w.write(tab.frame)?;
                }
                w.finish()
            })?;
        Ok(TableSink {
            buf: Frame::new(cols.clone()),
            cols,
            tx: Some(tx),
            writer: Some(writer),
            rows: 0,
        })
    }

    pub fn row(&mut self, row: Vec<Value>) -> Result<(), OutputError> {
        self.buf.row(row);
        self.rows += 1;
        if self.buf.len() >= SINK_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the batch to the writer; if the writer has stopped, its error.
    fn flush(&mut self) -> Result<(), OutputError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::replace(&mut self.buf, Frame::new(self.cols.clone()));
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(buf).is_ok());
        if sent {
            Ok(())
        } else {
            self.join().and(Err(OutputError::Io(std::io::Error::other(
                "the table writer stopped",
            ))))
        }
    }

    fn join(&mut self) -> Result<(), OutputError> {
        self.tx = None;
        match self.writer.take().map(|h| h.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(OutputError::Io(std::io::Error::other(
                "the table writer panicked",
            ))),
        }
    }

    /// Writes what is buffered and closes both files; returns the number of rows.
    pub fn finish(mut self) -> Result<u64, OutputError> {
        self.flush()?;
        self.join()?;
        Ok(self.rows)
    }
}

impl SinkWriter {
    fn write(&mut self, df: DataFrame) -> Result<(), OutputError> {
        if let Some(path) = &self.csv_path {
            let text = for_csv(&df).map_err(polars_err)?;
            if self.csv.is_none() {
                let f = std::io::BufWriter::new(File::create(path)?);
                self.csv = Some(
                    CsvWriter::new(f)
                        .include_header(true)
                        .batched(text.schema())
                        .map_err(polars_err)?,
                );
            }
            if let (Some(csv), true) = (self.csv.as_mut(), df.height() > 0) {
                csv.write_batch(&text).map_err(polars_err)?;
            }
        }
        if df.height() == 0 {
            return Ok(());
        }
        self.group_bytes += df.estimated_size();
        self.group_rows += df.height();
        self.group.push(df);
        if self.group_bytes >= GROUP_BYTES || self.group_rows >= GROUP_ROWS {
            self.write_group()?;
        }
        Ok(())
    }

    /// Writes the gathered batches as one row group (the writer makes a group of each chunk,
    /// so they are joined into one first).
    fn write_group(&mut self) -> Result<(), OutputError> {
        let mut batches = std::mem::take(&mut self.group).into_iter();
        (self.group_bytes, self.group_rows) = (0, 0);
        let Some(mut df) = batches.next() else {
            return Ok(());
        };
        for b in batches {
            df.vstack_mut_owned(b).map_err(polars_err)?;
        }
        df.rechunk_mut();
        self.parquet.write_batch(&df).map_err(polars_err)
    }

    fn finish(mut self) -> Result<(), OutputError> {
        self.write_group()?;
        self.parquet.finish().map_err(polars_err)?;
        if let Some(mut csv) = self.csv.take() {
            csv.finish().map_err(polars_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{ParquetReader, SerReader};

    /// Row groups of the written file and the rows in each.
    fn groups(path: &Path) -> Vec<usize> {
        let mut r = ParquetReader::new(File::open(path).unwrap());
        let meta = r.get_metadata().unwrap();
        meta.row_groups.iter().map(|g| g.num_rows()).collect()
    }

    /// CSV is the only format that changes wire text: its text columns are made safe (controls
    /// visible, formulas defused), numbers keep their sign, and Parquet and JSON keep the exact
    /// value (JSON through `\u` escapes).
    #[test]
    fn only_csv_text_is_guarded_and_parquet_keeps_the_wire_value() {
        let dir = std::env::temp_dir().join(format!("sipscope-csvsafe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wire = [
            "=HYPERLINK(\"http://x\")",
            "-1.5",
            "\x1b]0;t\x07\u{9b}\u{202e}",
        ];
        let cols = vec![("text", Kind::Str), ("x", Kind::F64), ("n", Kind::I64)];
        let mut f = Frame::new(cols.clone());
        let mut sink = TableSink::create(&dir, "sunk", cols).unwrap();
        for w in wire {
            let row = vec![
                Value::Str(Some(w.into())),
                Value::F64(Some(-1.5)),
                Value::I64(Some(-3)),
            ];
            f.row(row.clone());
            sink.row(row).unwrap();
        }
        sink.finish().unwrap();
        let mut tabs = vec![f.finish("t", "t").unwrap()];
        for fmt in [FileFormat::Csv, FileFormat::Json, FileFormat::Parquet] {
            write_dir(&dir, &mut tabs, fmt).unwrap();
        }
        let expect = "text,x,n\n'=HYPERLINK(\"\"http://x\"\"),-1.5,-3\n-1.5,-1.5,-3\n\\x1b]0;t\\x07\\x9b\\u{202e},-1.5,-3\n";
        // `=HYPERLINK("http://x")` is quoted by polars for its quotes.
        let expect = expect.replace(
            "'=HYPERLINK(\"\"http://x\"\")",
            "\"'=HYPERLINK(\"\"http://x\"\")\"",
        );
        for csv in ["t.csv", "sunk.csv"] {
            assert_eq!(
                std::fs::read_to_string(dir.join(csv)).unwrap(),
                expect,
                "{csv}"
            );
        }
        for pq in ["t.parquet", "sunk.parquet"] {
            let df = ParquetReader::new(File::open(dir.join(pq)).unwrap())
                .finish()
                .unwrap();
            let text: Vec<&str> = df
                .column("text")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap())
                .collect();
            assert_eq!(text, wire, "{pq}");
        }
        let json = std::fs::read_to_string(dir.join("t.json")).unwrap();
        assert!(
            !json
                .chars()
                .any(|c| c != '\n' && super::super::is_unsafe(c)),
            "{json:?}"
        );
        let back: Vec<String> = json
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["text"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(back, wire);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Batches are gathered into row groups of about [`GROUP_BYTES`] (the writer keeps
    /// metadata per group until the end, so one group per 4096-row batch grew without bound),
    /// and no row is lost or repeated on the way, in Parquet or CSV.
    #[test]
    fn table_sink_gathers_batches_into_row_groups() {
        let dir = std::env::temp_dir().join(format!("sipscope-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cols = vec![("n", Kind::U64), ("text", Kind::Str)];
        // Small rows: every batch fits one group.
        let mut small = TableSink::create(&dir, "small", cols.clone()).unwrap();
        for n in 0..10_000u64 {
            small
                .row(vec![Value::U64(Some(n)), Value::Str(Some("x".into()))])
                .unwrap();
        }
        assert_eq!(small.finish().unwrap(), 10_000);
        assert_eq!(groups(&dir.join("small.parquet")), vec![10_000]);
        // Rows sized so that a group holds about four batches; ten batches make two or three
        // groups.
        let mut big = TableSink::create(&dir, "big", cols).unwrap();
        let text = "a".repeat(GROUP_BYTES / SINK_BATCH / 4);
        for n in 0..40_000u64 {
            big.row(vec![Value::U64(Some(n)), Value::Str(Some(text.clone()))])
                .unwrap();
        }
        assert_eq!(big.finish().unwrap(), 40_000);
        let g = groups(&dir.join("big.parquet"));
        assert_eq!(g.iter().sum::<usize>(), 40_000);
        assert!((2..=5).contains(&g.len()), "{g:?}");
        assert!(
            g[..g.len() - 1].iter().all(|n| *n >= 2 * SINK_BATCH),
            "{g:?}"
        );
        let df = ParquetReader::new(File::open(dir.join("big.parquet")).unwrap())
            .finish()
            .unwrap();
        let n = df.column("n").unwrap().u64().unwrap();
        assert!(n.into_no_null_iter().eq(0..40_000u64));
        let csv = std::fs::read_to_string(dir.join("big.csv")).unwrap();
        assert_eq!(csv.lines().count(), 40_001);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
