//! Dynamic allocation: the driver sizes its cluster to its work, as Spark's
//! `spark.dynamicAllocation` does. When tasks have waited for a slot longer than
//! `scheduler_backlog_timeout`, it asks its [`Launcher`] for executors: one, then
//! twice as many each `sustained_scheduler_backlog_timeout` the backlog lasts, up
//! to what the waiting and running tasks need and `max_executors`. An executor it
//! launched that has held no task for `executor_idle_timeout` is released, down
//! to `min_executors`, but only once it holds no shuffle outputs or kept
//! partitions (an application still running may need them; its end frees them).
//!
//! - [`process`]: executors as child processes of the driver.
//! - [`kubernetes`]: executors as pods.

pub mod kubernetes;
pub mod process;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::cluster::Cluster;

/// When and how the driver grows and shrinks its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicAllocation {
    /// Whether to at all. Default off, as in Spark.
    pub enabled: bool,
    /// Which launcher starts executors. Default `process`.
    pub launcher: LauncherKind,
    /// Fewest executors kept (launched at start). Default 0.
    pub min_executors: u32,
    /// Most executors. Default 8.
    pub max_executors: u32,
    /// Slots of each launched executor. Default 2.
    pub executor_slots: u32,
    /// How long tasks wait for a slot before executors are asked for. Default 1 s.
    pub scheduler_backlog_timeout: Duration,
    /// Then, how often more are asked for while tasks still wait. Default 1 s.
    pub sustained_scheduler_backlog_timeout: Duration,
    /// A launched executor idle this long is released. Default 60 s.
    pub executor_idle_timeout: Duration,
    /// A launched executor that has not registered this long after its launch
    /// is given up (and released). Default 120 s.
    pub launch_timeout: Duration,
    /// Extra arguments for each launched `spindle executor`.
    pub executor_args: Vec<String>,
    /// The URL launched executors reach the driver at (default: the address it
    /// listens on; in Kubernetes, its Service's).
    pub driver_url: Option<String>,
}

/// Which launcher starts executors.
#[derive(Debug, Clone, PartialEq)]
pub enum LauncherKind {
    /// `spindle executor` child processes of the driver.
    Process,
    /// Pods in the driver's Kubernetes namespace.
    Kubernetes(Box<kubernetes::PodSettings>),
}

impl Default for DynamicAllocation {
    fn default() -> Self {
        DynamicAllocation {
            enabled: false,
            launcher: LauncherKind::Process,
            min_executors: 0,
            max_executors: 8,
            executor_slots: 2,
            scheduler_backlog_timeout: Duration::from_secs(1),
            sustained_scheduler_backlog_timeout: Duration::from_secs(1),
            executor_idle_timeout: Duration::from_secs(60),
            launch_timeout: Duration::from_secs(120),
            executor_args: Vec::new(),
            driver_url: None,
        }
    }
}

/// One executor to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// Names the launch; the executor registers with it (`--launch-id`).
    pub id: String,
    /// Where the executor finds the driver.
    pub driver_url: String,
    /// Its slots.
    pub slots: u32,
    /// Extra arguments for `spindle executor`.
    pub args: Vec<String>,
}

impl Launch {
    /// The `spindle executor` arguments of this launch.
    pub fn executor_args(&self) -> Vec<String> {
        let mut args = vec![
            "executor".to_string(),
            "--driver".to_string(),
            self.driver_url.clone(),
            "--slots".to_string(),
            self.slots.to_string(),
            "--launch-id".to_string(),
            self.id.clone(),
        ];
        args.extend(self.args.iter().cloned());
        args
    }
}

/// Why a launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("launching executor {launch}: {reason}")]
    /// An executor could not be started.
    Start {
        /// The launch.
        launch: String,
        /// Why.
        reason: String,
    },
    #[error("releasing executor {launch}: {reason}")]
    /// An executor could not be stopped.
    Release {
        /// The launch.
        launch: String,
        /// Why.
        reason: String,
    },
}

/// Starts and stops executors for the driver.
pub trait Launcher: Send + Sync {
    /// Starts one executor for `launch`.
    fn launch<'a>(&'a self, launch: &'a Launch) -> BoxFuture<'a, Result<(), LaunchError>>;
    /// Stops the executor of launch `id` (it gets SIGTERM, so it deregisters and
    /// lets running tasks finish).
    fn release<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LaunchError>>;
}

/// How often the allocation manager looks at the cluster.
const TICK: Duration = Duration::from_millis(100);

/// The allocation manager's state between ticks.
struct Manager {
    settings: DynamicAllocation,
    cluster: Arc<Cluster>,
    launcher: Arc<dyn Launcher>,
    driver_url: String,
    /// Launched, not registered yet: since when.
    pending: HashMap<String, Instant>,
    /// Every launch of this driver still running (registered or pending).
    launched: std::collections::HashSet<String>,
    next: u64,
    /// Since when tasks have waited (`None`: none wait).
    backlog_since: Option<Instant>,
    /// When executors may next be asked for, and how many.
    next_request: Option<Instant>,
    to_add: u32,
}

/// Starts the allocation manager of `cluster`, launching with `launcher`
/// executors that reach the driver at `driver_url`.
pub fn start(
    settings: DynamicAllocation,
    cluster: Arc<Cluster>,
    launcher: Arc<dyn Launcher>,
    driver_url: String,
) -> tokio::task::JoinHandle<()> {
    let mut m = Manager {
        settings,
        cluster,
        launcher,
        driver_url,
        pending: HashMap::new(),
        launched: Default::default(),
        next: 0,
        backlog_since: None,
        next_request: None,
        to_add: 1,
    };
    tracing::info!(
        min = m.settings.min_executors,
        max = m.settings.max_executors,
        slots = m.settings.executor_slots,
        "dynamic allocation on"
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            m.step().await;
        }
    })
}

impl Manager {
    async fn step(&mut self) {
        let load = self.cluster.load();
        let now = Instant::now();
        // Launches that registered are no longer pending; those that took too
        // long are given up.
        for e in &load.executors {
            self.pending.remove(&e.launch_id);
        }
        let timeout = self.settings.launch_timeout;
        let late: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, at)| now.duration_since(**at) > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            tracing::warn!(launch = %id, ?timeout, "a launched executor never registered: giving it up");
            self.pending.remove(&id);
            self.release(&id).await;
        }
        // Launches whose executor is gone (released, lost, exited) are forgotten.
        let registered: std::collections::HashSet<&str> = load.executors.iter().map(|e| e.launch_id.as_str()).collect();
        self.launched.retain(|id| registered.contains(id.as_str()) || self.pending.contains_key(id));

        let s = self.settings.clone();
        let total = (load.executors.len() + self.pending.len()) as u32;
        if total < s.min_executors {
            self.launch(s.min_executors - total).await;
            return;
        }
        if load.waiting > 0 {
            let since = *self.backlog_since.get_or_insert(now);
            let due = self.next_request.unwrap_or(since + s.scheduler_backlog_timeout);
            if now >= due {
                // Enough executors to run every waiting and running task at once.
                let slots = s.executor_slots.max(1) as usize;
                let needed = (load.waiting + load.leased).div_ceil(slots) as u32;
                let target = needed.min(s.max_executors);
                let add = self.to_add.min(target.saturating_sub(total));
                if add > 0 {
                    tracing::info!(
                        waiting = load.waiting,
                        executors = total,
                        add,
                        "tasks are waiting: asking for executors"
                    );
                    self.launch(add).await;
                }
                self.to_add = self.to_add.saturating_mul(2);
                self.next_request = Some(now + s.sustained_scheduler_backlog_timeout);
            }
        } else {
            self.backlog_since = None;
            self.next_request = None;
            self.to_add = 1;
        }
        // Release idle launched executors holding no data, down to the minimum.
        let mut alive = load.executors.len() as u32;
        for e in &load.executors {
            if alive <= self.settings.min_executors {
                break;
            }
            let idle = e.idle_for.is_some_and(|d| d >= self.settings.executor_idle_timeout);
            if !idle || e.holds_data || !self.launched.contains(&e.launch_id) {
                continue;
            }
            let reason = format!(
                "released by dynamic allocation: idle for {}",
                spindle_sandbox::limits::duration(self.settings.executor_idle_timeout)
            );
            if self.cluster.release_if_idle(&e.id, &reason) {
                tracing::info!(executor = %e.id, launch = %e.launch_id, "idle executor released");
                alive -= 1;
                let id = e.launch_id.clone();
                self.release(&id).await;
            }
        }
    }

    async fn launch(&mut self, n: u32) {
        for _ in 0..n {
            self.next += 1;
            let launch = Launch {
                id: format!("launch-{}", self.next),
                driver_url: self.driver_url.clone(),
                slots: self.settings.executor_slots,
                args: self.settings.executor_args.clone(),
            };
            match self.launcher.launch(&launch).await {
                Ok(()) => {
                    tracing::info!(launch = %launch.id, "executor launched");
                    self.pending.insert(launch.id.clone(), Instant::now());
                    self.launched.insert(launch.id);
                }
                Err(e) => tracing::warn!(error = %e, "could not launch an executor"),
            }
        }
    }

    async fn release(&mut self, id: &str) {
        self.launched.remove(id);
        if let Err(e) = self.launcher.release(id).await {
            tracing::warn!(error = %e, "could not release an executor");
        }
    }
}

/// Starts `driver`'s allocation manager when its config turns dynamic allocation
/// on, with the launcher it names; executors find the driver at `url` (unless
/// the config gives `driver_url`).
pub async fn start_for(
    driver: &Arc<crate::Driver>,
    url: &str,
) -> Result<Option<tokio::task::JoinHandle<()>>, crate::DriverError> {
    let settings = driver.config.dynamic_allocation.clone();
    if !settings.enabled {
        return Ok(None);
    }
    let launcher: Arc<dyn Launcher> = match &settings.launcher {
        LauncherKind::Process => {
            let program = std::env::current_exe().map_err(|e| {
                crate::DriverError::Config(format!("dynamic allocation: finding the spindle binary: {e}"))
            })?;
            Arc::new(process::ProcessLauncher::new(program, driver.config.secret.clone()))
        }
        LauncherKind::Kubernetes(pods) => Arc::new(kubernetes::PodLauncher::connect((**pods).clone()).await?),
    };
    let url = settings.driver_url.clone().unwrap_or_else(|| url.to_string());
    Ok(Some(start(settings, driver.cluster.clone(), launcher, url)))
}
