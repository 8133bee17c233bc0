//! `spindle`: the command-line front end. Thin: parses flags, sets up tracing, and
//! calls the driver and executor libraries.

mod client;
mod local;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "spindle", version, about = "Spindle: a WebAssembly task execution engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[arg(long, env = "SPINDLE_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        /// Arguments passed to the job's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the driver service.
    Driver {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:7077")]
        listen: String,
        /// Where compiled components are cached between runs.
        #[arg(long, env = "SPINDLE_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
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
        #[arg(long, env = "SPINDLE_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Submit a job to a driver, wait for it, print its output and result.
    Submit {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        /// The job component (.wasm).
        job: PathBuf,
        /// Arguments passed to the job's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Show a driver's executors and applications.
    Status {
        /// The driver's URL, e.g. http://127.0.0.1:7077.
        #[arg(long, env = "SPINDLE_DRIVER")]
        driver: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    // Guest code runs on the runtime's threads: one per slot, plus two for RPCs.
    let slots = match &cli.command {
        Command::Run { slots, .. } | Command::Executor { slots, .. } => *slots,
        _ => default_slots(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slots.max(1) as usize + 2)
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
        Command::Run { job, slots, cache_dir, args } => {
            let cache = cache_dir.or_else(spindle_executor::executor::default_cache_dir);
            local::run(&job, slots, cache, args).await
        }
        Command::Driver { listen, cache_dir } => {
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            let addr = listener.local_addr()?;
            let cache = cache_dir.or_else(spindle_executor::executor::default_cache_dir);
            let driver = spindle_driver::Driver::new(spindle_driver::DriverConfig::default(), cache)?;
            // Tests and scripts read this line to find the port.
            println!("spindle driver listening on http://{addr}");
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            tonic::transport::Server::builder()
                .add_service(spindle_driver::service::DriverService::server(driver))
                .serve_with_incoming_shutdown(incoming, shutdown_signal())
                .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Executor { driver, slots, listen, advertise_host, cache_dir } => {
            anyhow::ensure!(slots > 0, "--slots must be at least 1");
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            let ip = listener.local_addr()?.ip();
            anyhow::ensure!(
                advertise_host.is_some() || !ip.is_unspecified(),
                "listening on {ip}: give --advertise-host so the driver and peers know where to connect"
            );
            let host = advertise_host.unwrap_or_else(|| ip.to_string());
            let config = spindle_executor::ExecutorConfig {
                slots,
                compiled_cache_dir: cache_dir.or_else(spindle_executor::executor::default_cache_dir),
                ..Default::default()
            };
            spindle_executor::remote::serve(config, listener, &driver, &host, shutdown_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Submit { driver, job, args } => client::submit(&driver, &job, args).await,
        Command::Status { driver, json } => client::status(&driver, json).await,
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
