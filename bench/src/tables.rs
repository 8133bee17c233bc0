//! Parquet scan + aggregate: a generated trips table (`id`, `city`, `fare`,
//! `tip`; 1,000 cities) in 4 Parquet files of 1 Mi-row row groups, and per city
//! the count of rows and the sum of fares. Spindle runs the table example's
//! `aggregate` (examples/tables: the host reads `city` and `fare` only, the
//! guest sums) in local mode with 2 slots; DuckDB, Polars and Spark's DataFrame
//! API run the same query on 2 threads (`bench/tables_bench.py`, where their
//! Python packages are installed). Every system's result is checked against
//! the sums made while generating the table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::systems::Spindle;
use crate::{fresh, median};

const FILES: u64 = 4;
const CITIES: u64 = 1000;

type Totals = BTreeMap<String, (u64, f64)>;

/// Writes the table under `dir` (kept between runs of the harness, by row
/// count); returns it and the per-city totals.
fn generate(data: &Path, rows: u64) -> Result<(PathBuf, Totals)> {
    let dir = data.join(format!("trips-{rows}"));
    let totals_file = data.join(format!("trips-{rows}.totals.json"));
    if let Ok(text) = std::fs::read_to_string(&totals_file) {
        let v: Vec<(String, u64, f64)> = serde_json::from_str(&text)?;
        return Ok((dir, v.into_iter().map(|(c, n, s)| (c, (n, s))).collect()));
    }
    eprintln!("== generating a {rows}-row Parquet table under {}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("fare", DataType::Float64, false),
        Field::new("tip", DataType::Float64, true),
    ]));
    let names: Vec<String> = (0..CITIES).map(|c| format!("city-{c:04}")).collect();
    let mut totals: Totals = BTreeMap::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(1 << 20)).build();
    let per_file = rows.div_ceil(FILES);
    let mut id = 0u64;
    for f in 0..FILES {
        let file = std::fs::File::create(dir.join(format!("trips-{f}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props.clone()))?;
        let end = rows.min(id + per_file);
        while id < end {
            let n = (end - id).min(65_536) as usize;
            let (mut ids, mut cities, mut fares, mut tips) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let city = &names[(next() % CITIES) as usize];
                let fare = (next() % 10_000) as f64 / 100.0;
                let total = totals.entry(city.clone()).or_insert((0, 0.0));
                total.0 += 1;
                total.1 += fare;
                ids.push(id as i64);
                cities.push(city.as_str());
                fares.push(fare);
                tips.push((next() % 4 != 0).then(|| (next() % 500) as f64 / 100.0));
                id += 1;
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(cities)),
                Arc::new(Float64Array::from(fares)),
                Arc::new(Float64Array::from(tips)),
            ];
            writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        }
        writer.close()?;
    }
    let list: Vec<(&String, u64, f64)> = totals.iter().map(|(c, (n, s))| (c, *n, *s)).collect();
    std::fs::write(&totals_file, serde_json::to_string(&list)?)?;
    Ok((dir, totals))
}

fn check(system: &str, got: &Totals, want: &Totals) -> Result<()> {
    ensure!(got.len() == want.len(), "{system}: {} cities, not {}", got.len(), want.len());
    for (city, (n, sum)) in want {
        let (got_n, got_sum) = got.get(city).with_context(|| format!("{system}: no {city}"))?;
        ensure!(got_n == n && (got_sum - sum).abs() <= 1e-6 * sum.abs().max(1.0), "{system}: {city} differs");
    }
    Ok(())
}

/// The `city,trips,total` rows of the aggregation's CSV parts.
fn read_spindle(out: &Path) -> Result<Totals> {
    let mut totals = BTreeMap::new();
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines().skip(1) {
            let mut f = line.split(',');
            let (city, n, sum) = (f.next(), f.next(), f.next());
            let (Some(city), Some(n), Some(sum)) = (city, n, sum) else { bail!("bad line {line:?}") };
            totals.insert(city.to_string(), (n.parse()?, sum.parse()?));
        }
    }
    Ok(totals)
}

/// Runs one of the Python systems; its run times and start-up, or `None` when
/// its package is not installed.
fn python_system(
    python: &Path,
    system: &str,
    dir: &Path,
    runs: usize,
    want: &Totals,
) -> Result<Option<(Vec<f64>, f64)>> {
    let module = if system == "spark" { "pyspark" } else { system };
    let has = python.exists()
        && Command::new(python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
    if !has {
        eprintln!("   {system}: not installed in {} (bench/run.sh installs it), skipped", python.display());
        return Ok(None);
    }
    let out = Command::new(python)
        .arg("bench/tables_bench.py")
        .args([system, &dir.display().to_string(), &runs.to_string()])
        .stderr(Stdio::inherit())
        .output()?;
    ensure!(out.status.success(), "bench/tables_bench.py {system} failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with('{')).context("no result line")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let mut got = BTreeMap::new();
    for row in v["result"].as_array().context("result")? {
        got.insert(
            row[0].as_str().unwrap_or_default().to_string(),
            (row[1].as_u64().unwrap_or(0), row[2].as_f64().unwrap_or(0.0)),
        );
    }
    check(system, &got, want)?;
    let times = v["times"].as_array().context("times")?.iter().filter_map(|t| t.as_f64()).collect();
    Ok(Some((times, v["start_up"].as_f64().unwrap_or_default())))
}

/// Figures of the comparison: (name, value, unit).
pub fn tables(args: &crate::Args, spindle: &Spindle, scratch: &Path) -> Result<Vec<(String, f64, String)>> {
    let (dir, want) = generate(&args.data, args.parquet_rows)?;
    let bytes: u64 = std::fs::read_dir(&dir)?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    eprintln!("== tables: group-by-sum over {} rows, {:.0} MB of Parquet", args.parquet_rows, bytes as f64 / 1e6);
    let cache = fresh(&scratch.join("tables-cache"))?;
    let mut times = Vec::new();
    // A warm-up run compiles the component.
    for run in 0..=args.runs {
        let out = fresh(&scratch.join("tables-out"))?;
        let (r, _) = spindle.run_local(
            "tables",
            2,
            &cache,
            &["aggregate", &dir.display().to_string(), &out.display().to_string()],
        )?;
        check("spindle", &read_spindle(&out)?, &want)?;
        if run > 0 {
            times.push(r.app);
        }
    }
    let spindle_s = median(&times);
    let rows_m = args.parquet_rows as f64 / 1e6;
    let mut figures = vec![
        ("tables: Spindle group-by over Parquet".to_string(), spindle_s, "s".to_string()),
        ("tables: Spindle rows per second".to_string(), rows_m / spindle_s, "M rows/s".to_string()),
    ];
    let others = if args.no_spark || args.small { vec!["duckdb", "polars"] } else { vec!["duckdb", "polars", "spark"] };
    for system in others {
        if let Some((t, start_up)) = python_system(&args.python, system, &dir, args.runs + 1, &want)? {
            // The first run warms caches (and Spark's JIT), as Spindle's warm-up does.
            let s = median(&t[1..]);
            figures.push((format!("tables: {system} group-by over Parquet"), s, "s".into()));
            figures.push((format!("tables: {system} start-up (apart)"), start_up, "s".into()));
            figures.push((format!("tables: Spindle time / {system} time"), spindle_s / s, "x".into()));
        }
    }
    Ok(figures)
}
