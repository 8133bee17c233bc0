//! Operations on datasets of pairs `(K, V)`: keyed by the encoded bytes of `K`.

use std::collections::HashMap;
use std::hash::Hash;

use crate::dataset::Dataset;
use crate::pipeline::{self, make_op};
use crate::{Data, Error, Result};

/// An element of a two-way [`Dataset::cogroup`]: a key, its values on the left
/// and on the right.
pub type CoGrouped<K, V, W> = (K, (Vec<V>, Vec<W>));

impl<K: Data, V: Data> Dataset<(K, V)> {
    /// Applies `f` to every value, keeping keys.
    pub fn map_values<W: Data, F: Fn(V) -> W + Copy + 'static>(&self, _f: F) -> Dataset<(K, W)> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_map_values::<F, K, V, W>, &[]))
    }

    /// The keys.
    pub fn keys(&self) -> Dataset<K> {
        self.map(|(k, _): (K, V)| k)
    }

    /// The values.
    pub fn values(&self) -> Dataset<V> {
        self.map(|(_, v): (K, V)| v)
    }

    /// Merges the values of each key with `f` (associative and commutative),
    /// combining map-side before the shuffle. Keeps the partition count.
    pub fn reduce_by_key<F: Fn(V, V) -> V + Copy + 'static>(&self, f: F) -> Dataset<(K, V)> {
        self.reduce_by_key_into(f, 0)
    }

    /// [`reduce_by_key`](Self::reduce_by_key) into `partitions` partitions (0: as many
    /// as this dataset has).
    pub fn reduce_by_key_into<F: Fn(V, V) -> V + Copy + 'static>(&self, _f: F, partitions: u32) -> Dataset<(K, V)> {
        crate::__no_capture!(F);
        let op = make_op(pipeline::build_combine::<F, K, V>, &[]);
        Self::wrap(self.handle().reduce_by_key(&op, (partitions > 0).then_some(partitions)))
    }

    /// All values of each key, through a shuffle (no map-side combining: prefer
    /// [`reduce_by_key`](Self::reduce_by_key) when values can be merged).
    pub fn group_by_key(&self) -> Dataset<(K, Vec<V>)> {
        self.group_by_key_into(0)
    }

    /// [`group_by_key`](Self::group_by_key) into `partitions` partitions (0: as many
    /// as this dataset has).
    pub fn group_by_key_into(&self, partitions: u32) -> Dataset<(K, Vec<V>)> {
        let grouped: Dataset<(K, V)> = Self::wrap(self.handle().group_by_key((partitions > 0).then_some(partitions)));
        grouped.narrow(make_op(pipeline::build_decode_group::<K, V>, &[]))
    }

    /// Sorted by key (keys encode so that byte order is value order) into range
    /// partitions: partition 0 holds the smallest keys (the largest when not
    /// `ascending`), each partition is sorted. Runs a job that samples the keys.
    pub fn sort_by_key(&self, ascending: bool) -> Result<Dataset<(K, V)>> {
        self.sort_by_key_into(ascending, 0)
    }

    /// [`sort_by_key`](Self::sort_by_key) into at most `partitions` partitions
    /// (0: as many as this dataset has).
    pub fn sort_by_key_into(&self, ascending: bool, partitions: u32) -> Result<Dataset<(K, V)>> {
        let sorted = self.handle().sort_by_key(ascending, (partitions > 0).then_some(partitions)).map_err(Error::msg)?;
        Ok(Self::wrap(sorted))
    }

    /// Each key with the values it has here and in `other`.
    pub fn cogroup<W: Data>(&self, other: &Dataset<(K, W)>) -> Dataset<CoGrouped<K, V, W>> {
        self.cogroup_into(other, 0)
    }

    /// [`cogroup`](Self::cogroup) into `partitions` partitions (0: as many as the
    /// larger input has).
    pub fn cogroup_into<W: Data>(&self, other: &Dataset<(K, W)>, partitions: u32) -> Dataset<CoGrouped<K, V, W>> {
        let grouped: Dataset<(K, V)> =
            Self::wrap(self.handle().cogroup(&[other.handle()], (partitions > 0).then_some(partitions)));
        grouped.narrow(make_op(pipeline::build_decode_cogroup::<K, V, W>, &[]))
    }

    /// Inner join: every pair of values with equal keys.
    pub fn join<W: Data + Clone>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (V, W))>
    where
        K: Clone,
        V: Clone,
    {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let mut out = Vec::with_capacity(vs.len() * ws.len());
            for v in &vs {
                for w in &ws {
                    out.push((k.clone(), (v.clone(), w.clone())));
                }
            }
            out
        })
    }

    /// Left outer join: every value here, with each matching value of `other`,
    /// or `None` when the key has none there.
    pub fn left_outer_join<W: Data + Clone>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (V, Option<W>))>
    where
        K: Clone,
        V: Clone,
    {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let mut out = Vec::new();
            for v in &vs {
                if ws.is_empty() {
                    out.push((k.clone(), (v.clone(), None)));
                }
                for w in &ws {
                    out.push((k.clone(), (v.clone(), Some(w.clone()))));
                }
            }
            out
        })
    }

    /// Right outer join: every value of `other`, with each matching value here,
    /// or `None`.
    pub fn right_outer_join<W: Data + Clone>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (Option<V>, W))>
    where
        K: Clone,
        V: Clone,
    {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let mut out = Vec::new();
            for w in &ws {
                if vs.is_empty() {
                    out.push((k.clone(), (None, w.clone())));
                }
                for v in &vs {
                    out.push((k.clone(), (Some(v.clone()), w.clone())));
                }
            }
            out
        })
    }

    /// Full outer join: every pair of values with equal keys, and every value
    /// whose key the other side lacks, with `None` for the missing side.
    pub fn full_outer_join<W: Data + Clone>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (Option<V>, Option<W>))>
    where
        K: Clone,
        V: Clone,
    {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let mut out = Vec::new();
            if ws.is_empty() {
                out.extend(vs.into_iter().map(|v| (k.clone(), (Some(v), None))));
            } else if vs.is_empty() {
                out.extend(ws.into_iter().map(|w| (k.clone(), (None, Some(w)))));
            } else {
                for v in &vs {
                    for w in &ws {
                        out.push((k.clone(), (Some(v.clone()), Some(w.clone()))));
                    }
                }
            }
            out
        })
    }

    /// Action: how many elements each key has.
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>>
    where
        K: Eq + Hash,
    {
        Ok(self.map(|(k, _): (K, V)| (k, 1u64)).reduce_by_key(|a: u64, b: u64| a + b).collect()?.into_iter().collect())
    }
}
