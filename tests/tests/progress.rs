//! What `spindle submit` shows while an application runs: live progress bars on
//! a terminal (run under a pseudo-terminal with `script`), a line per stage
//! start and end otherwise, nothing extra with `--quiet`; and what `main`
//! prints reaches the submitter while the application still runs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use spindle_tests::*;

/// A paced word count of about 2 s: 4 map tasks of 40 lines, 10 ms a line.
fn paced_args(work: &std::path::Path, name: &str) -> Vec<String> {
    let input = work.join(format!("{name}-in"));
    write_text_inputs(&input, 4, 40, 5);
    let out = work.join(format!("{name}-out"));
    vec![input.display().to_string(), out.display().to_string(), "4".into(), "10000".into(), "0".into()]
}

#[test]
fn submit_shows_bars_on_a_terminal_lines_otherwise_and_nothing_when_quiet() -> Result<()> {
    let work = tempfile::tempdir()?;
    let c = Cluster::start(2, 2)?;
    let job = example("paced-wordcount");

    // Under a pseudo-terminal: bars redrawn in place.
    let args = paced_args(work.path(), "tty");
    let mut submit = c.command("submit", None);
    submit.arg(&job).arg("--").args(&args);
    let quoted: Vec<String> =
        submit.get_args().map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''"))).collect();
    let line = format!("'{}' {}", spindle_bin().display(), quoted.join(" "));
    let tty = Command::new("script").args(["-q", "-e", "-c", &line, "/dev/null"]).env("COLUMNS", "160").output()?;
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(screen.contains("job 0 stage 0 (shuffle-map) ["), "a bar for the map stage: {screen:?}");
    assert!(screen.contains("/4 tasks,") && screen.contains("running"), "{screen:?}");
    assert!(screen.contains("\x1b["), "drawn in place with terminal escapes: {screen:?}");
    assert!(screen.contains("paced word count: 4 partitions"), "{screen:?}");

    // Piped: plain lines, one per stage start and end.
    let args = paced_args(work.path(), "pipe");
    let out = c.command("submit", None).arg(&job).arg("--").args(&args).output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("spindle: job 0 stage 0 (shuffle-map) started: 4 tasks"), "{stderr}");
    let ended = stderr.find("spindle: job 0 stage 0 (shuffle-map) ended after").context("the stage's end")?;
    let done = stderr.find("spindle: job 0 (save-as-text-file) done").context("the job's end")?;
    assert!(ended < done, "a stage ends before its job: {stderr}");
    assert!(!stderr.contains("\x1b["), "no terminal escapes in a pipe: {stderr}");

    // Quiet: no stage lines; the result and main's output still show.
    let args = paced_args(work.path(), "quiet");
    let out = c.command("submit", None).arg("--quiet").arg(&job).arg("--").args(&args).output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("started:") && !stderr.contains("ended after"), "{stderr}");
    assert!(stderr.contains("succeeded"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("paced word count done"));
    Ok(())
}

#[test]
fn what_main_prints_reaches_the_submitter_while_it_runs() -> Result<()> {
    let work = tempfile::tempdir()?;
    let c = Cluster::start(1, 2)?;
    let input = work.path().join("in");
    write_text_inputs(&input, 4, 100, 8);
    let out = work.path().join("out");
    // Map tasks of 10 s: the application runs until it is killed.
    let mut child = c
        .command("submit", None)
        .arg(example("paced-wordcount"))
        .arg("--")
        .args([input.to_str().unwrap(), out.to_str().unwrap(), "4", "100000", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).context("main's first line")?;
    assert_eq!(line.trim(), "paced word count: 4 partitions");
    let s = c.status()?;
    let app = s["applications"].as_array().unwrap().iter().find(|a| a["state"] == "running").cloned();
    let app = app.context("the application still runs when its output arrives")?;
    let _ = c.command("kill", None).arg(app["id"].as_str().unwrap()).output();
    let _ = child.wait();
    Ok(())
}
