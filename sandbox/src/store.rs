//! Per-instance policy: resource limits and deny-by-default WASI.

use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Hard limits for one sandboxed instance.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Largest table, in elements.
    pub table_elements: usize,
    /// Most instances (core modules of the component) one store may create.
    pub instances: usize,
    /// Most bytes of stdout (and, separately, stderr) kept.
    pub output_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            instances: 32,
            output_bytes: 1 << 20,
        }
    }
}

impl SandboxLimits {
    /// The wasmtime limiter for a store.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .table_elements(self.table_elements)
            .instances(self.instances)
            .tables(self.instances * 4)
            .memories(self.instances * 2)
            .trap_on_grow_failure(true)
            .build()
    }
}

/// A guest's captured stdout and stderr.
#[derive(Debug, Clone)]
pub struct CapturedOutput {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl CapturedOutput {
    /// What the guest wrote to stdout.
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.contents().to_vec()
    }

    /// What the guest wrote to stderr.
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr.contents().to_vec()
    }
}

/// WASI for a sandbox: no preopened directories, no environment, no arguments, no
/// sockets, no stdin; stdout and stderr captured up to `limits.output_bytes` each.
pub fn sandbox_wasi(limits: &SandboxLimits) -> (WasiCtx, CapturedOutput) {
    let out = CapturedOutput {
        stdout: MemoryOutputPipe::new(limits.output_bytes),
        stderr: MemoryOutputPipe::new(limits.output_bytes),
    };
    let ctx = WasiCtxBuilder::new()
        .stdout(out.stdout.clone())
        .stderr(out.stderr.clone())
        .allow_blocking_current_thread(false)
        .build();
    (ctx, out)
}
