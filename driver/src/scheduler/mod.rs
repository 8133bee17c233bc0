//! Turning actions into work on the cluster.
//!
//! - [`lineage`]: the graph of datasets an application built.
//! - [`dag`]: the DAG scheduler: cuts a job into stages at shuffle boundaries and
//!   pipelines narrow ops into one stage.
//! - [`tasks`]: the task scheduler: a job's stages in rounds, recomputing lost
//!   shuffle outputs, and output commit.
//! - [`attempt`]: one task's attempts: retries, executor loss, speculation.
//! - [`map_outputs`]: where each shuffle's map outputs live, and which are lost.
//! - [`cache_locations`]: which executor keeps each persisted partition (locality).
//! - [`progress`]: running stages and their task counts, for status.

mod attempt;
pub mod cache_locations;
pub mod commit;
pub mod dag;
pub mod exclusions;
pub mod lineage;
pub mod map_outputs;
pub mod progress;
mod stage;
pub mod tasks;
