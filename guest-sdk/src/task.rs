//! The executor side: `task.run(steps)` pulls input batches from the host, pushes
//! every record through the op chain (or hands the chain to its streaming
//! `map_partitions` op, which pulls them as its function asks), and writes output
//! batches back.

use crate::__private::Step;
use crate::pipeline::build_chain;

/// Runs one task: the entry point the [`main!`](crate::main) macro exports.
pub fn run_task(steps: Vec<Step>) -> Result<(), String> {
    let ops: Vec<&[u8]> = steps
        .iter()
        .map(|s| match s {
            Step::Narrow(op) | Step::Combine(op) => op.as_slice(),
        })
        .collect();
    build_chain(&ops).and_then(|chain| chain.run()).map_err(|e| e.to_string())
}
