//! The record-batch frame decoder on arbitrary bytes: it never panics or reads out
//! of bounds; what it accepts re-encodes to a batch that decodes to the same
//! records; `count_records` and `first_records` agree with iteration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spindle_frame::{BatchReader, BatchWriter, Record, count_records, first_records};

fuzz_target!(|data: &[u8]| {
    let mut records: Vec<Record<'_>> = Vec::new();
    let mut failed = None;
    for r in BatchReader::new(data) {
        match r {
            Ok(r) => records.push(r),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let counted = count_records(data);
    match &failed {
        None => assert_eq!(counted, Ok(records.len() as u64)),
        Some(e) => assert_eq!(counted.as_ref().err(), Some(e)),
    }
    if failed.is_some() {
        return;
    }
    // Re-encoded, the records decode to themselves (lengths may have been written
    // with redundant LEB128 bytes, so the bytes may differ).
    let mut w = BatchWriter::with_capacity(data.len());
    for r in &records {
        w.push(r.key, r.value);
    }
    assert_eq!(w.records(), records.len());
    let again = w.finish();
    assert!(again.len() <= data.len());
    let decoded: Vec<Record<'_>> = BatchReader::new(&again).map(|r| r.unwrap()).collect();
    assert_eq!(decoded, records);
    // A prefix of n records is exactly the first n.
    let n = (data.len() % (records.len() + 1)) as u64;
    let prefix = first_records(data, n).unwrap();
    let firsts: Vec<Record<'_>> = BatchReader::new(&prefix).map(|r| r.unwrap()).collect();
    assert_eq!(firsts, records[..n as usize]);
});
