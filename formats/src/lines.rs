//! CSV and JSON lines: runs of whole lines of a split parsed into rows.
//!
//! A split of a line-split format holds the lines whose first byte lies in it,
//! so a row may not span lines (a quoted CSV field holding a newline is cut
//! there, as Spark reads CSV without `multiLine`).

use spindle_frame::BatchWriter;
use spindle_frame::row::{RowWriter, Value, value_at};
use spindle_proto::{Column, ColumnType, CompareOp, TableFormat, TableRead, scalar};

use crate::filter::{parts, satisfies};
use crate::values::{byte, parse_field};
use crate::{FormatError, Place};

/// Reads rows out of a split's lines.
pub struct LineTable {
    file: String,
    format: TableFormat,
    csv: csv::ReaderBuilder,
    null_value: Vec<u8>,
    /// CSV: every column of the file; JSON: the columns values convert to.
    schema: Vec<Column>,
    /// The columns written to each row: indexes into `schema` (CSV, JSON with
    /// a schema) or names (JSON without one: empty means every key).
    out: Vec<usize>,
    out_names: Vec<String>,
    filters: Vec<(String, Option<usize>, CompareOp, scalar::Value)>,
    /// The split starts the file and its first line is a header to skip.
    header_pending: bool,
    permissive: bool,
    /// Rows skipped as malformed (permissive mode), and the first one's error.
    pub skipped: u64,
    pub first_skipped: Option<FormatError>,
    record: csv::ByteRecord,
}

impl LineTable {
    /// Reads `file`'s split as `read` says; `starts_file` when the split starts
    /// at the file's first byte.
    pub fn new(file: &str, read: &TableRead, starts_file: bool) -> Result<Self, FormatError> {
        let format = read.format();
        let csv_options = read.csv.clone().unwrap_or_default();
        let schema = read.schema.clone();
        let index = |name: &str| schema.iter().position(|c| c.name == name);
        let mut out = Vec::new();
        if !schema.is_empty() {
            if read.columns.is_empty() {
                out = (0..schema.len()).collect();
            } else {
                for name in &read.columns {
                    out.push(index(name).ok_or_else(|| no_column(name, &schema))?);
                }
            }
        }
        let mut filters = Vec::new();
        for p in &read.filters {
            let (column, op, value) = parts(p).map_err(FormatError::Options)?;
            let at = index(column);
            if at.is_none() && !schema.is_empty() {
                return Err(no_column(column, &schema));
            }
            filters.push((column.to_string(), at, op, value.clone()));
        }
        let mut csv = csv::ReaderBuilder::new();
        csv.has_headers(false)
            .flexible(true)
            .delimiter(byte(csv_options.delimiter, b','))
            .quote(byte(csv_options.quote, b'"'));
        if format == TableFormat::Csv && schema.is_empty() {
            return Err(FormatError::Options("a CSV read needs its schema (given or inferred)".into()));
        }
        Ok(LineTable {
            file: file.to_string(),
            format,
            csv,
            null_value: csv_options.null_value.into_bytes(),
            out_names: if schema.is_empty() { read.columns.clone() } else { Vec::new() },
            schema,
            out,
            filters,
            header_pending: starts_file && csv_options.header && format == TableFormat::Csv,
            permissive: read.permissive,
            skipped: 0,
            first_skipped: None,
            record: csv::ByteRecord::new(),
        })
    }

    /// Parses `run` (whole lines starting at byte `at` of the file) into rows
    /// appended to `out`.
    pub fn rows(&mut self, run: &[u8], at: u64, out: &mut BatchWriter) -> Result<(), FormatError> {
        let mut row = Vec::with_capacity(256);
        match self.format {
            TableFormat::Csv => {
                let mut reader = self.csv.from_reader(run);
                let mut record = std::mem::take(&mut self.record);
                loop {
                    let read = reader.read_byte_record(&mut record);
                    let offset = at + record.position().map_or(0, |p| p.byte());
                    match read {
                        Ok(false) => break,
                        Ok(true) => {}
                        Err(e) => {
                            self.bad(self.row_error(Place::Offset(offset), None, e.to_string()))?;
                            continue;
                        }
                    }
                    if std::mem::take(&mut self.header_pending) {
                        continue;
                    }
                    row.clear();
                    match self.csv_row(&record, Place::Offset(offset), &mut row) {
                        Ok(true) => out.push(None, &row),
                        Ok(false) => {}
                        Err(e) => self.bad(e)?,
                    }
                }
                self.record = record;
            }
            _ => {
                let mut offset = at;
                for line in run.split_inclusive(|&b| b == b'\n') {
                    let here = offset;
                    offset += line.len() as u64;
                    let line = line.trim_ascii_end();
                    if line.is_empty() {
                        continue;
                    }
                    row.clear();
                    match self.json_row(line, Place::Offset(here), &mut row) {
                        Ok(true) => out.push(None, &row),
                        Ok(false) => {}
                        Err(e) => self.bad(e)?,
                    }
                }
            }
        }
        Ok(())
    }

    /// A bad row: skipped and counted in permissive mode, else the error.
    fn bad(&mut self, e: FormatError) -> Result<(), FormatError> {
        if !self.permissive {
            return Err(e);
        }
        self.skipped += 1;
        if self.first_skipped.is_none() {
            self.first_skipped = Some(e);
        }
        Ok(())
    }

    fn row_error(&self, at: Place, column: Option<&str>, reason: impl Into<String>) -> FormatError {
        FormatError::BadRow { file: self.file.clone(), at, column: column.map(str::to_string), reason: reason.into() }
    }

    /// One CSV record into `row`; false when a filter drops it.
    fn csv_row(&mut self, record: &csv::ByteRecord, at: Place, row: &mut Vec<u8>) -> Result<bool, FormatError> {
        if record.len() != self.schema.len() {
            return Err(self.row_error(
                at,
                None,
                format!("it has {} fields where the schema has {} columns", record.len(), self.schema.len()),
            ));
        }
        let cell = |i: usize| -> Result<Value<'_>, FormatError> {
            let field = &record[i];
            if field == self.null_value.as_slice() {
                return Ok(Value::Null);
            }
            let column = &self.schema[i];
            parse_field(field, column.kind()).map_err(|reason| self.row_error(at, Some(&column.name), reason))
        };
        for (_, index, op, with) in &self.filters {
            let index = index.expect("CSV filters name schema columns");
            if !satisfies(&cell(index)?, *op, with) {
                return Ok(false);
            }
        }
        let mut w = RowWriter::new(row);
        w.begin(self.out.len());
        for &i in &self.out {
            w.name(&self.schema[i].name);
            w.value(&cell(i)?);
        }
        Ok(true)
    }

    /// One JSON object into `row`; false when a filter drops it.
    fn json_row(&self, line: &[u8], at: Place, row: &mut Vec<u8>) -> Result<bool, FormatError> {
        let value: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| self.row_error(at, None, format!("not JSON: {e}")))?;
        let serde_json::Value::Object(object) = value else {
            return Err(self.row_error(at, None, "not a JSON object"));
        };
        let mut converted = Vec::new();
        let field = |name: &str, converted: &mut Vec<u8>| -> Result<(), FormatError> {
            converted.clear();
            let v = object.get(name).unwrap_or(&serde_json::Value::Null);
            let kind = self.schema.iter().find(|c| c.name == name).map(Column::kind);
            json_value(v, kind, converted).map_err(|reason| self.row_error(at, Some(name), reason))
        };
        for (name, _, op, with) in &self.filters {
            field(name, &mut converted)?;
            let value = value_at(&converted).map_or(Value::Null, |(v, _)| v);
            if !satisfies(&value, *op, with) {
                return Ok(false);
            }
        }
        let names: Vec<&str> = if !self.out.is_empty() {
            self.out.iter().map(|&i| self.schema[i].name.as_str()).collect()
        } else if !self.out_names.is_empty() {
            self.out_names.iter().map(String::as_str).collect()
        } else {
            object.keys().map(String::as_str).collect()
        };
        let mut w = RowWriter::new(row);
        w.begin(names.len());
        for name in names {
            field(name, &mut converted)?;
            w.name(name);
            w.encoded(&converted);
        }
        Ok(true)
    }
}

/// A JSON value in the row encoding, converted to `kind` when the schema gives one.
fn json_value(v: &serde_json::Value, kind: Option<ColumnType>, out: &mut Vec<u8>) -> Result<(), String> {
    use serde_json::Value as J;
    let mut w = RowWriter::new(out);
    match (v, kind) {
        (J::Null, _) => w.null(),
        (J::Bool(b), None | Some(ColumnType::ColumnBoolean)) => w.bool(*b),
        (J::Number(n), None) => match n.as_i64() {
            Some(i) => w.int(i),
            None => w.float(n.as_f64().unwrap_or(f64::NAN)),
        },
        (J::Number(n), Some(ColumnType::ColumnInt64)) => {
            w.int(n.as_i64().ok_or_else(|| format!("{n} is not an int64"))?);
        }
        (J::Number(n), Some(ColumnType::ColumnFloat64)) => w.float(n.as_f64().unwrap_or(f64::NAN)),
        (J::String(s), None | Some(ColumnType::ColumnUtf8)) => w.str(s),
        (J::String(s), Some(ColumnType::ColumnBinary)) => w.bytes(s.as_bytes()),
        (J::Array(items), None) => {
            w.begin_list(items.len());
            for item in items {
                json_value(item, None, out)?;
            }
        }
        (J::Object(map), None) => {
            w.begin_struct(map.len());
            for (name, item) in map {
                RowWriter::new(out).name(name);
                json_value(item, None, out)?;
            }
        }
        (v, Some(kind)) => {
            let shown: String = v.to_string().chars().take(40).collect();
            return Err(format!("cannot read {shown} as {}", crate::type_name(kind)));
        }
    }
    Ok(())
}

fn no_column(name: &str, schema: &[Column]) -> FormatError {
    let names: Vec<&str> = schema.iter().map(|c| c.name.as_str()).collect();
    FormatError::Options(format!("no column `{name}` (the columns: {})", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_frame::BatchReader;
    use spindle_frame::row::RowReader;
    use spindle_proto::{CsvOptions, Predicate, Scalar};

    fn rows(table: &mut LineTable, text: &str) -> Result<Vec<String>, FormatError> {
        let mut out = BatchWriter::default();
        table.rows(text.as_bytes(), 0, &mut out)?;
        let batch = out.finish();
        Ok(BatchReader::new(&batch)
            .map(|r| {
                RowReader::new(r.unwrap().value)
                    .unwrap()
                    .map(|f| {
                        let (n, v) = f.unwrap();
                        format!("{n}={v:?}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect())
    }

    fn column(name: &str, kind: ColumnType) -> Column {
        Column { name: name.into(), kind: kind as i32 }
    }

    #[test]
    fn csv_rows_are_typed_projected_filtered_and_bad_ones_named_or_skipped() {
        let mut read = TableRead {
            format: TableFormat::Csv as i32,
            schema: vec![column("id", ColumnType::ColumnInt64), column("name", ColumnType::ColumnUtf8)],
            csv: Some(CsvOptions { header: true, ..Default::default() }),
            ..Default::default()
        };
        let mut t = LineTable::new("f.csv", &read, true).unwrap();
        assert_eq!(
            rows(&mut t, "id,name\n1,\"a,b\"\n2,\n").unwrap(),
            ["id=Int(1) name=Str(\"a,b\")", "id=Int(2) name=Null"]
        );
        let mut t = LineTable::new("f.csv", &read, false).unwrap();
        let e = rows(&mut t, "1,a\nx,b\n").unwrap_err().to_string();
        assert_eq!(e, "f.csv, the row at byte 4, column `id`: cannot read \"x\" as int64");
        read.permissive = true;
        read.columns = vec!["name".into()];
        read.filters = vec![Predicate {
            column: "id".into(),
            op: CompareOp::Gt as i32,
            value: Some(Scalar { value: Some(scalar::Value::Int(1)) }),
        }];
        let mut t = LineTable::new("f.csv", &read, false).unwrap();
        assert_eq!(rows(&mut t, "1,a\nx,b\n3,c\n4\n").unwrap(), ["name=Str(\"c\")"]);
        assert_eq!(t.skipped, 2);
    }

    #[test]
    fn json_lines_become_rows_with_nested_values() {
        let read = TableRead { format: TableFormat::JsonLines as i32, ..Default::default() };
        let mut t = LineTable::new("f.json", &read, true).unwrap();
        let got = rows(&mut t, "{\"b\": [1, 2.5], \"a\": {\"x\": null}}\n\n{\"a\": true}\n").unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("a=Struct"), "{got:?}");
        assert_eq!(got[1], "a=Bool(true)");
        let e = rows(&mut t, "[1]\n").unwrap_err().to_string();
        assert_eq!(e, "f.json, the row at byte 0: not a JSON object");
    }
}
