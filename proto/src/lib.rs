//! Spindle's wire protocol: the generated gRPC/protobuf code, kept apart from
//! hand-written code, plus the identifiers every crate shares.
//!
//! # Layout
//! - [`generated`]: tonic/prost output for `proto/spindle.proto`; never edited.
//! - [`ids`]: newtype identifiers (`AppId`, `ExecutorId`, ...).
//! - [`auth`]: the cluster-secret metadata key.

/// tonic/prost output for `proto/spindle.proto`.
#[allow(clippy::all, missing_docs, reason = "generated code")]
pub mod generated {
    tonic::include_proto!("spindle.v1");
}

pub mod ids;

/// The metadata key that carries the cluster secret on every RPC.
pub mod auth {
    /// gRPC metadata key for the cluster secret.
    pub const SECRET_HEADER: &str = "x-spindle-secret";
}

pub use generated::*;

/// Largest gRPC message either side accepts: components and result batches can be big.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;
