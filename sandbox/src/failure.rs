//! The one place that decides what a failed sandbox run means and whether running
//! it again can help. A guest error, a trap or a broken limit is deterministic:
//! the same code on the same input fails the same way, so it fails its job at
//! once. Infrastructure failures (I/O, a lost peer, a full instance pool) may
//! succeed elsewhere and are retried.

use std::fmt;

use crate::limits::{LimitHit, SandboxLimits};

/// Why a sandboxed run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The guest returned an error value.
    Guest(String),
    /// The guest trapped: a panic, an unreachable, a bad memory access.
    Trap(String),
    /// The host refused what the guest asked for: a malformed or oversized batch,
    /// a call not allowed where it was made, a result over its limit, a bad task.
    Refused(String),
    /// The guest broke one of its sandbox's limits.
    Limit(LimitHit),
    /// The host failed around the guest: I/O, a shuffle fetch, a lost peer, no
    /// free instance in the pool.
    Infrastructure(String),
}

impl Failure {
    /// Whether another attempt (elsewhere) could succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Failure::Infrastructure(_))
    }

    /// A short name for the kind: `guest-error`, `trap`, `refused`, `limit`,
    /// `infrastructure`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Guest(_) => "guest-error",
            Failure::Trap(_) => "trap",
            Failure::Refused(_) => "refused",
            Failure::Limit(_) => "limit",
            Failure::Infrastructure(_) => "infrastructure",
        }
    }

    /// Classifies an error from instantiating or calling a guest. `hit` is what the
    /// store's limiter recorded; `stack_bytes` is the engine's guest stack limit.
    pub fn from_wasmtime(
        err: &wasmtime::Error,
        hit: Option<&LimitHit>,
        limits: &SandboxLimits,
        stack_bytes: usize,
    ) -> Failure {
        if let Some(hit) = hit.or_else(|| err.downcast_ref::<LimitHit>()) {
            return Failure::Limit(hit.clone());
        }
        if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::StackOverflow => return Failure::Limit(LimitHit::Stack(stack_bytes)),
                wasmtime::Trap::OutOfFuel => return Failure::Limit(LimitHit::Fuel(limits.fuel.unwrap_or(0))),
                wasmtime::Trap::Interrupt => return Failure::Limit(LimitHit::WallTime(limits.wall_time)),
                _ => {}
            }
        }
        if err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return Failure::Infrastructure(format!("no free sandbox instance: {}", err.root_cause()));
        }
        Failure::Trap(err.root_cause().to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Guest(m) => write!(f, "the job failed: {m}"),
            Failure::Trap(m) => write!(f, "the guest trapped: {m}"),
            Failure::Limit(hit) => write!(f, "sandbox {hit}"),
            Failure::Refused(m) | Failure::Infrastructure(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_infrastructure_failures_are_retried() {
        let limits = SandboxLimits::default();
        let stack = wasmtime::Error::new(wasmtime::Trap::StackOverflow);
        let f = Failure::from_wasmtime(&stack, None, &limits, 1 << 20);
        assert_eq!(f, Failure::Limit(LimitHit::Stack(1 << 20)));
        assert!(!f.retryable());
        let epoch = wasmtime::Error::new(wasmtime::Trap::Interrupt);
        assert_eq!(
            Failure::from_wasmtime(&epoch, None, &limits, 0).to_string(),
            "sandbox wall-time limit of 10m exceeded"
        );
        let panic = wasmtime::Error::new(wasmtime::Trap::UnreachableCodeReached);
        assert_eq!(Failure::from_wasmtime(&panic, None, &limits, 0).kind(), "trap");
        assert!(Failure::Infrastructure("fetch failed".into()).retryable());
    }
}
