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
    NewChunkedArray, ParquetWriter, PolarsResult, SerWriter, StringChunked, TimeUnit, TimeZone,
};

use super::{csv_cell_into, csv_field_into, escape, json, write_csv_row, OutputError, Table};
use crate::time::Ts;

pub use super::schema::{Kind, Value};

/// A table being filled row by row, kept as one typed vector per column, and each text column's
/// cells in one buffer: a row costs no allocation of its own, and a batch emptied by its writer
/// is filled again without allocating ([`super::sink::TableSink`] sends batches back).
pub struct Frame {
    cols: Vec<(&'static str, Kind)>,
    data: Vec<ColumnData>,
    height: usize,
}

enum ColumnData {
    Str(TextColumn),
    U64(Vec<Option<u64>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
}

/// A column as an Arrow array, with the Parquet encoding it is written in.
pub(super) type ArrowColumn = (
    Box<dyn polars_arrow::array::Array>,
    Vec<polars_parquet::write::Encoding>,
);

/// The cells of a text column, one after the other in one string.
#[derive(Default)]
struct TextColumn {
    text: String,
    /// Where each cell ends in `text`; [`NULL`] for a null.
    ends: Vec<usize>,
}

/// The end of a null cell.
const NULL: usize = usize::MAX;

impl TextColumn {
    fn push(&mut self, v: Option<&str>) {
        self.ends.push(v.map_or(NULL, |v| {
            self.text.push_str(v);
            self.text.len()
        }));
    }

    fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            (end != NULL).then(|| {
                let v = &self.text[start..end];
                start = end;
                v
            })
        })
    }

    fn append(&mut self, o: &TextColumn) {
        let base = self.text.len();
        self.text.push_str(&o.text);
        self.ends.extend(
            o.ends
                .iter()
                .map(|&e| if e == NULL { NULL } else { e + base }),
        );
    }
}

impl TextColumn {
    /// The column as a dictionary of its distinct values and a key per row, or as plain text
    /// when more than three quarters of its values differ (over 128 rows), as polars decides.
    fn arrow(&self, dtype: &polars_arrow::datatypes::ArrowDataType) -> PolarsResult<ArrowColumn> {
        use polars_arrow::array::{DictionaryArray, MutableBinaryViewArray, PrimitiveArray};
        use polars_arrow::datatypes::{ArrowDataType, IntegerType};
        use polars_parquet::write::Encoding;
        let n = self.ends.len();
        let most = if n > 128 { n * 3 / 4 } else { n };
        let mut index: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
        let mut values = MutableBinaryViewArray::<str>::new();
        let mut keys: Vec<u32> = Vec::with_capacity(n);
        let mut nulls = false;
        for v in self.iter() {
            let Some(v) = v else {
                nulls = true;
                keys.push(0);
                continue;
            };
            let next = index.len() as u32;
            let k = *index.entry(v).or_insert_with(|| {
                values.push_value(v);
                next
            });
            if index.len() > most {
                break;
            }
            keys.push(k);
        }
        if index.len() > most || index.is_empty() {
            let mut plain = MutableBinaryViewArray::<str>::with_capacity(n);
            for v in self.iter() {
                plain.push(v);
            }
            return Ok((
                plain.freeze_with_dtype(dtype.clone()).boxed(),
                vec![Encoding::Plain],
            ));
        }
        let validity = nulls.then(|| self.ends.iter().map(|&e| e != NULL).collect());
        let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, keys.into(), validity);
        let dict = DictionaryArray::<u32>::try_new(
            ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(dtype.clone()), false),
            keys,
            values.freeze_with_dtype(dtype.clone()).boxed(),
        )?;
        Ok((dict.boxed(), vec![Encoding::RleDictionary]))
    }
}

impl ColumnData {
    fn of(k: Kind, rows: usize) -> ColumnData {
        match k {
            Kind::Str => ColumnData::Str(TextColumn {
                text: String::with_capacity(rows * 16),
                ends: Vec::with_capacity(rows),
            }),
            Kind::U64 => ColumnData::U64(Vec::with_capacity(rows)),
            Kind::I64 => ColumnData::I64(Vec::with_capacity(rows)),
            Kind::F64 => ColumnData::F64(Vec::with_capacity(rows)),
            Kind::Bool => ColumnData::Bool(Vec::with_capacity(rows)),
            Kind::Time => ColumnData::Time(Vec::with_capacity(rows)),
        }
    }

    fn clear(&mut self) {
        match self {
            ColumnData::Str(c) => {
                c.text.clear();
                c.ends.clear();
            }
            ColumnData::U64(c) => c.clear(),
            ColumnData::I64(c) => c.clear(),
            ColumnData::F64(c) => c.clear(),
            ColumnData::Bool(c) => c.clear(),
            ColumnData::Time(c) => c.clear(),
        }
    }

    fn append(&mut self, o: &ColumnData) {
        match (self, o) {
            (ColumnData::Str(a), ColumnData::Str(b)) => a.append(b),
            (ColumnData::U64(a), ColumnData::U64(b)) => a.extend_from_slice(b),
            (ColumnData::I64(a), ColumnData::I64(b)) => a.extend_from_slice(b),
            (ColumnData::F64(a), ColumnData::F64(b)) => a.extend_from_slice(b),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a.extend_from_slice(b),
            (ColumnData::Time(a), ColumnData::Time(b)) => a.extend_from_slice(b),
            _ => debug_assert!(false, "frames of different columns"),
        }
    }

    /// The bytes the column's cells take.
    fn size(&self) -> usize {
        match self {
            ColumnData::Str(c) => c.text.len() + c.ends.len() * size_of::<usize>(),
            ColumnData::U64(c) => c.len() * size_of::<Option<u64>>(),
            ColumnData::I64(c) => c.len() * size_of::<Option<i64>>(),
            ColumnData::F64(c) => c.len() * size_of::<Option<f64>>(),
            ColumnData::Bool(c) => c.len() * size_of::<Option<bool>>(),
            ColumnData::Time(c) => c.len() * size_of::<Option<i64>>(),
        }
    }
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
        Frame::with_capacity(cols, 0)
    }

    /// A frame with room for `rows` rows (text cells of 16 bytes) before it allocates.
    pub fn with_capacity(cols: Vec<(&'static str, Kind)>, rows: usize) -> Frame {
        let data = cols.iter().map(|(_, k)| ColumnData::of(*k, rows)).collect();
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
    pub fn row(&mut self, row: Vec<Value<'_>>) {
        debug_assert_eq!(row.len(), self.cols.len(), "row width");
        for (col, v) in self.data.iter_mut().zip(row) {
            match (col, v) {
                (ColumnData::Str(c), Value::Str(x)) => c.push(x.as_deref()),
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

    /// Empties the frame and keeps its room.
    pub fn clear(&mut self) {
        self.data.iter_mut().for_each(ColumnData::clear);
        self.height = 0;
    }

    /// Adds every row of `other` (a frame of the same columns).
    pub(super) fn append(&mut self, other: &Frame) {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            a.append(b);
        }
        self.height += other.height;
    }

    /// About how many bytes the rows take.
    pub(super) fn size(&self) -> usize {
        self.data.iter().map(ColumnData::size).sum()
    }

    /// The rows as a DataFrame (copied into Arrow columns; the frame keeps them).
    pub fn to_dataframe(&self) -> PolarsResult<DataFrame> {
        let mut columns = Vec::with_capacity(self.cols.len());
        for ((col, _), data) in self.cols.iter().zip(&self.data) {
            let n: polars::prelude::PlSmallStr = (*col).into();
            columns.push(match data {
                ColumnData::Str(v) => {
                    Column::from(StringChunked::from_iter_options(n, v.iter()).into_series())
                }
                ColumnData::U64(v) => Column::new(n, v.as_slice()),
                ColumnData::I64(v) => Column::new(n, v.as_slice()),
                ColumnData::F64(v) => Column::new(n, v.as_slice()),
                ColumnData::Bool(v) => Column::new(n, v.as_slice()),
                ColumnData::Time(v) => Column::new(n, v.as_slice()).cast(&DataType::Datetime(
                    TimeUnit::Nanoseconds,
                    Some(TimeZone::UTC),
                ))?,
            });
        }
        DataFrame::new(self.height, columns)
    }

    /// The columns as Arrow arrays of the Parquet file's `fields` (the types of
    /// [`Frame::to_dataframe`]'s schema), each with the encoding it is written in: numbers and
    /// times as polars writes them, a text column dictionary-encoded when at most three
    /// quarters of its values differ (polars' rule, counted here instead of estimated), else
    /// plain. polars' own path built a string array of every value, estimated its cardinality,
    /// then hashed every value again into a dictionary: 7 % of the report's instructions.
    pub(super) fn arrow_columns(
        &self,
        fields: &[polars_arrow::datatypes::Field],
    ) -> PolarsResult<Vec<ArrowColumn>> {
        use polars_arrow::array::{Array, BooleanArray, PrimitiveArray};
        use polars_parquet::write::get_dtype_encoding;
        fn prim<T: polars_arrow::types::NativeType>(
            v: &[Option<T>],
            dtype: &polars_arrow::datatypes::ArrowDataType,
        ) -> Box<dyn Array> {
            PrimitiveArray::<T>::from(v).to(dtype.clone()).boxed()
        }
        self.data
            .iter()
            .zip(fields)
            .map(|(d, f)| {
                let t = &f.dtype;
                Ok(match d {
                    ColumnData::Str(c) => c.arrow(t)?,
                    ColumnData::U64(v) => (prim(v, t), get_dtype_encoding(t)),
                    ColumnData::I64(v) => (prim(v, t), get_dtype_encoding(t)),
                    ColumnData::F64(v) => (prim(v, t), get_dtype_encoding(t)),
                    ColumnData::Time(v) => (prim(v, t), get_dtype_encoding(t)),
                    ColumnData::Bool(v) => (
                        BooleanArray::from(v.as_slice()).boxed(),
                        get_dtype_encoding(t),
                    ),
                })
            })
            .collect()
    }

    pub fn finish(self, name: &'static str, title: &'static str) -> PolarsResult<Tab> {
        Ok(Tab {
            name,
            title,
            columns: self.cols.iter().map(|(n, _)| *n).collect(),
            frame: self.to_dataframe()?,
        })
    }

    /// The header line of the frame's CSV.
    pub(super) fn csv_header(&self, out: &mut Vec<u8>) {
        for (i, (name, _)) in self.cols.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_text(name, out);
        }
        out.push(b'\n');
    }

    /// The rows as CSV, as [`write_dir`] writes a table: text made safe ([`csv_cell_into`])
    /// and quoted when it must be (an empty text as `""`, told from a null), times as RFC 3339
    /// UTC, figures in their shortest exact form, nulls empty. Written straight from the
    /// columns, without a DataFrame (`csv_is_written_as_polars_writes_it` holds both to one
    /// output).
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        let mut texts: Vec<_> = self
            .data
            .iter()
            .map(|c| match c {
                ColumnData::Str(t) => Some(t.iter()),
                _ => None,
            })
            .collect();
        let mut cell = String::new();
        let mut num = itoa::Buffer::new();
        let mut float = zmij::Buffer::new();
        for r in 0..self.height {
            for (i, (col, text)) in self.data.iter().zip(texts.iter_mut()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match col {
                    ColumnData::Str(_) => {
                        if let Some(Some(v)) = text.as_mut().and_then(Iterator::next) {
                            if plain_csv_text(v) {
                                out.extend_from_slice(v.as_bytes());
                            } else {
                                cell.clear();
                                csv_cell_into(v, &mut cell);
                                csv_text(&cell, out);
                            }
                        }
                    }
                    ColumnData::U64(c) => {
                        if let Some(n) = c[r] {
                            out.extend_from_slice(num.format(n).as_bytes());
                        }
                    }
                    ColumnData::I64(c) => {
                        if let Some(n) = c[r] {
                            out.extend_from_slice(num.format(n).as_bytes());
                        }
                    }
                    ColumnData::F64(c) => {
                        if let Some(x) = c[r] {
                            out.extend_from_slice(float.format(x).as_bytes());
                        }
                    }
                    ColumnData::Bool(c) => {
                        if let Some(b) = c[r] {
                            out.extend_from_slice(if b { b"true" } else { b"false" });
                        }
                    }
                    ColumnData::Time(c) => {
                        if let Some(t) = c[r] {
                            Ts(t).push_text(out);
                        }
                    }
                }
            }
            out.push(b'\n');
        }
    }
}

/// A text that [`csv_cell_into`] and [`csv_text`] would write as it is: not empty, no byte they
/// escape or quote for, not starting like a formula. Most cells are (one scan, no copy).
fn plain_csv_text(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with(['=', '+', '-', '@'])
        && v.bytes().all(|b| !CSV_SPECIAL[usize::from(b)])
}

/// The bytes [`plain_csv_text`] looks for, as a table (one load a byte instead of eight
/// comparisons: the messages table's CSV scans every text cell of every row): the bytes of
/// [`super::may_be_unsafe`] (C0 controls, DEL, the first bytes of C1 controls, U+061C and the
/// U+20xx controls), the comma and the quote.
static CSV_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[0x7f] = true;
    t[0xc2] = true;
    t[0xd8] = true;
    t[0xe2] = true;
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t
};

/// A CSV field as polars quotes one: as [`csv_field_into`] does, and an empty text as `""` (an
/// empty field is a null).
fn csv_text(v: &str, out: &mut Vec<u8>) {
    if v.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        csv_field_into(v, out);
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

/// How every Parquet file sipscope writes is compressed: Snappy, the codec pyarrow, Spark and
/// DuckDB write by default (every Parquet reader reads it). zstd at level 1 made files about a
/// third smaller but cost 3.1 % of the report's instructions more (callgrind, 60,000 frames of
/// SIP-only traffic; a new zstd context for every page), and the report's Parquet files are a
/// small part of its directory beside the CSV (docs/PERFORMANCE.md has the sizes).
pub(super) fn parquet_compression() -> polars::prelude::ParquetCompression {
    polars::prelude::ParquetCompression::Snappy
}

/// The options of the row groups a [`super::sink::TableSink`] writes itself: polars' own
/// (`ParquetWriter::materialize_options`) with [`parquet_compression`].
pub(super) fn parquet_write_options() -> polars_parquet::write::WriteOptions {
    polars_parquet::write::WriteOptions {
        statistics: polars_parquet::write::StatisticsOptions::default(),
        compression: parquet_compression().into(),
        version: polars_parquet::write::Version::V1,
        data_page_size: None,
    }
}

pub(super) fn polars_err(e: polars::prelude::PolarsError) -> OutputError {
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
                    .with_compression(parquet_compression())
                    .finish(&mut t.frame)
                    .map_err(polars_err)?;
            }
        }
        f.flush()?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sink::TableSink;
    use polars::prelude::{ParquetReader, SerReader};

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

    /// The report's CSV is written straight from the columns; `write_dir` has polars write it.
    /// Both must give the same bytes for any value: text that needs quotes, an empty text told
    /// from a null, figures at the edges of their range, times before 1970.
    /// A text written as it is ([`plain_csv_text`]) is what the escaping and quoting would write.
    #[test]
    fn plain_cells_are_what_the_full_path_writes() {
        let texts = [
            "plain",
            "sip:alice@example.com",
            "a b",
            "ünï 中文",
            "-1",
            "=x",
            "@x",
            "+1",
            "a,b",
            "q\"",
            "",
            "tab\t",
            "\u{202e}x",
            "\u{a0}nbsp",
            "2026-12-04T10:00:00Z",
            "x-y",
        ];
        for t in texts {
            let mut cell = String::new();
            csv_cell_into(t, &mut cell);
            let mut full = Vec::new();
            csv_text(&cell, &mut full);
            if plain_csv_text(t) {
                assert_eq!(full, t.as_bytes(), "{t:?}");
            }
        }
        assert!(plain_csv_text("plain") && plain_csv_text("x-y"));
        assert!(!plain_csv_text("-1") && !plain_csv_text("a,b") && !plain_csv_text(""));
    }

    #[test]
    fn csv_is_written_as_polars_writes_it() {
        let texts: [Option<&str>; 14] = [
            Some(""),
            None,
            Some("a,b"),
            Some("q\"uote"),
            Some("\"\""),
            Some("line\nbreak\r"),
            Some("=1+1"),
            Some("-1.5"),
            Some("  lead and trail  "),
            Some("ünï 中文"),
            Some("\u{202e}\u{9b}\x1b"),
            Some("@x"),
            Some("plain"),
            Some("\t"),
        ];
        let floats = [
            0.0,
            -0.0,
            1e-7,
            1e21,
            123_456_789.123,
            0.1 + 0.2,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            -2.5,
            1e15,
            0.003383,
        ];
        let cols = vec![
            ("text", Kind::Str),
            ("x", Kind::F64),
            ("u", Kind::U64),
            ("i", Kind::I64),
            ("b", Kind::Bool),
            ("t", Kind::Time),
            ("more", Kind::Str),
        ];
        let mut f = Frame::new(cols.clone());
        for (k, (t, x)) in texts.iter().zip(floats).enumerate() {
            f.row(vec![
                Value::Str(t.map(Into::into)),
                Value::F64((k != 4).then_some(x)),
                Value::U64([Some(0), Some(u64::MAX), None][k % 3]),
                Value::I64([Some(i64::MIN), Some(-1), None, Some(42)][k % 4]),
                Value::Bool([Some(true), Some(false), None][k % 3]),
                Value::Time(
                    [
                        Some(Ts(0)),
                        Some(Ts(-1_500)),
                        None,
                        Some(Ts(1_700_000_000_123_456_789)),
                    ][k % 4],
                ),
                Value::Str(texts[texts.len() - 1 - k].map(Into::into)),
            ]);
        }
        let mut ours = Vec::new();
        f.csv_header(&mut ours);
        f.write_csv(&mut ours);
        let mut theirs = Vec::new();
        CsvWriter::new(&mut theirs)
            .include_header(true)
            .finish(&mut for_csv(&f.to_dataframe().unwrap()).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
        // An emptied frame filled again writes the same.
        let mut again = Frame::new(cols);
        again.append(&f);
        let mut a = Vec::new();
        again.write_csv(&mut a);
        again.clear();
        again.append(&f);
        let mut b = Vec::new();
        again.write_csv(&mut b);
        assert_eq!(a, b);
        assert_eq!(again.len(), texts.len());
    }
}
