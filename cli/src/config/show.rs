//! `spindle config show` (every key's effective value and the layer it came
//! from) and `spindle config docs` (the key table of docs/configuration.md).

use serde::Serialize;
use toml::Value;

use super::Settings;
use super::keys::{self, Kind};

/// One row of `spindle config show`.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The key.
    pub key: &'static str,
    /// Its effective value as text; secrets redacted.
    pub value: String,
    /// Where it comes from: `default`, a file, `$SPINDLE_...`, `--conf` or a flag.
    pub source: String,
    /// The environment variable that sets it, if any.
    pub env: Option<String>,
}

/// Every key's effective value and source.
pub fn rows(settings: &Settings) -> Vec<Row> {
    keys::KEYS
        .iter()
        .map(|key| {
            let value = match (settings.value(key.name), key.default) {
                (None, keys::Default::Unset(why)) => format!("(unset: {why})"),
                (None, _) => "(unset)".into(),
                (Some(_), _) if key.secret => "(set; redacted)".into(),
                (Some(v), _) if key.kind == Kind::Table => summary(v),
                (Some(v), _) => text(v),
            };
            Row { key: key.name, value, source: settings.source(key.name).to_string(), env: key.env_var() }
        })
        .collect()
}

/// A value as a person writes it: text unquoted, the rest as TOML.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table or list, without its contents (tenants' tokens, store credentials).
fn summary(v: &Value) -> String {
    match v {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Array(a) => {
            let names: Vec<String> = a
                .iter()
                .filter_map(|e| e.get("name").or_else(|| e.get("url")).and_then(|n| n.as_str()).map(str::to_string))
                .collect();
            if names.len() == a.len() { format!("[{}]", names.join(", ")) } else { format!("[{} entries]", a.len()) }
        }
        Value::Table(t) => format!("{{{}}}", t.keys().cloned().collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The rows as an aligned table.
pub fn table(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    // A long value (an unset key's explanation) overflows its column rather
    // than widening every row.
    let (k, v) = (width(|r| r.key.len()).max(3), width(|r| r.value.chars().count().min(24)).max(5));
    let mut out = format!("{:k$}  {:v$}  SOURCE\n", "KEY", "VALUE");
    for r in rows {
        out.push_str(&format!("{:k$}  {:v$}  {}\n", r.key, r.value, r.source));
    }
    out
}

/// The Markdown table of every key, for docs/configuration.md.
pub fn docs() -> String {
    let mut out = String::from("| key | type | default | environment | what it sets |\n|---|---|---|---|---|\n");
    for key in keys::KEYS {
        let default = match key.default {
            keys::Default::Value(v) => format!("`{}`", v.trim_matches('"')),
            keys::Default::Computed(_, what) => what.to_string(),
            keys::Default::Unset(why) => format!("unset: {why}"),
        };
        let env = key.env_var().map_or("file only".into(), |e| format!("`{e}`"));
        out.push_str(&format!("| `{}` | {} | {default} | {env} | {} |\n", key.name, key.kind.name(), key.doc));
    }
    out
}
