//! Actions on datasets of numbers: sums, extremes and summary statistics
//! (Spark's `DoubleRDDFunctions` and `StatCounter`).

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::{Data, Result};

/// A number a dataset may hold: the integer types and the floats.
pub trait Numeric: Data + Copy {
    /// The value as an `f64` (for means and variances).
    fn to_f64(self) -> f64;
    /// The sum of two values (integers wrap, as accumulators do).
    fn plus(self, other: Self) -> Self;
    /// A total order (floats: `total_cmp`, so NaN sorts above infinity).
    fn order(&self, other: &Self) -> std::cmp::Ordering;
    /// Zero.
    const ZERO: Self;
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn plus(self, other: Self) -> Self { self.wrapping_add(other) }
            fn order(&self, other: &Self) -> std::cmp::Ordering { self.cmp(other) }
            const ZERO: Self = 0;
        }
    )*};
}

integers!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn plus(self, other: Self) -> Self { self + other }
            fn order(&self, other: &Self) -> std::cmp::Ordering { self.total_cmp(other) }
            const ZERO: Self = 0.0;
        }
    )*};
}

floats!(f32, f64);

/// Count, mean, variance and extremes of a dataset of numbers, merged from
/// each partition's (Welford's update, Chan's merge).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// How many numbers.
    pub count: u64,
    /// Their mean (`NaN` for none).
    pub mean: f64,
    /// The sum of squared differences from the mean.
    m2: f64,
    /// The smallest (`+inf` for none).
    pub min: f64,
    /// The largest (`-inf` for none).
    pub max: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { count: 0, mean: f64::NAN, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Stats {
    /// Adds one number.
    pub fn with(mut self, x: f64) -> Stats {
        self.count += 1;
        let mean = if self.count == 1 { 0.0 } else { self.mean };
        let delta = x - mean;
        self.mean = mean + delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self
    }

    /// Both sets of numbers together.
    pub fn merge(self, other: Stats) -> Stats {
        if self.count == 0 {
            return other;
        }
        if other.count == 0 {
            return self;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        let mean = self.mean + delta * other.count as f64 / count as f64;
        let m2 = self.m2 + other.m2 + delta * delta * self.count as f64 * other.count as f64 / count as f64;
        Stats { count, mean, m2, min: self.min.min(other.min), max: self.max.max(other.max) }
    }

    /// The sum (`mean * count`).
    pub fn sum(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.mean * self.count as f64 }
    }

    /// The population variance (Spark's `variance`); `NaN` for none.
    pub fn variance(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.m2 / self.count as f64 }
    }

    /// The sample variance (divided by `count - 1`); `NaN` below two numbers.
    pub fn sample_variance(&self) -> f64 {
        if self.count < 2 { f64::NAN } else { self.m2 / (self.count - 1) as f64 }
    }

    /// The population standard deviation.
    pub fn stdev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The sample standard deviation.
    pub fn sample_stdev(&self) -> f64 {
        self.sample_variance().sqrt()
    }
}

impl<N: Numeric> Dataset<N> {
    /// Action: the sum (0 for an empty dataset; integers wrap).
    pub fn sum(&self) -> Result<N> {
        self.fold(N::ZERO, |a: N, b: N| a.plus(b))
    }

    /// Action: the smallest number, `None` for an empty dataset.
    pub fn min(&self) -> Result<Option<N>> {
        self.reduce(|a: N, b: N| if b.order(&a).is_lt() { b } else { a })
    }

    /// Action: the largest number, `None` for an empty dataset.
    pub fn max(&self) -> Result<Option<N>> {
        self.reduce(|a: N, b: N| if b.order(&a).is_gt() { b } else { a })
    }

    /// Action: count, mean, variance and extremes in one pass.
    pub fn stats(&self) -> Result<Stats> {
        self.aggregate(Stats::default(), |s: Stats, x: N| s.with(x.to_f64()), |a: Stats, b: Stats| a.merge(b))
    }

    /// Action: the mean (`NaN` for an empty dataset).
    pub fn mean(&self) -> Result<f64> {
        Ok(self.stats()?.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_merge_as_if_computed_at_once() {
        let xs: Vec<f64> = (0..50).map(|i| (i * 37 % 11) as f64 - 3.5).collect();
        let all = xs.iter().fold(Stats::default(), |s, x| s.with(*x));
        let (a, b) = xs.split_at(17);
        let merged = a
            .iter()
            .fold(Stats::default(), |s, x| s.with(*x))
            .merge(b.iter().fold(Stats::default(), |s, x| s.with(*x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        for s in [all, merged] {
            assert_eq!(s.count, 50);
            assert!((s.mean - mean).abs() < 1e-9 && (s.variance() - var).abs() < 1e-9, "{s:?}");
            assert_eq!((s.min, s.max), (-3.5, 6.5));
        }
        assert!(Stats::default().mean.is_nan() && Stats::default().merge(Stats::default()).count == 0);
    }
}
