//! Running one task: a fresh store and instance from the artifact's `InstancePre`,
//! the guest's `task.run(steps)` pulling input batches and pushing output batches.
//!
//! - [`input`]: the task's input stream (a text split, inline records, shuffle blocks).
//! - [`output`]: the task's sink (shuffle buckets, collected records, a count, a file).
//! - [`host`]: the store data and the host side of the `task-io` interface.

mod host;
mod input;
mod output;

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use spindle_proto::{TaskResult, TaskSpec, step};
use spindle_sandbox::bindings::Step;
use spindle_sandbox::{ArtifactHash, sandbox_wasi};
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};

pub use host::TaskState;

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
    let span = tracing::info_span!("executor.task.run", app = %spec.app_id, stage = spec.stage_id, partition = spec.partition);
    let what = describe(&spec);
    let mut result = match run_inner(exec, spec).instrument(span.clone()).await {
        Ok(r) => r,
        Err(e) => TaskResult { ok: false, retryable: e.is_retryable(), error: e.to_string(), ..Default::default() },
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

async fn run_inner(exec: &Arc<Executor>, spec: TaskSpec) -> Result<TaskResult, ExecutorError> {
    let hash: ArtifactHash = spec.artifact.parse().map_err(ExecutorError::BadSpec)?;
    let (artifact, compiled) = exec.artifacts.get(hash).await?;
    let steps: Vec<Step> = spec
        .steps
        .iter()
        .map(|s| match &s.kind {
            Some(step::Kind::Narrow(op)) => Ok(Step::Narrow(op.clone())),
            Some(step::Kind::Combine(op)) => Ok(Step::Combine(op.clone())),
            None => Err(ExecutorError::BadSpec("a step has no kind".into())),
        })
        .collect::<Result<_, _>>()?;
    let input = input::Input::open(exec, &spec)?;
    let output = output::Output::open(exec, &spec).await?;

    let limits = &exec.config.limits;
    let (wasi, captured) = sandbox_wasi(limits);
    let state = TaskState {
        wasi,
        table: ResourceTable::new(),
        limits: limits.store_limits(),
        input,
        output,
        host_error: None,
    };
    let mut store = Store::new(&exec.engine, state);
    store.limiter(|s| &mut s.limits);

    let call = async {
        let job = artifact.pre.instantiate_async(&mut store).await?;
        job.spindle_job_task().call_run(&mut store, &steps).await
    };
    let outcome = call.await;
    let mut state = store.into_data();
    let mut logs = captured.stdout();
    logs.extend(captured.stderr());

    // (message, retryable): a guest error or trap is deterministic; a host-side
    // failure (I/O, fetch) may succeed elsewhere.
    let error = match (outcome, state.host_error.take()) {
        // A host-side failure explains the trap it caused.
        (_, Some(host)) => Some(host),
        (Ok(Ok(())), None) => None,
        (Ok(Err(guest)), None) => Some((format!("the job failed: {guest}"), false)),
        (Err(trap), None) => Some((format!("the guest trapped: {}", trap.root_cause()), false)),
    };
    if let Some((mut error, retryable)) = error {
        append_log_tail(&mut error, &captured.stderr());
        return Ok(TaskResult { ok: false, error, retryable, logs, compiled, ..Default::default() });
    }
    let mut result = state.output.finish(exec, &spec).await?;
    result.ok = true;
    result.compiled = compiled;
    result.records_in = state.input.records_in();
    result.logs = logs;
    Ok(result)
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
