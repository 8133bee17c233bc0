//! Arranging a whole reduce partition before the guest reads it: grouping values
//! by key, sorting by key bytes, or grouping several shuffles together (cogroup).
//! The formats are the ones `wit/job.wit` documents for `group-by-key` and
//! `cogroup`: a group's value is a batch of unkeyed records.

use std::collections::HashMap;
use std::collections::VecDeque;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter};
use spindle_proto::ReduceMode;

use crate::ExecutorError;

fn malformed(e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::BadSpec(format!("a shuffle block holds malformed records: {e}"))
}

/// Cuts records into batches of about `batch_bytes`.
struct Batches {
    out: VecDeque<Vec<u8>>,
    open: BatchWriter,
    batch_bytes: usize,
}

impl Batches {
    fn new(batch_bytes: usize) -> Self {
        Batches { out: VecDeque::new(), open: BatchWriter::default(), batch_bytes }
    }

    fn push(&mut self, key: Option<&[u8]>, value: &[u8]) {
        self.open.push(key, value);
        if self.open.len() >= self.batch_bytes {
            self.out.push_back(self.open.take());
        }
    }

    fn finish(mut self) -> VecDeque<Vec<u8>> {
        if !self.open.is_empty() {
            self.out.push_back(self.open.take());
        }
        self.out
    }
}

/// Arranges the fetched chunks of each side (one side unless cogrouping) by `mode`.
pub fn arrange(
    sides: Vec<Vec<Bytes>>,
    mode: ReduceMode,
    batch_bytes: usize,
) -> Result<VecDeque<Vec<u8>>, ExecutorError> {
    let mut out = Batches::new(batch_bytes);
    match mode {
        ReduceMode::AsFetched => {
            for chunk in sides.iter().flatten() {
                for rec in BatchReader::new(chunk) {
                    let rec = rec.map_err(malformed)?;
                    out.push(rec.key, rec.value);
                }
            }
        }
        ReduceMode::SortAscending | ReduceMode::SortDescending => {
            let mut records: Vec<(Bytes, Bytes)> = Vec::new();
            for chunk in sides.iter().flatten() {
                for rec in BatchReader::new(chunk) {
                    let rec = rec.map_err(malformed)?;
                    let key = rec.key.map(|k| chunk.slice_ref(k)).unwrap_or_default();
                    records.push((key, chunk.slice_ref(rec.value)));
                }
            }
            // Stable: equal keys keep the order they were fetched in.
            if mode == ReduceMode::SortAscending {
                records.sort_by(|a, b| a.0.cmp(&b.0));
            } else {
                records.sort_by(|a, b| b.0.cmp(&a.0));
            }
            for (k, v) in &records {
                out.push(Some(k), v);
            }
        }
        ReduceMode::Group | ReduceMode::Cogroup => {
            let n = sides.len();
            let mut index: HashMap<Bytes, usize> = HashMap::new();
            let mut groups: Vec<(Bytes, Vec<BatchWriter>)> = Vec::new();
            for (side, chunks) in sides.iter().enumerate() {
                for chunk in chunks {
                    for rec in BatchReader::new(chunk) {
                        let rec = rec.map_err(malformed)?;
                        let key = rec.key.map(|k| chunk.slice_ref(k)).unwrap_or_default();
                        let i = *index.entry(key.clone()).or_insert_with(|| {
                            groups.push((key, (0..n).map(|_| BatchWriter::default()).collect()));
                            groups.len() - 1
                        });
                        groups[i].1[side].push(None, rec.value);
                    }
                }
            }
            for (key, mut values) in groups {
                if mode == ReduceMode::Group {
                    out.push(Some(&key), &values[0].take());
                } else {
                    let mut all = BatchWriter::default();
                    for v in &mut values {
                        all.push(None, &v.take());
                    }
                    out.push(Some(&key), &all.finish());
                }
            }
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[(&str, &str)]) -> Bytes {
        let mut w = BatchWriter::default();
        for (k, v) in records {
            w.push(Some(k.as_bytes()), v.as_bytes());
        }
        Bytes::from(w.finish())
    }

    fn records(batches: &VecDeque<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        batches
            .iter()
            .flat_map(|b| {
                BatchReader::new(b)
                    .map(|r| r.unwrap())
                    .map(|r| (r.key.unwrap().to_vec(), r.value.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn values(batch: &[u8]) -> Vec<String> {
        BatchReader::new(batch).map(|r| String::from_utf8(r.unwrap().value.to_vec()).unwrap()).collect()
    }

    #[test]
    fn sorts_stably_both_ways() {
        let sides = vec![vec![batch(&[("b", "1"), ("a", "2")]), batch(&[("b", "3"), ("c", "4")])]];
        let asc = records(&arrange(sides.clone(), ReduceMode::SortAscending, 1).unwrap());
        let keys: Vec<_> = asc.iter().map(|(k, v)| format!("{}{}", k[0] as char, v[0] as char)).collect();
        assert_eq!(keys, ["a2", "b1", "b3", "c4"]);
        let desc = records(&arrange(sides, ReduceMode::SortDescending, 1 << 16).unwrap());
        let keys: Vec<_> = desc.iter().map(|(k, v)| format!("{}{}", k[0] as char, v[0] as char)).collect();
        assert_eq!(keys, ["c4", "b1", "b3", "a2"]);
    }

    #[test]
    fn groups_and_cogroups_values_as_batches() {
        let left = vec![batch(&[("k", "1"), ("j", "2"), ("k", "3")])];
        let right = vec![batch(&[("k", "x"), ("z", "y")])];
        let grouped = records(&arrange(vec![left.clone()], ReduceMode::Group, 1 << 16).unwrap());
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[0].0.as_slice(), values(&grouped[0].1)), (&b"k"[..], vec!["1".to_string(), "3".into()]));
        let co = records(&arrange(vec![left, right], ReduceMode::Cogroup, 1 << 16).unwrap());
        let by_key: HashMap<String, Vec<Vec<String>>> = co
            .iter()
            .map(|(k, v)| {
                let sides = BatchReader::new(v).map(|s| values(s.unwrap().value)).collect();
                (String::from_utf8(k.clone()).unwrap(), sides)
            })
            .collect();
        assert_eq!(by_key["k"], vec![vec!["1".to_string(), "3".into()], vec!["x".to_string()]]);
        assert_eq!(by_key["j"], vec![vec!["2".to_string()], vec![]]);
        assert_eq!(by_key["z"], vec![vec![], vec!["y".to_string()]]);
    }
}
