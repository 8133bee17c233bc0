//! The row encoding: how a table source's records (CSV, JSON lines, Parquet) and
//! a table sink's records carry named, typed fields, in a form every language
//! can read without knowing the table's schema (documented in `wit/job.wit`).
//!
//! ```text
//! row   := count: uleb128, then count × (name-len: uleb128, name: UTF-8, value)
//! value := tag: u8, payload
//!   0 null    (no payload)
//!   1 bool    1 byte, 0 or 1
//!   2 int     8 bytes, little-endian two's complement (s64)
//!   3 float   8 bytes, little-endian IEEE 754 binary64
//!   4 string  len: uleb128, UTF-8 bytes
//!   5 bytes   len: uleb128, bytes
//!   6 list    count: uleb128, count × value
//!   7 struct  a row (count, then named values)
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::{get_uleb, put_uleb};

/// The tag of a null value.
pub const NULL: u8 = 0;
/// The tag of a bool.
pub const BOOL: u8 = 1;
/// The tag of a 64-bit signed integer.
pub const INT: u8 = 2;
/// The tag of a 64-bit float.
pub const FLOAT: u8 = 3;
/// The tag of a UTF-8 string.
pub const STRING: u8 = 4;
/// The tag of a byte string.
pub const BYTES: u8 = 5;
/// The tag of a list of values.
pub const LIST: u8 = 6;
/// The tag of a nested row.
pub const STRUCT: u8 = 7;

/// One field's value, borrowed from the encoded row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// No value.
    Null,
    /// A bool.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (checked UTF-8).
    Str(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
    /// A list: its values, to read with [`ListReader`].
    List(ListReader<'a>),
    /// A nested row: its fields, to read with [`RowReader`].
    Struct(RowReader<'a>),
}

/// Why a row could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The row ends inside a field.
    Truncated,
    /// An unknown tag byte.
    BadTag(u8),
    /// A name or string that is not UTF-8.
    NotUtf8,
    /// A length prefix longer than 5 bytes or over 2^32.
    BadLength,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Truncated => f.write_str("malformed row: it is cut short"),
            RowError::BadTag(t) => write!(f, "malformed row: unknown value tag {t}"),
            RowError::NotUtf8 => f.write_str("malformed row: a name or string is not UTF-8"),
            RowError::BadLength => f.write_str("malformed row: bad length prefix"),
        }
    }
}

impl core::error::Error for RowError {}

fn uleb(buf: &[u8], pos: &mut usize) -> Result<usize, RowError> {
    get_uleb(buf, pos).map(|n| n as usize).map_err(|e| match e {
        crate::FrameError::Truncated { .. } => RowError::Truncated,
        crate::FrameError::BadLength { .. } => RowError::BadLength,
    })
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], RowError> {
    let end = pos.checked_add(n).filter(|&e| e <= buf.len()).ok_or(RowError::Truncated)?;
    let s = &buf[*pos..end];
    *pos = end;
    Ok(s)
}

fn utf8(b: &[u8]) -> Result<&str, RowError> {
    core::str::from_utf8(b).map_err(|_| RowError::NotUtf8)
}

/// The value encoded at the start of `buf` (a tag and its payload) and how many
/// bytes it takes.
pub fn value_at(buf: &[u8]) -> Result<(Value<'_>, usize), RowError> {
    let mut pos = 0;
    let v = read_value(buf, &mut pos)?;
    Ok((v, pos))
}

/// Reads one value at `*pos`, advancing past it (nested values are skipped over).
fn read_value<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Value<'a>, RowError> {
    let tag = *take(buf, pos, 1)?.first().expect("one byte");
    Ok(match tag {
        NULL => Value::Null,
        BOOL => Value::Bool(take(buf, pos, 1)?[0] != 0),
        INT => Value::Int(i64::from_le_bytes(take(buf, pos, 8)?.try_into().expect("8 bytes"))),
        FLOAT => Value::Float(f64::from_le_bytes(take(buf, pos, 8)?.try_into().expect("8 bytes"))),
        STRING => {
            let n = uleb(buf, pos)?;
            Value::Str(utf8(take(buf, pos, n)?)?)
        }
        BYTES => {
            let n = uleb(buf, pos)?;
            Value::Bytes(take(buf, pos, n)?)
        }
        LIST => {
            let count = uleb(buf, pos)?;
            let start = *pos;
            for _ in 0..count {
                read_value(buf, pos)?;
            }
            Value::List(ListReader { buf: &buf[start..*pos], left: count })
        }
        STRUCT => {
            let start = *pos;
            let count = uleb(buf, pos)?;
            for _ in 0..count {
                let n = uleb(buf, pos)?;
                take(buf, pos, n)?;
                read_value(buf, pos)?;
            }
            Value::Struct(RowReader::new(&buf[start..*pos])?)
        }
        t => return Err(RowError::BadTag(t)),
    })
}

/// The named fields of a row, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowReader<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> RowReader<'a> {
    /// Starts reading the row `buf` holds (exactly one row).
    pub fn new(buf: &'a [u8]) -> Result<Self, RowError> {
        let mut pos = 0;
        let left = uleb(buf, &mut pos)?;
        Ok(RowReader { buf, pos, left })
    }

    /// How many fields are left.
    pub fn len(&self) -> usize {
        self.left
    }

    /// Whether no field is left.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    fn field(&mut self) -> Option<Result<(&'a str, Value<'a>), RowError>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = (|| {
            let n = uleb(self.buf, &mut self.pos)?;
            let name = utf8(take(self.buf, &mut self.pos, n)?)?;
            Ok((name, read_value(self.buf, &mut self.pos)?))
        })();
        if field.is_err() {
            self.left = 0;
        }
        Some(field)
    }
}

impl<'a> Iterator for RowReader<'a> {
    type Item = Result<(&'a str, Value<'a>), RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.field()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// The values of a list, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListReader<'a> {
    buf: &'a [u8],
    left: usize,
}

impl ListReader<'_> {
    /// How many values are left.
    pub fn len(&self) -> usize {
        self.left
    }

    /// Whether no value is left.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for ListReader<'a> {
    type Item = Result<Value<'a>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut pos = 0;
        let v = read_value(self.buf, &mut pos);
        self.buf = &self.buf[pos..];
        if v.is_err() {
            self.left = 0;
        }
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Appends rows' fields to a buffer. A row starts with its field count, so the
/// count is given first ([`RowWriter::begin`]); nested lists and rows likewise.
#[derive(Debug)]
pub struct RowWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> RowWriter<'a> {
    /// Writes into `out` (appending).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        RowWriter { out }
    }

    /// Starts a row (or a nested row after [`RowWriter::begin_struct`]) of
    /// `fields` fields; each then needs [`RowWriter::name`] and a value.
    pub fn begin(&mut self, fields: usize) {
        put_uleb(self.out, len32(fields));
    }

    /// The next field's name.
    pub fn name(&mut self, name: &str) {
        put_uleb(self.out, len32(name.len()));
        self.out.extend_from_slice(name.as_bytes());
    }

    /// A null value.
    pub fn null(&mut self) {
        self.out.push(NULL);
    }

    /// A bool.
    pub fn bool(&mut self, v: bool) {
        self.out.extend_from_slice(&[BOOL, u8::from(v)]);
    }

    /// An integer.
    pub fn int(&mut self, v: i64) {
        self.out.push(INT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// A float.
    pub fn float(&mut self, v: f64) {
        self.out.push(FLOAT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// A string.
    pub fn str(&mut self, v: &str) {
        self.out.push(STRING);
        put_uleb(self.out, len32(v.len()));
        self.out.extend_from_slice(v.as_bytes());
    }

    /// Bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.out.push(BYTES);
        put_uleb(self.out, len32(v.len()));
        self.out.extend_from_slice(v);
    }

    /// Starts a list of `len` values, which follow.
    pub fn begin_list(&mut self, len: usize) {
        self.out.push(LIST);
        put_uleb(self.out, len32(len));
    }

    /// Starts a nested row of `fields` fields, which follow (name, value each).
    pub fn begin_struct(&mut self, fields: usize) {
        self.out.push(STRUCT);
        self.begin(fields);
    }

    /// A value already encoded (a tag and its payload), appended as it is.
    pub fn encoded(&mut self, value: &[u8]) {
        self.out.extend_from_slice(value);
    }

    /// A value read from another row, copied as it is.
    pub fn value(&mut self, v: &Value<'_>) {
        match *v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(b),
            Value::Int(i) => self.int(i),
            Value::Float(f) => self.float(f),
            Value::Str(s) => self.str(s),
            Value::Bytes(b) => self.bytes(b),
            Value::List(l) => {
                self.begin_list(l.len());
                for item in l.flatten() {
                    self.value(&item);
                }
            }
            Value::Struct(r) => {
                self.begin_struct(r.len());
                for (name, item) in r.flatten() {
                    self.name(name);
                    self.value(&item);
                }
            }
        }
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a row part of 4 GiB or more")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_what_was_written() {
        let mut buf = Vec::new();
        let mut w = RowWriter::new(&mut buf);
        w.begin(6);
        w.name("id");
        w.int(-7);
        w.name("name");
        w.str("fox");
        w.name("score");
        w.float(2.5);
        w.name("none");
        w.null();
        w.name("tags");
        w.begin_list(2);
        w.str("a");
        w.bool(true);
        w.name("inner");
        w.begin_struct(1);
        w.name("b");
        w.bytes(&[0, 1]);
        let mut r = RowReader::new(&buf).unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!(r.next().unwrap().unwrap(), ("id", Value::Int(-7)));
        assert_eq!(r.next().unwrap().unwrap(), ("name", Value::Str("fox")));
        assert_eq!(r.next().unwrap().unwrap(), ("score", Value::Float(2.5)));
        assert_eq!(r.next().unwrap().unwrap(), ("none", Value::Null));
        let Value::List(list) = r.next().unwrap().unwrap().1 else { panic!("a list") };
        let items: Vec<_> = list.map(Result::unwrap).collect();
        assert_eq!(items, [Value::Str("a"), Value::Bool(true)]);
        let Value::Struct(mut inner) = r.next().unwrap().unwrap().1 else { panic!("a struct") };
        assert_eq!(inner.next().unwrap().unwrap(), ("b", Value::Bytes(&[0, 1])));
        assert!(r.next().is_none());

        let mut copy = Vec::new();
        let mut w = RowWriter::new(&mut copy);
        let r = RowReader::new(&buf).unwrap();
        w.begin(r.len());
        for (name, v) in r.flatten() {
            w.name(name);
            w.value(&v);
        }
        assert_eq!(copy, buf);
    }

    #[test]
    fn malformed_rows_are_errors_not_panics() {
        for bad in [&[1u8][..], &[1, 1, b'a', 9], &[1, 1, b'a', INT, 0], &[1, 1, 0xff, NULL], &[2, 0, 0]] {
            let r = RowReader::new(bad).unwrap();
            assert!(r.into_iter().any(|f| f.is_err()), "{bad:?}");
        }
    }
}
