//! Shuffles, sorts, groups and joins larger than the executors' memory, on a
//! driver and 2 executor processes with `--memory 64MiB`: map outputs and sorted
//! runs spill to disk, results are checked exactly against a reference computed
//! here, peak resident memory stays within the budget plus the documented
//! overhead, and no spill file is left once the application ends, nor after an
//! executor killed mid-stage is started again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use spindle_tests::{Cluster, await_condition, describe, example, mix, part_files, peak_rss};

/// Each executor's memory budget.
const MEMORY: u64 = 64 << 20;
/// Records of about 100 bytes: 300 MB of shuffle data, 4.5× one executor's budget.
const RECORDS: u64 = 3_000_000;
/// Keys of the group and the join.
const KEYS: u64 = 1000;
/// What an executor may hold beside its budget (docs/memory.md): the runtime,
/// the compiled component, each slot's guest memory, buffers of files and
/// streams.
const OVERHEAD: u64 = 192 << 20;

/// A driver and 2 executors of 2 slots with `--memory 64MiB`, each spilling
/// under its own root in the cluster's scratch directory.
fn start() -> Result<Cluster> {
    let mut cluster = Cluster::start(0, 2)?;
    for i in 0..2 {
        add_executor(&mut cluster, i)?;
    }
    cluster.wait_for_executors(2)?;
    Ok(cluster)
}

fn spill_root(cluster: &Cluster, i: usize) -> PathBuf {
    cluster.dir.path().join(format!("spill-{i}"))
}

fn add_executor(cluster: &mut Cluster, i: usize) -> Result<()> {
    let root = spill_root(cluster, i);
    let cache = cluster.dir.path().join(format!("exec-cache-{i}"));
    let memory = format!("{}MiB", MEMORY >> 20);
    cluster.add_executor_with(2, &cache, &["--memory", &memory, "--spill-dir", root.to_str().context("path")?])
}

/// Regular files under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn submit(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let out = cluster.submit(&example("bench-jobs"), args)?;
    anyhow::ensure!(out.status.success(), "{args:?} failed: {}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    anyhow::ensure!(stderr.contains("spilled to disk"), "{args:?} spilled nothing: {stderr}");
    Ok(stderr)
}

/// Checks a sorted output: every record `i < RECORDS` once, keyed by `mix(i)`,
/// in key order across the parts.
fn check_sorted(out: &Path) -> Result<()> {
    let mut seen = vec![false; RECORDS as usize];
    let mut last = 0u64;
    let mut n = 0u64;
    for part in part_files(out) {
        for line in std::fs::read_to_string(&part)?.lines() {
            let (key, value) = line.split_once('\t').with_context(|| format!("a line without a tab: {line}"))?;
            let key: u64 = key.parse()?;
            let i: u64 = value[..12].parse()?;
            anyhow::ensure!(key == mix(i), "record {i} has key {key}, not {}", mix(i));
            anyhow::ensure!(key >= last, "{} is out of order: key {key} after {last}", part.display());
            anyhow::ensure!(!std::mem::replace(&mut seen[i as usize], true), "record {i} is there twice");
            last = key;
            n += 1;
        }
    }
    anyhow::ensure!(n == RECORDS, "{n} records, not {RECORDS}");
    Ok(())
}

/// Per key `mix(i) % KEYS`: how many records and the sum of their `i`.
fn reference() -> BTreeMap<u64, (u64, u64)> {
    let mut want: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for i in 0..RECORDS {
        let e = want.entry(mix(i) % KEYS).or_default();
        e.0 += 1;
        e.1 += i;
    }
    want
}

/// Reads `key<TAB>count<TAB>sum` lines.
fn read_sums(out: &Path) -> Result<BTreeMap<u64, (u64, u64)>> {
    let mut got = BTreeMap::new();
    for part in part_files(out) {
        for line in std::fs::read_to_string(&part)?.lines() {
            let f: Vec<u64> = line.split('\t').map(str::parse).collect::<Result<_, _>>()?;
            anyhow::ensure!(f.len() == 3, "not key, count, sum: {line}");
            anyhow::ensure!(got.insert(f[0], (f[1], f[2])).is_none(), "key {} twice", f[0]);
        }
    }
    Ok(got)
}

/// The executors' peak memory, each within the budget and the overhead.
fn check_peak_memory(cluster: &Cluster) -> Result<Vec<u64>> {
    let mut peaks = Vec::new();
    for e in &cluster.executors {
        let peak = peak_rss(e.0.id())?;
        anyhow::ensure!(
            peak <= MEMORY + OVERHEAD,
            "executor {} peaked at {} MiB, over the {} MiB budget plus {} MiB overhead",
            e.0.id(),
            peak >> 20,
            MEMORY >> 20,
            OVERHEAD >> 20
        );
        peaks.push(peak >> 20);
    }
    Ok(peaks)
}

/// Waits until no spill file is left under either executor's root.
fn await_no_spill_files(cluster: &Cluster) -> Result<()> {
    await_condition("spill files to be removed", Duration::from_secs(20), || {
        (0..2).all(|i| files_under(&spill_root(cluster, i)).is_empty()).then_some(())
    })
}

#[test]
fn sort_group_and_join_four_times_the_memory_finish_exactly_within_the_budget() -> Result<()> {
    let cluster = start()?;
    let records = RECORDS.to_string();
    let keys = KEYS.to_string();

    let sorted = cluster.dir.path().join("sorted");
    submit(&cluster, &["spill-sort", &records, "4", sorted.to_str().unwrap()])?;
    check_sorted(&sorted)?;
    await_no_spill_files(&cluster)?;

    let want = reference();
    let grouped = cluster.dir.path().join("grouped");
    submit(&cluster, &["spill-group", &records, &keys, "4", grouped.to_str().unwrap()])?;
    assert_eq!(read_sums(&grouped)?, want, "group_by_key: counts and sums per key");
    await_no_spill_files(&cluster)?;

    let joined = cluster.dir.path().join("joined");
    submit(&cluster, &["spill-join", &records, &keys, "4", joined.to_str().unwrap()])?;
    assert_eq!(read_sums(&joined)?, want, "join: rows and sums per key");
    await_no_spill_files(&cluster)?;

    let status = cluster.status()?;
    for e in status["executors"].as_array().context("executors")? {
        let m = &e["memory"];
        assert_eq!(m["budget_bytes"], MEMORY, "{e}");
        assert!(m["spilled_bytes"].as_u64() > Some(0), "every executor spilled: {e}");
        assert_eq!((m["spill_files"].as_u64(), m["shuffle_bytes_disk"].as_u64()), (Some(0), Some(0)), "{e}");
    }
    let peaks = check_peak_memory(&cluster)?;
    eprintln!("peak resident memory of the executors: {peaks:?} MiB");
    Ok(())
}

#[test]
fn an_executor_killed_while_spilling_leaves_no_files_once_started_again() -> Result<()> {
    let mut cluster = start()?;
    let sorted = cluster.dir.path().join("sorted");
    let records = RECORDS.to_string();
    let job =
        cluster.submit_background(&example("bench-jobs"), &["spill-sort", &records, "4", sorted.to_str().unwrap()])?;
    // Executor 0 in the middle of a spilling stage: files in its directory.
    let dead_dir = await_condition("executor 0 to spill", Duration::from_secs(120), || {
        let files = files_under(&spill_root(&cluster, 0));
        let dir = files.first()?.strip_prefix(spill_root(&cluster, 0)).ok()?.components().next()?;
        Some(spill_root(&cluster, 0).join(dir))
    })?;
    cluster.signal_executor(0, libc::SIGKILL);
    cluster.executors[0].0.wait()?;
    assert!(dead_dir.exists(), "a killed executor leaves its files");
    add_executor(&mut cluster, 0)?;
    await_condition("the restarted executor to remove them", Duration::from_secs(30), || {
        (!dead_dir.exists()).then_some(())
    })?;
    let out = job.wait_with_output()?;
    assert!(out.status.success(), "{}", describe(&out));
    check_sorted(&sorted)?;
    await_no_spill_files(&cluster)?;
    Ok(())
}

/// `map_partitions` hands its function an iterator that reads the input as it is
/// asked: a 64 MB partition goes through a task whose memory limit is 32 MiB,
/// which the buffered form (`map_partitions_vec`) cannot hold.
#[test]
fn map_partitions_streams_a_partition_larger_than_the_task_memory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("lines.txt");
    let mut text = String::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    for i in 0..1_000_000u64 {
        let line = format!("line {i:>9} {}", "x".repeat((mix(i) % 80) as usize));
        bytes += line.len() as u64;
        lines += 1;
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&input, text)?;
    let run = |form: &str| {
        std::process::Command::new(spindle_tests::spindle_bin())
            .args(["run", "--slots", "1", "--task-memory", "32MiB"])
            .arg(example("bench-jobs"))
            .args(["--", "partition-lines", input.to_str().unwrap(), form])
            .env("SPINDLE_CACHE_DIR", dir.path().join("cache"))
            .output()
    };
    let out = run("iter")?;
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("lines {lines} bytes {bytes}")), "{}", describe(&out));
    let out = run("vec")?;
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("sandbox memory limit of 32 MiB exceeded"),
        "the buffered form cannot hold the partition: {}",
        describe(&out)
    );
    Ok(())
}

/// `reduce_by_key` over millions of keys with a small memory budget: the map
/// side hands its table on in parts, the host sorts each large reduce partition
/// by key through runs on disk, and the guest combines one key at a time. The
/// counts per key are checked through a checksum that any wrong grouping
/// changes.
#[test]
fn reduce_by_key_over_millions_of_keys_combines_sorted_partitions() -> Result<()> {
    const N: u64 = 6_000_000;
    const KEYS: u64 = 6_000_000;
    let mut counts: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for i in 0..N {
        *counts.entry(mix(i) % KEYS).or_default() += 1;
    }
    let check = counts.iter().fold(0u64, |c, (&k, &n)| c.wrapping_add(mix(k ^ mix(n))));
    let dir = tempfile::tempdir()?;
    let out = std::process::Command::new(spindle_tests::spindle_bin())
        .args(["run", "--slots", "2", "--memory", "64MiB"])
        .arg(example("bench-jobs"))
        .args(["--", "spill-reduce", &N.to_string(), &KEYS.to_string(), "2"])
        .env("SPINDLE_CACHE_DIR", dir.path().join("cache"))
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let want = format!("keys {} total {N} check {check}", counts.len());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&want), "want `{want}`: {}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("spilled to disk"),
        "sorted through runs: {}",
        describe(&out)
    );
    Ok(())
}
