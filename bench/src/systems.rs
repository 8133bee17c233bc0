//! Running the systems under test: Spindle (local mode and a driver with two
//! executor processes) through its CLI, and Apache Spark through PySpark.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One timed run of a Spindle application.
#[derive(Debug, Clone, Copy)]
pub struct SpindleRun {
    /// Wall time of the CLI process.
    pub wall: f64,
    /// The application's own duration as the driver reports it (its `main`).
    pub app: f64,
    /// The driver's compile of the component (0 when it was already compiled).
    pub compile: f64,
}

fn compile_seconds(stderr: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| l.split(", compiled in ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn app_seconds(stderr: &str) -> Result<f64> {
    let line = stderr.lines().find(|l| l.contains(" succeeded in ")).context("no success line")?;
    let secs = line.rsplit(" succeeded in ").next().unwrap().trim_end_matches(" s");
    Ok(secs.parse()?)
}

fn run_cli(cmd: &mut Command) -> Result<(SpindleRun, String)> {
    let start = Instant::now();
    let out = cmd.output()?;
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{stderr}");
    }
    let app = app_seconds(&stderr)?;
    let compile = compile_seconds(&stderr);
    Ok((SpindleRun { wall, app, compile }, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The Spindle CLI and example components.
pub struct Spindle {
    pub bin: PathBuf,
    pub examples: PathBuf,
}

impl Spindle {
    pub fn job(&self, name: &str) -> PathBuf {
        self.examples.join(format!("{name}.wasm"))
    }

    /// `spindle run` in local mode with `slots` slots.
    pub fn run_local(&self, job: &str, slots: u32, cache: &Path, args: &[&str]) -> Result<(SpindleRun, String)> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["run", "--ui-listen", "none", "--slots", &slots.to_string()]).arg(self.job(job)).arg("--").args(args);
        cmd.env("SPINDLE_CACHE_DIR", cache);
        run_cli(&mut cmd)
    }
}

/// A driver and executor processes, killed on drop.
pub struct Cluster {
    pub url: String,
    procs: Vec<Child>,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

impl Cluster {
    /// Starts a driver and `executors` executors of `slots` slots, caches under `cache`.
    pub fn start(spindle: &Spindle, executors: usize, slots: u32, cache: &Path) -> Result<Cluster> {
        Self::start_configured(spindle, executors, slots, cache, "")
    }

    /// [`start`](Self::start) with `flags` given to every executor.
    pub fn start_with_executor_flags(
        spindle: &Spindle,
        executors: usize,
        slots: u32,
        cache: &Path,
        flags: &[String],
    ) -> Result<Cluster> {
        Self::launch(spindle, executors, slots, cache, "", flags)
    }

    /// [`start`](Self::start) with a driver config file of `config` (TOML; empty: defaults).
    pub fn start_configured(
        spindle: &Spindle,
        executors: usize,
        slots: u32,
        cache: &Path,
        config: &str,
    ) -> Result<Cluster> {
        Self::launch(spindle, executors, slots, cache, config, &[])
    }

    fn launch(
        spindle: &Spindle,
        executors: usize,
        slots: u32,
        cache: &Path,
        config: &str,
        flags: &[String],
    ) -> Result<Cluster> {
        let mut driver = Command::new(&spindle.bin);
        driver.args(["driver", "--listen", "127.0.0.1:0", "--ui-listen", "none"]);
        if !config.is_empty() {
            std::fs::create_dir_all(cache)?;
            let file = cache.join("driver.toml");
            std::fs::write(&file, config)?;
            driver.arg("--config").arg(file);
        }
        let mut driver = driver.env("SPINDLE_CACHE_DIR", cache.join("driver")).stdout(Stdio::piped()).spawn()?;
        let mut stdout = BufReader::new(driver.stdout.take().context("driver stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().context("driver address")?.to_string();
        let mut cluster = Cluster { url, procs: vec![driver], _stdout: stdout };
        for i in 0..executors {
            let child = Command::new(&spindle.bin)
                .args(["executor", "--driver", &cluster.url, "--slots", &slots.to_string()])
                .args(flags)
                .env("SPINDLE_CACHE_DIR", cache.join(format!("exec-{i}")))
                .stdout(Stdio::null())
                .spawn()?;
            cluster.procs.push(child);
        }
        let start = Instant::now();
        loop {
            let out = Command::new(&spindle.bin).args(["status", "--json", "--driver", &cluster.url]).output()?;
            if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                if v["executors"].as_array().map_or(0, Vec::len) >= executors {
                    return Ok(cluster);
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("executors did not register within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The driver process's peak resident memory so far, in KiB (Linux's
    /// `VmHWM`); `None` where `/proc` does not tell.
    pub fn driver_peak_kib(&self) -> Option<u64> {
        peak_kib(self.procs[0].id())
    }

    /// Executor `i`'s peak resident memory so far, in KiB.
    pub fn executor_peak_kib(&self, i: usize) -> Option<u64> {
        peak_kib(self.procs.get(i + 1)?.id())
    }

    /// `spindle submit`.
    pub fn submit(&self, spindle: &Spindle, job: &str, args: &[&str]) -> Result<(SpindleRun, String)> {
        let mut cmd = Command::new(&spindle.bin);
        cmd.args(["submit", "--driver", &self.url]).arg(spindle.job(job)).arg("--").args(args);
        run_cli(&mut cmd)
    }
}

/// A process's peak resident memory (Linux's `VmHWM`), in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Spark timings for one workload and API.
#[derive(Debug, Clone)]
pub struct SparkResult {
    pub api: String,
    pub times: Vec<f64>,
    pub session_start: f64,
    pub keys: u64,
}

/// Runs `bench/spark_bench.py` with the virtualenv's Python; `None` when PySpark is
/// not installed there.
pub fn run_spark(
    python: &Path,
    script: &Path,
    workload: &str,
    input: &Path,
    runs: usize,
    scratch: &Path,
) -> Result<Vec<SparkResult>> {
    let out = Command::new(python)
        .arg(script)
        .args([workload, &input.display().to_string(), &runs.to_string(), &scratch.display().to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("starting PySpark")?;
    if !out.status.success() {
        bail!("the Spark benchmark failed (exit {:?})", out.status.code());
    }
    let mut results = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        results.push(SparkResult {
            api: v["api"].as_str().unwrap_or_default().to_string(),
            times: v["times"].as_array().context("times")?.iter().filter_map(|t| t.as_f64()).collect(),
            session_start: v["session_start"].as_f64().unwrap_or_default(),
            keys: v["keys"].as_u64().unwrap_or_default(),
        });
    }
    Ok(results)
}
