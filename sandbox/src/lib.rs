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

#![warn(missing_docs)]

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
    /// Bytes that are not WebAssembly at all.
    NotWasm {
        /// What was given (a path, or `the submitted component`).
        what: String,
    },
    #[error(
        "{what} is a core WebAssembly module, not a component: build it for wasm32-wasip2 \
         (or wrap it with `wasm-tools component new`)"
    )]
    /// A core module where a component is needed.
    CoreModule {
        /// What was given.
        what: String,
    },
    #[error("{what} is {size} bytes, over the {limit}-byte limit for components (the driver's max_component_size)")]
    /// A component over the size limit.
    TooLarge {
        /// What was given.
        what: String,
        /// Its size, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    #[error("{what} is not a valid component: {reason}")]
    /// A component wasmtime refuses to compile.
    Invalid {
        /// What was given.
        what: String,
        /// Why wasmtime refused it.
        reason: String,
    },
    #[error(
        "{what} does not implement the spindle:job/job world ({reason}); build it with the \
         Spindle SDK or from the WIT in wit/"
    )]
    /// A component that does not export the job world.
    WrongWorld {
        /// What was given.
        what: String,
        /// What is missing or mistyped.
        reason: String,
    },
    #[error(
        "{what} imports {imports}, which Spindle does not provide to guests; a job may import only \
         spindle:job and the WASI interfaces cli, io, clocks, random, filesystem and sockets"
    )]
    /// A component that imports interfaces guests are not given.
    ForbiddenImports {
        /// What was given.
        what: String,
        /// The interfaces it may not import.
        imports: String,
    },
    #[error("artifact {hash}: its bytes hash to {actual}; refusing a corrupted download")]
    /// Downloaded bytes that are not the artifact asked for.
    HashMismatch {
        /// The artifact asked for.
        hash: ArtifactHash,
        /// What the bytes hash to.
        actual: ArtifactHash,
    },
    #[error("compiled-artifact cache at {path}: {source}")]
    /// The compiled-artifact cache could not be read or written.
    Cache {
        /// The cache file or directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    #[error("wasmtime engine: {0}")]
    /// Wasmtime could not be set up or could not link the job world.
    Engine(String),
    #[error("`{0}` is not an artifact hash (64 hex digits)")]
    /// Text that is not an artifact hash.
    NotAHash(String),
}
