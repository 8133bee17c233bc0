//! Event logs and the history server.
//!
//! A driver started with `--event-log-dir` appends every application's events
//! to its log ([`event_log`]). `spindle history` reads the finished logs back
//! ([`History`]) and serves the same web UI and API over them, so finished
//! applications stay visible after the driver forgets them.

pub mod event_log;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use spindle_proto::ids::AppId;
use spindle_proto::{
    AppDetail, AppStatus, ApplicationState, ClusterStatus, ExecutorState, ExecutorStatus, FailureKind, TaskLimits,
    TaskRecord,
};

use crate::api::model::{ConfigEntry, DatasetStorage, JobData, StageData, TaskData};
use crate::api::{AppHistory, Event};

use crate::DriverError;
use crate::http::Source;
use crate::tenants::{AuthError, Tenant, TenantConfig, Tenants};

/// One finished application, replayed from its log.
struct Replayed {
    status: AppStatus,
    detail: AppDetail,
    history: AppHistory,
}

/// Finished applications read from an event-log directory.
pub struct History {
    root: PathBuf,
    tenants: Tenants,
    apps: Mutex<BTreeMap<String, Replayed>>,
    executors: Mutex<BTreeMap<String, ExecutorStatus>>,
}

/// Why a log could not be read.
fn unreadable(dir: &Path, e: impl std::fmt::Display) -> String {
    format!("event log {}: {e}", dir.display())
}

impl History {
    /// Reads the finished applications' logs under `root`; `tenants` (as in the
    /// driver's config) decide who sees what, none: everyone sees everything.
    pub fn open(root: PathBuf, tenants: &[TenantConfig]) -> Arc<History> {
        let history = Arc::new(History {
            root,
            tenants: Tenants::new(tenants),
            apps: Mutex::default(),
            executors: Mutex::default(),
        });
        history.rescan();
        history
    }

    /// Loads logs that finished since the last scan; returns how many.
    pub fn rescan(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return 0 };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        let mut loaded = 0;
        for dir in dirs {
            let Some(key) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if self.apps.lock().expect("history lock").contains_key(&key) {
                continue;
            }
            match self.replay(&dir, &key) {
                Ok(Some(app)) => {
                    self.apps.lock().expect("history lock").insert(key, app);
                    loaded += 1;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "skipping an event log"),
            }
        }
        loaded
    }

    /// Replays the log in `dir`; `None` while the application runs.
    fn replay(&self, dir: &Path, key: &str) -> Result<Option<Replayed>, String> {
        let mut parts: Vec<PathBuf> =
            std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))?.flatten().map(|e| e.path()).collect();
        if parts.is_empty() || parts.iter().any(|p| p.to_string_lossy().ends_with(event_log::IN_PROGRESS)) {
            return Ok(None);
        }
        parts.sort();
        let mut app = Replayed {
            status: AppStatus { app_id: key.to_string(), ..Default::default() },
            detail: AppDetail::default(),
            history: AppHistory::default(),
        };
        for part in &parts {
            let file = std::fs::File::open(part).map_err(|e| unreadable(part, e))?;
            let text = zstd::decode_all(file).map_err(|e| unreadable(part, e))?;
            for (n, line) in text.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
                let event: Event =
                    serde_json::from_slice(line).map_err(|e| unreadable(part, format!("line {}: {e}", n + 1)))?;
                self.apply(&mut app, event);
            }
        }
        Ok(Some(app))
    }

    fn apply(&self, app: &mut Replayed, event: Event) {
        match event {
            Event::AppStart { name, tenant, submitted_ms, limits, .. } => {
                let s = &mut app.status;
                s.name = name;
                s.tenant = tenant;
                s.submitted_ms = submitted_ms;
                s.set_state(ApplicationState::Running);
                s.limits = Some(TaskLimits {
                    memory_bytes: limits.memory_bytes,
                    wall_time_ms: limits.wall_time_ms,
                    fuel: limits.fuel,
                    output_bytes: limits.output_bytes,
                });
            }
            Event::AppEnd(end) => {
                app.history.close(end.time_ms, &end.error);
                let s = &mut app.status;
                s.set_state(ApplicationState::from_label(&end.state));
                s.error = end.error;
                s.duration_ms = end.duration_ms;
                s.jobs = end.jobs;
                s.tasks_failed = end.tasks_failed;
                s.stages_resubmitted = end.stages_resubmitted;
                app.detail.stdout = end.stdout.into_bytes();
                app.detail.stderr = end.stderr.into_bytes();
                app.detail.tasks_dropped = end.tasks_dropped;
                app.detail.tasks = end
                    .tasks
                    .into_iter()
                    .map(|t| TaskRecord {
                        job_id: t.job,
                        stage_id: t.stage,
                        partition: t.partition,
                        attempt: t.attempt,
                        executor_id: t.executor,
                        ok: t.ok,
                        error: t.error,
                        failure_kind: FailureKind::from_label(&t.failure_kind).into(),
                        duration_us: t.duration_us,
                        logs: t.logs.into_bytes(),
                    })
                    .collect();
            }
            Event::ExecutorAdded { executor, address, slots, .. } => {
                let mut status = ExecutorStatus { executor_id: executor.clone(), address, slots, ..Default::default() };
                status.set_state(ExecutorState::Alive);
                self.executors.lock().expect("history lock").insert(executor, status);
            }
            Event::ExecutorRemoved { executor, address, state, reason, .. } => {
                let mut executors = self.executors.lock().expect("history lock");
                let status = executors.entry(executor.clone()).or_insert_with(|| ExecutorStatus {
                    executor_id: executor,
                    address,
                    ..Default::default()
                });
                let state = [ExecutorState::Lost, ExecutorState::Stopped, ExecutorState::Released]
                    .into_iter()
                    .find(|s| s.label() == state)
                    .unwrap_or(ExecutorState::Lost);
                status.set_state(state);
                status.reason = reason;
            }
            other => app.history.apply(other),
        }
    }

    fn may_see(&self, viewer: Option<&Tenant>, app: &Replayed) -> bool {
        self.tenants.may_see(viewer, &app.status.tenant)
    }

    fn with_app<T>(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        f: impl FnOnce(&Replayed) -> T,
    ) -> Result<T, DriverError> {
        let apps = self.apps.lock().expect("history lock");
        let app =
            apps.get(&id.0).filter(|a| self.may_see(viewer, a)).ok_or_else(|| DriverError::unknown_app(id, viewer))?;
        Ok(f(app))
    }
}

impl Source for History {
    fn status<'a>(&'a self, viewer: Option<&'a Tenant>) -> BoxFuture<'a, ClusterStatus> {
        let applications = self.applications(viewer);
        let executors = self.executors.lock().expect("history lock").values().cloned().collect();
        Box::pin(std::future::ready(ClusterStatus { executors, applications }))
    }
    fn applications(&self, viewer: Option<&Tenant>) -> Vec<AppStatus> {
        self.rescan();
        let apps = self.apps.lock().expect("history lock");
        apps.values().filter(|a| self.may_see(viewer, a)).map(|a| a.status.clone()).collect()
    }
    fn app_detail(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<AppDetail, DriverError> {
        self.with_app(viewer, id, |a| AppDetail { app: Some(a.status.clone()), ..a.detail.clone() })
    }
    fn jobs(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<JobData>, DriverError> {
        self.with_app(viewer, id, |a| a.history.jobs())
    }
    fn job(&self, viewer: Option<&Tenant>, id: &AppId, job: u64) -> Result<Option<JobData>, DriverError> {
        self.with_app(viewer, id, |a| a.history.job(job))
    }
    fn stages(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<StageData>, DriverError> {
        self.with_app(viewer, id, |a| a.history.stages(&[]))
    }
    fn stage(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        stage: u64,
    ) -> Result<Option<(StageData, Vec<TaskData>)>, DriverError> {
        self.with_app(viewer, id, |a| a.history.stage(stage, &[]))
    }
    fn storage(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<DatasetStorage>, DriverError> {
        // A logged application has ended, and its kept partitions with it.
        self.with_app(viewer, id, |_| Vec::new())
    }
    fn kill(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<(bool, ApplicationState), DriverError> {
        self.with_app(viewer, id, |a| (false, a.status.state()))
    }
    fn authenticate(&self, tenant: Option<&str>, token: Option<&str>) -> Result<Arc<Tenant>, AuthError> {
        self.tenants.authenticate(tenant, token)
    }
    fn tenants_configured(&self) -> bool {
        self.tenants.configured()
    }
    fn environment(&self) -> Vec<ConfigEntry> {
        vec![
            ConfigEntry { key: "server".into(), value: "history".into() },
            ConfigEntry { key: "event_log_dir".into(), value: self.root.display().to_string() },
        ]
    }
}
