//! Persisted partitions on executor processes: a second action over a cached
//! dataset reads no input again (the executors' input counters say so), a block
//! budget smaller than the dataset keeps results exact while partitions are
//! dropped and recomputed, and memory-and-disk spills instead of recomputing.

use std::path::Path;

use serde_json::Value;
use spindle_tests::*;

/// A driver that waits long for locality (so placement is not a matter of
/// timing) and two executors with `flags`.
fn cluster(flags: &[&str]) -> anyhow::Result<Cluster> {
    let mut c = Cluster::start_configured(0, 2, "cache-secret", "locality_wait = \"20s\"\n")?;
    for i in 0..2 {
        let cache = c.dir.path().join(format!("exec-cache-{i}"));
        c.add_executor_with(2, &cache, flags)?;
    }
    c.wait_for_executors(2)?;
    Ok(c)
}

/// Sums of the executors' counters: (input records, cache hits, misses, evictions).
fn counters(c: &Cluster) -> anyhow::Result<[u64; 4]> {
    let status = c.status()?;
    let mut sums = [0; 4];
    for e in status["executors"].as_array().unwrap().iter().filter(|e| e["state"] == "alive") {
        let get = |v: &Value| v.as_u64().unwrap_or(0);
        sums[0] += get(&e["input_records"]);
        sums[1] += get(&e["cache"]["hits"]);
        sums[2] += get(&e["cache"]["misses"]);
        sums[3] += get(&e["cache"]["evictions"]);
    }
    Ok(sums)
}

/// Runs cache-check and returns the counters it moved.
fn run(c: &Cluster, input: &Path, level: &str, rounds: u32, want: (u64, u64)) -> anyhow::Result<[u64; 4]> {
    let before = counters(c)?;
    let out = c.submit(&example("cache-check"), &[input.to_str().unwrap(), level, &rounds.to_string()])?;
    assert!(out.status.success(), "{}", describe(&out));
    let expected: String = (1..=rounds).map(|r| format!("round {r}: {} {}\n", want.0, want.1)).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{level}: every round exact");
    let after = counters(c)?;
    Ok(std::array::from_fn(|i| after[i] - before[i]))
}

/// Lines and the sum of their lengths, as the job reads them.
fn reference(files: &[std::path::PathBuf]) -> (u64, u64) {
    let mut lines = 0;
    let mut bytes = 0;
    for f in files {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            lines += 1;
            bytes += l.len() as u64;
        }
    }
    (lines, bytes)
}

#[test]
fn later_actions_over_a_cached_dataset_read_no_input() -> anyhow::Result<()> {
    let c = cluster(&[])?;
    let dir = tempfile::tempdir()?;
    let files = write_text_inputs(dir.path(), 4, 3000, 11);
    let want = reference(&files);
    let [input, hits, misses, evictions] = run(&c, dir.path(), "memory", 3, want)?;
    assert_eq!(input, want.0, "only the first action read the input");
    assert!(
        misses > 0 && hits == 2 * misses,
        "{hits} hits, {misses} misses: the 2nd and 3rd actions hit every partition"
    );
    assert_eq!(evictions, 0);
    let [input, hits, ..] = run(&c, dir.path(), "none", 3, want)?;
    assert_eq!((input, hits), (3 * want.0, 0), "without persist, every action reads the input");
    Ok(())
}

#[test]
fn a_budget_smaller_than_the_dataset_drops_and_recomputes_or_spills() -> anyhow::Result<()> {
    // 8 partitions of tens of KB: each executor computes four and has room for
    // only some of them.
    let c = cluster(&["--cache-memory", "96KiB"])?;
    let dir = tempfile::tempdir()?;
    let files = write_text_inputs(dir.path(), 4, 2000, 5);
    let want = reference(&files);
    let [input, _, misses, evictions] = run(&c, dir.path(), "memory", 3, want)?;
    assert!(evictions > 0, "blocks were dropped to make room");
    assert!(input > want.0, "dropped partitions were recomputed from the input ({input} records read)");
    assert!(misses > 8);
    let [input, hits, _, evictions] = run(&c, dir.path(), "memory-and-disk", 3, want)?;
    assert!(evictions > 0, "blocks were pushed out of memory");
    assert_eq!(input, want.0, "pushed-out blocks were read back from disk, not recomputed");
    assert!(hits >= 16, "{hits} hits");
    let [input, hits, ..] = run(&c, dir.path(), "disk", 2, want)?;
    assert_eq!((input, hits >= 8), (want.0, true), "disk-only blocks are read back");
    Ok(())
}
