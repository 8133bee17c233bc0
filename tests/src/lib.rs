//! Helpers for end-to-end tests: start real `spindle` driver and executor processes
//! on ports the OS picks, poll instead of sleeping, kill everything on drop, and
//! compute reference results independently of Spindle.

pub mod attacks;
pub mod netns;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub mod differential;
pub mod http;
pub mod python;
pub mod s3;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The `spindle` binary built next to this test (`cargo build -p spindle` first).
pub fn spindle_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SPINDLE_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/spindle
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("spindle");
    assert!(bin.exists(), "{} is missing: run `cargo build -p spindle` (scripts/test.sh does)", bin.display());
    bin
}

/// A guest component from `target/examples/` (built by scripts/build-examples.sh).
pub fn example(name: &str) -> PathBuf {
    let p = root().join("target").join("examples").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} is missing: run scripts/build-examples.sh (scripts/test.sh does)", p.display());
    p
}

/// Starts `spindle history` over `event_log_dir` (extra arguments after) on a
/// free port; the process and its URL.
pub fn start_history(event_log_dir: &Path, extra: &[&str]) -> Result<(Proc, String)> {
    let mut child = Command::new(spindle_bin())
        .args(["history", "--listen", "127.0.0.1:0", "--event-log-dir"])
        .arg(event_log_dir)
        .args(extra)
        .env_remove("SPINDLE_SECRET")
        .env_remove("SPINDLE_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the history server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("history stdout")?).read_line(&mut line)?;
    let url = line.trim().strip_prefix("spindle history server on ").context("history address line")?.to_string();
    Ok((Proc(child), url))
}

/// Polls `cond` every 20 ms until it returns `Some`, or fails after `timeout`.
pub fn await_condition<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(done, running, tasks)` of every stage of `kind` (`shuffle-map`,
/// `save-as-text-file`, ...) in a `spindle status --json` answer.
pub fn stage_counts(status: &serde_json::Value, kind: &str) -> Vec<(u64, u64, u64)> {
    let applications = status["applications"].as_array().into_iter().flatten();
    let stages = applications.flat_map(|a| a["stages"].as_array().into_iter().flatten());
    stages
        .filter(|st| st["kind"] == kind)
        .map(|st| {
            let n = |k: &str| st[k].as_u64().unwrap_or(0);
            (n("done"), n("running"), n("tasks"))
        })
        .collect()
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An environment variable every test executor has, which no guest may see.
pub const CANARY: (&str, &str) = ("SPINDLE_TEST_CANARY", "canary-value-guests-must-not-see");

/// A tenant's credentials.
#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    /// The tenant's name.
    pub name: &'a str,
    /// Its token.
    pub token: &'a str,
}

/// A driver and executors running as separate processes.
pub struct Cluster {
    /// The driver's URL.
    pub url: String,
    /// Its HTTP server (API, metrics), e.g. `http://127.0.0.1:PORT`.
    pub ui: String,
    driver: Proc,
    _driver_stdout: BufReader<std::process::ChildStdout>,
    /// The executor processes.
    pub executors: Vec<Proc>,
    /// Scratch space (compiled caches) removed on drop.
    pub dir: tempfile::TempDir,
    /// How the driver was started, and what every member gets.
    launch: DriverLaunch,
}

/// How a cluster's driver is started (kept to start it again), and what every
/// member of the cluster gets.
struct DriverLaunch {
    caches: PathBuf,
    secret: Option<String>,
    config: Option<PathBuf>,
    /// Environment every process of the cluster and every client command gets
    /// (TLS settings).
    env: Vec<(String, String)>,
    /// Whether members log at debug level into files under `caches`
    /// (`driver.log`, and each executor's beside its cache, `.log`).
    logs: bool,
}

impl DriverLaunch {
    /// Starts the driver listening on `listen`; the process, its stdout, its URL.
    fn spawn(&self, listen: &str) -> Result<(Proc, BufReader<std::process::ChildStdout>, String, String)> {
        let mut cmd = Command::new(spindle_bin());
        cmd.args(["driver", "--listen", listen, "--ui-listen", "127.0.0.1:0"])
            .env("SPINDLE_CACHE_DIR", self.caches.join("driver-cache"))
            .env_remove("SPINDLE_SECRET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped());
        if self.logs {
            cmd.env("SPINDLE_LOG", "debug").stderr(std::fs::File::create(self.caches.join("driver.log"))?);
        }
        if let Some(s) = &self.secret {
            cmd.env("SPINDLE_SECRET", s);
        }
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        let mut driver = Proc(cmd.spawn().context("starting the driver")?);
        let mut stdout = BufReader::new(driver.0.stdout.take().context("driver stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().context("driver address line")?.to_string();
        anyhow::ensure!(url.starts_with("http://") || url.starts_with("https://"), "unexpected driver output: {line}");
        line.clear();
        stdout.read_line(&mut line)?;
        let ui = line.trim().strip_prefix("spindle driver UI on ").context("driver UI line")?.to_string();
        Ok((driver, stdout, url, ui))
    }

    /// The command that starts an executor of this cluster (with its secret).
    fn executor_command(&self, url: &str, slots: u32, cache: &Path) -> Command {
        let mut cmd = Command::new(spindle_bin());
        cmd.args(["executor", "--driver", url, "--slots", &slots.to_string()])
            .env("SPINDLE_CACHE_DIR", cache)
            .env(CANARY.0, CANARY.1)
            .env_remove("SPINDLE_SECRET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null());
        if self.logs
            && let Ok(log) = std::fs::File::create(cache.with_extension("log"))
        {
            cmd.env("SPINDLE_LOG", "debug").stderr(log);
        }
        if let Some(s) = &self.secret {
            cmd.env("SPINDLE_SECRET", s);
        }
        cmd
    }
}

impl Cluster {
    /// Starts a driver and `executors` executors with `slots` slots each, each with
    /// its own (new) compiled-artifact cache, and waits until all have registered.
    pub fn start(executors: usize, slots: u32) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let caches = dir.path().to_path_buf();
        Self::start_with_caches(executors, slots, &caches, dir)
    }

    /// Like [`Cluster::start`], with the cluster secret `secret` given to every
    /// member and the driver reading `config` (TOML) as its config file.
    pub fn start_configured(executors: usize, slots: u32, secret: &str, config: &str) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let caches = dir.path().to_path_buf();
        let config_path = caches.join("driver.toml");
        std::fs::write(&config_path, config)?;
        Self::launch(executors, slots, &caches, dir, Some(secret), Some(&config_path), Vec::new())
    }

    /// Like [`Cluster::start_configured`], with `env` set for every process of the
    /// cluster and every client command (TLS settings).
    pub fn start_with_env(
        executors: usize,
        slots: u32,
        secret: &str,
        config: &str,
        env: Vec<(String, String)>,
        dir: tempfile::TempDir,
    ) -> Result<Cluster> {
        let caches = dir.path().to_path_buf();
        let config_path = caches.join("driver.toml");
        std::fs::write(&config_path, config)?;
        Self::launch(executors, slots, &caches, dir, Some(secret), Some(&config_path), env)
    }

    /// Like [`Cluster::start`], with the compiled-artifact caches under `caches`
    /// (executor `i` uses `caches/exec-cache-i`), so a later cluster can reuse them.
    pub fn start_with_caches(executors: usize, slots: u32, caches: &Path, dir: tempfile::TempDir) -> Result<Cluster> {
        Self::launch(executors, slots, caches, dir, None, None, Vec::new())
    }

    fn launch(
        executors: usize,
        slots: u32,
        caches: &Path,
        dir: tempfile::TempDir,
        secret: Option<&str>,
        config: Option<&Path>,
        env: Vec<(String, String)>,
    ) -> Result<Cluster> {
        let launch = DriverLaunch {
            caches: caches.to_path_buf(),
            secret: secret.map(str::to_string),
            config: config.map(Path::to_path_buf),
            env,
            logs: false,
        };
        Self::launch_with(executors, slots, launch, dir)
    }

    /// Like [`Cluster::start_with_env`], the secret and the config optional,
    /// with every member logging at debug level into files: [`Cluster::logs`]
    /// reads them all.
    pub fn start_logged(
        executors: usize,
        slots: u32,
        secret: Option<&str>,
        config: Option<&str>,
        env: Vec<(String, String)>,
    ) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let caches = dir.path().to_path_buf();
        let config = match config {
            Some(text) => {
                std::fs::write(caches.join("driver.toml"), text)?;
                Some(caches.join("driver.toml"))
            }
            None => None,
        };
        let launch = DriverLaunch { caches, secret: secret.map(str::to_string), config, env, logs: true };
        Self::launch_with(executors, slots, launch, dir)
    }

    /// Everything the members logged so far (a cluster started by [`Cluster::start_logged`]).
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.launch.caches).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        all
    }

    fn launch_with(executors: usize, slots: u32, launch: DriverLaunch, dir: tempfile::TempDir) -> Result<Cluster> {
        let caches = launch.caches.clone();
        let (driver, stdout, url, ui) = launch.spawn("127.0.0.1:0")?;
        let mut cluster = Cluster { url, ui, driver, _driver_stdout: stdout, executors: Vec::new(), dir, launch };
        for i in 0..executors {
            cluster.add_executor(slots, &caches.join(format!("exec-cache-{i}")))?;
        }
        cluster.wait_for_executors(executors)?;
        Ok(cluster)
    }

    /// Starts `executors` executors first, pointed at a driver address nobody
    /// serves yet, waits until each has failed to register at least once, then
    /// starts the driver there.
    pub fn start_driver_last(executors: usize, slots: u32) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen = format!("127.0.0.1:{port}");
        let launch =
            DriverLaunch { caches: dir.path().to_path_buf(), secret: None, config: None, env: Vec::new(), logs: false };
        let url = format!("http://{listen}");
        let mut procs = Vec::new();
        let mut logs = Vec::new();
        for i in 0..executors {
            let log = dir.path().join(format!("executor-{i}.log"));
            let mut cmd = launch.executor_command(&url, slots, &dir.path().join(format!("exec-cache-{i}")));
            procs.push(Proc(cmd.stderr(std::fs::File::create(&log)?).spawn().context("starting an executor")?));
            logs.push(log);
        }
        await_condition("every executor to try to register", Duration::from_secs(30), || {
            logs.iter()
                .all(|l| std::fs::read_to_string(l).is_ok_and(|t| t.contains("cannot register with the driver")))
                .then_some(())
        })?;
        let (driver, stdout, url, ui) = launch.spawn(&listen)?;
        let cluster = Cluster { url, ui, driver, _driver_stdout: stdout, executors: procs, dir, launch };
        cluster.wait_for_executors(executors)?;
        Ok(cluster)
    }

    /// Kills the driver (SIGKILL) and starts it again on the same address, with
    /// the same settings; its executors are left to find it again.
    pub fn restart_driver(&mut self) -> Result<()> {
        self.signal_driver(libc::SIGKILL);
        self.wait_driver(Duration::from_secs(10))?;
        let listen = self.url.rsplit("://").next().context("driver URL")?.to_string();
        let (driver, stdout, url, ui) = self.launch.spawn(&listen)?;
        anyhow::ensure!(url == self.url, "the driver came back at {url}, not {}", self.url);
        self.ui = ui;
        self.driver = driver;
        self._driver_stdout = stdout;
        Ok(())
    }

    /// Starts one more executor process using the compiled-artifact cache `cache`.
    pub fn add_executor(&mut self, slots: u32, cache: &Path) -> Result<()> {
        self.add_executor_with(slots, cache, &[])
    }

    /// Starts one more executor process with extra flags (its cache under the
    /// cluster's scratch directory, by index).
    pub fn add_executor_with(&mut self, slots: u32, cache: &Path, flags: &[&str]) -> Result<()> {
        let child = self.executor_command(slots, cache).args(flags).spawn().context("starting an executor")?;
        self.executors.push(Proc(child));
        Ok(())
    }

    /// The command that starts an executor of this cluster (with its secret).
    pub fn executor_command(&self, slots: u32, cache: &Path) -> Command {
        self.launch.executor_command(&self.url, slots, cache)
    }

    /// `spindle SUB --driver URL` acting as `who` (a tenant), or, with `None`, as
    /// an operator holding the cluster secret.
    pub fn command(&self, sub: &str, who: Option<Tenant<'_>>) -> Command {
        let mut cmd = Command::new(spindle_bin());
        cmd.args([sub, "--driver", &self.url])
            .env_remove("SPINDLE_SECRET")
            .env_remove("SPINDLE_TENANT")
            .env_remove("SPINDLE_TOKEN")
            .envs(self.launch.env.iter().filter(|(k, _)| k == "SPINDLE_TLS_CA").map(|(k, v)| (k, v)));
        match who {
            Some(t) => {
                cmd.env("SPINDLE_TENANT", t.name).env("SPINDLE_TOKEN", t.token);
            }
            None => {
                if let Some(s) = &self.launch.secret {
                    cmd.env("SPINDLE_SECRET", s);
                }
            }
        }
        cmd
    }

    /// `spindle submit` as tenant `who`, with extra flags (limits) before the job.
    pub fn submit_as(&self, who: Tenant<'_>, flags: &[&str], job: &Path, args: &[&str]) -> Result<Output> {
        let mut cmd = self.command("submit", Some(who));
        cmd.args(flags).arg(job).arg("--").args(args);
        Ok(cmd.output()?)
    }

    /// Waits until `n` executors are registered and alive.
    pub fn wait_for_executors(&self, n: usize) -> Result<()> {
        await_condition("executors to register", Duration::from_secs(30), || {
            (self.alive_executors().ok()? >= n).then_some(())
        })
    }

    /// How many executors are registered and alive.
    pub fn alive_executors(&self) -> Result<usize> {
        let s = self.status()?;
        Ok(s["executors"].as_array().context("executors")?.iter().filter(|e| e["state"] == "alive").count())
    }

    /// Sends `signal` (e.g. `libc::SIGKILL`) to executor process `i`.
    pub fn signal_executor(&self, i: usize, signal: i32) {
        send_signal(&self.executors[i].0, signal);
    }

    /// Sends `signal` to the driver process.
    pub fn signal_driver(&self, signal: i32) {
        send_signal(&self.driver.0, signal);
    }

    /// Waits for the driver process to exit; its exit code.
    pub fn wait_driver(&mut self, timeout: Duration) -> Result<Option<i32>> {
        await_condition("the driver to exit", timeout, || self.driver.0.try_wait().ok().flatten()).map(|s| s.code())
    }

    /// Starts `spindle submit` of a component in the background (on an open
    /// cluster); collect it with `wait_with_output`.
    pub fn submit_background(&self, job: &Path, args: &[&str]) -> Result<Child> {
        let mut cmd = self.command("submit", None);
        cmd.arg(job).arg("--").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        Ok(cmd.spawn()?)
    }

    /// Waits until some application runs a stage of `kind` (`shuffle-map`,
    /// `save-as-text-file`, ...) for which `pred(done, running, tasks)` holds.
    pub fn await_stage(&self, kind: &str, timeout: Duration, pred: impl Fn(u64, u64, u64) -> bool) -> Result<()> {
        await_condition(&format!("a {kind} stage"), timeout, || {
            let s = self.status().ok()?;
            stage_counts(&s, kind).into_iter().any(|(done, running, tasks)| pred(done, running, tasks)).then_some(())
        })
    }

    /// `spindle status --json`, as an operator (every application).
    pub fn status(&self) -> Result<serde_json::Value> {
        let out = self.command("status", None).arg("--json").output()?;
        anyhow::ensure!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// `spindle status --app APP --json` as `who`.
    pub fn app_status(&self, app: &str, who: Option<Tenant<'_>>) -> Result<serde_json::Value> {
        let out = self.command("status", who).args(["--json", "--app", app]).output()?;
        anyhow::ensure!(out.status.success(), "status --app failed: {}", describe(&out));
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// `spindle submit` of the word count of `work/in` (made of `files`) into
    /// `work/out`; checks that it succeeded with exactly the counts of `files`
    /// and returns its application's id.
    pub fn word_count(&self, work: &Path, files: &[PathBuf]) -> Result<String> {
        let (input, output) = (work.join("in"), work.join("out"));
        let out = self.submit(&example("wordcount"), &[input.to_str().unwrap(), output.to_str().unwrap()])?;
        anyhow::ensure!(out.status.success(), "the word count failed: {}", describe(&out));
        anyhow::ensure!(read_counts(&output)? == reference_counts(files), "the word count's counts are wrong");
        app_id(&out).context("the word count's application id")
    }

    /// `spindle submit` of a component with arguments (on an open cluster).
    pub fn submit(&self, job: &Path, args: &[&str]) -> Result<Output> {
        let mut cmd = self.command("submit", None);
        cmd.arg(job).arg("--").args(args);
        Ok(cmd.output()?)
    }

    /// The driver process's id.
    pub fn driver_pid(&self) -> u32 {
        self.driver.0.id()
    }

    /// Whether the driver process is still running.
    pub fn driver_alive(&mut self) -> bool {
        matches!(self.driver.0.try_wait(), Ok(None))
    }
}

/// A process's peak resident memory so far (`VmHWM`), in bytes.
pub fn peak_rss(pid: u32) -> Result<u64> {
    proc_status_bytes(pid, "VmHWM")
}

/// A process's resident memory now (`VmRSS`), in bytes.
pub fn rss(pid: u32) -> Result<u64> {
    proc_status_bytes(pid, "VmRSS")
}

fn proc_status_bytes(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key)).with_context(|| format!("no {key} line"))?;
    let kib: u64 = line.split_whitespace().nth(1).with_context(|| format!("{key} value"))?.parse()?;
    Ok(kib << 10)
}

/// Sends `signal` to a child process.
pub fn send_signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on a child we own; a stale pid is at worst an ESRCH error.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

/// `spindle run` (local mode) of a component with arguments.
pub fn run_local(job: &Path, slots: u32, cache: &Path, args: &[&str]) -> Result<Output> {
    let out = Command::new(spindle_bin())
        .args(["run", "--slots", &slots.to_string()])
        .arg(job)
        .arg("--")
        .args(args)
        .env("SPINDLE_CACHE_DIR", cache)
        .output()?;
    Ok(out)
}

/// Word counts computed directly (the reference): words split on Unicode whitespace.
pub fn reference_counts(files: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("reading input");
        for w in text.split_whitespace() {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// Reads `word<TAB>count` lines from every `part-*` file of `dir`; fails on a
/// duplicate word, a bad line, or a missing `_SUCCESS`.
pub fn read_counts(dir: &Path) -> Result<BTreeMap<String, u64>> {
    anyhow::ensure!(dir.join("_SUCCESS").exists(), "{} has no _SUCCESS", dir.display());
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("part-") {
            anyhow::ensure!(name == "_SUCCESS", "unexpected file {name} in the output");
            continue;
        }
        for line in read_part(&path)?.lines() {
            let (w, n) = line.split_once('\t').with_context(|| format!("bad line {line:?}"))?;
            anyhow::ensure!(counts.insert(w.to_string(), n.parse::<u64>()?).is_none(), "word {w:?} appears twice");
        }
    }
    Ok(counts)
}

/// The text of a `part-*` file: `.gz` parts decompressed by the system's `gzip`
/// (a reader independent of Spindle's), `.zst` parts by the zstd library.
pub fn read_part(path: &Path) -> Result<String> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => {
            let out = std::process::Command::new("gzip").arg("-dc").arg(path).output().context("running gzip")?;
            anyhow::ensure!(
                out.status.success(),
                "gzip -dc {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
        Some("zst") => zstd::decode_all(std::fs::File::open(path)?)?,
        Some("bz2") => {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut bzip2::read::MultiBzDecoder::new(std::fs::File::open(path)?), &mut text)?;
            text
        }
        _ => std::fs::read(path)?,
    };
    Ok(String::from_utf8(bytes)?)
}

/// The `part-*` files of an output directory.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("part-"))
        .collect();
    parts.sort();
    parts
}

/// Asserts that a command failed and said `what` (on stdout or stderr).
pub fn fails_with(out: &Output, what: &str) {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains(what), "expected a failure with `{what}`: {}", describe(out));
}

/// A small deterministic generator (xorshift), so inputs are reproducible.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Writes `files` text files of `lines` lines into `dir`, with Unicode words, mixed
/// whitespace (tabs, vertical tabs, form feeds, non-breaking, ideographic and other
/// multi-byte spaces), CRLF endings and blank lines. Returns their paths. Some
/// words share their first byte with multi-byte whitespace (¡ with U+00A0, ᚠ with
/// U+1680, € with U+2028, あ with U+3000).
pub fn write_text_inputs(dir: &Path, files: usize, lines: usize, seed: u64) -> Vec<PathBuf> {
    const WORDS: &[&str] = &[
        "the",
        "fox",
        "Fox",
        "über",
        "naïve",
        "日本語",
        "λόγος",
        "слово",
        "🦀",
        "a",
        "straße",
        "ça",
        "x1",
        "-",
        "Ωmega",
        "¡hola",
        "ᚠ",
        "€5",
        "あ、",
        "sentence-long-compound-word",
    ];
    const SPACES: &[&str] = &[
        " ", " ", " ", " ", " ", "\t", "\u{a0}", "\u{3000}", "  ", "\u{b}", "\u{c}", "\u{85}", "\u{1680}", "\u{2028}",
        "\u{2003}", "\u{205f}",
    ];
    let mut rng = Rng(seed);
    std::fs::create_dir_all(dir).unwrap();
    (0..files)
        .map(|i| {
            let mut text = String::new();
            for l in 0..lines {
                let n = rng.next_u64() % 12;
                for j in 0..n {
                    if j > 0 {
                        text.push_str(SPACES[(rng.next_u64() % SPACES.len() as u64) as usize]);
                    }
                    text.push_str(WORDS[(rng.next_u64() % WORDS.len() as u64) as usize]);
                    if rng.next_u64().is_multiple_of(5) {
                        text.push_str(&(rng.next_u64() % 300).to_string());
                    }
                }
                text.push_str(if l % 7 == 3 { "\r\n" } else { "\n" });
            }
            let path = dir.join(format!("input-{i}.txt"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// The application id `spindle submit` or `spindle run` printed.
pub fn app_id(out: &Output) -> Option<String> {
    let text = String::from_utf8_lossy(&out.stderr);
    let rest = &text[text.find("application app-")? + "application ".len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// Output of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// SplitMix64's finalizer, as the example jobs use it to generate their data.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The lines of every part file of `dir`, in part order.
pub fn part_lines(dir: &Path) -> Vec<String> {
    part_files(dir)
        .iter()
        .flat_map(|p| std::fs::read_to_string(p).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// What an executor answers when sent `spec` directly, as a driver would send it
/// (with the cluster secret `secret`).
pub fn run_on_executor(
    address: &str,
    secret: &str,
    spec: spindle_proto::TaskSpec,
) -> Result<spindle_proto::TaskResult> {
    use spindle_proto::executor_client::ExecutorClient;
    use spindle_proto::{TaskControl, task_control};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let credentials = spindle_proto::auth::Credentials::cluster(Some(secret))?;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?.connect().await?;
        let mut client = ExecutorClient::new(credentials.channel(channel));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(TaskControl { seq: 1, what: Some(task_control::What::Launch(spec)) })?;
        let mut done = client.run_tasks(tokio_stream::wrappers::UnboundedReceiverStream::new(rx)).await?.into_inner();
        while let Some(msg) = done.message().await? {
            if let Some(result) = msg.result.filter(|_| msg.seq == 1) {
                return Ok(result);
            }
        }
        anyhow::bail!("the executor closed the task stream without a result")
    })
}
