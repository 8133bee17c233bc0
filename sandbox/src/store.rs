//! Per-instance policy: deny-by-default WASI with bounded captured output, and a
//! store armed with its limits (memory and tables through the limiter, wall time
//! through the epoch, fuel when the engine meters it).

use std::future::Future;
use wasmtime::Store;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::SandboxError;
use crate::engine::EPOCH_TICK;
use crate::limits::{LimitHit, SandboxLimits};
use crate::output::BoundedOutput;

/// A guest's captured stdout and stderr.
#[derive(Debug, Clone)]
pub struct CapturedOutput {
    stdout: BoundedOutput,
    stderr: BoundedOutput,
}

impl CapturedOutput {
    /// What the guest wrote to stdout (cut with a marker past the bound).
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.contents()
    }

    /// What the guest wrote to stderr (cut with a marker past the bound).
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr.contents()
    }

    /// What the guest wrote to stdout and to stderr past the given offsets,
    /// within the bound: for streaming the output as it is written.
    pub fn since(&self, stdout: usize, stderr: usize) -> (Vec<u8>, Vec<u8>) {
        (self.stdout.kept_from(stdout), self.stderr.kept_from(stderr))
    }
}

/// WASI for a sandbox: no preopened directories, no environment, no arguments, no
/// network (every socket address is refused), no stdin; stdout and stderr
/// captured up to `limits.output_bytes` each.
pub fn sandbox_wasi(limits: &SandboxLimits) -> (WasiCtx, CapturedOutput) {
    let out = CapturedOutput {
        stdout: BoundedOutput::new(limits.output_bytes),
        stderr: BoundedOutput::new(limits.output_bytes),
    };
    let ctx = WasiCtxBuilder::new()
        .stdout(out.stdout.clone())
        .stderr(out.stderr.clone())
        .allow_blocking_current_thread(false)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    (ctx, out)
}

/// Arms a store with the time and fuel limits: the guest yields to the host every
/// epoch tick (so a busy guest never hogs a runtime thread), and fuel is set when
/// the engine meters it. Memory and table limits come from the store's limiter
/// ([`SandboxLimits::limiter`]), installed by the caller. `metered`: whether the
/// engine was built with fuel metering ([`crate::EngineConfig::fuel`]).
pub fn arm<T>(store: &mut Store<T>, limits: &SandboxLimits, metered: bool) -> Result<(), SandboxError> {
    store.epoch_deadline_async_yield_and_update(1);
    match (limits.fuel, metered) {
        (Some(fuel), true) => store.set_fuel(fuel),
        (None, true) => store.set_fuel(u64::MAX),
        (Some(_), false) => {
            return Err(SandboxError::Engine(
                "a fuel limit was asked for, but this process runs without fuel metering (start it with fuel enabled)"
                    .into(),
            ));
        }
        (None, false) => Ok(()),
    }
    .map_err(|e| SandboxError::Engine(format!("setting fuel: {e:#}")))
}

/// Runs a guest call under the wall-time limit. Past it, the call is dropped (a
/// running guest is stopped at its next epoch yield) and the limit is reported.
pub async fn within_wall_time<F: Future>(limits: &SandboxLimits, call: F) -> Result<F::Output, LimitHit> {
    // The guest checks the clock at epoch ticks, so the limit is met within a tick.
    let limit = limits.wall_time.max(EPOCH_TICK);
    tokio::time::timeout(limit, call).await.map_err(|_| LimitHit::WallTime(limits.wall_time))
}
