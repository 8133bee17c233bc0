//! Turning actions into work on the cluster.
//!
//! - [`lineage`]: the graph of datasets an application built.
//! - [`dag`]: the DAG scheduler: cuts a job into stages at shuffle boundaries and
//!   pipelines narrow ops into one stage.
//! - [`tasks`]: the task scheduler: one task per partition on leased slots, retries,
//!   map-output tracking and output commit.

pub mod dag;
pub mod lineage;
pub mod tasks;
