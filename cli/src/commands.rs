//! What each command does, from its flags and the layered configuration.

use std::process::ExitCode;

use anyhow::{Context, Result};
use spindle_driver::DriverConfig;
use spindle_proto::tls::{Clients, Tls};

use crate::config::Settings;
use crate::{Command, ConfigAction, client, local, new};

/// Runs `command` with the effective configuration `s`.
pub async fn run(command: Command, s: Settings) -> Result<ExitCode> {
    match command {
        Command::Run { job, limits, quiet, args, .. } => {
            let driver_config = driver_config(&s)?;
            let options = spindle_local::LocalOptions {
                slots: s.int("local.slots")?.unwrap_or(1),
                compiled_cache_dir: s.path("cache_dir"),
                fuel_metering: driver_config.engine.fuel,
                cache_memory: s.size("local.cache_memory").unwrap_or(1 << 30),
                memory: s.size("local.memory"),
                limits: limits.to_proto(),
                driver_config,
            };
            let ui = ui_listener(&s, "local.ui_listen").await?;
            local::run(&job, options, args, quiet, ui).await
        }
        Command::Driver { .. } => driver(&s).await,
        Command::Executor { launch_id, .. } => executor(&s, launch_id).await,
        Command::History { .. } => history(&s).await,
        Command::Submit { limits, quiet, job, args, .. } => {
            client::submit(&driver_url(&s), who(&s)?, limits.to_proto(), &job, args, quiet).await
        }
        Command::Status { app: None, json, .. } => client::status(&driver_url(&s), who(&s)?, json).await,
        Command::Status { app: Some(app), json, .. } => client::app_status(&driver_url(&s), who(&s)?, &app, json).await,
        Command::Logs { app, .. } => client::logs(&driver_url(&s), who(&s)?, &app).await,
        Command::Kill { app, .. } => client::kill(&driver_url(&s), who(&s)?, &app).await,
        Command::New { name, sdk } => {
            let sdk = new::Sdk::from_arg(sdk.as_deref())?;
            new::new_job(&name, &sdk)?;
            let lib = name.file_name().map(|n| n.to_string_lossy().replace('-', "_")).unwrap_or_default();
            println!("created {}: build it with", name.display());
            println!("  cd {} && cargo build --release --target wasm32-wasip2", name.display());
            println!("  spindle run target/wasm32-wasip2/release/{lib}.wasm -- INPUT OUTPUT_DIR");
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { action: ConfigAction::Show { json } } => {
            let rows = crate::config::show::rows(&s);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", crate::config::show::table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { action: ConfigAction::Docs } => {
            print!("{}", crate::config::show::docs());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The driver's settings: the configuration's cluster keys, and the files they came from.
fn driver_config(s: &Settings) -> Result<DriverConfig> {
    let mut config = DriverConfig::from_table(s.driver_table()).map_err(|e| match e {
        spindle_driver::ConfigError::Invalid { key, reason, .. } => {
            anyhow::anyhow!("config: {}: {reason}", s.explain(&key))
        }
        other => other.into(),
    })?;
    config.config_files = s.files().to_vec();
    Ok(config)
}

fn driver_url(s: &Settings) -> String {
    s.text("client.driver").unwrap_or_default()
}

/// A client's credentials and TLS settings.
fn who(s: &Settings) -> Result<client::Who> {
    let credentials = spindle_proto::auth::Credentials::client(
        s.text("secret").as_deref(),
        s.text("client.tenant").as_deref(),
        s.text("client.token").as_deref(),
    )?;
    let tls = Tls::load(None, None, s.path("tls.ca").as_deref(), false)?;
    Ok(client::Who { credentials, tls })
}

/// A cluster process's TLS settings.
fn member_tls(s: &Settings) -> Result<Tls> {
    Ok(Tls::load_member(
        s.path("tls.cert").as_deref(),
        s.path("tls.key").as_deref(),
        s.path("tls.ca").as_deref(),
        s.bool("tls.mutual"),
    )?)
}

/// Binds the HTTP server `key` asks for: an address (which must bind), `auto`
/// (127.0.0.1:4040 or the next free port up to 4056; none free: no server) or `none`.
async fn ui_listener(s: &Settings, key: &str) -> Result<Option<tokio::net::TcpListener>> {
    match s.text(key).as_deref().unwrap_or("auto") {
        "none" => Ok(None),
        "auto" => match spindle_driver::http::bind(None).await {
            Ok(l) => Ok(Some(l)),
            Err(e) => {
                tracing::warn!(error = %e, "ports 4040-4056 are taken: no web UI, API or /metrics ({key})");
                Ok(None)
            }
        },
        addr => Ok(Some(spindle_driver::http::bind(Some(addr)).await.with_context(|| {
            format!(
                "binding the HTTP server to {addr} ({key}, from {}); choose another address, `auto` or `none`",
                s.source(key)
            )
        })?)),
    }
}

async fn driver(s: &Settings) -> Result<ExitCode> {
    let mut config = driver_config(s)?;
    config.tls = member_tls(s)?;
    if config.secret.is_none() {
        tracing::warn!(
            "no cluster secret (SPINDLE_SECRET or `secret` in a config file): any process can join as an executor"
        );
    }
    let listen = s.text("driver.listen").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let server_tls = config.tls.server(Clients::Anyone);
    let url = config.tls.url(&addr.to_string());
    let driver = spindle_driver::Driver::new(config, s.path("cache_dir"))?;
    let ui = ui_listener(s, "driver.ui_listen").await?;
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
    Ok(ExitCode::SUCCESS)
}

async fn executor(s: &Settings, launch_id: String) -> Result<ExitCode> {
    let slots: u32 = s.int("executor.slots")?.unwrap_or(1);
    anyhow::ensure!(slots > 0, "executor.slots (from {}) must be at least 1", s.source("executor.slots"));
    let chaos_failure_rate = s.float("executor.chaos_failure_rate").unwrap_or(0.0);
    anyhow::ensure!(
        (0.0..=1.0).contains(&chaos_failure_rate),
        "executor.chaos_failure_rate (from {}) must be between 0 and 1, not {chaos_failure_rate}",
        s.source("executor.chaos_failure_rate")
    );
    let listen = s.text("executor.listen").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
    let ip = listener.local_addr()?.ip();
    let advertise_host = s.text("executor.advertise_host");
    anyhow::ensure!(
        advertise_host.is_some() || !ip.is_unspecified(),
        "listening on {ip}: give --advertise-host (executor.advertise_host) so the driver and peers know where to connect"
    );
    let host = advertise_host.unwrap_or_else(|| ip.to_string());
    // Every key read below has a registry default; the executor's own
    // defaults stand behind them rather than a second copy here.
    let defaults = spindle_executor::ExecutorConfig::default();
    let mut config = spindle_executor::ExecutorConfig {
        slots,
        compiled_cache_dir: s.path("cache_dir"),
        secret: s.text("secret"),
        grace_period: s.duration("executor.grace_period").unwrap_or(defaults.grace_period),
        chaos_failure_rate,
        cache_memory: s.size("executor.cache_memory").unwrap_or(defaults.cache_memory),
        memory: s.size("executor.memory").unwrap_or(defaults.memory),
        spill_dir: s.path("executor.spill_dir"),
        tls: member_tls(s)?,
        register_timeout: s.duration("executor.register_timeout"),
        launch_id,
        metrics_listen: s.text("executor.metrics_listen"),
        ..defaults
    };
    if chaos_failure_rate > 0.0 {
        tracing::warn!(chaos_failure_rate, "chaos: failing task attempts on purpose");
    }
    if let Some(m) = s.size("executor.max_task_memory") {
        config.limits.memory_bytes = usize::try_from(m).context("executor.max_task_memory is too large")?;
    }
    config.engine.fuel = s.bool("executor.fuel_metering");
    let driver = s.text("executor.driver").unwrap_or_default();
    spindle_executor::remote::serve(config, listener, &driver, &host, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn history(s: &Settings) -> Result<ExitCode> {
    let config = driver_config(s)?;
    let dir = config.event_log_dir.clone().context(
        "no event-log directory: give --event-log-dir, SPINDLE_EVENT_LOG_DIR or event_log_dir in a config file",
    )?;
    anyhow::ensure!(
        dir.is_dir(),
        "{} is not a directory: give the event_log_dir the drivers write to (from {})",
        dir.display(),
        s.source("event_log_dir")
    );
    let listen = s.text("history.listen").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
    let history = spindle_driver::history::History::open(dir, &config.tenants);
    // Tests and scripts read this line to find the port.
    println!("spindle history server on http://{}", listener.local_addr()?);
    let router = spindle_driver::http::router(history, config.secret.as_deref());
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
