//! The executor side: `task.run(steps)` pulls input batches from the host, pushes
//! every record through the op chain, and writes output batches back.

use crate::__private::Step;
use crate::__private::bindings::spindle::job::task_io;
use crate::pipeline::build_chain;

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

/// Runs one task: the entry point the [`main!`](crate::main) macro exports.
pub fn run_task(steps: Vec<Step>) -> Result<(), String> {
    let ops: Vec<&[u8]> = steps
        .iter()
        .map(|s| match s {
            Step::Narrow(op) | Step::Combine(op) => op.as_slice(),
        })
        .collect();
    let mut head = build_chain(&ops).map_err(|e| e.to_string())?;
    if head.takes_lines() && task_io::input_is_text() {
        while let Some(run) = task_io::read_lines() {
            head.push_lines(&run, task_io::input_utf8()).map_err(|e| e.to_string())?;
        }
    } else {
        while let Some(batch) = task_io::read() {
            head.push_input(&batch, task_io::input_utf8()).map_err(|e| e.to_string())?;
        }
    }
    head.finish().map_err(|e| e.to_string())
}
