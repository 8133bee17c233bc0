//! The `Engine` every Spindle process builds: one per process, shared by all tasks.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel};

use crate::SandboxError;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Largest native stack a guest may use, in bytes.
    pub max_wasm_stack: usize,
    /// Use the pooling instance allocator (faster instantiation, reserves address space).
    pub pooling: bool,
    /// With `pooling`: how many component instances may be live at once (tasks in
    /// slots, or `main`s of running applications).
    pub pool_instances: u32,
    /// With `pooling`: the largest linear memory an instance may have, in bytes.
    pub pool_max_memory: usize,
    /// Meter fuel, so that sandboxes can be given a fuel limit. Costs about a third
    /// of the speed of tight guest loops; off by default.
    pub fuel: bool,
}

/// How often the engine's epoch advances: the resolution of wall-time limits, and
/// how often a running guest yields to the host's other work.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each pooled memory and table kept mapped between instances.
const KEEP_RESIDENT: usize = 2 << 20;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_wasm_stack: 1 << 20,
            pooling: true,
            pool_instances: 64,
            pool_max_memory: 256 << 20,
            fuel: false,
        }
    }
}

fn base_config(cfg: &EngineConfig) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.cranelift_opt_level(OptLevel::Speed);
    c.max_wasm_stack(cfg.max_wasm_stack);
    c.epoch_interruption(true);
    c.consume_fuel(cfg.fuel);
    // `SPINDLE_PERFMAP=1` names guest functions for `perf` (writes /tmp/perf-PID.map).
    if std::env::var_os("SPINDLE_PERFMAP").is_some_and(|v| v == "1") {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    c
}

/// Builds the engine: component model, async host calls, Cranelift at speed, epoch
/// interruption (a thread advances the epoch every [`EPOCH_TICK`] while the engine
/// lives), and (by default) the pooling allocator, so a task's instance reuses
/// pre-reserved memory instead of mapping and unmapping its own. Falls back to
/// on-demand allocation if the address space for the pool cannot be reserved.
pub fn new_engine(cfg: &EngineConfig) -> Result<Engine, SandboxError> {
    let engine = build(cfg)?;
    start_epoch_ticker(&engine);
    Ok(engine)
}

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("spindle-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the epoch thread; wall-time limits will not fire");
    }
}

fn build(cfg: &EngineConfig) -> Result<Engine, SandboxError> {
    if cfg.pooling {
        let n = cfg.pool_instances.max(1);
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .total_stacks(n)
            .table_elements(crate::limits::MAX_TABLE_ELEMENTS)
            .max_memory_size(cfg.pool_max_memory)
            // Decommit what lies past the resident part as soon as a task ends: a
            // batch holds its slots until it fills, so the pool ran out of free
            // memories now and then and took a slow retry path (which captures a
            // backtrace when RUST_BACKTRACE is set).
            .decommit_batch_size(1)
            // Reset a finished task's memory with `memset` (only the pages it dirtied,
            // where the kernel reports them) instead of `madvise`: the next task in
            // the slot takes no page faults, and the process no TLB shootdowns.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut c = base_config(cfg);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&c) {
            Ok(e) => return Ok(e),
            Err(e) => tracing::warn!(error = %e, "pooling allocator unavailable; allocating instances on demand"),
        }
    }
    Engine::new(&base_config(cfg)).map_err(|e| SandboxError::Engine(format!("{e:#}")))
}
