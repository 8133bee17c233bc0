//! One layered configuration for every command. Each layer overrides the ones
//! before it, key by key:
//!
//! 1. built-in defaults ([`keys::KEYS`]);
//! 2. `/etc/spindle/spindle.toml`;
//! 3. `~/.config/spindle/spindle.toml` (under `$XDG_CONFIG_HOME` when set);
//! 4. `--config FILE` (or `SPINDLE_CONFIG`);
//! 5. `SPINDLE_*` environment variables, one per key;
//! 6. `--conf KEY=VALUE`, then the command's own flags (`--slots`, ...).
//!
//! Every key is checked against the registry in [`keys`], whichever layer sets
//! it, so a typo or a bad value fails at start-up naming the key and the layer.
//! `spindle config show` prints each key's effective value and its layer.

pub mod keys;
pub mod show;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use keys::{Key, Kind};
use toml::{Table, Value};

/// The layer a key's effective value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// A config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// `--conf KEY=VALUE`.
    Conf,
    /// A command's own flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Env(name) => write!(f, "${name}"),
            Source::Conf => f.write_str("--conf"),
            Source::Flag(flag) => f.write_str(flag),
        }
    }
}

/// Why the configuration could not be read: the file or key, the layer, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A config file could not be read.
    #[error("reading config file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// A config file is not valid TOML.
    #[error("config file {}: {error}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line.
        error: Box<toml::de::Error>,
    },
    /// A layer sets a key that does not exist.
    #[error("{key} (in {from}): no such key; `spindle config show` lists every key")]
    Unknown {
        /// The key as written.
        key: String,
        /// The layer that sets it.
        from: Source,
    },
    /// A layer gives a key a value it cannot have.
    #[error("{key} (in {from}): {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The layer that sets it.
        from: Source,
        /// What is wrong with the value.
        reason: String,
    },
    /// A `--conf` argument without `=`.
    #[error("--conf {arg}: expected KEY=VALUE, e.g. --conf executor.slots=4")]
    Conf {
        /// The argument.
        arg: String,
    },
}

/// A command's flag, given on its command line: it sets `key` to `value` over every layer.
pub struct Flag {
    /// The key it sets.
    pub key: &'static str,
    /// Its text, read as `SPINDLE_*` text is.
    pub value: String,
    /// The flag, as typed (`--slots`).
    pub name: &'static str,
}

impl Flag {
    /// `Some` flag when it was given.
    pub fn given(key: &'static str, name: &'static str, value: Option<impl ToString>) -> Option<Flag> {
        value.map(|v| Flag { key, value: v.to_string(), name })
    }

    /// A switch: `Some` when it was given.
    pub fn switch(key: &'static str, name: &'static str, on: bool) -> Option<Flag> {
        on.then(|| Flag { key, value: "true".into(), name })
    }
}

/// The config files read before `--config`, lowest first.
pub fn default_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/spindle/spindle.toml")];
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = user {
        files.push(dir.join("spindle").join("spindle.toml"));
    }
    files
}

/// The effective configuration: every key's value and the layer it came from.
#[derive(Debug)]
pub struct Settings {
    table: Table,
    sources: BTreeMap<&'static str, Source>,
    files: Vec<PathBuf>,
}

impl Settings {
    /// Reads every layer: the default files, `config`, this process's
    /// environment, `conf` (`KEY=VALUE` each) and `flags`.
    pub fn load(config: Option<&Path>, conf: &[String], flags: Vec<Option<Flag>>) -> Result<Self, SettingsError> {
        Self::from_layers(&default_files(), config, std::env::vars(), conf, flags)
    }

    /// Reads the layers given: `files` (skipped when missing), `config` (which
    /// must exist), `env`, `conf` and `flags`.
    pub fn from_layers(
        files: &[PathBuf],
        config: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        conf: &[String],
        flags: Vec<Option<Flag>>,
    ) -> Result<Self, SettingsError> {
        let mut s = Settings { table: Table::new(), sources: BTreeMap::new(), files: Vec::new() };
        for key in keys::KEYS {
            let value = match key.default {
                keys::Default::Value(text) => literal(text),
                keys::Default::Computed(f, _) => f(),
                keys::Default::Unset(_) => continue,
            };
            s.set(key, value, Source::Default);
        }
        for path in files {
            match std::fs::read_to_string(path) {
                Ok(text) => s.file(path, &text)?,
                // A missing file is no layer; one the user may not read (the
                // driver's, holding tokens) is not this command's.
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied) => {
                    tracing::debug!(file = %path.display(), error = %e, "config file skipped");
                }
                Err(error) => return Err(SettingsError::Read { path: path.clone(), error }),
            }
        }
        if let Some(path) = config {
            let text = std::fs::read_to_string(path)
                .map_err(|error| SettingsError::Read { path: path.to_path_buf(), error })?;
            s.file(path, &text)?;
        }
        let env: BTreeMap<String, String> = env.into_iter().filter(|(k, _)| k.starts_with("SPINDLE_")).collect();
        for key in keys::KEYS {
            let Some(var) = key.env_var() else { continue };
            if let Some(text) = env.get(&var) {
                let from = Source::Env(var);
                let value = from_text(key, text).map_err(|reason| invalid(key.name, &from, reason))?;
                s.set(key, value, from);
            }
        }
        for arg in conf {
            let (name, text) = arg.split_once('=').ok_or_else(|| SettingsError::Conf { arg: arg.clone() })?;
            let key = keys::find(name.trim())
                .ok_or_else(|| SettingsError::Unknown { key: name.trim().into(), from: Source::Conf })?;
            let value = from_text(key, text).map_err(|reason| invalid(key.name, &Source::Conf, reason))?;
            s.set(key, value, Source::Conf);
        }
        for flag in flags.into_iter().flatten() {
            let key =
                keys::find(flag.key).unwrap_or_else(|| panic!("flag {} sets unregistered key {}", flag.name, flag.key));
            let from = Source::Flag(flag.name);
            let value = from_text(key, &flag.value).map_err(|reason| SettingsError::Invalid {
                key: flag.name.into(),
                from: from.clone(),
                reason,
            })?;
            s.set(key, value, from);
        }
        Ok(s)
    }

    fn file(&mut self, path: &Path, text: &str) -> Result<(), SettingsError> {
        let table: Table = toml::from_str(text)
            .map_err(|error| SettingsError::Syntax { path: path.to_path_buf(), error: Box::new(error) })?;
        let from = Source::File(path.to_path_buf());
        let mut found = Vec::new();
        walk(&table, "", &from, &mut found)?;
        for (key, value) in found {
            self.set(key, value, from.clone());
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    fn set(&mut self, key: &'static Key, value: Value, from: Source) {
        let mut table = &mut self.table;
        let mut parts = key.name.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_string(), value);
                break;
            }
            let entry = table.entry(part.to_string()).or_insert_with(|| Value::Table(Table::new()));
            table = entry.as_table_mut().expect("sections are tables");
        }
        self.sources.insert(key.name, from);
    }

    /// The config files read, lowest first.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The layer key `name` comes from.
    pub fn source(&self, name: &str) -> Source {
        self.sources.get(name).cloned().unwrap_or(Source::Default)
    }

    /// Key `name`'s value, `None` when unset.
    pub fn value(&self, name: &str) -> Option<&Value> {
        debug_assert!(keys::find(name).is_some(), "unregistered key {name}");
        let mut table = &self.table;
        let mut parts = name.split('.').peekable();
        while let Some(part) = parts.next() {
            let value = table.get(part)?;
            if parts.peek().is_none() {
                return Some(value);
            }
            table = value.as_table()?;
        }
        None
    }

    /// A text (or path) key's value.
    pub fn text(&self, name: &str) -> Option<String> {
        self.value(name).and_then(|v| v.as_str()).map(str::to_string)
    }

    /// A path key's value.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.text(name).filter(|s| !s.is_empty()).map(PathBuf::from)
    }

    /// A boolean key's value (`false` when unset).
    pub fn bool(&self, name: &str) -> bool {
        self.value(name).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// A number key's value.
    pub fn float(&self, name: &str) -> Option<f64> {
        self.value(name).and_then(|v| v.as_float().or_else(|| v.as_integer().map(|n| n as f64)))
    }

    /// A whole-number key's value, which must fit `T`.
    pub fn int<T: TryFrom<i64>>(&self, name: &str) -> Result<Option<T>, SettingsError> {
        let Some(n) = self.value(name).and_then(|v| v.as_integer()) else { return Ok(None) };
        T::try_from(n).map(Some).map_err(|_| invalid(name, &self.source(name), format!("{n} is out of range")))
    }

    /// A size key's value, in bytes.
    pub fn size(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            Value::Integer(n) => Some(*n as u64),
            Value::String(s) => s.parse::<ByteSize>().ok().map(|b| b.as_u64()),
            _ => None,
        }
    }

    /// A duration key's value.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        self.value(name).and_then(|v| v.as_str()).and_then(|s| humantime::parse_duration(s).ok())
    }

    /// The cluster's settings, as the driver's config reads them: every key
    /// outside the process sections.
    pub fn driver_table(&self) -> Table {
        let mut table = self.table.clone();
        table.retain(|k, _| !keys::PROCESS_SECTIONS.contains(&k) && !keys::PROCESS_KEYS.contains(&k));
        table
    }

    /// Names the layer that set the key a driver-config error is about
    /// (`tenants.etl.token` was set with `tenants`).
    pub fn explain(&self, key: &str) -> String {
        let mut name = key;
        loop {
            if keys::find(name).is_some() {
                return format!("{key} (in {})", self.source(name));
            }
            match name.rsplit_once('.') {
                Some((prefix, _)) => name = prefix,
                None => return key.to_string(),
            }
        }
    }
}

fn invalid(key: &str, from: &Source, reason: String) -> SettingsError {
    SettingsError::Invalid { key: key.to_string(), from: from.clone(), reason }
}

/// The value of a TOML literal in the registry.
fn literal(text: &str) -> Value {
    let table: Table = toml::from_str(&format!("v = {text}")).expect("registry defaults are TOML");
    table["v"].clone()
}

/// Checks every key of a file's `table` under `prefix`, collecting the values.
fn walk(
    table: &Table,
    prefix: &str,
    from: &Source,
    found: &mut Vec<(&'static Key, Value)>,
) -> Result<(), SettingsError> {
    for (name, value) in table {
        let full = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        if let Some(key) = keys::find(&full) {
            check(key, value).map_err(|reason| invalid(key.name, from, reason))?;
            found.push((key, value.clone()));
        } else if let (Value::Table(inner), true) = (value, keys::is_section(&full)) {
            walk(inner, &full, from, found)?;
        } else {
            return Err(SettingsError::Unknown { key: full, from: from.clone() });
        }
    }
    Ok(())
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Size => "a size such as \"256MiB\" or a number of bytes",
        Kind::Duration => "a duration such as \"500ms\", \"30s\" or \"1h 30m\"",
        Kind::Int => "a whole number, 0 or more",
        Kind::Float => "a number",
        Kind::Bool => "true or false",
        Kind::Text => "text",
        Kind::Path => "a path",
        Kind::Table => "a table",
    }
}

/// Whether a file's `value` fits `key`.
fn check(key: &Key, value: &Value) -> Result<(), String> {
    let fits = match (key.kind, value) {
        (Kind::Size, Value::Integer(n)) => *n >= 0,
        (Kind::Size, Value::String(s)) => s.parse::<ByteSize>().is_ok(),
        (Kind::Duration, Value::String(s)) => humantime::parse_duration(s).is_ok(),
        (Kind::Int, Value::Integer(n)) => *n >= 0,
        (Kind::Float, Value::Float(f)) => f.is_finite(),
        (Kind::Float, Value::Integer(_)) | (Kind::Bool, Value::Boolean(_)) => true,
        (Kind::Text | Kind::Path, Value::String(_)) | (Kind::Table, _) => true,
        _ => false,
    };
    if fits { Ok(()) } else { Err(format!("expected {}, found {value}", expected(key.kind))) }
}

/// Reads environment or command-line text as `key`'s kind.
fn from_text(key: &Key, text: &str) -> Result<Value, String> {
    let t = text.trim();
    let bad = || format!("`{text}`: expected {}", expected(key.kind));
    Ok(match key.kind {
        Kind::Size => {
            t.parse::<ByteSize>().map_err(|_| bad())?;
            Value::String(t.to_string())
        }
        Kind::Duration => {
            humantime::parse_duration(t).map_err(|_| bad())?;
            Value::String(t.to_string())
        }
        Kind::Int => Value::Integer(t.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok()).ok_or_else(bad)?),
        Kind::Float => Value::Float(t.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(bad)?),
        Kind::Bool => Value::Boolean(match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad()),
        }),
        Kind::Text | Kind::Path => Value::String(text.to_string()),
        Kind::Table => return Err("a table or list: set it in a config file".into()),
    })
}

#[cfg(test)]
mod tests;
