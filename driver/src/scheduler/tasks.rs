//! The task scheduler: runs a job's stages in order, each as one task per partition
//! on leased executor slots; retries retryable failures; tracks where shuffle map
//! outputs live; commits text output exactly once per partition.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::try_join_all;
use spindle_proto::ids::{AppId, JobId, ShuffleId, StageId};
use spindle_proto::{
    CollectSink, CountSink, MapLocation, ShuffleRead, ShuffleWrite, TaskInput, TaskLimits, TaskOutput, TaskRecord,
    TaskResult, TaskSpec, TextFileSink, task_input, task_output,
};
use spindle_sandbox::ArtifactHash;
use tracing::Instrument;

use super::dag::{Action, JobPlan, StageInput, StageOutput, StagePlan};
use crate::cluster::{Cluster, SlotClaim};
use crate::{Driver, DriverConfig, DriverError};

/// Everything a job needs from its application and the driver.
pub struct JobContext<'a> {
    pub driver: &'a Driver,
    /// Limits of the application's tasks.
    pub limits: &'a TaskLimits,
    /// The application's tenant's claim on slots.
    pub claim: &'a SlotClaim,
    pub cluster: &'a Arc<Cluster>,
    pub config: &'a DriverConfig,
    pub app: &'a AppId,
    pub artifact: ArtifactHash,
    pub job: JobId,
    /// Where each completed shuffle's map outputs live, by map id.
    pub map_outputs: &'a Mutex<HashMap<ShuffleId, Vec<MapLocation>>>,
    pub next_stage: &'a AtomicU64,
}

/// What an action produced.
#[derive(Debug)]
pub enum ActionOutput {
    /// Every record, partition by partition.
    Collected(Vec<u8>),
    /// The record count.
    Count(u64),
    /// Text files were written and committed.
    Saved,
}

/// Figures about a finished job.
#[derive(Debug, Default, Clone, Copy)]
pub struct JobStats {
    pub stages: u32,
    pub tasks: u32,
}

/// Runs a planned job to completion.
pub async fn run_job(ctx: &JobContext<'_>, plan: &JobPlan) -> Result<(ActionOutput, JobStats), DriverError> {
    let mut stats = JobStats::default();
    for stage in &plan.map_stages {
        let StageOutput::Shuffle { shuffle, .. } = stage.output else { unreachable!("map stages write shuffles") };
        if ctx.map_outputs.lock().expect("map outputs lock").contains_key(&shuffle) {
            continue; // computed by an earlier job of this application
        }
        let results = run_stage(ctx, stage, &mut stats).await?;
        let locations = results
            .iter()
            .enumerate()
            .map(|(map, (_, exec))| MapLocation { map_id: map as u32, executor_id: exec.0.clone(), address: exec.1.clone() })
            .collect();
        ctx.map_outputs.lock().expect("map outputs lock").insert(shuffle, locations);
    }
    let results = run_stage(ctx, &plan.result, &mut stats).await?;
    let StageOutput::Action(action) = &plan.result.output else { unreachable!("the result stage runs the action") };
    let output = match action {
        Action::Count => ActionOutput::Count(results.iter().map(|(r, _)| r.count).sum()),
        Action::Collect => {
            let total: u64 = results.iter().map(|(r, _)| r.collected.len() as u64).sum();
            if total > ctx.config.max_result_bytes {
                return Err(DriverError::Job(format!(
                    "collect: the result is {total} bytes, over the {}-byte limit; save it to files instead",
                    ctx.config.max_result_bytes
                )));
            }
            let mut all = Vec::with_capacity(total as usize);
            for (r, _) in results {
                all.extend_from_slice(&r.collected);
            }
            ActionOutput::Collected(all)
        }
        Action::SaveText { dir } => {
            let dir = Path::new(dir);
            let io = |e: std::io::Error| DriverError::Output { path: dir.display().to_string(), reason: e.to_string() };
            std::fs::write(dir.join("_SUCCESS"), b"").map_err(io)?;
            let _ = std::fs::remove_dir_all(dir.join("_temporary"));
            ActionOutput::Saved
        }
    };
    Ok((output, stats))
}

/// (executor id, executor address) of the executor a task succeeded on.
type Placement = (String, String);

async fn run_stage(
    ctx: &JobContext<'_>,
    stage: &StagePlan,
    stats: &mut JobStats,
) -> Result<Vec<(TaskResult, Placement)>, DriverError> {
    let stage_id = StageId(ctx.next_stage.fetch_add(1, Ordering::Relaxed));
    let maps = match &stage.input {
        StageInput::Shuffle(s) => Some(
            ctx.map_outputs
                .lock()
                .expect("map outputs lock")
                .get(s)
                .cloned()
                .ok_or_else(|| DriverError::Job(format!("shuffle {s} has no map outputs")))?,
        ),
        _ => None,
    };
    let span = tracing::info_span!("driver.stage.run", app = %ctx.app, job = %ctx.job, stage = %stage_id, tasks = stage.partitions);
    stats.stages += 1;
    stats.tasks += stage.partitions;
    let tasks = (0..stage.partitions).map(|p| run_task(ctx, stage, stage_id, p, maps.as_deref()));
    try_join_all(tasks).instrument(span).await
}

fn task_spec(ctx: &JobContext<'_>, stage: &StagePlan, stage_id: StageId, partition: u32, attempt: u32, maps: Option<&[MapLocation]>) -> TaskSpec {
    let source = match &stage.input {
        StageInput::Text(splits) => task_input::Source::Text(splits[partition as usize].clone()),
        StageInput::Records(parts) => task_input::Source::Records(parts[partition as usize].to_vec()),
        StageInput::Shuffle(s) => task_input::Source::Shuffle(ShuffleRead {
            shuffle_id: s.0,
            reduce_partition: partition,
            maps: maps.unwrap_or_default().to_vec(),
        }),
    };
    let sink = match &stage.output {
        StageOutput::Shuffle { shuffle, partitions } => {
            task_output::Sink::Shuffle(ShuffleWrite { shuffle_id: shuffle.0, map_id: partition, partitions: *partitions })
        }
        StageOutput::Action(Action::Collect) => task_output::Sink::Collect(CollectSink {}),
        StageOutput::Action(Action::Count) => task_output::Sink::Count(CountSink {}),
        StageOutput::Action(Action::SaveText { dir }) => task_output::Sink::TextFile(TextFileSink {
            temp_path: temp_part_path(dir, stage_id, partition, attempt),
        }),
    };
    TaskSpec {
        app_id: ctx.app.0.clone(),
        job_id: ctx.job.0,
        stage_id: stage_id.0,
        partition,
        attempt,
        artifact: ctx.artifact.to_string(),
        steps: stage.steps.clone(),
        input: Some(TaskInput { source: Some(source) }),
        output: Some(TaskOutput { sink: Some(sink) }),
        limits: Some(*ctx.limits),
        max_result_bytes: ctx.config.max_result_bytes,
    }
}

fn part_name(partition: u32) -> String {
    format!("part-{partition:05}")
}

fn temp_part_path(dir: &str, stage: StageId, partition: u32, attempt: u32) -> String {
    Path::new(dir)
        .join("_temporary")
        .join(format!("{stage}-{partition}-{attempt}"))
        .join(part_name(partition))
        .display()
        .to_string()
}

async fn run_task(
    ctx: &JobContext<'_>,
    stage: &StagePlan,
    stage_id: StageId,
    partition: u32,
    maps: Option<&[MapLocation]>,
) -> Result<(TaskResult, Placement), DriverError> {
    let max = ctx.config.max_task_attempts.max(1);
    let mut last = String::new();
    for attempt in 0..max {
        let lease = ctx.cluster.lease(ctx.claim).await;
        let spec = task_spec(ctx, stage, stage_id, partition, attempt, maps);
        let mut result = lease.executor.handle.launch(spec).await;
        let placement = (lease.executor.id.0.clone(), lease.executor.address.clone());
        drop(lease);
        ctx.driver.record_task(
            ctx.app,
            TaskRecord {
                job_id: ctx.job.0,
                stage_id: stage_id.0,
                partition,
                attempt,
                executor_id: placement.0.clone(),
                ok: result.ok,
                error: result.error.clone(),
                failure_kind: result.failure_kind.clone(),
                duration_us: result.duration_us,
                logs: std::mem::take(&mut result.logs),
            },
        );
        if result.ok {
            tracing::debug!(
                stage = %stage_id, partition, attempt, executor = %placement.0, duration_us = result.duration_us,
                records_in = result.records_in, records_out = result.records_out, compiled = result.compiled,
                "task finished"
            );
            if let StageOutput::Action(Action::SaveText { dir }) = &stage.output {
                commit_part(dir, stage_id, partition, attempt)?;
            }
            return Ok((result, placement));
        }
        tracing::info!(stage = %stage_id, partition, attempt, executor = %placement.0, error = %result.error, "task attempt failed");
        if !result.retryable {
            return Err(DriverError::Job(result.error));
        }
        last = format!("{} (on executor {})", result.error, placement.0);
    }
    Err(DriverError::Job(format!(
        "stage {stage_id} partition {partition} failed {max} times; last error: {last}"
    )))
}

/// Moves one successful attempt's part file into place: exactly one attempt's
/// output becomes `part-NNNNN`.
fn commit_part(dir: &str, stage: StageId, partition: u32, attempt: u32) -> Result<(), DriverError> {
    let from = temp_part_path(dir, stage, partition, attempt);
    let to = Path::new(dir).join(part_name(partition));
    std::fs::rename(&from, &to)
        .map_err(|e| DriverError::Output { path: to.display().to_string(), reason: format!("committing {from}: {e}") })
}
