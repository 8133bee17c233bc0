//! Datasets on the driver side: sources, lazy transformations and actions, over the
//! host's `context` interface.

use std::fmt::Display;
use std::marker::PhantomData;
use std::rc::Rc;

use spindle_frame::{BatchReader, BatchWriter};

use crate::__private::bindings::spindle::job::context;
use crate::codec::{self, RecordBuf};
use crate::pipeline::{self, make_op};
use crate::{Data, Error, Result};

/// Refuses, at compile time, a closure that captures variables: its captures could
/// not travel to the executors. Use the `_with` variant of the method instead.
macro_rules! no_capture {
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
    fn wrap<U>(handle: context::Dataset) -> Dataset<U> {
        Dataset { handle: Rc::new(handle), _t: PhantomData }
    }

    fn narrow<U>(&self, op: Vec<u8>) -> Dataset<U> {
        Self::wrap(self.handle.narrow(&op))
    }

    /// Applies `f` to every element.
    pub fn map<U: Data, F: Fn(T) -> U + Copy + 'static>(&self, _f: F) -> Dataset<U> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_map::<F, T, U>, &[]))
    }

    /// Applies `f` to every element, with `value` (serialized and shipped to every
    /// task) passed by reference.
    pub fn map_with<C: Data, U: Data, F: Fn(&C, T) -> U + Copy + 'static>(&self, value: &C, _f: F) -> Dataset<U> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_map_with::<F, C, T, U>, &captured(value)))
    }

    /// Keeps the elements for which `f` is true.
    pub fn filter<F: Fn(&T) -> bool + Copy + 'static>(&self, _f: F) -> Dataset<T> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_filter::<F, T>, &[]))
    }

    /// [`filter`](Self::filter) with an explicitly passed value.
    pub fn filter_with<C: Data, F: Fn(&C, &T) -> bool + Copy + 'static>(&self, value: &C, _f: F) -> Dataset<T> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_filter_with::<F, C, T>, &captured(value)))
    }

    /// Maps every element to zero or more elements.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>, F: Fn(T) -> I + Copy + 'static>(&self, _f: F) -> Dataset<U> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_flat_map::<F, T, U, I>, &[]))
    }

    /// [`flat_map`](Self::flat_map) with an explicitly passed value.
    pub fn flat_map_with<C: Data, U: Data, I: IntoIterator<Item = U>, F: Fn(&C, T) -> I + Copy + 'static>(
        &self,
        value: &C,
        _f: F,
    ) -> Dataset<U> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_flat_map_with::<F, C, T, U, I>, &captured(value)))
    }

    /// The number of partitions (tasks per stage over this dataset).
    pub fn num_partitions(&self) -> u32 {
        self.handle.num_partitions()
    }

    /// Action: every element, in partition order.
    pub fn collect(&self) -> Result<Vec<T>> {
        let batch = self.handle.collect().map_err(Error::msg)?;
        let mut out = Vec::new();
        for rec in BatchReader::new(&batch) {
            let rec = rec?;
            out.push(codec::decode_record(rec.key, rec.value)?);
        }
        Ok(out)
    }

    /// Action: the number of elements.
    pub fn count(&self) -> Result<u64> {
        self.handle.count().map_err(Error::msg)
    }

    /// Action: writes one line per element (its `Display` form) into
    /// `path/part-NNNNN` files, then `path/_SUCCESS`. Fails if `path` exists.
    pub fn save_as_text_file(&self, path: &str) -> Result<()>
    where
        T: Display,
    {
        self.map(to_line::<T>).handle.save_as_text_file(path).map_err(Error::msg)
    }
}

fn to_line<T: Display>(t: T) -> String {
    t.to_string()
}

fn captured<C: Data>(value: &C) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_top(value, &mut out).expect("a captured value failed to serialize");
    out
}

impl<K: Data, V: Data> Dataset<(K, V)> {
    /// Applies `f` to every value, keeping keys.
    pub fn map_values<W: Data, F: Fn(V) -> W + Copy + 'static>(&self, _f: F) -> Dataset<(K, W)> {
        no_capture!(F);
        self.narrow(make_op(pipeline::build_map_values::<F, K, V, W>, &[]))
    }

    /// Merges the values of each key with `f` (associative and commutative),
    /// combining map-side before the shuffle. Keeps the partition count.
    pub fn reduce_by_key<F: Fn(V, V) -> V + Copy + 'static>(&self, f: F) -> Dataset<(K, V)> {
        self.reduce_by_key_into(f, 0)
    }

    /// [`reduce_by_key`](Self::reduce_by_key) into `partitions` partitions (0: as many
    /// as this dataset has).
    pub fn reduce_by_key_into<F: Fn(V, V) -> V + Copy + 'static>(&self, _f: F, partitions: u32) -> Dataset<(K, V)> {
        no_capture!(F);
        let op = make_op(pipeline::build_combine::<F, K, V>, &[]);
        let partitions = (partitions > 0).then_some(partitions);
        Self::wrap(self.handle.reduce_by_key(&op, partitions))
    }
}

/// A dataset of the lines of `path`: a file, a directory, or a glob. Large files are
/// split into several partitions, at least the default parallelism.
pub fn text_file(path: &str) -> Result<Dataset<String>> {
    context::text_file(path, None).map(Dataset::<String>::wrap).map_err(Error::msg)
}

/// [`text_file`] with at least `min_partitions` partitions.
pub fn text_file_with_partitions(path: &str, min_partitions: u32) -> Result<Dataset<String>> {
    context::text_file(path, Some(min_partitions)).map(Dataset::<String>::wrap).map_err(Error::msg)
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

/// How many tasks the application can run at once: the default partition count.
pub fn default_parallelism() -> u32 {
    context::default_parallelism()
}
