//! A failing guest fails its application with the guest's own message, without
//! retries, and the executors and driver keep running other work.

use spindle_tests::*;

#[test]
fn a_panicking_task_fails_the_app_clearly_and_the_cluster_survives() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(2, 1)?;
    let out = cluster.submit(&example("faulty"), &["panic-in-task"])?;
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("element 37 is cursed"), "the panic message is missing: {}", describe(&out));
    assert!(stderr.contains("the guest trapped"), "{}", describe(&out));

    let out = cluster.submit(&example("faulty"), &["fail-in-main"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("main gave up on purpose"), "{}", describe(&out));

    // The failing task was not retried: a guest panic is deterministic.
    let status = cluster.status()?;
    let failed: u64 = status["executors"].as_array().unwrap().iter().map(|e| e["tasks_failed"].as_u64().unwrap()).sum();
    assert_eq!(failed, 1, "{status}");

    // Everything still runs: the same executors do a word count exactly.
    assert!(cluster.driver_alive());
    for e in &mut cluster.executors {
        assert!(matches!(e.0.try_wait(), Ok(None)), "an executor died");
    }
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 2, 300, 9);
    let out_dir = work.path().join("out");
    let out = cluster.submit(&example("wordcount"), &[work.path().join("in").to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
    Ok(())
}
