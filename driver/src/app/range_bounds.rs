//! Where a sort's output partitions split: bounds from keys sampled by a first
//! job, weighted by how many records each sample stands for.

use bytes::Bytes;
use spindle_frame::BatchReader;

/// How many keys a sort samples in all: 20 per output partition (as Spark),
/// at most a million.
pub(super) fn sample_size(partitions: u32) -> u64 {
    (20 * u64::from(partitions)).min(1_000_000)
}

/// Range bounds for `partitions` partitions from sampled keys: each partition's
/// sample weighs as many records as it stands for, and bounds fall at equal steps
/// of the cumulative weight (Spark's `RangePartitioner.determineBounds`).
pub(super) fn range_bounds(samples: Vec<(Vec<u8>, u64)>, partitions: u32) -> Result<Vec<Bytes>, String> {
    let mut candidates: Vec<(Bytes, f64)> = Vec::new();
    for (batch, seen) in samples {
        let keys: Vec<Bytes> = BatchReader::new(&batch)
            .map(|r| r.map(|r| Bytes::copy_from_slice(r.key.unwrap_or_default())))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("sort-by-key: a sampling task returned malformed keys: {e}"))?;
        if keys.is_empty() {
            continue;
        }
        let weight = seen as f64 / keys.len() as f64;
        candidates.extend(keys.into_iter().map(|k| (k, weight)));
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    let total: f64 = candidates.iter().map(|c| c.1).sum();
    let step = total / f64::from(partitions);
    let mut bounds: Vec<Bytes> = Vec::new();
    let (mut cumulative, mut target) = (0.0, step);
    for (key, weight) in candidates {
        if bounds.len() + 1 >= partitions as usize {
            break;
        }
        cumulative += weight;
        if cumulative >= target && bounds.last().is_none_or(|last| key > *last) {
            bounds.push(key);
            target += step;
        }
    }
    Ok(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_frame::BatchWriter;

    fn keys(ks: &[u32]) -> Vec<u8> {
        let mut w = BatchWriter::default();
        for k in ks {
            w.push(Some(&k.to_be_bytes()), b"");
        }
        w.finish()
    }

    #[test]
    fn bounds_split_the_weighted_sample_evenly() {
        // Partition 0: 1000 records, sampled 0..100 (weight 10 each); partition 1:
        // 100 records, all sampled as 1000..1100 (weight 1 each).
        let samples = vec![(keys(&(0..100).collect::<Vec<_>>()), 1000), (keys(&(1000..1100).collect::<Vec<_>>()), 100)];
        let bounds = range_bounds(samples, 4).unwrap();
        let as_u32: Vec<u32> = bounds.iter().map(|b| u32::from_be_bytes(b[..].try_into().unwrap())).collect();
        // 1100 records in 4 ranges of ~275: the first three bounds fall in partition 0's keys.
        assert_eq!(as_u32.len(), 3);
        assert!(as_u32.windows(2).all(|w| w[0] < w[1]));
        assert!(
            (26..29).contains(&as_u32[0]) && (53..57).contains(&as_u32[1]) && (81..85).contains(&as_u32[2]),
            "{as_u32:?}"
        );
        assert!(
            range_bounds(vec![(keys(&[5, 5, 5]), 3)], 4).unwrap().len() <= 1,
            "one distinct key: one bound at most"
        );
        assert!(range_bounds(Vec::new(), 4).unwrap().is_empty());
    }
}
