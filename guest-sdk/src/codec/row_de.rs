//! Rows (the row encoding of table sources) into typed values: a struct's
//! fields are matched by name, a tuple's by position.

use alloc::format;
use alloc::string::{String, ToString};

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use spindle_frame::row::{ListReader, RowReader, Value};

use super::{CodecError, Result};

/// Decodes one row into `T`: a struct (fields by name; an `Option` field the
/// row lacks is `None`), a map, or a tuple (fields in order).
pub fn decode_row<T: DeserializeOwned>(row: &[u8]) -> Result<T> {
    let reader = RowReader::new(row).map_err(|e| CodecError(e.to_string()))?;
    T::deserialize(RowDe(reader))
}

/// The field names `T` reads, when it is a struct: the columns a table read
/// needs (none for maps, tuples and other types).
pub fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// A deserializer that only notes the fields a struct asks for.
struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(CodecError("probe".into()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value> {
        *self.0 = Some(fields);
        Err(CodecError("probe".into()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn invalid(e: spindle_frame::row::RowError) -> CodecError {
    CodecError(e.to_string())
}

/// A whole row: a map of its fields, or a sequence of their values.
struct RowDe<'a>(RowReader<'a>);

impl<'de> de::Deserializer<'de> for RowDe<'de> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(Fields { row: self.0, value: None })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(FieldValues(self.0))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(FieldValues(self.0))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(FieldValues(self.0))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct map struct enum identifier ignored_any
    }
}

/// A row's fields as map entries (name, value).
struct Fields<'a> {
    row: RowReader<'a>,
    value: Option<(&'a str, Value<'a>)>,
}

impl<'de> de::MapAccess<'de> for Fields<'de> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.row.next() {
            None => Ok(None),
            Some(field) => {
                let (name, value) = field.map_err(invalid)?;
                self.value = Some((name, value));
                seed.deserialize(de::value::BorrowedStrDeserializer::<CodecError>::new(name)).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        let (name, value) = self.value.take().ok_or_else(|| CodecError("a value without its name".into()))?;
        seed.deserialize(ValueDe(value)).map_err(|e| CodecError(format!("column `{name}`: {e}")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.len())
    }
}

/// A row's field values in order (a tuple).
struct FieldValues<'a>(RowReader<'a>);

impl<'de> de::SeqAccess<'de> for FieldValues<'de> {
    type Error = CodecError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        match self.0.next() {
            None => Ok(None),
            Some(field) => {
                let (name, value) = field.map_err(invalid)?;
                seed.deserialize(ValueDe(value)).map(Some).map_err(|e| CodecError(format!("column `{name}`: {e}")))
            }
        }
    }
}

struct Items<'a>(ListReader<'a>);

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = CodecError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        match self.0.next() {
            None => Ok(None),
            Some(v) => seed.deserialize(ValueDe(v.map_err(invalid)?)).map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// One field's value.
struct ValueDe<'a>(Value<'a>);

impl ValueDe<'_> {
    /// A scalar as text (a CSV column inferred as numbers read into a `String`).
    fn text(&self) -> Option<String> {
        match self.0 {
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::List(items) => visitor.visit_seq(Items(items)),
            Value::Struct(row) => visitor.visit_map(Fields { row, value: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.text() {
            Some(t) => visitor.visit_string(t),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Str(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            Value::Str(s) => visitor.visit_enum(IntoDeserializer::<CodecError>::into_deserializer(s)),
            _ => Err(CodecError("an enum reads from the name of its variant (a string)".into())),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char unit unit_struct seq tuple tuple_struct map
        struct identifier
    }
}
