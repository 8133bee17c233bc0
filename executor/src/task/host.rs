//! The store data of a task and the host side of `task-io`. The driver-side
//! `context` API traps here: a task has no driver to talk to.

use spindle_sandbox::bindings::spindle::job::{context, task_io, types};
use spindle_sandbox::limits::bytes;
use spindle_sandbox::{DatasetRef, Failure, Limiter};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::input::Input;
use super::output::Output;

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
        match self.input.next_batch().await {
            Ok(b) => Ok(b),
            Err(e) => {
                if let Some(shuffle) = self.input.shuffle() {
                    self.fetch_failure = e.fetch_failure(shuffle.0);
                }
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
        match self.output.write(records).await {
            Ok(()) => Ok(()),
            Err(f) => Err(self.fail(f)),
        }
    }
}

const NO_CONTEXT: &str = "the driver-side `context` API was called from a task; \
                          datasets can only be built and acted on in `main`";

impl context::Host for TaskState {
    async fn text_file(
        &mut self,
        _path: String,
        _min_partitions: Option<u32>,
    ) -> wasmtime::Result<Result<Resource<DatasetRef>, String>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn parallelize(&mut self, _records: Vec<u8>, _partitions: u32) -> wasmtime::Result<Result<Resource<DatasetRef>, String>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn default_parallelism(&mut self) -> wasmtime::Result<u32> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }
}

impl context::HostDataset for TaskState {
    async fn narrow(&mut self, _ds: Resource<DatasetRef>, _op: Vec<u8>) -> wasmtime::Result<Resource<DatasetRef>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn reduce_by_key(
        &mut self,
        _ds: Resource<DatasetRef>,
        _op: Vec<u8>,
        _partitions: Option<u32>,
    ) -> wasmtime::Result<Resource<DatasetRef>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn num_partitions(&mut self, _ds: Resource<DatasetRef>) -> wasmtime::Result<u32> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn collect(&mut self, _ds: Resource<DatasetRef>) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn count(&mut self, _ds: Resource<DatasetRef>) -> wasmtime::Result<Result<u64, String>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn save_as_text_file(&mut self, _ds: Resource<DatasetRef>, _path: String) -> wasmtime::Result<Result<(), String>> {
        Err(self.fail(Failure::Refused(NO_CONTEXT.into())))
    }

    async fn drop(&mut self, _ds: Resource<DatasetRef>) -> wasmtime::Result<()> {
        Ok(())
    }
}
