//! Datasets on the driver side: sources, lazy transformations and actions, over the
//! host's `context` interface.

use std::marker::PhantomData;
use std::rc::Rc;

use spindle_frame::{BatchReader, BatchWriter};

use crate::__private::bindings::spindle::job::context;
use crate::codec::{self, RecordBuf};
use crate::pipeline::{self, PartitionIter, conjure, make_op};
use crate::{Data, Error, Line, Result};

/// Where a persisted dataset's partitions are kept (see [`Dataset::persist`]).
pub use crate::__private::bindings::spindle::job::context::StorageLevel;

/// Refuses, at compile time, a closure that captures variables: its captures could
/// not travel to the executors. Use the `_with` variant of the method instead.
#[macro_export]
#[doc(hidden)]
macro_rules! __no_capture {
    ($f:ty) => {
        const {
            assert!(
                std::mem::size_of::<$f>() == 0,
                "a closure passed to a Spindle transformation captures variables; \
                 pass the value explicitly with the `_with` variant (e.g. `map_with`)"
            )
        }
    };
}

/// A distributed, immutable collection of `T`, computed lazily.
///
/// Transformations (`map`, `filter`, ...) return new datasets and run nothing;
/// actions (`collect`, `count`, `save_as_text_file`) run a job on the cluster and
/// block until it finishes. A dataset can be used by several actions.
pub struct Dataset<T> {
    handle: Rc<context::Dataset>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset { handle: self.handle.clone(), _t: PhantomData }
    }
}

impl<T> std::fmt::Debug for Dataset<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dataset<{}>", std::any::type_name::<T>())
    }
}

impl<T: Data> Dataset<T> {
    pub(crate) fn wrap<U>(handle: context::Dataset) -> Dataset<U> {
        Dataset { handle: Rc::new(handle), _t: PhantomData }
    }

    /// The same records, read as another element type.
    fn wrap_as<U>(self) -> Dataset<U> {
        Dataset { handle: self.handle, _t: PhantomData }
    }

    pub(crate) fn handle(&self) -> &context::Dataset {
        &self.handle
    }

    pub(crate) fn narrow<U>(&self, op: Vec<u8>) -> Dataset<U> {
        Self::wrap(self.handle.narrow(&op))
    }

    /// Applies `f` to every element.
    pub fn map<U: Data, F: Fn(T) -> U + Copy + 'static>(&self, _f: F) -> Dataset<U> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_map::<F, T, U>, &[]))
    }

    /// Applies `f` to every element, with `value` (serialized and shipped to every
    /// task) passed by reference.
    pub fn map_with<C: Data, U: Data, F: Fn(&C, T) -> U + Copy + 'static>(&self, value: &C, _f: F) -> Dataset<U> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_map_with::<F, C, T, U>, &captured(value)))
    }

    /// Keeps the elements for which `f` is true.
    pub fn filter<F: Fn(&T) -> bool + Copy + 'static>(&self, _f: F) -> Dataset<T> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_filter::<F, T>, &[]))
    }

    /// [`filter`](Self::filter) with an explicitly passed value.
    pub fn filter_with<C: Data, F: Fn(&C, &T) -> bool + Copy + 'static>(&self, value: &C, _f: F) -> Dataset<T> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_filter_with::<F, C, T>, &captured(value)))
    }

    /// Maps every element to zero or more elements.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>, F: Fn(T) -> I + Copy + 'static>(&self, _f: F) -> Dataset<U> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_flat_map::<F, T, U, I>, &[]))
    }

    /// [`flat_map`](Self::flat_map) with an explicitly passed value.
    pub fn flat_map_with<C: Data, U: Data, I: IntoIterator<Item = U>, F: Fn(&C, T) -> I + Copy + 'static>(
        &self,
        value: &C,
        _f: F,
    ) -> Dataset<U> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_flat_map_with::<F, C, T, U, I>, &captured(value)))
    }

    /// The number of partitions (tasks per stage over this dataset).
    pub fn num_partitions(&self) -> u32 {
        self.handle.num_partitions()
    }

    /// Action: every element, in partition order.
    pub fn collect(&self) -> Result<Vec<T>> {
        decode_all(&self.handle.collect().map_err(Error::msg)?)
    }

    /// Action: the number of elements.
    pub fn count(&self) -> Result<u64> {
        self.handle.count().map_err(Error::msg)
    }

    /// Action: writes one line per element (see [`Line`]: `Display` for
    /// plain values, tab-separated fields for tuples) into `path/part-NNNNN`
    /// files, then `path/_SUCCESS`. Fails if `path` exists.
    pub fn save_as_text_file(&self, path: &str) -> Result<()>
    where
        T: Line,
    {
        self.save_as_text_file_with(path, SaveOptions::default())
    }

    /// Action: [`save_as_text_file`](Dataset::save_as_text_file) with options:
    /// `SaveOptions { compression: Compression::Gzip }` writes
    /// `path/part-NNNNN.gz` files (`.zst` for zstd, `.bz2` for bzip2), which
    /// `gzip -d`, `zstd -d`, `bzip2 -d` and [`text_file`] read.
    pub fn save_as_text_file_with(&self, path: &str, options: SaveOptions) -> Result<()>
    where
        T: Line,
    {
        let options = context::SaveOptions { compression: options.compression.wit() };
        match T::line_layout() {
            // Plain values: the host formats the records it is handed.
            Some(layout) => self.handle.save_as_lines(path, options, layout),
            None => self.map(to_line::<T>).handle.save_as_text_file_with(path, options),
        }
        .map_err(Error::msg)
    }

    /// Keeps this dataset's partitions in executor memory once an action has
    /// computed them (`persist(StorageLevel::MemoryOnly)`).
    pub fn cache(&self) -> Self {
        self.persist(StorageLevel::MemoryOnly)
    }

    /// Keeps this dataset's partitions on the executors that compute them, at
    /// `level`, from the next action on; later actions read them instead of
    /// computing them again. Partitions pushed out of a full executor are
    /// recomputed from lineage when needed.
    pub fn persist(&self, level: StorageLevel) -> Self {
        self.handle.persist(level);
        self.clone()
    }

    /// Drops the kept partitions from every executor.
    pub fn unpersist(&self) {
        self.handle.unpersist();
    }

    /// The elements of this dataset, then those of `other` (no shuffle).
    pub fn union(&self, other: &Dataset<T>) -> Dataset<T> {
        Self::wrap(self.handle.union(&[&other.handle]))
    }

    /// At most `partitions` partitions, merging neighbours (no shuffle).
    pub fn coalesce(&self, partitions: u32) -> Dataset<T> {
        Self::wrap(self.handle.coalesce(partitions))
    }

    /// Exactly `partitions` partitions of about equal size, through a shuffle.
    pub fn repartition(&self, partitions: u32) -> Dataset<T> {
        Self::wrap(self.handle.repartition(partitions))
    }

    /// Calls `f` once per partition with an iterator over its elements and the
    /// partition's index. The elements are read from the task's input as `f`
    /// asks for them, so a partition larger than the task's memory flows through
    /// (one `map_partitions` of a pipeline streams; another one in the same run
    /// of narrow operations gets its elements from a buffer).
    pub fn map_partitions_with_index<
        U: Data,
        I: IntoIterator<Item = U>,
        F: Fn(u32, PartitionIter<T>) -> I + Copy + 'static,
    >(
        &self,
        _f: F,
    ) -> Dataset<U> {
        crate::__no_capture!(F);
        self.map_partitions_with(&(), move |_: &(), p: u32, items: PartitionIter<T>| conjure::<F>()(p, items))
    }

    /// Calls `f` once per partition with an iterator over its elements, read
    /// from the task's input as `f` asks for them (Spark's `mapPartitions`).
    ///
    /// ```ignore
    /// let sums = numbers.map_partitions(|items: spindle::PartitionIter<i64>| [items.sum::<i64>()]);
    /// ```
    pub fn map_partitions<U: Data, I: IntoIterator<Item = U>, F: Fn(PartitionIter<T>) -> I + Copy + 'static>(
        &self,
        _f: F,
    ) -> Dataset<U> {
        crate::__no_capture!(F);
        self.map_partitions_with(&(), move |_: &(), _p: u32, items: PartitionIter<T>| conjure::<F>()(items))
    }

    /// Calls `f` once per partition with all of its elements in a `Vec`
    /// (buffered in the task's memory): a convenience where the whole partition
    /// is needed at once (to sort it, say).
    pub fn map_partitions_vec<U: Data, I: IntoIterator<Item = U>, F: Fn(Vec<T>) -> I + Copy + 'static>(
        &self,
        _f: F,
    ) -> Dataset<U> {
        crate::__no_capture!(F);
        self.map_partitions_with(&(), move |_: &(), _p: u32, items: PartitionIter<T>| conjure::<F>()(items.collect()))
    }

    /// [`map_partitions_with_index`](Self::map_partitions_with_index) with an
    /// explicitly passed value.
    pub fn map_partitions_with<
        C: Data,
        U: Data,
        I: IntoIterator<Item = U>,
        F: Fn(&C, u32, PartitionIter<T>) -> I + Copy + 'static,
    >(
        &self,
        value: &C,
        _f: F,
    ) -> Dataset<U> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_map_partitions_with::<F, C, T, U, I>, &captured(value)))
    }

    /// Pairs each element with the key `f` gives it.
    pub fn key_by<K: Data, F: Fn(&T) -> K + Copy + 'static>(&self, _f: F) -> Dataset<(K, T)> {
        crate::__no_capture!(F);
        self.narrow(make_op(pipeline::build_key_by::<F, T, K>, &[]))
    }

    /// A random sample: each element kept with probability `fraction`, or, with
    /// replacement, kept a Poisson(`fraction`) number of times. The same `seed`
    /// gives the same sample.
    pub fn sample(&self, with_replacement: bool, fraction: f64, seed: u64) -> Dataset<T> {
        let spec = pipeline::SampleSpec { with_replacement, fraction: fraction.max(0.0), seed };
        self.narrow(make_op(pipeline::build_sample::<T>, &captured(&spec)))
    }

    /// The distinct elements (by their encoded bytes), through a shuffle.
    pub fn distinct(&self) -> Dataset<T> {
        self.map(|t: T| (t, ())).reduce_by_key(|a: (), _b: ()| a).map(|(t, _): (T, ())| t)
    }

    /// Sorted by the key `f` gives each element (encoded keys compare as their
    /// values do), into range partitions; runs a sampling job now.
    pub fn sort_by<K: Data, F: Fn(&T) -> K + Copy + 'static>(&self, f: F, ascending: bool) -> Result<Dataset<T>> {
        Ok(self.key_by(f).sort_by_key(ascending)?.map(|(_, t): (K, T)| t))
    }

    /// Action: the first `n` elements, in partition order; scans as few
    /// partitions as it can.
    pub fn take(&self, n: u64) -> Result<Vec<T>> {
        decode_all(&self.handle.take(n).map_err(Error::msg)?)
    }

    /// Action: the first element, if any.
    pub fn first(&self) -> Result<Option<T>> {
        Ok(self.take(1)?.into_iter().next())
    }

    /// Action: the `n` smallest elements, smallest first. Each task picks its
    /// partition's `n` smallest (in time linear in the partition), and `main`
    /// sorts what the tasks picked.
    pub fn take_ordered(&self, n: usize) -> Result<Vec<T>>
    where
        T: Ord,
    {
        let mut got = self
            .map_partitions_with(&(n as u64), |n: &u64, _p: u32, items: PartitionIter<T>| {
                smallest_of(items, *n as usize, T::cmp)
            })
            .collect()?;
        smallest(&mut got, n, T::cmp);
        Ok(got)
    }

    /// Action: the `n` largest elements, largest first (picked as
    /// [`take_ordered`](Self::take_ordered) picks).
    pub fn top(&self, n: usize) -> Result<Vec<T>>
    where
        T: Ord,
    {
        let mut got = self
            .map_partitions_with(&(n as u64), |n: &u64, _p: u32, items: PartitionIter<T>| {
                smallest_of(items, *n as usize, |a: &T, b: &T| b.cmp(a))
            })
            .collect()?;
        smallest(&mut got, n, |a, b| b.cmp(a));
        Ok(got)
    }

    /// Action: folds each partition with `seq` from `zero`, then the partitions'
    /// results with `comb` from `zero` (Spark's `aggregate`).
    pub fn aggregate<U: Data + Clone, S: Fn(U, T) -> U + Copy + 'static, C: Fn(U, U) -> U + Copy + 'static>(
        &self,
        zero: U,
        _seq: S,
        _comb: C,
    ) -> Result<U> {
        crate::__no_capture!(S);
        crate::__no_capture!(C);
        let parts = self
            .map_partitions_with(&zero, |zero: &U, _p: u32, items: PartitionIter<T>| {
                let seq = conjure::<S>();
                [items.fold(zero.clone(), seq)]
            })
            .collect()?;
        let comb = conjure::<C>();
        Ok(parts.into_iter().fold(zero, comb))
    }

    /// Action: folds every element with `f` from `zero` (per partition, then
    /// across partitions; `zero` must be neutral for `f`).
    pub fn fold<F: Fn(T, T) -> T + Copy + 'static>(&self, zero: T, f: F) -> Result<T>
    where
        T: Clone,
    {
        self.aggregate(zero, f, f)
    }

    /// Action: merges every element with `f`; `None` for an empty dataset.
    pub fn reduce<F: Fn(T, T) -> T + Copy + 'static>(&self, _f: F) -> Result<Option<T>> {
        crate::__no_capture!(F);
        let parts = self.map_partitions(|items: PartitionIter<T>| items.reduce(conjure::<F>())).collect()?;
        Ok(parts.into_iter().reduce(conjure::<F>()))
    }
}

pub(crate) fn decode_all<T: Data>(batch: &[u8]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for rec in BatchReader::new(batch) {
        let rec = rec?;
        out.push(codec::decode_record(rec.key, rec.value)?);
    }
    Ok(out)
}

/// Keeps the `n` smallest of `items` under `order`, sorted: a selection first
/// (linear), so only those `n` are sorted.
pub(crate) fn smallest<T>(items: &mut Vec<T>, n: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if n == 0 {
        items.clear();
        return;
    }
    if items.len() > n {
        items.select_nth_unstable_by(n - 1, &order);
        items.truncate(n);
    }
    items.sort_by(order);
}

/// The `n` smallest of a stream under `order`, sorted, holding no more than
/// about `2n` (at least 1024) of its elements at a time.
pub(crate) fn smallest_of<T>(
    items: impl Iterator<Item = T>,
    n: usize,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    let cap = n.saturating_mul(2).max(1024);
    let mut kept = Vec::new();
    for t in items {
        kept.push(t);
        if kept.len() >= cap {
            smallest(&mut kept, n, &order);
        }
    }
    smallest(&mut kept, n, &order);
    kept
}

fn to_line<T: Line + 'static>(t: T) -> String {
    // A string is its own line (a `format!`ted one, say): no copy.
    let mut t = Some(t);
    if let Some(s) = (&mut t as &mut dyn std::any::Any).downcast_mut::<Option<String>>() {
        return s.take().expect("set just above");
    }
    // Room for most lines at once (a word and its count fit in 32 bytes), rather
    // than growing field by field.
    let mut s = String::with_capacity(32);
    t.expect("set just above").write_line(&mut s);
    s
}

pub(crate) fn captured<C: Data>(value: &C) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_top(value, &mut out).expect("a captured value failed to serialize");
    out
}

/// A dataset of the lines of `path`: a file, a directory, or a glob. Large files are
/// split into several partitions, at least the default parallelism.
pub fn text_file(path: &str) -> Result<Dataset<String>> {
    context::text_file(path, None).map(Dataset::<String>::wrap).map_err(Error::msg)
}

/// [`text_file`] with at least `min_partitions` partitions (0: the default
/// parallelism, as for [`parallelize`] and [`range_with`]).
pub fn text_file_with_partitions(path: &str, min_partitions: u32) -> Result<Dataset<String>> {
    let min = (min_partitions > 0).then_some(min_partitions);
    context::text_file(path, min).map(Dataset::<String>::wrap).map_err(Error::msg)
}

/// How [`text_file_with`] and its siblings read text files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// At least this many partitions (0: the default parallelism); whole files
    /// are one partition each whatever it says.
    pub min_partitions: u32,
    /// Bytes that are not UTF-8 become U+FFFD (as Spark's `textFile` reads them)
    /// instead of failing the job with the file and offset named.
    pub lossy_utf8: bool,
    /// How every file is compressed, whatever its name says
    /// (`Some(Compression::None)` reads `x.gz` as it is); `None`: by extension
    /// (`.gz`, `.zst` or `.zstd`, `.bz2`).
    pub compression: Option<Compression>,
}

/// How text is compressed: each part [`Dataset::save_as_text_file_with`]
/// writes, or input files ([`TextOptions::compression`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    #[default]
    None,
    /// gzip: `part-NNNNN.gz`.
    Gzip,
    /// zstd: `part-NNNNN.zst`.
    Zstd,
    /// bzip2: `part-NNNNN.bz2` (slow to write; for readers that need it).
    Bzip2,
}

impl Compression {
    pub(crate) fn wit(self) -> context::TextCompression {
        match self {
            Compression::None => context::TextCompression::None,
            Compression::Gzip => context::TextCompression::Gzip,
            Compression::Zstd => context::TextCompression::Zstd,
            Compression::Bzip2 => context::TextCompression::Bzip2,
        }
    }
}

/// How [`Dataset::save_as_text_file_with`] writes text files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// How each part is compressed.
    pub compression: Compression,
}

fn text_source<T: Data>(path: &str, options: TextOptions, records: context::TextRecords) -> Result<Dataset<T>> {
    let options = context::TextOptions {
        min_partitions: (options.min_partitions > 0).then_some(options.min_partitions),
        lossy_utf8: options.lossy_utf8,
        records,
        compression: options.compression.map(Compression::wit),
    };
    context::text_source(path, options).map(Dataset::<T>::wrap).map_err(Error::msg)
}

/// The lines of `path` (as [`text_file`]), read with `options`.
pub fn text_file_with(path: &str, options: TextOptions) -> Result<Dataset<String>> {
    text_source::<String>(path, options, context::TextRecords::Lines)
}

/// The lines of `path` (as [`text_file`]), each with the path of its file:
/// `(file, line)`.
pub fn text_file_with_file_names(path: &str, options: TextOptions) -> Result<Dataset<(String, String)>> {
    text_source::<String>(path, options, context::TextRecords::LinesWithFileName).map(|d| d.wrap_as())
}

/// Every file of `path` (a file, directory or glob, as for [`text_file`]) as
/// one element `(file, content)` (Spark's `wholeTextFiles`); one partition a file.
pub fn whole_text_files(path: &str, options: TextOptions) -> Result<Dataset<(String, String)>> {
    text_source::<String>(path, options, context::TextRecords::WholeFiles).map(|d| d.wrap_as())
}

/// A dataset of `items`, spread evenly over `partitions` partitions (0: the default
/// parallelism).
pub fn parallelize<T: Data>(items: &[T], partitions: u32) -> Result<Dataset<T>> {
    let mut batch = BatchWriter::default();
    let mut rec = RecordBuf::default();
    for item in items {
        rec.encode(item)?;
        batch.push(rec.key(), &rec.value);
    }
    context::parallelize(&batch.finish(), partitions).map(Dataset::<T>::wrap).map_err(Error::msg)
}

/// The integers `start..end` as a dataset over the default parallelism.
pub fn range(start: i64, end: i64) -> Result<Dataset<i64>> {
    range_with(start, end, 1, 0)
}

/// The integers from `start` towards `end` (exclusive) by `step`, over
/// `partitions` partitions (0: the default parallelism). Made on the executors.
pub fn range_with(start: i64, end: i64, step: i64, partitions: u32) -> Result<Dataset<i64>> {
    let partitions = (partitions > 0).then_some(partitions);
    context::range(start, end, step, partitions).map(Dataset::<i64>::wrap).map_err(Error::msg)
}

/// How many tasks the application can run at once: the default partition count.
pub fn default_parallelism() -> u32 {
    context::default_parallelism()
}

#[cfg(test)]
mod tests {
    use super::{smallest, to_line};

    #[test]
    fn lines_of_strings_pairs_and_numbers() {
        let s = String::from("already\ta line");
        let at = s.as_ptr();
        let line = to_line(s);
        assert_eq!(line, "already\ta line");
        assert_eq!(line.as_ptr(), at, "a string is its own line, not a copy");
        assert_eq!(to_line((String::from("word"), 42u64)), "word\t42");
        assert_eq!(
            to_line((String::from("a longer word than the usual"), u64::MAX)),
            "a longer word than the usual\t18446744073709551615"
        );
        assert_eq!(to_line(-7i32), "-7");
    }

    #[test]
    fn smallest_keeps_the_n_smallest_sorted() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 1, 2, 9, 10, 11, 100, 1000] {
            let items: Vec<u32> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % 50) as u32
                })
                .collect();
            for n in [0usize, 1, 3, 10, 2000] {
                let mut want = items.clone();
                want.sort();
                want.truncate(n);
                let mut got = items.clone();
                smallest(&mut got, n, u32::cmp);
                assert_eq!(got, want, "len {len}, n {n}");
                let mut got = items.clone();
                smallest(&mut got, n, |a, b| b.cmp(a));
                let mut want = items.clone();
                want.sort_by(|a, b| b.cmp(a));
                want.truncate(n);
                assert_eq!(got, want, "largest: len {len}, n {n}");
            }
        }
    }
}
