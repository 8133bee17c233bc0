//! What `spindle status` reports while a stage runs on a cluster that sends tasks
//! ahead to executors: a task waiting in an executor's queue is not running.

use std::time::Duration;

use anyhow::Result;
use spindle_tests::*;

/// One executor with one slot, and six paced map tasks of about 0.3 s each. The
/// driver sends one task ahead into the slot's queue, but only the task in the slot
/// counts as running.
#[test]
fn running_counts_tasks_in_slots_not_queued_ones() -> Result<()> {
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 6, 100, 23);
    let input = work.path().join("in").display().to_string();
    let out = work.path().join("out");
    let c = Cluster::start(1, 1)?;
    let mut child =
        c.submit_background(&example("paced-wordcount"), &[&input, out.to_str().unwrap(), "6", "3000", "0"])?;

    // (done, running, tasks) of the map stage, sampled until the job ends.
    let mut samples: Vec<(u64, u64, u64)> = Vec::new();
    await_condition("the paced word count to end", Duration::from_secs(120), || {
        if let Ok(s) = c.status() {
            samples.extend(stage_counts(&s, "shuffle-map"));
        }
        child.try_wait().ok().flatten().map(|_| ())
    })?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "the job failed: {}", describe(&output));
    assert_eq!(read_counts(&out)?, reference_counts(&files));

    // Samples while at least two map tasks were left: one in the slot and, sent
    // ahead, one in its queue.
    let middle: Vec<_> = samples.iter().filter(|(done, _, tasks)| done + 2 <= *tasks).collect();
    assert!(middle.len() >= 3, "too few samples of the map stage while it ran: {samples:?}");
    assert!(middle.iter().all(|(_, running, _)| *running <= 1), "more tasks running than the one slot: {samples:?}");
    assert!(middle.iter().any(|(_, running, _)| *running == 1), "the running task was never reported: {samples:?}");
    Ok(())
}
