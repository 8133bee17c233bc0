//! The store data of a task and the host side of `task-io`. The driver-side
//! `context` API traps here: a task has no driver to talk to.

use spindle_sandbox::bindings::spindle::job::{context, task_io, types};
use spindle_sandbox::limits::bytes;
use spindle_sandbox::{DatasetRef, Failure, Limiter};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use spindle_proto::accumulator_update::Delta;
use spindle_proto::ids::AppId;

use super::input::Input;
use super::output::Output;
use crate::Executor;
use crate::broadcasts::BroadcastError;

/// Everything one task's store holds.
pub struct TaskState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) input: Input,
    pub(crate) output: Output,
    /// Largest batch the guest may write, in bytes.
    pub(crate) max_batch_bytes: usize,
    /// Set when a host-side failure is turned into a trap, to report the real cause.
    pub(crate) host_error: Option<Failure>,
    /// Set when reading shuffle input failed: whose outputs could not be read.
    pub(crate) fetch_failure: Option<spindle_proto::FetchFailure>,
    /// The executor (for broadcast values).
    pub(crate) exec: Arc<Executor>,
    pub(crate) app: AppId,
    pub(crate) partition: u32,
    /// The partition each step of this run computes of its own dataset.
    pub(crate) step_partitions: Vec<u32>,
    /// Accumulator updates so far, merged per accumulator.
    pub(crate) accumulators: HashMap<u64, Delta>,
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl TaskState {
    fn fail(&mut self, failure: Failure) -> wasmtime::Error {
        let err = wasmtime::format_err!("{failure}");
        self.host_error = Some(failure);
        err
    }
}

impl types::Host for TaskState {}

impl task_io::Host for TaskState {
    async fn read(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        if self.output.is_full() {
            return Ok(None);
        }
        match self.input.next_batch().await {
            Ok(b) => Ok(b),
            Err(e) => {
                self.fetch_failure = self.input.fetch_failure(&e);
                let failure = e.failure();
                Err(self.fail(failure))
            }
        }
    }

    async fn input_utf8(&mut self) -> wasmtime::Result<bool> {
        Ok(self.input.last_batch_utf8())
    }

    async fn input_is_text(&mut self) -> wasmtime::Result<bool> {
        Ok(self.input.is_text())
    }

    async fn input_sorted(&mut self) -> wasmtime::Result<bool> {
        Ok(self.input.is_sorted())
    }

    async fn read_lines(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        if self.output.is_full() {
            return Ok(None);
        }
        match self.input.next_lines().await {
            Ok(run) => Ok(run),
            Err(e) => {
                let failure = e.failure();
                Err(self.fail(failure))
            }
        }
    }

    async fn write(&mut self, records: Vec<u8>) -> wasmtime::Result<()> {
        if records.len() > self.max_batch_bytes {
            return Err(self.fail(Failure::Refused(format!(
                "the guest wrote a batch of {}, over the {} limit for one batch",
                bytes(records.len() as u64),
                bytes(self.max_batch_bytes as u64)
            ))));
        }
        self.exec.counters.output_bytes.fetch_add(records.len() as u64, Ordering::Relaxed);
        match self.output.write(records).await {
            Ok(()) => Ok(()),
            Err(f) => Err(self.fail(f)),
        }
    }

    async fn output_counted(&mut self) -> wasmtime::Result<bool> {
        Ok(self.output.is_count())
    }

    async fn add_output_count(&mut self, records: u64) -> wasmtime::Result<()> {
        match self.output.add_count(records) {
            Ok(()) => Ok(()),
            Err(f) => Err(self.fail(f)),
        }
    }

    async fn partition(&mut self) -> wasmtime::Result<u32> {
        Ok(self.partition)
    }

    async fn step_partition(&mut self, step: u32) -> wasmtime::Result<u32> {
        match self.step_partitions.get(step as usize) {
            Some(&p) => Ok(p),
            None => Err(self.fail(Failure::Refused(format!(
                "the guest asked for the partition of step {step}, but the task runs {} steps",
                self.step_partitions.len()
            )))),
        }
    }

    async fn broadcast_value(&mut self, id: u64) -> wasmtime::Result<Result<Vec<u8>, String>> {
        match self.exec.broadcasts.get(&self.exec, &self.app, id).await {
            Ok(v) => Ok(Ok(v.to_vec())),
            Err(BroadcastError::Unknown(msg)) => Ok(Err(msg)),
            Err(BroadcastError::Failed(e)) => {
                let failure = e.failure();
                Err(self.fail(failure))
            }
        }
    }

    async fn add_to_accumulator(&mut self, id: u64, delta: types::Number) -> wasmtime::Result<()> {
        let delta = match delta {
            types::Number::Int(i) => Delta::Int(i),
            types::Number::Float(f) => Delta::Float(f),
        };
        if self.accumulators.len() >= MAX_TASK_ACCUMULATORS && !self.accumulators.contains_key(&id) {
            return Err(self.fail(Failure::Refused(format!(
                "the task updated more than {MAX_TASK_ACCUMULATORS} different accumulators"
            ))));
        }
        match (self.accumulators.get_mut(&id), delta) {
            (None, d) => {
                self.accumulators.insert(id, d);
            }
            (Some(Delta::Int(a)), Delta::Int(d)) => *a = a.wrapping_add(d),
            (Some(Delta::Float(a)), Delta::Float(d)) => *a += d,
            _ => {
                return Err(self.fail(Failure::Refused(format!(
                    "accumulator {id} was given both integer and float updates; its kind is fixed when it is made"
                ))));
            }
        }
        Ok(())
    }
}

type Ds = Resource<DatasetRef>;

/// Most different accumulators one task may update (an application makes at
/// most 65,536; a task updating this many is a bug, and the map must stay small).
const MAX_TASK_ACCUMULATORS: usize = 4096;

const NO_CONTEXT: &str = "the driver-side `context` API was called from a task; \
                          datasets can only be built and acted on in `main`";

impl context::Host for TaskState {
    spindle_sandbox::refuse_calls! { self => self.fail(Failure::Refused(NO_CONTEXT.into()));
        fn text_file(path: String, min_partitions: Option<u32>) -> Result<Ds, String>;
        fn text_source(path: String, options: context::TextOptions) -> Result<Ds, String>;
        fn table_source(path: String, options: context::TableOptions) -> Result<Ds, String>;
        fn parallelize(records: Vec<u8>, partitions: u32) -> Result<Ds, String>;
        fn default_parallelism() -> u32;
        fn range(start: i64, end: i64, step: i64, partitions: Option<u32>) -> Result<Ds, String>;
        fn broadcast(value: Vec<u8>) -> u64;
        fn unpersist_broadcast(id: u64) -> ();
        fn accumulator(name: String, zero: types::Number) -> u64;
        fn accumulator_value(id: u64) -> Option<types::Number>;
    }
}

impl context::HostDataset for TaskState {
    spindle_sandbox::refuse_calls! { self => self.fail(Failure::Refused(NO_CONTEXT.into()));
        fn narrow(ds: Ds, op: Vec<u8>) -> Ds;
        fn reduce_by_key(ds: Ds, op: Vec<u8>, partitions: Option<u32>) -> Ds;
        fn group_by_key(ds: Ds, partitions: Option<u32>) -> Ds;
        fn sort_by_key(ds: Ds, ascending: bool, partitions: Option<u32>) -> Result<Ds, String>;
        fn repartition(ds: Ds, partitions: u32) -> Ds;
        fn coalesce(ds: Ds, partitions: u32) -> Ds;
        fn partition_by_prefix(ds: Ds, partitions: u32) -> Ds;
        fn union(ds: Ds, others: Vec<Ds>) -> Ds;
        fn cogroup(ds: Ds, others: Vec<Ds>, partitions: Option<u32>) -> Ds;
        fn persist(ds: Ds, level: context::StorageLevel) -> ();
        fn unpersist(ds: Ds) -> ();
        fn take(ds: Ds, n: u64) -> Result<Vec<u8>, String>;
        fn num_partitions(ds: Ds) -> u32;
        fn collect(ds: Ds) -> Result<Vec<u8>, String>;
        fn count(ds: Ds) -> Result<u64, String>;
        fn save_as_text_file(ds: Ds, path: String) -> Result<(), String>;
        fn save_as_text_file_with(ds: Ds, path: String, options: context::SaveOptions) -> Result<(), String>;
        fn save_as_lines(
            ds: Ds,
            path: String,
            options: context::SaveOptions,
            layout: context::LineLayout,
        ) -> Result<(), String>;
        fn save_as_table(ds: Ds, path: String, options: context::TableSaveOptions) -> Result<(), String>;
    }

    async fn drop(&mut self, _ds: Resource<DatasetRef>) -> wasmtime::Result<()> {
        Ok(())
    }
}
