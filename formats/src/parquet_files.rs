//! Parquet files: planned into row groups (those whose statistics rule the
//! read's filters out are dropped), and row groups read into rows with only
//! the columns the read needs.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use bytes::Bytes;
use futures::FutureExt;
use futures::StreamExt;
use futures::future::BoxFuture;
use object_store::ObjectStoreExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStream};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use spindle_frame::BatchWriter;
use spindle_frame::row::{RowWriter, Value, value_at};
use spindle_proto::{CompareOp, TableRead, scalar};
use spindle_store::Object;

use crate::arrow_rows::{readable, scalar_at, write_value};
use crate::filter::{parts, row_group_may_match, satisfies};
use crate::{FormatError, Place};

/// A reader of a Parquet file: a host file or an object.
pub type FileReader = Box<dyn AsyncFileReader>;

/// Opens `name` (a host path, or the URL of `object`) of `size` bytes for reading.
pub async fn open(name: &str, size: u64, object: Option<&Object>) -> Result<FileReader, FormatError> {
    Ok(match object {
        Some(o) => Box::new(ObjectReader { object: o.clone(), size }),
        None => Box::new(
            tokio::fs::File::open(name)
                .await
                .map_err(|e| FormatError::Read { file: name.into(), reason: e.to_string() })?,
        ),
    })
}

/// Ranged GETs of an object of known size, for the Parquet reader.
struct ObjectReader {
    object: Object,
    size: u64,
}

fn store_error(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move { self.object.store().get_range(&self.object.path, range).await.map_err(store_error) }.boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move { self.object.store().get_ranges(&self.object.path, &ranges).await.map_err(store_error) }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let meta =
                ParquetMetaDataReader::new().with_arrow_reader_options(options).load_and_finish(self, size).await?;
            Ok(Arc::new(meta))
        }
        .boxed()
    }
}

/// A file's row groups a read needs.
#[derive(Debug, Clone)]
pub struct Planned {
    /// (index, compressed bytes) of every row group that may hold a matching row.
    pub groups: Vec<(u32, u64)>,
    /// Row groups the statistics ruled out.
    pub skipped_groups: usize,
    pub schema: SchemaRef,
}

/// Reads `name`'s footer and picks the row groups `read` needs; refuses a read
/// naming a column the file does not have, or one of a type Spindle cannot
/// convert yet.
pub async fn plan(name: &str, mut reader: FileReader, read: &TableRead) -> Result<Planned, FormatError> {
    let meta = ArrowReaderMetadata::load_async(&mut reader, Default::default())
        .await
        .map_err(|e| FormatError::Read { file: name.into(), reason: format!("not a readable Parquet file: {e}") })?;
    let schema = meta.schema().clone();
    let needed = needed_columns(&schema, read).map_err(|e| FormatError::Options(format!("{name}: {e}")))?;
    for i in needed {
        let field = schema.field(i);
        if !readable(field.data_type()) {
            return Err(FormatError::Options(format!(
                "{name}: column `{}` has type {}, which Spindle cannot read yet: leave it out with `columns`",
                field.name(),
                field.data_type()
            )));
        }
    }
    let mut groups = Vec::new();
    let mut skipped_groups = 0;
    for (i, group) in meta.metadata().row_groups().iter().enumerate() {
        if row_group_may_match(group, &read.filters) {
            groups.push((i as u32, group.compressed_size().max(0) as u64));
        } else {
            skipped_groups += 1;
        }
    }
    Ok(Planned { groups, skipped_groups, schema })
}

/// Indexes of the top-level columns a read needs: its projection (or every
/// column) and its filters' columns.
fn needed_columns(schema: &SchemaRef, read: &TableRead) -> Result<Vec<usize>, String> {
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            format!("no column `{name}` (the columns: {})", names.join(", "))
        })
    };
    let mut needed: Vec<usize> =
        if read.columns.is_empty() { (0..schema.fields().len()).collect() } else { Vec::new() };
    for name in read.columns.iter().map(String::as_str).chain(read.filters.iter().map(|p| p.column.as_str())) {
        let i = index(name)?;
        if !needed.contains(&i) {
            needed.push(i);
        }
    }
    Ok(needed)
}

/// The rows of some row groups of one file.
pub struct ParquetRows {
    file: String,
    stream: ParquetRecordBatchStream<FileReader>,
    /// Output columns: (name, index in the projected batches).
    out: Vec<(String, usize)>,
    /// Each output column's name as the row encoding writes it.
    names: Vec<Vec<u8>>,
    filters: Vec<(usize, CompareOp, scalar::Value)>,
    /// (first row in the file, rows) of each row group read, in order.
    groups: Vec<(u64, u64)>,
    /// Rows of the stream already seen, and the batch being read from.
    seen: u64,
    batch: Option<(RecordBatch, usize)>,
    pub records: u64,
}

impl ParquetRows {
    /// Starts reading the row groups `read.row_groups` of `name`.
    pub async fn open(name: &str, reader: FileReader, read: &TableRead) -> Result<Self, FormatError> {
        let failed = |e: parquet::errors::ParquetError| FormatError::Read { file: name.into(), reason: e.to_string() };
        let builder = ParquetRecordBatchStreamBuilder::new(reader).await.map_err(failed)?;
        let schema = builder.schema().clone();
        let needed = needed_columns(&schema, read).map_err(|e| FormatError::Options(format!("{name}: {e}")))?;
        let mut sorted = needed.clone();
        sorted.sort_unstable();
        // Projected batches hold the needed columns in file order.
        let at = |file_index: usize| sorted.iter().position(|&j| j == file_index).expect("a needed column");
        let names: Vec<String> = if read.columns.is_empty() {
            schema.fields().iter().map(|f| f.name().clone()).collect()
        } else {
            read.columns.clone()
        };
        let out: Vec<(String, usize)> =
            names.into_iter().map(|n| (n.clone(), at(schema.index_of(&n).expect("checked")))).collect();
        let names = out
            .iter()
            .map(|(n, _)| {
                let mut encoded = Vec::new();
                RowWriter::new(&mut encoded).name(n);
                encoded
            })
            .collect();
        let mut filters = Vec::new();
        for p in &read.filters {
            let (column, op, value) = parts(p).map_err(FormatError::Options)?;
            filters.push((at(schema.index_of(column).expect("checked")), op, value.clone()));
        }
        let meta = builder.metadata().clone();
        let mut firsts = Vec::with_capacity(meta.num_row_groups());
        let mut first = 0u64;
        for g in meta.row_groups() {
            firsts.push(first);
            first += g.num_rows().max(0) as u64;
        }
        let mut groups = Vec::new();
        for &g in &read.row_groups {
            let g = g as usize;
            if g >= meta.num_row_groups() {
                return Err(FormatError::Read {
                    file: name.into(),
                    reason: format!(
                        "it has {} row groups, not {} (did it change since the job started?)",
                        meta.num_row_groups(),
                        g + 1
                    ),
                });
            }
            groups.push((firsts[g], meta.row_group(g).num_rows().max(0) as u64));
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
        let stream = builder
            .with_row_groups(read.row_groups.iter().map(|&g| g as usize).collect())
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .map_err(failed)?;
        Ok(ParquetRows { file: name.into(), stream, out, names, filters, groups, seen: 0, batch: None, records: 0 })
    }

    /// The file row of the `n`th row of the stream.
    fn file_row(&self, n: u64) -> u64 {
        let mut left = n;
        for &(first, rows) in &self.groups {
            if left < rows {
                return first + left;
            }
            left -= rows;
        }
        n
    }

    /// The next batch of rows (about `batch_bytes`), `None` at the end.
    pub async fn next_batch(&mut self, batch_bytes: usize) -> Result<Option<Vec<u8>>, FormatError> {
        let mut out = BatchWriter::with_capacity(batch_bytes + 4096);
        let mut row = Vec::with_capacity(256);
        let mut cell = Vec::with_capacity(32);
        while out.len() < batch_bytes {
            let (batch, mut next) = match self.batch.take() {
                Some((batch, next)) if next < batch.num_rows() => (batch, next),
                _ => match self.stream.next().await {
                    Some(Ok(batch)) => (batch, 0),
                    Some(Err(e)) => return Err(FormatError::Read { file: self.file.clone(), reason: e.to_string() }),
                    None => break,
                },
            };
            // The columns resolved once a batch: most rows then cost no downcast.
            let columns: Vec<Column<'_>> = batch.columns().iter().map(|c| Column::of(c.as_ref())).collect();
            while next < batch.num_rows() && out.len() < batch_bytes {
                let i = next;
                next += 1;
                let n = self.seen;
                self.seen += 1;
                self.records += 1;
                let bad = |this: &Self, column: Option<&str>, reason: String| FormatError::BadRow {
                    file: this.file.clone(),
                    at: Place::Row(this.file_row(n)),
                    column: column.map(str::to_string),
                    reason,
                };
                let mut keep = true;
                for (col, op, with) in &self.filters {
                    let holds = match columns[*col].scalar(i) {
                        Some(v) => satisfies(&v, *op, with),
                        None => {
                            scalar_at(columns[*col].array, i, &mut cell).map_err(|r| bad(self, None, r))?;
                            value_at(&cell).is_ok_and(|(v, _)| satisfies(&v, *op, with))
                        }
                    };
                    if !holds {
                        keep = false;
                        break;
                    }
                }
                if !keep {
                    continue;
                }
                row.clear();
                let mut w = RowWriter::new(&mut row);
                w.begin(self.out.len());
                for ((name, col), encoded) in self.out.iter().zip(&self.names) {
                    w.encoded(encoded);
                    match columns[*col].scalar(i) {
                        Some(v) => w.value(&v),
                        None => write_value(columns[*col].array, i, &mut w).map_err(|r| bad(self, Some(name), r))?,
                    }
                }
                out.push(None, &row);
            }
            self.batch = Some((batch, next));
        }
        if out.is_empty() { Ok(None) } else { Ok(Some(out.finish())) }
    }
}

/// An Arrow column, downcast once when it is of a common type.
struct Column<'a> {
    array: &'a dyn Array,
    fast: Fast<'a>,
}

enum Fast<'a> {
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Str(&'a StringArray),
    Bool(&'a BooleanArray),
    Other,
}

impl<'a> Column<'a> {
    fn of(array: &'a dyn Array) -> Self {
        let any = array.as_any();
        let fast = if let Some(a) = any.downcast_ref::<Int64Array>() {
            Fast::Int(a)
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            Fast::Float(a)
        } else if let Some(a) = any.downcast_ref::<StringArray>() {
            Fast::Str(a)
        } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
            Fast::Bool(a)
        } else {
            Fast::Other
        };
        Column { array, fast }
    }

    /// The value at `i` of a column of a common type; `None` for other types.
    #[inline]
    fn scalar(&self, i: usize) -> Option<Value<'a>> {
        if matches!(self.fast, Fast::Other) {
            return None;
        }
        if self.array.is_null(i) {
            return Some(Value::Null);
        }
        Some(match self.fast {
            Fast::Int(a) => Value::Int(a.value(i)),
            Fast::Float(a) => Value::Float(a.value(i)),
            Fast::Str(a) => Value::Str(a.value(i)),
            Fast::Bool(a) => Value::Bool(a.value(i)),
            Fast::Other => unreachable!("returned above"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::ParquetWriter;
    use spindle_frame::BatchReader;
    use spindle_frame::row::RowReader;
    use spindle_proto::{Predicate, Scalar, TableFormat, TableWrite};

    fn row(id: i64, name: Option<&str>, fare: f64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = RowWriter::new(&mut out);
        w.begin(3);
        w.name("id");
        w.int(id);
        w.name("name");
        match name {
            Some(n) => w.str(n),
            None => w.null(),
        }
        w.name("fare");
        w.float(fare);
        out
    }

    #[tokio::test]
    async fn rows_written_as_parquet_read_back_projected_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let name = path.to_str().unwrap();
        let table = TableWrite { format: TableFormat::Parquet as i32, ..Default::default() };
        let file = tokio::fs::File::create(&path).await.unwrap();
        let mut writer = ParquetWriter::new(name, &table, file);
        let mut batch = BatchWriter::default();
        for i in 0..3000 {
            batch.push(None, &row(i, (i % 2 == 0).then_some("even"), i as f64 / 2.0));
        }
        writer.write(&batch.finish()).await.unwrap();
        assert_eq!(writer.finish().await.unwrap(), 3000);

        let size = std::fs::metadata(&path).unwrap().len();
        let read = TableRead {
            format: TableFormat::Parquet as i32,
            columns: vec!["name".into(), "id".into()],
            filters: vec![Predicate {
                column: "fare".into(),
                op: CompareOp::Ge as i32,
                value: Some(Scalar { value: Some(scalar::Value::Float(1499.0)) }),
            }],
            ..Default::default()
        };
        let planned = plan(name, open(name, size, None).await.unwrap(), &read).await.unwrap();
        assert_eq!(planned.groups.len(), 1);
        let read = TableRead { row_groups: vec![0], ..read };
        let mut rows = ParquetRows::open(name, open(name, size, None).await.unwrap(), &read).await.unwrap();
        let mut got = Vec::new();
        while let Some(batch) = rows.next_batch(1 << 16).await.unwrap() {
            for rec in BatchReader::new(&batch) {
                let fields: Vec<_> =
                    RowReader::new(rec.unwrap().value).unwrap().map(|f| format!("{:?}", f.unwrap())).collect();
                got.push(fields.join(" "));
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], "(\"name\", Str(\"even\")) (\"id\", Int(2998))");
        assert_eq!(got[1], "(\"name\", Null) (\"id\", Int(2999))");
        assert_eq!(rows.records, 3000);

        let read = TableRead { columns: vec!["nope".into()], ..read };
        let e = plan(name, open(name, size, None).await.unwrap(), &read).await.unwrap_err().to_string();
        assert!(e.contains("no column `nope` (the columns: id, name, fare)"), "{e}");
    }
}
