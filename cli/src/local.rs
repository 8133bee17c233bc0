//! Local mode: the driver and one executor in this process, joined by direct calls
//! instead of gRPC.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use futures::future::BoxFuture;
use spindle_driver::{Driver, DriverConfig, ExecutorHandle};
use spindle_executor::{ArtifactSource, Executor, ExecutorConfig, ExecutorError};
use spindle_proto::ids::AppId;
use spindle_proto::{ExecutorStatus, KillTaskRequest, TaskLimits, TaskResult, TaskSpec, UnpersistRequest};
use spindle_sandbox::ArtifactHash;
use tokio::sync::oneshot;

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

/// `spindle run`: submits `job` to an in-process cluster and follows it.
pub async fn run(
    job: &Path,
    slots: u32,
    cache: Option<PathBuf>,
    limits: Option<TaskLimits>,
    fuel_metering: bool,
    cache_memory: u64,
    args: Vec<String>,
) -> Result<ExitCode> {
    anyhow::ensure!(slots > 0, "--slots must be at least 1");
    let component = crate::client::read_job(job)?;
    let mut driver_config = DriverConfig::default();
    driver_config.engine.fuel = fuel_metering;
    let driver = Driver::new(driver_config, cache.clone())?;
    let mut config = ExecutorConfig { slots, compiled_cache_dir: cache, cache_memory, ..Default::default() };
    config.engine.fuel = fuel_metering;
    // Local mode has one tenant and one executor: the executor allows what is asked.
    if let Some(l) = &limits {
        config.limits.memory_bytes = config.limits.memory_bytes.max(l.memory_bytes as usize);
        config.limits.output_bytes = config.limits.output_bytes.max(l.output_bytes as usize);
    }
    let exec = Executor::new(config, Arc::new(LocalArtifacts(driver.clone())))?;
    let id = driver.cluster.register("local".into(), slots, Arc::new(LocalExecutor(exec.clone())), false);
    exec.set_identity(id, "local".into());
    let name = job.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tenant = driver.tenants.authenticate(None, None)?;
    let events = match driver.submit(tenant, Bytes::from(component), args, name, limits).await {
        Ok(rx) => rx,
        Err(e) => anyhow::bail!("cannot run {}: {e}", job.display()),
    };
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(events);
    crate::client::follow(futures::StreamExt::map(stream, Ok)).await
}
