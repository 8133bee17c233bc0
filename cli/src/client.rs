//! Talking to a driver: `submit` follows an application to its end; `status` shows
//! the cluster. Both `run` and `submit` report an application the same way.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{Stream, StreamExt};
use spindle_driver::api::model::{ApplicationDetail, ClusterView};
use spindle_proto::auth::{AuthChannel, Credentials};

use crate::progress::{Mode, Progress};
use spindle_proto::driver_client::DriverClient;
use spindle_proto::tls::Tls;
use spindle_proto::{
    AppDetailRequest, AppEvent, ApplicationState, KillAppRequest, StatusRequest, SubmitRequest, TaskLimits, app_event,
};

/// Reads a job component, with a clear error for a missing file.
pub fn read_job(job: &Path) -> Result<Vec<u8>> {
    std::fs::read(job).with_context(|| format!("reading job component {}", job.display()))
}

/// Who a client is and how it reaches the driver.
pub struct Who {
    pub credentials: Credentials,
    pub tls: Tls,
}

async fn connect(url: &str, who: Who) -> Result<DriverClient<AuthChannel>> {
    let credentials = who.credentials;
    let channel = who
        .tls
        .endpoint(url)
        .with_context(|| format!("`{url}` is not a driver URL (expected http://HOST:PORT or https://HOST:PORT)"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach the driver at {url}; is `spindle driver` running there?"))?;
    Ok(DriverClient::new(credentials.channel(channel))
        .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES))
}

/// Prints an application's events as they come: progress of its stages and its
/// jobs on stderr (bars on a terminal, lines otherwise, none with `quiet`), what
/// `main` prints as it prints it, then the result. Exit code 0 only if the
/// application succeeded.
///
/// With a `driver` to ask, Ctrl-C asks it to kill the application (and goes on
/// following it to its end); a second Ctrl-C stops following and leaves.
pub async fn follow(
    mut events: impl Stream<Item = Result<AppEvent, String>> + Unpin,
    mut driver: Option<DriverClient<AuthChannel>>,
    quiet: bool,
) -> Result<ExitCode> {
    let mut app_id = String::new();
    let mut interrupts = 0;
    let mut progress = Progress::new(Mode::detect(quiet));
    // Bytes of main's stdout and stderr printed as they came.
    let (mut out, mut err) = (0, 0);
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::signal::ctrl_c(), if driver.is_some() => {
                interrupts += 1;
                if interrupts > 1 || app_id.is_empty() {
                    progress.clear();
                    eprintln!(
                        "spindle: detached; {} may still be running (`spindle kill` stops it)",
                        if app_id.is_empty() { "the application" } else { &app_id }
                    );
                    return Ok(ExitCode::from(130));
                }
                let client = driver.as_mut().expect("checked by the select");
                match client.kill(KillAppRequest { app_id: app_id.clone() }).await {
                    Ok(_) => progress.println(&format!("spindle: asked the driver to kill {app_id} (Ctrl-C again to detach)")),
                    Err(s) => progress.println(&format!("spindle: could not kill {app_id}: {} (Ctrl-C again to detach)", s.message())),
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        let event = event.map_err(|e| anyhow::anyhow!("lost the driver while following {app_id}: {e}"))?;
        match event.event {
            Some(app_event::Event::Accepted(a)) => {
                let compiled = if a.compile_us > 0 {
                    format!(", compiled in {:.3} s", a.compile_us as f64 / 1e6)
                } else {
                    String::new()
                };
                eprintln!("spindle: application {} accepted (artifact {}{compiled})", a.app_id, &a.artifact[..16]);
                app_id = a.app_id;
            }
            Some(app_event::Event::JobDone(j)) => {
                let spilled = if j.spilled_bytes > 0 {
                    format!(", {} spilled to disk", spindle_sandbox::limits::bytes(j.spilled_bytes))
                } else {
                    String::new()
                };
                progress.job_done(j.job_id);
                progress.println(&format!(
                    "spindle: job {} ({}) done: {} stages, {} tasks, {:.3} s{spilled}",
                    j.job_id,
                    j.action,
                    j.stages,
                    j.tasks,
                    j.duration_us as f64 / 1e6
                ));
            }
            Some(app_event::Event::Progress(p)) => progress.update(&p.stages),
            Some(app_event::Event::Output(o)) => {
                out += o.stdout.len();
                err += o.stderr.len();
                progress.suspend(|| -> std::io::Result<()> {
                    std::io::stdout().write_all(&o.stdout)?;
                    std::io::stdout().flush()?;
                    std::io::stderr().write_all(&o.stderr)
                })?;
            }
            Some(app_event::Event::Finished(f)) => {
                progress.clear();
                std::io::stdout().write_all(f.stdout.get(out..).unwrap_or_default())?;
                std::io::stdout().flush()?;
                std::io::stderr().write_all(f.stderr.get(err..).unwrap_or_default())?;
                let secs = f.duration_us as f64 / 1e6;
                if f.succeeded {
                    eprintln!("spindle: application {app_id} succeeded in {secs:.3} s");
                    return Ok(ExitCode::SUCCESS);
                }
                eprintln!("spindle: application {app_id} failed after {secs:.3} s: {}", f.error);
                return Ok(ExitCode::FAILURE);
            }
            None => {}
        }
    }
    progress.clear();
    bail!("the driver closed the stream of {app_id} before it finished")
}

/// `spindle submit`.
pub async fn submit(
    url: &str,
    who: Who,
    limits: Option<TaskLimits>,
    job: &Path,
    args: Vec<String>,
    quiet: bool,
) -> Result<ExitCode> {
    let component = read_job(job)?;
    let mut client = connect(url, who).await?;
    let name = job.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stream = match client.submit(SubmitRequest { component, args, name, limits }).await {
        Ok(s) => s.into_inner(),
        Err(status) => bail!("the driver refused {}: {}{}", job.display(), status.message(), tls_hint(url, &status)),
    };
    follow(stream.map(|r| r.map_err(|s| s.message().to_string())), Some(client), quiet).await
}

/// `spindle kill APP`: stops a running application and its tasks.
pub async fn kill(url: &str, who: Who, app: &str) -> Result<ExitCode> {
    let r = connect(url, who)
        .await?
        .kill(KillAppRequest { app_id: app.to_string() })
        .await
        .map_err(|s| refused(url, &format!("asking the driver to kill {app}"), s))?
        .into_inner();
    if r.killed {
        eprintln!("spindle: killed {app}");
    } else {
        let state = ApplicationState::try_from(r.state).unwrap_or_default();
        eprintln!("spindle: {app} had already finished ({}); nothing to kill", state.label());
    }
    Ok(ExitCode::SUCCESS)
}

fn refused(url: &str, what: &str, s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}{}", s.message(), tls_hint(url, &s))
}

/// A hint when a call in clear may have reached a TLS server (whose reply is not
/// HTTP/2, or which closes the connection: the error varies with the moment).
fn tls_hint(url: &str, s: &tonic::Status) -> &'static str {
    use tonic::Code::{Cancelled, Internal, Unavailable, Unknown};
    if url.starts_with("http://") && matches!(s.code(), Unavailable | Unknown | Cancelled | Internal) {
        " (if the driver uses TLS, give its https:// URL and --tls-ca)"
    } else {
        ""
    }
}

/// `spindle status`.
pub async fn status(url: &str, who: Who, json: bool) -> Result<ExitCode> {
    let s = connect(url, who)
        .await?
        .status(StatusRequest {})
        .await
        .map_err(|s| refused(url, "asking the driver for its status", s))?
        .into_inner();
    if json {
        println!("{}", serde_json::to_string(&ClusterView::from(&s))?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "EXECUTOR  ADDRESS               STATE     SLOTS  RUNNING  FINISHED  FAILED  BLOCKS  MEMORY     HEARTBEAT"
    );
    for e in &s.executors {
        let memory =
            if e.memory_bytes > 0 { format!("{:.0} MiB", e.memory_bytes as f64 / 1048576.0) } else { "-".into() };
        let heartbeat = if e.address == "local" {
            "-".to_string()
        } else {
            format!("{:.1} s ago", e.last_heartbeat_ms as f64 / 1000.0)
        };
        let reason = if e.reason.is_empty() { String::new() } else { format!("  ({})", e.reason) };
        println!(
            "{:<9} {:<21} {:<9} {:>5}  {:>7}  {:>8}  {:>6}  {:>6}  {:<9}  {heartbeat}{reason}",
            e.executor_id,
            e.address,
            e.state().label(),
            e.slots,
            e.running_tasks,
            e.tasks_finished,
            e.tasks_failed,
            e.blocks,
            memory
        );
        if e.memory_budget > 0 {
            let b = spindle_sandbox::limits::bytes;
            println!(
                "          memory: {} of {} (execution {}, shuffle {}, storage {}); shuffle on disk {}; \
                 spilled {}, {} spill files",
                b(e.memory_execution + e.memory_shuffle + e.memory_storage),
                b(e.memory_budget),
                b(e.memory_execution),
                b(e.memory_shuffle),
                b(e.memory_storage),
                b(e.shuffle_bytes_disk),
                b(e.spilled_bytes),
                e.spill_files
            );
        }
        if e.cache_hits + e.cache_misses + e.cache_blocks_memory + e.cache_blocks_disk > 0 {
            println!(
                "          cache: {} blocks ({}) in memory of {}, {} on disk ({}); {} hits, {} misses, {} evicted",
                e.cache_blocks_memory,
                spindle_sandbox::limits::bytes(e.cache_bytes_memory),
                spindle_sandbox::limits::bytes(e.cache_budget_bytes),
                e.cache_blocks_disk,
                spindle_sandbox::limits::bytes(e.cache_bytes_disk),
                e.cache_hits,
                e.cache_misses,
                e.cache_evictions
            );
        }
    }
    println!();
    println!("APPLICATION  TENANT       STATE      JOBS  FAILED TASKS  NAME");
    for a in &s.applications {
        println!(
            "{:<12} {:<12} {:<10} {:>4}  {:>12}  {}  {}",
            a.app_id,
            a.tenant,
            a.state().label(),
            a.jobs,
            a.tasks_failed,
            a.name,
            a.error
        );
        for x in &a.excluded_executors {
            println!(
                "    executor {} excluded for {:.0} s more: {}",
                x.executor_id,
                x.remaining_ms as f64 / 1000.0,
                x.reason
            );
        }
        for st in &a.stages {
            println!(
                "    job {} stage {} ({}, round {}): {}/{} done, {} running",
                st.job_id, st.stage_id, st.kind, st.attempt, st.done, st.tasks, st.running
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn app_detail(url: &str, who: Who, app: &str) -> Result<spindle_proto::AppDetail> {
    Ok(connect(url, who)
        .await?
        .application(AppDetailRequest { app_id: app.to_string() })
        .await
        .map_err(|s| refused(url, &format!("asking the driver for {app}"), s))?
        .into_inner())
}

/// `spindle status --app APP`: one application and its kept task attempts.
pub async fn app_status(url: &str, who: Who, app: &str, json: bool) -> Result<ExitCode> {
    let d = app_detail(url, who, app).await?;
    if json {
        println!("{}", serde_json::to_string(&ApplicationDetail::from(&d))?);
        return Ok(ExitCode::SUCCESS);
    }
    let a = d.app.unwrap_or_default();
    let limits = a.limits.unwrap_or_default();
    println!("{} ({}) of tenant {}: {}, {} jobs", a.app_id, a.name, a.tenant, a.state().label(), a.jobs);
    println!(
        "task limits: memory {}, wall time {} ms, fuel {}, output {}",
        spindle_sandbox::limits::bytes(limits.memory_bytes),
        limits.wall_time_ms,
        if limits.fuel == 0 { "unlimited".to_string() } else { limits.fuel.to_string() },
        spindle_sandbox::limits::bytes(limits.output_bytes)
    );
    if !a.error.is_empty() {
        println!("error: {}", a.error);
    }
    for x in &a.excluded_executors {
        println!("executor {} excluded for {:.0} s more: {}", x.executor_id, x.remaining_ms as f64 / 1000.0, x.reason);
    }
    println!();
    println!("JOB  STAGE  PART  TRY  EXECUTOR   STATE    SECONDS  LOG BYTES  ERROR");
    for t in &d.tasks {
        let state = if t.ok { "ok".to_string() } else { t.failure_kind().label().to_string() };
        let error = t.error.lines().next().unwrap_or_default();
        println!(
            "{:>3}  {:>5}  {:>4}  {:>3}  {:<9}  {:<7}  {:>7.3}  {:>9}  {}",
            t.job_id,
            t.stage_id,
            t.partition,
            t.attempt,
            t.executor_id,
            state,
            t.duration_us as f64 / 1e6,
            t.logs.len(),
            error
        );
    }
    if d.tasks_dropped > 0 {
        println!("({} more task attempts not kept: the application's log budget is spent)", d.tasks_dropped);
    }
    Ok(ExitCode::SUCCESS)
}

/// `spindle logs APP`.
pub async fn logs(url: &str, who: Who, app: &str) -> Result<ExitCode> {
    let d = app_detail(url, who, app).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "==> {app} main stdout <==")?;
    out.write_all(&d.stdout)?;
    writeln!(out, "==> {app} main stderr <==")?;
    out.write_all(&d.stderr)?;
    for t in &d.tasks {
        let state = if t.ok { "ok" } else { t.failure_kind().label() };
        writeln!(
            out,
            "==> {app} job {} stage {} partition {} attempt {} on {} ({state}) <==",
            t.job_id, t.stage_id, t.partition, t.attempt, t.executor_id
        )?;
        out.write_all(&t.logs)?;
        if !t.error.is_empty() {
            writeln!(out, "[error: {}]", t.error)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
