//! Operations on datasets of pairs `(K, V)`: keyed by the encoded bytes of `K`.

use std::collections::HashMap;
use std::hash::Hash;

use crate::dataset::Dataset;
use crate::grouped::{CoGrouped, CoGrouped3, CoGrouped4, OuterJoined};
use crate::pipeline::{self, conjure, make_op};
use crate::{Data, Error, Result};

impl<K: Data, V: Data> Dataset<(K, V)> {
    /// Applies `f` to every value, keeping keys.
    pub fn map_values<W: Data, F: Fn(V) -> W + Copy + 'static>(&self, _f: F) -> Dataset<(K, W)> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_map_values::<F, K, V, W>, &[]))
    }

    /// Maps every value to zero or more values, each keeping the key.
    pub fn flat_map_values<W: Data, I: IntoIterator<Item = W>, F: Fn(V) -> I + Copy + 'static>(
        &self,
        _f: F,
    ) -> Dataset<(K, W)>
    where
        K: Clone,
    {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_flat_map_values::<F, K, V, W, I>, &[]))
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
        let sorted =
            self.handle().sort_by_key(ascending, (partitions > 0).then_some(partitions)).map_err(Error::msg)?;
        Ok(Self::wrap(sorted))
    }

    /// Each key with its values here and in `b` and `c`.
    pub fn cogroup3<W: Data, X: Data>(
        &self,
        b: &Dataset<(K, W)>,
        c: &Dataset<(K, X)>,
    ) -> Dataset<CoGrouped3<K, V, W, X>> {
        let grouped: Dataset<(K, V)> = Self::wrap(self.handle().cogroup(&[b.handle(), c.handle()], None));
        grouped.narrow(make_op(pipeline::build_decode_cogroup3::<K, V, W, X>, &[]))
    }

    /// Each key with its values here and in `b`, `c` and `d`.
    pub fn cogroup4<W: Data, X: Data, Y: Data>(
        &self,
        b: &Dataset<(K, W)>,
        c: &Dataset<(K, X)>,
        d: &Dataset<(K, Y)>,
    ) -> Dataset<CoGrouped4<K, V, W, X, Y>> {
        let grouped: Dataset<(K, V)> = Self::wrap(self.handle().cogroup(&[b.handle(), c.handle(), d.handle()], None));
        grouped.narrow(make_op(pipeline::build_decode_cogroup4::<K, V, W, X, Y>, &[]))
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
    pub fn full_outer_join<W: Data + Clone>(&self, other: &Dataset<(K, W)>) -> Dataset<OuterJoined<K, V, W>>
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

    /// The pairs whose key `other` lacks, through a shuffle.
    pub fn subtract_by_key<W: Data>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, V)>
    where
        K: Clone,
    {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let keep = if ws.is_empty() { vs } else { Vec::new() };
            keep.into_iter().map(move |v| (k.clone(), v))
        })
    }

    /// Moves each pair, through a shuffle, to partition `f(key) % partitions`
    /// (Spark's `partitionBy` with a custom partitioner): pairs with keys the
    /// job deems related meet in one partition, for a `map_partitions` after it.
    pub fn partition_by<F: Fn(&K) -> u32 + Copy + 'static>(&self, partitions: u32, _f: F) -> Dataset<(K, V)> {
        crate::__no_capture!(F);
        self.partition_by_with(&(), partitions, |_: &(), k: &K| conjure::<F>()(k))
    }

    /// [`partition_by`](Self::partition_by) with a partitioner taking a shipped value.
    pub fn partition_by_with<C: Data, F: Fn(&C, &K) -> u32 + Copy + 'static>(
        &self,
        value: &C,
        partitions: u32,
        _f: F,
    ) -> Dataset<(K, V)> {
        crate::__no_capture!(F);
        // The key becomes (partition, key): its first 4 bytes name the partition
        // (a u32 encodes as 4 big-endian bytes), which the host reads.
        let tagged = self.map_with(value, |c: &C, (k, v): (K, V)| ((conjure::<F>()(c, &k), k), v));
        let moved: Dataset<((u32, K), V)> = Self::wrap(tagged.handle().partition_by_prefix(partitions.max(1)));
        moved.map(|((_, k), v): ((u32, K), V)| (k, v))
    }

    /// Action: the pairs as a map (of a key with several values, one of them).
    pub fn collect_as_map(&self) -> Result<HashMap<K, V>>
    where
        K: Eq + Hash,
    {
        Ok(self.collect()?.into_iter().collect())
    }

    /// Action: the values of `key`, through a scan of every partition.
    pub fn lookup(&self, key: &K) -> Result<Vec<V>>
    where
        K: PartialEq,
    {
        self.filter_with(key, |key: &K, (k, _): &(K, V)| k == key).values().collect()
    }

    /// Action: how many elements each key has.
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>>
    where
        K: Eq + Hash,
    {
        Ok(self.map(|(k, _): (K, V)| (k, 1u64)).reduce_by_key(|a: u64, b: u64| a + b).collect()?.into_iter().collect())
    }
}
