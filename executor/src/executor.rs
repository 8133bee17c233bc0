//! Process-wide executor state: the engine, the linker, slots, artifacts, blocks.

use spindle_proto::ExecutorState;
use spindle_proto::tls::Tls;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use spindle_proto::auth::Credentials;
use spindle_proto::ids::ShuffleId;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{
    ExecutorStatus, KillTaskRequest, TaskResult, TaskSpec, UnpersistRequest, task_output, unpersist_request,
};
use spindle_sandbox::{EngineConfig, Failure, SandboxLimits, new_engine};
use tokio::sync::{Semaphore, watch};
use wasmtime::component::Linker;

use crate::artifacts::{ArtifactCache, ArtifactSource};
use crate::blocks::BlockStore;
use crate::broadcasts::BroadcastCache;
use crate::cache::PartitionCache;
use crate::memory::MemoryManager;
use crate::shuffle::PeerClients;
use crate::spill::SpillDir;
use crate::{ExecutorError, task};

/// Executor settings.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// TLS for its server and its connections (default: none).
    pub tls: Tls,
    /// How long to keep trying to register with the driver at start (none: for
    /// ever, the default).
    pub register_timeout: Option<Duration>,
    /// The launch that started it, when the driver's launcher did (dynamic
    /// allocation); sent when it registers.
    pub launch_id: String,
    /// Tasks run at once.
    pub slots: u32,
    /// Where compiled components are kept between runs (`None`: memory only).
    pub compiled_cache_dir: Option<PathBuf>,
    /// Limits of every task's sandbox.
    pub limits: SandboxLimits,
    /// Target size of the batches handed to and taken from guests, in bytes.
    pub batch_bytes: usize,
    /// Largest batch a guest may write at once, in bytes. Default 16 MiB.
    pub max_batch_bytes: usize,
    /// Engine settings.
    pub engine: EngineConfig,
    /// The cluster secret: required on every RPC to this executor and sent on
    /// every RPC it makes. `None`: an open cluster (development only).
    pub secret: Option<String>,
    /// On SIGTERM, how long running tasks may take to finish before they are
    /// handed back to the driver. Default 30 s.
    pub grace_period: Duration,
    /// Fraction of task attempts failed on purpose (as infrastructure failures,
    /// their output discarded), to test recovery. Default 0.
    pub chaos_failure_rate: f64,
    /// The memory budget shared by shuffle outputs, persisted partitions and the
    /// host side of running tasks, in bytes (`crate::memory`). Default: 40% of the
    /// machine's memory.
    pub memory: u64,
    /// The most of that budget persisted partitions may hold, in bytes. Default 1 GiB.
    pub cache_memory: u64,
    /// The spill root: map outputs, sorted runs and persisted partitions that do
    /// not fit in memory go to a directory of this process under it (`None`:
    /// `spindle-spill` under the system's temporary directory).
    pub spill_dir: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`), e.g. `127.0.0.1:9101`
    /// (`None`: nowhere, the default).
    pub metrics_listen: Option<String>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            slots: 2,
            compiled_cache_dir: spindle_sandbox::artifact::default_compiled_cache_dir(),
            limits: SandboxLimits::default(),
            batch_bytes: 64 << 10,
            max_batch_bytes: 16 << 20,
            engine: EngineConfig::default(),
            secret: None,
            grace_period: Duration::from_secs(30),
            chaos_failure_rate: 0.0,
            memory: crate::memory::default_budget(),
            cache_memory: 1 << 30,
            spill_dir: None,
            tls: Tls::default(),
            register_timeout: None,
            launch_id: String::new(),
            metrics_listen: None,
        }
    }
}

impl ExecutorConfig {
    /// What this executor presents on its RPCs (to the driver and to peers).
    pub fn credentials(&self) -> Result<Credentials, ExecutorError> {
        Credentials::cluster(self.secret.as_deref()).map_err(|e| ExecutorError::BadConfig(e.to_string()))
    }
}

#[derive(Debug, Default)]
pub(crate) struct TaskCounters {
    pub running: AtomicU64,
    pub finished: AtomicU64,
    pub failed: AtomicU64,
    /// Records read from task inputs (not from kept partitions).
    pub input_records: AtomicU64,
    /// Bytes of record batches guests wrote to task outputs.
    pub output_bytes: AtomicU64,
}

/// Counts one running task while it lives (also when its future is dropped).
struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    fn up(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Gauge(counter)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Names one task attempt on this executor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AttemptKey {
    app: String,
    stage: u64,
    partition: u32,
    attempt: u32,
}

impl AttemptKey {
    fn of(spec: &TaskSpec) -> Self {
        AttemptKey { app: spec.app_id.clone(), stage: spec.stage_id, partition: spec.partition, attempt: spec.attempt }
    }
}

/// Attempts waiting for or holding a slot, each with the sender that cancels it
/// (with the reason).
#[derive(Default)]
struct Running {
    attempts: Mutex<HashMap<AttemptKey, watch::Sender<Option<String>>>>,
}

/// An attempt's entry in [`Running`], removed on drop.
struct Listed<'a> {
    running: &'a Running,
    key: AttemptKey,
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.running.attempts.lock().expect("running lock").remove(&self.key);
    }
}

impl Running {
    fn list(&self, key: AttemptKey, cancel: watch::Sender<Option<String>>) -> Listed<'_> {
        self.attempts.lock().expect("running lock").insert(key.clone(), cancel);
        Listed { running: self, key }
    }

    fn cancel_where(&self, reason: &str, pick: impl Fn(&AttemptKey) -> bool) -> u32 {
        let attempts = self.attempts.lock().expect("running lock");
        let mut n = 0;
        for (key, tx) in attempts.iter() {
            if pick(key) {
                tx.send_replace(Some(reason.to_string()));
                n += 1;
            }
        }
        n
    }
}

/// One executor process (or the in-process executor of local mode).
pub struct Executor {
    pub(crate) config: ExecutorConfig,
    pub(crate) engine: wasmtime::Engine,
    pub(crate) artifacts: ArtifactCache,
    pub(crate) blocks: BlockStore,
    pub(crate) memory: Arc<MemoryManager>,
    pub(crate) spill: SpillDir,
    pub(crate) cache: PartitionCache,
    pub(crate) broadcasts: BroadcastCache,
    pub(crate) source: Arc<dyn ArtifactSource>,
    pub(crate) peers: PeerClients,
    pub(crate) counters: TaskCounters,
    slots: Semaphore,
    running: Running,
    /// Set once the executor is shutting down; queued attempts wait on it.
    stopping: watch::Sender<bool>,
    /// Set at the very end of a graceful stop: the driver's task streams end.
    streams_closed: watch::Sender<bool>,
    id: Mutex<Option<ExecutorId>>,
    address: OnceLock<String>,
    /// Where its metrics are served, once they are.
    pub(crate) metrics_address: OnceLock<String>,
}

impl Executor {
    /// Builds an executor that pulls artifacts from `source`.
    pub fn new(config: ExecutorConfig, source: Arc<dyn ArtifactSource>) -> Result<Arc<Self>, ExecutorError> {
        let mut engine_config = config.engine.clone();
        engine_config.pool_instances = config.slots * 2 + 2;
        engine_config.pool_max_memory = config.limits.memory_bytes;
        let engine = new_engine(&engine_config)?;
        let mut linker = Linker::new(&engine);
        task::add_to_linker(&mut linker)?;
        let artifacts =
            ArtifactCache::new(engine.clone(), Arc::new(linker), source.clone(), config.compiled_cache_dir.clone());
        let spill = SpillDir::new(&config.spill_dir.clone().unwrap_or_else(crate::spill::default_root));
        let memory = Arc::new(MemoryManager::new(config.memory, config.slots));
        let cache = PartitionCache::new(config.cache_memory, spill.cache_dir(), memory.clone());
        let peers = PeerClients::new(config.credentials()?, config.tls.clone());
        Ok(Arc::new(Executor {
            slots: Semaphore::new(config.slots as usize),
            running: Running::default(),
            stopping: watch::Sender::new(false),
            streams_closed: watch::Sender::new(false),
            config,
            engine,
            artifacts,
            blocks: BlockStore::new(memory.clone()),
            memory,
            spill,
            cache,
            broadcasts: BroadcastCache::default(),
            source,
            peers,
            counters: TaskCounters::default(),
            id: Mutex::new(None),
            address: OnceLock::new(),
            metrics_address: OnceLock::new(),
        }))
    }

    /// Records the id the driver gave this executor (at each registration) and the
    /// address peers reach it at.
    pub fn set_identity(&self, id: ExecutorId, address: String) {
        *self.id.lock().expect("id lock") = Some(id);
        let _ = self.address.set(address);
    }

    /// This executor's id (empty before registration).
    pub fn id(&self) -> String {
        self.id.lock().expect("id lock").as_ref().map(ExecutorId::to_string).unwrap_or_default()
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.config.slots
    }

    /// Runs one task to completion in a fresh sandbox. Never fails the process: every
    /// failure comes back as a failed [`TaskResult`]. A cancelled attempt (killed,
    /// its application released, or handed back when the executor stops) ends at
    /// once with a retryable failure saying why. Calls `on_start` when the task
    /// takes its slot (not at all if it never does).
    pub async fn launch(self: &Arc<Self>, spec: TaskSpec, on_start: impl FnOnce() + Send) -> TaskResult {
        if self.is_stopping() {
            return self.handed_back(&spec, "the executor is stopping and takes no new tasks");
        }
        let kind = crate::metrics::task_kind(&spec);
        let (tx, mut cancelled) = watch::channel(None);
        // Unlisted when this future ends or is dropped (the driver hung up).
        let _listed = self.running.list(AttemptKey::of(&spec), tx);
        // An attempt queued for a slot (the driver leases ahead) that has not
        // started when the executor begins to stop goes back at once: only
        // running attempts get the grace period.
        let mut stop = self.stopping.subscribe();
        let work = async {
            let _permit = tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => return None,
                permit = self.slots.acquire() => permit.expect("slot semaphore is never closed"),
            };
            on_start();
            crate::metrics::task_started(kind);
            let _running = Gauge::up(&self.counters.running);
            // Boxed: a run's future is kilobytes, and this one (small, then) is
            // moved several times on its way into a tokio task, each move a
            // copy (a fifth of a no-op task's memcpy was these moves).
            Some(Box::pin(self.run_with_chaos(spec.clone())).await)
        };
        tokio::select! {
            r = work => {
                let Some(r) = r else {
                    return self.handed_back(&spec, "the executor is stopping and this task had not started");
                };
                let counter = if r.ok { &self.counters.finished } else { &self.counters.failed };
                counter.fetch_add(1, Ordering::Relaxed);
                crate::metrics::task_finished(kind, &r);
                r
            }
            // A cancelled attempt neither finished nor failed here: it was stopped.
            reason = cancelled.wait_for(Option::is_some) => {
                let reason = reason.map(|r| r.clone().unwrap_or_default()).unwrap_or_default();
                self.handed_back(&spec, &reason)
            }
        }
    }

    /// Runs the task; with a chaos rate set, fails that fraction of attempts on
    /// purpose after they ran, discarding what they wrote.
    async fn run_with_chaos(self: &Arc<Self>, spec: TaskSpec) -> TaskResult {
        let rate = self.config.chaos_failure_rate;
        let sink = spec.output.as_ref().and_then(|o| o.sink.clone());
        let app = AppId(spec.app_id.clone());
        let map = spec.partition;
        let mut result = task::run(self, spec).await;
        if result.ok && rate > 0.0 && fastrand::f64() < rate {
            if let Some(task_output::Sink::Shuffle(s)) = sink {
                self.blocks.remove_map_output(&app, ShuffleId(s.shuffle_id), map);
            }
            let failure =
                Failure::Infrastructure(format!("chaos: attempt failed on purpose (chaos_failure_rate = {rate})"));
            result = TaskResult { executor_id: self.id(), ..task::failed(failure, Vec::new(), result.compiled) };
        }
        result
    }

    /// A retryable failure for an attempt this executor gives back unfinished.
    fn handed_back(&self, spec: &TaskSpec, reason: &str) -> TaskResult {
        let failure = Failure::Infrastructure(format!(
            "task {}.{}.{} (attempt {}) was not finished on executor {}: {reason}",
            spec.app_id,
            spec.stage_id,
            spec.partition,
            spec.attempt,
            self.id()
        ));
        let mut result = task::failed(failure, Vec::new(), false);
        if self.is_stopping() {
            result.set_failure_kind(spindle_proto::FailureKind::ExecutorStopping);
        }
        TaskResult { executor_id: self.id(), ..result }
    }

    /// Cancels one attempt, if it is here.
    pub fn kill_task(&self, req: &KillTaskRequest) -> bool {
        let key =
            AttemptKey { app: req.app_id.clone(), stage: req.stage_id, partition: req.partition, attempt: req.attempt };
        self.running.cancel_where(&req.reason, |k| *k == key) > 0
    }

    /// Frees everything an application left here and cancels its running tasks.
    pub fn release_app(&self, app: &AppId) -> u64 {
        let cancelled = self.running.cancel_where("its application has ended", |k| k.app == app.0);
        if cancelled > 0 {
            tracing::info!(app = %app, cancelled, "cancelled the application's running tasks");
        }
        self.broadcasts.release_app(app);
        let freed = self.cache.release_app(app) + self.blocks.release_app(app);
        self.spill.release_app(app);
        freed
    }

    /// Takes `n` bytes of execution memory for a running task, making room by
    /// writing map outputs held in memory to disk, then by pushing out persisted
    /// partitions above the half of the budget storage keeps; `false` when that
    /// is not enough (the task spills instead).
    pub(crate) fn reserve_execution(&self, n: u64) -> bool {
        loop {
            if self.memory.try_execution(n) {
                return true;
            }
            if self.blocks.spill_oldest(&self.spill) {
                continue;
            }
            if self.memory.evictable_storage() > 0 && self.cache.evict_one() {
                continue;
            }
            return false;
        }
    }

    /// Drops a persisted dataset's blocks or a broadcast value.
    pub fn unpersist(&self, req: &UnpersistRequest) -> u64 {
        let app = AppId(req.app_id.clone());
        match req.what {
            Some(unpersist_request::What::Dataset(d)) => self.cache.remove_dataset(&app, d),
            Some(unpersist_request::What::BroadcastId(id)) => self.broadcasts.remove(&app, id),
            None => 0,
        }
    }

    /// Drops every block and value: the driver counts on none of them (this
    /// executor was declared lost and registers again).
    pub fn forget_everything(&self) -> u64 {
        self.cache.clear() + self.blocks.clear()
    }

    /// Stops taking new tasks (the executor is shutting down).
    pub fn start_stopping(&self) {
        self.stopping.send_replace(true);
    }

    /// Ends every task stream from the driver (the last step of a graceful stop,
    /// once no attempt is left), so the server can shut down.
    pub fn close_task_streams(&self) {
        self.streams_closed.send_replace(true);
    }

    /// Resolves (through `wait_for`) once [`close_task_streams`](Self::close_task_streams) was called.
    pub(crate) fn task_streams_closing(&self) -> watch::Receiver<bool> {
        self.streams_closed.subscribe()
    }

    /// Whether the executor is shutting down.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Attempts here (running or waiting for a slot).
    pub fn attempts(&self) -> usize {
        self.running.attempts.lock().expect("running lock").len()
    }

    /// Hands every unfinished attempt back to the driver, with `reason`.
    pub fn hand_back_all(&self, reason: &str) -> u32 {
        self.running.cancel_where(reason, |_| true)
    }

    /// Counters and usage.
    pub fn status(&self) -> ExecutorStatus {
        let blocks = self.blocks.usage();
        let pools = self.memory.usage();
        let m = &self.artifacts.metrics;
        let cache = self.cache.usage();
        let cm = &self.cache.metrics;
        ExecutorStatus {
            executor_id: self.id(),
            address: self.address.get().cloned().unwrap_or_default(),
            slots: self.config.slots,
            running_tasks: self.counters.running.load(Ordering::Relaxed) as u32,
            tasks_finished: self.counters.finished.load(Ordering::Relaxed),
            tasks_failed: self.counters.failed.load(Ordering::Relaxed),
            artifacts_compiled: m.compiled.load(Ordering::Relaxed),
            artifacts_loaded_from_disk: m.loaded_from_disk.load(Ordering::Relaxed),
            artifacts_fetched: m.fetched.load(Ordering::Relaxed),
            blocks: blocks.blocks,
            block_bytes: blocks.memory_bytes + blocks.disk_bytes,
            memory_budget: self.memory.budget(),
            memory_execution: pools.execution,
            memory_shuffle: pools.shuffle,
            memory_storage: pools.storage,
            shuffle_bytes_disk: blocks.disk_bytes,
            spilled_bytes: self.memory.spills.bytes.load(Ordering::Relaxed),
            spill_files: self.memory.spills.files_live.load(Ordering::Relaxed),
            memory_bytes: resident_memory().unwrap_or(0),
            state: if self.is_stopping() { ExecutorState::Draining } else { ExecutorState::Alive }.into(),
            cache_blocks_memory: cache.memory_blocks,
            cache_blocks_disk: cache.disk_blocks,
            cache_bytes_memory: cache.memory_bytes,
            cache_bytes_disk: cache.disk_bytes,
            cache_hits: cm.hits.load(Ordering::Relaxed),
            cache_misses: cm.misses.load(Ordering::Relaxed),
            cache_evictions: cm.evictions.load(Ordering::Relaxed),
            cache_budget_bytes: self.cache.budget(),
            input_records: self.counters.input_records.load(Ordering::Relaxed),
            output_bytes: self.counters.output_bytes.load(Ordering::Relaxed),
            broadcasts: self.broadcasts.len() as u64,
            metrics_address: self.metrics_address.get().cloned().unwrap_or_default(),
            max_task_memory: self.config.limits.memory_bytes as u64,
            ..Default::default()
        }
    }
}

/// This process's resident memory, in bytes (Linux; `None` elsewhere). Read from
/// `VmRSS`, in KiB whatever the page size (statm counts pages, which are 16 or
/// 64 KiB on some machines).
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read_in_bytes() {
        let rss = super::resident_memory().expect("Linux has /proc/self/status");
        // A test process holds at least a few MiB and far less than a TiB.
        assert!((1 << 20..1 << 40).contains(&rss), "{rss}");
    }
}
