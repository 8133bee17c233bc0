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

use serde::de::{self, DeserializeOwned};
use serde::ser::{self, Serialize};

mod deserializer;
mod row_de;
mod row_ser;
mod serializer;

pub use row_de::{decode_row, field_names};
pub use row_ser::encode_row;

use deserializer::{De, RecordDe};
use serializer::{RecordSer, Ser};

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

/// [`decode_top`], with the common fixed-width numbers (`u64`, `i64`, `u32`,
/// `i32`, `f64`) read directly rather than through serde: a reduce side decodes
/// a value per record it merges. Same result and errors as `decode_top`.
pub fn decode_top_fixed<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T> {
    let mut out: Option<T> = None;
    let slot = &mut out as &mut dyn core::any::Any;
    if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        let n = u64::from_be_bytes(b);
        if let Some(o) = slot.downcast_mut::<Option<u64>>() {
            *o = Some(n);
        } else if let Some(o) = slot.downcast_mut::<Option<i64>>() {
            *o = Some(deserializer::i64_from_key(n));
        } else if let Some(o) = slot.downcast_mut::<Option<f64>>() {
            *o = Some(deserializer::f64_from_key(n));
        }
    } else if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        let n = u32::from_be_bytes(b);
        if let Some(o) = slot.downcast_mut::<Option<u32>>() {
            *o = Some(n);
        } else if let Some(o) = slot.downcast_mut::<Option<i32>>() {
            *o = Some(deserializer::i32_from_key(n));
        }
    }
    match out {
        Some(v) => Ok(v),
        None => decode_top(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::deserializer::str_utf8;
    use super::*;
    use alloc::vec;
    use serde::{Deserialize, Serialize};

    #[test]
    fn fixed_width_numbers_decode_as_serde_does() {
        fn check<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug + 'static>(v: T) {
            let mut b = Vec::new();
            encode_top(&v, &mut b).unwrap();
            assert_eq!(decode_top_fixed::<T>(&b).unwrap(), v);
            assert_eq!(decode_top::<T>(&b).unwrap(), v);
            // Cut short: the same error either way.
            let short = &b[..b.len() - 1];
            assert_eq!(
                decode_top_fixed::<T>(short).unwrap_err().to_string(),
                decode_top::<T>(short).unwrap_err().to_string()
            );
        }
        for v in [0u64, 1, 3, u64::MAX, 1 << 63] {
            check(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            check(v);
        }
        for v in [0u32, 7, u32::MAX] {
            check(v);
        }
        for v in [0i32, -7, i32::MIN, i32::MAX] {
            check(v);
        }
        for v in [0.0f64, -0.0, 1.5, -2.25, f64::MAX, f64::MIN, f64::INFINITY, f64::NEG_INFINITY] {
            check(v);
        }
        // Other types of the same width still go through serde.
        check((1u32, 2u32));
        check([7u8; 8]);
    }

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
        let tuples =
            [(String::from("a"), 2u8), (String::from("a"), 3), (String::from("ab"), 0), (String::from("b"), 0)];
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
