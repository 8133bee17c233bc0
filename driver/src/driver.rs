//! The driver's long-lived state and application submission.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::ids::AppId;
use spindle_proto::{AppAccepted, AppStatus, ClusterStatus, app_event};
use spindle_sandbox::{ArtifactHash, CompiledArtifact, new_engine};
use tokio::sync::mpsc;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use spindle_proto::AppEvent;

use crate::app::{self, AppCtx, AppState};
use crate::artifacts::ArtifactStore;
use crate::cluster::Cluster;
use crate::{DriverConfig, DriverError};

struct AppRecord {
    name: String,
    state: &'static str,
    error: String,
    jobs: u32,
}

/// The driver: one per cluster, serving many applications.
pub struct Driver {
    /// Settings.
    pub config: DriverConfig,
    /// Registered executors and their slots.
    pub cluster: Arc<Cluster>,
    /// Submitted components.
    pub artifacts: ArtifactStore,
    engine: Engine,
    linker: Arc<Linker<AppState>>,
    compiled_cache_dir: Option<PathBuf>,
    compiled: Mutex<HashMap<ArtifactHash, Arc<CompiledArtifact<AppState>>>>,
    apps: Mutex<BTreeMap<AppId, AppRecord>>,
    next_app: AtomicU64,
}

impl Driver {
    /// A driver with no executors yet; compiled components are cached in
    /// `compiled_cache_dir` when given.
    pub fn new(config: DriverConfig, compiled_cache_dir: Option<PathBuf>) -> Result<Arc<Self>, DriverError> {
        let mut engine_config = config.engine.clone();
        engine_config.pool_max_memory = config.main_limits.memory_bytes;
        let engine = new_engine(&engine_config)?;
        let mut linker = Linker::new(&engine);
        app::add_to_linker(&mut linker)
            .map_err(|e| spindle_sandbox::SandboxError::Engine(format!("linking the job world: {e:#}")))?;
        Ok(Arc::new(Driver {
            config,
            cluster: Arc::new(Cluster::default()),
            artifacts: ArtifactStore::default(),
            engine,
            linker: Arc::new(linker),
            compiled_cache_dir,
            compiled: Mutex::default(),
            apps: Mutex::default(),
            next_app: AtomicU64::new(1),
        }))
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn note_job(&self, app: &AppId) {
        if let Some(r) = self.apps.lock().expect("apps lock").get_mut(app) {
            r.jobs += 1;
        }
    }

    /// Validates, stores and compiles (or finds) a component. Also returns how long
    /// compiling it took, in µs (0 when it was already compiled, in memory or on disk).
    async fn prepare(&self, bytes: Bytes, what: String) -> Result<(Arc<CompiledArtifact<AppState>>, u64), DriverError> {
        spindle_sandbox::artifact::check_header(&what, &bytes)?;
        let hash = self.artifacts.put(bytes.clone());
        if let Some(c) = self.compiled.lock().expect("compiled lock").get(&hash) {
            return Ok((c.clone(), 0));
        }
        let started = std::time::Instant::now();
        let engine = self.engine.clone();
        let linker = self.linker.clone();
        let dir = self.compiled_cache_dir.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            CompiledArtifact::prepare(&engine, &linker, &what, hash, &bytes, dir.as_deref())
        })
        .await
        .map_err(|e| DriverError::Job(format!("compile task failed: {e}")))??;
        let compile_us = match prepared.source {
            spindle_sandbox::CompileSource::Compiled => started.elapsed().as_micros() as u64,
            spindle_sandbox::CompileSource::Disk => 0,
        };
        let prepared = Arc::new(prepared);
        self.compiled.lock().expect("compiled lock").insert(hash, prepared.clone());
        Ok((prepared, compile_us))
    }

    /// Validates and stores a component, then runs its `main(args)` in the
    /// background. The returned stream starts with `accepted` and ends with
    /// `finished`. An invalid component is refused here, before any event.
    pub async fn submit(
        self: &Arc<Self>,
        component: Bytes,
        args: Vec<String>,
        name: String,
    ) -> Result<mpsc::UnboundedReceiver<AppEvent>, DriverError> {
        let what = if name.is_empty() { "the submitted component".to_string() } else { format!("component `{name}`") };
        let (artifact, compile_us) = self.prepare(component, what).await?;
        let id = AppId(format!("app-{:04}", self.next_app.fetch_add(1, Ordering::Relaxed)));
        self.apps
            .lock()
            .expect("apps lock")
            .insert(id.clone(), AppRecord { name: name.clone(), state: "running", error: String::new(), jobs: 0 });
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(AppEvent {
            event: Some(app_event::Event::Accepted(AppAccepted {
                app_id: id.0.clone(),
                artifact: artifact.hash.to_string(),
                compile_us,
            })),
        });
        tracing::info!(app = %id, artifact = %artifact.hash, %name, "application accepted");
        let driver = self.clone();
        tokio::spawn(async move {
            let app = Arc::new(AppCtx::new(id.clone(), artifact.hash, driver.clone(), tx.clone()));
            let finished = app::run_main(app, artifact, args).await;
            for e in driver.cluster.executors() {
                e.handle.release_app(id.clone()).await;
            }
            if let Some(r) = driver.apps.lock().expect("apps lock").get_mut(&id) {
                r.state = if finished.succeeded { "succeeded" } else { "failed" };
                r.error = finished.error.clone();
            }
            tracing::info!(app = %id, succeeded = finished.succeeded, error = %finished.error, "application finished");
            let _ = tx.send(AppEvent { event: Some(app_event::Event::Finished(finished)) });
        });
        Ok(rx)
    }

    /// Executors (with their live counters) and applications.
    pub async fn status(&self) -> ClusterStatus {
        let mut executors = Vec::new();
        for e in self.cluster.executors() {
            let mut s = e.handle.status().await.unwrap_or_default();
            s.executor_id = e.id.0.clone();
            s.address = e.address.clone();
            s.slots = e.slots;
            executors.push(s);
        }
        let applications = self
            .apps
            .lock()
            .expect("apps lock")
            .iter()
            .map(|(id, r)| AppStatus {
                app_id: id.0.clone(),
                name: r.name.clone(),
                state: r.state.into(),
                error: r.error.clone(),
                jobs: r.jobs,
            })
            .collect();
        ClusterStatus { executors, applications }
    }
}
