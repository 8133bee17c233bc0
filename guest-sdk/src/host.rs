//! The running task's calls into the host's `task-io` interface that the
//! pipeline makes while it is built and while it runs (output batches, counts,
//! partitions). Beneath the pipeline, and beneath `task`, which drives it.

use crate::__private::bindings::spindle::job::task_io;

/// Hands one output batch to the host.
pub(crate) fn write_output(batch: &[u8]) {
    task_io::write(batch);
}

/// Whether the running task's output is only counted (its action is a count).
pub(crate) fn output_counted() -> bool {
    task_io::output_counted()
}

/// Reports `n` output records of a task whose output is only counted.
pub(crate) fn add_output_count(n: u64) {
    task_io::add_output_count(n);
}

thread_local! {
    /// The step whose op is being built: a partition-aware op asks for its own
    /// dataset's partition while it is built.
    static BUILDING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Notes that the op of step `step` is being built.
pub(crate) fn building_step(step: usize) {
    BUILDING.with(|b| b.set(step as u32));
}

/// The partition of its own dataset that the op being built computes (after a
/// union or coalesce, not the task's partition).
pub(crate) fn partition() -> u32 {
    task_io::step_partition(BUILDING.with(|b| b.get()))
}
