//! Artifacts are pulled and compiled once per executor, and the compiled form is
//! kept on disk for the executor's next start.

use spindle_tests::*;

fn executor_counters(cluster: &Cluster) -> anyhow::Result<Vec<(u64, u64, u64)>> {
    let status = cluster.status()?;
    Ok(status["executors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap();
            (n("artifacts_compiled"), n("artifacts_loaded_from_disk"), n("artifacts_fetched"))
        })
        .collect())
}

#[test]
fn second_submission_compiles_nothing_and_a_restart_loads_from_disk() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let input = work.path().join("in");
    let files = write_text_inputs(&input, 2, 500, 3);
    let caches = work.path().join("caches");
    let job = example("wordcount");

    let run = |cluster: &Cluster, name: &str| -> anyhow::Result<()> {
        let out_dir = work.path().join(name);
        let out = cluster.submit(&job, &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
        Ok(())
    };

    // Counters are (compiled, loaded from disk, fetched from the driver).
    {
        let cluster = Cluster::start_with_caches(2, 1, &caches, tempfile::tempdir()?)?;
        run(&cluster, "first")?;
        // Each executor has its own empty cache: each pulled and compiled once.
        assert_eq!(executor_counters(&cluster)?, vec![(1, 0, 1), (1, 0, 1)]);
        run(&cluster, "second")?;
        // Nothing compiled, nothing pulled again.
        assert_eq!(executor_counters(&cluster)?, vec![(1, 0, 1), (1, 0, 1)]);
    }

    // New executor processes over the same caches load the compiled form from disk.
    let cluster = Cluster::start_with_caches(2, 1, &caches, tempfile::tempdir()?)?;
    run(&cluster, "third")?;
    assert_eq!(executor_counters(&cluster)?, vec![(0, 1, 1), (0, 1, 1)]);
    Ok(())
}
