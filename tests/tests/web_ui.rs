//! The web UI in a real browser: headless Chromium, driven by playwright-core
//! (`tests/browser/walk.mjs`), walks the pages of a live cluster running a real
//! job: from the application list to an application, one of its stages and its
//! tasks sorted by duration, the executors and the logs; then the same pages of
//! the history server, from the driver's event logs. Screenshots are kept under
//! `TARGET/ui-screenshots/`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use spindle_tests::*;

/// Keep in step with tests/browser/install.sh.
const PLAYWRIGHT: &str = "playwright-core-1.64.1";

fn target_dir() -> PathBuf {
    spindle_bin().parent().and_then(|p| p.parent()).expect("target dir").to_path_buf()
}

/// playwright-core's install directory, when it and Chromium are here.
fn browser_tools() -> Option<PathBuf> {
    let dir = target_dir().join("toolchains").join(PLAYWRIGHT);
    let ok = dir.join("node_modules/playwright-core").is_dir()
        && std::path::Path::new("/usr/bin/chromium").exists()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    ok.then_some(dir)
}

#[test]
fn a_browser_walks_the_ui_of_a_live_cluster() -> Result<()> {
    let Some(tools) = browser_tools() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs Chromium and playwright-core (tests/browser/install.sh, SPINDLE_INSTALL_TOOLCHAINS=1)"
        );
        eprintln!(
            "skipping: no Chromium or playwright-core; run SPINDLE_INSTALL_TOOLCHAINS=1 tests/browser/install.sh"
        );
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 4, 2000, 3);
    let logs = work.path().join("events");
    let c = Cluster::start_configured(2, 2, "ui-secret", &format!("event_log_dir = {:?}\n", logs.to_str().unwrap()))?;
    let finished = c.word_count(work.path(), &files)?;

    // A second application that runs until it is killed: paced map tasks of 10 s.
    let input = work.path().join("slow-in");
    write_text_inputs(&input, 4, 100, 9);
    let slow_out = work.path().join("slow-out");
    let mut slow = c.submit_background(
        &example("paced-wordcount"),
        &[input.to_str().unwrap(), slow_out.to_str().unwrap(), "4", "100000", "0"],
    )?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |_, running, _| running >= 1)?;
    let status = c.status()?;
    let running = status["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["state"] == "running"))
        .and_then(|a| a["id"].as_str())
        .context("the running application")?
        .to_string();

    let shots = target_dir().join("ui-screenshots");
    std::fs::create_dir_all(&shots)?;
    let walk = |ui: &str, finished: &str, running: &str, prefix: &str| -> Result<()> {
        let out = Command::new("node")
            .arg(root().join("tests/browser/walk.mjs"))
            .args([tools.to_str().unwrap(), ui, finished, running, shots.to_str().unwrap(), prefix])
            .env("HOME", work.path())
            .output()?;
        anyhow::ensure!(out.status.success(), "the browser walk of {ui} failed: {}", describe(&out));
        eprintln!("browser walk of {ui}: {}", String::from_utf8_lossy(&out.stdout).trim());
        Ok(())
    };
    let live = walk(&c.ui, &finished, &running, "");
    let _ = c.command("kill", None).arg(&running).output();
    let _ = slow.kill();
    let _ = slow.wait();
    live?;

    // The history server, once both applications' logs are complete.
    await_condition("the killed application's log to complete", Duration::from_secs(10), || {
        let s = c.status().ok()?;
        let apps = s["applications"].as_array()?;
        apps.iter().all(|a| a["state"] != "running").then_some(())
    })?;
    let (_history, history) = start_history(&logs, &[])?;
    let apps = spindle_tests::http::get(&history, "/api/v1/applications", None)?.json()?;
    let key = apps
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"].as_str().is_some_and(|id| id.starts_with(&format!("{finished}-")))))
        .and_then(|a| a["id"].as_str())
        .context("the finished application in history")?
        .to_string();
    walk(&history, &key, "-", "history-")?;
    for name in
        ["applications", "application", "stage", "stage-tasks-by-duration", "executors", "logs", "running-application"]
    {
        let png = std::fs::read(shots.join(format!("{name}.png")))?;
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}.png is a screenshot");
    }
    assert!(shots.join("history-stage-tasks-by-duration.png").exists());
    Ok(())
}
