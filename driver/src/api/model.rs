//! The JSON shapes of the driver's API and of `spindle status --json`: one set of
//! serde types, their schema published as OpenAPI (`/api/v1/openapi.json`).
//!
//! Sizes are bytes, durations milliseconds (`_us`: microseconds), times
//! milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use spindle_proto::{AppDetail, AppStatus, ClusterStatus, ExcludedExecutor, ExecutorStatus, StageProgress, TaskRecord};
use utoipa::ToSchema;

/// Executors and the applications the caller may see.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ClusterView {
    /// Live executors first, then lost and stopped ones.
    pub executors: Vec<ExecutorSummary>,
    /// Running and retained finished applications.
    pub applications: Vec<ApplicationSummary>,
}

/// One executor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ExecutorSummary {
    /// Its id, e.g. `exec-1`.
    pub id: String,
    /// Where its gRPC service listens (`local` in local mode).
    pub address: String,
    /// `alive`, `draining`, `lost` or `stopped`.
    pub state: String,
    /// Why it was lost or stopped.
    pub reason: String,
    /// Task slots.
    pub slots: u32,
    /// Tasks in its slots now.
    pub running_tasks: u32,
    /// Task attempts it finished and that failed there, since it started.
    pub tasks_finished: u64,
    /// Task attempts that failed there.
    pub tasks_failed: u64,
    /// Components it compiled, loaded compiled from disk, and fetched.
    pub artifacts_compiled: u64,
    /// Components loaded from its on-disk compiled cache.
    pub artifacts_loaded_from_disk: u64,
    /// Components fetched from the driver.
    pub artifacts_fetched: u64,
    /// Shuffle and cached blocks it holds, and their bytes.
    pub blocks: u64,
    /// Bytes of those blocks.
    pub block_bytes: u64,
    /// Resident memory of its process.
    pub memory_bytes: u64,
    /// Since the driver last heard from it.
    pub last_heartbeat_ms: u64,
    /// Persisted partitions.
    pub cache: CacheSummary,
    /// The memory manager's pools and spilling.
    pub memory: MemorySummary,
    /// Records read from task inputs.
    pub input_records: u64,
    /// Bytes of record batches written by tasks.
    pub output_bytes: u64,
    /// Broadcast values held.
    pub broadcasts: u64,
    /// Where it serves Prometheus metrics (empty: nowhere).
    pub metrics_address: String,
}

/// An executor's persisted partitions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CacheSummary {
    /// Memory persisted partitions may hold (`--cache-memory`).
    pub budget_bytes: u64,
    /// Blocks in memory.
    pub blocks_memory: u64,
    /// Blocks on disk.
    pub blocks_disk: u64,
    /// Bytes in memory.
    pub bytes_memory: u64,
    /// Bytes on disk.
    pub bytes_disk: u64,
    /// Reads that found their block.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Blocks dropped from memory to make room.
    pub evictions: u64,
}

/// An executor's memory manager (docs/memory.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MemorySummary {
    /// `--memory`.
    pub budget_bytes: u64,
    /// Held by running tasks.
    pub execution_bytes: u64,
    /// Finished map outputs in memory.
    pub shuffle_bytes: u64,
    /// Persisted partitions in memory.
    pub storage_bytes: u64,
    /// Map outputs on local disk.
    pub shuffle_bytes_disk: u64,
    /// Written to spill files since it started.
    pub spilled_bytes: u64,
    /// Spill files on disk now.
    pub spill_files: u64,
}

/// An application, as listed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApplicationSummary {
    /// Its id, e.g. `app-0001`.
    pub id: String,
    /// The submitted component's file name.
    pub name: String,
    /// Who submitted it.
    pub tenant: String,
    /// `running`, `succeeded`, `failed` or `killed`.
    pub state: String,
    /// Why it failed.
    pub error: String,
    /// When it was submitted.
    pub submitted_ms: u64,
    /// How long it ran (so far, while it runs).
    pub duration_ms: u64,
    /// Jobs it ran (one per action).
    pub jobs: u32,
    /// Task attempts that failed.
    pub tasks_failed: u32,
    /// Map stages run again because shuffle outputs were lost.
    pub stages_resubmitted: u32,
    /// Stages running now.
    pub stages: Vec<RunningStage>,
    /// Executors that get none of its tasks for a while.
    pub excluded_executors: Vec<ExcludedSummary>,
}

/// A stage running now, with its task counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RunningStage {
    /// Its job.
    pub job: u64,
    /// The stage's id.
    pub stage: u64,
    /// `shuffle-map`, or the action it performs (`collect`, `count`, ...).
    pub kind: String,
    /// Tasks in this round.
    pub tasks: u32,
    /// Finished.
    pub done: u32,
    /// In slots now.
    pub running: u32,
    /// Which round of the stage (1 the first time).
    pub attempt: u32,
    /// Written to disk by its finished tasks.
    pub spilled_bytes: u64,
}

/// An executor excluded from an application.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ExcludedSummary {
    /// The executor.
    pub executor: String,
    /// Why.
    pub reason: String,
    /// Until the exclusion ends.
    pub remaining_ms: u64,
}

/// One application with its kept task attempts (`spindle status --app`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApplicationDetail {
    /// The application.
    #[serde(flatten)]
    pub app: ApplicationSummary,
    /// Its tasks' sandbox limits.
    pub limits: LimitsSummary,
    /// Attempts not kept once its log budget was spent.
    pub tasks_dropped: u64,
    /// Task attempts that failed or printed something, oldest first.
    pub tasks: Vec<TaskAttemptLog>,
}

/// Sandbox limits of an application's tasks (0: unlimited fuel).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LimitsSummary {
    /// Linear memory.
    pub memory_bytes: u64,
    /// Wall time.
    pub wall_time_ms: u64,
    /// Fuel.
    pub fuel: u64,
    /// Output a task may write.
    pub output_bytes: u64,
}

/// A kept task attempt and its log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TaskAttemptLog {
    /// Its job.
    pub job: u64,
    /// Its stage.
    pub stage: u64,
    /// Its partition.
    pub partition: u32,
    /// Its attempt (0 the first time).
    pub attempt: u32,
    /// Where it ran.
    pub executor: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it failed (`guest-error`, `trap`, `executor-lost`, ...).
    pub failure_kind: String,
    /// The error.
    pub error: String,
    /// How long it ran.
    pub duration_us: u64,
    /// Bytes of its log.
    pub log_bytes: u64,
    /// What it printed.
    pub logs: String,
}

/// A job: the work of one action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JobData {
    /// Its id within the application.
    pub job_id: u64,
    /// The action (`collect`, `save-as-text-file`, ...).
    pub action: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// Why it failed.
    pub error: String,
    /// When it started.
    pub submitted_ms: u64,
    /// How long it ran (0 while it runs).
    pub duration_ms: u64,
    /// Its stages, in the order they started.
    pub stage_ids: Vec<u64>,
    /// Task attempts started, finished and failed.
    pub tasks: u32,
    /// Task attempts that succeeded.
    pub tasks_succeeded: u32,
    /// Task attempts that failed.
    pub tasks_failed: u32,
}

/// A stage: tasks running the same op chain over different partitions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StageData {
    /// Its id within the application.
    pub stage_id: u64,
    /// Its job.
    pub job_id: u64,
    /// `shuffle-map`, or the action it performs.
    pub kind: String,
    /// `running`, `complete` or `failed`.
    pub state: String,
    /// Rounds run (more than 1 when lost outputs were recomputed).
    pub attempts: u32,
    /// Tasks in its last round.
    pub tasks: u32,
    /// Task attempts that succeeded, failed, and are running now.
    pub tasks_succeeded: u32,
    /// Task attempts that failed.
    pub tasks_failed: u32,
    /// Tasks in slots now.
    pub tasks_running: u32,
    /// When its first round started.
    pub submitted_ms: u64,
    /// From its first round's start to its last round's end (0 while it runs).
    pub duration_ms: u64,
    /// Records its succeeded tasks read.
    pub records_in: u64,
    /// Records they wrote.
    pub records_out: u64,
    /// Bytes of shuffle output they wrote.
    pub shuffle_write_bytes: u64,
    /// Bytes they spilled to disk.
    pub spilled_bytes: u64,
    /// Quantiles of its succeeded tasks' metrics.
    pub summary: TaskMetricsSummary,
}

/// Quantiles of task metrics over a stage's succeeded attempts, as Spark's
/// `taskSummary`: each list has one value per entry of `quantiles`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TaskMetricsSummary {
    /// The quantiles: 0, 0.25, 0.5, 0.75, 1.
    pub quantiles: Vec<f64>,
    /// Task durations, ms.
    pub duration_ms: Vec<f64>,
    /// Records read.
    pub records_in: Vec<f64>,
    /// Records written.
    pub records_out: Vec<f64>,
    /// Shuffle bytes written.
    pub shuffle_write_bytes: Vec<f64>,
    /// Bytes spilled.
    pub spilled_bytes: Vec<f64>,
}

/// One task attempt of a stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TaskData {
    /// Its partition.
    pub partition: u32,
    /// Its attempt (0 the first time).
    pub attempt: u32,
    /// Its stage's round.
    pub stage_attempt: u32,
    /// Where it ran.
    pub executor: String,
    /// `succeeded` or `failed`.
    pub state: String,
    /// Why it failed (`guest-error`, `trap`, `executor-lost`, ...).
    pub failure_kind: String,
    /// The first line of its error.
    pub error: String,
    /// When it ended.
    pub finished_ms: u64,
    /// How long it ran on the executor.
    pub duration_ms: f64,
    /// Records read.
    pub records_in: u64,
    /// Records written.
    pub records_out: u64,
    /// Shuffle bytes written.
    pub shuffle_write_bytes: u64,
    /// Bytes spilled.
    pub spilled_bytes: u64,
    /// Whether its input came from a kept partition.
    pub cache_hit: bool,
}

/// The answer to a kill request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct KillResult {
    /// False when the application had already finished.
    pub killed: bool,
    /// Its state after the request.
    pub state: String,
}

/// The kept (persisted) partitions of one dataset of a running application,
/// as executors reported them when they stored them (an executor may have
/// dropped some since, to make room: those are recomputed when read).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DatasetStorage {
    /// The dataset's id within its application.
    pub dataset: u32,
    /// The storage level it was persisted with: `memory-only`, `memory-and-disk`, `disk-only`.
    pub level: String,
    /// Partitions of it kept somewhere.
    pub partitions: u64,
    /// Blocks kept (a partition read in several pieces is several blocks).
    pub blocks: u64,
    /// Bytes of the kept records.
    pub bytes: u64,
    /// The executors holding them.
    pub executors: Vec<String>,
}

/// One setting of the driver's effective configuration (secrets redacted).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ConfigEntry {
    /// Its key, as in the config file (a key may repeat: one per tenant or store).
    pub key: String,
    /// Its value.
    pub value: String,
}

/// An error answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// What went wrong and what to do.
    pub error: String,
}

impl From<&ExecutorStatus> for ExecutorSummary {
    fn from(e: &ExecutorStatus) -> Self {
        ExecutorSummary {
            id: e.executor_id.clone(),
            address: e.address.clone(),
            state: e.state().label().into(),
            reason: e.reason.clone(),
            slots: e.slots,
            running_tasks: e.running_tasks,
            tasks_finished: e.tasks_finished,
            tasks_failed: e.tasks_failed,
            artifacts_compiled: e.artifacts_compiled,
            artifacts_loaded_from_disk: e.artifacts_loaded_from_disk,
            artifacts_fetched: e.artifacts_fetched,
            blocks: e.blocks,
            block_bytes: e.block_bytes,
            memory_bytes: e.memory_bytes,
            last_heartbeat_ms: e.last_heartbeat_ms,
            cache: CacheSummary {
                budget_bytes: e.cache_budget_bytes,
                blocks_memory: e.cache_blocks_memory,
                blocks_disk: e.cache_blocks_disk,
                bytes_memory: e.cache_bytes_memory,
                bytes_disk: e.cache_bytes_disk,
                hits: e.cache_hits,
                misses: e.cache_misses,
                evictions: e.cache_evictions,
            },
            memory: MemorySummary {
                budget_bytes: e.memory_budget,
                execution_bytes: e.memory_execution,
                shuffle_bytes: e.memory_shuffle,
                storage_bytes: e.memory_storage,
                shuffle_bytes_disk: e.shuffle_bytes_disk,
                spilled_bytes: e.spilled_bytes,
                spill_files: e.spill_files,
            },
            input_records: e.input_records,
            output_bytes: e.output_bytes,
            broadcasts: e.broadcasts,
            metrics_address: e.metrics_address.clone(),
        }
    }
}

impl From<&StageProgress> for RunningStage {
    fn from(s: &StageProgress) -> Self {
        RunningStage {
            job: s.job_id,
            stage: s.stage_id,
            kind: s.kind.clone(),
            tasks: s.tasks,
            done: s.done,
            running: s.running,
            attempt: s.attempt,
            spilled_bytes: s.spilled_bytes,
        }
    }
}

impl From<&ExcludedExecutor> for ExcludedSummary {
    fn from(x: &ExcludedExecutor) -> Self {
        ExcludedSummary { executor: x.executor_id.clone(), reason: x.reason.clone(), remaining_ms: x.remaining_ms }
    }
}

impl From<&AppStatus> for ApplicationSummary {
    fn from(a: &AppStatus) -> Self {
        ApplicationSummary {
            id: a.app_id.clone(),
            name: a.name.clone(),
            tenant: a.tenant.clone(),
            state: a.state().label().into(),
            error: a.error.clone(),
            submitted_ms: a.submitted_ms,
            duration_ms: a.duration_ms,
            jobs: a.jobs,
            tasks_failed: a.tasks_failed,
            stages_resubmitted: a.stages_resubmitted,
            stages: a.stages.iter().map(Into::into).collect(),
            excluded_executors: a.excluded_executors.iter().map(Into::into).collect(),
        }
    }
}

impl From<&ClusterStatus> for ClusterView {
    fn from(s: &ClusterStatus) -> Self {
        ClusterView {
            executors: s.executors.iter().map(Into::into).collect(),
            applications: s.applications.iter().map(Into::into).collect(),
        }
    }
}

impl From<&TaskRecord> for TaskAttemptLog {
    fn from(t: &TaskRecord) -> Self {
        TaskAttemptLog {
            job: t.job_id,
            stage: t.stage_id,
            partition: t.partition,
            attempt: t.attempt,
            executor: t.executor_id.clone(),
            ok: t.ok,
            failure_kind: t.failure_kind().label().into(),
            error: t.error.clone(),
            duration_us: t.duration_us,
            log_bytes: t.logs.len() as u64,
            logs: String::from_utf8_lossy(&t.logs).into_owned(),
        }
    }
}

impl From<&AppDetail> for ApplicationDetail {
    fn from(d: &AppDetail) -> Self {
        let app = d.app.clone().unwrap_or_default();
        let limits = app.limits.unwrap_or_default();
        ApplicationDetail {
            app: (&app).into(),
            limits: LimitsSummary {
                memory_bytes: limits.memory_bytes,
                wall_time_ms: limits.wall_time_ms,
                fuel: limits.fuel,
                output_bytes: limits.output_bytes,
            },
            tasks_dropped: d.tasks_dropped,
            tasks: d.tasks.iter().map(Into::into).collect(),
        }
    }
}
