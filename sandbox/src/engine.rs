//! The `Engine` every Spindle process builds: one per process, shared by all tasks.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel};

use crate::SandboxError;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Largest native stack a guest may use, in bytes.
    pub max_wasm_stack: usize,
    /// Use the pooling instance allocator (faster instantiation, reserves address space).
    pub pooling: bool,
    /// With `pooling`: how many instances may be live at once.
    pub pool_instances: u32,
    /// With `pooling`: the largest linear memory an instance may have, in bytes.
    pub pool_max_memory: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_wasm_stack: 1 << 20,
            pooling: false,
            pool_instances: 64,
            pool_max_memory: 256 << 20,
        }
    }
}

/// Builds the engine: component model, async host calls, Cranelift at speed.
pub fn new_engine(cfg: &EngineConfig) -> Result<Engine, SandboxError> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.cranelift_opt_level(OptLevel::Speed);
    c.max_wasm_stack(cfg.max_wasm_stack);
    // `SPINDLE_PERFMAP=1` names guest functions for `perf` (writes /tmp/perf-PID.map).
    if std::env::var_os("SPINDLE_PERFMAP").is_some_and(|v| v == "1") {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if cfg.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(cfg.pool_instances);
        pool.total_core_instances(cfg.pool_instances * 4);
        pool.total_memories(cfg.pool_instances * 2);
        pool.total_tables(cfg.pool_instances * 4);
        pool.max_memory_size(cfg.pool_max_memory);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&c).map_err(|e| SandboxError::Engine(format!("{e:#}")))
}
