//! A failing guest fails its application with the guest's own message, without
//! retries, and the executors and driver keep running other work.

use spindle_tests::*;

#[test]
fn a_panicking_task_fails_the_app_clearly_and_the_cluster_survives() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(2, 1)?;
    let out = cluster.submit(&example("attack"), &["panic"])?;
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("element 37 is cursed"), "the panic message is missing: {}", describe(&out));
    assert!(stderr.contains("the guest trapped"), "{}", describe(&out));

    let out = cluster.submit(&example("attack"), &["fail-in-main"])?;
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
    let out = cluster
        .submit(&example("wordcount"), &[work.path().join("in").to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
    Ok(())
}

#[test]
fn limits_in_local_mode_name_the_limit_and_its_value() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let attack = example("attack");
    let run = |flags: &[&str], mode: &str| {
        let mut cmd = std::process::Command::new(spindle_bin());
        cmd.args(["run", "--slots", "2"]).args(flags).arg(&attack).args(["--", mode]);
        cmd.env("SPINDLE_CACHE_DIR", cache.path()).output()
    };
    let out = run(&["--fuel-metering", "--task-fuel", "50000000"], "loop")?;
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sandbox fuel limit of 50000000 exhausted"),
        "{}",
        describe(&out)
    );
    // Without metering, a fuel limit cannot be honoured: the task says so.
    let out = run(&["--task-fuel", "1000"], "loop")?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs without fuel metering"), "{}", describe(&out));
    let out = run(&["--task-memory", "32MiB"], "alloc")?;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sandbox memory limit of 32 MiB exceeded"),
        "{}",
        describe(&out)
    );
    Ok(())
}
