//! `spindle`: the command-line front end. Thin: parses flags, sets up tracing, and
//! calls the driver and executor libraries.

mod client;
mod local;
mod new;
mod progress;

use std::path::PathBuf;

use anyhow::{Context, Result};
use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};
use spindle_proto::tls::{Clients, Tls};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "spindle", version, about = "Spindle: a WebAssembly task execution engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Limits for an application's tasks (each within the tenant's maximum).
#[derive(clap::Args, Debug, Default, Clone)]
struct LimitArgs {
    /// Memory limit of each task, e.g. 128MiB (default: the driver's, 256MiB).
    #[arg(long, value_name = "SIZE")]
    task_memory: Option<ByteSize>,
    /// Wall-time limit of each task, e.g. 30s or 10m (default: the driver's, 10m).
    #[arg(long, value_name = "DURATION")]
    task_wall_time: Option<humantime::Duration>,
    /// Fuel limit of each task (executors must run with --fuel-metering).
    #[arg(long, value_name = "N")]
    task_fuel: Option<u64>,
    /// Stdout and stderr kept per task, e.g. 64KiB (default 1MiB); the rest is cut.
    #[arg(long, value_name = "SIZE")]
    task_output: Option<ByteSize>,
}

impl LimitArgs {
    fn to_proto(&self) -> Result<Option<spindle_proto::TaskLimits>> {
        let limits = spindle_proto::TaskLimits {
            memory_bytes: self.task_memory.map_or(0, |s| s.as_u64()),
            wall_time_ms: self.task_wall_time.map_or(0, |d| d.as_millis() as u64),
            fuel: self.task_fuel.unwrap_or(0),
            output_bytes: self.task_output.map_or(0, |s| s.as_u64()),
        };
        Ok((limits != spindle_proto::TaskLimits::default()).then_some(limits))
    }
}

/// Who a client is: a tenant with its token; an operator may also give the
/// cluster secret (SPINDLE_SECRET) to see every tenant's applications.
#[derive(clap::Args, Debug, Clone)]
struct TenantArgs {
    /// The tenant to act as (when the driver lists tenants).
    #[arg(long, env = "SPINDLE_TENANT")]
    tenant: Option<String>,
    /// The tenant's token.
    #[arg(long, env = "SPINDLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The CA certificate (PEM) that signed the driver's, for an https:// driver URL.
    #[arg(long, env = "SPINDLE_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl TenantArgs {
    fn who(&self) -> Result<client::Who> {
        let secret = std::env::var("SPINDLE_SECRET").ok();
        let credentials =
            spindle_proto::auth::Credentials::client(secret.as_deref(), self.tenant.as_deref(), self.token.as_deref())?;
        let tls = Tls::load(None, None, self.tls_ca.as_deref(), false)?;
        Ok(client::Who { credentials, tls })
    }
}

/// TLS settings of a cluster process (docs/driver-config.md, "TLS").
#[derive(Args)]
struct TlsArgs {
    /// Certificate (PEM) this process serves with; turns TLS on, with --tls-key
    /// and --tls-ca.
    #[arg(long, env = "SPINDLE_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SPINDLE_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) peers' certificates are checked against.
    #[arg(long, env = "SPINDLE_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: cluster members present their certificates too.
    #[arg(long, env = "SPINDLE_TLS_MUTUAL")]
    tls_mutual: bool,
}

impl TlsArgs {
    fn load(&self) -> Result<Tls> {
        Ok(Tls::load_member(
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_ca.as_deref(),
            self.tls_mutual,
        )?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a job in local mode: driver and executor in this process.
    Run {
        /// The job component (.wasm).
        job: PathBuf,
        /// Task slots (parallel tasks).
        #[arg(long, default_value_t = default_slots())]
        slots: u32,
        /// Where compiled components are cached between runs.
        #[arg(long = "cache-dir", env = "SPINDLE_CACHE_DIR")]
        compiled_cache_dir: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Meter fuel, so --task-fuel can limit tasks (slows tight guest loops by
        /// about a third).
        #[arg(long)]
        fuel_metering: bool,
        /// Memory for persisted (cached) partitions, e.g. 512MiB.
        #[arg(long, value_name = "SIZE", default_value = "1GiB")]
        cache_memory: ByteSize,
        /// The executor's memory budget for shuffle data, persisted partitions and
        /// tasks' sorting and grouping, e.g. 4GiB; past it, data spills to disk
        /// (default: 40% of the machine's memory).
        #[arg(long, value_name = "SIZE")]
        memory: Option<ByteSize>,
        /// No progress bars or stage lines (what main prints and the result
        /// still show).
        #[arg(long, short)]
        quiet: bool,
        /// Arguments passed to the job's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the driver service. The cluster secret comes from SPINDLE_SECRET or the
    /// config file; tenants from the config file (docs/driver-config.md).
    Driver {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:7077")]
        listen: String,
        /// Where compiled components are cached between runs.
        #[arg(long = "cache-dir", env = "SPINDLE_CACHE_DIR")]
        compiled_cache_dir: Option<PathBuf>,
        /// The driver's TOML config file.
        #[arg(long, env = "SPINDLE_CONFIG")]
        config: Option<PathBuf>,
        /// Where the web UI, the JSON API (/api/v1/) and /metrics listen, or
        /// `none` (default: 127.0.0.1:4040, or the next free port up to 4056).
        #[arg(long, value_name = "ADDR")]
        ui_listen: Option<String>,
        /// Log every application's events here, for `spindle history`
        /// (overrides `event_log_dir` in the config file).
        #[arg(long, value_name = "DIR")]
        event_log_dir: Option<PathBuf>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Serve the web UI and JSON API of finished applications from the event
    /// logs drivers wrote (--event-log-dir).
    History {
        /// The drivers' event-log directory.
        #[arg(long, value_name = "DIR")]
        event_log_dir: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: String,
        /// A driver config file whose tenants (and SPINDLE_SECRET) decide who
        /// sees which application (default: everyone sees all).
        #[arg(long, env = "SPINDLE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run an executor process that joins a driver.
    Executor {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        /// Task slots (parallel tasks).
        #[arg(long, default_value_t = default_slots())]
        slots: u32,
        /// Address to listen on for the driver and peers; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Host name or IP the driver and peers use to reach this executor
        /// (default: the listen address's IP).
        #[arg(long)]
        advertise_host: Option<String>,
        /// Where compiled components are cached between runs.
        #[arg(long = "cache-dir", env = "SPINDLE_CACHE_DIR")]
        compiled_cache_dir: Option<PathBuf>,
        /// The most memory any task may have here, e.g. 1GiB (default 256MiB).
        #[arg(long, value_name = "SIZE")]
        max_task_memory: Option<ByteSize>,
        /// Meter fuel, so applications can give tasks a fuel limit (slows tight
        /// guest loops by about a third).
        #[arg(long)]
        fuel_metering: bool,
        /// On SIGTERM, how long running tasks may take to finish before they are
        /// handed back to the driver, e.g. 30s.
        #[arg(long, value_name = "DURATION", default_value = "30s")]
        grace_period: humantime::Duration,
        /// Fail this fraction of task attempts on purpose (0 to 1), to test
        /// recovery. Never in production.
        #[arg(long, value_name = "RATE", default_value_t = 0.0)]
        chaos_failure_rate: f64,
        /// The memory budget shared by shuffle data, persisted partitions and
        /// tasks' sorting and grouping, e.g. 4GiB; past it, data spills to disk
        /// (default: 40% of the machine's memory). docs/memory.md.
        #[arg(long, value_name = "SIZE")]
        memory: Option<ByteSize>,
        /// The most of --memory persisted (cached) partitions may hold, e.g.
        /// 512MiB; least recently used partitions leave first when it is full.
        #[arg(long, value_name = "SIZE", default_value = "1GiB")]
        cache_memory: ByteSize,
        /// The spill root: this executor's spill files go in a directory of its
        /// own under it, removed at exit; directories of executors that are gone
        /// are removed at start (default: spindle-spill under the system's
        /// temporary directory).
        #[arg(long, value_name = "DIR")]
        spill_dir: Option<PathBuf>,
        /// Give up registering with the driver after this long, e.g. 2m (default:
        /// keep trying for ever, so the driver may start later).
        #[arg(long, value_name = "DURATION")]
        register_timeout: Option<humantime::Duration>,
        /// Where to serve Prometheus metrics at /metrics, e.g. 127.0.0.1:9101;
        /// port 0 picks a free port, shown by `spindle status` (default: nowhere).
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<String>,
        /// Set by the driver's launcher (dynamic allocation): names this launch.
        #[arg(long, hide = true, default_value = "")]
        launch_id: String,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Submit a job to a driver, wait for it, print its output and result.
    Submit {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        #[command(flatten)]
        who: TenantArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// No progress bars or stage lines (what main prints and the result
        /// still show).
        #[arg(long, short)]
        quiet: bool,
        /// The job component (.wasm).
        job: PathBuf,
        /// Arguments passed to the job's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Show a driver's executors and applications, or one application's tasks.
    Status {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        #[command(flatten)]
        who: TenantArgs,
        /// Show this application's failed and talkative task attempts.
        #[arg(long)]
        app: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a new job crate (a word count to start from) into directory NAME.
    New {
        /// The directory to create; its name is the crate's.
        name: PathBuf,
        /// The SDK: its directory (guest-sdk in a Spindle checkout) or a git URL of
        /// Spindle (default: the checkout this spindle was built from).
        #[arg(long, value_name = "PATH_OR_URL")]
        sdk: Option<String>,
    },
    /// Stop a running application: its main and every task it has running.
    Kill {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        #[command(flatten)]
        who: TenantArgs,
        /// The application id (as `spindle submit` and `spindle status` show it).
        app: String,
    },
    /// Print an application's output: what main printed, then every kept task log.
    Logs {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        #[command(flatten)]
        who: TenantArgs,
        /// The application id (as `spindle submit` and `spindle status` show it).
        app: String,
    },
}

fn default_slots() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2)
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("SPINDLE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Guest code runs on the runtime's threads: one per slot, plus one that keeps
    // RPCs moving while every slot runs a guest. The driver (and the CLI's other
    // commands) run one per core. Idle workers are not free: a spawn or wake-up may
    // unpark one to look for work (with two workers more in the driver and one more
    // in each executor, a no-op task cost a fifth more CPU on two cores).
    let workers = match &cli.command {
        Command::Run { slots, .. } | Command::Executor { slots, .. } => slots.max(&1) + 1,
        _ => default_slots(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers as usize)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Run { job, slots, compiled_cache_dir, limits, fuel_metering, cache_memory, memory, quiet, args } => {
            let cache = compiled_cache_dir.or_else(spindle_sandbox::artifact::default_compiled_cache_dir);
            let options = spindle_local::LocalOptions {
                slots,
                compiled_cache_dir: cache,
                fuel_metering,
                cache_memory: cache_memory.as_u64(),
                memory: memory.map(|m| m.as_u64()),
                limits: limits.to_proto()?,
            };
            local::run(&job, options, args, quiet).await
        }
        Command::Driver { listen, compiled_cache_dir, config, ui_listen, event_log_dir, tls } => {
            let mut driver_config = match &config {
                Some(path) => spindle_driver::DriverConfig::load(path)?,
                None => spindle_driver::DriverConfig::default(),
            };
            if event_log_dir.is_some() {
                driver_config.event_log_dir = event_log_dir;
            }
            if let Ok(secret) = std::env::var("SPINDLE_SECRET") {
                driver_config.secret = Some(secret);
            }
            driver_config.tls = tls.load()?;
            if driver_config.secret.is_none() {
                tracing::warn!(
                    "no cluster secret (SPINDLE_SECRET or `secret` in the config file): any process can join as an executor"
                );
            }
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            let addr = listener.local_addr()?;
            let cache = compiled_cache_dir.or_else(spindle_sandbox::artifact::default_compiled_cache_dir);
            let server_tls = driver_config.tls.server(Clients::Anyone);
            let url = driver_config.tls.url(&addr.to_string());
            let driver = spindle_driver::Driver::new(driver_config, cache)?;
            // A given address must bind; the default ports may all be taken (by
            // other drivers on this host): then the driver runs without them.
            let ui = match ui_listen.as_deref() {
                Some("none") => None,
                Some(addr) => Some(spindle_driver::http::bind(Some(addr)).await.with_context(|| {
                    format!("binding the driver's HTTP server to {addr}; choose another --ui-listen, or `none`")
                })?),
                None => match spindle_driver::http::bind(None).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "ports 4040-4056 are taken: no web UI, API or /metrics (--ui-listen)");
                        None
                    }
                },
            };
            // Tests and scripts read these lines to find the ports.
            println!("spindle driver listening on {url}");
            if let Some(ui) = ui {
                println!("spindle driver UI on http://{}", ui.local_addr()?);
                let d = driver.clone();
                // It serves until the process ends, after the gRPC server.
                tokio::spawn(async move {
                    if let Err(e) = spindle_driver::http::serve(d, ui, std::future::pending()).await {
                        tracing::error!(error = %e, "the driver's HTTP server stopped");
                    }
                });
            }
            let _allocation = spindle_driver::allocation::start_for(&driver, &url).await?;
            // No Nagle delay: task launches and results are small messages, several in flight.
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            // On SIGTERM: stop running applications (their clients hear why, their
            // tasks are cancelled on the executors), then stop serving.
            let stopping = driver.clone();
            let shutdown = async move {
                shutdown_signal().await;
                stopping
                    .shutdown("the driver is shutting down (it was sent a stop signal); submit the application again")
                    .await;
            };
            let mut server = tonic::transport::Server::builder();
            if let Some(tls) = server_tls {
                server = server.tls_config(tls).context("the driver's TLS settings")?;
            }
            server
                .add_service(spindle_driver::service::DriverService::server(driver))
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Executor {
            driver,
            slots,
            listen,
            advertise_host,
            compiled_cache_dir,
            max_task_memory,
            fuel_metering,
            grace_period,
            chaos_failure_rate,
            memory,
            cache_memory,
            spill_dir,
            register_timeout,
            metrics_listen,
            launch_id,
            tls,
        } => {
            anyhow::ensure!(slots > 0, "--slots must be at least 1");
            anyhow::ensure!(
                (0.0..=1.0).contains(&chaos_failure_rate),
                "--chaos-failure-rate must be between 0 and 1, not {chaos_failure_rate}"
            );
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            let ip = listener.local_addr()?.ip();
            anyhow::ensure!(
                advertise_host.is_some() || !ip.is_unspecified(),
                "listening on {ip}: give --advertise-host so the driver and peers know where to connect"
            );
            let host = advertise_host.unwrap_or_else(|| ip.to_string());
            let mut config = spindle_executor::ExecutorConfig {
                slots,
                compiled_cache_dir: compiled_cache_dir.or_else(spindle_sandbox::artifact::default_compiled_cache_dir),
                secret: std::env::var("SPINDLE_SECRET").ok(),
                grace_period: grace_period.into(),
                chaos_failure_rate,
                cache_memory: cache_memory.as_u64(),
                memory: memory.map_or_else(spindle_executor::memory::default_budget, |m| m.as_u64()),
                spill_dir,
                tls: tls.load()?,
                register_timeout: register_timeout.map(Into::into),
                launch_id,
                metrics_listen,
                ..Default::default()
            };
            if chaos_failure_rate > 0.0 {
                tracing::warn!(chaos_failure_rate, "chaos: failing task attempts on purpose");
            }
            if let Some(m) = max_task_memory {
                config.limits.memory_bytes = usize::try_from(m.as_u64()).context("--max-task-memory is too large")?;
            }
            config.engine.fuel = fuel_metering;
            spindle_executor::remote::serve(config, listener, &driver, &host, shutdown_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::History { event_log_dir, listen, config } => {
            let driver_config = match &config {
                Some(path) => spindle_driver::DriverConfig::load(path)?,
                None => spindle_driver::DriverConfig::default(),
            };
            let secret = std::env::var("SPINDLE_SECRET").ok().or(driver_config.secret.clone());
            anyhow::ensure!(
                event_log_dir.is_dir(),
                "{} is not a directory: give the --event-log-dir the drivers write to",
                event_log_dir.display()
            );
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            let history = spindle_driver::history::History::open(event_log_dir, &driver_config.tenants);
            // Tests and scripts read this line to find the port.
            println!("spindle history server on http://{}", listener.local_addr()?);
            let router = spindle_driver::http::router(history, secret.as_deref());
            axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Submit { driver, who, limits, quiet, job, args } => {
            client::submit(&driver, who.who()?, limits.to_proto()?, &job, args, quiet).await
        }
        Command::Status { driver, who, app: None, json } => client::status(&driver, who.who()?, json).await,
        Command::Status { driver, who, app: Some(app), json } => {
            client::app_status(&driver, who.who()?, &app, json).await
        }
        Command::Logs { driver, who, app } => client::logs(&driver, who.who()?, &app).await,
        Command::Kill { driver, who, app } => client::kill(&driver, who.who()?, &app).await,
        Command::New { name, sdk } => {
            let sdk = new::Sdk::from_arg(sdk.as_deref())?;
            new::new_job(&name, &sdk)?;
            let lib = name.file_name().map(|n| n.to_string_lossy().replace('-', "_")).unwrap_or_default();
            println!("created {}: build it with", name.display());
            println!("  cd {} && cargo build --release --target wasm32-wasip2", name.display());
            println!("  spindle run target/wasm32-wasip2/release/{lib}.wasm -- INPUT OUTPUT_DIR");
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
