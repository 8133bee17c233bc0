//! A cluster comes up in any order and heals itself: executors started before
//! their driver keep trying to register (with backoff) and join once it is up;
//! after the driver is killed and started again on the same address, every
//! executor registers again and the next job is exact.

use std::collections::BTreeSet;

use spindle_tests::*;

/// Runs a word count over `files` files on `cluster`; its counts must match.
fn exact_wordcount(cluster: &Cluster, seed: u64) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 6, 2000, seed);
    let out_dir = work.path().join("out");
    let input = work.path().join("in");
    let out = cluster.submit(&example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    anyhow::ensure!(out.status.success(), "word count failed: {}", describe(&out));
    anyhow::ensure!(read_counts(&out_dir)? == reference_counts(&files), "the word count is wrong");
    Ok(())
}

/// The addresses of the executors the driver sees alive.
fn alive_addresses(cluster: &Cluster) -> anyhow::Result<BTreeSet<String>> {
    let status = cluster.status()?;
    Ok(status["executors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "alive")
        .map(|e| e["address"].as_str().unwrap().to_string())
        .collect())
}

#[test]
fn executors_started_before_their_driver_join_it() -> anyhow::Result<()> {
    let cluster = Cluster::start_driver_last(3, 1)?;
    assert_eq!(alive_addresses(&cluster)?.len(), 3);
    exact_wordcount(&cluster, 21)
}

#[test]
fn executors_come_back_after_the_driver_is_killed_and_started_again_and_ids_are_not_mixed_up() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, 1)?;
    let before = alive_addresses(&cluster)?;
    exact_wordcount(&cluster, 22)?;
    cluster.restart_driver()?;
    // A new executor joins at once and takes the first id the new driver gives
    // out, `exec-1`, likely before the old `exec-1` heartbeats: that one must
    // still register again rather than pass for the newcomer.
    let cache = cluster.dir.path().join("late-cache");
    cluster.add_executor(1, &cache)?;
    await_condition("all four executors to be registered", std::time::Duration::from_secs(60), || {
        let alive = alive_addresses(&cluster).ok()?;
        (alive.len() == 4 && alive.is_superset(&before)).then_some(())
    })?;
    let status = cluster.status()?;
    let ids: BTreeSet<&str> = status["executors"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 4, "{status}");
    exact_wordcount(&cluster, 23)?;
    for e in &mut cluster.executors {
        assert!(matches!(e.0.try_wait(), Ok(None)), "an executor exited");
    }
    Ok(())
}

#[test]
fn an_executor_gives_up_after_its_register_timeout() -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let out = std::process::Command::new(spindle_bin())
        .args(["executor", "--driver", &format!("http://127.0.0.1:{port}"), "--register-timeout", "1s"])
        .env_remove("SPINDLE_SECRET")
        .output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("could not register within 1s (--register-timeout)"), "{text}");
    assert!(text.contains("cannot register with the driver; retrying"), "{text}");
    Ok(())
}
