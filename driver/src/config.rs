//! Driver settings, each with a documented default.

use spindle_sandbox::{EngineConfig, SandboxLimits};

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Attempts per task before its job fails, for retryable (infrastructure)
    /// failures. Default 4, as in Spark.
    pub max_task_attempts: u32,
    /// Largest text split, in bytes. Default 64 MiB.
    pub max_split_bytes: u64,
    /// Partitions when no executor is registered yet and the job does not say. Default 2.
    pub fallback_parallelism: u32,
    /// Limits of the sandbox `main` runs in.
    pub main_limits: SandboxLimits,
    /// Largest result a `collect` may bring back to the driver, in bytes. Default 1 GiB.
    pub max_result_bytes: u64,
    /// Engine settings.
    pub engine: EngineConfig,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            max_task_attempts: 4,
            max_split_bytes: 64 << 20,
            fallback_parallelism: 2,
            main_limits: SandboxLimits { output_bytes: 16 << 20, ..SandboxLimits::default() },
            max_result_bytes: 1 << 30,
            engine: EngineConfig::default(),
        }
    }
}
