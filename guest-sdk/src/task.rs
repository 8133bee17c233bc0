//! The executor side: `task.run(steps)` pulls input batches from the host, pushes
//! every record through the op chain, and writes output batches back.

use crate::__private::Step;
use crate::__private::bindings::spindle::job::task_io;
use crate::pipeline::build_chain;

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
