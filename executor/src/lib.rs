//! The Spindle executor: runs tasks in fresh wasm sandboxes in parallel slots, keeps
//! shuffle blocks in memory or on local disk within one memory budget, and serves
//! them to peers.
//!
//! # Layout
//! - [`executor`]: [`Executor`], the process-wide state (engine, slots, metrics),
//!   running attempts and their cancellation (kill, release, hand-back), chaos.
//! - [`artifacts`]: pulling components from the driver once, compiling them once.
//! - [`memory`]: the memory manager: one budget for execution, shuffle outputs and
//!   persisted partitions, and each task's share of it.
//! - [`spill`]: this executor's spill directory on local disk, and removing what
//!   executors that are gone left there.
//! - [`blocks`]: the shuffle block store: map outputs in memory or on disk,
//!   namespaced by application.
//! - [`cache`]: persisted partitions: a memory budget, LRU eviction, spill to disk.
//! - [`broadcasts`]: broadcast values, pulled from the driver once per application.
//! - [`task`]: running one task: its input stream, the guest call, its output sink.
//! - `access`: the host paths a task may read and write (checked before opening).
//! - [`shuffle`]: fetching shuffle blocks from peers.
//! - [`remote`]: running as a process: registration, heartbeats, graceful stop,
//!   pulling artifacts from the driver.
//! - [`service`]: the gRPC service; it only translates to calls on [`Executor`].
//! - [`metrics`]: the executor's Prometheus metrics (`--metrics-listen`).

#![warn(missing_docs)]

mod access;
pub mod artifacts;
pub mod blocks;
pub mod broadcasts;
pub mod cache;
pub mod executor;
pub mod memory;
pub mod metrics;
pub mod remote;
pub mod service;
pub mod shuffle;
pub mod spill;
pub mod task;

pub use artifacts::ArtifactSource;
pub use executor::{Executor, ExecutorConfig};

use spindle_sandbox::{Failure, SandboxError};

/// Errors of the executor layer.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("artifact {hash}: {reason}")]
    /// The job component could not be fetched or compiled.
    Artifact {
        /// The artifact's hash.
        hash: String,
        /// Why.
        reason: String,
    },
    #[error(transparent)]
    /// The sandbox failed (component, engine or compiled cache).
    Sandbox(#[from] SandboxError),
    #[error("input {path}: {source}")]
    /// An input file could not be read.
    Input {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    #[error("output {path}: {source}")]
    /// An output file could not be written.
    Output {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    #[error("shuffle fetch from executor {executor} at {address} failed: {reason}")]
    /// Shuffle blocks could not be fetched from a peer.
    Fetch {
        /// The peer's id.
        executor: String,
        /// Its address.
        address: String,
        /// Why.
        reason: String,
        /// Whether the peer could not be reached at all (the driver then
        /// declares it lost).
        unreachable: bool,
    },
    #[error("shuffle block {block} is not on executor {executor}")]
    /// A peer was asked for a block it does not hold.
    MissingBlock {
        /// The peer.
        executor: String,
        /// The block.
        block: String,
    },
    #[error("spill file {path}: {source}")]
    /// A spill file could not be written or read back.
    Spill {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    #[error(
        "the group of key {key} holds {} of values, over the {} a task may hold on this executor; \
         a single group must fit in memory: spread the key (add a salt), or use reduce_by_key, which combines \
         values as they come",
        spindle_sandbox::limits::bytes(*size),
        spindle_sandbox::limits::bytes(*limit)
    )]
    /// One key's group is larger than a task's share of memory.
    GroupTooLarge {
        /// The key, shown (its first bytes).
        key: String,
        /// The group's size so far.
        size: u64,
        /// The task's share of memory.
        limit: u64,
    },
    #[error("task spec is malformed: {0}")]
    /// A task spec that cannot be run as sent.
    BadSpec(String),
    #[error("executor configuration: {0}")]
    /// Settings this executor cannot run with.
    BadConfig(String),
    #[error("path {path}: the task may not use it: {reason}")]
    /// A path outside what the application may use.
    Access {
        /// The path.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    #[error(transparent)]
    /// A table's file could not be read or written as its format says (a bad
    /// row, a file that is not Parquet, a row that does not fit the schema).
    Table(#[from] spindle_formats::FormatError),
    #[error("cannot reach the driver at {url}: {reason}")]
    /// The driver could not be reached.
    Driver {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ExecutorError {
    /// Whether the same task could succeed if tried again (possibly elsewhere):
    /// infrastructure failures are retryable, a bad component or spec is not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ExecutorError::Artifact { .. }
                | ExecutorError::Input { .. }
                | ExecutorError::Output { .. }
                | ExecutorError::Spill { .. }
                | ExecutorError::Fetch { .. }
                | ExecutorError::MissingBlock { .. }
                | ExecutorError::Driver { .. }
                | ExecutorError::Table(spindle_formats::FormatError::Read { .. })
        )
    }

    /// The lost shuffle output this error reports, for the driver to recompute.
    pub fn fetch_failure(&self, shuffle: u64) -> Option<spindle_proto::FetchFailure> {
        match self {
            ExecutorError::Fetch { executor, address, unreachable, .. } => Some(spindle_proto::FetchFailure {
                executor_id: executor.clone(),
                address: address.clone(),
                shuffle_id: shuffle,
                unreachable: *unreachable,
            }),
            ExecutorError::MissingBlock { executor, .. } => Some(spindle_proto::FetchFailure {
                executor_id: executor.clone(),
                address: String::new(),
                shuffle_id: shuffle,
                unreachable: false,
            }),
            _ => None,
        }
    }

    /// The failure this error means for a task.
    pub fn failure(&self) -> Failure {
        if self.is_retryable() { Failure::Infrastructure(self.to_string()) } else { Failure::Refused(self.to_string()) }
    }
}
