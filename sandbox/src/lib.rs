//! Spindle's one wasmtime policy, shared by the driver (which runs `main`) and the
//! executors (which run tasks).
//!
//! # Layout
//! - [`bindings`]: `bindgen!` of the `spindle:job/job` world in `wit/`; never edited.
//! - [`engine`]: the `Engine` configuration every process uses.
//! - [`artifact`]: [`ArtifactHash`], submit-time validation, compile-once with an
//!   on-disk cache of compiled components.
//! - [`limits`]: per-instance hard limits and the limiter that enforces them.
//! - [`output`]: bounded capture of a guest's stdout and stderr.
//! - [`store`]: deny-by-default WASI; arming a store with its time and fuel limits.
//! - [`failure`]: the one classification of failures (retryable or not).

pub mod artifact;
pub mod bindings;
pub mod engine;
pub mod failure;
pub mod limits;
pub mod output;
pub mod store;

pub use artifact::{ArtifactHash, CompileSource, CompiledArtifact};
pub use engine::{EngineConfig, new_engine};
pub use failure::Failure;
pub use limits::{LimitHit, Limiter, SandboxLimits};
pub use store::{CapturedOutput, arm, sandbox_wasi, within_wall_time};

/// The host-side representation of a guest's `dataset` handle: an index into the
/// application's lineage graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatasetRef(pub u32);

/// Errors of the sandbox layer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{what} is not a WebAssembly file (it does not start with the `\\0asm` magic)")]
    NotWasm { what: String },
    #[error(
        "{what} is a core WebAssembly module, not a component: build it for wasm32-wasip2 \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule { what: String },
    #[error("{what} is {size} bytes, over the {limit}-byte limit for components (the driver's max_component_size)")]
    TooLarge { what: String, size: usize, limit: usize },
    #[error("{what} is not a valid component: {reason}")]
    Invalid { what: String, reason: String },
    #[error(
        "{what} does not implement the spindle:job/job world ({reason}); build it with the \
         Spindle SDK or from the WIT in wit/"
    )]
    WrongWorld { what: String, reason: String },
    #[error(
        "{what} imports {imports}, which Spindle does not provide to guests; a job may import only \
         spindle:job and the WASI interfaces cli, io, clocks, random, filesystem and sockets"
    )]
    ForbiddenImports { what: String, imports: String },
    #[error("artifact {hash}: its bytes hash to {actual}; refusing a corrupted download")]
    HashMismatch { hash: ArtifactHash, actual: ArtifactHash },
    #[error("compiled-artifact cache at {path}: {source}")]
    Cache { path: String, source: std::io::Error },
    #[error("wasmtime engine: {0}")]
    Engine(String),
}
