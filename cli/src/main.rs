//! `spindle`: the command-line front end. Thin: parses flags, reads the layered
//! configuration (`config`), sets up tracing, and calls the driver and executor
//! libraries (`commands`).

mod client;
mod commands;
mod config;
mod local;
mod new;
mod progress;

use std::path::PathBuf;

use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};
use config::Flag;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "spindle", version, about = "Spindle: a WebAssembly task execution engine")]
struct Cli {
    /// A config file, read over /etc/spindle/spindle.toml and
    /// ~/.config/spindle/spindle.toml (docs/configuration.md).
    #[arg(long, global = true, env = "SPINDLE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sets a config key over the files and SPINDLE_* variables, e.g.
    /// --conf executor.memory=2GiB (repeatable; `spindle config show` lists the keys).
    #[arg(long = "conf", global = true, value_name = "KEY=VALUE")]
    conf: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

/// Limits for an application's tasks (each within the tenant's maximum).
#[derive(clap::Args, Debug, Default, Clone)]
struct LimitArgs {
    /// Memory limit of each task, e.g. 128MiB (default: the driver's task_limits.memory).
    #[arg(long, value_name = "SIZE")]
    task_memory: Option<ByteSize>,
    /// Wall-time limit of each task, e.g. 30s or 10m (default: the driver's task_limits.wall_time).
    #[arg(long, value_name = "DURATION")]
    task_wall_time: Option<humantime::Duration>,
    /// Fuel limit of each task (executors must run with --fuel-metering).
    #[arg(long, value_name = "N")]
    task_fuel: Option<u64>,
    /// Stdout and stderr kept per task, e.g. 64KiB (default: the driver's task_limits.output); the rest is cut.
    #[arg(long, value_name = "SIZE")]
    task_output: Option<ByteSize>,
}

impl LimitArgs {
    fn to_proto(&self) -> Option<spindle_proto::TaskLimits> {
        let limits = spindle_proto::TaskLimits {
            memory_bytes: self.task_memory.map_or(0, |s| s.as_u64()),
            wall_time_ms: self.task_wall_time.map_or(0, |d| d.as_millis() as u64),
            fuel: self.task_fuel.unwrap_or(0),
            output_bytes: self.task_output.map_or(0, |s| s.as_u64()),
        };
        (limits != spindle_proto::TaskLimits::default()).then_some(limits)
    }
}

/// How a client reaches the driver and who it is: a tenant with its token; an
/// operator may give the cluster secret (`secret`, SPINDLE_SECRET) to see every
/// tenant's applications.
#[derive(clap::Args, Debug, Clone)]
struct ClientArgs {
    /// The driver's URL (client.driver, SPINDLE_DRIVER; default http://127.0.0.1:7077).
    #[arg(long)]
    driver: Option<String>,
    /// The tenant to act as, when the driver lists tenants (client.tenant, SPINDLE_TENANT).
    #[arg(long)]
    tenant: Option<String>,
    /// The tenant's token (client.token, SPINDLE_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// The CA certificate (PEM) that signed the driver's, for an https:// driver URL (tls.ca).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl ClientArgs {
    fn flags(&self) -> Vec<Option<Flag>> {
        vec![
            Flag::given("client.driver", "--driver", self.driver.as_ref()),
            Flag::given("client.tenant", "--tenant", self.tenant.as_ref()),
            Flag::given("client.token", "--token", self.token.as_ref()),
            Flag::given("tls.ca", "--tls-ca", self.tls_ca.as_ref().map(|p| p.display())),
        ]
    }
}

/// TLS settings of a cluster process (docs/driver-config.md, "TLS").
#[derive(Args)]
struct TlsArgs {
    /// Certificate (PEM) this process serves with; turns TLS on, with --tls-key
    /// and --tls-ca (tls.cert).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) (tls.key).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) peers' certificates are checked against (tls.ca).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: cluster members present their certificates too (tls.mutual).
    #[arg(long)]
    tls_mutual: bool,
}

impl TlsArgs {
    fn flags(&self) -> Vec<Option<Flag>> {
        vec![
            Flag::given("tls.cert", "--tls-cert", self.tls_cert.as_ref().map(|p| p.display())),
            Flag::given("tls.key", "--tls-key", self.tls_key.as_ref().map(|p| p.display())),
            Flag::given("tls.ca", "--tls-ca", self.tls_ca.as_ref().map(|p| p.display())),
            Flag::switch("tls.mutual", "--tls-mutual", self.tls_mutual),
        ]
    }
}

/// Each flag below sets the configuration key named in its help, over the
/// config files, SPINDLE_* and --conf (docs/configuration.md).
#[derive(Subcommand)]
enum Command {
    /// Run a job in local mode: driver and executor in this process. It reads
    /// the cluster keys of the configuration (task_limits, speculation, ...) as
    /// the driver does.
    Run {
        /// The job component (.wasm).
        job: PathBuf,
        /// Task slots (local.slots; default: the number of cores).
        #[arg(long)]
        slots: Option<String>,
        /// Where compiled components are cached between runs (cache_dir).
        #[arg(long = "cache-dir", value_name = "DIR")]
        compiled_cache_dir: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Meter fuel, so --task-fuel can limit tasks (fuel_metering; slows tight
        /// guest loops by about a third).
        #[arg(long)]
        fuel_metering: bool,
        /// Memory for persisted (cached) partitions, e.g. 512MiB (local.cache_memory; default 1GiB).
        #[arg(long, value_name = "SIZE")]
        cache_memory: Option<String>,
        /// The executor's memory budget for shuffle data, persisted partitions and
        /// tasks' sorting and grouping, e.g. 4GiB; past it, data spills to disk
        /// (local.memory; default: 40% of the machine's memory).
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// Where the web UI and JSON API listen while the job runs: an address,
        /// `auto` (127.0.0.1:4040 or the next free port) or `none` (local.ui_listen; default auto).
        #[arg(long, value_name = "ADDR")]
        ui_listen: Option<String>,
        /// No progress bars or stage lines (what main prints and the result
        /// still show).
        #[arg(long, short)]
        quiet: bool,
        /// Arguments passed to the job's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the driver service. The cluster secret comes from `secret`
    /// (SPINDLE_SECRET); tenants from a config file (docs/driver-config.md).
    Driver {
        /// Address to listen on; port 0 picks a free port (driver.listen; default 127.0.0.1:7077).
        #[arg(long)]
        listen: Option<String>,
        /// Where compiled components are cached between runs (cache_dir).
        #[arg(long = "cache-dir", value_name = "DIR")]
        compiled_cache_dir: Option<PathBuf>,
        /// Where the web UI, the JSON API (/api/v1/) and /metrics listen: an
        /// address, `auto` (127.0.0.1:4040, or the next free port up to 4056) or
        /// `none` (driver.ui_listen; default auto).
        #[arg(long, value_name = "ADDR")]
        ui_listen: Option<String>,
        /// Log every application's events here, for `spindle history` (event_log_dir).
        #[arg(long, value_name = "DIR")]
        event_log_dir: Option<PathBuf>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Serve the web UI and JSON API of finished applications from the event
    /// logs drivers wrote (event_log_dir). Tenants of the configuration (and
    /// `secret`) decide who sees which application; without tenants everyone sees all.
    History {
        /// The drivers' event-log directory (event_log_dir).
        #[arg(long, value_name = "DIR")]
        event_log_dir: Option<PathBuf>,
        /// Address to listen on; port 0 picks a free port (history.listen; default 127.0.0.1:18080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run an executor process that joins a driver.
    Executor {
        /// The driver's URL, e.g. http://127.0.0.1:7077 (executor.driver, SPINDLE_DRIVER).
        #[arg(long)]
        driver: Option<String>,
        /// Task slots (executor.slots; default: the number of cores).
        #[arg(long)]
        slots: Option<String>,
        /// Address to listen on for the driver and peers; port 0 picks a free
        /// port (executor.listen; default 127.0.0.1:0).
        #[arg(long)]
        listen: Option<String>,
        /// Host name or IP the driver and peers use to reach this executor
        /// (executor.advertise_host; default: the listen address's IP).
        #[arg(long)]
        advertise_host: Option<String>,
        /// Where compiled components are cached between runs (cache_dir).
        #[arg(long = "cache-dir", value_name = "DIR")]
        compiled_cache_dir: Option<PathBuf>,
        /// The most memory any task may have here, e.g. 1GiB (executor.max_task_memory; default 256MiB).
        #[arg(long, value_name = "SIZE")]
        max_task_memory: Option<String>,
        /// Meter fuel, so applications can give tasks a fuel limit
        /// (executor.fuel_metering; slows tight guest loops by about a third).
        #[arg(long)]
        fuel_metering: bool,
        /// On SIGTERM, how long running tasks may take to finish before they are
        /// handed back to the driver, e.g. 30s (executor.grace_period).
        #[arg(long, value_name = "DURATION")]
        grace_period: Option<String>,
        /// Fail this fraction of task attempts on purpose (0 to 1), to test
        /// recovery. Never in production (executor.chaos_failure_rate).
        #[arg(long, value_name = "RATE")]
        chaos_failure_rate: Option<String>,
        /// The memory budget shared by shuffle data, persisted partitions and
        /// tasks' sorting and grouping, e.g. 4GiB; past it, data spills to disk
        /// (executor.memory; default: 40% of the machine's memory). docs/memory.md.
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// The most of --memory persisted (cached) partitions may hold, e.g.
        /// 512MiB; least recently used partitions leave first when it is full
        /// (executor.cache_memory; default 1GiB).
        #[arg(long, value_name = "SIZE")]
        cache_memory: Option<String>,
        /// The spill root: this executor's spill files go in a directory of its
        /// own under it, removed at exit; directories of executors that are gone
        /// are removed at start (executor.spill_dir; default: spindle-spill under
        /// the system's temporary directory).
        #[arg(long, value_name = "DIR")]
        spill_dir: Option<PathBuf>,
        /// Give up registering with the driver after this long, e.g. 2m
        /// (executor.register_timeout; default: keep trying for ever, so the
        /// driver may start later).
        #[arg(long, value_name = "DURATION")]
        register_timeout: Option<String>,
        /// Where to serve Prometheus metrics at /metrics, e.g. 127.0.0.1:9101;
        /// port 0 picks a free port, shown by `spindle status`
        /// (executor.metrics_listen; default: nowhere).
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
        #[command(flatten)]
        client: ClientArgs,
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
        #[command(flatten)]
        client: ClientArgs,
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
        #[command(flatten)]
        client: ClientArgs,
        /// The application id (as `spindle submit` and `spindle status` show it).
        app: String,
    },
    /// Print an application's output: what main printed, then every kept task log.
    Logs {
        #[command(flatten)]
        client: ClientArgs,
        /// The application id (as `spindle submit` and `spindle status` show it).
        app: String,
    },
    /// The layered configuration: every key's effective value and where it comes from.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print every key, its effective value (secrets redacted) and its source:
    /// default, a file, a SPINDLE_* variable, --conf or a flag.
    Show {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the Markdown table of every key (docs/configuration.md).
    #[command(hide = true)]
    Docs,
}

impl Command {
    /// The configuration keys this command's flags set.
    fn flags(&self) -> Vec<Option<Flag>> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match self {
            Command::Run { slots, compiled_cache_dir, fuel_metering, cache_memory, memory, ui_listen, .. } => vec![
                Flag::given("local.slots", "--slots", slots.as_ref()),
                Flag::given("cache_dir", "--cache-dir", path(compiled_cache_dir)),
                Flag::switch("fuel_metering", "--fuel-metering", *fuel_metering),
                Flag::given("local.cache_memory", "--cache-memory", cache_memory.as_ref()),
                Flag::given("local.memory", "--memory", memory.as_ref()),
                Flag::given("local.ui_listen", "--ui-listen", ui_listen.as_ref()),
            ],
            Command::Driver { listen, compiled_cache_dir, ui_listen, event_log_dir, tls } => {
                let mut flags = vec![
                    Flag::given("driver.listen", "--listen", listen.as_ref()),
                    Flag::given("cache_dir", "--cache-dir", path(compiled_cache_dir)),
                    Flag::given("driver.ui_listen", "--ui-listen", ui_listen.as_ref()),
                    Flag::given("event_log_dir", "--event-log-dir", path(event_log_dir)),
                ];
                flags.extend(tls.flags());
                flags
            }
            Command::History { event_log_dir, listen } => vec![
                Flag::given("event_log_dir", "--event-log-dir", path(event_log_dir)),
                Flag::given("history.listen", "--listen", listen.as_ref()),
            ],
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
                launch_id: _,
                tls,
            } => {
                let mut flags = vec![
                    Flag::given("executor.driver", "--driver", driver.as_ref()),
                    Flag::given("executor.slots", "--slots", slots.as_ref()),
                    Flag::given("executor.listen", "--listen", listen.as_ref()),
                    Flag::given("executor.advertise_host", "--advertise-host", advertise_host.as_ref()),
                    Flag::given("cache_dir", "--cache-dir", path(compiled_cache_dir)),
                    Flag::given("executor.max_task_memory", "--max-task-memory", max_task_memory.as_ref()),
                    Flag::switch("executor.fuel_metering", "--fuel-metering", *fuel_metering),
                    Flag::given("executor.grace_period", "--grace-period", grace_period.as_ref()),
                    Flag::given("executor.chaos_failure_rate", "--chaos-failure-rate", chaos_failure_rate.as_ref()),
                    Flag::given("executor.memory", "--memory", memory.as_ref()),
                    Flag::given("executor.cache_memory", "--cache-memory", cache_memory.as_ref()),
                    Flag::given("executor.spill_dir", "--spill-dir", path(spill_dir)),
                    Flag::given("executor.register_timeout", "--register-timeout", register_timeout.as_ref()),
                    Flag::given("executor.metrics_listen", "--metrics-listen", metrics_listen.as_ref()),
                ];
                flags.extend(tls.flags());
                flags
            }
            Command::Submit { client, .. }
            | Command::Status { client, .. }
            | Command::Kill { client, .. }
            | Command::Logs { client, .. } => client.flags(),
            Command::New { .. } | Command::Config { .. } => Vec::new(),
        }
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("SPINDLE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let settings = match config::Settings::load(cli.config.as_deref(), &cli.conf, cli.command.flags()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Guest code runs on the runtime's threads: one per slot, plus one that keeps
    // RPCs moving while every slot runs a guest. The driver (and the CLI's other
    // commands) run one per core. Idle workers are not free: a spawn or wake-up may
    // unpark one to look for work (with two workers more in the driver and one more
    // in each executor, a no-op task cost a fifth more CPU on two cores).
    let slots = |key| settings.int::<u32>(key).ok().flatten().unwrap_or(1);
    let workers = match &cli.command {
        Command::Run { .. } => slots("local.slots").max(1) + 1,
        Command::Executor { .. } => slots("executor.slots").max(1) + 1,
        _ => std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers as usize)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
