//! What the task scheduler's layers share about a running job: its context (the
//! application's and driver's state a job reads) and each stage's state while it
//! runs (attempt numbers, commits, task times). `tasks` runs rounds of a stage;
//! `attempt` runs one task attempt; both use these.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spindle_proto::ids::{AppId, JobId, StageId};
use spindle_proto::{FetchFailure, TaskLimits, TaskResult};
use spindle_sandbox::ArtifactHash;

use super::cache_locations::CacheLocations;
use super::dag::{StageOutput, StagePlan};
use super::exclusions::Exclusions;
use super::map_outputs::MapOutputs;
use super::progress::AppProgress;
use crate::access::DataAccess;
use crate::app::shared::Accumulators;
use crate::cluster::{Ahead, Cluster, SlotClaim};
use crate::config::Speculation;
use crate::{Driver, DriverConfig, DriverError};

/// Everything a job needs from its application and the driver.
pub struct JobContext<'a> {
    /// The driver (its artifact store, for tasks in local mode).
    pub driver: &'a Driver,
    /// Limits of the application's tasks.
    pub limits: &'a TaskLimits,
    /// The application's tenant's claim on slots.
    pub claim: &'a SlotClaim,
    /// The executors and their slots.
    pub cluster: &'a Arc<Cluster>,
    /// The driver's settings.
    pub config: &'a DriverConfig,
    /// The application.
    pub app: &'a AppId,
    /// Its component, which every task runs.
    pub artifact: ArtifactHash,
    /// The job.
    pub job: JobId,
    /// Where each shuffle's map outputs live.
    pub map_outputs: &'a MapOutputs,
    /// The next stage id to give (stage ids are unique within the driver).
    pub next_stage: &'a AtomicU64,
    /// The application's live progress.
    pub progress: &'a AppProgress,
    /// Where persisted partitions are kept.
    pub cache_locations: &'a CacheLocations,
    /// The application's accumulators.
    pub accumulators: &'a Accumulators,
    /// The host paths the application may use (sent with each task).
    pub access: &'a DataAccess,
    /// The largest result an action may bring into `main`.
    pub max_result_bytes: u64,
    /// Most shuffle bytes the application may hold on one executor.
    pub max_shuffle_memory: u64,
    /// Executors that get none of the application's tasks for a while.
    pub exclusions: &'a Exclusions,
}

/// One stage of a job while the job runs: its id, the attempt numbers and
/// commits of its partitions across rounds, the current round's finished task
/// times (for speculation), and the mean task time of all rounds (for launching
/// ahead).
pub struct Stage<'p> {
    pub id: StageId,
    pub plan: &'p StagePlan,
    attempts: Mutex<Vec<u32>>,
    /// Whether each partition's output is committed; held while it is being
    /// committed, so that a duplicate attempt finishing meanwhile waits for it.
    committed: Vec<tokio::sync::Mutex<bool>>,
    /// Partitions whose accumulator updates were applied.
    counted: Mutex<Vec<bool>>,
    /// Rounds the stage has begun in this job.
    rounds: AtomicU32,
    round_tasks: AtomicUsize,
    durations: Mutex<Vec<Duration>>,
    /// Finished tasks and their summed run time on executors, in µs.
    finished: AtomicU64,
    run_us: AtomicU64,
    /// Tasks its waiting tasks may wait behind per executor slot.
    ahead: Ahead,
}

/// How long a task sent ahead to an executor may expect to wait there behind
/// others: a stage's tasks are sent as many ahead per slot as fit in this at its
/// mean task time (at least one, at most the driver's `launch_ahead`).
const AHEAD_BUDGET: Duration = Duration::from_millis(2);

impl<'p> Stage<'p> {
    pub fn new(id: StageId, plan: &'p StagePlan) -> Self {
        let n = plan.partitions as usize;
        Stage {
            id,
            plan,
            attempts: Mutex::new(vec![0; n]),
            committed: (0..n).map(|_| tokio::sync::Mutex::new(false)).collect(),
            counted: Mutex::new(vec![false; n]),
            rounds: AtomicU32::new(0),
            round_tasks: AtomicUsize::new(0),
            durations: Mutex::default(),
            finished: AtomicU64::new(0),
            run_us: AtomicU64::new(0),
            ahead: Ahead::new(1),
        }
    }

    /// `shuffle-map`, or the action's name.
    pub fn kind(&self) -> &'static str {
        match &self.plan.output {
            StageOutput::Shuffle { .. } => "shuffle-map",
            StageOutput::Action(a) => a.name(),
        }
    }

    /// The next attempt number of `partition` (never reused within the job, so
    /// attempts' temporary files never collide).
    pub fn next_attempt(&self, partition: u32) -> u32 {
        let mut a = self.attempts.lock().expect("stage lock");
        let n = a[partition as usize];
        a[partition as usize] += 1;
        n
    }

    /// Runs `commit` for `partition` unless an attempt already committed it; a
    /// duplicate attempt that finishes while it runs waits for it.
    pub async fn commit_once<F>(&self, partition: u32, commit: impl FnOnce() -> F) -> Result<bool, DriverError>
    where
        F: Future<Output = Result<(), DriverError>>,
    {
        let mut c = self.committed[partition as usize].lock().await;
        if *c {
            return Ok(false);
        }
        commit().await?;
        *c = true;
        Ok(true)
    }

    /// Takes in what a successful task of `partition` reports: where it kept
    /// blocks, and its accumulator updates, the first time only.
    pub fn absorb(&self, ctx: &JobContext<'_>, partition: u32, result: &TaskResult) {
        ctx.cache_locations.record(result);
        let first = !std::mem::replace(&mut self.counted.lock().expect("stage lock")[partition as usize], true);
        if first {
            ctx.accumulators.apply(&result.accumulators);
        }
    }

    pub fn note_success(&self, took: Duration) {
        self.durations.lock().expect("stage lock").push(took);
        let run_us = self.run_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed) + took.as_micros() as u64;
        let finished = self.finished.fetch_add(1, Ordering::Relaxed) + 1;
        let mean_us = (run_us / finished).max(1);
        self.ahead.set(u32::try_from(AHEAD_BUDGET.as_micros() as u64 / mean_us).unwrap_or(u32::MAX).max(1));
    }

    /// Tasks a task of this stage may wait behind per executor slot: one until
    /// some have finished, then as many as fit in [`AHEAD_BUDGET`] at their mean
    /// run time (the cluster caps it at `launch_ahead`). Short tasks queue deeper
    /// (a slot then never waits a round trip for its next one); long ones queue
    /// one deep, so that at a stage's end few wait behind a running task while
    /// another executor is idle.
    pub fn tasks_ahead(&self) -> &Ahead {
        &self.ahead
    }

    /// Whether a task running for `running` is a straggler in this round.
    pub fn is_straggler(&self, running: Duration, spec: &Speculation) -> bool {
        let mut d = self.durations.lock().expect("stage lock").clone();
        let total = self.round_tasks.load(Ordering::Relaxed);
        let needed = ((spec.quantile * total as f64).ceil() as usize).max(1);
        if d.len() < needed {
            return false;
        }
        d.sort_unstable();
        let median = d[d.len() / 2];
        running > spec.min_runtime.max(median.mul_f64(spec.multiplier))
    }

    /// Whether the stage has begun a round in this job.
    pub fn has_run(&self) -> bool {
        self.rounds.load(Ordering::Relaxed) > 0
    }

    /// Starts a round of `tasks` tasks, forgetting the last round's task times;
    /// returns the round's number, from 1.
    pub fn begin_round(&self, tasks: usize) -> u32 {
        self.round_tasks.store(tasks, Ordering::Relaxed);
        self.durations.lock().expect("stage lock").clear();
        self.rounds.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The current round's number (1 the first time).
    pub fn round(&self) -> u32 {
        self.rounds.load(Ordering::Relaxed)
    }
}

/// Why a stage's round ended before all its tasks were done: shuffle input it
/// reads was lost.
#[derive(Debug, Clone)]
pub struct Lost {
    /// What the task reported, when it tried to read and failed.
    pub fetch: Option<FetchFailure>,
    pub error: String,
}
