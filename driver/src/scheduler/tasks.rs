//! The task scheduler: runs a job's stages, each as one task per partition on
//! leased executor slots, parents first; recomputes lost shuffle outputs by
//! running the map tasks that made them again; commits text output exactly once
//! per partition.
//!
//! A job is a loop: make every shuffle it reads complete (running only the map
//! tasks whose output is missing, which is all of them the first time), then run
//! the result stage's unfinished partitions. A task that cannot read its shuffle
//! input (a fetch failure, or outputs lost before it started) ends its stage's
//! round; the lost outputs are forgotten and the loop goes round again, at most
//! `max_stage_attempts` times. Attempts of one task are in [`super::attempt`].

use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use spindle_proto::ids::{ExecutorId, StageId};
use spindle_proto::{MapLocation, StageProgress, TaskResult};
use tracing::Instrument;

use super::attempt::{Placement, TaskOutcome, run_task};
use super::dag::{Action, JobPlan, StageOutput};
pub use super::stage::JobContext;
use super::stage::{Lost, Stage};
use crate::DriverError;
use crate::api::Event;

/// What an action produced.
#[derive(Debug)]
pub enum ActionOutput {
    /// Every record, partition by partition.
    Collected(Vec<u8>),
    /// The record count.
    Count(u64),
    /// Text files were written and committed.
    Saved,
    /// Sampled keys (a batch) and the record count of each partition.
    Sampled(Vec<(Vec<u8>, u64)>),
}

/// Figures about a finished job.
#[derive(Debug, Default, Clone, Copy)]
pub struct JobStats {
    /// Stage runs, counting runs again after lost outputs.
    pub stages: u32,
    /// Tasks, counting every partition run again.
    pub tasks: u32,
    /// Bytes tasks spilled to executors' disks.
    pub spilled_bytes: u64,
}

/// Runs a planned job to completion. When a job writing text files fails, its
/// attempt files are removed and no `_SUCCESS` is written (`scheduler/commit.rs`).
pub async fn run_job(ctx: &JobContext<'_>, plan: &JobPlan) -> Result<(ActionOutput, JobStats), DriverError> {
    let outcome = run_job_rounds(ctx, plan).await;
    if outcome.is_err()
        && let StageOutput::Action(Action::SaveText(output)) = &plan.result.output
    {
        output.abort_job().await;
    }
    outcome
}

async fn run_job_rounds(ctx: &JobContext<'_>, plan: &JobPlan) -> Result<(ActionOutput, JobStats), DriverError> {
    let mut stats = JobStats::default();
    let new_stage = |p| Stage::new(StageId(ctx.next_stage.fetch_add(1, Ordering::Relaxed)), p);
    let map_stages: Vec<Stage> = plan.map_stages.iter().map(new_stage).collect();
    let result_stage = new_stage(&plan.result);
    let mut results: Vec<Option<TaskResult>> = vec![None; plan.result.partitions as usize];
    let mut losses = 0;
    let partitions = plan.result.partitions;
    let take = match &plan.result.output {
        StageOutput::Action(Action::Take { n }) => Some(*n),
        _ => None,
    };
    let mut scan = if take.is_some() { partitions.min(1) } else { partitions };
    'rounds: loop {
        for stage in &map_stages {
            let StageOutput::Shuffle { shuffle, .. } = stage.plan.output else {
                unreachable!("map stages write shuffles")
            };
            let maps = stage.plan.partitions;
            let missing = ctx.map_outputs.missing(shuffle, maps, ctx.cluster);
            if missing.is_empty() {
                continue; // complete, maybe from an earlier job of this application
            }
            if missing.len() < maps as usize || stage.has_run() {
                ctx.progress.note_resubmitted();
                tracing::info!(app = %ctx.app, stage = %stage.id, tasks = missing.len(), "recomputing lost shuffle outputs");
            }
            let (done, lost) = run_round(ctx, stage, &missing, &mut stats).await?;
            for (map, result, Placement { executor_id, address }) in done {
                stage.absorb(ctx, map, &result);
                ctx.map_outputs.record(shuffle, maps, MapLocation { map_id: map, executor_id, address });
            }
            if let Some(lost) = lost {
                losses += 1;
                forget_lost(ctx, stage, &lost, losses)?;
                continue 'rounds;
            }
        }
        let todo: Vec<u32> = (0..scan).filter(|&p| results[p as usize].is_none()).collect();
        let (done, lost) = run_round(ctx, &result_stage, &todo, &mut stats).await?;
        for (p, r, _) in done {
            result_stage.absorb(ctx, p, &r);
            results[p as usize] = Some(r);
        }
        match lost {
            None => {
                // `take` scans more partitions (4 times as many) until it has enough.
                if let Some(n) = take
                    && scan < partitions
                    && results[..scan as usize].iter().flatten().map(|r| r.records_out).sum::<u64>() < n
                {
                    scan = (scan * 4).min(partitions);
                    continue;
                }
                break;
            }
            Some(lost) => {
                losses += 1;
                forget_lost(ctx, &result_stage, &lost, losses)?;
            }
        }
    }
    let results: Vec<TaskResult> =
        results.into_iter().take(scan as usize).map(|r| r.expect("every scanned partition finished")).collect();
    let StageOutput::Action(action) = &plan.result.output else { unreachable!("the result stage runs the action") };
    let output = match action {
        Action::Count => ActionOutput::Count(results.iter().map(|r| r.count).sum()),
        Action::SampleKeys { .. } => {
            ActionOutput::Sampled(results.into_iter().map(|r| (r.collected, r.records_out)).collect())
        }
        Action::Take { n } => {
            // Each task kept at most `n`; the first `n` across partitions, in order.
            let all: Vec<u8> = results.iter().flat_map(|r| r.collected.iter().copied()).collect();
            let first = spindle_frame::first_records(&all, *n)
                .map_err(|e| DriverError::Job(format!("take: a task returned malformed records: {e}")))?;
            ActionOutput::Collected(first)
        }
        Action::Collect => {
            let total: u64 = results.iter().map(|r| r.collected.len() as u64).sum();
            if total > ctx.max_result_bytes {
                return Err(DriverError::Job(format!(
                    "collect: the result is {total} bytes, over the {}-byte limit (max_result_size, and no more \
                     than main's memory); save it to files instead",
                    ctx.max_result_bytes
                )));
            }
            let mut all = Vec::with_capacity(total as usize);
            for r in results {
                all.extend_from_slice(&r.collected);
            }
            ActionOutput::Collected(all)
        }
        Action::SaveText(output) => {
            output.commit_job().await?;
            ActionOutput::Saved
        }
    };
    Ok((output, stats))
}

/// Forgets the outputs a fetch failure reported lost (declaring their executor
/// lost when it could not be reached at all); fails the job after too many rounds.
fn forget_lost(ctx: &JobContext<'_>, stage: &Stage<'_>, lost: &Lost, losses: u32) -> Result<(), DriverError> {
    if let Some(f) = &lost.fetch {
        let forgotten = ctx.map_outputs.forget_executor(&f.executor_id);
        if f.unreachable
            && let Some(id) = ExecutorId::parse(&f.executor_id)
        {
            ctx.cluster.declare_lost(&id, "a peer could not fetch shuffle blocks from it");
        }
        tracing::info!(app = %ctx.app, stage = %stage.id, executor = %f.executor_id, forgotten, "shuffle outputs lost");
    }
    if losses >= ctx.config.max_stage_attempts {
        return Err(DriverError::Job(format!(
            "stage {} (job {}) lost its shuffle input {losses} times (the limit, max_stage_attempts); last: {}",
            stage.id, ctx.job, lost.error
        )));
    }
    Ok(())
}

/// Runs `partitions` of `stage`, as many at a time as [`in_flight_limit`] allows.
/// Returns the finished ones, and whether some could not read their shuffle input
/// (those, and any not started after that, are not finished).
async fn run_round(
    ctx: &JobContext<'_>,
    stage: &Stage<'_>,
    partitions: &[u32],
    stats: &mut JobStats,
) -> Result<(Vec<(u32, TaskResult, Placement)>, Option<Lost>), DriverError> {
    let round = stage.begin_round(partitions.len());
    stats.stages += 1;
    stats.tasks += partitions.len() as u32;
    let progress = ctx.progress.start(StageProgress {
        job_id: ctx.job.0,
        stage_id: stage.id.0,
        kind: stage.kind().into(),
        tasks: partitions.len() as u32,
        done: 0,
        running: 0,
        attempt: round,
        spilled_bytes: 0,
    });
    let now_ms = crate::api::history::now_ms;
    ctx.driver.record_event(
        ctx.app,
        Event::StageStart {
            job: ctx.job.0,
            stage: stage.id.0,
            kind: stage.kind().into(),
            attempt: round,
            tasks: partitions.len() as u32,
            time_ms: now_ms(),
        },
    );
    let span = tracing::info_span!("driver.stage.run", app = %ctx.app, job = %ctx.job, stage = %stage.id, round, tasks = partitions.len());
    let progress = &progress;
    let outcome = async {
        let start = |p: u32| async move { (p, run_task(ctx, stage, progress, p).await) };
        let mut waiting = partitions.iter().copied();
        let mut tasks = FuturesUnordered::new();
        let mut done = Vec::with_capacity(partitions.len());
        let mut lost = None;
        let mut spilled = 0;
        loop {
            // Partitions become tasks (futures of a few KB each, waiting for a
            // slot) only as room frees up, in partition order; after a lost input
            // no more start: the next round runs them.
            if lost.is_none() {
                let limit = in_flight_limit(ctx);
                while tasks.len() < limit {
                    let Some(p) = waiting.next() else { break };
                    tasks.push(start(p));
                }
            }
            let Some((p, outcome)) = tasks.next().await else { break };
            match outcome? {
                TaskOutcome::Done(r, placement) => {
                    progress.update(|s| {
                        s.done += 1;
                        s.spilled_bytes += r.spilled_bytes;
                    });
                    spilled += r.spilled_bytes;
                    done.push((p, r, placement));
                }
                TaskOutcome::InputLost(l) => {
                    lost.get_or_insert(l);
                }
            }
        }
        if spilled > 0 {
            tracing::info!(spilled_bytes = spilled, "the stage's tasks spilled to disk");
        }
        stats.spilled_bytes += spilled;
        Ok((done, lost))
    }
    .instrument(span)
    .await;
    ctx.driver
        .record_event(ctx.app, Event::StageEnd { stage: stage.id.0, time_ms: now_ms(), failed: outcome.is_err() });
    outcome
}

/// Tasks of one stage round that may be under way at once (running, queued at an
/// executor, or waiting for a slot): twice what the cluster's slots and their
/// launch-ahead queues hold, so that every slot always has a task to take and
/// executors that join find work; at least [`MIN_IN_FLIGHT`] while the cluster
/// is small or empty.
fn in_flight_limit(ctx: &JobContext<'_>) -> usize {
    let per_slot = ctx.config.launch_ahead as usize + 1;
    (ctx.cluster.total_slots() as usize * per_slot * 2).max(MIN_IN_FLIGHT)
}

const MIN_IN_FLIGHT: usize = 64;
