//! CSV fields as typed values, and the schema a sample of lines suggests.

use spindle_frame::row::Value;
use spindle_proto::{Column, ColumnType, CsvOptions};

/// `text` (a field that is not the null value) as a value of `kind`.
pub(crate) fn parse_field(text: &[u8], kind: ColumnType) -> Result<Value<'_>, String> {
    let as_str = || std::str::from_utf8(text).map_err(|_| "the field is not UTF-8".to_string());
    let shown = || String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned();
    Ok(match kind {
        ColumnType::ColumnUtf8 => Value::Str(as_str()?),
        ColumnType::ColumnBinary => Value::Bytes(text),
        ColumnType::ColumnInt64 => {
            Value::Int(as_str()?.trim().parse().map_err(|_| format!("cannot read {:?} as int64", shown()))?)
        }
        ColumnType::ColumnFloat64 => {
            Value::Float(as_str()?.trim().parse().map_err(|_| format!("cannot read {:?} as float64", shown()))?)
        }
        ColumnType::ColumnBoolean => match parse_bool(text) {
            Some(b) => Value::Bool(b),
            None => return Err(format!("cannot read {:?} as boolean (true or false)", shown())),
        },
    })
}

fn parse_bool(text: &[u8]) -> Option<bool> {
    let t = text.trim_ascii();
    if t.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if t.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

/// The narrowest type every non-null field seen so far fits.
fn widen(seen: Option<ColumnType>, field: &[u8]) -> Option<ColumnType> {
    use ColumnType as T;
    let fits = |kind: T| parse_field(field, kind).is_ok();
    let order = [T::ColumnBoolean, T::ColumnInt64, T::ColumnFloat64, T::ColumnUtf8];
    let from = match seen {
        None => 0,
        Some(T::ColumnBoolean) => 0,
        Some(T::ColumnInt64) => 1,
        Some(T::ColumnFloat64) => 2,
        Some(_) => 3,
    };
    // Booleans widen to nothing but text.
    if seen == Some(T::ColumnBoolean) {
        return Some(if fits(T::ColumnBoolean) { T::ColumnBoolean } else { T::ColumnUtf8 });
    }
    order[from..].iter().copied().find(|&k| fits(k)).or(Some(T::ColumnUtf8))
}

/// Infers a CSV schema from `sample`, the first bytes of a file (whole lines; a
/// cut last line is ignored): names from the header (or `_c0`, `_c1`, ... as
/// Spark names them), each column the narrowest of boolean, int64, float64 and
/// utf8 that every sampled non-null field fits (utf8 when all are null).
pub fn infer_csv_schema(sample: &[u8], complete: bool, options: &CsvOptions) -> Result<Vec<Column>, String> {
    let end = if complete { sample.len() } else { sample.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(byte(options.delimiter, b','))
        .quote(byte(options.quote, b'"'))
        .from_reader(&sample[..end]);
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<Option<ColumnType>> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut first = true;
    while reader.read_byte_record(&mut record).map_err(|e| e.to_string())? {
        if first && options.header {
            names = record.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
            kinds = vec![None; names.len()];
            first = false;
            continue;
        }
        first = false;
        if kinds.len() < record.len() {
            kinds.resize(record.len(), None);
        }
        for (i, field) in record.iter().enumerate() {
            if field != options.null_value.as_bytes() {
                kinds[i] = widen(kinds[i], field);
            }
        }
    }
    if kinds.is_empty() {
        return Err("the file has no rows to infer a schema from: give the schema".into());
    }
    Ok(kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Column {
            name: names.get(i).cloned().unwrap_or_else(|| format!("_c{i}")),
            kind: kind.unwrap_or(ColumnType::ColumnUtf8) as i32,
        })
        .collect())
}

/// An option byte, or its default when unset (0).
pub(crate) fn byte(v: u32, default: u8) -> u8 {
    if v == 0 { default } else { v as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_as_their_type_or_say_why_not() {
        assert_eq!(parse_field(b"42", ColumnType::ColumnInt64), Ok(Value::Int(42)));
        assert_eq!(parse_field(b" 2.5", ColumnType::ColumnFloat64), Ok(Value::Float(2.5)));
        assert_eq!(parse_field(b"TRUE", ColumnType::ColumnBoolean), Ok(Value::Bool(true)));
        assert_eq!(parse_field(b"fox", ColumnType::ColumnUtf8), Ok(Value::Str("fox")));
        assert_eq!(parse_field(b"abc", ColumnType::ColumnInt64), Err("cannot read \"abc\" as int64".into()));
    }

    #[test]
    fn schemas_are_inferred_from_a_header_and_a_sample() {
        let options = CsvOptions { header: true, ..Default::default() };
        let got = infer_csv_schema(b"id,fare,name,ok,empty\n1,2,a,true,\n2,3.5,b,false,\n3,", false, &options).unwrap();
        let kinds: Vec<_> = got.iter().map(|c| (c.name.as_str(), c.kind())).collect();
        assert_eq!(
            kinds,
            [
                ("id", ColumnType::ColumnInt64),
                ("fare", ColumnType::ColumnFloat64),
                ("name", ColumnType::ColumnUtf8),
                ("ok", ColumnType::ColumnBoolean),
                ("empty", ColumnType::ColumnUtf8)
            ]
        );
        let options = CsvOptions { delimiter: u32::from(b'|'), ..Default::default() };
        let got = infer_csv_schema(b"1|x\n", true, &options).unwrap();
        assert_eq!(got[0].name, "_c0");
        assert_eq!(got[1].kind(), ColumnType::ColumnUtf8);
    }
}
