//! Hard limits of one sandboxed instance, and the limiter that enforces the memory
//! and table ones and remembers which limit a guest broke.

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// The largest table any sandbox may have, in elements: the default limit, and
/// what the pooling allocator reserves room for.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Hard limits for one sandboxed instance (a task, or an application's `main`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Largest linear memory, in bytes. Default 256 MiB.
    pub memory_bytes: usize,
    /// Longest wall time, enforced by epoch interruption (and a timer around host
    /// calls). Default 10 minutes.
    pub wall_time: Duration,
    /// Instructions' fuel, when set; needs an engine built with fuel metering.
    /// Default: none.
    pub fuel: Option<u64>,
    /// Largest table, in elements. Default (and most) [`MAX_TABLE_ELEMENTS`].
    pub table_elements: usize,
    /// Most core instances (modules of the component) one store may create. Default 32.
    pub instances: usize,
    /// Most tables one store may create. Default 128.
    pub tables: usize,
    /// Most linear memories one store may create. Default 64.
    pub memories: usize,
    /// Bytes of stdout (and, separately, stderr) kept; the rest is cut with a
    /// marker. Default 1 MiB.
    pub output_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            wall_time: Duration::from_secs(600),
            fuel: None,
            table_elements: MAX_TABLE_ELEMENTS,
            instances: 32,
            tables: 128,
            memories: 64,
            output_bytes: 1 << 20,
        }
    }
}

impl SandboxLimits {
    /// The limiter for one store.
    pub fn limiter(&self) -> Limiter {
        Limiter { limits: self.clone(), hit: None }
    }
}

/// A limit a guest broke, with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    /// Linear memory: the limit and the size asked for, in bytes.
    Memory {
        /// The limit.
        limit: usize,
        /// What the guest asked for.
        desired: usize,
    },
    /// A table: the limit and the size asked for, in elements.
    Table {
        /// The limit.
        limit: usize,
        /// What the guest asked for.
        desired: usize,
    },
    /// Wall time.
    WallTime(Duration),
    /// Fuel.
    Fuel(u64),
    /// The guest's native stack, in bytes (an engine-wide setting).
    Stack(usize),
}

impl LimitHit {
    /// The limit's short name: `memory`, `table`, `wall-time`, `fuel`, `stack`.
    pub fn name(&self) -> &'static str {
        match self {
            LimitHit::Memory { .. } => "memory",
            LimitHit::Table { .. } => "table",
            LimitHit::WallTime(_) => "wall-time",
            LimitHit::Fuel(_) => "fuel",
            LimitHit::Stack(_) => "stack",
        }
    }
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Memory { limit, desired } => write!(
                f,
                "memory limit of {} exceeded (the guest asked for {} of linear memory)",
                bytes(*limit as u64),
                bytes(*desired as u64)
            ),
            LimitHit::Table { limit, desired } => {
                write!(f, "table limit of {limit} elements exceeded (the guest asked for {desired})")
            }
            LimitHit::WallTime(d) => write!(f, "wall-time limit of {} exceeded", duration(*d)),
            LimitHit::Fuel(n) => write!(f, "fuel limit of {n} exhausted"),
            LimitHit::Stack(n) => write!(f, "stack limit of {} exceeded (runaway recursion?)", bytes(*n as u64)),
        }
    }
}

impl std::error::Error for LimitHit {}

/// Formats a byte count with a binary unit ("256 MiB", "1.5 KiB", "17 B"): whole
/// numbers without a decimal, unlike `bytesize`'s display ("256.0 MiB").
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 { format!("{v:.0} {}", UNITS[u]) } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Formats a duration as a config file or flag would give it ("10m", "2s",
/// "250ms", "1m 30s").
pub fn duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// Enforces memory and table limits and counts of instances, tables and memories;
/// a broken limit traps and is remembered for the error report.
#[derive(Debug)]
pub struct Limiter {
    limits: SandboxLimits,
    hit: Option<LimitHit>,
}

impl Limiter {
    /// The limit the guest broke, if any.
    pub fn hit(&self) -> Option<&LimitHit> {
        self.hit.as_ref()
    }

    fn refuse(&mut self, hit: LimitHit) -> wasmtime::Result<bool> {
        let err = wasmtime::Error::new(hit.clone());
        self.hit = Some(hit);
        Err(err)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            return self.refuse(LimitHit::Memory { limit: self.limits.memory_bytes, desired });
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements {
            return self.refuse(LimitHit::Table { limit: self.limits.table_elements, desired });
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.tables
    }

    fn memories(&self) -> usize {
        self.limits.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_with_their_values() {
        let m = LimitHit::Memory { limit: 64 << 20, desired: (64 << 20) + 65536 };
        assert_eq!(m.to_string(), "memory limit of 64 MiB exceeded (the guest asked for 64.1 MiB of linear memory)");
        assert_eq!(LimitHit::WallTime(Duration::from_secs(600)).to_string(), "wall-time limit of 10m exceeded");
        assert_eq!(LimitHit::WallTime(Duration::from_millis(1500)).to_string(), "wall-time limit of 1s 500ms exceeded");
        assert_eq!(LimitHit::Stack(1 << 20).to_string(), "stack limit of 1 MiB exceeded (runaway recursion?)");
    }

    #[test]
    fn limiter_refuses_growth_past_the_limit_and_remembers_it() {
        let mut l = SandboxLimits { memory_bytes: 1 << 20, ..Default::default() }.limiter();
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert!(matches!(l.hit(), Some(LimitHit::Memory { .. })));
    }
}
