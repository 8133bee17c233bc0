//! The combining key table (open addressing, short keys held in their slots, long
//! ones in an arena) against a `BTreeMap`: after any sequence of merges, with any
//! keys, a drain yields exactly the reference's keys and sums, each key once.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use spindle::__fuzz::KeyTable;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Merge one key.
    Merge(Vec<u8>, u64),
    /// Merge a batch of keys, in order.
    Batch(Vec<(Vec<u8>, u64)>),
    /// Merge a key made of `len` copies of `byte` (long keys, and keys that share
    /// their first words).
    Repeat(u8, u8, u64),
    /// Drain the table and check it against the reference.
    Drain,
}

#[derive(Debug, Arbitrary)]
struct Input {
    seed: u64,
    ops: Vec<Op>,
}

fn check(table: &mut KeyTable<u64>, reference: &mut BTreeMap<Vec<u8>, u64>) {
    let mut seen = BTreeMap::new();
    for (k, v) in table.drain() {
        let prev = seen.insert(k.bytes().to_vec(), v);
        assert!(prev.is_none(), "key {:?} drained twice", k.bytes());
    }
    assert_eq!(&seen, reference);
    reference.clear();
}

fuzz_target!(|input: Input| {
    let mut table = KeyTable::<u64>::new(input.seed);
    let mut reference: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let add = |a: u64, b: u64| a.wrapping_add(b);
    for op in input.ops {
        match op {
            Op::Merge(k, v) => {
                table.merge(&k, v, add);
                let e = reference.entry(k).or_insert(0);
                *e = e.wrapping_add(v);
            }
            Op::Batch(items) => {
                for (k, v) in &items {
                    let e = reference.entry(k.clone()).or_insert(0);
                    *e = e.wrapping_add(*v);
                }
                let mut items = items;
                table.merge_batch(&mut items, add);
                assert!(items.is_empty());
            }
            Op::Repeat(byte, len, v) => {
                let k = vec![byte; len as usize];
                table.merge(&k, v, add);
                let e = reference.entry(k).or_insert(0);
                *e = e.wrapping_add(v);
            }
            Op::Drain => check(&mut table, &mut reference),
        }
    }
    check(&mut table, &mut reference);
    // Values that need dropping are dropped once each (a double drop or a leak of
    // a `String` shows up under the sanitizers, and as a wrong count here).
    let mut strings = KeyTable::<String>::new(input.seed ^ 1);
    for i in 0..64u32 {
        strings.merge(&i.to_le_bytes()[..(i % 5) as usize], i.to_string(), |a, b| a + &b);
    }
    drop(strings);
});
