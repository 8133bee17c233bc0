//! The record encoding: how typed values become `(key, value)` byte records.
//!
//! It is order-preserving (byte order of encodings = value order, for keys), and
//! follows the recommended encoding documented in `wit/job.wit`, so jobs in other
//! languages can read what Rust jobs write:
//!
//! - a 2-tuple `(k, v)` is a keyed record: key = `k`, value = `v`, each encoded
//!   "at the top" — where a string or byte string is its raw bytes;
//! - any other value is an unkeyed record, encoded at the top;
//! - inside compound values, strings are escaped and terminated so that order and
//!   boundaries survive; integers are big-endian with the sign bit flipped.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for CodecError {}

impl ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

impl de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

type Result<T> = core::result::Result<T, CodecError>;

/// A record being encoded: key and value buffers, reused between records.
#[derive(Debug, Default)]
pub struct RecordBuf {
    /// The key bytes (meaningful when `keyed`).
    pub key: Vec<u8>,
    /// The value bytes.
    pub value: Vec<u8>,
    /// Whether the record has a key.
    pub keyed: bool,
}

impl RecordBuf {
    /// Clears the buffers and encodes `item` into them.
    pub fn encode<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<()> {
        self.key.clear();
        self.value.clear();
        self.keyed = false;
        item.serialize(RecordSer(self))
    }

    /// The key, if the record is keyed.
    pub fn key(&self) -> Option<&[u8]> {
        self.keyed.then_some(&self.key[..])
    }
}

/// Encodes a value "at the top" (a string as its raw bytes), as a key or value is.
pub fn encode_top<T: Serialize + ?Sized>(item: &T, out: &mut Vec<u8>) -> Result<()> {
    item.serialize(Ser { out, top: true })
}

/// Decodes a record into `T`.
pub fn decode_record<T: DeserializeOwned>(key: Option<&[u8]>, value: &[u8]) -> Result<T> {
    T::deserialize(RecordDe { key, value })
}

/// Decodes a value encoded by [`encode_top`].
pub fn decode_top<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut de = De { input: bytes, top: true };
    let v = T::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

// ---------------------------------------------------------------- serializer

/// Serializes into one buffer. `top`: a string or bytes here is the whole buffer.
struct Ser<'a> {
    out: &'a mut Vec<u8>,
    top: bool,
}

impl<'a> Ser<'a> {
    fn nested(&mut self) -> Ser<'_> {
        Ser { out: self.out, top: false }
    }

    fn put_bytes(self, v: &[u8]) {
        if self.top {
            spindle_frame::append(self.out, v);
            return;
        }
        for &b in v {
            self.out.push(b);
            if b == 0 {
                self.out.push(0xff);
            }
        }
        self.out.extend_from_slice(&[0, 1]);
    }
}

/// Compound values: each element nested.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    /// Sequences and maps mark each element and their end.
    marked: bool,
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(v as u8);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.out.push((v as u8) ^ 0x80);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.out.extend_from_slice(&((v as u16) ^ (1 << 15)).to_be_bytes());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.out.extend_from_slice(&((v as u32) ^ (1 << 31)).to_be_bytes());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.out.extend_from_slice(&((v as u128) ^ (1 << 127)).to_be_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.out.push(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        let b = v.to_bits();
        let b = if b >> 31 == 1 { !b } else { b ^ (1 << 31) };
        self.out.extend_from_slice(&b.to_be_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        let b = v.to_bits();
        let b = if b >> 63 == 1 { !b } else { b ^ (1 << 63) };
        self.out.extend_from_slice(&b.to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_u32(v as u32)
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.put_bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.put_bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.out.push(0);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(mut self, v: &T) -> Result<()> {
        self.out.push(1);
        v.serialize(self.nested())
    }
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _variant: &'static str) -> Result<()> {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        mut self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        v: &T,
    ) -> Result<()> {
        self.out.extend_from_slice(&index.to_be_bytes());
        v.serialize(self.nested())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: true })
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_tuple_variant(self, _n: &'static str, index: u32, _v: &'static str, _len: usize) -> Result<Compound<'a>> {
        self.out.extend_from_slice(&index.to_be_bytes());
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: true })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_struct_variant(self, _n: &'static str, index: u32, _v: &'static str, _len: usize) -> Result<Compound<'a>> {
        self.out.extend_from_slice(&index.to_be_bytes());
        Ok(Compound { out: self.out, marked: false })
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl Compound<'_> {
    fn element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        if self.marked {
            self.out.push(1);
        }
        v.serialize(Ser { out: self.out, top: false })
    }
    fn end(self) -> Result<()> {
        if self.marked {
            self.out.push(0);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<()> {
        self.element(k)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        v.serialize(Ser { out: self.out, top: false })
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _key: &'static str, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _key: &'static str, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

/// The record-level serializer: a 2-tuple becomes key + value; anything else is the
/// value, encoded at the top.
struct RecordSer<'a>(&'a mut RecordBuf);

/// Splits a pair into the key and value buffers.
struct PairSer<'a> {
    buf: &'a mut RecordBuf,
    index: usize,
}

impl ser::SerializeTuple for PairSer<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        let out = if self.index == 0 { &mut self.buf.key } else { &mut self.buf.value };
        self.index += 1;
        v.serialize(Ser { out, top: true })
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// A tuple at record level: a pair is split, any other tuple is the value.
enum RecordTuple<'a> {
    Pair(PairSer<'a>),
    Other(Compound<'a>),
}

impl ser::SerializeTuple for RecordTuple<'_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        match self {
            RecordTuple::Pair(p) => p.serialize_element(v),
            RecordTuple::Other(c) => c.element(v),
        }
    }
    fn end(self) -> Result<()> {
        match self {
            RecordTuple::Pair(p) => p.end(),
            RecordTuple::Other(c) => Compound::end(c),
        }
    }
}

macro_rules! to_value {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $($arg: $ty),*) -> Result<$ret> {
            Ser { out: &mut self.0.value, top: true }.$name($($arg),*)
        })*
    };
}

impl<'a> ser::Serializer for RecordSer<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = RecordTuple<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    to_value! {
        serialize_bool(v: bool) -> ();
        serialize_i8(v: i8) -> ();
        serialize_i16(v: i16) -> ();
        serialize_i32(v: i32) -> ();
        serialize_i64(v: i64) -> ();
        serialize_i128(v: i128) -> ();
        serialize_u8(v: u8) -> ();
        serialize_u16(v: u16) -> ();
        serialize_u32(v: u32) -> ();
        serialize_u64(v: u64) -> ();
        serialize_u128(v: u128) -> ();
        serialize_f32(v: f32) -> ();
        serialize_f64(v: f64) -> ();
        serialize_char(v: char) -> ();
        serialize_str(v: &str) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(name: &'static str) -> ();
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
        serialize_seq(len: Option<usize>) -> Compound<'a>;
        serialize_tuple_struct(name: &'static str, len: usize) -> Compound<'a>;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Compound<'a>;
        serialize_map(len: Option<usize>) -> Compound<'a>;
        serialize_struct(name: &'static str, len: usize) -> Compound<'a>;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Compound<'a>;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<()> {
        Ser { out: &mut self.0.value, top: true }.serialize_some(v)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<()> {
        Ser { out: &mut self.0.value, top: true }.serialize_newtype_variant(name, index, variant, v)
    }
    fn serialize_tuple(self, len: usize) -> Result<RecordTuple<'a>> {
        if len == 2 {
            self.0.keyed = true;
            return Ok(RecordTuple::Pair(PairSer { buf: self.0, index: 0 }));
        }
        Ok(RecordTuple::Other(Compound { out: &mut self.0.value, marked: false }))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------- deserializer

/// Deserializes from one buffer; `top` as in [`Ser`].
struct De<'de> {
    input: &'de [u8],
    top: bool,
}

impl<'de> De<'de> {
    fn end(&self) -> Result<()> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(CodecError(alloc::format!("{} trailing bytes after the value", self.input.len())))
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        if self.input.len() < N {
            return Err(CodecError("the value is cut short".into()));
        }
        let (head, rest) = self.input.split_at(N);
        self.input = rest;
        self.top = false;
        Ok(head.try_into().expect("length checked"))
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    /// A string's or byte string's bytes: all of the input at the top, else unescaped
    /// up to the terminator.
    fn bytes(&mut self) -> Result<Bytes<'de>> {
        if self.top {
            let all = self.input;
            self.input = &[];
            self.top = false;
            return Ok(Bytes::Borrowed(all));
        }
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            match self.input.get(i) {
                None => return Err(CodecError("a string is not terminated".into())),
                Some(0) => match self.input.get(i + 1) {
                    Some(0xff) => {
                        out.push(0);
                        i += 2;
                    }
                    Some(1) => {
                        self.input = &self.input[i + 2..];
                        return Ok(Bytes::Owned(out));
                    }
                    _ => return Err(CodecError("a string has a bad escape".into())),
                },
                Some(&b) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
    }
}

enum Bytes<'de> {
    Borrowed(&'de [u8]),
    Owned(Vec<u8>),
}

fn utf8(b: Vec<u8>) -> Result<String> {
    str_utf8(&b)?;
    // SAFETY: just checked.
    Ok(unsafe { String::from_utf8_unchecked(b) })
}

/// `b` as a `str`. Short ASCII strings (keys, numbers, words) are recognised with
/// a few word loads; others are checked with SIMD (`simdutf8`): most strings
/// decoded are text lines, and checking them is a large part of reading text.
#[inline]
fn str_utf8(b: &[u8]) -> Result<&str> {
    if crate::bytes::is_short_ascii(b) {
        // SAFETY: ASCII is UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(b) });
    }
    simdutf8::basic::from_utf8(b).map_err(|_| CodecError("a string is not valid UTF-8".into()))
}

impl<'de> de::Deserializer<'de> for &mut De<'de> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value> {
        Err(CodecError("the Spindle record encoding is not self-describing; decode into a concrete type".into()))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.byte()? {
            0 => v.visit_bool(false),
            1 => v.visit_bool(true),
            b => Err(CodecError(alloc::format!("{b} is not a bool"))),
        }
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i8((self.byte()? ^ 0x80) as i8)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i16((u16::from_be_bytes(self.take()?) ^ (1 << 15)) as i16)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i32((u32::from_be_bytes(self.take()?) ^ (1 << 31)) as i32)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i64((u64::from_be_bytes(self.take()?) ^ (1 << 63)) as i64)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i128((u128::from_be_bytes(self.take()?) ^ (1 << 127)) as i128)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u8(self.byte()?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u16(u16::from_be_bytes(self.take()?))
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u32(u32::from_be_bytes(self.take()?))
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u64(u64::from_be_bytes(self.take()?))
    }
    fn deserialize_u128<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u128(u128::from_be_bytes(self.take()?))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let b = u32::from_be_bytes(self.take()?);
        let b = if b >> 31 == 1 { b ^ (1 << 31) } else { !b };
        v.visit_f32(f32::from_bits(b))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let b = u64::from_be_bytes(self.take()?);
        let b = if b >> 63 == 1 { b ^ (1 << 63) } else { !b };
        v.visit_f64(f64::from_bits(b))
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let n = u32::from_be_bytes(self.take()?);
        v.visit_char(char::from_u32(n).ok_or_else(|| CodecError(alloc::format!("{n} is not a char")))?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.bytes()? {
            Bytes::Borrowed(b) => v.visit_borrowed_str(str_utf8(b)?),
            Bytes::Owned(b) => v.visit_string(utf8(b)?),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.bytes()? {
            // The copy a `String` needs, made here: short ones without a `memory.copy`.
            Bytes::Borrowed(b) => v.visit_string(crate::bytes::copy_str(str_utf8(b)?)),
            Bytes::Owned(b) => v.visit_string(utf8(b)?),
        }
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.bytes()? {
            Bytes::Borrowed(b) => v.visit_borrowed_bytes(b),
            Bytes::Owned(b) => v.visit_byte_buf(b),
        }
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_bytes(v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.byte()? {
            0 => v.visit_none(),
            1 => v.visit_some(self),
            b => Err(CodecError(alloc::format!("{b} is not an option tag"))),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.top = false;
        v.visit_seq(Marked { de: self })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        self.top = false;
        v.visit_seq(Counted { de: self, left: len })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, len: usize, v: V) -> Result<V::Value> {
        self.deserialize_tuple(len, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.top = false;
        v.visit_map(Marked { de: self })
    }
    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, fields: &'static [&'static str], v: V) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), v)
    }
    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, _variants: &'static [&'static str], v: V) -> Result<V::Value> {
        self.top = false;
        v.visit_enum(self)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_u32(v)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_any(v)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Sequences and maps: 0x01 before each element, 0x00 at the end.
struct Marked<'a, 'de> {
    de: &'a mut De<'de>,
}

impl<'de> Marked<'_, 'de> {
    fn more(&mut self) -> Result<bool> {
        match self.de.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CodecError(alloc::format!("{b} is not a sequence marker"))),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Marked<'_, 'de> {
    type Error = CodecError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.more()? { seed.deserialize(&mut *self.de).map(Some) } else { Ok(None) }
    }
}

impl<'de> de::MapAccess<'de> for Marked<'_, 'de> {
    type Error = CodecError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.more()? { seed.deserialize(&mut *self.de).map(Some) } else { Ok(None) }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// Tuples and structs: a known number of fields.
struct Counted<'a, 'de> {
    de: &'a mut De<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Counted<'_, 'de> {
    type Error = CodecError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::EnumAccess<'de> for &mut De<'de> {
    type Error = CodecError;
    type Variant = Self;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self)> {
        let index = u32::from_be_bytes(self.take()?);
        let v = seed.deserialize(IntoDeserializer::<CodecError>::into_deserializer(index))?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut De<'de> {
    type Error = CodecError;
    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, len, v)
    }
    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, fields.len(), v)
    }
}

/// The record-level deserializer: a 2-tuple reads key and value; anything else
/// reads the value at the top.
struct RecordDe<'de> {
    key: Option<&'de [u8]>,
    value: &'de [u8],
}

macro_rules! from_value {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name<V: Visitor<'de>>(self, $($arg: $ty,)* v: V) -> Result<V::Value> {
            let mut de = De { input: self.value, top: true };
            let out = (&mut de).$name($($arg,)* v)?;
            de.end()?;
            Ok(out)
        })*
    };
}

impl<'de> de::Deserializer<'de> for RecordDe<'de> {
    type Error = CodecError;

    from_value! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        if len != 2 {
            let mut de = De { input: self.value, top: true };
            let out = (&mut de).deserialize_tuple(len, v)?;
            de.end()?;
            return Ok(out);
        }
        let key = self.key.ok_or_else(|| CodecError("expected a keyed record (a pair) but the record has no key".into()))?;
        v.visit_seq(PairDe { parts: [Some(key), Some(self.value)], index: 0 })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

struct PairDe<'de> {
    parts: [Option<&'de [u8]>; 2],
    index: usize,
}

impl<'de> de::SeqAccess<'de> for PairDe<'de> {
    type Error = CodecError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(part) = self.parts.get_mut(self.index).and_then(Option::take) else { return Ok(None) };
        self.index += 1;
        let mut de = De { input: part, top: true };
        let out = seed.deserialize(&mut de)?;
        de.end()?;
        Ok(Some(out))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(2 - self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use serde::{Deserialize, Serialize};

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(v: T) -> RecordBuf {
        let mut buf = RecordBuf::default();
        buf.encode(&v).unwrap();
        let back: T = decode_record(buf.key(), &buf.value).unwrap();
        assert_eq!(back, v);
        buf
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Point {
        name: String,
        xs: Vec<i32>,
        tag: Option<u8>,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u16, h: u16 },
    }

    #[test]
    fn pairs_are_keyed_records_with_raw_strings() {
        let b = round_trip((String::from("fox"), 3u64));
        assert_eq!(b.key(), Some(&b"fox"[..]));
        assert_eq!(b.value, 3u64.to_be_bytes());
        let b = round_trip(String::from("a line\0with nul"));
        assert_eq!(b.key(), None);
        assert_eq!(b.value, b"a line\0with nul");
    }

    #[test]
    fn compound_values_round_trip() {
        round_trip(Point { name: "p\0q".into(), xs: vec![-1, 0, 7], tag: Some(2) });
        round_trip((1u8, 2u16, 3u32));
        round_trip(((String::from("k"), 1i64), vec![Shape::Dot, Shape::Circle(-2.5), Shape::Rect { w: 1, h: 2 }]));
        round_trip(vec![String::new(), String::from("x")]);
        round_trip(());
        round_trip(-42i64);
    }

    #[test]
    fn encoding_preserves_order() {
        let enc = |v: &dyn erased::Enc| v.enc();
        let ints = [-300i64, -1, 0, 1, 299];
        for w in ints.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]));
        }
        let floats = [-1e9f64, -0.5, 0.0, 0.25, 3e7];
        for w in floats.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]));
        }
        let tuples = [(String::from("a"), 2u8), (String::from("a"), 3), (String::from("ab"), 0), (String::from("b"), 0)];
        for w in tuples.windows(2) {
            assert!(enc(&(w[0].clone(), 0u8, 0u8)) < enc(&(w[1].clone(), 0u8, 0u8)));
        }
    }

    mod erased {
        use super::*;
        pub trait Enc {
            fn enc(&self) -> Vec<u8>;
        }
        impl<T: Serialize> Enc for T {
            fn enc(&self) -> Vec<u8> {
                let mut out = Vec::new();
                self.serialize(Ser { out: &mut out, top: false }).unwrap();
                out
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(decode_record::<(String, u64)>(None, b"x").is_err());
        assert!(decode_record::<u64>(None, b"short").is_err());
        assert!(decode_record::<u8>(None, b"too long").is_err());
        assert!(decode_record::<String>(None, &[0xff, 0xfe]).is_err());
        assert!(decode_top::<Vec<u8>>(&[1, 5]).is_err());
    }

    #[test]
    fn strings_are_checked_as_utf8() {
        assert!(str_utf8(b"\xff\xfe").is_err());
        assert_eq!(str_utf8("ß and more than sixteen bytes".as_bytes()).unwrap(), "ß and more than sixteen bytes");
    }
}
