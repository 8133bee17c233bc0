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
//! - [`api`]: the JSON types of the HTTP API and `spindle status --json`, and
//!   each application's history of jobs, stages and tasks.
//! - [`http`]: the HTTP server: the JSON API, its OpenAPI schema, the kill
//!   endpoint and `/metrics`.
//! - [`metrics`]: the driver's Prometheus metrics.
//! - [`history`]: event logs of applications (`--event-log-dir`), and the
//!   history server that serves finished ones from them.

#![warn(missing_docs)]

pub mod access;
pub mod allocation;
pub mod api;
pub mod app;
pub mod artifacts;
pub mod cluster;
pub mod config;
pub mod driver;
pub mod gate;
pub mod history;
pub mod http;
pub mod metrics;
pub mod scheduler;
pub mod service;
pub mod sources;
pub mod stores;
pub mod tables;
pub mod tenants;

pub use cluster::{ExecutorHandle, RemoteExecutor};

impl DriverError {
    /// Application `id`, which `viewer` does not have (or may not see).
    pub fn unknown_app(id: &spindle_proto::ids::AppId, viewer: Option<&tenants::Tenant>) -> Self {
        DriverError::UnknownApp { app: id.0.clone(), tenant: viewer.map_or("(cluster)", |t| t.name()).to_string() }
    }
}
pub use config::{ConfigError, DriverConfig};
pub use driver::{AppEvent, Driver};

use spindle_sandbox::SandboxError;

/// Errors of the driver layer.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    /// The sandbox failed (component, engine, compiled cache).
    Sandbox(#[from] SandboxError),
    #[error("input path {path}: {reason}")]
    /// An input path that cannot be read.
    Input {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    #[error("output directory {path} already exists; choose another path or delete it first")]
    /// An output directory that exists already.
    OutputExists {
        /// The directory.
        path: String,
    },
    #[error("output directory {path}: {reason}")]
    /// Output that could not be written or committed.
    Output {
        /// The directory or file.
        path: String,
        /// Why.
        reason: String,
    },
    #[error("path {path}: {reason}")]
    /// A path the application may not use.
    Access {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    #[error("{0}")]
    /// A job failed (a task failed for good, or a stage lost its input too often).
    Job(String),
    #[error("artifact {0} is not stored on this driver")]
    /// An artifact hash the driver does not store.
    UnknownArtifact(String),
    #[error("the application was cancelled: {0}")]
    /// The application was stopped.
    Cancelled(String),
    #[error("refused: {0}")]
    /// A submission or request the driver will not run.
    Refused(String),
    #[error("{0}")]
    /// Something asked for that does not exist (a job or stage of an application).
    NotFound(String),
    #[error("forbidden: {0}")]
    /// A caller that may not do what it asked.
    Forbidden(String),
    #[error("driver configuration: {0}")]
    /// Settings the driver cannot run with.
    Config(String),
    #[error("quota: {0}")]
    /// A tenant is at one of its limits.
    Quota(String),
    #[error("tenant `{tenant}` has no application {app}")]
    /// An application the tenant does not have.
    UnknownApp {
        /// The application asked for.
        app: String,
        /// The tenant asking.
        tenant: String,
    },
    #[error(transparent)]
    /// A client that could not be authenticated.
    Auth(#[from] tenants::AuthError),
    #[error("application {app} has no broadcast value {id} (it was unpersisted, or the application ended)")]
    /// A broadcast value that is gone.
    UnknownBroadcast {
        /// The application.
        app: String,
        /// The value's id.
        id: u64,
    },
}
