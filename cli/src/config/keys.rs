//! Every configuration key: its type, its default and what it sets. The one
//! list that the config layers validate against, `spindle config show` walks,
//! and docs/configuration.md is generated from (`spindle config docs`).

/// What a key's value is, and how a `SPINDLE_*` variable or `--conf` text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A size read by `bytesize`: `"256MiB"`, `"1.5 GiB"`, a bare number of bytes.
    Size,
    /// A duration read by `humantime`: `"500ms"`, `"30s"`, `"1h 30m"`.
    Duration,
    /// A whole number, 0 or more.
    Int,
    /// A number.
    Float,
    /// `true` or `false` (`1`/`0`, `yes`/`no`, `on`/`off` from the environment).
    Bool,
    /// Text: a URL, an address, a name.
    Text,
    /// A file or directory.
    Path,
    /// A table or list, set in a config file only (checked by the command that reads it).
    Table,
}

impl Kind {
    /// How the documentation names the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Size => "size",
            Kind::Duration => "duration",
            Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Bool => "bool",
            Kind::Text => "text",
            Kind::Path => "path",
            Kind::Table => "table",
        }
    }
}

/// A key's value when no layer sets it.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    /// This TOML value.
    Value(&'static str),
    /// Worked out on this machine (the number of cores, a share of its memory).
    Computed(fn() -> toml::Value, &'static str),
    /// Unset; the text says what that means.
    Unset(&'static str),
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// Its dotted name, as in a config file and `--conf`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its value when nothing sets it.
    pub default: Default,
    /// The environment variable that sets it, when not `SPINDLE_` and its name
    /// in capitals with `.` as `_`.
    pub env: Option<&'static str>,
    /// Its value is a secret: shown redacted.
    pub secret: bool,
    /// What it sets.
    pub doc: &'static str,
}

impl Key {
    /// The `SPINDLE_*` variable that sets it; `None` for tables (files only).
    pub fn env_var(&self) -> Option<String> {
        if self.kind == Kind::Table {
            return None;
        }
        Some(
            self.env
                .map(str::to_string)
                .unwrap_or_else(|| format!("SPINDLE_{}", self.name.replace('.', "_").to_uppercase())),
        )
    }
}

/// Sections that configure one command's process rather than the cluster's
/// scheduling and limits; everything else is the driver's (and `spindle run`'s).
pub const PROCESS_SECTIONS: &[&str] = &["driver", "executor", "local", "client", "history", "tls"];

/// Top-level keys that are not the driver's settings either.
pub const PROCESS_KEYS: &[&str] = &["cache_dir"];

const fn k(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key { name, kind, default, env: None, secret: false, doc }
}

const fn v(value: &'static str) -> Default {
    Default::Value(value)
}

const fn unset(why: &'static str) -> Default {
    Default::Unset(why)
}

fn cores() -> toml::Value {
    toml::Value::Integer(std::thread::available_parallelism().map_or(2, |n| n.get() as i64))
}

fn memory_budget() -> toml::Value {
    toml::Value::String(
        bytesize::ByteSize(spindle_executor::memory::default_budget()).display().iec_short().to_string(),
    )
}

fn compiled_cache() -> toml::Value {
    toml::Value::String(
        spindle_sandbox::artifact::default_compiled_cache_dir().map(|p| p.display().to_string()).unwrap_or_default(),
    )
}

use Kind::*;

/// Every key, in the order `spindle config show` and the documentation list them.
pub static KEYS: &[Key] = &[
    // The cluster: read by the driver, and by `spindle run`'s driver in-process.
    Key {
        secret: true,
        ..k(
            "secret",
            Text,
            unset("an open cluster: any process may join as an executor"),
            "The cluster secret: executors present it to the driver and to each other; a client that presents it is the operator (sees every tenant).",
        )
    },
    k("max_task_attempts", Int, v("4"), "Attempts per task for infrastructure failures."),
    k("max_stage_attempts", Int, v("4"), "Rounds of a stage in one job after lost shuffle outputs."),
    k("heartbeat_interval", Duration, v("\"1s\""), "Executors heartbeat this often (the driver tells them)."),
    k(
        "heartbeat_timeout",
        Duration,
        v("\"10s\""),
        "An executor silent this long is declared lost; longer than heartbeat_interval.",
    ),
    k("no_executor_timeout", Duration, v("\"60s\""), "Tasks wait this long with no executor, then their job fails."),
    k(
        "locality_wait",
        Duration,
        v("\"200ms\""),
        "How long a task waits for a slot where its kept input is, then runs anywhere.",
    ),
    k(
        "launch_ahead",
        Int,
        v("4"),
        "Most tasks sent to each executor slot beyond the one it runs (0-16; 0 while speculation is on).",
    ),
    k("max_split_size", Size, v("\"128MiB\""), "Largest input split."),
    k("max_result_size", Size, v("\"1GiB\""), "Largest collect() result, whole job and per task."),
    k("max_component_size", Size, v("\"128MiB\""), "Largest component accepted at submit (at most 512MiB)."),
    k("compile_timeout", Duration, v("\"60s\""), "A component that takes longer to compile is refused (at least 1s)."),
    k(
        "component_budget",
        Size,
        v("\"1GiB\""),
        "Stored components kept; past it, unused ones are dropped, least recently used first.",
    ),
    k("retained_applications", Int, v("100"), "Finished applications kept in memory for status, logs and the UI ..."),
    k("application_retention", Duration, v("\"1h\""), "... and none longer than this after they finished."),
    k(
        "event_log_dir",
        Path,
        unset("no event log"),
        "Where the driver logs every application's events, and `spindle history` reads them.",
    ),
    k("event_log_rotate", Size, v("\"128MiB\""), "JSON per compressed part of an event log (at least 1MiB)."),
    k(
        "max_shuffle_memory",
        Size,
        v("\"4GiB\""),
        "Most shuffle bytes one application may hold on one executor, memory and disk.",
    ),
    k("max_lineage_depth", Int, v("1000"), "Longest chain of datasets an application may build (1-2000)."),
    k("max_task_pipelines", Int, v("10000"), "Most pipelines one task may plan."),
    k("fallback_parallelism", Int, v("2"), "Partitions when no executor has registered yet."),
    k("app_log_budget", Size, v("\"64MiB\""), "Task logs and errors kept per application."),
    k(
        "fuel_metering",
        Bool,
        v("false"),
        "Meter fuel in the driver's sandboxes (and, for `spindle run`, its executor's), so tasks may get a fuel limit.",
    ),
    k("speculation.enabled", Bool, v("false"), "Relaunch stragglers elsewhere; the first copy to finish wins."),
    k(
        "speculation.multiplier",
        Float,
        v("1.5"),
        "A straggler has run this many times the stage's median task time ...",
    ),
    k("speculation.quantile", Float, v("0.75"), "... once this fraction of the stage's tasks has finished ..."),
    k("speculation.min_runtime", Duration, v("\"100ms\""), "... and for at least this long."),
    k(
        "exclude_on_failure.enabled",
        Bool,
        v("true"),
        "Exclude an executor from an application whose tasks keep failing there.",
    ),
    k(
        "exclude_on_failure.max_failures_per_executor",
        Int,
        v("2"),
        "Infrastructure failures of an application's tasks on one executor before it is excluded.",
    ),
    k(
        "exclude_on_failure.max_straggles_per_executor",
        Int,
        v("3"),
        "Times a speculative copy elsewhere finished first before it is excluded.",
    ),
    k("exclude_on_failure.timeout", Duration, v("\"10m\""), "How long an exclusion lasts."),
    k("task_limits.memory", Size, v("\"256MiB\""), "Default linear memory of each task."),
    k("task_limits.wall_time", Duration, v("\"10m\""), "Default wall time of each task."),
    k("task_limits.fuel", Int, v("0"), "Default fuel of each task; 0: no limit."),
    k("task_limits.output", Size, v("\"1MiB\""), "Stdout and stderr kept per task, each."),
    k("main_limits.memory", Size, v("\"256MiB\""), "Linear memory of the sandbox main() runs in."),
    k("main_limits.wall_time", Duration, v("\"24h\""), "Wall time of main()."),
    k("main_limits.fuel", Int, v("0"), "Fuel of main(); 0: no limit."),
    k("main_limits.output", Size, v("\"16MiB\""), "Stdout and stderr of main() kept, each."),
    k("dynamic_allocation.enabled", Bool, v("false"), "The driver launches and releases executors as its work needs."),
    k("dynamic_allocation.launcher", Text, v("\"process\""), "`process` (child processes) or `kubernetes` (pods)."),
    k("dynamic_allocation.min_executors", Int, v("0"), "Executors launched at start and always kept."),
    k("dynamic_allocation.max_executors", Int, v("8"), "Most executors launched."),
    k("dynamic_allocation.executor_slots", Int, v("2"), "Slots of each launched executor."),
    k(
        "dynamic_allocation.scheduler_backlog_timeout",
        Duration,
        v("\"1s\""),
        "Tasks waiting this long ask for executors.",
    ),
    k(
        "dynamic_allocation.sustained_scheduler_backlog_timeout",
        Duration,
        unset("scheduler_backlog_timeout"),
        "Then again this often while they wait.",
    ),
    k(
        "dynamic_allocation.executor_idle_timeout",
        Duration,
        v("\"60s\""),
        "A launched executor idle this long is released.",
    ),
    k(
        "dynamic_allocation.launch_timeout",
        Duration,
        v("\"120s\""),
        "A launch not registered this long after is given up.",
    ),
    k("dynamic_allocation.executor_args", Table, v("[]"), "Extra `spindle executor` arguments of launched executors."),
    k(
        "dynamic_allocation.driver_url",
        Text,
        unset("the address the driver listens on"),
        "How launched executors reach the driver.",
    ),
    k(
        "dynamic_allocation.kubernetes",
        Table,
        unset("none"),
        "The pods of the `kubernetes` launcher (docs/driver-config.md).",
    ),
    k("stores", Table, unset("none"), "Object-store options by URL prefix, [[stores]] (docs/driver-config.md)."),
    k(
        "tenants",
        Table,
        unset("no tenants: no authentication, one `default` tenant"),
        "Tenants allowed to submit, [[tenants]] (docs/driver-config.md).",
    ),
    // Shared by the processes.
    k(
        "cache_dir",
        Path,
        Default::Computed(compiled_cache, "$XDG_CACHE_HOME/spindle/compiled"),
        "Where compiled components are cached between runs (driver, executor, run).",
    ),
    k(
        "tls.cert",
        Path,
        unset("no TLS"),
        "Certificate (PEM) the driver or executor serves with; turns TLS on, with tls.key and tls.ca.",
    ),
    k("tls.key", Path, unset("none"), "The certificate's private key (PEM)."),
    k(
        "tls.ca",
        Path,
        unset("none"),
        "The CA certificate (PEM) peers' (and, for clients, the driver's) certificates are checked against.",
    ),
    k("tls.mutual", Bool, v("false"), "Mutual TLS: cluster members present their certificates too."),
    // `spindle driver`.
    k("driver.listen", Text, v("\"127.0.0.1:7077\""), "Where the driver serves gRPC; port 0 picks a free port."),
    k(
        "driver.ui_listen",
        Text,
        v("\"auto\""),
        "Where the web UI, JSON API and /metrics listen: an address, `auto` (127.0.0.1:4040, or the next free port up to 4056) or `none`.",
    ),
    // `spindle executor`.
    Key {
        env: Some("SPINDLE_DRIVER"),
        ..k("executor.driver", Text, v("\"http://127.0.0.1:7077\""), "The driver's URL.")
    },
    k("executor.slots", Int, Default::Computed(cores, "the number of cores"), "Task slots (tasks run in parallel)."),
    k(
        "executor.listen",
        Text,
        v("\"127.0.0.1:0\""),
        "Where the executor serves the driver and peers; port 0 picks a free port.",
    ),
    k(
        "executor.advertise_host",
        Text,
        unset("the listen address's IP"),
        "Host name or IP the driver and peers reach this executor at.",
    ),
    k(
        "executor.max_task_memory",
        Size,
        v("\"256MiB\""),
        "The most memory any task may have here; a submission asking for more is refused.",
    ),
    k(
        "executor.fuel_metering",
        Bool,
        v("false"),
        "Meter fuel, so applications may give tasks a fuel limit (tight loops run about a third slower).",
    ),
    k(
        "executor.grace_period",
        Duration,
        v("\"30s\""),
        "On SIGTERM, how long running tasks may take to finish before they are handed back.",
    ),
    k(
        "executor.memory",
        Size,
        Default::Computed(memory_budget, "40% of the machine's memory"),
        "Memory budget of shuffle data, kept partitions and tasks' sorting and grouping; past it data spills (docs/memory.md).",
    ),
    k(
        "executor.cache_memory",
        Size,
        v("\"1GiB\""),
        "The most of executor.memory kept (persisted) partitions may hold.",
    ),
    k(
        "executor.spill_dir",
        Path,
        unset("spindle-spill under the system's temporary directory"),
        "The spill root: each executor spills in a directory of its own under it.",
    ),
    k(
        "executor.register_timeout",
        Duration,
        unset("keep trying for ever"),
        "Give up registering with the driver after this long.",
    ),
    k(
        "executor.metrics_listen",
        Text,
        unset("no metrics server"),
        "Where the executor serves Prometheus metrics; port 0 picks a free port.",
    ),
    k(
        "executor.chaos_failure_rate",
        Float,
        v("0.0"),
        "Fail this fraction of task attempts on purpose, to test recovery. Never in production.",
    ),
    // `spindle run`.
    k("local.slots", Int, Default::Computed(cores, "the number of cores"), "Task slots of the in-process executor."),
    k(
        "local.memory",
        Size,
        Default::Computed(memory_budget, "40% of the machine's memory"),
        "Memory budget of the in-process executor.",
    ),
    k("local.cache_memory", Size, v("\"1GiB\""), "The most of local.memory kept partitions may hold."),
    k(
        "local.ui_listen",
        Text,
        v("\"auto\""),
        "Where `spindle run` serves the web UI and JSON API while the job runs: an address, `auto` (as driver.ui_listen) or `none`.",
    ),
    // `spindle submit`, `status`, `logs`, `kill`.
    Key {
        env: Some("SPINDLE_DRIVER"),
        ..k("client.driver", Text, v("\"http://127.0.0.1:7077\""), "The driver's URL.")
    },
    Key {
        env: Some("SPINDLE_TENANT"),
        ..k("client.tenant", Text, unset("none: for a driver without tenants"), "The tenant to act as.")
    },
    Key { env: Some("SPINDLE_TOKEN"), secret: true, ..k("client.token", Text, unset("none"), "The tenant's token.") },
    // `spindle history`.
    k(
        "history.listen",
        Text,
        v("\"127.0.0.1:18080\""),
        "Where the history server serves the UI and API; port 0 picks a free port.",
    ),
];

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Whether some key lives under section `prefix` (`speculation`, `dynamic_allocation`).
pub fn is_section(prefix: &str) -> bool {
    KEYS.iter().any(|k| k.name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')))
}
