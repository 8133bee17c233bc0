//! The Spindle driver: accepts applications, runs each one's `main()` in a sandbox,
//! turns every action into a job of stages and tasks, and schedules those tasks on
//! executor slots.
//!
//! # Layout
//! - [`driver`]: [`Driver`], the long-running service state and application submission.
//! - [`config`]: [`DriverConfig`], every setting with its default, and the config file.
//! - [`artifacts`]: the artifact store (component bytes named by blake3).
//! - [`cluster`]: the executor registry, liveness (heartbeats, lost executors),
//!   fair slot leases between tenants, and how executors are reached
//!   ([`ExecutorHandle`]: over gRPC, or in-process in local mode).
//! - [`app`]: one application: its sandboxed `main`, the host side of `context`.
//! - [`scheduler`]: lineage, the DAG scheduler (stages cut at shuffles) and the
//!   task scheduler (tasks on slots, retries, recomputing lost shuffle outputs,
//!   speculation, output commit).
//! - [`sources`]: resolving and splitting text inputs.
//! - [`tenants`]: who may submit, their tokens, quotas and task limits.
//! - [`access`]: the host directories a tenant's jobs may read and write.
//! - [`service`]: the gRPC service; it only translates to calls on [`Driver`].

pub mod access;
pub mod allocation;
pub mod app;
pub mod artifacts;
pub mod cluster;
pub mod config;
pub mod driver;
pub mod gate;
pub mod scheduler;
pub mod service;
pub mod sources;
pub mod tenants;

pub use cluster::{ExecutorHandle, RemoteExecutor};
pub use config::DriverConfig;
pub use driver::{AppEvent, Driver};

use spindle_sandbox::SandboxError;

/// Errors of the driver layer.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("input path {path}: {reason}")]
    Input { path: String, reason: String },
    #[error("output directory {path} already exists; choose another path or delete it first")]
    OutputExists { path: String },
    #[error("output directory {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("path {path}: {reason}")]
    Access { path: String, reason: String },
    #[error("{0}")]
    Job(String),
    #[error("artifact {0} is not stored on this driver")]
    UnknownArtifact(String),
    #[error("the application was cancelled: {0}")]
    Cancelled(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("driver configuration: {0}")]
    Config(String),
    #[error("quota: {0}")]
    Quota(String),
    #[error("tenant `{tenant}` has no application {app}")]
    UnknownApp { app: String, tenant: String },
    #[error(transparent)]
    Auth(#[from] tenants::AuthError),
    #[error("application {app} has no broadcast value {id} (it was unpersisted, or the application ended)")]
    UnknownBroadcast { app: String, id: u64 },
}
