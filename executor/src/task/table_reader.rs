//! A split of a table (CSV, JSON lines, Parquet) read into rows: batches of
//! unkeyed records whose values are rows in the row encoding.

use spindle_formats::lines::LineTable;
use spindle_formats::parquet_files::{self, ParquetRows};
use spindle_frame::BatchWriter;
use spindle_proto::{TableFormat, TableRead, TextSplit};
use spindle_store::Object;

use super::text_reader::TextReader;
use crate::ExecutorError;

/// Where the rows come from.
enum Rows {
    /// Lines of a CSV or JSON lines split, parsed here.
    Lines { text: TextReader, table: LineTable },
    /// Row groups of a Parquet file, opened at the first batch.
    Parquet { name: String, size: u64, object: Option<Object>, read: TableRead, rows: Option<ParquetRows> },
}

pub struct TableReader {
    rows: Rows,
    batch_bytes: usize,
    /// The accumulator permissive mode counts skipped rows in.
    skipped_accumulator: Option<u64>,
    logged_skip: bool,
}

impl TableReader {
    /// A reader of `split` (which has its `table`), from `object` when it is in
    /// an object store.
    pub fn new(split: &TextSplit, object: Option<Object>, batch_bytes: usize) -> Result<Self, ExecutorError> {
        let read =
            split.table.clone().ok_or_else(|| ExecutorError::BadSpec("a table split without its table".into()))?;
        let skipped_accumulator = read.skipped_accumulator;
        let rows = match read.format() {
            TableFormat::Parquet => {
                Rows::Parquet { name: split.path.clone(), size: split.end, object, read, rows: None }
            }
            TableFormat::Csv | TableFormat::JsonLines => {
                let mut text = TextReader::with_options(split, batch_bytes);
                if let Some(object) = object {
                    text = text.in_store(object);
                }
                let table = LineTable::new(&split.path, &read, split.start == 0)?;
                Rows::Lines { text, table }
            }
        };
        Ok(TableReader { rows, batch_bytes, skipped_accumulator, logged_skip: false })
    }

    /// The next batch of rows, `None` at the end.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        let batch = match &mut self.rows {
            Rows::Lines { text, table } => {
                let mut out = BatchWriter::with_capacity(self.batch_bytes + 4096);
                while out.len() < self.batch_bytes {
                    let Some(run) = text.next_lines().await? else { break };
                    table.rows(&run, text.run_offset, &mut out)?;
                }
                if !self.logged_skip
                    && let Some(e) = &table.first_skipped
                {
                    self.logged_skip = true;
                    tracing::warn!(error = %e, "skipping malformed rows (permissive mode); the first one");
                }
                if out.is_empty() { None } else { Some(out.finish()) }
            }
            Rows::Parquet { name, size, object, read, rows } => {
                if rows.is_none() {
                    let reader = parquet_files::open(name, *size, object.as_ref()).await?;
                    *rows = Some(ParquetRows::open(name, reader, read).await?);
                }
                rows.as_mut().expect("opened").next_batch(self.batch_bytes).await?
            }
        };
        Ok(batch)
    }

    /// Rows (lines, for CSV and JSON lines) read so far.
    pub fn records(&self) -> u64 {
        match &self.rows {
            Rows::Lines { text, .. } => text.records,
            Rows::Parquet { rows, .. } => rows.as_ref().map_or(0, |r| r.records),
        }
    }

    /// The accumulator skipped rows go to, and how many were skipped.
    pub fn skipped(&self) -> Option<(u64, u64)> {
        let skipped = match &self.rows {
            Rows::Lines { table, .. } => table.skipped,
            Rows::Parquet { .. } => 0,
        };
        self.skipped_accumulator.map(|id| (id, skipped))
    }
}
