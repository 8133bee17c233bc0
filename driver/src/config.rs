//! Driver settings, each with a documented default, and the TOML config file that
//! sets them (`spindle driver --config FILE`; every key is documented in
//! `docs/driver-config.md`, unknown keys are refused).

use std::path::Path;
use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;
use spindle_sandbox::limits::{bytes, duration};
use spindle_sandbox::{EngineConfig, SandboxLimits};

use crate::cluster::LivenessSettings;
use crate::tenants::TenantConfig;

/// Speculative execution: stragglers relaunched elsewhere, first to finish wins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speculation {
    /// Whether to speculate at all. Default off, as in Spark.
    pub enabled: bool,
    /// A task is a straggler when it has run this many times the median
    /// successful task time of its stage. Default 1.5.
    pub multiplier: f64,
    /// ... once this fraction of the stage's tasks has finished. Default 0.75.
    pub quantile: f64,
    /// ... and it has run at least this long. Default 100 ms.
    pub min_runtime: Duration,
}

impl Default for Speculation {
    fn default() -> Self {
        Speculation { enabled: false, multiplier: 1.5, quantile: 0.75, min_runtime: Duration::from_millis(100) }
    }
}

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Attempts per task before its job fails, for retryable (infrastructure)
    /// failures. Default 4, as in Spark.
    pub max_task_attempts: u32,
    /// Times a stage may be started within one job because shuffle outputs it
    /// reads were lost, before the job fails. Default 4, as in Spark.
    pub max_stage_attempts: u32,
    /// Heartbeat interval and timeout, and how long tasks wait with no executor.
    pub liveness: LivenessSettings,
    /// Speculative execution of stragglers.
    pub speculation: Speculation,
    /// Executors excluded from an application after repeated failures.
    pub exclude_on_failure: crate::scheduler::exclusions::ExcludeOnFailure,
    /// Growing and shrinking the cluster with its work.
    pub dynamic_allocation: crate::allocation::DynamicAllocation,
    /// How long a task whose persisted input is kept on an executor waits for a
    /// slot there before it runs anywhere (and recomputes). Default 200 ms.
    pub locality_wait: Duration,
    /// Most tasks sent to each slot of an executor process beyond the one it
    /// runs, so that the next task is there when one ends. A stage gets one until
    /// its tasks are seen to be short, then as many as fit in 2 ms of its mean
    /// task time, up to this. Default 4. Not used while speculation is on (a
    /// queued task would look like a straggler).
    pub launch_ahead: u32,
    /// Largest text split, in bytes. Default 128 MiB (Spark SQL's
    /// `maxPartitionBytes`): a split is read in a stream, so its size costs no
    /// memory, and each split costs a combining table and its output.
    pub max_split_bytes: u64,
    /// Partitions when no executor is registered yet and the job does not say. Default 2.
    pub fallback_parallelism: u32,
    /// Limits of the sandbox `main` runs in. Default: 256 MiB memory, 24 h wall
    /// time, 16 MiB of output per stream.
    pub main_limits: SandboxLimits,
    /// Default limits of every task (memory, wall time, fuel, output); an
    /// application may ask for others, up to its tenant's maximum.
    pub task_limits: SandboxLimits,
    /// Largest result a `collect` may bring back to the driver, in bytes. Default 1 GiB.
    pub max_result_bytes: u64,
    /// Largest component accepted at submit, in bytes. Default 128 MiB.
    pub max_component_bytes: usize,
    /// Task logs and failures kept per application for `spindle logs`, in bytes.
    /// Default 64 MiB.
    pub app_log_bytes: usize,
    /// The cluster secret executors must present (and the driver presents to
    /// them). `None`: an open cluster, for development.
    pub secret: Option<String>,
    /// Longest chain of datasets an application may build (planning is recursive:
    /// far deeper chains would overflow the driver's stack).
    pub max_lineage_depth: u32,
    /// Most pipelines one task may plan (a coalesce of unions of coalesces...
    /// multiplies them).
    pub max_task_pipelines: u64,
    /// Most bytes of shuffle blocks one application may hold on one executor,
    /// until shuffles spill to disk: past it the application fails, the executor
    /// stays up for the others. Default 4 GiB.
    pub max_shuffle_memory: u64,
    /// Longest a component may take to compile before its submission is refused.
    /// Default 60 s.
    pub compile_timeout: Duration,
    /// Bytes of stored components the driver keeps; past it, those no running
    /// application uses are dropped, least recently submitted first. Default 1 GiB.
    pub component_budget: u64,
    /// Finished applications kept for `spindle status` and `spindle logs`, at
    /// most this many ... Default 100.
    pub retained_applications: usize,
    /// ... and none longer than this after it finished. Default 1 h.
    pub application_retention: Duration,
    /// Where every application's events are logged, for `spindle history`
    /// (`None`: nowhere, the default).
    pub event_log_dir: Option<std::path::PathBuf>,
    /// JSON bytes per part of an event log before it is rotated. Default 128 MiB.
    pub event_log_rotate_bytes: u64,
    /// Tenants allowed to submit. Empty: no authentication, one `default` tenant.
    pub tenants: Vec<TenantConfig>,
    /// Object-store options by URL prefix (`[[stores]]`), over the driver's
    /// environment: what an open driver's applications, and tenants' locations
    /// under them, reach stores with.
    pub stores: Vec<spindle_store::Grant>,
    /// The files this config was read from: no job may read them (they hold tokens).
    pub config_files: Vec<std::path::PathBuf>,
    /// Engine settings.
    pub engine: EngineConfig,
    /// TLS for the driver's server and its connections to executors (set from
    /// the command line; default: none).
    pub tls: spindle_proto::tls::Tls,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            max_task_attempts: 4,
            max_stage_attempts: 4,
            locality_wait: Duration::from_millis(200),
            launch_ahead: 4,
            liveness: LivenessSettings::default(),
            speculation: Speculation::default(),
            exclude_on_failure: Default::default(),
            dynamic_allocation: Default::default(),
            max_split_bytes: 128 << 20,
            fallback_parallelism: 2,
            main_limits: SandboxLimits {
                wall_time: Duration::from_secs(24 * 3600),
                output_bytes: 16 << 20,
                ..SandboxLimits::default()
            },
            task_limits: SandboxLimits::default(),
            max_result_bytes: 1 << 30,
            max_component_bytes: spindle_sandbox::artifact::MAX_COMPONENT_BYTES,
            app_log_bytes: 64 << 20,
            secret: None,
            tenants: Vec::new(),
            stores: Vec::new(),
            config_files: Vec::new(),
            max_lineage_depth: 1000,
            max_task_pipelines: 10_000,
            max_shuffle_memory: 4 << 30,
            compile_timeout: Duration::from_secs(60),
            component_budget: 1 << 30,
            retained_applications: 100,
            application_retention: Duration::from_secs(3600),
            event_log_dir: None,
            event_log_rotate_bytes: 128 << 20,
            engine: EngineConfig::default(),
            tls: spindle_proto::tls::Tls::default(),
        }
    }
}

/// Why a config file was refused: the key (or the file) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {}: {error}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong
    /// type (sizes are `256MiB`, `1GiB`, `4096`; durations `500ms`, `30s`, `10m`).
    #[error("config file{}: {error}", path_suffix(.path))]
    Syntax {
        /// The file, when the config came from one.
        path: Option<std::path::PathBuf>,
        /// The parser's message, with the line and key.
        error: Box<toml::de::Error>,
    },
    /// A key's value is out of range or does not fit with another's.
    #[error("config{}: {key}: {reason}", path_suffix(.path))]
    Invalid {
        /// The file, when the config came from one.
        path: Option<std::path::PathBuf>,
        /// The key, as written in the file (`tenants.NAME.max_task_memory`).
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
}

fn path_suffix(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref().map(|p| format!(" file {}", p.display())).unwrap_or_default()
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { path: None, key: key.into(), reason: reason.into() }
}

/// The config file's shape: what serde reads before the checks in
/// [`DriverConfig::parse`]. Sizes and durations are typed here, so a bad one is
/// refused by the parser with its line and key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    secret: Option<String>,
    max_task_attempts: Option<u32>,
    max_stage_attempts: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    heartbeat_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    heartbeat_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    no_executor_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    locality_wait: Option<Duration>,
    launch_ahead: Option<u32>,
    #[serde(default)]
    speculation: SpeculationFile,
    #[serde(default)]
    exclude_on_failure: ExcludeFile,
    #[serde(default)]
    dynamic_allocation: AllocationFile,
    max_split_size: Option<ByteSize>,
    max_result_size: Option<ByteSize>,
    max_component_size: Option<ByteSize>,
    fallback_parallelism: Option<u32>,
    app_log_budget: Option<ByteSize>,
    fuel_metering: Option<bool>,
    #[serde(default)]
    task_limits: LimitsFile,
    #[serde(default)]
    main_limits: LimitsFile,
    #[serde(default)]
    tenants: Vec<TenantFile>,
    #[serde(default)]
    stores: Vec<crate::stores::StoreFile>,
    max_lineage_depth: Option<u32>,
    max_task_pipelines: Option<u64>,
    max_shuffle_memory: Option<ByteSize>,
    #[serde(default, with = "humantime_serde")]
    compile_timeout: Option<Duration>,
    component_budget: Option<ByteSize>,
    retained_applications: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    application_retention: Option<Duration>,
    event_log_dir: Option<std::path::PathBuf>,
    event_log_rotate: Option<ByteSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeculationFile {
    enabled: Option<bool>,
    multiplier: Option<f64>,
    quantile: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    min_runtime: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationFile {
    enabled: Option<bool>,
    launcher: Option<String>,
    min_executors: Option<u32>,
    max_executors: Option<u32>,
    executor_slots: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    scheduler_backlog_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    sustained_scheduler_backlog_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    executor_idle_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    launch_timeout: Option<Duration>,
    executor_args: Option<Vec<String>>,
    driver_url: Option<String>,
    kubernetes: Option<crate::allocation::kubernetes::PodFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExcludeFile {
    enabled: Option<bool>,
    max_failures_per_executor: Option<u32>,
    max_straggles_per_executor: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    memory: Option<ByteSize>,
    #[serde(default, with = "humantime_serde")]
    wall_time: Option<Duration>,
    fuel: Option<u64>,
    output: Option<ByteSize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    name: String,
    token: String,
    weight: Option<u32>,
    max_applications: Option<u32>,
    max_slots: Option<u32>,
    max_task_memory: Option<ByteSize>,
    #[serde(default, with = "humantime_serde")]
    max_task_wall_time: Option<Duration>,
    max_task_fuel: Option<u64>,
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default)]
    locations: Vec<crate::stores::LocationFile>,
    max_component_size: Option<ByteSize>,
    max_lineage_depth: Option<u32>,
    max_task_pipelines: Option<u64>,
    max_shuffle_memory: Option<ByteSize>,
}

/// The deepest lineage a config may allow: planning recurses once per dataset.
const MAX_LINEAGE_DEPTH: u32 = 2000;

/// Most tasks queued per executor slot (`launch_ahead`).
const MAX_LAUNCH_AHEAD: u32 = 16;

impl DriverConfig {
    /// Tasks leased per slot of an executor process beyond the one it runs:
    /// `launch_ahead`, or 0 while speculation is on.
    pub fn effective_launch_ahead(&self) -> u32 {
        if self.speculation.enabled { 0 } else { self.launch_ahead }
    }

    /// Reads a TOML config file over the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
        let mut c = Self::parse(&text).map_err(|e| match e {
            ConfigError::Syntax { error, .. } => ConfigError::Syntax { path: Some(path.to_path_buf()), error },
            ConfigError::Invalid { key, reason, .. } => {
                ConfigError::Invalid { path: Some(path.to_path_buf()), key, reason }
            }
            read => read,
        })?;
        c.config_files = vec![path.to_path_buf()];
        Ok(c)
    }

    /// Parses a TOML config over the defaults.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let file: File =
            toml::from_str(text).map_err(|error| ConfigError::Syntax { path: None, error: Box::new(error) })?;
        Self::from_file(file)
    }

    /// Reads a TOML table (the layered configuration's cluster keys) over the defaults.
    pub fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let file: File = toml::Value::Table(table)
            .try_into()
            .map_err(|error| ConfigError::Syntax { path: None, error: Box::new(error) })?;
        Self::from_file(file)
    }

    fn from_file(file: File) -> Result<Self, ConfigError> {
        let mut c = DriverConfig { secret: file.secret, ..DriverConfig::default() };
        if let Some(n) = file.max_task_attempts {
            c.max_task_attempts = n.max(1);
        }
        if let Some(n) = file.max_stage_attempts {
            c.max_stage_attempts = n.max(1);
        }
        if let Some(d) = file.heartbeat_interval {
            c.liveness.heartbeat_interval = d.max(Duration::from_millis(10));
        }
        if let Some(d) = file.heartbeat_timeout {
            c.liveness.heartbeat_timeout = d;
        }
        if c.liveness.heartbeat_timeout <= c.liveness.heartbeat_interval {
            return Err(invalid(
                "heartbeat_timeout",
                format!(
                    "{} must be longer than heartbeat_interval ({})",
                    duration(c.liveness.heartbeat_timeout),
                    duration(c.liveness.heartbeat_interval)
                ),
            ));
        }
        if let Some(d) = file.no_executor_timeout {
            c.liveness.no_executor_timeout = d;
        }
        if let Some(d) = file.locality_wait {
            c.locality_wait = d;
        }
        if let Some(n) = file.launch_ahead {
            if n > MAX_LAUNCH_AHEAD {
                return Err(invalid("launch_ahead", format!("{n} is over {MAX_LAUNCH_AHEAD}")));
            }
            c.launch_ahead = n;
        }
        let spec = &file.speculation;
        c.speculation.enabled = spec.enabled.unwrap_or(false);
        if let Some(m) = spec.multiplier {
            if m.is_nan() || m < 1.0 {
                return Err(invalid("speculation.multiplier", format!("{m} is below 1")));
            }
            c.speculation.multiplier = m;
        }
        if let Some(q) = spec.quantile {
            if !(0.0..=1.0).contains(&q) {
                return Err(invalid("speculation.quantile", format!("{q} is not between 0 and 1")));
            }
            c.speculation.quantile = q;
        }
        if let Some(d) = spec.min_runtime {
            c.speculation.min_runtime = d;
        }
        let ex = &file.exclude_on_failure;
        let exclude = &mut c.exclude_on_failure;
        exclude.enabled = ex.enabled.unwrap_or(exclude.enabled);
        exclude.max_failures_per_executor =
            ex.max_failures_per_executor.unwrap_or(exclude.max_failures_per_executor).max(1);
        exclude.max_straggles_per_executor =
            ex.max_straggles_per_executor.unwrap_or(exclude.max_straggles_per_executor).max(1);
        if let Some(d) = ex.timeout {
            exclude.timeout = d;
        }
        c.dynamic_allocation = allocation(&file.dynamic_allocation)?;
        if let Some(s) = file.max_split_size {
            c.max_split_bytes = s.as_u64();
        }
        if let Some(s) = file.max_result_size {
            c.max_result_bytes = s.as_u64();
        }
        if let Some(s) = file.max_component_size {
            c.max_component_bytes = component_size("max_component_size", s)?;
        }
        if let Some(s) = file.max_shuffle_memory {
            c.max_shuffle_memory = s.as_u64();
        }
        if let Some(d) = file.compile_timeout {
            c.compile_timeout = d.max(Duration::from_secs(1));
        }
        if let Some(s) = file.component_budget {
            c.component_budget = s.as_u64();
        }
        if let Some(n) = file.retained_applications {
            c.retained_applications = n;
        }
        if let Some(d) = file.application_retention {
            c.application_retention = d;
        }
        if let Some(d) = file.event_log_dir {
            c.event_log_dir = Some(d);
        }
        if let Some(s) = file.event_log_rotate {
            c.event_log_rotate_bytes = s.as_u64().max(1 << 20);
        }
        if let Some(n) = file.fallback_parallelism {
            c.fallback_parallelism = n.max(1);
        }
        if let Some(s) = file.app_log_budget {
            c.app_log_bytes = usize_of("app_log_budget", s)?;
        }
        c.engine.fuel = file.fuel_metering.unwrap_or(false);
        if let Some(n) = file.max_lineage_depth {
            c.max_lineage_depth = lineage_depth("max_lineage_depth", n)?;
        }
        if let Some(n) = file.max_task_pipelines {
            c.max_task_pipelines = n.max(1);
        }
        apply_limits(&mut c.task_limits, &file.task_limits, "task_limits")?;
        apply_limits(&mut c.main_limits, &file.main_limits, "main_limits")?;
        c.stores = crate::stores::stores(&file.stores)?;
        for t in file.tenants {
            let key = |k: &str| format!("tenants.{}.{k}", t.name);
            if c.tenants.iter().any(|o| o.name == t.name) {
                return Err(invalid(format!("tenants.{}", t.name), "the tenant is listed twice"));
            }
            if t.token.len() < 8 {
                return Err(invalid(key("token"), "it is shorter than 8 characters"));
            }
            let mut roots = Vec::new();
            for r in &t.roots {
                let path = std::path::Path::new(r);
                if !path.is_absolute() {
                    return Err(invalid(key("roots"), format!("{r} is not an absolute path")));
                }
                let resolved = path.canonicalize().map_err(|e| invalid(key("roots"), format!("{r}: {e}")))?;
                if !resolved.is_dir() {
                    return Err(invalid(key("roots"), format!("{r} is not a directory")));
                }
                roots.push(resolved);
            }
            let locations = crate::stores::locations(&key("locations"), &t.locations, &c.stores)?;
            c.tenants.push(TenantConfig {
                roots,
                locations,
                max_component_bytes: t
                    .max_component_size
                    .map(|s| component_size(&key("max_component_size"), s))
                    .transpose()?,
                max_lineage_depth: t
                    .max_lineage_depth
                    .map(|n| lineage_depth(&key("max_lineage_depth"), n))
                    .transpose()?,
                max_task_pipelines: t.max_task_pipelines.map(|n| n.max(1)),
                max_shuffle_memory: t.max_shuffle_memory.map(|s| s.as_u64()),
                weight: t.weight.unwrap_or(1).max(1),
                max_applications: t.max_applications.unwrap_or(0),
                max_slots: t.max_slots.unwrap_or(0),
                max_task_memory: t.max_task_memory.map(|s| s.as_u64()),
                max_task_wall_time: t.max_task_wall_time,
                max_task_fuel: t.max_task_fuel,
                name: t.name,
                token: t.token,
            });
        }
        Ok(c)
    }
}

fn allocation(f: &AllocationFile) -> Result<crate::allocation::DynamicAllocation, ConfigError> {
    use crate::allocation::LauncherKind;
    let mut a = crate::allocation::DynamicAllocation { enabled: f.enabled.unwrap_or(false), ..Default::default() };
    a.launcher = match (f.launcher.as_deref().unwrap_or("process"), &f.kubernetes) {
        ("process", None) => LauncherKind::Process,
        ("process", Some(_)) => {
            return Err(invalid("dynamic_allocation.kubernetes", "the section is set but the launcher is `process`"));
        }
        ("kubernetes", pods) => LauncherKind::Kubernetes(Box::new(
            crate::allocation::kubernetes::PodSettings::from_file(pods.as_ref())
                .map_err(|reason| invalid("dynamic_allocation.kubernetes", reason))?,
        )),
        (other, _) => {
            return Err(invalid("dynamic_allocation.launcher", format!("`{other}`: use `process` or `kubernetes`")));
        }
    };
    a.min_executors = f.min_executors.unwrap_or(a.min_executors);
    a.max_executors = f.max_executors.unwrap_or(a.max_executors);
    if a.max_executors == 0 || a.min_executors > a.max_executors {
        return Err(invalid(
            "dynamic_allocation",
            format!(
                "min_executors ({}) must be at most max_executors ({}), which must be at least 1",
                a.min_executors, a.max_executors
            ),
        ));
    }
    a.executor_slots = f.executor_slots.unwrap_or(a.executor_slots).max(1);
    if let Some(d) = f.scheduler_backlog_timeout {
        a.scheduler_backlog_timeout = d;
        a.sustained_scheduler_backlog_timeout = d;
    }
    if let Some(d) = f.sustained_scheduler_backlog_timeout {
        a.sustained_scheduler_backlog_timeout = d;
    }
    if let Some(d) = f.executor_idle_timeout {
        a.executor_idle_timeout = d;
    }
    if let Some(d) = f.launch_timeout {
        a.launch_timeout = d;
    }
    a.executor_args = f.executor_args.clone().unwrap_or_default();
    a.driver_url = f.driver_url.clone();
    Ok(a)
}

fn lineage_depth(key: &str, n: u32) -> Result<u32, ConfigError> {
    if !(1..=MAX_LINEAGE_DEPTH).contains(&n) {
        return Err(invalid(key, format!("{n}: it must be 1 to {MAX_LINEAGE_DEPTH} (planning recurses that deep)")));
    }
    Ok(n)
}

/// A component size limit: at most what one gRPC message may carry.
fn component_size(key: &str, s: ByteSize) -> Result<usize, ConfigError> {
    let max = spindle_proto::MAX_MESSAGE_BYTES as u64;
    if s.as_u64() > max {
        return Err(invalid(
            key,
            format!("{}: it must be at most {} (one gRPC message)", bytes(s.as_u64()), bytes(max)),
        ));
    }
    Ok(s.as_u64() as usize)
}

fn usize_of(key: &str, s: ByteSize) -> Result<usize, ConfigError> {
    usize::try_from(s.as_u64()).map_err(|_| invalid(key, format!("{}: too large for this machine", bytes(s.as_u64()))))
}

fn apply_limits(l: &mut SandboxLimits, f: &LimitsFile, section: &str) -> Result<(), ConfigError> {
    if let Some(s) = f.memory {
        l.memory_bytes = usize_of(&format!("{section}.memory"), s)?;
    }
    if let Some(d) = f.wall_time {
        l.wall_time = d;
    }
    if let Some(n) = f.fuel {
        l.fuel = (n > 0).then_some(n);
    }
    if let Some(s) = f.output {
        l.output_bytes = usize_of(&format!("{section}.output"), s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_with_units() {
        let c = DriverConfig::parse("max_split_size = \"256MiB\"\nmax_result_size = \"1 GiB\"\ncomponent_budget = \"4096\"\nlocality_wait = \"250ms\"\ncompile_timeout = \"10m\"\n").unwrap();
        assert_eq!((c.max_split_bytes, c.max_result_bytes, c.component_budget), (256 << 20, 1 << 30, 4096));
        assert_eq!((c.locality_wait, c.compile_timeout), (Duration::from_millis(250), Duration::from_secs(600)));
        let err = DriverConfig::parse("max_split_size = \"12 lumps\"").unwrap_err().to_string();
        assert!(err.contains("max_split_size"), "{err}");
        let err = DriverConfig::parse("locality_wait = \"10\"").unwrap_err().to_string();
        assert!(err.contains("locality_wait"), "{err}");
    }

    #[test]
    fn tenants_may_have_their_own_rules() {
        let c = DriverConfig::parse(
            r#"
            max_task_pipelines = 500
            max_shuffle_memory = "2GiB"
            compile_timeout = "20s"
            component_budget = "256MiB"
            retained_applications = 10
            application_retention = "30m"
            [[tenants]]
            name = "small"
            token = "small-token"
            max_component_size = "8MiB"
            max_lineage_depth = 100
            max_shuffle_memory = "64MiB"
            [[tenants]]
            name = "big"
            token = "big-token-1"
            "#,
        )
        .unwrap();
        assert_eq!((c.compile_timeout, c.component_budget), (Duration::from_secs(20), 256 << 20));
        assert_eq!((c.retained_applications, c.application_retention), (10, Duration::from_secs(1800)));
        let tenants = crate::tenants::Tenants::new(&c.tenants);
        let small = tenants.authenticate(Some("small"), Some("small-token")).unwrap().rules(&c);
        let big = tenants.authenticate(Some("big"), Some("big-token-1")).unwrap().rules(&c);
        assert_eq!(
            small,
            crate::tenants::AppRules {
                max_component_bytes: 8 << 20,
                max_lineage_depth: 100,
                max_task_pipelines: 500,
                max_shuffle_memory: 64 << 20
            }
        );
        assert_eq!(
            (big.max_component_bytes, big.max_lineage_depth, big.max_shuffle_memory),
            (128 << 20, 1000, 2 << 30)
        );
        let err =
            DriverConfig::parse("[[tenants]]\nname = \"x\"\ntoken = \"x-token-1\"\nmax_component_size = \"1GiB\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("tenants.x.max_component_size: 1 GiB: it must be at most 512 MiB"), "{err}");
    }

    #[test]
    fn the_kubernetes_example_config_is_valid() {
        // The `driver.toml` block of deploy/kubernetes/config.yaml, unindented.
        let yaml = include_str!("../../deploy/kubernetes/config.yaml");
        let block = yaml.split("driver.toml: |\n").nth(1).unwrap().split("\n---").next().unwrap();
        let toml: String = block.lines().map(|l| l.strip_prefix("    ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
        let c = DriverConfig::parse(&toml).unwrap();
        let a = &c.dynamic_allocation;
        assert!(a.enabled && a.min_executors == 1 && a.max_executors == 10);
        let crate::allocation::LauncherKind::Kubernetes(pods) = &a.launcher else { panic!("{:?}", a.launcher) };
        assert_eq!(pods.secret, Some(("spindle".into(), "secret".into())));
        assert_eq!(a.driver_url.as_deref(), Some("http://spindle-driver.spindle.svc:7077"));
    }

    #[test]
    fn plan_limits_are_bounded() {
        let c = DriverConfig::parse("max_lineage_depth = 50\nmax_task_pipelines = 7\n").unwrap();
        assert_eq!((c.max_lineage_depth, c.max_task_pipelines), (50, 7));
        assert!(DriverConfig::parse("max_lineage_depth = 100000\n").unwrap_err().to_string().contains("1 to 2000"));
        assert_eq!(DriverConfig::default().max_lineage_depth, 1000);
    }

    #[test]
    fn a_config_file_sets_limits_and_tenants_and_refuses_unknown_keys() {
        let c = DriverConfig::parse(
            r#"
            secret = "cluster-secret"
            [task_limits]
            memory = "128MiB"
            wall_time = "30s"
            [[tenants]]
            name = "etl"
            token = "etl-token-1"
            weight = 3
            max_applications = 2
            max_task_memory = "512MiB"
            "#,
        )
        .unwrap();
        assert_eq!(c.secret.as_deref(), Some("cluster-secret"));
        assert_eq!(c.task_limits.memory_bytes, 128 << 20);
        assert_eq!(c.task_limits.wall_time, Duration::from_secs(30));
        assert_eq!(c.tenants[0].weight, 3);
        assert_eq!(c.tenants[0].max_task_memory, Some(512 << 20));
        let c = DriverConfig::parse(
            r#"
            heartbeat_interval = "200ms"
            heartbeat_timeout = "2s"
            no_executor_timeout = "5s"
            max_stage_attempts = 6
            [speculation]
            enabled = true
            multiplier = 2.0
            "#,
        )
        .unwrap();
        assert_eq!(c.liveness.heartbeat_timeout, Duration::from_secs(2));
        assert_eq!(c.liveness.no_executor_timeout, Duration::from_secs(5));
        assert_eq!(c.max_stage_attempts, 6);
        assert!(c.speculation.enabled);
        assert_eq!(c.speculation.multiplier, 2.0);
        assert_eq!(c.effective_launch_ahead(), 0, "nothing is launched ahead while speculation is on");
        assert_eq!(DriverConfig::default().effective_launch_ahead(), 4);
        assert_eq!(DriverConfig::parse("launch_ahead = 3").unwrap().effective_launch_ahead(), 3);
        let err = DriverConfig::parse("launch_ahead = 17").unwrap_err().to_string();
        assert!(err.contains("launch_ahead: 17 is over 16"), "{err}");
        let err =
            DriverConfig::parse("heartbeat_interval = \"5s\"\nheartbeat_timeout = \"1s\"").unwrap_err().to_string();
        assert!(err.contains("must be longer"), "{err}");
        let err = DriverConfig::parse("secrte = \"x\"").unwrap_err().to_string();
        assert!(err.contains("unknown field `secrte`"), "{err}");
    }
}
