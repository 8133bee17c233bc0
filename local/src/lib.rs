//! Local mode (`spindle run`, and tests and benchmarks that want a cluster in one
//! process): the driver and one executor in this process, joined by direct calls
//! instead of gRPC.
//!
//! [`LocalCluster::start`] makes the pair; [`LocalCluster::submit`] runs a job
//! component on it and returns its events, as a remote driver streams them.

#![warn(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use spindle_driver::{Driver, DriverConfig, DriverError, ExecutorHandle};
use spindle_executor::{ArtifactSource, Executor, ExecutorConfig, ExecutorError};
use spindle_proto::ids::AppId;
use spindle_proto::{AppEvent, ExecutorStatus, KillTaskRequest, TaskLimits, TaskResult, TaskSpec, UnpersistRequest};
use spindle_sandbox::ArtifactHash;
use tokio::sync::{mpsc, oneshot};

/// The in-process executor, as the driver sees it.
struct LocalExecutor(Arc<Executor>);

impl ExecutorHandle for LocalExecutor {
    fn launch(&self, spec: TaskSpec, started: oneshot::Sender<()>) -> BoxFuture<'_, TaskResult> {
        let exec = self.0.clone();
        // Its own tokio task, so tasks in different slots run on different threads.
        Box::pin(async move {
            let run = async move {
                exec.launch(spec, move || {
                    let _ = started.send(());
                })
                .await
            };
            tokio::spawn(run).await.unwrap_or_else(|e| TaskResult {
                ok: false,
                retryable: true,
                error: format!("task runner panicked: {e}"),
                ..Default::default()
            })
        })
    }

    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.release_app(&app);
        })
    }

    fn kill(&self, req: KillTaskRequest) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.kill_task(&req);
        })
    }

    fn unpersist(&self, req: UnpersistRequest) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.unpersist(&req);
        })
    }

    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>> {
        Box::pin(async move { Some(self.0.status()) })
    }
}

/// The driver's artifact store, as the in-process executor sees it.
struct LocalArtifacts(Arc<Driver>);

impl ArtifactSource for LocalArtifacts {
    fn fetch(&self, hash: ArtifactHash) -> BoxFuture<'_, Result<Vec<u8>, ExecutorError>> {
        Box::pin(async move {
            self.0.artifacts.get(&hash).map(|b| b.to_vec()).ok_or_else(|| ExecutorError::Artifact {
                hash: hash.to_string(),
                reason: "not stored on the driver".into(),
            })
        })
    }

    fn fetch_broadcast(&self, app: AppId, id: u64) -> BoxFuture<'_, Result<Option<Bytes>, ExecutorError>> {
        Box::pin(async move { Ok(self.0.broadcast(&app, id).ok()) })
    }
}

/// How the local cluster is set up.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Task slots of the executor (tasks run in parallel).
    pub slots: u32,
    /// Where compiled components are cached between runs (`None`: not cached).
    pub compiled_cache_dir: Option<PathBuf>,
    /// Meter fuel, so that task limits may set a fuel budget.
    pub fuel_metering: bool,
    /// Memory for persisted (cached) partitions, in bytes.
    pub cache_memory: u64,
    /// The executor's memory budget, in bytes (`None`: its default).
    pub memory: Option<u64>,
    /// Limits the application's tasks ask for: the one executor allows them.
    pub limits: Option<TaskLimits>,
    /// The driver's settings (its tenants are not used: local mode has one).
    pub driver_config: DriverConfig,
}

/// Why a local cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Bad options.
    #[error("local mode: {0}")]
    Options(&'static str),
    /// The driver could not start.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The executor could not start.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

/// A driver with one in-process executor registered.
pub struct LocalCluster {
    /// The driver; its state is what `spindle status` shows of a remote one.
    pub driver: Arc<Driver>,
    /// The executor.
    pub executor: Arc<Executor>,
    limits: Option<TaskLimits>,
}

impl LocalCluster {
    /// Starts the driver and its executor; must be called within a tokio runtime.
    pub fn start(options: LocalOptions) -> Result<Self, LocalError> {
        if options.slots == 0 {
            return Err(LocalError::Options("a local executor needs at least one slot"));
        }
        let mut driver_config = options.driver_config.clone();
        driver_config.engine.fuel |= options.fuel_metering;
        // One local tenant, which submits without credentials.
        driver_config.tenants.clear();
        let task_limits = driver_config.task_limits.clone();
        let driver = Driver::new(driver_config, options.compiled_cache_dir.clone())?;
        let mut config = ExecutorConfig {
            slots: options.slots,
            compiled_cache_dir: options.compiled_cache_dir,
            cache_memory: options.cache_memory,
            memory: options.memory.unwrap_or_else(spindle_executor::memory::default_budget),
            ..Default::default()
        };
        config.engine.fuel = options.fuel_metering;
        // Local mode has one tenant and one executor: the executor allows what is
        // asked, and the driver's defaults.
        config.limits.memory_bytes = config.limits.memory_bytes.max(task_limits.memory_bytes);
        config.limits.output_bytes = config.limits.output_bytes.max(task_limits.output_bytes);
        if let Some(l) = &options.limits {
            config.limits.memory_bytes = config.limits.memory_bytes.max(l.memory_bytes as usize);
            config.limits.output_bytes = config.limits.output_bytes.max(l.output_bytes as usize);
        }
        let executor = Executor::new(config, Arc::new(LocalArtifacts(driver.clone())))?;
        let id =
            driver.cluster.register("local".into(), options.slots, Arc::new(LocalExecutor(executor.clone())), false);
        executor.set_identity(id, "local".into());
        Ok(LocalCluster { driver, executor, limits: options.limits })
    }

    /// Submits a job component as the local tenant; returns the application's
    /// events (output, job progress, its end) as they happen.
    pub async fn submit(
        &self,
        component: Vec<u8>,
        name: String,
        args: Vec<String>,
    ) -> Result<mpsc::UnboundedReceiver<AppEvent>, DriverError> {
        let tenant = self.driver.tenants.authenticate(None, None)?;
        self.driver.submit(tenant, Bytes::from(component), args, name, self.limits).await
    }
}
