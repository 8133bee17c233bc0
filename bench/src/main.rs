//! `spindle-bench`: Spindle vs native Rust vs Apache Spark on the same data and
//! cores, and Spindle's own overheads. Prints a table and writes JSON and CSV under
//! the results folder. Run it through `bench/run.sh`, which builds what it needs.

mod data;
mod io;
mod native;
mod spill;
mod systems;
mod tables;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use serde_json::json;

use systems::{Cluster, Spindle, SpindleRun};

#[derive(Parser, Debug)]
#[command(about = "Spindle benchmarks, side by side with native Rust and Apache Spark")]
struct Args {
    /// Word-count input size in MB.
    #[arg(long, default_value_t = 200)]
    size_mb: u64,
    /// Aggregation records.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Aggregation distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Timed runs per system (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// No-op tasks for the task-throughput probe.
    #[arg(long, default_value_t = 10_000)]
    tasks: u32,
    /// Tiny jobs for the latency probe.
    #[arg(long, default_value_t = 200)]
    tiny_runs: u32,
    /// Skip Apache Spark.
    #[arg(long)]
    no_spark: bool,
    /// A few MB, one run, Spark off: for CI, to keep the harness alive.
    #[arg(long)]
    small: bool,
    /// Rows of the generated Parquet table (the `tables` part).
    #[arg(long, default_value_t = 60_000_000)]
    parquet_rows: u64,
    /// Records of the sort beyond memory (the `spill` part), about 100 bytes each.
    #[arg(long, default_value_t = 25_000_000)]
    sort_records: u64,
    /// The executor's memory budget in the spilling run of that sort, in MiB.
    #[arg(long, default_value_t = 256)]
    sort_memory_mib: u64,
    /// Run only these parts (comma-separated: wordcount, aggregate, sort, overheads, io, tables, spill).
    #[arg(long, value_delimiter = ',', value_parser = ["wordcount", "aggregate", "sort", "overheads", "io", "tables", "spill"])]
    only: Vec<String>,
    /// Where results are written.
    #[arg(long, default_value = "bench/results")]
    results: PathBuf,
    /// Where generated inputs are kept.
    #[arg(long, default_value = "target/bench-data")]
    data: PathBuf,
    /// Python with PySpark installed (bench/run.sh makes this virtualenv).
    #[arg(long, default_value = "target/bench-venv/bin/python")]
    python: PathBuf,
    /// The spindle CLI.
    #[arg(long, default_value = "target/release/spindle")]
    spindle: PathBuf,
}

/// One row of the results table.
struct Row {
    workload: String,
    system: String,
    /// Median time compared across systems, seconds.
    median: f64,
    /// Setup reported apart: Spindle's compile of the artifact, Spark's session start.
    setup: Option<(String, f64)>,
    input_bytes: u64,
    note: String,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The part files of `dir`, in part order.
fn part_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut parts = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")) {
            parts.push(p);
        }
    }
    parts.sort();
    Ok(parts)
}

/// `key<TAB>value` lines of every part file of `dir`, in part order.
fn part_lines(dir: &Path) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for p in part_files(dir)? {
        lines.extend(std::fs::read_to_string(&p)?.lines().map(str::to_string));
    }
    Ok(lines)
}

/// A workload's output, in the form two systems' outputs can be compared.
#[derive(PartialEq, Eq)]
enum Output {
    /// One value per key (word count, aggregation).
    PerKey(BTreeMap<String, String>),
    /// Every record once, read in part order with keys in order (sort): kept as
    /// the sorted lines, since records of equal keys may come in any order.
    Sorted(Vec<String>),
}

impl Output {
    fn read(workload: &str, dir: &Path) -> Result<Output> {
        let lines = part_lines(dir)?;
        if workload == "sort" {
            let mut last: Option<&str> = None;
            for line in &lines {
                let (k, _) =
                    line.split_once('\t').with_context(|| format!("bad line {line:?} in {}", dir.display()))?;
                ensure!(last.is_none_or(|l| l <= k), "key {k:?} after {last:?} in {}: not in order", dir.display());
                last = Some(k);
            }
            let mut lines = lines;
            lines.sort_unstable();
            return Ok(Output::Sorted(lines));
        }
        let mut out = BTreeMap::new();
        for line in lines {
            let (k, v) = line.split_once('\t').with_context(|| format!("bad line {line:?} in {}", dir.display()))?;
            ensure!(out.insert(k.to_string(), v.to_string()).is_none(), "key {k:?} twice in {}", dir.display());
        }
        Ok(Output::PerKey(out))
    }

    fn len(&self) -> usize {
        match self {
            Output::PerKey(m) => m.len(),
            Output::Sorted(v) => v.len(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Output::PerKey(m) => format!("{} keys", m.len()),
            Output::Sorted(v) => format!("{} records", v.len()),
        }
    }
}

fn fresh(dir: &Path) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    Ok(dir.to_path_buf())
}

/// Runs one workload on every system; returns its rows.
fn workload(
    args: &Args,
    spindle: &Spindle,
    scratch: &Path,
    name: &str,
    job: &[&str],
    input: &Path,
) -> Result<Vec<Row>> {
    let (job, lead) = job.split_first().expect("a job component");
    let bytes = std::fs::metadata(input)?.len();
    let inp = input.to_str().unwrap();
    let mut rows = Vec::new();
    eprintln!("== {name}: {} ({:.1} MB)", input.display(), bytes as f64 / 1e6);

    // Native Rust (2 threads), Spindle in local mode (2 slots), and Spindle with a
    // driver and two executor processes of one slot each take turns, run by run:
    // a shared machine's speed drifts over minutes, and taking turns lets the drift
    // hit every system alike instead of skewing their ratios.
    // The sort job takes the number of partitions and the order too.
    let options: &[&str] = if name == "sort" { &["2", "asc"] } else { &[] };
    let native_out = scratch.join(format!("{name}-native"));
    let local_cache = fresh(&scratch.join(format!("{name}-cache-local")))?;
    let local_out = scratch.join(format!("{name}-spindle-local"));
    let local = |o: &str| Ok(spindle.run_local(job, 2, &local_cache, &[lead, &[inp], options, &[o]].concat())?.0);
    let cluster = Cluster::start(spindle, 2, 1, &fresh(&scratch.join(format!("{name}-cache-cluster")))?)?;
    let cluster_out = scratch.join(format!("{name}-spindle-cluster"));
    let clustered = |o: &str| Ok(cluster.submit(spindle, job, &[lead, &[inp], options, &[o]].concat())?.0);
    // The first run of each Spindle system compiles into an empty cache (its compile
    // time is reported apart; the row is the median of the warm runs).
    let mut local_runs = vec![timed_run(&local_out, local)?];
    let mut cluster_runs = vec![timed_run(&cluster_out, clustered)?];
    let mut times = Vec::new();
    for _ in 0..args.runs {
        fresh(&native_out)?;
        let t = Instant::now();
        match name {
            "wordcount" => native::wordcount(input, &native_out, 2)?,
            "sort" => native::sort(input, &native_out, 2)?,
            _ => native::aggregate(input, &native_out, 2)?,
        };
        times.push(t.elapsed().as_secs_f64());
        local_runs.push(timed_run(&local_out, local)?);
        cluster_runs.push(timed_run(&cluster_out, clustered)?);
    }
    drop(cluster);
    let reference = Output::read(name, &native_out)?;
    rows.push(Row {
        workload: name.into(),
        system: "native Rust (2 threads)".into(),
        median: median(&times),
        setup: None,
        input_bytes: bytes,
        note: reference.describe(),
    });
    ensure!(
        Output::read(name, &local_out)? == reference,
        "Spindle (local) {name} output differs from the native baseline"
    );
    rows.push(spindle_row(name, "Spindle local (2 slots)", &local_runs, bytes));
    ensure!(
        Output::read(name, &cluster_out)? == reference,
        "Spindle (cluster) {name} output differs from the native baseline"
    );
    rows.push(spindle_row(name, "Spindle driver + 2 executors", &cluster_runs, bytes));

    // Apache Spark local[2], RDD and DataFrame APIs.
    if !args.no_spark && !args.small {
        if !args.python.exists() {
            bail!("{} not found: run bench/run.sh (it installs PySpark), or pass --no-spark", args.python.display());
        }
        let script = Path::new("bench/spark_bench.py");
        for r in
            systems::run_spark(&args.python, script, name, input, args.runs, &scratch.join(format!("{name}-spark")))?
        {
            ensure!(
                r.keys as usize == reference.len(),
                "Spark {} wrote {} lines, native {}",
                r.api,
                r.keys,
                reference.len()
            );
            rows.push(Row {
                workload: name.into(),
                system: format!("Spark local[2] {}", if r.api == "rdd" { "RDD" } else { "DataFrame" }),
                median: median(&r.times),
                setup: Some(("session start".into(), r.session_start)),
                input_bytes: bytes,
                note: String::new(),
            });
        }
    }
    Ok(rows)
}

/// One run into a fresh `out`.
fn timed_run(out: &Path, run: impl Fn(&str) -> Result<SpindleRun>) -> Result<SpindleRun> {
    fresh(out)?;
    run(out.to_str().unwrap())
}

/// A Spindle row: the warm runs' median; the cold run's compile reported apart.
fn spindle_row(workload: &str, system: &str, runs: &[SpindleRun], input_bytes: u64) -> Row {
    let warm: Vec<f64> = runs[1..].iter().map(|r| r.wall).collect();
    let app: Vec<f64> = runs[1..].iter().map(|r| r.app).collect();
    Row {
        workload: workload.into(),
        system: system.into(),
        median: median(&warm),
        setup: Some(("compile".into(), runs[0].compile)),
        input_bytes,
        note: format!("job {:.3} s", median(&app)),
    }
}

/// The seconds a `bench-jobs noop` run reports (`tasks N seconds S`).
fn noop_seconds(stdout: &str) -> Result<f64> {
    Ok(stdout.split_whitespace().nth(3).context("noop output")?.parse()?)
}

/// Spindle's own overheads; returns (name, value, unit) figures.
fn overheads(args: &Args, spindle: &Spindle, scratch: &Path) -> Result<Vec<(String, f64, String)>> {
    eprintln!("== overheads");
    let mut figures = Vec::new();
    let cluster = Cluster::start(spindle, 2, 1, &fresh(&scratch.join("overhead-cache"))?)?;

    // (d) cold start: the first submission pulls and compiles; the second does not.
    let (cold, _) = cluster.submit(spindle, "bench-jobs", &["tiny", "1"])?;
    let (warm, _) = cluster.submit(spindle, "bench-jobs", &["tiny", "1"])?;
    figures.push(("cold start: first submission wall".into(), cold.wall * 1e3, "ms".into()));
    figures.push(("warm start: next submission wall".into(), warm.wall * 1e3, "ms".into()));

    // (a) no-op tasks per second through the driver and two executors.
    // Like the workloads, the median of `runs` submissions.
    let tasks = args.tasks.to_string();
    let noop_rate = |cluster: &Cluster| -> Result<f64> {
        let mut rates = Vec::new();
        for _ in 0..args.runs {
            let (_, stdout) = cluster.submit(spindle, "bench-jobs", &["noop", &tasks])?;
            rates.push(f64::from(args.tasks) / noop_seconds(&stdout)?);
        }
        Ok(median(&rates))
    };
    let peak_before = cluster.driver_peak_kib();
    figures.push(("no-op tasks/s (driver + 2 executors)".into(), noop_rate(&cluster)?, "tasks/s".into()));
    // What a stage's tasks cost the driver's memory while they wait and run.
    if let (Some(before), Some(after)) = (peak_before, cluster.driver_peak_kib()) {
        let per_task = after.saturating_sub(before) as f64 * 1024.0 / f64::from(args.tasks);
        figures.push(("driver peak memory per no-op task".into(), per_task, "bytes".into()));
    }

    // (c) tiny-job latency on the warm cluster.
    let (_, stdout) = cluster.submit(spindle, "bench-jobs", &["tiny", &args.tiny_runs.to_string()])?;
    let lat: Vec<f64> = stdout.lines().filter_map(|l| l.strip_prefix("latency_us ")?.parse().ok()).collect();
    ensure!(!lat.is_empty(), "no latencies reported");
    figures.push(("tiny job latency p50 (2 x 10 records)".into(), percentile(&lat, 0.5) / 1e3, "ms".into()));
    figures.push(("tiny job latency p99".into(), percentile(&lat, 0.99) / 1e3, "ms".into()));
    drop(cluster);

    // (a') the same with at most one task queued at each executor slot.
    let ahead = 1;
    let cache = fresh(&scratch.join("overhead-cache-ahead"))?;
    let cluster = Cluster::start_configured(spindle, 2, 1, &cache, &format!("launch_ahead = {ahead}\n"))?;
    cluster.submit(spindle, "bench-jobs", &["tiny", "1"])?;
    figures.push((format!("no-op tasks/s (launch_ahead = {ahead})"), noop_rate(&cluster)?, "tasks/s".into()));
    drop(cluster);

    // (b) per-task overhead: no-op tasks in local mode on one slot, end to end.
    let cache = fresh(&scratch.join("overhead-local-cache"))?;
    let mut per_task = Vec::new();
    for _ in 0..args.runs {
        let (_, stdout) = spindle.run_local("bench-jobs", 1, &cache, &["noop", &tasks])?;
        per_task.push(noop_seconds(&stdout)? / f64::from(args.tasks) * 1e6);
    }
    figures.push(("per-task overhead (local, 1 slot)".into(), median(&per_task), "us".into()));
    Ok(figures)
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.small {
        args.size_mb = args.size_mb.min(4);
        args.records = args.records.min(200_000);
        args.parquet_rows = args.parquet_rows.min(200_000);
        args.sort_records = args.sort_records.min(300_000);
        args.sort_memory_mib = args.sort_memory_mib.min(8);
        args.keys = args.keys.min(20_000);
        args.runs = 1;
        args.tasks = args.tasks.min(500);
        args.tiny_runs = args.tiny_runs.min(20);
    }
    let spindle = Spindle { bin: args.spindle.clone(), examples: PathBuf::from("target/examples") };
    ensure!(spindle.bin.exists(), "{} not found: run bench/run.sh", spindle.bin.display());
    let scratch = tempfile::Builder::new().prefix("spindle-bench").tempdir()?;

    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|p| p == part);

    eprintln!("== generating data under {}", args.data.display());
    let mut rows = Vec::new();
    if wanted("wordcount") {
        let words = data::word_text(&args.data, args.size_mb * 1_000_000)?;
        // `bench-jobs wordcount`: the word count example's pipeline, without its
        // extra actions (the other systems only count and write).
        rows.extend(workload(&args, &spindle, scratch.path(), "wordcount", &["bench-jobs", "wordcount"], &words)?);
    }
    if wanted("aggregate") || wanted("sort") {
        let pairs = data::key_values(&args.data, args.records, args.keys)?;
        for name in ["aggregate", "sort"].into_iter().filter(|n| wanted(n)) {
            rows.extend(workload(&args, &spindle, scratch.path(), name, &[name], &pairs)?);
        }
    }
    let mut figures = if wanted("overheads") { overheads(&args, &spindle, scratch.path())? } else { Vec::new() };
    if wanted("io") {
        let words = data::word_text(&args.data, args.size_mb * 1_000_000)?;
        figures.extend(io::io(&args, &spindle, scratch.path(), &words)?);
    }
    if wanted("tables") {
        figures.extend(tables::tables(&args, &spindle, scratch.path())?);
    }
    if wanted("spill") {
        figures.extend(spill::spill(&args, &spindle, scratch.path())?);
    }
    report(&args, &rows, &figures)
}

fn report(args: &Args, rows: &[Row], figures: &[(String, f64, String)]) -> Result<()> {
    let mut json_rows = Vec::new();
    let mut csv = String::from("workload,system,median_s,throughput_mb_s,vs_native,vs_spark_df,setup,setup_s,note\n");
    println!();
    println!(
        "{:<10} {:<30} {:>9} {:>9} {:>9} {:>9}  setup (apart)",
        "workload", "system", "median s", "MB/s", "vs native", "vs Spark"
    );
    for r in rows {
        let native = rows.iter().find(|x| x.workload == r.workload && x.system.starts_with("native")).map(|x| x.median);
        let spark = rows.iter().find(|x| x.workload == r.workload && x.system.ends_with("DataFrame")).map(|x| x.median);
        let mbs = r.input_bytes as f64 / 1e6 / r.median;
        let vs_native = native.map(|n| r.median / n);
        let vs_spark = spark.map(|s| r.median / s);
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}x"));
        let setup = r.setup.as_ref().map_or(String::new(), |(k, v)| format!("{k} {v:.3} s"));
        println!(
            "{:<10} {:<30} {:>9.3} {:>9.1} {:>9} {:>9}  {} {}",
            r.workload,
            r.system,
            r.median,
            mbs,
            fmt(vs_native),
            fmt(vs_spark),
            setup,
            r.note
        );
        let (setup_name, setup_s) = r.setup.clone().map_or((String::new(), None), |(k, v)| (k, Some(v)));
        csv.push_str(&format!(
            "{},{},{:.4},{:.1},{},{},{},{},{}\n",
            r.workload,
            r.system,
            r.median,
            mbs,
            vs_native.map_or(String::new(), |v| format!("{v:.3}")),
            vs_spark.map_or(String::new(), |v| format!("{v:.3}")),
            setup_name,
            setup_s.map_or(String::new(), |v| format!("{v:.4}")),
            r.note
        ));
        json_rows.push(json!({
            "workload": r.workload, "system": r.system, "median_s": r.median, "throughput_mb_s": mbs,
            "vs_native": vs_native, "vs_spark_dataframe": vs_spark, "setup": setup_name, "setup_s": setup_s,
            "note": r.note,
        }));
    }
    println!();
    println!("{:<45} {:>12}", "engine overhead", "value");
    for (name, value, unit) in figures {
        println!("{name:<45} {value:>12.2} {unit}");
    }
    std::fs::create_dir_all(&args.results)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let base = args.results.join(format!("bench-{stamp}"));
    let doc = json!({
        "params": { "size_mb": args.size_mb, "records": args.records, "keys": args.keys, "runs": args.runs,
                    "tasks": args.tasks, "tiny_runs": args.tiny_runs, "cores": std::thread::available_parallelism()?.get() },
        "rows": json_rows,
        "overheads": figures.iter().map(|(n, v, u)| json!({"name": n, "value": v, "unit": u})).collect::<Vec<_>>(),
    });
    std::fs::write(base.with_extension("json"), serde_json::to_string_pretty(&doc)?)?;
    std::fs::File::create(base.with_extension("csv"))?.write_all(csv.as_bytes())?;
    eprintln!("results: {}.{{json,csv}}", base.display());
    Ok(())
}
