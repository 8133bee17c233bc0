//! The deserializer: the record encoding back into values.

use alloc::string::String;
use alloc::vec::Vec;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{CodecError, Result};

/// Deserializes from one buffer; `top` as in the serializer's `Ser`.
pub(super) struct De<'de> {
    pub(super) input: &'de [u8],
    pub(super) top: bool,
}

impl<'de> De<'de> {
    pub(super) fn end(&self) -> Result<()> {
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
pub(super) fn str_utf8(b: &[u8]) -> Result<&str> {
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
        v.visit_i32(i32_from_key(u32::from_be_bytes(self.take()?)))
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i64(i64_from_key(u64::from_be_bytes(self.take()?)))
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
        v.visit_f64(f64_from_key(u64::from_be_bytes(self.take()?)))
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
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), v)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
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
pub(super) struct RecordDe<'de> {
    pub(super) key: Option<&'de [u8]>,
    pub(super) value: &'de [u8],
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
        let key =
            self.key.ok_or_else(|| CodecError("expected a keyed record (a pair) but the record has no key".into()))?;
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

/// An `i32` from its encoding's bits (big-endian, sign bit flipped).
pub(super) fn i32_from_key(n: u32) -> i32 {
    (n ^ (1 << 31)) as i32
}

/// An `i64` from its encoding's bits (big-endian, sign bit flipped).
pub(super) fn i64_from_key(n: u64) -> i64 {
    (n ^ (1 << 63)) as i64
}

/// An `f64` from its encoding's bits (sign bit flipped for positives, all bits
/// flipped for negatives).
pub(super) fn f64_from_key(n: u64) -> f64 {
    f64::from_bits(if n >> 63 == 1 { n ^ (1 << 63) } else { !n })
}
