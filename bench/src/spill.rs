//! A sort larger than memory: `bench-jobs spill-sort N PARTS` (N generated
//! records of about 100 bytes, sorted by a 64-bit key into PARTS range
//! partitions, written as text) on a driver and one executor of 2 slots, once
//! with the default memory budget (it fits) and once with `--sort-memory`
//! (about a tenth of the data: map outputs and sorted runs spill). Reports each
//! run's time and the executor's peak resident memory, and Spark's RDD
//! `sortByKey` and DataFrame `orderBy` of the same records on 2 cores
//! (`bench/spark_bench.py spill-sort`). Every Spindle output is checked: every
//! record once, in key order.

use std::path::Path;

use anyhow::{Context, Result, ensure};

use crate::systems::{Cluster, Spindle, run_spark};
use crate::{fresh, median};

/// Range partitions of the sort (and map partitions of its input).
const PARTS: u32 = 8;

/// Checks a sorted output: N records, keys in order, every index once (by
/// their sum).
fn check(out: &Path, records: u64) -> Result<()> {
    let (mut n, mut last, mut sum) = (0u64, 0u64, 0u128);
    for part in crate::part_files(out)? {
        for line in std::fs::read_to_string(&part)?.lines() {
            let (key, value) = line.split_once('\t').context("a line without a tab")?;
            let key: u64 = key.parse()?;
            ensure!(key >= last, "{}: key {key} after {last}", part.display());
            sum += u128::from(value.get(..12).context("a short value")?.parse::<u64>()?);
            last = key;
            n += 1;
        }
    }
    let want = u128::from(records) * u128::from(records.saturating_sub(1)) / 2;
    ensure!(n == records && sum == want, "{n} records (sum of indices {sum}), not {records} ({want})");
    Ok(())
}

/// One configuration's figures: the action's median time and the executor's
/// peak resident memory.
fn run_sort(spindle: &Spindle, scratch: &Path, records: u64, runs: usize, memory: Option<u64>) -> Result<(f64, f64)> {
    let name = memory.map_or("ample".to_string(), |m| format!("{}MiB", m >> 20));
    let flags: Vec<String> = memory.map(|m| vec!["--memory".into(), format!("{m}B")]).unwrap_or_default();
    let cluster =
        Cluster::start_with_executor_flags(spindle, 1, 2, &fresh(&scratch.join(format!("spill-{name}")))?, &flags)?;
    let out = scratch.join(format!("sorted-{name}"));
    let mut times = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let args = ["spill-sort".to_string(), records.to_string(), PARTS.to_string(), out.display().to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, stdout) = cluster.submit(spindle, "bench-jobs", &args)?;
        let secs: f64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("seconds "))
            .context("the job printed no time")?
            .trim()
            .parse()?;
        check(&out, records)?;
        times.push(secs);
    }
    let _ = std::fs::remove_dir_all(&out);
    let peak = cluster.executor_peak_kib(0).context("the executor's peak memory")? as f64 / 1024.0;
    eprintln!("   sort of {records} records, memory {name}: {:.3} s, executor peak {peak:.0} MiB", median(&times));
    Ok((median(&times), peak))
}

/// The part's figures: (name, value, unit).
pub fn spill(args: &crate::Args, spindle: &Spindle, scratch: &Path) -> Result<Vec<(String, f64, String)>> {
    eprintln!("== sort beyond memory: {} records, --memory {} MiB", args.sort_records, args.sort_memory_mib);
    let records = args.sort_records;
    let (ample, ample_peak) = run_sort(spindle, scratch, records, args.runs, None)?;
    let (spilled, spilled_peak) = run_sort(spindle, scratch, records, args.runs, Some(args.sort_memory_mib << 20))?;
    let data_mb = records as f64 * 100.0 / 1e6;
    let mut figures = vec![
        (format!("sort {records} records (~{data_mb:.0} MB), memory ample"), ample, "s".into()),
        ("  executor peak RSS, memory ample".into(), ample_peak, "MiB".into()),
        (format!("sort, --memory {} MiB (spilling)", args.sort_memory_mib), spilled, "s".into()),
        ("  executor peak RSS, spilling".into(), spilled_peak, "MiB".into()),
        ("  spilling vs in memory (goal <= 1.5)".into(), spilled / ample, "x".into()),
    ];
    if !args.no_spark && !args.small {
        let python = Path::new("target/bench-venv/bin/python");
        let input = format!("{records}:{PARTS}");
        match run_spark(python, Path::new("bench/spark_bench.py"), "spill-sort", Path::new(&input), args.runs, scratch)
        {
            Ok(results) => {
                for r in results {
                    ensure!(r.keys == records, "Spark {} wrote {} records, not {records}", r.api, r.keys);
                    let t = median(&r.times);
                    let label = if r.api == "rdd" { "Spark RDD sortByKey" } else { "Spark DataFrame orderBy" };
                    figures.push((format!("{label} (local[2])"), t, "s".into()));
                    figures.push((
                        format!("  Spindle spilling vs {label} (goal <= 0.5 for DataFrame)"),
                        spilled / t,
                        "x".into(),
                    ));
                }
            }
            Err(e) => eprintln!("   Spark skipped: {e:#}"),
        }
    }
    Ok(figures)
}
