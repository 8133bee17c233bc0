//! One task of a stage, attempt by attempt: lease a slot, launch, and read the
//! outcome. Retryable failures run again (up to `max_task_attempts`); an attempt
//! whose executor is lost ends at once; a task that cannot read its shuffle input
//! hands that back to its stage (not counted as a failed attempt). With
//! speculation on, a straggler gets a copy on another executor and the first
//! attempt to succeed wins; the other is killed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use spindle_proto::ids::ExecutorId;
use spindle_proto::{
    CollectSink, Concat, CountSink, DataRoots, FailureKind, HashPartitioner, KillTaskRequest, Pipeline,
    PrefixPartitioner, RangePartitioner, RangeSource, RoundRobinPartitioner, SampleKeysSink, ShuffleRead, ShuffleSide,
    ShuffleWrite, TaskInput, TaskOutput, TaskRecord, TaskResult, TaskSpec, TextFileSink, shuffle_write, task_input,
    task_output,
};
use tokio::sync::oneshot;

use super::dag::{Action, Partitioner, PipeInput, PipePlan, StageOutput};
use super::progress::StageGuard;
use super::stage::{JobContext, Lost, Stage};
use crate::DriverError;
use crate::api::Event;
use crate::api::model::TaskData;
use crate::cluster::{ExecutorEntry, SlotLease};

/// The executor a task succeeded on.
#[derive(Debug, Clone)]
pub(super) struct Placement {
    /// Its id.
    pub executor_id: String,
    /// Where peers reach it (to fetch the task's shuffle output).
    pub address: String,
}

/// How a task ended, short of failing its job.
#[expect(clippy::large_enum_variant, reason = "one per task, moved once; boxing buys nothing")]
pub(super) enum TaskOutcome {
    Done(TaskResult, Placement),
    /// It could not read its shuffle input: the stage must recompute it.
    InputLost(Lost),
}

/// How one attempt ended.
#[expect(clippy::large_enum_variant, reason = "one per attempt, moved once; boxing buys nothing")]
enum Attempt {
    Done(TaskResult, Placement),
    InputLost(Lost),
    Failed { error: String, executor: String, retryable: bool, counted: bool },
}

/// Where and when an attempt started, for speculation and for killing it.
#[derive(Clone)]
struct Started {
    executor: ExecutorEntry,
    attempt: u32,
    at: Instant,
}

/// Runs one partition of `stage` until it succeeds, its input is lost, or it
/// fails its job (a deterministic failure, or too many failed attempts).
pub(super) async fn run_task(
    ctx: &JobContext<'_>,
    stage: &Stage<'_>,
    progress: &StageGuard<'_>,
    partition: u32,
) -> Result<TaskOutcome, DriverError> {
    let max = ctx.config.max_task_attempts.max(1);
    let mut failed_on: Vec<String> = Vec::new();
    loop {
        // A retry prefers another executor than the one the last attempt failed on.
        let shun = failed_on.last().and_then(|e| ExecutorId::parse(e));
        let shun = shun.as_ref();
        let attempt = if ctx.config.speculation.enabled {
            speculate(ctx, stage, progress, partition, shun).await?
        } else {
            attempt(ctx, stage, progress, partition, Avoid { strictly: None, rather: shun }, None).await?
        };
        match attempt {
            Attempt::Done(r, placement) => return Ok(TaskOutcome::Done(r, placement)),
            Attempt::InputLost(lost) => return Ok(TaskOutcome::InputLost(lost)),
            Attempt::Failed { error, executor, retryable: false, .. } => {
                return Err(DriverError::Job(format!(
                    "task {partition} of stage {} (job {}) failed on executor {executor}: {error}",
                    stage.id, ctx.job
                )));
            }
            // Like Spark, a lost or stopping executor is not the task's fault:
            // such attempts do not count (the executor gets no more tasks, so
            // this cannot go on for ever).
            Attempt::Failed { counted: false, .. } => {}
            Attempt::Failed { error, executor, retryable: true, counted: true } => {
                failed_on.push(executor.clone());
                if failed_on.len() as u32 >= max {
                    return Err(DriverError::Job(format!(
                        "task {partition} of stage {} (job {}) failed {max} times (the limit, max_task_attempts), on {}; \
                         last error, on executor {executor}: {error}",
                        stage.id,
                        ctx.job,
                        failed_on.join(", ")
                    )));
                }
            }
        }
    }
}

/// A pipeline as the executor reads it; `None` when a shuffle it reads has
/// lost outputs.
fn pipeline(ctx: &JobContext<'_>, pipe: &PipePlan) -> Option<Pipeline> {
    let source = match &pipe.input {
        PipeInput::Text(split) => task_input::Source::Text(split.clone()),
        PipeInput::Records(batch) => task_input::Source::Records(batch.to_vec()),
        PipeInput::Range { start, step, count } => {
            task_input::Source::Range(RangeSource { start: *start, step: *step, count: *count })
        }
        PipeInput::Shuffle { shuffles, partition, mode } => {
            let mut sides = Vec::with_capacity(shuffles.len());
            for s in shuffles {
                sides.push(ShuffleSide { shuffle_id: s.0, maps: ctx.map_outputs.complete(*s, ctx.cluster)? });
            }
            task_input::Source::Shuffle(ShuffleRead { reduce_partition: *partition, sides, mode: *mode as i32 })
        }
        PipeInput::Concat(pipes) => task_input::Source::Concat(Concat {
            pipelines: pipes.iter().map(|p| pipeline(ctx, p)).collect::<Option<Vec<_>>>()?,
        }),
    };
    Some(Pipeline {
        input: Some(TaskInput { source: Some(source) }),
        steps: pipe.steps.clone(),
        caches: pipe.caches.clone(),
    })
}

/// The spec of one attempt; `None` when a shuffle it reads has lost outputs.
fn task_spec(ctx: &JobContext<'_>, stage: &Stage<'_>, partition: u32, attempt: u32) -> Option<TaskSpec> {
    let plan = stage.plan;
    let pipelines =
        plan.tasks[partition as usize].iter().map(|pipe| pipeline(ctx, pipe)).collect::<Option<Vec<_>>>()?;
    let sink = match &plan.output {
        StageOutput::Shuffle { shuffle, partitions, partitioner } => {
            let partitioner = Some(match partitioner {
                Partitioner::Hash => shuffle_write::Partitioner::Hash(HashPartitioner {}),
                Partitioner::RoundRobin => shuffle_write::Partitioner::RoundRobin(RoundRobinPartitioner {}),
                Partitioner::Prefix => shuffle_write::Partitioner::Prefix(PrefixPartitioner {}),
                Partitioner::Range { bounds, descending } => shuffle_write::Partitioner::Range(RangePartitioner {
                    bounds: bounds.iter().map(|b| b.to_vec()).collect(),
                    descending: *descending,
                }),
            });
            task_output::Sink::Shuffle(ShuffleWrite {
                shuffle_id: shuffle.0,
                map_id: partition,
                partitions: *partitions,
                partitioner,
            })
        }
        StageOutput::Action(Action::Collect) => task_output::Sink::Collect(CollectSink { limit: 0 }),
        StageOutput::Action(Action::Take { n }) => task_output::Sink::Collect(CollectSink { limit: *n }),
        StageOutput::Action(Action::Count) => task_output::Sink::Count(CountSink {}),
        StageOutput::Action(Action::SampleKeys { per_partition, seed }) => {
            task_output::Sink::SampleKeys(SampleKeysSink {
                size: *per_partition,
                seed: seed.wrapping_add(u64::from(partition)),
            })
        }
        StageOutput::Action(Action::SaveText(output)) => task_output::Sink::TextFile(TextFileSink {
            temp_path: output.attempt_path(stage.id, partition, attempt),
            compression: output.compression.into(),
            table: output.table.clone(),
            line_layout: output.line_layout,
        }),
    };
    Some(TaskSpec {
        app_id: ctx.app.0.clone(),
        job_id: ctx.job.0,
        stage_id: stage.id.0,
        partition,
        attempt,
        artifact: ctx.artifact.to_string(),
        pipelines,
        output: Some(TaskOutput { sink: Some(sink) }),
        limits: Some(*ctx.limits),
        max_result_bytes: ctx.max_result_bytes,
        max_shuffle_memory: ctx.max_shuffle_memory,
        data_roots: ctx.access.root_list().map(|roots| DataRoots { roots }),
        stores: ctx.access.store_grants(),
    })
}

/// The executor holding the deepest kept block of the task's first pipeline, if
/// the driver knows one that is still registered.
fn preferred_executor(ctx: &JobContext<'_>, stage: &Stage<'_>, partition: u32) -> Option<ExecutorId> {
    let pipe = stage.plan.tasks[partition as usize].first()?;
    pipe.caches.iter().rev().find_map(|c| ctx.cache_locations.get(c.dataset, c.partition, c.piece))
}

/// Executors an attempt should not run on.
#[derive(Clone, Copy, Default)]
struct Avoid<'a> {
    /// Never this one (a speculative copy avoids the original's executor).
    strictly: Option<&'a ExecutorId>,
    /// Not this one if another frees a slot within the locality wait (a retry
    /// avoids the executor its task last failed on).
    rather: Option<&'a ExecutorId>,
}

/// A slot on any executor but `avoid.strictly` and those the application
/// excludes; when the task's kept input lives on some executor, on that one
/// if it frees a slot within the locality wait; else on another than
/// `avoid.rather` if one frees a slot within that wait.
async fn lease_slot(
    ctx: &JobContext<'_>,
    stage: &Stage<'_>,
    partition: u32,
    avoid: Avoid<'_>,
) -> Result<SlotLease, DriverError> {
    let no_executor = |e| {
        DriverError::Job(format!("task {partition} of stage {} (job {}) found no executor: {e}", stage.id, ctx.job))
    };
    let wait = ctx.config.locality_wait;
    let registered = ctx.cluster.registered();
    ctx.exclusions.refresh(&registered);
    let prefer = preferred_executor(ctx, stage, partition)
        .filter(|p| Some(p) != avoid.strictly && Some(p) != avoid.rather && !ctx.claim.excluded.contains_id(p));
    if let Some(prefer) = prefer
        && registered.contains(prefer)
        && let Ok(lease) =
            tokio::time::timeout(wait, ctx.cluster.lease_on(ctx.claim, &prefer, stage.tasks_ahead())).await
    {
        return lease.map_err(no_executor);
    }
    // Only where another executor is there to take it (local mode has one).
    if let Some(rather) = avoid.rather.filter(|r| Some(*r) != avoid.strictly)
        && ctx.cluster.registered().any_but(*rather)
        && let Ok(lease) =
            tokio::time::timeout(wait, ctx.cluster.lease(ctx.claim, Some(rather), stage.tasks_ahead())).await
    {
        return lease.map_err(no_executor);
    }
    ctx.cluster.lease(ctx.claim, avoid.strictly, stage.tasks_ahead()).await.map_err(no_executor)
}

/// Counts an attempt as running in the stage's progress while it lives.
struct Running<'a>(&'a StageGuard<'a>);

impl<'a> Running<'a> {
    fn new(progress: &'a StageGuard<'a>) -> Self {
        progress.update(|s| s.running += 1);
        Running(progress)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.update(|s| s.running = s.running.saturating_sub(1));
    }
}

/// One attempt: a slot (see [`lease_slot`] for which), the launch, the outcome.
/// Records where and when it started in `started`.
async fn attempt(
    ctx: &JobContext<'_>,
    stage: &Stage<'_>,
    progress: &StageGuard<'_>,
    partition: u32,
    avoid: Avoid<'_>,
    started: Option<&Mutex<Option<Started>>>,
) -> Result<Attempt, DriverError> {
    let lease = lease_slot(ctx, stage, partition, avoid).await?;
    let number = stage.next_attempt(partition);
    let Some(spec) = task_spec(ctx, stage, partition, number) else {
        return Ok(Attempt::InputLost(Lost {
            fetch: None,
            error: "shuffle outputs were lost before the task started".into(),
        }));
    };
    if let StageOutput::Action(Action::SaveText(output)) = &stage.plan.output {
        output.prepare_attempt(stage.id, partition, number)?;
    }
    let executor = lease.executor.clone();
    if let Some(cell) = started {
        *cell.lock().expect("started lock") =
            Some(Started { executor: executor.clone(), attempt: number, at: Instant::now() });
    }
    let mut result = {
        let (told, mut started) = oneshot::channel();
        crate::metrics::task_launched(stage.kind());
        let launch = executor.handle.launch(spec, told);
        tokio::pin!(launch);
        // Counted as running from when it takes a slot, not while it waits in the
        // executor's queue.
        let mut _running = None;
        let mut heard = false;
        loop {
            tokio::select! {
                r = &mut launch => break r,
                s = &mut started, if !heard => {
                    heard = true;
                    if s.is_ok() {
                        _running = Some(Running::new(progress));
                    }
                }
                reason = executor.lost() => break TaskResult {
                    ok: false,
                    retryable: true,
                    failure_kind: FailureKind::ExecutorLost.into(),
                    error: reason,
                    ..Default::default()
                },
            }
        }
    };
    // An infrastructure failure counts towards excluding its executor before its
    // slot is freed: the next waiting task must not take that slot first.
    let kind = result.failure_kind();
    if !result.ok
        && result.retryable
        && !matches!(kind, FailureKind::ExecutorLost | FailureKind::ExecutorStopping | FailureKind::FetchFailed)
    {
        ctx.exclusions.failed(executor.id, &result.error, &ctx.cluster.registered());
    }
    drop(lease);
    let placement = Placement { executor_id: executor.id.to_string(), address: executor.address.clone() };
    let shuffle_write_bytes = result.bucket_bytes.iter().sum();
    crate::metrics::task_finished(stage.kind(), &result, shuffle_write_bytes);
    ctx.driver.record_event(
        ctx.app,
        Event::TaskEnd {
            job: ctx.job.0,
            stage: stage.id.0,
            task: TaskData {
                partition,
                attempt: number,
                stage_attempt: stage.round(),
                executor: placement.executor_id.clone(),
                state: if result.ok { "succeeded" } else { "failed" }.into(),
                failure_kind: result.failure_kind().label().into(),
                error: result.error.lines().next().unwrap_or_default().into(),
                finished_ms: crate::api::history::now_ms(),
                duration_ms: result.duration_us as f64 / 1000.0,
                records_in: result.records_in,
                records_out: result.records_out,
                shuffle_write_bytes,
                spilled_bytes: result.spilled_bytes,
                cache_hit: result.cache_hits > 0,
            },
        },
    );
    ctx.driver.record_task(
        ctx.app,
        TaskRecord {
            job_id: ctx.job.0,
            stage_id: stage.id.0,
            partition,
            attempt: number,
            executor_id: placement.executor_id.clone(),
            ok: result.ok,
            error: result.error.clone(),
            failure_kind: result.failure_kind,
            duration_us: result.duration_us,
            logs: std::mem::take(&mut result.logs),
        },
    );
    if result.ok {
        tracing::debug!(
            stage = %stage.id, partition, attempt = number, executor = %placement.executor_id, duration_us = result.duration_us,
            records_in = result.records_in, records_out = result.records_out, compiled = result.compiled,
            "task finished"
        );
        stage.note_success(Duration::from_micros(result.duration_us));
        if let StageOutput::Action(Action::SaveText(output)) = &stage.plan.output {
            stage.commit_once(partition, || output.commit_attempt(stage.id, partition, number)).await?;
        }
        return Ok(Attempt::Done(result, placement));
    }
    tracing::info!(stage = %stage.id, partition, attempt = number, executor = %placement.executor_id, kind = result.failure_kind().label(), error = %result.error, "task attempt failed");
    let executor_fault = matches!(kind, FailureKind::ExecutorLost | FailureKind::ExecutorStopping);
    if kind == FailureKind::ExecutorLost {
        ctx.cluster.declare_lost(&executor.id, &result.error);
    } else if kind == FailureKind::ExecutorStopping {
        ctx.cluster.deregister(&executor.id, "it is stopping");
    }
    if let Some(fetch) = result.fetch_failure.take() {
        return Ok(Attempt::InputLost(Lost { fetch: Some(fetch), error: result.error }));
    }
    Ok(Attempt::Failed {
        error: result.error,
        executor: placement.executor_id,
        retryable: result.retryable,
        counted: !executor_fault,
    })
}

/// How often a running attempt is checked for being a straggler.
const SPECULATION_CHECK: Duration = Duration::from_millis(50);

/// One attempt, plus a copy on another executor if it becomes a straggler; the
/// first to succeed wins and the other is killed.
async fn speculate(
    ctx: &JobContext<'_>,
    stage: &Stage<'_>,
    progress: &StageGuard<'_>,
    partition: u32,
    shun: Option<&ExecutorId>,
) -> Result<Attempt, DriverError> {
    let first_started = Mutex::new(None);
    let first = attempt(ctx, stage, progress, partition, Avoid { strictly: None, rather: shun }, Some(&first_started));
    tokio::pin!(first);
    let mut tick = tokio::time::interval(SPECULATION_CHECK);
    let original = loop {
        tokio::select! {
            r = &mut first => return r,
            _ = tick.tick() => {
                let s = first_started.lock().expect("started lock").clone();
                if let Some(s) = s.filter(|s| stage.is_straggler(s.at.elapsed(), &ctx.config.speculation)) {
                    break s;
                }
            }
        }
    };
    tracing::info!(stage = %stage.id, partition, executor = %original.executor.id, running_ms = original.at.elapsed().as_millis() as u64, "straggler: launching a speculative copy");
    let copy_started = Mutex::new(None);
    let copy_avoid = Avoid { strictly: Some(&original.executor.id), rather: None };
    let copy = attempt(ctx, stage, progress, partition, copy_avoid, Some(&copy_started));
    tokio::pin!(copy);
    let (mut first_out, mut copy_out) = (None, None);
    loop {
        tokio::select! {
            r = &mut first, if first_out.is_none() => {
                if matches!(r, Ok(Attempt::Done(..))) {
                    kill(ctx, stage, partition, &copy_started, "the original attempt finished first");
                    return r;
                }
                first_out = Some(r);
            }
            r = &mut copy, if copy_out.is_none() => {
                if matches!(r, Ok(Attempt::Done(..))) {
                    tracing::info!(stage = %stage.id, partition, "the speculative copy finished first");
                    let task = format!("task {partition} of stage {}", stage.id);
                    ctx.exclusions.straggled(original.executor.id, &task, &ctx.cluster.registered());
                    kill(ctx, stage, partition, &first_started, "a speculative copy finished first");
                    return r;
                }
                copy_out = Some(r);
            }
        }
        if let (Some(_), Some(_)) = (&first_out, &copy_out) {
            return first_out.expect("checked");
        }
    }
}

/// Kills the attempt recorded in `started`, if it started, in the background.
fn kill(ctx: &JobContext<'_>, stage: &Stage<'_>, partition: u32, started: &Mutex<Option<Started>>, reason: &str) {
    let Some(s) = started.lock().expect("started lock").take() else { return };
    let req = KillTaskRequest {
        app_id: ctx.app.0.clone(),
        stage_id: stage.id.0,
        partition,
        attempt: s.attempt,
        reason: reason.to_string(),
    };
    let handle = s.executor.handle.clone();
    tokio::spawn(async move { handle.kill(req).await });
}
