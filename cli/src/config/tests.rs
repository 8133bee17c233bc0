use std::path::PathBuf;

use super::keys::{self, KEYS, Kind};
use super::*;

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn none() -> Vec<Option<Flag>> {
    Vec::new()
}

#[test]
fn the_registry_defaults_are_the_drivers_defaults() {
    // Every cluster key's default, read as the driver reads a config, gives
    // exactly the built-in DriverConfig: the table cannot drift from the code.
    let s = Settings::from_layers(&[], None, env(&[]), &[], none()).unwrap();
    let from_keys = spindle_driver::DriverConfig::from_table(s.driver_table()).unwrap();
    assert_eq!(format!("{from_keys:?}"), format!("{:?}", spindle_driver::DriverConfig::default()));
    let executor = spindle_executor::ExecutorConfig::default();
    assert_eq!(s.size("executor.max_task_memory"), Some(executor.limits.memory_bytes as u64));
    assert_eq!(s.duration("executor.grace_period"), Some(executor.grace_period));
}

#[test]
fn every_default_fits_its_key_and_every_variable_names_one_key() {
    let mut vars = std::collections::BTreeMap::new();
    for key in KEYS {
        if let keys::Default::Value(text) = key.default {
            check(key, &literal(text)).unwrap_or_else(|e| panic!("{}: {e}", key.name));
        }
        if let Some(var) = key.env_var() {
            vars.entry(var).or_insert_with(Vec::new).push(key.name);
        }
    }
    // Both the executor and the clients read the driver's URL from SPINDLE_DRIVER.
    for (var, names) in vars {
        assert!(names.len() == 1 || var == "SPINDLE_DRIVER", "{var} sets {names:?}");
    }
}

#[test]
fn layers_override_in_order_and_name_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let system = write(
        &dir,
        "system.toml",
        "max_task_attempts = 2\nlocality_wait = \"1s\"\n[executor]\nslots = 3\nmemory = \"1GiB\"\n",
    );
    let user = write(&dir, "user.toml", "locality_wait = \"2s\"\n[executor]\nslots = 5\n");
    let given = write(&dir, "given.toml", "[executor]\nslots = 6\ncache_memory = \"64MiB\"\n");
    let missing = dir.path().join("missing.toml");
    let s = Settings::from_layers(
        &[system.clone(), missing, user.clone()],
        Some(&given),
        env(&[
            ("SPINDLE_EXECUTOR_SLOTS", "7"),
            ("SPINDLE_EXECUTOR_MEMORY", "2GiB"),
            ("SPINDLE_LOG", "debug"),
            ("OTHER", "x"),
        ]),
        &["executor.slots=8".into(), "speculation.enabled=true".into()],
        vec![
            Flag::given("executor.slots", "--slots", Some("9")),
            Flag::given("executor.listen", "--listen", None::<&str>),
        ],
    )
    .unwrap();
    assert_eq!(s.files(), [system.clone(), user.clone(), given.clone()]);
    let at = |key: &str| (s.value(key).map(super::show::text), s.source(key));
    assert_eq!(at("max_task_attempts"), (Some("2".into()), Source::File(system)));
    assert_eq!(at("locality_wait"), (Some("2s".into()), Source::File(user)));
    assert_eq!(at("executor.cache_memory"), (Some("64MiB".into()), Source::File(given)));
    assert_eq!(at("executor.memory"), (Some("2GiB".into()), Source::Env("SPINDLE_EXECUTOR_MEMORY".into())));
    assert_eq!(at("speculation.enabled"), (Some("true".into()), Source::Conf));
    assert_eq!(at("executor.slots"), (Some("9".into()), Source::Flag("--slots")));
    assert_eq!(at("executor.listen"), (Some("127.0.0.1:0".into()), Source::Default));
    assert_eq!(s.int::<u32>("executor.slots").unwrap(), Some(9));
    assert_eq!(s.size("executor.memory"), Some(2 << 30));
    assert_eq!(s.duration("locality_wait"), Some(std::time::Duration::from_secs(2)));
    // The driver sees the cluster keys only, and reads them.
    let driver = spindle_driver::DriverConfig::from_table(s.driver_table()).unwrap();
    assert_eq!((driver.max_task_attempts, driver.speculation.enabled), (2, true));
    assert!(!s.driver_table().contains_key("executor"));
    // show: every key once, with its source; secrets redacted.
    let rows = super::show::rows(&s);
    assert_eq!(rows.len(), KEYS.len());
    let slots = rows.iter().find(|r| r.key == "executor.slots").unwrap();
    assert_eq!((slots.value.as_str(), slots.source.as_str()), ("9", "--slots"));
}

#[test]
fn secrets_are_redacted_and_tables_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "c.toml",
        "secret = \"cluster-secret\"\n[[tenants]]\nname = \"etl\"\ntoken = \"etl-token-1\"\n[client]\ntoken = \"etl-token-1\"\n",
    );
    let s = Settings::from_layers(&[], Some(&file), env(&[]), &[], none()).unwrap();
    let text = super::show::table(&super::show::rows(&s));
    assert!(!text.contains("cluster-secret") && !text.contains("etl-token-1"), "{text}");
    assert!(text.contains("[etl]"), "{text}");
    assert!(text.contains("(set; redacted)"), "{text}");
}

#[test]
fn bad_keys_and_values_name_the_key_and_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let err = |files: &[PathBuf], vars: &[(&str, &str)], conf: &[&str]| {
        let conf: Vec<String> = conf.iter().map(|c| c.to_string()).collect();
        Settings::from_layers(files, None, env(vars), &conf, none()).unwrap_err().to_string()
    };
    let typo = write(&dir, "typo.toml", "[executor]\nslotz = 3\n");
    let e = err(std::slice::from_ref(&typo), &[], &[]);
    assert!(
        e.contains("executor.slotz") && e.contains(&typo.display().to_string()) && e.contains("no such key"),
        "{e}"
    );
    let bad = write(&dir, "bad.toml", "[task_limits]\nmemory = \"12 lumps\"\n");
    let e = err(&[bad], &[], &[]);
    assert!(e.contains("task_limits.memory") && e.contains("a size"), "{e}");
    let e = err(&[], &[("SPINDLE_LOCALITY_WAIT", "10")], &[]);
    assert!(e.contains("locality_wait (in $SPINDLE_LOCALITY_WAIT)") && e.contains("a duration"), "{e}");
    let e = err(&[], &[("SPINDLE_EXECUTOR_SLOTS", "-1")], &[]);
    assert!(e.contains("executor.slots") && e.contains("whole number"), "{e}");
    let e = err(&[], &[], &["nope=1"]);
    assert!(e.contains("nope (in --conf): no such key"), "{e}");
    let e = err(&[], &[], &["executor.slots"]);
    assert!(e.contains("expected KEY=VALUE"), "{e}");
    let e = err(&[], &[], &["tenants=[]"]);
    assert!(e.contains("config file"), "{e}");
    let syntax = write(&dir, "syntax.toml", "secret = \n");
    let e = err(std::slice::from_ref(&syntax), &[], &[]);
    assert!(e.contains(&syntax.display().to_string()), "{e}");
    // A `--config` file that does not exist is an error; a default file is skipped.
    let missing = dir.path().join("missing.toml");
    assert!(Settings::from_layers(std::slice::from_ref(&missing), None, env(&[]), &[], none()).is_ok());
    let e = Settings::from_layers(&[], Some(&missing), env(&[]), &[], none()).unwrap_err().to_string();
    assert!(e.contains("reading config file") && e.contains("missing.toml"), "{e}");
}

#[test]
fn a_driver_config_error_names_the_layer_that_set_the_key() {
    let s = Settings::from_layers(&[], None, env(&[("SPINDLE_LAUNCH_AHEAD", "40")]), &[], none()).unwrap();
    let spindle_driver::ConfigError::Invalid { key, .. } =
        spindle_driver::DriverConfig::from_table(s.driver_table()).unwrap_err()
    else {
        panic!("not a range error")
    };
    assert_eq!(s.explain(&key), "launch_ahead (in $SPINDLE_LAUNCH_AHEAD)");
    assert_eq!(s.explain("tenants.etl.token"), "tenants.etl.token (in default)");
}

#[test]
fn the_documentation_lists_every_key() {
    let doc = include_str!("../../../docs/configuration.md");
    let table = super::show::docs();
    assert!(
        doc.contains(&table),
        "docs/configuration.md's key table is out of date: replace it with the output of `spindle config docs`"
    );
    assert!(KEYS.iter().all(|k| k.kind != Kind::Table || k.env_var().is_none()));
}
