//! Process-wide executor state: the engine, the linker, slots, artifacts, blocks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use spindle_proto::auth::Credentials;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{ExecutorStatus, TaskResult, TaskSpec};
use spindle_sandbox::{EngineConfig, SandboxLimits, new_engine};
use tokio::sync::Semaphore;
use wasmtime::component::Linker;

use crate::artifacts::{ArtifactCache, ArtifactSource};
use crate::blocks::BlockStore;
use crate::shuffle::PeerClients;
use crate::{ExecutorError, task};

/// Executor settings.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
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
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            slots: 2,
            compiled_cache_dir: default_cache_dir(),
            limits: SandboxLimits::default(),
            batch_bytes: 64 << 10,
            max_batch_bytes: 16 << 20,
            engine: EngineConfig::default(),
            secret: None,
        }
    }
}

impl ExecutorConfig {
    /// What this executor presents on its RPCs (to the driver and to peers).
    pub fn credentials(&self) -> Result<Credentials, ExecutorError> {
        Credentials::cluster(self.secret.as_deref()).map_err(ExecutorError::BadConfig)
    }
}

/// `$XDG_CACHE_HOME/spindle/compiled` or `~/.cache/spindle/compiled`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("spindle").join("compiled"))
}

#[derive(Debug, Default)]
pub(crate) struct TaskCounters {
    pub running: AtomicU64,
    pub finished: AtomicU64,
    pub failed: AtomicU64,
}

/// One executor process (or the in-process executor of local mode).
pub struct Executor {
    pub(crate) config: ExecutorConfig,
    pub(crate) engine: wasmtime::Engine,
    pub(crate) artifacts: ArtifactCache,
    pub(crate) blocks: BlockStore,
    pub(crate) peers: PeerClients,
    pub(crate) counters: TaskCounters,
    slots: Semaphore,
    id: OnceLock<ExecutorId>,
    address: OnceLock<String>,
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
        let artifacts = ArtifactCache::new(engine.clone(), Arc::new(linker), source, config.compiled_cache_dir.clone());
        let credentials = config.credentials()?;
        Ok(Arc::new(Executor {
            slots: Semaphore::new(config.slots as usize),
            config,
            engine,
            artifacts,
            blocks: BlockStore::default(),
            peers: PeerClients::new(credentials),
            counters: TaskCounters::default(),
            id: OnceLock::new(),
            address: OnceLock::new(),
        }))
    }

    /// Records the id the driver gave this executor and the address peers reach it at.
    pub fn set_identity(&self, id: ExecutorId, address: String) {
        let _ = self.id.set(id);
        let _ = self.address.set(address);
    }

    /// This executor's id (empty before registration).
    pub fn id(&self) -> String {
        self.id.get().map(|i| i.0.clone()).unwrap_or_default()
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.config.slots
    }

    /// Runs one task to completion in a fresh sandbox. Never fails the process: every
    /// failure comes back as a failed [`TaskResult`].
    pub async fn launch(self: &Arc<Self>, spec: TaskSpec) -> TaskResult {
        let _permit = self.slots.acquire().await.expect("slot semaphore is never closed");
        self.counters.running.fetch_add(1, Ordering::Relaxed);
        let result = task::run(self, spec).await;
        self.counters.running.fetch_sub(1, Ordering::Relaxed);
        let counter = if result.ok { &self.counters.finished } else { &self.counters.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Frees everything an application left here.
    pub fn release_app(&self, app: &AppId) -> u64 {
        self.blocks.release_app(app)
    }

    /// Counters and usage.
    pub fn status(&self) -> ExecutorStatus {
        let (blocks, block_bytes) = self.blocks.usage();
        let m = &self.artifacts.metrics;
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
            blocks,
            block_bytes,
        }
    }
}
