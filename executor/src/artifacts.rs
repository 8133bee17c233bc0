//! Components are pulled from the driver once per process (checked against their
//! blake3 name), compiled once (or loaded from the on-disk compiled cache), and kept.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use spindle_proto::ids::AppId;
use spindle_sandbox::{ArtifactHash, CompileSource, CompiledArtifact};
use tokio::sync::OnceCell;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::ExecutorError;
use crate::task::TaskState;

/// Where an executor gets what the driver holds: component bytes it does not
/// have, and applications' broadcast values.
pub trait ArtifactSource: Send + Sync + 'static {
    /// The bytes of the artifact named `hash`.
    fn fetch(&self, hash: ArtifactHash) -> BoxFuture<'_, Result<Vec<u8>, ExecutorError>>;
    /// Broadcast value `id` of `app`; `None` when the driver has no such value.
    fn fetch_broadcast(&self, app: AppId, id: u64) -> BoxFuture<'_, Result<Option<bytes::Bytes>, ExecutorError>>;
}

/// Counters for `spindle status` and tests.
#[derive(Debug, Default)]
pub struct ArtifactMetrics {
    /// Components compiled with Cranelift by this process.
    pub compiled: AtomicU64,
    /// Components loaded from the on-disk compiled cache.
    pub loaded_from_disk: AtomicU64,
    /// Components downloaded from the driver.
    pub fetched: AtomicU64,
}

type Slot = Arc<OnceCell<Arc<CompiledArtifact<TaskState>>>>;

/// The per-process cache of compiled artifacts.
pub struct ArtifactCache {
    engine: Engine,
    linker: Arc<Linker<TaskState>>,
    source: Arc<dyn ArtifactSource>,
    disk_dir: Option<PathBuf>,
    slots: Mutex<HashMap<ArtifactHash, Slot>>,
    /// Counters.
    pub metrics: ArtifactMetrics,
}

impl ArtifactCache {
    /// A cache that compiles with `engine`, links with `linker`, pulls from `source`
    /// and keeps compiled code in `disk_dir`.
    pub fn new(
        engine: Engine,
        linker: Arc<Linker<TaskState>>,
        source: Arc<dyn ArtifactSource>,
        disk_dir: Option<PathBuf>,
    ) -> Self {
        ArtifactCache { engine, linker, source, disk_dir, slots: Mutex::default(), metrics: ArtifactMetrics::default() }
    }

    /// The compiled artifact, and whether this call had to compile it. Concurrent
    /// callers for the same hash wait for one download and one compile.
    pub async fn get(&self, hash: ArtifactHash) -> Result<(Arc<CompiledArtifact<TaskState>>, bool), ExecutorError> {
        let slot = self.slots.lock().expect("artifact cache lock").entry(hash).or_default().clone();
        let mut compiled_now = false;
        let artifact = slot
            .get_or_try_init(|| async {
                let bytes = self.source.fetch(hash).await?;
                self.metrics.fetched.fetch_add(1, Ordering::Relaxed);
                hash.verify(&bytes)?;
                let engine = self.engine.clone();
                let linker = self.linker.clone();
                let dir = self.disk_dir.clone();
                let prepared = tokio::task::spawn_blocking(move || {
                    CompiledArtifact::prepare(
                        &engine,
                        &linker,
                        &format!("artifact {hash}"),
                        hash,
                        &bytes,
                        dir.as_deref(),
                    )
                })
                .await
                .map_err(|e| ExecutorError::Artifact {
                    hash: hash.to_string(),
                    reason: format!("compile task: {e}"),
                })??;
                match prepared.source {
                    CompileSource::Compiled => {
                        compiled_now = true;
                        self.metrics.compiled.fetch_add(1, Ordering::Relaxed)
                    }
                    CompileSource::Disk => self.metrics.loaded_from_disk.fetch_add(1, Ordering::Relaxed),
                };
                tracing::info!(artifact = %hash, source = ?prepared.source, "artifact ready");
                Ok::<_, ExecutorError>(Arc::new(prepared))
            })
            .await?;
        Ok((artifact.clone(), compiled_now))
    }
}

/// A source with no artifacts, for tests of the host side alone.
#[cfg(test)]
pub(crate) struct NoArtifacts;

#[cfg(test)]
impl ArtifactSource for NoArtifacts {
    fn fetch(&self, hash: ArtifactHash) -> BoxFuture<'_, Result<Vec<u8>, ExecutorError>> {
        Box::pin(
            async move { Err(ExecutorError::Artifact { hash: hash.to_string(), reason: "no artifacts here".into() }) },
        )
    }

    fn fetch_broadcast(&self, _app: AppId, _id: u64) -> BoxFuture<'_, Result<Option<bytes::Bytes>, ExecutorError>> {
        Box::pin(async { Ok(None) })
    }
}
