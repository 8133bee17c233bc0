//! Typed values into rows (the row encoding `save-as-table` writes): a struct's
//! fields by name, a map's entries (string keys), a tuple's elements as `_1`,
//! `_2`, ... (as Spark names them).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::ser::{self, Serialize};
use spindle_frame::row::RowWriter;

use super::{CodecError, Result};

/// Encodes `item` as a row into `out` (cleared first).
pub fn encode_row<T: Serialize + ?Sized>(item: &T, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    item.serialize(RowSer { out })
}

fn not_a_row(what: &str) -> CodecError {
    CodecError(format!("a row is a struct, a map or a tuple, not {what}"))
}

/// Values of nested containers are buffered so that their count can go first.
fn counted(out: &mut Vec<u8>, count: usize, body: &[u8], list: bool) {
    let mut w = RowWriter::new(out);
    if list {
        w.begin_list(count);
    } else {
        w.begin_struct(count);
    }
    w.encoded(body);
}

/// The top of a row: only compound values are rows.
struct RowSer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ser::Serializer for RowSer<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = ser::Impossible<(), CodecError>;
    type SerializeTuple = Fields<'a>;
    type SerializeTupleStruct = Fields<'a>;
    type SerializeTupleVariant = ser::Impossible<(), CodecError>;
    type SerializeMap = Fields<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = ser::Impossible<(), CodecError>;

    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(not_a_row("a bool"))
    }
    fn serialize_i8(self, _: i8) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_i16(self, _: i16) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_i32(self, _: i32) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_i64(self, _: i64) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_u8(self, _: u8) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_u16(self, _: u16) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_u32(self, _: u32) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_u64(self, _: u64) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(not_a_row("a number"))
    }
    fn serialize_char(self, _: char) -> Result<()> {
        Err(not_a_row("a char"))
    }
    fn serialize_str(self, _: &str) -> Result<()> {
        Err(not_a_row("a string"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<()> {
        Err(not_a_row("bytes"))
    }
    fn serialize_none(self) -> Result<()> {
        Err(not_a_row("an option"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<()> {
        Err(not_a_row("an option"))
    }
    fn serialize_unit(self) -> Result<()> {
        Err(not_a_row("()"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Err(not_a_row("a unit struct"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Err(not_a_row("an enum"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(not_a_row("an enum"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_a_row("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Fields<'a>> {
        Ok(Fields::new(self.out))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>> {
        Ok(Fields::new(self.out))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_a_row("an enum"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'a>> {
        Ok(Fields::new(self.out))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>> {
        Ok(Fields::new(self.out))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_a_row("an enum"))
    }
}

/// A row's (or nested row's) fields, buffered until their count is known.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    body: Vec<u8>,
    count: usize,
    /// A map key waiting for its value.
    key: Option<String>,
    nested: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Fields { out, body: Vec::with_capacity(64), count: 0, key: None, nested: false }
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<()> {
        RowWriter::new(&mut self.body).name(name);
        value.serialize(ValueSer { out: &mut self.body }).map_err(|e| CodecError(format!("column `{name}`: {e}")))?;
        self.count += 1;
        Ok(())
    }

    fn done(self) -> Result<()> {
        if self.nested {
            counted(self.out, self.count, &self.body, false);
        } else {
            RowWriter::new(self.out).begin(self.count);
            self.out.extend_from_slice(&self.body);
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<()> {
        self.done()
    }
}

impl ser::SerializeTuple for Fields<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let name = format!("_{}", self.count + 1);
        self.field(&name, value)
    }
    fn end(self) -> Result<()> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for Fields<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeTuple::serialize_element(self, value)
    }
    fn end(self) -> Result<()> {
        self.done()
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let mut name = Vec::new();
        key.serialize(ValueSer { out: &mut name })?;
        match spindle_frame::row::value_at(&name) {
            Ok((spindle_frame::row::Value::Str(s), _)) => self.key = Some(s.to_string()),
            _ => return Err(CodecError("a row's map keys must be strings (the column names)".into())),
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let name = self.key.take().ok_or_else(|| CodecError("a map value without its key".into()))?;
        self.field(&name, value)
    }
    fn end(self) -> Result<()> {
        self.done()
    }
}

/// A value inside a row.
struct ValueSer<'a> {
    out: &'a mut Vec<u8>,
}

/// A list's values, buffered until their count is known.
struct Items<'a> {
    out: &'a mut Vec<u8>,
    body: Vec<u8>,
    count: usize,
}

impl Items<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(ValueSer { out: &mut self.body })?;
        self.count += 1;
        Ok(())
    }
    fn done(self) -> Result<()> {
        counted(self.out, self.count, &self.body, true);
        Ok(())
    }
}

/// The three list-like serde traits, each an item at a time into `Items`.
macro_rules! items_impl {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Items<'_> {
            type Ok = ();
            type Error = CodecError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.item(value)
            }
            fn end(self) -> Result<()> {
                self.done()
            }
        }
    )*};
}

items_impl!(SerializeSeq::serialize_element, SerializeTuple::serialize_element, SerializeTupleStruct::serialize_field);

impl<'a> ser::Serializer for ValueSer<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Items<'a>;
    type SerializeTuple = Items<'a>;
    type SerializeTupleStruct = Items<'a>;
    type SerializeTupleVariant = ser::Impossible<(), CodecError>;
    type SerializeMap = Fields<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = ser::Impossible<(), CodecError>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        RowWriter::new(self.out).bool(v);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        RowWriter::new(self.out).int(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| CodecError(format!("{v} does not fit an int64 column")))?;
        self.serialize_i64(v)
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        RowWriter::new(self.out).float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        RowWriter::new(self.out).str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        RowWriter::new(self.out).bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        RowWriter::new(self.out).null();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        let mut fields = Fields::new(self.out);
        fields.nested = true;
        fields.field(variant, value)?;
        fields.done()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Items<'a>> {
        Ok(Items { out: self.out, body: Vec::new(), count: 0 })
    }
    fn serialize_tuple(self, _: usize) -> Result<Items<'a>> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Items<'a>> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(CodecError("enum variants with several fields cannot be columns yet".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'a>> {
        let mut f = Fields::new(self.out);
        f.nested = true;
        Ok(f)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(CodecError("enum variants with several fields cannot be columns yet".into()))
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use serde::{Deserialize, Serialize};

    use super::super::row_de::{decode_row, field_names};
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Trip {
        id: u32,
        name: String,
        fare: f64,
        tip: Option<f64>,
        tags: Vec<String>,
    }

    #[test]
    fn rows_round_trip_by_field_name_and_name_their_columns() {
        let trip = Trip { id: 7, name: "fox".into(), fare: 2.5, tip: None, tags: vec!["a".into()] };
        let mut row = Vec::new();
        encode_row(&trip, &mut row).unwrap();
        assert_eq!(decode_row::<Trip>(&row).unwrap(), trip);
        assert_eq!(field_names::<Trip>(), Some(&["id", "name", "fare", "tip", "tags"][..]));
        assert_eq!(field_names::<(i64, String)>(), None);

        // Fields in another order, one missing (an option), a number read as text.
        #[derive(Debug, PartialEq, Deserialize)]
        struct Other {
            fare: f64,
            id: String,
            missing: Option<i64>,
        }
        let other: Other = decode_row(&row).unwrap();
        assert_eq!(other, Other { fare: 2.5, id: "7".into(), missing: None });

        let tuple: (i64, String) = {
            let mut r = Vec::new();
            encode_row(&(1i64, "a"), &mut r).unwrap();
            decode_row(&r).unwrap()
        };
        assert_eq!(tuple, (1, "a".into()));

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wrong {
            name: i64,
        }
        let e = decode_row::<Wrong>(&row).unwrap_err().0;
        assert!(e.starts_with("column `name`: invalid type: string \"fox\""), "{e}");
        assert!(encode_row(&5u32, &mut Vec::new()).is_err());
    }
}
