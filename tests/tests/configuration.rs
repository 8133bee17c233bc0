//! The layered configuration on real processes: defaults < the user's file
//! (`$XDG_CONFIG_HOME/spindle/spindle.toml`) < `--config FILE` < `SPINDLE_*` <
//! `--conf KEY=VALUE` < a command's own flags, read the same way by the driver,
//! executors, clients, `spindle run` and `spindle config show`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use spindle_tests::http;
use spindle_tests::*;

/// A `spindle` command whose only config layers are the ones a test gives:
/// `home` as `XDG_CONFIG_HOME`, and no SPINDLE_* variable from the test's own
/// environment.
fn spindle(home: &Path) -> Command {
    let mut cmd = Command::new(spindle_bin());
    cmd.env("XDG_CONFIG_HOME", home);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SPINDLE_") && k != "SPINDLE_LOG") {
        cmd.env_remove(k);
    }
    cmd
}

fn user_file(home: &Path, text: &str) -> Result<()> {
    std::fs::create_dir_all(home.join("spindle"))?;
    std::fs::write(home.join("spindle/spindle.toml"), text)?;
    Ok(())
}

/// `spindle driver`'s two address lines: its gRPC URL and its UI.
fn driver_addresses(
    driver: &mut std::process::Child,
) -> Result<(String, String, BufReader<std::process::ChildStdout>)> {
    let mut stdout = BufReader::new(driver.stdout.take().context("driver stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let url = line.trim().rsplit(' ').next().context("driver address line")?.to_string();
    line.clear();
    stdout.read_line(&mut line)?;
    let ui = line.trim().strip_prefix("spindle driver UI on ").context(format!("driver UI line: {line}"))?.to_string();
    Ok((url, ui, stdout))
}

fn setting(env: &serde_json::Value, key: &str) -> String {
    env.as_array()
        .and_then(|e| e.iter().find(|e| e["key"] == key))
        .and_then(|e| e["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn every_process_reads_the_layers_in_order() -> Result<()> {
    let work = tempfile::tempdir()?;
    let home = work.path().join("home");
    user_file(
        &home,
        "max_task_attempts = 2\nlocality_wait = \"300ms\"\nmax_stage_attempts = 2\n[executor]\nslots = 1\n",
    )?;
    let given = work.path().join("given.toml");
    std::fs::write(&given, "max_task_attempts = 3\n[executor]\nslots = 2\ncache_memory = \"64MiB\"\n")?;

    // The driver: --config over the user's file, SPINDLE_* over both, --conf over all.
    let mut driver = Proc(
        spindle(&home)
            .args(["driver", "--listen", "127.0.0.1:0", "--ui-listen", "127.0.0.1:0", "--conf", "locality_wait=450ms"])
            .arg("--config")
            .arg(&given)
            .env("SPINDLE_MAX_STAGE_ATTEMPTS", "5")
            .env("SPINDLE_CACHE_DIR", work.path().join("driver-cache"))
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let (url, ui, _stdout) = driver_addresses(&mut driver.0)?;
    let env = http::get(&ui, "/api/v1/environment", None)?.json()?;
    assert_eq!(setting(&env, "max_task_attempts"), "3", "--config over the user's file: {env}");
    assert_eq!(setting(&env, "max_stage_attempts"), "5", "SPINDLE_* over the files: {env}");
    assert!(setting(&env, "locality_wait").starts_with("450"), "--conf over all: {env}");
    let files = setting(&env, "config_files");
    assert!(files.contains("home/spindle/spindle.toml") && files.contains("given.toml"), "{files}");

    // Executors: the file's slots, SPINDLE_EXECUTOR_SLOTS over it, --slots over that.
    let executor = |extra: &[&str], slots_env: Option<&str>, cache: &str| -> Result<Proc> {
        let mut cmd = spindle(&home);
        cmd.args(["executor", "--driver", &url]).args(extra).arg("--config").arg(&given);
        cmd.env("SPINDLE_CACHE_DIR", work.path().join(cache)).stdout(Stdio::null());
        if let Some(s) = slots_env {
            cmd.env("SPINDLE_EXECUTOR_SLOTS", s);
        }
        Ok(Proc(cmd.spawn()?))
    };
    let _a = executor(&[], None, "a")?;
    let _b = executor(&[], Some("3"), "b")?;
    let _c = executor(&["--slots", "4"], Some("3"), "c")?;
    let mut slots = await_condition("three executors", Duration::from_secs(30), || {
        let e = http::get(&ui, "/api/v1/executors", None).ok()?.json().ok()?;
        let slots: Vec<u64> = e.as_array()?.iter().filter_map(|e| e["slots"].as_u64()).collect();
        (slots.len() == 3).then_some(slots)
    })?;
    slots.sort();
    assert_eq!(slots, [2, 3, 4]);

    // A client finds the driver through `client.driver` in a file, and the job's
    // result is exact.
    let client_conf = work.path().join("client.toml");
    std::fs::write(&client_conf, format!("[client]\ndriver = \"{url}\"\n"))?;
    let input = work.path().join("in");
    let files = write_text_inputs(&input, 3, 200, 11);
    let output = work.path().join("out");
    let out = spindle(&home)
        .args(["submit", "-q", "--config"])
        .arg(&client_conf)
        .arg(example("wordcount"))
        .arg("--")
        .args([&input, &output])
        .output()?;
    assert!(out.status.success(), "submit through client.driver failed: {}", describe(&out));
    assert_eq!(read_counts(&output)?, reference_counts(&files));

    // `spindle config show` tells each value's layer.
    let out = spindle(&home)
        .args(["config", "show", "--json", "--conf", "locality_wait=450ms", "--config"])
        .arg(&given)
        .env("SPINDLE_MAX_STAGE_ATTEMPTS", "5")
        .env("SPINDLE_SECRET", "a-secret-never-shown")
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8(out.stdout)?;
    assert!(!text.contains("a-secret-never-shown"), "{text}");
    let rows: serde_json::Value = serde_json::from_str(&text)?;
    let row = |key: &str| {
        let r = rows.as_array().unwrap().iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("{key}"));
        (r["value"].as_str().unwrap().to_string(), r["source"].as_str().unwrap().to_string())
    };
    let user = home.join("spindle/spindle.toml").display().to_string();
    assert_eq!(row("max_task_attempts"), ("3".into(), given.display().to_string()));
    assert_eq!(row("executor.slots"), ("2".into(), given.display().to_string()));
    assert_eq!(row("max_stage_attempts"), ("5".into(), "$SPINDLE_MAX_STAGE_ATTEMPTS".into()));
    assert_eq!(row("locality_wait"), ("450ms".into(), "--conf".into()));
    assert_eq!(row("heartbeat_interval"), ("1s".into(), "default".into()));
    assert_eq!(row("secret"), ("(set; redacted)".into(), "$SPINDLE_SECRET".into()));
    std::fs::write(home.join("spindle/spindle.toml"), "max_task_attempts = 7\n")?;
    let out = spindle(&home).args(["config", "show"]).output()?;
    let table = String::from_utf8(out.stdout)?;
    let line = table.lines().find(|l| l.starts_with("max_task_attempts ")).context("max_task_attempts row")?;
    assert!(line.contains(" 7 ") && line.ends_with(&user), "{line}");
    Ok(())
}

#[test]
fn bad_configuration_is_refused_naming_the_key_and_its_layer() -> Result<()> {
    let work = tempfile::tempdir()?;
    let home = work.path().join("home");
    user_file(&home, "[executor]\nslotz = 2\n")?;
    let out = spindle(&home).args(["config", "show"]).output()?;
    fails_with(&out, "executor.slotz (in ");
    fails_with(&out, "no such key");
    user_file(&home, "")?;
    let out = spindle(&home).args(["executor", "--conf", "executor.memory=lots"]).output()?;
    fails_with(&out, "executor.memory (in --conf): `lots`: expected a size");
    let out = spindle(&home).args(["executor", "--slots", "two"]).output()?;
    fails_with(&out, "--slots (in --slots): `two`: expected a whole number");
    let out = spindle(&home).args(["driver"]).env("SPINDLE_HEARTBEAT_TIMEOUT", "1ms").output()?;
    fails_with(&out, "heartbeat_timeout (in $SPINDLE_HEARTBEAT_TIMEOUT)");
    let out = spindle(&home).args(["run", "--config", "/nonexistent/spindle.toml", "x.wasm"]).output()?;
    fails_with(&out, "reading config file /nonexistent/spindle.toml");
    Ok(())
}

#[test]
fn spindle_run_honours_the_configuration_and_serves_its_ui() -> Result<()> {
    let work = tempfile::tempdir()?;
    let home = work.path().join("home");
    user_file(&home, "max_task_attempts = 6\n[local]\nslots = 2\nui_listen = \"127.0.0.1:0\"\n")?;
    let input = work.path().join("in");
    let files = write_text_inputs(&input, 4, 100, 5);
    let output = work.path().join("out");
    let mut run = Proc(
        spindle(&home)
            .arg("run")
            .arg(example("paced-wordcount"))
            .arg("--")
            .args([input.to_str().unwrap(), output.to_str().unwrap(), "4", "3000", "0"])
            .env("SPINDLE_CACHE_DIR", work.path().join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let mut stderr = BufReader::new(run.0.stderr.take().context("stderr")?);
    let mut line = String::new();
    stderr.read_line(&mut line)?;
    let ui = line.trim().strip_prefix("spindle UI on ").context(format!("UI line: {line}"))?.to_string();
    let env = http::get(&ui, "/api/v1/environment", None)?.json()?;
    assert_eq!(setting(&env, "max_task_attempts"), "6", "{env}");
    let apps = await_condition("the application in the local UI", Duration::from_secs(30), || {
        let apps = http::get(&ui, "/api/v1/applications", None).ok()?.json().ok()?;
        (!apps.as_array()?.is_empty()).then_some(apps)
    })?;
    assert_eq!(apps[0]["name"], "paced-wordcount.wasm", "{apps}");
    let executors = http::get(&ui, "/api/v1/executors", None)?.json()?;
    assert_eq!(executors[0]["slots"], 2, "local.slots from the file: {executors}");
    let status =
        await_condition("spindle run to finish", Duration::from_secs(120), || run.0.try_wait().ok().flatten())?;
    assert!(status.success());
    assert_eq!(read_counts(&output)?, reference_counts(&files));
    Ok(())
}
