//! Operations built from the core ones: indexes, set operations, sampling into
//! `main`, splits, per-element actions and caller-ordered selections.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use crate::dataset::{Dataset, captured, smallest, smallest_of};
use crate::pipeline::{self, CrossSpec, PartitionIter, SplitMix, SplitSpec, conjure, make_op};
use crate::{Data, Result};

impl<T: Data> Dataset<T> {
    /// Pairs each element with its index in the dataset's order (partition by
    /// partition). Like Spark, it runs a job now to count each partition's
    /// elements, unless there is one partition.
    pub fn zip_with_index(&self) -> Result<Dataset<(T, u64)>> {
        let parts = self.num_partitions();
        let mut offsets = vec![0u64; parts as usize];
        if parts > 1 {
            let counts = self
                .map(|_: T| ())
                .map_partitions_with_index(|p: u32, items: PartitionIter<()>| [(p, items.count() as u64)])
                .collect()?;
            let mut sizes = vec![0u64; parts as usize];
            for (p, n) in counts {
                sizes[p as usize] = n;
            }
            let mut at = 0;
            for (offset, size) in offsets.iter_mut().zip(sizes) {
                *offset = at;
                at += size;
            }
        }
        Ok(self.narrow(make_op(pipeline::build_zip_with_index::<T>, &captured(&offsets))))
    }

    /// Pairs each element with a unique id: element `i` of partition `k` (of `n`)
    /// gets `i * n + k`. Runs no job; the ids have gaps.
    pub fn zip_with_unique_id(&self) -> Dataset<(T, u64)> {
        let n = u64::from(self.num_partitions());
        self.narrow(make_op(pipeline::build_zip_with_unique_id::<T>, &captured(&n)))
    }

    /// The elements that `other` does not hold, each as often as here (compared
    /// by their encoded bytes), through a shuffle.
    pub fn subtract(&self, other: &Dataset<T>) -> Dataset<T>
    where
        T: Clone,
    {
        let mine = self.map(|t: T| (t, ()));
        let theirs = other.map(|t: T| (t, ()));
        mine.cogroup(&theirs).flat_map(|(t, (here, there)): (T, (Vec<()>, Vec<()>))| {
            let n = if there.is_empty() { here.len() } else { 0 };
            std::iter::repeat_n(t, n)
        })
    }

    /// The distinct elements that both datasets hold, through a shuffle.
    pub fn intersection(&self, other: &Dataset<T>) -> Dataset<T> {
        let mine = self.map(|t: T| (t, ()));
        let theirs = other.map(|t: T| (t, ()));
        mine.cogroup(&theirs).flat_map(|(t, (here, there)): (T, (Vec<()>, Vec<()>))| {
            (!here.is_empty() && !there.is_empty()).then_some(t)
        })
    }

    /// Every pair of an element here and one of `other`. As Spark's, each task
    /// pairs one partition of each side: a partition of this side goes to as many
    /// tasks as `other` has partitions, and the other way round.
    pub fn cartesian<U: Data + Clone>(&self, other: &Dataset<U>) -> Dataset<(T, U)>
    where
        T: Clone,
    {
        let (m, n) = (self.num_partitions(), other.num_partitions());
        let left: Dataset<((u32, u32), T)> =
            self.narrow(make_op(pipeline::build_cross_key::<T>, &captured(&CrossSpec { left: true, others: n })));
        let right: Dataset<((u32, u32), U)> =
            other.narrow(make_op(pipeline::build_cross_key::<U>, &captured(&CrossSpec { left: false, others: m })));
        left.cogroup_into(&right, m.saturating_mul(n).max(1)).flat_map(
            |(_, (ts, us)): ((u32, u32), (Vec<T>, Vec<U>))| {
                let mut out = Vec::with_capacity(ts.len() * us.len());
                for t in &ts {
                    for u in &us {
                        out.push((t.clone(), u.clone()));
                    }
                }
                out
            },
        )
    }

    /// Splits the dataset randomly by `weights` (normalized to sum to 1): each
    /// element lands in exactly one split, the same one for the same `seed`.
    pub fn random_split(&self, weights: &[f64], seed: u64) -> Vec<Dataset<T>> {
        let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
        let mut low = 0.0;
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let high = if i + 1 == weights.len() {
                    1.0
                } else if total > 0.0 {
                    low + w.max(0.0) / total
                } else {
                    0.0
                };
                let spec = SplitSpec { low, high, seed };
                low = high;
                self.narrow(make_op(pipeline::build_random_split::<T>, &captured(&spec)))
            })
            .collect()
    }

    /// Action: `num` elements drawn at random (with or without replacement),
    /// in random order; the same `seed` gives the same draw. As Spark's, it
    /// counts the dataset, samples a fraction that likely gives enough, and
    /// samples again (another seed) in the rare case it did not.
    pub fn take_sample(&self, with_replacement: bool, num: usize, seed: u64) -> Result<Vec<T>> {
        if num == 0 {
            return Ok(Vec::new());
        }
        let count = self.count()?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut rng = SplitMix::new(seed);
        if !with_replacement && num as u64 >= count {
            let mut all = self.collect()?;
            shuffle(&mut all, &mut rng);
            return Ok(all);
        }
        let fraction = sample_fraction(num as u64, count, with_replacement);
        let mut seed = seed;
        let mut got = self.sample(with_replacement, fraction, seed).collect()?;
        while got.len() < num {
            seed = seed.wrapping_add(1);
            got = self.sample(with_replacement, fraction, seed).collect()?;
        }
        shuffle(&mut got, &mut rng);
        got.truncate(num);
        Ok(got)
    }

    /// Action: calls `f` on every element, in the tasks (with an accumulator,
    /// say); nothing comes back.
    pub fn foreach<F: Fn(T) + Copy + 'static>(&self, _f: F) -> Result<()> {
        crate::__no_capture!(F);
        let done: Dataset<()> = self.narrow(make_op(pipeline::build_foreach::<F, T>, &[]));
        done.count().map(|_| ())
    }

    /// [`foreach`](Self::foreach) with an explicitly passed value (an
    /// [`Accumulator`](crate::Accumulator), say).
    pub fn foreach_with<C: Data, F: Fn(&C, T) + Copy + 'static>(&self, value: &C, _f: F) -> Result<()> {
        crate::__no_capture!(F);
        let done: Dataset<()> = self.flat_map_with(value, |c: &C, t: T| {
            conjure::<F>()(c, t);
            None::<()>
        });
        done.count().map(|_| ())
    }

    /// Action: whether the dataset has no element (reads as little as `take(1)`).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.take(1)?.is_empty())
    }

    /// Action: how many times each distinct element occurs.
    pub fn count_by_value(&self) -> Result<HashMap<T, u64>>
    where
        T: Eq + Hash,
    {
        Ok(self.map(|t: T| (t, 1u64)).reduce_by_key(|a: u64, b: u64| a + b).collect()?.into_iter().collect())
    }

    /// Action: the `n` smallest elements under `order`, smallest first (for
    /// elements without `Ord`, such as `f64`: `|a, b| a.total_cmp(b)`).
    pub fn take_ordered_by<F: Fn(&T, &T) -> Ordering + Copy + 'static>(&self, n: usize, _order: F) -> Result<Vec<T>> {
        crate::__no_capture!(F);
        let mut got = self
            .map_partitions_with(&(n as u64), |n: &u64, _p: u32, items: PartitionIter<T>| {
                smallest_of(items, *n as usize, conjure::<F>())
            })
            .collect()?;
        smallest(&mut got, n, conjure::<F>());
        Ok(got)
    }

    /// Action: the `n` largest elements under `order`, largest first.
    pub fn top_by<F: Fn(&T, &T) -> Ordering + Copy + 'static>(&self, n: usize, _order: F) -> Result<Vec<T>> {
        crate::__no_capture!(F);
        let mut got = self
            .map_partitions_with(&(n as u64), |n: &u64, _p: u32, items: PartitionIter<T>| {
                smallest_of(items, *n as usize, |a: &T, b: &T| conjure::<F>()(b, a))
            })
            .collect()?;
        smallest(&mut got, n, |a: &T, b: &T| conjure::<F>()(b, a));
        Ok(got)
    }

    /// The distinct elements into `partitions` partitions (0: as many as here).
    pub fn distinct_into(&self, partitions: u32) -> Dataset<T> {
        self.map(|t: T| (t, ())).reduce_by_key_into(|a: (), _b: ()| a, partitions).map(|(t, _): (T, ())| t)
    }

    /// [`sort_by`](Dataset::sort_by) into at most `partitions` partitions (0: as
    /// many as here).
    pub fn sort_by_into<K: Data, F: Fn(&T) -> K + Copy + 'static>(
        &self,
        f: F,
        ascending: bool,
        partitions: u32,
    ) -> Result<Dataset<T>> {
        Ok(self.key_by(f).sort_by_key_into(ascending, partitions)?.map(|(_, t): (K, T)| t))
    }
}

/// Fisher-Yates with the given generator.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Spark's `SamplingUtils.computeFractionForSampleSize`: a fraction that gives
/// at least `num` of `total` elements with probability 0.9999.
fn sample_fraction(num: u64, total: u64, with_replacement: bool) -> f64 {
    let (num, total) = (num as f64, total as f64);
    if with_replacement {
        let stdevs = if num < 12.0 { 9.0 } else { 5.0 };
        (num + stdevs * num.sqrt()).max(1e-10) / total
    } else {
        let gamma = -(1e-4f64).ln() / total;
        let q = num / total;
        (q + gamma + (gamma * gamma + 2.0 * gamma * q).sqrt()).clamp(1e-10, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_fractions_leave_room() {
        assert!(sample_fraction(10, 1000, false) > 0.01);
        assert!(sample_fraction(10, 1000, true) > 0.01);
        assert_eq!(sample_fraction(999, 1000, false), 1.0);
        let mut items: Vec<u32> = (0..100).collect();
        shuffle(&mut items, &mut SplitMix::new(3));
        let mut sorted = items.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(items, sorted);
    }
}
