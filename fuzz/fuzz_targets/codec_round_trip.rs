//! The record codec (serde) on arbitrary values and bytes: every value encodes and
//! decodes back to itself, as a record and "at the top"; keys keep their order
//! (byte order of encodings = value order); decoding arbitrary bytes never panics.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use spindle::codec::{RecordBuf, decode_record, decode_top, decode_top_fixed, encode_top};

#[derive(Debug, Clone, PartialEq, Arbitrary, Serialize, Deserialize)]
enum Value {
    Unit,
    Bool(bool),
    Small(i8),
    Int(i64),
    Big(u128),
    Wide(i128),
    Float(f64),
    Char(char),
    Text(String),
    Maybe(Option<Box<Value>>),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Triple(u16, String, Option<i32>),
    Record { id: u64, tags: Vec<String>, score: f32 },
}

/// A key type whose derived order the encoding must keep.
type Key = (String, i64, Vec<u16>, Option<bool>, u8);

#[derive(Debug, Arbitrary)]
struct Input {
    value: Value,
    pair: (String, Value),
    a: Key,
    b: Key,
    raw: Vec<u8>,
}

/// Floats compare by bits, so that NaN round trips count as equal.
fn same(a: &Value, b: &Value) -> bool {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    encode_top(a, &mut x).unwrap();
    encode_top(b, &mut y).unwrap();
    x == y
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else { return };

    // At the top.
    let mut top = Vec::new();
    encode_top(&input.value, &mut top).unwrap();
    let back: Value = decode_top(&top).unwrap();
    assert!(same(&back, &input.value), "{back:?} != {:?}", input.value);

    // As a keyed record: a 2-tuple is key and value.
    let mut rec = RecordBuf::default();
    rec.encode(&input.pair).unwrap();
    assert!(rec.keyed);
    let (k, v): (String, Value) = decode_record(rec.key(), &rec.value).unwrap();
    assert_eq!(k, input.pair.0);
    assert!(same(&v, &input.pair.1));

    // Keys keep their order.
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    encode_top(&input.a, &mut ea).unwrap();
    encode_top(&input.b, &mut eb).unwrap();
    assert_eq!(ea.cmp(&eb), input.a.cmp(&input.b), "{:?} vs {:?}", input.a, input.b);
    assert_eq!(decode_top::<Key>(&ea).unwrap(), input.a);

    // Arbitrary bytes: an error or a value, never a panic; what decodes re-encodes
    // to bytes that decode to the same value.
    if let Ok(v) = decode_top::<Value>(&input.raw) {
        let mut again = Vec::new();
        encode_top(&v, &mut again).unwrap();
        assert!(same(&decode_top::<Value>(&again).unwrap(), &v));
    }
    let _ = decode_top::<Key>(&input.raw);
    let _ = decode_record::<(String, Value)>(Some(&input.raw), &input.raw);
    // The fixed-width fast path gives what serde gives.
    assert_eq!(decode_top_fixed::<u64>(&input.raw).ok(), decode_top::<u64>(&input.raw).ok());
    assert_eq!(decode_top_fixed::<i64>(&input.raw).ok(), decode_top::<i64>(&input.raw).ok());
    assert_eq!(decode_top_fixed::<u32>(&input.raw).ok(), decode_top::<u32>(&input.raw).ok());
    assert_eq!(decode_top_fixed::<i32>(&input.raw).ok(), decode_top::<i32>(&input.raw).ok());
    assert_eq!(
        decode_top_fixed::<f64>(&input.raw).ok().map(f64::to_bits),
        decode_top::<f64>(&input.raw).ok().map(f64::to_bits)
    );
});
