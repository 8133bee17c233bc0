//! Running one task: a fresh store and instance from the artifact's `InstancePre`,
//! the guest's `task.run(steps)` pulling input batches and pushing output batches.
//!
//! A task is one or more pipelines (an input and its steps) writing to one
//! sink. A pipeline that passes persisted datasets starts from the deepest kept
//! partition found here; otherwise it runs in segments cut at each persisted
//! dataset, keeping each one's records and handing them to the next segment.
//!
//! - [`input`]: a pipeline's input stream (a text split, inline records, a range,
//!   shuffle blocks, a kept partition).
//! - `map_output`: a map task's buckets, held in memory or spilled to one file.
//! - `reduce`: grouping, sorting and cogrouping a reduce partition, through sorted
//!   runs on disk when it is larger than the task's memory.
//! - [`output`]: the task's sink (shuffle buckets, collected records, a count, a file).
//! - [`host`]: the store data and the host side of the `task-io` interface.

mod host;
mod input;
mod lines;
mod map_output;
mod output;
mod part_file;
mod reduce;
mod table_reader;
mod text_reader;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::future::BoxFuture;
use tracing::Instrument;

use spindle_proto::accumulator_update::Delta;
use spindle_proto::ids::AppId;
use spindle_proto::{
    AccumulatorUpdate, CachePoint, CachedBlock, FailureKind, Pipeline, StorageLevel, TaskLimits, TaskResult, TaskSpec,
    step, task_input,
};
use spindle_sandbox::bindings::Step;
use spindle_sandbox::{ArtifactHash, CompiledArtifact, Failure, SandboxLimits, arm, sandbox_wasi, within_wall_time};
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};

pub use host::TaskState;

use crate::cache::CacheKey;
use crate::{Executor, ExecutorError};

/// Adds WASI and the job world's imports (task side) to the linker.
pub fn add_to_linker(linker: &mut Linker<TaskState>) -> Result<(), ExecutorError> {
    let err = |e: wasmtime::Error| ExecutorError::Sandbox(spindle_sandbox::SandboxError::Engine(format!("{e:#}")));
    wasmtime_wasi::p2::add_to_linker_async(linker).map_err(err)?;
    spindle_sandbox::bindings::Job::add_to_linker::<_, HasSelf<_>>(linker, |s| s).map_err(err)?;
    Ok(())
}

fn describe(spec: &TaskSpec) -> String {
    format!("task {}.{}.{} (attempt {})", spec.app_id, spec.stage_id, spec.partition, spec.attempt)
}

/// Runs a task; every failure becomes a failed result naming the task.
pub(crate) async fn run(exec: &Arc<Executor>, spec: TaskSpec) -> TaskResult {
    let started = Instant::now();
    let span =
        tracing::info_span!("executor.task.run", app = %spec.app_id, stage = spec.stage_id, partition = spec.partition);
    let what = describe(&spec);
    let mut result = match run_inner(exec, spec).instrument(span.clone()).await {
        Ok(r) => r,
        Err(e) => failed(e.failure(), Vec::new(), false),
    };
    result.executor_id = exec.id();
    if !result.ok {
        result.error = format!("{what}: {}", result.error);
    }
    result.duration_us = started.elapsed().as_micros() as u64;
    if !result.ok {
        span.in_scope(|| tracing::info!(error = %result.error, "task failed"));
    }
    result
}

/// Marks a failed result as a fetch failure when its input could not read
/// another executor's shuffle outputs.
fn mark_fetch_failure(result: &mut TaskResult, fetch: Option<spindle_proto::FetchFailure>) {
    if let Some(fetch) = fetch {
        result.set_failure_kind(FailureKind::FetchFailed);
        result.fetch_failure = Some(fetch);
    }
}

/// The wire kind of a sandbox failure.
fn failure_kind(failure: &Failure) -> FailureKind {
    match failure {
        Failure::Guest(_) => FailureKind::GuestError,
        Failure::Trap(_) => FailureKind::Trap,
        Failure::Refused(_) => FailureKind::Refused,
        Failure::Limit(_) => FailureKind::Limit,
        Failure::Infrastructure(_) => FailureKind::Infrastructure,
    }
}

pub(crate) fn failed(failure: Failure, logs: Vec<u8>, compiled: bool) -> TaskResult {
    if let Failure::Limit(hit) = &failure {
        crate::metrics::limit_broken(hit);
    }
    TaskResult {
        ok: false,
        retryable: failure.retryable(),
        failure_kind: failure_kind(&failure).into(),
        error: failure.to_string(),
        logs,
        compiled,
        ..Default::default()
    }
}

/// A task's limits: what its spec asks for (the driver has checked them against
/// the tenant's maximum), with this executor's own limits as defaults. Memory and
/// kept output are also capped by this executor's limits, since they are its
/// memory; wall time and fuel are the application's to choose.
pub fn task_limits(own: &SandboxLimits, asked: Option<&TaskLimits>) -> SandboxLimits {
    let mut l = own.clone();
    let Some(a) = asked else { return l };
    if a.memory_bytes > 0 {
        l.memory_bytes = l.memory_bytes.min(a.memory_bytes as usize);
    }
    if a.wall_time_ms > 0 {
        l.wall_time = std::time::Duration::from_millis(a.wall_time_ms);
    }
    if a.fuel > 0 {
        l.fuel = Some(a.fuel);
    }
    if a.output_bytes > 0 {
        l.output_bytes = l.output_bytes.min(a.output_bytes as usize);
    }
    l
}

/// What a task gathers across its pipelines and segments.
#[derive(Default)]
struct Gathered {
    logs: Vec<u8>,
    records_in: u64,
    spilled: u64,
    cached: Vec<CachedBlock>,
    cache_hits: u32,
    accumulators: HashMap<u64, Delta>,
}

impl Gathered {
    /// Counts rows a table read skipped into their accumulators.
    fn add_skipped(&mut self, skipped: Vec<(u64, u64)>) {
        for (id, n) in skipped {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            match self.accumulators.entry(id).or_insert(Delta::Int(0)) {
                Delta::Int(a) => *a = a.wrapping_add(n),
                // The SDK makes the count an int accumulator; a float one gets it too.
                Delta::Float(a) => *a += n as f64,
            }
        }
    }

    /// Adds what steps running beside gathered.
    fn absorb(&mut self, other: Gathered) {
        self.logs.extend(other.logs);
        self.records_in += other.records_in;
        self.spilled += other.spilled;
        self.cached.extend(other.cached);
        self.cache_hits += other.cache_hits;
        for (id, delta) in other.accumulators {
            match (self.accumulators.get_mut(&id), delta) {
                (Some(Delta::Int(a)), Delta::Int(d)) => *a = a.wrapping_add(d),
                (Some(Delta::Float(a)), Delta::Float(d)) => *a += d,
                (Some(_), _) => {} // kinds checked when added: cannot differ
                (None, d) => {
                    self.accumulators.insert(id, d);
                }
            }
        }
    }
}

/// Batches in flight between a coalesced partition's parent pipelines and the
/// steps after the coalesce.
const CHANNEL_BATCHES: usize = 4;

async fn run_inner(exec: &Arc<Executor>, spec: TaskSpec) -> Result<TaskResult, ExecutorError> {
    let hash: ArtifactHash =
        spec.artifact.parse().map_err(|e: spindle_sandbox::SandboxError| ExecutorError::BadSpec(e.to_string()))?;
    let (artifact, compiled) = exec.artifacts.get(hash).await?;
    let limits = task_limits(&exec.config.limits, spec.limits.as_ref());
    let app = AppId(spec.app_id.clone());
    let mut output = Some(output::Output::open(exec, &spec).await?);
    let mut got = Gathered::default();
    let seg = Segment { exec, spec: &spec, artifact: &artifact, limits: &limits, compiled, app: &app };
    for pipe in &spec.pipelines {
        let sink = output.take().expect("the sink is put back after each pipeline");
        match seg.pipeline(pipe, sink, &mut got).await? {
            Ok(sink) => output = Some(sink),
            Err(failed) => return Ok(failed),
        }
    }
    let mut result = output.take().expect("the sink is back").finish(exec).await?;
    exec.counters.input_records.fetch_add(got.records_in, Ordering::Relaxed);
    result.ok = true;
    result.compiled = compiled;
    result.records_in = got.records_in;
    result.spilled_bytes += got.spilled;
    result.logs = got.logs;
    result.cached = got.cached;
    result.cache_hits = got.cache_hits;
    result.accumulators =
        got.accumulators.into_iter().map(|(id, delta)| AccumulatorUpdate { id, delta: Some(delta) }).collect();
    Ok(result)
}

/// One run of the guest over part of a pipeline: from `input` through `steps`
/// into `output`.
struct Segment<'a> {
    exec: &'a Arc<Executor>,
    spec: &'a TaskSpec,
    artifact: &'a CompiledArtifact<TaskState>,
    limits: &'a SandboxLimits,
    compiled: bool,
    app: &'a AppId,
}

/// What running part of a task gives: its value, or the failed task's result.
type Ran<T> = Result<Result<T, TaskResult>, ExecutorError>;

impl<'a> Segment<'a> {
    /// Runs one pipeline into `sink`. The parent pipelines of a coalesced
    /// partition that have steps of their own run beside it, streaming their
    /// records to it through a bounded channel.
    fn pipeline<'s>(
        &'s self,
        pipe: &'s Pipeline,
        sink: output::Output,
        got: &'s mut Gathered,
    ) -> BoxFuture<'s, Ran<output::Output>> {
        Box::pin(async move {
            let parents = match pipe.input.as_ref().and_then(|i| i.source.as_ref()) {
                Some(task_input::Source::Concat(c)) if !c.pipelines.iter().all(input::reads_input_only) => &c.pipelines,
                _ => return self.pipeline_from(pipe, None, sink, got).await,
            };
            let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_BATCHES);
            let mut theirs = Gathered::default();
            let produce = async {
                let mut out = output::Output::Channel(tx);
                for p in parents {
                    out = match self.pipeline(p, out, &mut theirs).await? {
                        Ok(out) => out,
                        Err(failed) => return Ok(Err(failed)),
                    };
                }
                Ok(Ok(())) // dropping the sender ends the channel
            };
            let consume = self.pipeline_from(pipe, Some(input::Input::Channel(rx)), sink, got);
            let (produced, consumed): (Ran<()>, Ran<output::Output>) = tokio::join!(produce, consume);
            got.absorb(theirs);
            // The steps' own failure first: it closed the channel the parents then wrote to.
            match (consumed?, produced?) {
                (Err(failed), _) | (Ok(_), Err(failed)) => Ok(Err(failed)),
                (Ok(sink), Ok(())) => Ok(Ok(sink)),
            }
        })
    }

    /// Runs one pipeline into `sink`, reading `input` (default: the pipeline's
    /// own): from the deepest persisted partition kept here, if any; otherwise
    /// from the input, keeping each persisted partition on the way and handing
    /// its records to the rest of the steps.
    async fn pipeline_from(
        &self,
        pipe: &Pipeline,
        input: Option<input::Input>,
        sink: output::Output,
        got: &mut Gathered,
    ) -> Ran<output::Output> {
        let partitions: Vec<u32> = pipe.steps.iter().map(|s| s.partition).collect();
        let steps: Vec<Step> = pipe
            .steps
            .iter()
            .map(|s| match &s.kind {
                Some(step::Kind::Narrow(op)) => Ok(Step::Narrow(op.clone())),
                Some(step::Kind::Combine(op)) => Ok(Step::Combine(op.clone())),
                None => Err(ExecutorError::BadSpec("a step has no kind".into())),
            })
            .collect::<Result<_, _>>()?;
        if pipe.caches.iter().any(|c| c.after as usize > steps.len()) {
            return Err(ExecutorError::BadSpec("a cache point lies past the pipeline's steps".into()));
        }
        let (exec, app) = (self.exec, self.app);
        let key =
            |c: &CachePoint| CacheKey { app: app.clone(), dataset: c.dataset, partition: c.partition, piece: c.piece };
        let mut block = None;
        let mut from = 0;
        let mut todo = &pipe.caches[..];
        for (i, c) in pipe.caches.iter().enumerate().rev() {
            if let Some(kept) = exec.cache.get(&key(c)) {
                block = Some(input::Input::Block(kept.into()));
                from = c.after as usize;
                todo = &pipe.caches[i + 1..];
                got.cache_hits += 1;
                break;
            }
        }
        let mut input = match (block, input) {
            (Some(i), _) | (None, Some(i)) => i,
            (None, None) => input::Input::open(self.exec, self.spec, pipe.input.as_ref())?,
        };
        for c in todo {
            let after = c.after as usize;
            let (used, buffer) = match self
                .run(&steps[from..after], &partitions[from..after], input, output::Output::buffer(), got)
                .await?
            {
                Ok(done) => done,
                Err(failed) => return Ok(Err(failed)),
            };
            got.records_in += used.records_in();
            got.spilled += used.spilled_bytes();
            got.add_skipped(used.skipped_rows());
            let batches = buffer.into_batches();
            let level = StorageLevel::try_from(c.level).unwrap_or(StorageLevel::MemoryOnly);
            let bytes = batches.iter().map(|b| b.len() as u64).sum();
            let stored = exec.cache.put(key(c), batches.clone(), level);
            got.cached.push(CachedBlock {
                dataset: c.dataset,
                partition: c.partition,
                piece: c.piece,
                stored,
                bytes,
                level: c.level,
            });
            input = input::Input::Block(batches.into());
            from = after;
        }
        let (used, sink) = match self.run(&steps[from..], &partitions[from..], input, sink, got).await? {
            Ok(done) => done,
            Err(failed) => return Ok(Err(failed)),
        };
        got.records_in += used.records_in();
        got.spilled += used.spilled_bytes();
        got.add_skipped(used.skipped_rows());
        Ok(Ok(sink))
    }

    /// The input and output back when the guest succeeded, or the failed
    /// task's result. `partitions` holds the partition each step computes.
    async fn run(
        &self,
        steps: &[Step],
        partitions: &[u32],
        mut input: input::Input,
        mut output: output::Output,
        got: &mut Gathered,
    ) -> Result<Result<(input::Input, output::Output), TaskResult>, ExecutorError> {
        if steps.is_empty() {
            // Nothing for the guest to do: the host moves the records itself.
            loop {
                if output.is_full() {
                    break;
                }
                let next = match input.next_batch().await {
                    Ok(n) => n,
                    Err(e) => {
                        let mut result = failed(e.failure(), std::mem::take(&mut got.logs), self.compiled);
                        mark_fetch_failure(&mut result, input.fetch_failure(&e));
                        return Ok(Err(result));
                    }
                };
                let Some(batch) = next else { break };
                if let Err(f) = output.write(batch).await {
                    return Ok(Err(failed(f, std::mem::take(&mut got.logs), self.compiled)));
                }
            }
            return Ok(Ok((input, output)));
        }
        let (wasi, captured) = sandbox_wasi(self.limits);
        let state = TaskState {
            wasi,
            table: ResourceTable::new(),
            limiter: self.limits.limiter(),
            input,
            output,
            max_batch_bytes: self.exec.config.max_batch_bytes,
            host_error: None,
            fetch_failure: None,
            exec: self.exec.clone(),
            app: self.app.clone(),
            partition: self.spec.partition,
            step_partitions: partitions.to_vec(),
            accumulators: std::mem::take(&mut got.accumulators),
        };
        let mut store = Store::new(&self.exec.engine, state);
        store.limiter(|s| &mut s.limiter);
        arm(&mut store, self.limits, self.exec.config.engine.fuel)?;
        let call = async {
            let job = self.artifact.pre.instantiate_async(&mut store).await?;
            job.spindle_job_task().call_run(&mut store, steps).await
        };
        let outcome = within_wall_time(self.limits, call).await;
        let mut state = store.into_data();
        got.logs.extend(captured.stdout());
        got.logs.extend(captured.stderr());
        got.accumulators = std::mem::take(&mut state.accumulators);
        let failure = match outcome {
            Err(hit) => Some(Failure::Limit(hit)),
            // A host-side failure explains the trap it caused.
            Ok(_) if state.host_error.is_some() => state.host_error.take(),
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(guest))) => Some(Failure::Guest(guest)),
            Ok(Err(trap)) => Some(Failure::from_wasmtime(
                &trap,
                state.limiter.hit(),
                self.limits,
                self.exec.config.engine.max_wasm_stack,
            )),
        };
        if let Some(failure) = failure {
            let mut result = failed(failure, std::mem::take(&mut got.logs), self.compiled);
            mark_fetch_failure(&mut result, state.fetch_failure.take());
            if let Some((path, at, compressed)) = state.input.bad_utf8() {
                let of = if compressed { " of its decompressed text (or the file is corrupt)" } else { "" };
                result.error.push_str(&format!(
                    "\n(the input file {path} holds bytes that are not valid UTF-8, the first at byte offset {at}{of}; \
                     to read them as U+FFFD instead, read the file with lossy UTF-8: \
                     `spindle::text_file_with` in Rust, `lossy-utf8` of `text-source` in the contract)"
                ));
            }
            append_log_tail(&mut result.error, &captured.stderr());
            return Ok(Err(result));
        }
        Ok(Ok((state.input, state.output)))
    }
}

/// Most bytes of a failed task's stderr quoted in its error (a panic message, say).
const ERROR_LOG_TAIL: usize = 2048;

/// Appends the end of the guest's stderr to an error, so a panic message reaches
/// the user with the failure.
fn append_log_tail(error: &mut String, stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    let mut start = text.len().saturating_sub(ERROR_LOG_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = if start > 0 { "..." } else { "" };
    error.push_str(&format!("\nguest stderr:\n{cut}{}", &text[start..]));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_spec_sets_wall_time_and_fuel_and_the_executor_caps_memory() {
        let own = SandboxLimits::default();
        let asked = TaskLimits { memory_bytes: 1 << 40, wall_time_ms: 3_600_000, fuel: 7, output_bytes: 0 };
        let l = task_limits(&own, Some(&asked));
        assert_eq!(l.memory_bytes, own.memory_bytes, "memory is capped by the executor");
        assert_eq!(l.wall_time, Duration::from_secs(3600), "an hour allowed by the tenant is an hour");
        assert_eq!(l.fuel, Some(7));
        assert_eq!(l.output_bytes, own.output_bytes);
        assert_eq!(task_limits(&own, None), own);
    }
}
