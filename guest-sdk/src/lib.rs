//! # Spindle SDK: write Spindle jobs in Rust
//!
//! A job is an ordinary Rust library crate built as a `cdylib` for `wasm32-wasip2`.
//! Its `main` builds [`Dataset`]s from sources, transforms them lazily, and runs
//! actions on the cluster:
//!
//! ```ignore
//! fn run(args: Vec<String>) -> spindle::Result<()> {
//!     let counts = spindle::text_file(&args[0])?
//!         .flat_map(spindle::words)
//!         .map(|w: String| (w, 1u64))
//!         .reduce_by_key(|a, b| a + b);
//!     counts.map(|(w, n): (String, u64)| format!("{w}\t{n}")).save_as_text_file(&args[1])?;
//!     Ok(())
//! }
//! spindle::main!(run);
//! ```
//!
//! ## Closures
//!
//! The same component runs `main` on the driver and every task on executors, so a
//! transformation is shipped as a reference to its code plus its captured values.
//! Closures given to [`Dataset::map`] and friends must not capture variables (this
//! is checked at compile time). To use a value inside a closure, pass it explicitly
//! with the `_with` variants, e.g. [`Dataset::map_with`]: it is serialized, shipped
//! with the task, and handed to the closure by reference.
//!
//! ## Caching, broadcast values, accumulators
//!
//! [`Dataset::cache`] / [`Dataset::persist`] keep a dataset's partitions on
//! the executors for later actions (iterative jobs). [`broadcast`] ships a value
//! to every executor once; [`accumulator`] makes a counter tasks add to.
//!
//! ## Data
//!
//! Elements are any `serde` type ([`Data`]). A dataset of pairs `(K, V)` is keyed:
//! [`Dataset::reduce_by_key`] groups by the encoded bytes of `K`. The encoding is
//! described in [`codec`] and in the WIT contract (`wit/job.wit`).
//!
//! ## Memory
//!
//! With the default `fast-alloc` feature the SDK installs a small-object allocator
//! (see `allocator`) as the guest's global allocator: per-record `String`s and
//! `Vec`s cost a free-list pop and push. Disable the feature to bring your own.
//!
//! # Layout
//! - `allocator`: the small-object global allocator.
//! - `bytes`: short byte strings read, compared and copied a word at a time.
//! - [`codec`]: the order-preserving record encoding.
//! - `dataset`: [`Dataset`] and the sources, on the driver side; `pairs`: the
//!   operations on datasets of pairs (grouping, sorting, joins); `extra`: the
//!   operations built from those (indexes, set operations, sampling into `main`,
//!   splits, `foreach`); `numeric`: sums and [`Stats`] of numbers.
//! - `shared`: [`Broadcast`] values and [`Accumulator`]s.
//! - `table`: [`Table`] reads of CSV, JSON lines and Parquet files into typed
//!   rows, and [`Dataset::save_as_table`].
//! - `line`: how elements are written as text lines ([`Line`]).
//! - `grouped`: the element types of cogroups and outer joins.
//! - `pipeline`: ops (what a transformation ships as) and the sinks that run them;
//!   `host`: the calls it makes into the host's `task-io` while it runs.
//! - `task`: the executor-side task entry point, which drives the pipeline.
//!
//! Each module uses only those listed before it or beneath it in this order:
//! `bytes`, `codec`, `keytable`, `text`, `line`, `grouped` and `host` depend on
//! no dataset code; `pipeline` on those; `dataset`, `pairs`, `extra`, `numeric`
//! `shared` and `table` on `pipeline`; `task` on `pipeline` alone.
//! - `text`: helpers for text elements ([`words`]).

#![warn(missing_docs)]

extern crate alloc;

#[cfg(any(test, fuzzing, all(target_arch = "wasm32", not(target_feature = "atomics"))))]
pub mod allocator;
mod bytes;
pub mod codec;
mod dataset;
mod error;
mod extra;
mod grouped;
mod host;
mod keytable;
mod line;
mod numeric;
mod pairs;
mod pipeline;
mod shared;
mod table;
mod task;
mod text;

pub use dataset::{
    Compression, Dataset, SaveOptions, StorageLevel, TextOptions, default_parallelism, parallelize, range, range_with,
    text_file, text_file_with, text_file_with_file_names, text_file_with_partitions, whole_text_files,
};
pub use error::{Error, Result};
pub use grouped::{CoGrouped, CoGrouped3, CoGrouped4, OuterJoined};
pub use line::Line;
pub use numeric::{Numeric, Stats};
pub use pipeline::PartitionIter;
pub use shared::{Accumulator, AccumulatorValue, Broadcast, accumulator, broadcast};
pub use table::{
    ColumnType, CompareOp, ParquetCompression, Scalar, Table, TableFormat, TableSave, column, read_csv, read_json,
    read_parquet,
};
pub use text::{SplitWords, Words, split_words, words};

/// Internals the fuzz targets in `fuzz/` drive natively (built by `cargo fuzz`,
/// which sets `--cfg fuzzing`). Not an API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::keytable::{DrainedKey, KeyTable};
}

#[cfg(all(feature = "fast-alloc", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: allocator::SmallAlloc = allocator::SmallAlloc::new();

/// A type that can be an element of a [`Dataset`]: anything serde can serialize and
/// deserialize, owned.
pub trait Data: serde::Serialize + serde::de::DeserializeOwned + 'static {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + 'static> Data for T {}

#[cfg(test)]
mod contract_tests {
    /// The SDK builds against its own copy of the contract (so it builds outside
    /// this repository): it must be the repository's `wit/job.wit`.
    #[test]
    fn the_vendored_contract_is_the_repositorys() {
        let ours = include_str!("../wit/job.wit");
        let repo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/job.wit")).unwrap();
        assert!(ours == repo, "guest-sdk/wit/job.wit differs from wit/job.wit: copy wit/job.wit over it");
    }
}

/// Support for [`main!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::task::run_task;

    /// Generated guest bindings of the `spindle:job/job` world.
    pub mod bindings {
        wit_bindgen::generate!({
            path: "wit",
            world: "job",
            pub_export_macro: true,
            export_macro_name: "__export_job",
            generate_all,
        });
    }

    pub use bindings::exports::spindle::job::app::Guest as AppGuest;
    pub use bindings::exports::spindle::job::task::Guest as TaskGuest;
    pub use bindings::spindle::job::types::Step;

    /// Runs the user's main and turns its error into the message `main` returns.
    pub fn run_main(args: Vec<String>, main: fn(Vec<String>) -> crate::Result<()>) -> Result<(), String> {
        main(args).map_err(|e| e.to_string())
    }
}

/// Marks a job's entry point: `spindle::main!(run);` where
/// `fn run(args: Vec<String>) -> spindle::Result<()>`.
///
/// It exports the component's `app` (your `run`, called on the driver) and `task`
/// (the SDK's task runner, called on executors) interfaces.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[doc(hidden)]
        pub struct __SpindleJob;

        impl $crate::__private::AppGuest for __SpindleJob {
            fn run(args: ::std::vec::Vec<::std::string::String>) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::run_main(args, $main)
            }
        }

        impl $crate::__private::TaskGuest for __SpindleJob {
            fn run(
                steps: ::std::vec::Vec<$crate::__private::Step>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::run_task(steps)
            }
        }

        $crate::__private::bindings::__export_job!(__SpindleJob with_types_in $crate::__private::bindings);
    };
}
