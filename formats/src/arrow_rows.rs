//! Arrow arrays read as row values, and rows gathered into Arrow arrays.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use spindle_frame::row::{RowReader, RowWriter, Value};
use spindle_proto::{Column, ColumnType};

/// Why a value could not be converted (the caller names the file and row).
pub(crate) struct Unconvertible {
    pub column: String,
    pub reason: String,
}

/// Whether Spindle reads Arrow type `t` into rows.
pub(crate) fn readable(t: &DataType) -> bool {
    use DataType as D;
    match t {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::FixedSizeBinary(_)
        | D::Date32
        | D::Date64
        | D::Timestamp(_, _)
        | D::Decimal128(_, _) => true,
        D::List(f) | D::LargeList(f) => readable(f.data_type()),
        D::Struct(fields) => fields.iter().all(|f| readable(f.data_type())),
        D::Dictionary(_, v) => matches!(**v, D::Utf8 | D::LargeUtf8),
        _ => false,
    }
}

/// Writes the value at `i` of `array` into `w`. Dates are days (date32) or
/// milliseconds (date64) since 1970-01-01, timestamps the count of their unit,
/// decimals their text.
pub(crate) fn write_value(array: &dyn Array, i: usize, w: &mut RowWriter<'_>) -> Result<(), String> {
    use DataType as D;
    if array.is_null(i) {
        w.null();
        return Ok(());
    }
    match array.data_type() {
        D::Null => w.null(),
        D::Boolean => w.bool(array.as_boolean().value(i)),
        D::Int8 => w.int(i64::from(array.as_primitive::<Int8Type>().value(i))),
        D::Int16 => w.int(i64::from(array.as_primitive::<Int16Type>().value(i))),
        D::Int32 => w.int(i64::from(array.as_primitive::<Int32Type>().value(i))),
        D::Int64 => w.int(array.as_primitive::<Int64Type>().value(i)),
        D::UInt8 => w.int(i64::from(array.as_primitive::<UInt8Type>().value(i))),
        D::UInt16 => w.int(i64::from(array.as_primitive::<UInt16Type>().value(i))),
        D::UInt32 => w.int(i64::from(array.as_primitive::<UInt32Type>().value(i))),
        D::UInt64 => {
            let v = array.as_primitive::<UInt64Type>().value(i);
            w.int(i64::try_from(v).map_err(|_| format!("{v} does not fit an int64"))?);
        }
        D::Float32 => w.float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        D::Float64 => w.float(array.as_primitive::<Float64Type>().value(i)),
        D::Utf8 => w.str(array.as_string::<i32>().value(i)),
        D::LargeUtf8 => w.str(array.as_string::<i64>().value(i)),
        D::Utf8View => w.str(array.as_string_view().value(i)),
        D::Binary => w.bytes(array.as_binary::<i32>().value(i)),
        D::LargeBinary => w.bytes(array.as_binary::<i64>().value(i)),
        D::BinaryView => w.bytes(array.as_binary_view().value(i)),
        D::FixedSizeBinary(_) => w.bytes(array.as_fixed_size_binary().value(i)),
        D::Date32 => w.int(i64::from(array.as_primitive::<Date32Type>().value(i))),
        D::Date64 => w.int(array.as_primitive::<Date64Type>().value(i)),
        D::Timestamp(unit, _) => w.int(match unit {
            TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
            TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
            TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
            TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
        }),
        D::Decimal128(_, _) => w.str(&array.as_primitive::<Decimal128Type>().value_as_string(i)),
        D::List(_) => {
            let items = array.as_list::<i32>().value(i);
            write_list(&*items, w)?;
        }
        D::LargeList(_) => {
            let items = array.as_list::<i64>().value(i);
            write_list(&*items, w)?;
        }
        D::Struct(fields) => {
            let s = array.as_struct();
            w.begin_struct(fields.len());
            for (f, child) in fields.iter().zip(s.columns()) {
                w.name(f.name());
                write_value(&**child, i, w)?;
            }
        }
        D::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            write_value(&**dict.values(), key, w)?;
        }
        t => return Err(format!("values of type {t} cannot be read yet")),
    }
    Ok(())
}

fn write_list(items: &dyn Array, w: &mut RowWriter<'_>) -> Result<(), String> {
    w.begin_list(items.len());
    for j in 0..items.len() {
        write_value(items, j, w)?;
    }
    Ok(())
}

/// The value at `i` of a scalar column, for filters (lists and structs: null).
pub(crate) fn scalar_at(array: &dyn Array, i: usize, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    write_value(array, i, &mut RowWriter::new(buf))
}

/// The Arrow type a column type is written as.
fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::ColumnBoolean => DataType::Boolean,
        ColumnType::ColumnInt64 => DataType::Int64,
        ColumnType::ColumnFloat64 => DataType::Float64,
        ColumnType::ColumnUtf8 => DataType::Utf8,
        ColumnType::ColumnBinary => DataType::Binary,
    }
}

/// The column type a row value is written as, when it is a scalar.
pub(crate) fn column_type(v: &Value<'_>) -> Option<ColumnType> {
    Some(match v {
        Value::Bool(_) => ColumnType::ColumnBoolean,
        Value::Int(_) => ColumnType::ColumnInt64,
        Value::Float(_) => ColumnType::ColumnFloat64,
        Value::Str(_) => ColumnType::ColumnUtf8,
        Value::Bytes(_) => ColumnType::ColumnBinary,
        Value::Null | Value::List(_) | Value::Struct(_) => return None,
    })
}

enum Builder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
}

/// Rows gathered column by column into record batches of a fixed schema.
pub(crate) struct Columns {
    schema: SchemaRef,
    columns: Vec<Column>,
    index: HashMap<String, usize>,
    builders: Vec<Builder>,
    set: Vec<bool>,
    rows: usize,
}

impl Columns {
    pub fn new(columns: Vec<Column>) -> Self {
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| Field::new(&c.name, arrow_type(c.kind()), true)).collect::<Vec<_>>(),
        ));
        let builders = columns.iter().map(|c| new_builder(c.kind())).collect();
        let index = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        let set = vec![false; columns.len()];
        Columns { schema, columns, index, builders, set, rows: 0 }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds one row; a field not in the schema, or a value of another type,
    /// is an error naming the column (the row is then not added).
    pub fn push(&mut self, row: &[u8]) -> Result<(), Unconvertible> {
        let bad = |column: &str, reason: String| Unconvertible { column: column.to_string(), reason };
        let fields = RowReader::new(row).map_err(|e| bad("", e.to_string()))?;
        // Check every field before appending any, so a bad row adds nothing.
        let mut picked: Vec<(usize, Value<'_>)> = Vec::with_capacity(self.columns.len());
        for (n, field) in fields.enumerate() {
            let (name, value) = field.map_err(|e| bad("", e.to_string()))?;
            let at = match self.columns.get(n) {
                Some(c) if c.name == name => n,
                _ => *self.index.get(name).ok_or_else(|| {
                    bad(
                        name,
                        format!("the row has a field `{name}` that is not in the part's schema (give the schema)"),
                    )
                })?,
            };
            let kind = self.columns[at].kind();
            let fits = match (&value, kind) {
                (Value::Null, _) => true,
                (Value::Int(_), ColumnType::ColumnFloat64) => true,
                (v, k) => column_type(v) == Some(k),
            };
            if !fits {
                let got = column_type(&value).map_or("a nested value", crate::type_name);
                return Err(bad(name, format!("a {got} value in a {} column", crate::type_name(kind))));
            }
            picked.push((at, value));
        }
        self.set.iter_mut().for_each(|s| *s = false);
        for (at, value) in picked {
            self.set[at] = true;
            match (&mut self.builders[at], value) {
                (b, Value::Null) => append_null(b),
                (Builder::Bool(b), Value::Bool(v)) => b.append_value(v),
                (Builder::Int(b), Value::Int(v)) => b.append_value(v),
                (Builder::Float(b), Value::Float(v)) => b.append_value(v),
                (Builder::Float(b), Value::Int(v)) => b.append_value(v as f64),
                (Builder::Str(b), Value::Str(v)) => b.append_value(v),
                (Builder::Bin(b), Value::Bytes(v)) => b.append_value(v),
                _ => unreachable!("checked above"),
            }
        }
        for (b, set) in self.builders.iter_mut().zip(&self.set) {
            if !set {
                append_null(b);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows added since the last batch.
    pub fn batch(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::Float(b) => Arc::new(b.finish()),
                    Builder::Str(b) => Arc::new(b.finish()),
                    Builder::Bin(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("arrays built to the schema")
    }
}

fn new_builder(kind: ColumnType) -> Builder {
    match kind {
        ColumnType::ColumnBoolean => Builder::Bool(BooleanBuilder::new()),
        ColumnType::ColumnInt64 => Builder::Int(Int64Builder::new()),
        ColumnType::ColumnFloat64 => Builder::Float(Float64Builder::new()),
        ColumnType::ColumnUtf8 => Builder::Str(StringBuilder::new()),
        ColumnType::ColumnBinary => Builder::Bin(BinaryBuilder::new()),
    }
}

fn append_null(b: &mut Builder) {
    match b {
        Builder::Bool(b) => b.append_null(),
        Builder::Int(b) => b.append_null(),
        Builder::Float(b) => b.append_null(),
        Builder::Str(b) => b.append_null(),
        Builder::Bin(b) => b.append_null(),
    }
}

/// The schema rows suggest: their fields in order of first appearance, each of
/// the type of its first non-null scalar value (int64 widened to float64 where
/// both appear; utf8 where every value is null).
pub(crate) fn infer_schema<'a>(rows: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Column>, Unconvertible> {
    let mut columns: Vec<(String, Option<ColumnType>)> = Vec::new();
    for row in rows {
        let fields = RowReader::new(row).map_err(|e| Unconvertible { column: String::new(), reason: e.to_string() })?;
        for field in fields {
            let (name, value) = field.map_err(|e| Unconvertible { column: String::new(), reason: e.to_string() })?;
            let at = match columns.iter().position(|(n, _)| n == name) {
                Some(at) => at,
                None => {
                    columns.push((name.to_string(), None));
                    columns.len() - 1
                }
            };
            if matches!(value, Value::List(_) | Value::Struct(_)) {
                return Err(Unconvertible {
                    column: name.to_string(),
                    reason: "lists and nested rows can be written as JSON lines, not as a table of scalar columns"
                        .into(),
                });
            }
            let kind = &mut columns[at].1;
            match (*kind, column_type(&value)) {
                (_, None) => {}
                (None, k) => *kind = k,
                (Some(ColumnType::ColumnInt64), Some(ColumnType::ColumnFloat64)) => {
                    *kind = Some(ColumnType::ColumnFloat64)
                }
                _ => {}
            }
        }
    }
    Ok(columns
        .into_iter()
        .map(|(name, kind)| Column { name, kind: kind.unwrap_or(ColumnType::ColumnUtf8) as i32 })
        .collect())
}
