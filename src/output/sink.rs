//! A table written to disk as its rows come ([`TableSink`]): the report's and `tables`' Parquet
//! and CSV files, and a dataset's parts. Rows are filled into [`Frame`] batches on the caller's
//! thread; a thread of the sink's own writes them.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use polars::prelude::ParquetWriter;

use super::frame::{polars_err, Frame, Kind, Value};
use super::OutputError;

/// Rows after this many go to the table's writer as one batch. 2048 rather than 4096: the
/// batches in flight (one filling, two queued, one being written, one sent back) are half the
/// size, and a report ran faster with them (13.0 s against 13.8 s on the 1 GiB SIP-only bench
/// capture, three runs each).
const SINK_BATCH: usize = 2048;

/// Batches are gathered into one Parquet row group until they hold this much (the bytes of
/// their cells), or [`GROUP_ROWS`] rows. The writer keeps every page's header and statistics
/// until the footer is written, about 45 KB per row group of the messages table: with one row
/// group per batch that grew by 30 MB over 2.7 million messages. A group is held twice while
/// it is written (the rows, then the Arrow columns made of them): 2 MiB groups (6,000 rows of
/// the messages table) brought the report's peak down by 6 MiB from 4 MiB groups, for an
/// estimated 6 MB more metadata (145 more groups) at the end of a 1.77 M-message run.
const GROUP_BYTES: usize = 2 << 20;
const GROUP_ROWS: usize = 1 << 20;

/// A table written as it grows, in Parquet and CSV at once: rows are buffered into batches of
/// [`SINK_BATCH`] and batches into row groups of [`GROUP_BYTES`], so memory stays bounded
/// however many rows come. CSV gets times as RFC 3339 text and safe text ([`Frame::write_csv`]),
/// like [`super::frame::write_dir`]; Parquet the exact values.
///
/// The caller only fills batches; a thread of the sink's own writes both files from them, so a
/// report's single sink thread does not also encode Parquet and CSV. At most two batches wait
/// for it, and it sends each batch back emptied, to be filled again.
pub struct TableSink {
    cols: Vec<(&'static str, Kind)>,
    buf: Frame,
    tx: Option<crossbeam_channel::Sender<Frame>>,
    /// Batches the writer is done with.
    back: crossbeam_channel::Receiver<Frame>,
    writer: Option<std::thread::JoinHandle<Result<(), OutputError>>>,
    pub rows: u64,
}

/// The writing half of a [`TableSink`], on its own thread.
struct SinkWriter {
    /// Rows waiting to be one row group.
    group: Frame,
    parquet: polars::io::parquet::write::BatchedWriter<std::io::BufWriter<File>>,
    /// The Arrow fields and Parquet types of the columns, for the row groups written from
    /// [`Frame`]s (the file's schema, read once).
    fields: Vec<polars_arrow::datatypes::Field>,
    types: Vec<polars_parquet::write::ParquetType>,
    /// None for a Parquet-only sink.
    csv: Option<std::io::BufWriter<File>>,
    text: Vec<u8>,
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
        let group = Frame::new(cols.clone());
        let file = File::create(parquet_path)?;
        let mut parquet = ParquetWriter::new(std::io::BufWriter::new(file))
            .with_compression(super::frame::parquet_compression())
            .batched(group.to_dataframe().map_err(polars_err)?.schema())
            .map_err(polars_err)?;
        let types = parquet.parquet_schema().fields().to_vec();
        let fields = parquet
            .get_writer()
            .lock()
            .map_err(|_| OutputError::Io(std::io::Error::other("the Parquet writer failed")))?
            .schema()
            .iter_values()
            .cloned()
            .collect();
        // The CSV file exists (with its header) even when no row comes.
        let csv = match csv_path {
            Some(p) => {
                let mut f = std::io::BufWriter::new(File::create(p)?);
                let mut header = Vec::new();
                group.csv_header(&mut header);
                f.write_all(&header)?;
                Some(f)
            }
            None => None,
        };
        let mut w = SinkWriter {
            group,
            parquet,
            fields,
            types,
            csv,
            text: Vec::new(),
        };
        let (tx, rx) = crossbeam_channel::bounded::<Frame>(2);
        let (back_tx, back) = crossbeam_channel::bounded::<Frame>(1);
        let writer = std::thread::Builder::new()
            .name(format!("table-{name}"))
            .spawn(move || {
                for mut f in rx {
                    w.write(&f)?;
                    f.clear();
                    // The filler may have made a new one meanwhile: then this one goes.
                    let _ = back_tx.try_send(f);
                }
                w.finish()
            })?;
        Ok(TableSink {
            buf: Frame::with_capacity(cols.clone(), SINK_BATCH),
            cols,
            tx: Some(tx),
            back,
            writer: Some(writer),
            rows: 0,
        })
    }

    pub fn row(&mut self, row: Vec<Value<'_>>) -> Result<(), OutputError> {
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
        let next = self
            .back
            .try_recv()
            .unwrap_or_else(|_| Frame::with_capacity(self.cols.clone(), SINK_BATCH));
        let buf = std::mem::replace(&mut self.buf, next);
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
    fn write(&mut self, batch: &Frame) -> Result<(), OutputError> {
        if let Some(csv) = &mut self.csv {
            self.text.clear();
            batch.write_csv(&mut self.text);
            csv.write_all(&self.text)?;
        }
        self.group.append(batch);
        if self.group.size() >= GROUP_BYTES || self.group.len() >= GROUP_ROWS {
            self.write_group()?;
        }
        Ok(())
    }

    /// Writes the gathered rows as one row group.
    fn write_group(&mut self) -> Result<(), OutputError> {
        if self.group.is_empty() {
            return Ok(());
        }
        use polars_parquet::read::ParquetError;
        use polars_parquet::write::{
            array_to_columns, Compressor, DynIter, DynStreamingIterator, FallibleStreamingIterator,
        };
        let options = super::frame::parquet_write_options();
        let rows = self.group.len() as u64;
        let mut file = self
            .parquet
            .get_writer()
            .lock()
            .map_err(|_| OutputError::Io(std::io::Error::other("the Parquet writer failed")))?;
        let arrays = self.group.arrow_columns(&self.fields).map_err(polars_err)?;
        self.group.clear();
        let mut columns = Vec::with_capacity(arrays.len());
        for ((array, encoding), t) in arrays.iter().zip(&self.types) {
            for pages in
                array_to_columns(array, t.clone(), options, encoding).map_err(polars_err)?
            {
                let pages =
                    pages.map(|p| p.map_err(|e| ParquetError::FeatureNotSupported(format!("{e}"))));
                let compressed = Compressor::new_from_vec(pages, options.compression, Vec::new())
                    .map_err(polars::prelude::PolarsError::from);
                columns.push(Ok(DynStreamingIterator::new(compressed)));
            }
        }
        file.write(rows, DynIter::new(columns.into_iter()))
            .map_err(polars_err)
    }

    fn finish(mut self) -> Result<(), OutputError> {
        self.write_group()?;
        self.parquet.finish().map_err(polars_err)?;
        if let Some(mut csv) = self.csv.take() {
            csv.flush()?;
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
        // Every column chunk in Snappy (frame::parquet_compression).
        let meta = ParquetReader::new(File::open(dir.join("small.parquet")).unwrap())
            .get_metadata()
            .unwrap()
            .clone();
        for g in &meta.row_groups {
            for c in g.parquet_columns() {
                assert_eq!(format!("{:?}", c.compression()), "Snappy");
            }
        }
        // Rows sized so that a group holds about four batches; ten batches make two or three
        // groups.
        let mut big = TableSink::create(&dir, "big", cols).unwrap();
        let text = "a".repeat(GROUP_BYTES / SINK_BATCH / 4);
        for n in 0..40_000u64 {
            big.row(vec![
                Value::U64(Some(n)),
                Value::Str(Some(text.as_str().into())),
            ])
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

    /// The row groups written from the frames' own columns read back as the DataFrame of the
    /// same rows: repeating and distinct text (dictionary and plain), nulls, an all-null
    /// column, empty text, numbers, figures, flags and times, over several groups.
    #[test]
    fn row_groups_read_back_as_the_rows_written() {
        use crate::time::Ts;
        let dir = std::env::temp_dir().join(format!("sipscope-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cols = vec![
            ("method", Kind::Str),
            ("id", Kind::Str),
            ("none", Kind::Str),
            ("n", Kind::U64),
            ("d", Kind::I64),
            ("x", Kind::F64),
            ("ok", Kind::Bool),
            ("time", Kind::Time),
        ];
        let mut sink = TableSink::create(&dir, "t", cols.clone()).unwrap();
        let mut all = Frame::new(cols);
        let methods = ["INVITE", "ACK", "", "BYE", "é ünïcode"];
        for i in 0..30_000u64 {
            let row = || {
                vec![
                    Value::Str((i % 7 != 3).then(|| methods[(i % 5) as usize].into())),
                    Value::Str(Some(
                        format!("{i}-{}", "z".repeat((i % 300) as usize)).into(),
                    )),
                    Value::Str(None),
                    Value::U64((i % 11 != 0).then_some(i * 3)),
                    Value::I64(Some(-(i as i64))),
                    Value::F64(Some(if i % 13 == 0 {
                        f64::NAN
                    } else {
                        i as f64 / 7.0
                    })),
                    Value::Bool((i % 3 != 0).then_some(i % 2 == 0)),
                    Value::Time(Some(Ts(1_700_000_000_000_000_000 + i as i64 * 1_000))),
                ]
            };
            sink.row(row()).unwrap();
            all.row(row());
        }
        assert_eq!(sink.finish().unwrap(), 30_000);
        assert!(groups(&dir.join("t.parquet")).len() >= 2);
        let back = ParquetReader::new(File::open(dir.join("t.parquet")).unwrap())
            .finish()
            .unwrap();
        let want = all.to_dataframe().unwrap();
        // The file says the times are UTC (the schema the writer was made with); compared
        // here as their nanoseconds.
        assert_eq!(
            format!("{:?}", back.column("time").unwrap().dtype()),
            "Datetime('ns', 'UTC')"
        );
        let ns = |df: &polars::prelude::DataFrame| {
            df.column("time")
                .unwrap()
                .cast(&polars::prelude::DataType::Int64)
                .unwrap()
        };
        assert!(ns(&back).equals_missing(&ns(&want)));
        let (back, want) = (back.drop("time").unwrap(), want.drop("time").unwrap());
        assert_eq!(back.schema(), want.schema());
        assert!(back.equals_missing(&want), "{back:?}\n{want:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
