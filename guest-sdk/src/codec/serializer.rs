//! The serializer: values into the record encoding.

use alloc::vec::Vec;

use serde::ser::{self, Serialize};

use super::{CodecError, RecordBuf, Result};

/// Serializes into one buffer. `top`: a string or bytes here is the whole buffer.
pub(super) struct Ser<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) top: bool,
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
pub(super) struct Compound<'a> {
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
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        index: u32,
        _v: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
        self.out.extend_from_slice(&index.to_be_bytes());
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: true })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>> {
        Ok(Compound { out: self.out, marked: false })
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        index: u32,
        _v: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
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
pub(super) struct RecordSer<'a>(pub(super) &'a mut RecordBuf);

/// Splits a pair into the key and value buffers.
pub(super) struct PairSer<'a> {
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
pub(super) enum RecordTuple<'a> {
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
