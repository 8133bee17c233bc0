//! Rows written as files: CSV and JSON lines as text (compressed, if at all, by
//! the caller), Parquet through Arrow's writer.

use std::io::Write as _;

use base64::Engine as _;
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use spindle_frame::BatchReader;
use spindle_frame::row::{RowReader, Value};
use spindle_proto::{Column, CsvOptions, ParquetCompression, TableFormat, TableWrite};

use crate::FormatError;
use crate::arrow_rows::{Columns, infer_schema};
use crate::values::byte;

/// Rows a Parquet part's schema is inferred from when none is given.
const INFER_ROWS: usize = 1024;
/// Rows per record batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

fn bad(file: &str, reason: impl std::fmt::Display) -> FormatError {
    FormatError::Write { file: file.into(), reason: reason.to_string() }
}

/// Rows as CSV or JSON lines text.
pub struct LineWriter {
    file: String,
    format: TableFormat,
    csv: CsvOptions,
    /// The CSV columns: given, or the first row's fields.
    columns: Vec<String>,
    header_done: bool,
    pub records: u64,
}

impl LineWriter {
    pub fn new(file: &str, table: &TableWrite) -> Self {
        LineWriter {
            file: file.into(),
            format: table.format(),
            csv: table.csv.clone().unwrap_or_default(),
            columns: table.schema.iter().map(|c| c.name.clone()).collect(),
            header_done: false,
            records: 0,
        }
    }

    /// The text of a batch of rows.
    pub fn text(&mut self, batch: &[u8]) -> Result<Vec<u8>, FormatError> {
        let mut text = Vec::with_capacity(batch.len() + batch.len() / 2);
        let mut csv = (self.format == TableFormat::Csv).then(|| {
            csv::WriterBuilder::new()
                .delimiter(byte(self.csv.delimiter, b','))
                .quote(byte(self.csv.quote, b'"'))
                .from_writer(Vec::new())
        });
        for rec in BatchReader::new(batch) {
            let rec = rec.map_err(|e| bad(&self.file, e))?;
            let row = RowReader::new(rec.value).map_err(|e| bad(&self.file, e))?;
            match &mut csv {
                Some(w) => {
                    if self.columns.is_empty() {
                        self.columns = row.flatten().map(|(n, _)| n.to_string()).collect();
                    }
                    if !self.header_done {
                        self.header_done = true;
                        if self.csv.header {
                            w.write_record(&self.columns).map_err(|e| bad(&self.file, e))?;
                        }
                    }
                    let fields =
                        csv_fields(row, &self.columns, &self.csv.null_value).map_err(|e| bad(&self.file, e))?;
                    w.write_record(&fields).map_err(|e| bad(&self.file, e))?;
                }
                None => {
                    json_row(row, &mut text).map_err(|e| bad(&self.file, e))?;
                    text.push(b'\n');
                }
            }
            self.records += 1;
        }
        if let Some(w) = csv {
            text = w.into_inner().map_err(|e| bad(&self.file, e))?;
        }
        Ok(text)
    }

    /// What an empty part holds: a CSV header when one is asked for and the
    /// columns are known.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.format == TableFormat::Csv && self.csv.header && !self.header_done && !self.columns.is_empty() {
            self.header_done = true;
            let mut w = csv::WriterBuilder::new().delimiter(byte(self.csv.delimiter, b',')).from_writer(Vec::new());
            if w.write_record(&self.columns).is_ok() {
                return w.into_inner().unwrap_or_default();
            }
        }
        Vec::new()
    }
}

/// A row's fields in `columns`' order as CSV fields.
fn csv_fields(row: RowReader<'_>, columns: &[String], null: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut fields = vec![null.as_bytes().to_vec(); columns.len()];
    for (n, field) in row.enumerate() {
        let (name, value) = field.map_err(|e| e.to_string())?;
        let at = if columns.get(n).is_some_and(|c| c == name) {
            n
        } else {
            columns.iter().position(|c| c == name).ok_or_else(|| {
                format!("a row has a field `{name}` that is not among the columns ({})", columns.join(", "))
            })?
        };
        fields[at] = match value {
            Value::Null => null.as_bytes().to_vec(),
            Value::Bool(b) => b.to_string().into_bytes(),
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Float(f) => f.to_string().into_bytes(),
            Value::Str(s) => s.as_bytes().to_vec(),
            Value::Bytes(b) => b.to_vec(),
            Value::List(_) | Value::Struct(_) => {
                return Err(format!(
                    "column `{name}` holds a list or nested row: CSV holds scalars only (use JSON lines)"
                ));
            }
        };
    }
    Ok(fields)
}

/// A row as one JSON object, its fields in order.
fn json_row(row: RowReader<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    out.push(b'{');
    for (n, field) in row.enumerate() {
        let (name, value) = field.map_err(|e| e.to_string())?;
        if n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name).map_err(|e| e.to_string())?;
        out.push(b':');
        json_value(&value, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn json_value(v: &Value<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => write!(out, "{i}").map_err(|e| e.to_string())?,
        // JSON has no NaN or infinity: they are written as null.
        Value::Float(f) if !f.is_finite() => out.extend_from_slice(b"null"),
        Value::Float(f) => serde_json::to_writer(&mut *out, f).map_err(|e| e.to_string())?,
        Value::Str(s) => serde_json::to_writer(&mut *out, s).map_err(|e| e.to_string())?,
        // Bytes as base64 text, as Spark writes binary columns to JSON.
        Value::Bytes(b) => serde_json::to_writer(&mut *out, &base64::engine::general_purpose::STANDARD.encode(b))
            .map_err(|e| e.to_string())?,
        Value::List(items) => {
            out.push(b'[');
            for (n, item) in items.enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                json_value(&item.map_err(|e| e.to_string())?, out)?;
            }
            out.push(b']');
        }
        Value::Struct(row) => json_row(*row, out)?,
    }
    Ok(())
}

/// Rows written as one Parquet file into `W`.
pub struct ParquetWriter<W: AsyncFileWriter> {
    file: String,
    props: WriterProperties,
    /// Rows held until the schema is known (none given: inferred from them).
    pending: Vec<Vec<u8>>,
    columns: Option<Columns>,
    sink: Option<W>,
    writer: Option<AsyncArrowWriter<W>>,
    pub records: u64,
}

impl<W: AsyncFileWriter> ParquetWriter<W> {
    pub fn new(file: &str, table: &TableWrite, sink: W) -> Self {
        let compression = match table.parquet_compression() {
            ParquetCompression::ParquetSnappy => Compression::SNAPPY,
            ParquetCompression::ParquetZstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::ParquetUncompressed => Compression::UNCOMPRESSED,
        };
        let props = WriterProperties::builder().set_compression(compression).build();
        let columns = (!table.schema.is_empty()).then(|| Columns::new(table.schema.clone()));
        ParquetWriter {
            file: file.into(),
            props,
            pending: Vec::new(),
            columns,
            sink: Some(sink),
            writer: None,
            records: 0,
        }
    }

    fn bad_row(&self, e: crate::arrow_rows::Unconvertible) -> FormatError {
        let column = if e.column.is_empty() { String::new() } else { format!("column `{}`: ", e.column) };
        bad(&self.file, format!("row {}: {column}{}", self.records, e.reason))
    }

    /// Fixes the schema from the rows held (when none was given) and starts the file.
    fn start(&mut self) -> Result<(), FormatError> {
        if self.columns.is_none() {
            let schema: Vec<Column> =
                infer_schema(self.pending.iter().map(Vec::as_slice)).map_err(|e| self.bad_row(e))?;
            self.columns = Some(Columns::new(schema));
        }
        let columns = self.columns.as_ref().expect("just set");
        let sink = self.sink.take().expect("started once");
        let writer = AsyncArrowWriter::try_new(sink, columns.schema().clone(), Some(self.props.clone()))
            .map_err(|e| bad(&self.file, e))?;
        self.writer = Some(writer);
        for row in std::mem::take(&mut self.pending) {
            self.push(&row)?;
        }
        Ok(())
    }

    fn push(&mut self, row: &[u8]) -> Result<(), FormatError> {
        let columns = self.columns.as_mut().expect("started");
        if let Err(e) = columns.push(row) {
            return Err(self.bad_row(e));
        }
        self.records += 1;
        Ok(())
    }

    async fn flush(&mut self, all: bool) -> Result<(), FormatError> {
        let columns = self.columns.as_mut().expect("started");
        if columns.rows() >= BATCH_ROWS || (all && columns.rows() > 0) {
            let batch = columns.batch();
            let writer = self.writer.as_mut().expect("started");
            writer.write(&batch).await.map_err(|e| bad(&self.file, e))?;
        }
        Ok(())
    }

    /// Takes a batch of rows.
    pub async fn write(&mut self, batch: &[u8]) -> Result<(), FormatError> {
        for rec in BatchReader::new(batch) {
            let rec = rec.map_err(|e| bad(&self.file, e))?;
            if self.writer.is_none() {
                self.pending.push(rec.value.to_vec());
                if self.columns.is_some() || self.pending.len() >= INFER_ROWS {
                    self.start()?;
                }
                continue;
            }
            self.push(rec.value)?;
            self.flush(false).await?;
        }
        Ok(())
    }

    /// Writes what is held and the footer, and completes the sink.
    pub async fn finish(mut self) -> Result<u64, FormatError> {
        if self.writer.is_none() {
            self.start()?;
        }
        self.flush(true).await?;
        let writer = self.writer.take().expect("started");
        writer.close().await.map_err(|e| bad(&self.file, e))?;
        Ok(self.records)
    }
}
