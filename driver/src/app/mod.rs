//! One application: its state across jobs, and its `main` running in a sandbox.
//!
//! - [`context`]: the host side of the `context` interface `main` imports.
//! - [`shared`]: broadcast values and accumulators.

mod context;
mod range_bounds;
pub mod shared;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use spindle_proto::ids::{AppId, JobId};
use spindle_proto::{AppEvent, AppFinished, JobDone, MainOutput, Progress, TaskLimits, app_event};
use spindle_sandbox::{
    ArtifactHash, CapturedOutput, CompiledArtifact, Failure, Limiter, SandboxLimits, arm, sandbox_wasi,
    within_wall_time,
};
use tokio::sync::mpsc::UnboundedSender;
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::access::DataAccess;
use crate::api::Event;
use crate::cluster::SlotClaim;
use crate::scheduler::cache_locations::CacheLocations;
use crate::scheduler::dag::{Action, plan_job};
use crate::scheduler::exclusions::Exclusions;
use crate::scheduler::lineage::{Lineage, NodeId};
use crate::scheduler::map_outputs::MapOutputs;
use crate::scheduler::progress::AppProgress;
use crate::scheduler::tasks::{ActionOutput, JobContext, run_job};
use crate::tenants::AppRules;
use crate::{Driver, DriverError};
use shared::{Accumulators, Broadcasts};

/// What an application shares with its record on the driver (for status and
/// for executors asking for broadcast values).
pub struct SharedWithRecord {
    /// Its jobs' and stages' progress.
    pub progress: Arc<AppProgress>,
    /// Its broadcast values, which tasks fetch.
    pub broadcasts: Arc<Broadcasts>,
    /// The executors its tasks avoid.
    pub exclusions: Arc<Exclusions>,
    /// Where its kept partitions are.
    pub cache_locations: Arc<CacheLocations>,
}

/// Application-wide state, shared by `main`'s host calls and its jobs.
pub struct AppCtx {
    /// The application's id.
    pub id: AppId,
    /// Its component.
    pub artifact: ArtifactHash,
    pub(crate) driver: Arc<Driver>,
    /// Limits of its tasks.
    pub limits: TaskLimits,
    /// Its tenant's claim on slots.
    pub claim: SlotClaim,
    /// The host paths it may read and write.
    pub(crate) access: DataAccess,
    /// What it may build and hold.
    pub(crate) rules: AppRules,
    pub(crate) lineage: Mutex<Lineage>,
    map_outputs: MapOutputs,
    pub(crate) cache_locations: Arc<CacheLocations>,
    /// Broadcast values, served to executors.
    pub broadcasts: Arc<Broadcasts>,
    pub(crate) accumulators: Accumulators,
    progress: Arc<AppProgress>,
    /// Executors that get none of its tasks for a while.
    exclusions: Arc<Exclusions>,
    next_stage: AtomicU64,
    next_job: AtomicU64,
    events: UnboundedSender<AppEvent>,
}

impl AppCtx {
    #[expect(clippy::too_many_arguments, reason = "one call site, each value its own field")]
    pub(crate) fn new(
        id: AppId,
        artifact: ArtifactHash,
        driver: Arc<Driver>,
        events: UnboundedSender<AppEvent>,
        limits: TaskLimits,
        claim: SlotClaim,
        shared: SharedWithRecord,
        access: DataAccess,
        rules: AppRules,
    ) -> Self {
        let SharedWithRecord { progress, broadcasts, exclusions, cache_locations } = shared;
        AppCtx {
            id,
            artifact,
            driver,
            limits,
            claim,
            access,
            rules,
            lineage: Mutex::default(),
            map_outputs: MapOutputs::default(),
            cache_locations,
            broadcasts,
            accumulators: Accumulators::default(),
            progress,
            exclusions,
            next_stage: AtomicU64::new(0),
            next_job: AtomicU64::new(0),
            events,
        }
    }

    /// The largest result an action may bring into `main`: the driver's limit,
    /// and no more than `main` may hold (its memory limit, which is also within
    /// the application's task memory).
    fn max_result_bytes(&self) -> u64 {
        let config = &self.driver.config;
        let main_memory = (config.main_limits.memory_bytes as u64).min(match self.limits.memory_bytes {
            0 => u64::MAX,
            n => n,
        });
        config.max_result_bytes.min(main_memory)
    }

    /// Runs the job for `action` on dataset `node`; blocks the calling `main` until done.
    pub(crate) async fn run_action(&self, node: NodeId, action: Action) -> Result<ActionOutput, DriverError> {
        let plan = plan_job(&self.lineage.lock().expect("lineage lock"), node, action.clone());
        let job = JobId(self.next_job.fetch_add(1, Ordering::Relaxed));
        let ctx = JobContext {
            driver: &self.driver,
            limits: &self.limits,
            claim: &self.claim,
            cluster: &self.driver.cluster,
            config: &self.driver.config,
            app: &self.id,
            artifact: self.artifact,
            job,
            map_outputs: &self.map_outputs,
            next_stage: &self.next_stage,
            progress: &self.progress,
            cache_locations: &self.cache_locations,
            accumulators: &self.accumulators,
            access: &self.access,
            max_result_bytes: self.max_result_bytes(),
            max_shuffle_memory: self.rules.max_shuffle_memory,
            exclusions: &self.exclusions,
        };
        let started = Instant::now();
        tracing::info!(app = %self.id, %job, action = action.name(), "job started");
        let now_ms = crate::api::history::now_ms;
        self.driver
            .record_event(&self.id, Event::JobStart { job: job.0, action: action.name().into(), time_ms: now_ms() });
        let outcome = run_job(&ctx, &plan).await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        crate::metrics::job_finished(error.is_none());
        self.driver.record_event(&self.id, Event::JobEnd { job: job.0, time_ms: now_ms(), error });
        let (output, stats) = outcome?;
        self.driver.note_job(&self.id);
        let _ = self.events.send(AppEvent {
            event: Some(app_event::Event::JobDone(JobDone {
                job_id: job.0,
                action: action.name().into(),
                stages: stats.stages,
                tasks: stats.tasks,
                spilled_bytes: stats.spilled_bytes,
                duration_us: started.elapsed().as_micros() as u64,
            })),
        });
        Ok(output)
    }
}

/// The store data of a sandboxed `main`.
pub struct AppState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    app: Arc<AppCtx>,
}

impl WasiView for AppState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Adds WASI and the job world's imports (driver side) to the linker.
pub fn add_to_linker(linker: &mut Linker<AppState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    spindle_sandbox::bindings::Job::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// How often a running application's client hears of new output and progress.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Tells the client what `main` printed and which stages run, as they change,
/// until aborted (or the client is gone). The final event carries all of the
/// output again, so a client that missed these misses nothing.
async fn watch(events: UnboundedSender<AppEvent>, progress: Arc<AppProgress>, captured: CapturedOutput) {
    let (mut out, mut err) = (0, 0);
    let mut last: Vec<spindle_proto::StageProgress> = Vec::new();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (stdout, stderr) = captured.since(out, err);
        out += stdout.len();
        err += stderr.len();
        let mut sent = true;
        if !stdout.is_empty() || !stderr.is_empty() {
            let output = MainOutput { stdout, stderr };
            sent &= events.send(AppEvent { event: Some(app_event::Event::Output(output)) }).is_ok();
        }
        let stages = progress.stages();
        if stages != last {
            let event = app_event::Event::Progress(Progress { stages: stages.clone() });
            sent &= events.send(AppEvent { event: Some(event) }).is_ok();
            last = stages;
        }
        if !sent {
            return;
        }
    }
}

/// Runs `main(args)` to completion within `limits` and reports how it ended.
pub(crate) async fn run_main(
    app: Arc<AppCtx>,
    artifact: Arc<CompiledArtifact<AppState>>,
    args: Vec<String>,
    limits: SandboxLimits,
) -> AppFinished {
    let started = Instant::now();
    let driver = app.driver.clone();
    let (wasi, captured) = sandbox_wasi(&limits);
    let watcher = tokio::spawn(watch(app.events.clone(), app.progress.clone(), captured.clone()));
    let state = AppState { wasi, table: ResourceTable::new(), limiter: limits.limiter(), app };
    let mut store = Store::new(driver.engine(), state);
    store.limiter(|s| &mut s.limiter);
    let error = match arm(&mut store, &limits, driver.config.engine.fuel) {
        Err(e) => Some(e.to_string()),
        Ok(()) => {
            let call = async {
                let job = artifact.pre.instantiate_async(&mut store).await?;
                job.spindle_job_app().call_run(&mut store, &args).await
            };
            let stack = driver.config.engine.max_wasm_stack;
            match within_wall_time(&limits, call).await {
                Ok(Ok(Ok(()))) => None,
                // `main` reports job failures itself, already worded for the user.
                Ok(Ok(Err(msg))) => Some(msg),
                Err(hit) => Some(format!("main: {}", Failure::Limit(hit))),
                Ok(Err(trap)) => {
                    let failure = Failure::from_wasmtime(&trap, store.data().limiter.hit(), &limits, stack);
                    Some(format!("main: {failure}"))
                }
            }
        }
    };
    watcher.abort();
    AppFinished {
        succeeded: error.is_none(),
        error: error.unwrap_or_default(),
        stdout: captured.stdout(),
        stderr: captured.stderr(),
        duration_us: started.elapsed().as_micros() as u64,
    }
}
