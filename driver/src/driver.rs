//! The driver's long-lived state and application submission.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::auth::Credentials;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{
    AppAccepted, AppDetail, AppFinished, AppStatus, ApplicationState, ClusterStatus, ExecutorState, ExecutorStatus,
    TaskLimits, TaskRecord, UnpersistRequest, app_event,
};
use spindle_sandbox::{ArtifactHash, CompiledArtifact, new_engine};
use tokio::sync::{Notify, mpsc, watch};
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use spindle_proto::AppEvent;

use crate::access::DataAccess;
use crate::api::history::AppEnd;
use crate::api::model::{DatasetStorage, JobData, StageData, TaskData};
use crate::api::{AppHistory, Event};
use crate::app::shared::Broadcasts;
use crate::app::{self, AppCtx, AppState, SharedWithRecord};
use crate::artifacts::{ArtifactPin, ArtifactStore};
use crate::cluster::{Cluster, Membership, SlotClaim};
use crate::history::event_log::AppLog;
use crate::scheduler::cache_locations::CacheLocations;
use crate::scheduler::exclusions::Exclusions;
use crate::scheduler::progress::AppProgress;
use crate::tenants::{Tenant, Tenants};
use crate::{DriverConfig, DriverError};

/// How long an application's end waits for executors to free its blocks.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

struct AppRecord {
    name: String,
    tenant: String,
    limits: TaskLimits,
    state: ApplicationState,
    error: String,
    jobs: u32,
    tasks_failed: u32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Failed attempts and attempts that printed something.
    tasks: Vec<TaskRecord>,
    log_bytes: usize,
    tasks_dropped: u64,
    progress: Arc<AppProgress>,
    /// Stops the application with a reason (while it runs).
    cancel: Option<watch::Sender<Option<String>>>,
    /// Its broadcast values, served to executors while it runs.
    broadcasts: Arc<Broadcasts>,
    /// Executors excluded from it.
    exclusions: Arc<Exclusions>,
    /// Where its kept partitions are, while it runs.
    cache_locations: Arc<CacheLocations>,
    /// When it finished (kept until `application_retention` after).
    finished_at: Option<std::time::Instant>,
    /// Set by [`Driver::kill`]: it ends as killed, not failed.
    killed: bool,
    /// When it was submitted (ms since the Unix epoch, and on this clock).
    submitted_ms: u64,
    started: std::time::Instant,
    /// How long it ran, once it finished.
    duration_ms: Option<u64>,
    /// Its jobs, stages and tasks.
    history: AppHistory,
    /// Its event log, while it runs (with `event_log_dir`).
    log: Option<AppLog>,
}

impl AppRecord {
    /// Appends `event` to its event log; a log that fails is closed, with a warning.
    fn log(&mut self, event: &Event) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.append(event)
        {
            tracing::warn!(error = %e, name = %self.name, "the event log failed: no more events are logged for it");
            self.log = None;
        }
    }

    /// Its end, for the event log.
    fn end(&self) -> Event {
        Event::AppEnd(Box::new(AppEnd {
            time_ms: crate::api::history::now_ms(),
            state: self.state.label().into(),
            error: self.error.clone(),
            duration_ms: self.duration_ms.unwrap_or_default(),
            jobs: self.jobs,
            tasks_failed: self.tasks_failed,
            stages_resubmitted: self.progress.resubmitted(),
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
            tasks: self.tasks.iter().map(Into::into).collect(),
            tasks_dropped: self.tasks_dropped,
        }))
    }
}

impl AppRecord {
    fn status(&self, id: &AppId) -> AppStatus {
        AppStatus {
            app_id: id.0.clone(),
            name: self.name.clone(),
            state: self.state.into(),
            error: self.error.clone(),
            jobs: self.jobs,
            tenant: self.tenant.clone(),
            limits: Some(self.limits),
            tasks_failed: self.tasks_failed,
            stages: self.progress.stages(),
            stages_resubmitted: self.progress.resubmitted(),
            excluded_executors: self.exclusions.status(),
            submitted_ms: self.submitted_ms,
            duration_ms: self.duration_ms.unwrap_or_else(|| self.started.elapsed().as_millis() as u64),
        }
    }
}

/// The driver: one per cluster, serving many applications.
pub struct Driver {
    /// Settings.
    pub config: DriverConfig,
    /// Registered executors and their slots.
    pub cluster: Arc<Cluster>,
    /// Submitted components.
    pub artifacts: Arc<ArtifactStore>,
    /// Who may submit, and their quotas.
    pub tenants: Tenants,
    /// What the driver presents to executors (the cluster secret).
    pub(crate) credentials: Credentials,
    engine: Engine,
    linker: Arc<Linker<AppState>>,
    compiled_cache_dir: Option<PathBuf>,
    compiled: Mutex<HashMap<ArtifactHash, Arc<CompiledArtifact<AppState>>>>,
    /// Turns to compile: two at a time.
    compiles: Arc<tokio::sync::Semaphore>,
    apps: Mutex<BTreeMap<AppId, AppRecord>>,
    /// Signalled whenever an application finishes.
    app_finished: Notify,
    next_app: AtomicU64,
}

impl Driver {
    /// A driver with no executors yet; compiled components are cached in
    /// `compiled_cache_dir` when given. Starts the executor liveness monitor, so
    /// it must be called within a tokio runtime.
    pub fn new(config: DriverConfig, compiled_cache_dir: Option<PathBuf>) -> Result<Arc<Self>, DriverError> {
        let mut engine_config = config.engine.clone();
        engine_config.pool_max_memory = config.main_limits.memory_bytes;
        let engine = new_engine(&engine_config)?;
        let mut linker = Linker::new(&engine);
        app::add_to_linker(&mut linker)
            .map_err(|e| spindle_sandbox::SandboxError::Engine(format!("linking the job world: {e:#}")))?;
        if !config.tenants.is_empty() && config.secret.is_none() {
            return Err(DriverError::Config(
                "tenants are configured but no cluster secret is: any process could join as an executor and \
                 receive their tasks; set SPINDLE_SECRET or `secret` in the config file"
                    .into(),
            ));
        }
        let credentials =
            Credentials::cluster(config.secret.as_deref()).map_err(|e| DriverError::Config(e.to_string()))?;
        let cluster = Arc::new(Cluster::with_launch_ahead(config.liveness, config.effective_launch_ahead()));
        cluster.spawn_monitor();
        if let Some(dir) = &config.event_log_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                DriverError::Config(format!("event log directory {}: {e}; create it or choose another", dir.display()))
            })?;
        }
        let driver = Arc::new(Driver {
            tenants: Tenants::new(&config.tenants),
            credentials,
            artifacts: ArtifactStore::new(config.component_budget),
            config,
            cluster,
            engine,
            linker: Arc::new(linker),
            compiled_cache_dir,
            compiled: Mutex::default(),
            compiles: Arc::new(tokio::sync::Semaphore::new(2)),
            apps: Mutex::default(),
            app_finished: Notify::new(),
            next_app: AtomicU64::new(1),
        });
        driver.log_membership();
        Ok(driver)
    }

    /// A broadcast value of a running application, for an executor.
    pub fn broadcast(&self, app: &AppId, id: u64) -> Result<Bytes, DriverError> {
        let apps = self.apps.lock().expect("apps lock");
        let record = apps.get(app).ok_or_else(|| DriverError::UnknownBroadcast { app: app.0.clone(), id })?;
        record.broadcasts.get(id).ok_or_else(|| DriverError::UnknownBroadcast { app: app.0.clone(), id })
    }

    /// Tells every executor to drop a persisted dataset's blocks or a broadcast
    /// value of `app`, in the background.
    pub(crate) fn unpersist_everywhere(&self, req: UnpersistRequest) {
        for e in self.cluster.executors() {
            let req = req.clone();
            tokio::spawn(async move { e.handle.unpersist(req).await });
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn note_job(&self, app: &AppId) {
        if let Some(r) = self.apps.lock().expect("apps lock").get_mut(app) {
            r.jobs += 1;
        }
    }

    /// Folds what `app`'s scheduler did into its history.
    pub(crate) fn record_event(&self, app: &AppId, event: Event) {
        if let Some(r) = self.apps.lock().expect("apps lock").get_mut(app) {
            r.log(&event);
            r.history.apply(event);
        }
    }

    /// Logs executors joining and leaving in the event log of every running
    /// application, for as long as the driver lives.
    fn log_membership(self: &Arc<Self>) {
        let mut membership = self.cluster.membership();
        let driver = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let m = match membership.recv().await {
                    Ok(m) => m,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(driver) = driver.upgrade() else { return };
                let time_ms = crate::api::history::now_ms();
                let event = match m {
                    Membership::Added { executor, address, slots } => {
                        Event::ExecutorAdded { executor, address, slots, time_ms }
                    }
                    Membership::Removed { executor, address, state, reason } => {
                        Event::ExecutorRemoved { executor, address, state, reason, time_ms }
                    }
                };
                for r in driver.apps.lock().expect("apps lock").values_mut().filter(|r| r.cancel.is_some()) {
                    r.log(&event);
                }
            }
        });
    }

    /// Reads one application `viewer` may see.
    fn with_app<T>(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        f: impl FnOnce(&AppRecord) -> T,
    ) -> Result<T, DriverError> {
        let apps = self.apps.lock().expect("apps lock");
        let r = apps.get(id).filter(|r| self.may_see(viewer, r)).ok_or_else(|| DriverError::unknown_app(id, viewer))?;
        Ok(f(r))
    }

    /// An application's jobs, oldest first.
    pub fn jobs(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<JobData>, DriverError> {
        self.with_app(viewer, id, |r| r.history.jobs())
    }

    /// An application's kept partitions, by dataset.
    pub fn storage(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<DatasetStorage>, DriverError> {
        self.with_app(viewer, id, |r| r.cache_locations.summary())
    }

    /// One job of an application.
    pub fn job(&self, viewer: Option<&Tenant>, id: &AppId, job: u64) -> Result<Option<JobData>, DriverError> {
        self.with_app(viewer, id, |r| r.history.job(job))
    }

    /// An application's stages, oldest first.
    pub fn stages(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<StageData>, DriverError> {
        self.with_app(viewer, id, |r| r.history.stages(&r.progress.stages()))
    }

    /// One stage of an application, with its kept task attempts.
    pub fn stage(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        stage: u64,
    ) -> Result<Option<(StageData, Vec<TaskData>)>, DriverError> {
        self.with_app(viewer, id, |r| r.history.stage(stage, &r.progress.stages()))
    }

    /// Keeps a task attempt for `spindle status`/`spindle logs` when it failed or
    /// printed something, within the application's log budget.
    pub(crate) fn record_task(&self, app: &AppId, rec: TaskRecord) {
        if rec.ok && rec.logs.is_empty() {
            return;
        }
        let mut apps = self.apps.lock().expect("apps lock");
        let Some(r) = apps.get_mut(app) else { return };
        if !rec.ok {
            r.tasks_failed += 1;
        }
        let size = rec.logs.len() + rec.error.len();
        if r.log_bytes + size > self.config.app_log_bytes {
            r.tasks_dropped += 1;
            return;
        }
        r.log_bytes += size;
        r.tasks.push(rec);
    }

    /// Validates, stores and compiles (or finds) a component of at most
    /// `max_bytes`, and pins it for one application. Also returns how long
    /// compiling it took, in µs (0 when it was already compiled, in memory or on disk).
    async fn prepare(
        &self,
        bytes: Bytes,
        what: String,
        max_bytes: usize,
    ) -> Result<(Arc<CompiledArtifact<AppState>>, u64, ArtifactPin), DriverError> {
        spindle_sandbox::artifact::check_header(&what, &bytes, max_bytes)?;
        let hash = ArtifactHash::of(&bytes);
        let known = self.compiled.lock().expect("compiled lock").get(&hash).cloned();
        if let Some(c) = known
            && let Some(pin) = self.artifacts.pin(&hash)
        {
            return Ok((c, 0, pin));
        }
        // Its imports and exports are read before anything is compiled or kept.
        spindle_sandbox::artifact::check_world(&what, &bytes)?;
        // Compiles take both cores and up to gigabytes: at most two at a time. The
        // turn is held until the compile really ends, even past its deadline.
        let turn = self
            .compiles
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| DriverError::Job(format!("compile queue closed: {e}")))?;
        let started = std::time::Instant::now();
        let engine = self.engine.clone();
        let linker = self.linker.clone();
        let dir = self.compiled_cache_dir.clone();
        let component = bytes.clone();
        let name = what.clone();
        let compile = tokio::task::spawn_blocking(move || {
            let prepared = CompiledArtifact::prepare(&engine, &linker, &name, hash, &component, dir.as_deref());
            drop(turn);
            prepared
        });
        let deadline = self.config.compile_timeout;
        let prepared = tokio::time::timeout(deadline, compile)
            .await
            .map_err(|_| {
                tracing::warn!(artifact = %hash, ?deadline, "compile deadline passed: submission refused");
                DriverError::Refused(format!(
                    "{what} did not compile within {} (compile_timeout); make it smaller",
                    spindle_sandbox::limits::duration(deadline)
                ))
            })?
            .map_err(|e| DriverError::Job(format!("compile task failed: {e}")))??;
        // Only a component that compiled and links into the job world is kept.
        let (pin, evicted) = self.artifacts.put_pinned(hash, bytes);
        let compile_us = match prepared.source {
            spindle_sandbox::CompileSource::Compiled => started.elapsed().as_micros() as u64,
            spindle_sandbox::CompileSource::Disk => 0,
        };
        let prepared = Arc::new(prepared);
        let mut compiled = self.compiled.lock().expect("compiled lock");
        for h in &evicted {
            compiled.remove(h);
        }
        compiled.insert(hash, prepared.clone());
        Ok((prepared, compile_us, pin))
    }

    /// Forgets finished applications past `retained_applications` (oldest first)
    /// or older than `application_retention`.
    fn prune_finished(&self) {
        let mut apps = self.apps.lock().expect("apps lock");
        let mut finished: Vec<(std::time::Instant, AppId)> =
            apps.iter().filter_map(|(id, r)| r.finished_at.map(|t| (t, id.clone()))).collect();
        finished.sort();
        let over = finished.len().saturating_sub(self.config.retained_applications);
        for (i, (at, id)) in finished.into_iter().enumerate() {
            if i < over || at.elapsed() > self.config.application_retention {
                apps.remove(&id);
            }
        }
    }

    /// Validates and stores a component, then runs its `main(args)` in the
    /// background for `tenant`, its tasks within `limits` (unset: the defaults).
    /// The returned stream starts with `accepted` and ends with `finished`. An
    /// invalid component, limits over the tenant's maximum or a full application
    /// quota are refused here, before any event.
    pub async fn submit(
        self: &Arc<Self>,
        tenant: Arc<Tenant>,
        component: Bytes,
        args: Vec<String>,
        name: String,
        limits: Option<TaskLimits>,
    ) -> Result<mpsc::UnboundedReceiver<AppEvent>, DriverError> {
        let what = if name.is_empty() { "the submitted component".to_string() } else { format!("component `{name}`") };
        let asked_memory = limits.as_ref().map_or(0, |l| l.memory_bytes);
        let limits = tenant.task_limits(limits.as_ref(), &self.config.task_limits)?;
        self.check_executors_give(asked_memory)?;
        let quota = tenant.start_app()?;
        let rules = tenant.rules(&self.config);
        let (artifact, compile_us, pin) = self.prepare(component, what, rules.max_component_bytes).await?;
        crate::metrics::component_prepared(compile_us);
        crate::metrics::app_submitted();
        self.prune_finished();
        let id = AppId(format!("app-{:04}", self.next_app.fetch_add(1, Ordering::Relaxed)));
        let progress = Arc::new(AppProgress::default());
        let cache_locations = Arc::new(CacheLocations::default());
        let (cancel, mut cancelled) = watch::channel(None);
        let broadcasts = Arc::new(Broadcasts::default());
        let excluded = Arc::new(crate::cluster::Excluded::default());
        let exclusions = Arc::new(Exclusions::new(self.config.exclude_on_failure, excluded.clone()));
        let mut record = AppRecord {
            name: name.clone(),
            tenant: tenant.name().to_string(),
            limits,
            state: ApplicationState::Running,
            error: String::new(),
            jobs: 0,
            tasks_failed: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            tasks: Vec::new(),
            log_bytes: 0,
            tasks_dropped: 0,
            progress: progress.clone(),
            cancel: Some(cancel),
            broadcasts: broadcasts.clone(),
            exclusions: exclusions.clone(),
            cache_locations: cache_locations.clone(),
            finished_at: None,
            killed: false,
            submitted_ms: crate::api::history::now_ms(),
            started: std::time::Instant::now(),
            duration_ms: None,
            history: AppHistory::default(),
            log: None,
        };
        if let Some(dir) = &self.config.event_log_dir {
            match AppLog::create(dir, &id.0, record.submitted_ms, self.config.event_log_rotate_bytes) {
                Ok(log) => record.log = Some(log),
                Err(e) => tracing::warn!(app = %id, dir = %dir.display(), error = %e, "cannot start the event log"),
            }
        }
        record.log(&Event::AppStart {
            app: id.0.clone(),
            name: name.clone(),
            tenant: tenant.name().to_string(),
            submitted_ms: record.submitted_ms,
            limits: crate::api::model::LimitsSummary {
                memory_bytes: limits.memory_bytes,
                wall_time_ms: limits.wall_time_ms,
                fuel: limits.fuel,
                output_bytes: limits.output_bytes,
            },
        });
        // The executors it starts with, as if they joined (as the history
        // server learns of executors from the log alone).
        for e in self.cluster.executors() {
            let time_ms = record.submitted_ms;
            record.log(&Event::ExecutorAdded {
                executor: e.id.to_string(),
                address: e.address,
                slots: e.slots,
                time_ms,
            });
        }
        self.apps.lock().expect("apps lock").insert(id.clone(), record);
        let shared = SharedWithRecord { progress, broadcasts, exclusions, cache_locations };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(AppEvent {
            event: Some(app_event::Event::Accepted(AppAccepted {
                app_id: id.0.clone(),
                artifact: artifact.hash.to_string(),
                compile_us,
            })),
        });
        tracing::info!(app = %id, tenant = tenant.name(), artifact = %artifact.hash, %name, "application accepted");
        let driver = self.clone();
        let access = if self.tenants.configured() {
            let engine: Vec<PathBuf> =
                self.config.config_files.iter().chain(&self.compiled_cache_dir).cloned().collect();
            DataAccess::roots(tenant.name(), &tenant.config.roots, &engine, tenant.config.locations.clone())
        } else {
            DataAccess::open(crate::stores::open_grants(&self.config.stores))
        };
        let claim = SlotClaim {
            tenant: tenant.name().to_string(),
            weight: tenant.config.weight,
            max_slots: tenant.config.max_slots,
            excluded,
        };
        let mut main_limits = self.config.main_limits.clone();
        main_limits.memory_bytes = main_limits.memory_bytes.min(limits.memory_bytes as usize);
        tokio::spawn(async move {
            let app = Arc::new(AppCtx::new(
                id.clone(),
                artifact.hash,
                driver.clone(),
                tx.clone(),
                limits,
                claim,
                shared,
                access,
                rules,
            ));
            let started = std::time::Instant::now();
            let finished = tokio::select! {
                f = app::run_main(app, artifact, args, main_limits) => f,
                reason = cancelled.wait_for(Option::is_some) => AppFinished {
                    succeeded: false,
                    error: reason.map(|r| r.clone().unwrap_or_default()).unwrap_or_default(),
                    duration_us: started.elapsed().as_micros() as u64,
                    ..Default::default()
                },
            };
            // Free its blocks and cancel its tasks everywhere at once. The client
            // hears the end after the executors answer, but waits at most a
            // second for one that hangs (its release goes on in the background).
            let releases: Vec<_> = driver
                .cluster
                .executors()
                .into_iter()
                .map(|e| {
                    let app = id.clone();
                    tokio::spawn(async move { e.handle.release_app(app).await })
                })
                .collect();
            let _ = tokio::time::timeout(RELEASE_WAIT, futures::future::join_all(releases)).await;
            drop(quota);
            drop(pin);
            if let Some(r) = driver.apps.lock().expect("apps lock").get_mut(&id) {
                r.state = if finished.succeeded {
                    ApplicationState::Succeeded
                } else if r.killed {
                    ApplicationState::Killed
                } else {
                    ApplicationState::Failed
                };
                r.error = finished.error.clone();
                r.stdout = finished.stdout.clone();
                r.stderr = finished.stderr.clone();
                r.cancel = None;
                r.broadcasts = Arc::default();
                // Its executors free its kept partitions as it ends.
                r.cache_locations = Arc::default();
                r.finished_at = Some(std::time::Instant::now());
                r.duration_ms = Some(r.started.elapsed().as_millis() as u64);
                crate::metrics::app_finished(r.state);
                let end = r.end();
                r.history.close(crate::api::history::now_ms(), &r.error);
                r.log(&end);
                if let Some(log) = r.log.take()
                    && let Err(e) = log.finish()
                {
                    tracing::warn!(app = %id, error = %e, "cannot complete the event log");
                }
            }
            driver.prune_finished();
            tracing::info!(app = %id, succeeded = finished.succeeded, error = %finished.error, "application finished");
            let _ = tx.send(AppEvent { event: Some(app_event::Event::Finished(finished)) });
            driver.app_finished.notify_waiters();
        });
        Ok(rx)
    }

    /// Executors (their counters asked for now, or those of their last heartbeat
    /// when they do not answer at once; lost and stopped ones last) and the
    /// applications `viewer` may see: a tenant sees its own (every one on an open
    /// driver); `None`, a cluster member (holder of the cluster secret), sees all.
    pub async fn status(&self, viewer: Option<&Tenant>) -> ClusterStatus {
        let (live, gone) = self.cluster.statuses();
        let asked = futures::future::join_all(
            live.iter().map(|(e, _)| tokio::time::timeout(std::time::Duration::from_millis(500), e.handle.status())),
        )
        .await;
        let mut executors = Vec::new();
        for ((e, heartbeat), now) in live.into_iter().zip(asked) {
            let last_heartbeat_ms = heartbeat.as_ref().map_or(0, |h| h.last_heartbeat_ms);
            let mut s = now.ok().flatten().or(heartbeat).unwrap_or_default();
            s.executor_id = e.id.to_string();
            s.address = e.address.clone();
            s.slots = e.slots;
            s.last_heartbeat_ms = last_heartbeat_ms;
            if s.state() == ExecutorState::Unspecified {
                s.set_state(ExecutorState::Alive);
            }
            executors.push(s);
        }
        executors.extend(gone);
        ClusterStatus { executors, applications: self.applications(viewer) }
    }

    /// The applications `viewer` may see (as for [`Driver::status`]), without
    /// asking executors anything.
    pub fn applications(&self, viewer: Option<&Tenant>) -> Vec<AppStatus> {
        self.prune_finished();
        let apps = self.apps.lock().expect("apps lock");
        apps.iter().filter(|(_, r)| self.may_see(viewer, r)).map(|(id, r)| r.status(id)).collect()
    }

    /// A registered executor's heartbeat; false if the driver does not know it
    /// (it should register again): no executor has its id, or one at another
    /// `address` has (given out again by a restarted driver).
    pub fn heartbeat(&self, executor: &ExecutorId, address: &str, status: Option<ExecutorStatus>) -> bool {
        let known = self.cluster.heartbeat(executor, address, status);
        crate::metrics::heartbeat(known);
        known
    }

    /// Refuses task memory asked for (`asked`, 0: not asked) that a registered
    /// executor would lower without a word (its `--max-task-memory` is less).
    fn check_executors_give(&self, asked: u64) -> Result<(), DriverError> {
        let (live, _) = self.cluster.statuses();
        let short = live
            .iter()
            .filter_map(|(e, s)| s.as_ref().map(|s| (e, s.max_task_memory)))
            .filter(|(_, max)| *max > 0 && asked > *max)
            .min_by_key(|(_, max)| *max);
        match short {
            Some((e, max)) => Err(DriverError::Refused(format!(
                "task memory of {} is more than executor {} gives a task ({}, its --max-task-memory); ask for at most \
                 that, or start executors with a larger --max-task-memory",
                spindle_sandbox::limits::bytes(asked),
                e.id,
                spindle_sandbox::limits::bytes(max)
            ))),
            None => Ok(()),
        }
    }

    /// Applications running now.
    pub fn running_apps(&self) -> usize {
        self.apps.lock().expect("apps lock").values().filter(|r| r.cancel.is_some()).count()
    }

    /// Stops every running application with `reason` (their tasks are cancelled
    /// on the executors) and waits until all have finished.
    pub async fn shutdown(&self, reason: &str) {
        loop {
            let notified = self.app_finished.notified();
            let running: Vec<AppId> = {
                let apps = self.apps.lock().expect("apps lock");
                for r in apps.values() {
                    if let Some(c) = &r.cancel {
                        c.send_replace(Some(reason.to_string()));
                    }
                }
                apps.iter().filter(|(_, r)| r.cancel.is_some()).map(|(id, _)| id.clone()).collect()
            };
            if running.is_empty() {
                return;
            }
            tracing::warn!(applications = running.len(), %reason, "stopping running applications");
            notified.await;
        }
    }

    /// Stops a running application `viewer` may see: its `main` is dropped and
    /// its tasks are cancelled on every executor at once. Returns whether it was
    /// running (killing a finished application changes nothing) and its state.
    pub fn kill(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<(bool, ApplicationState), DriverError> {
        let mut apps = self.apps.lock().expect("apps lock");
        let r =
            apps.get_mut(id).filter(|r| self.may_see(viewer, r)).ok_or_else(|| DriverError::unknown_app(id, viewer))?;
        let Some(cancel) = &r.cancel else { return Ok((false, r.state)) };
        crate::metrics::app_killed();
        let by = match viewer {
            None => "the cluster's operator".to_string(),
            Some(t) if self.tenants.configured() => format!("tenant `{}`", t.name()),
            Some(_) => "a client".to_string(),
        };
        r.killed = true;
        cancel.send_replace(Some(format!("killed on request of {by}")));
        tracing::warn!(app = %id, %by, "application killed");
        Ok((true, r.state))
    }

    fn may_see(&self, viewer: Option<&Tenant>, r: &AppRecord) -> bool {
        self.tenants.may_see(viewer, &r.tenant)
    }

    /// One application `viewer` may see (as for [`Driver::status`]): its state,
    /// what `main` printed, and its failed or talkative task attempts.
    pub fn app_detail(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<AppDetail, DriverError> {
        self.with_app(viewer, id, |r| AppDetail {
            app: Some(r.status(id)),
            stdout: r.stdout.clone(),
            stderr: r.stderr.clone(),
            tasks: r.tasks.clone(),
            tasks_dropped: r.tasks_dropped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_components_are_read_not_compiled_and_not_kept() {
        let driver = Driver::new(DriverConfig::default(), None).unwrap();
        let tenant = driver.tenants.authenticate(None, None).unwrap();
        // A component with a large core module and no job world: refused from its
        // exports alone (the message only that reading gives), and not stored.
        let funcs = "(func (result i32) i32.const 7)".repeat(20_000);
        let big = wat::parse_str(format!("(component (core module {funcs}))")).unwrap();
        let hash = ArtifactHash::of(&big);
        let err = driver.submit(tenant.clone(), Bytes::from(big), vec![], "big".into(), None).await.unwrap_err();
        assert!(err.to_string().contains("it exports no spindle:job/app interface (it exports nothing)"), "{err}");
        assert!(driver.artifacts.get(&hash).is_none(), "a refused component is not kept");
        assert!(driver.compiled.lock().unwrap().is_empty());
        let http = wat::parse_str(r#"(component (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#).unwrap();
        let err = driver.submit(tenant, Bytes::from(http), vec![], "http".into(), None).await.unwrap_err();
        assert!(err.to_string().contains("wasi:http/outgoing-handler@0.2.0"), "{err}");
    }

    #[tokio::test]
    async fn a_compile_past_its_deadline_is_refused_and_keeps_its_turn_until_it_ends() {
        let config = DriverConfig { compile_timeout: std::time::Duration::from_millis(1), ..DriverConfig::default() };
        let driver = Driver::new(config, None).unwrap();
        let tenant = driver.tenants.authenticate(None, None).unwrap();
        // Named like a job, so it passes the reading and goes to Cranelift.
        let funcs = "(func (result i32) i32.const 7)".repeat(20_000);
        let big = wat::parse_str(format!(
            r#"(component (core module {funcs}) (instance $i)
                (export "spindle:job/app@0.1.0" (instance $i)) (export "spindle:job/task@0.1.0" (instance $i)))"#
        ))
        .unwrap();
        let hash = ArtifactHash::of(&big);
        let err = driver.submit(tenant, Bytes::from(big), vec![], "slow".into(), None).await.unwrap_err();
        assert!(err.to_string().contains("did not compile within 1ms (compile_timeout)"), "{err}");
        assert!(driver.artifacts.get(&hash).is_none(), "a refused component is not kept");
        assert_eq!(driver.compiles.available_permits(), 1, "the abandoned compile still holds its turn");
        for _ in 0..6000 {
            if driver.compiles.available_permits() == 2 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the compile's turn never came back");
    }
}
