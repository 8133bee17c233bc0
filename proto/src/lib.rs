//! Spindle's wire protocol: the generated gRPC/protobuf code, kept apart from
//! hand-written code, plus the identifiers every crate shares.
//!
//! # Layout
//! - [`generated`]: tonic/prost output for `proto/spindle.proto`; never edited.
//! - [`ids`]: newtype identifiers (`AppId`, `ExecutorId`, ...).
//! - [`auth`]: credentials on the wire: the cluster secret between cluster members,
//!   tenant tokens from clients.
//! - [`tls`]: TLS settings for servers and clients (rustls).
//! - [`metrics`]: the process's Prometheus recorder and its `/metrics` route.

#![warn(missing_docs)]

/// tonic/prost output for `proto/spindle.proto`.
#[allow(clippy::all, missing_docs, reason = "generated code")]
pub mod generated {
    tonic::include_proto!("spindle.v1");
}

pub mod ids;

pub mod auth;

pub mod error;
pub use error::SettingsError;

pub mod tls;

pub mod metrics;

pub use generated::*;

/// Largest gRPC message either side accepts: components and result batches can be big.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;

impl FailureKind {
    /// The kind named by [`FailureKind::label`] (`None` for others).
    pub fn from_label(label: &str) -> Self {
        // Every kind: the enum's values run from 0 without gaps.
        (0..).map_while(|n| Self::try_from(n).ok()).find(|k| k.label() == label).unwrap_or_default()
    }

    /// The kind's name as `spindle status`, logs and docs show it.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::None => "",
            FailureKind::GuestError => "guest-error",
            FailureKind::Trap => "trap",
            FailureKind::Refused => "refused",
            FailureKind::Limit => "limit",
            FailureKind::Infrastructure => "infrastructure",
            FailureKind::ExecutorLost => "executor-lost",
            FailureKind::ExecutorStopping => "executor-stopping",
            FailureKind::FetchFailed => "fetch-failed",
        }
    }
}

impl ApplicationState {
    /// The state named by [`ApplicationState::label`] (unspecified for others).
    pub fn from_label(label: &str) -> Self {
        // Every state: the enum's values run from 0 without gaps.
        (0..).map_while(|n| Self::try_from(n).ok()).find(|s| s.label() == label).unwrap_or_default()
    }

    /// The state's name as `spindle status` shows it.
    pub fn label(self) -> &'static str {
        match self {
            ApplicationState::Unspecified => "",
            ApplicationState::Running => "running",
            ApplicationState::Succeeded => "succeeded",
            ApplicationState::Failed => "failed",
            ApplicationState::Killed => "killed",
        }
    }
}

impl ExecutorState {
    /// The state's name as `spindle status` shows it.
    pub fn label(self) -> &'static str {
        match self {
            ExecutorState::Unspecified => "",
            ExecutorState::Alive => "alive",
            ExecutorState::Draining => "draining",
            ExecutorState::Lost => "lost",
            ExecutorState::Stopped => "stopped",
            ExecutorState::Released => "released",
        }
    }
}

impl Compression {
    /// The format's name, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }
}

impl std::fmt::Debug for StoreGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The option keys only: their values may be credentials.
        let mut keys: Vec<&String> = self.options.keys().collect();
        keys.sort();
        f.debug_struct("StoreGrant").field("url", &self.url).field("options", &keys).finish()
    }
}
