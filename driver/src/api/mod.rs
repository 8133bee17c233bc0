//! What the driver shows of itself: the JSON types of its HTTP API and of
//! `spindle status --json` ([`model`]), and the per-application record of jobs,
//! stages and tasks they are read from ([`history`]), and the effective
//! configuration with its secrets redacted ([`environment`]).

pub mod environment;
pub mod history;
pub mod model;

pub use history::{AppHistory, Event};
