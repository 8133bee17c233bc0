//! Dynamic allocation with the process launcher: a driver with no executors
//! launches them when tasks wait, up to `max_executors`, the job is exact, and
//! idle executors are released back to `min_executors`, but never while they
//! hold kept partitions an application still running will read.

use std::time::{Duration, Instant};

use spindle_tests::*;

const SECRET: &str = "allocation-secret";
const CONFIG: &str = r#"
[dynamic_allocation]
enabled = true
launcher = "process"
min_executors = 0
max_executors = 3
executor_slots = 1
scheduler_backlog_timeout = "200ms"
executor_idle_timeout = "2s"
"#;

/// Executors alive, and executors released so far.
fn counts(c: &Cluster) -> anyhow::Result<(usize, usize, serde_json::Value)> {
    let s = c.status()?;
    let executors = s["executors"].as_array().unwrap();
    let alive = executors.iter().filter(|e| e["state"] == "alive").count();
    let released = executors.iter().filter(|e| e["state"] == "released").count();
    Ok((alive, released, s))
}

#[test]
fn the_cluster_grows_with_its_backlog_and_shrinks_when_idle_without_losing_data() -> anyhow::Result<()> {
    let c = Cluster::start_configured(0, 1, SECRET, CONFIG)?;
    assert_eq!(counts(&c)?.0, 0);

    // A backlog of 12 tasks of 300 ms: executors are launched, up to 3.
    let submitted = Instant::now();
    let job = c.submit_background(&example("attack"), &["slow", "12", "300"])?;
    let (mut first_executor, mut first_task, mut peak) = (None, None, 0);
    let out = loop {
        let (alive, _, s) = counts(&c)?;
        peak = peak.max(alive);
        if alive > 0 && first_executor.is_none() {
            first_executor = Some(submitted.elapsed());
        }
        let finished: u64 =
            s["executors"].as_array().unwrap().iter().map(|e| e["tasks_finished"].as_u64().unwrap_or(0)).sum();
        if finished > 0 && first_task.is_none() {
            first_task = Some(submitted.elapsed());
        }
        if first_task.is_some() && peak == 3 {
            break job.wait_with_output()?;
        }
        anyhow::ensure!(submitted.elapsed() < Duration::from_secs(60), "the cluster did not grow: {s}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let job_done = submitted.elapsed();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("slow job: 12 tasks done"),
        "{}",
        describe(&out)
    );

    // Idle for 2 s: every launched executor is released.
    let ended = Instant::now();
    let shrunk = await_condition("the cluster to shrink to 0", Duration::from_secs(30), || {
        let (alive, released, _) = counts(&c).ok()?;
        (alive == 0 && released == 3).then(|| ended.elapsed())
    })?;
    eprintln!(
        "growth: first executor registered {:.2} s after submit, its first task done at {:.2} s, 3 executors; \
         job done at {:.2} s; shrunk to 0 executors {:.2} s after the job (idle timeout 2 s)",
        first_executor.unwrap().as_secs_f64(),
        first_task.unwrap().as_secs_f64(),
        job_done.as_secs_f64(),
        shrunk.as_secs_f64()
    );

    // Kept partitions: main pauses 2.5 s (past the idle timeout) between rounds;
    // executors holding them stay, and the later rounds read them.
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 8, 500, 41);
    let lines: usize = files.iter().map(|f| std::fs::read_to_string(f).unwrap().lines().count()).sum();
    let (_, released_before, _) = counts(&c)?;
    let job = c.submit_background(
        &example("cache-check"),
        &[work.path().join("in").to_str().unwrap(), "memory", "3", "2500"],
    )?;
    let mut released_during = released_before;
    let child_id = job.id();
    let mut job = Some(job);
    let out = loop {
        let (_, released, _) = counts(&c)?;
        released_during = released_during.max(released);
        let running = matches!(job.as_mut().unwrap().try_wait(), Ok(None));
        if !running {
            break job.take().unwrap().wait_with_output()?;
        }
        anyhow::ensure!(
            released_during == released_before,
            "an executor was released while process {child_id}'s application ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rounds: Vec<&str> =
        text.lines().filter(|l| l.starts_with("round ")).map(|l| l.split_once(": ").unwrap().1).collect();
    assert_eq!(rounds.len(), 3, "{text}");
    assert!(rounds.iter().all(|r| *r == rounds[0]) && rounds[0].starts_with(&format!("{lines} ")), "{text}");
    let (_, _, s) = counts(&c)?;
    let hits: u64 = s["executors"].as_array().unwrap().iter().map(|e| e["cache"]["hits"].as_u64().unwrap_or(0)).sum();
    assert!(hits >= 8, "the later rounds read the kept partitions: {s}");
    await_condition("the cluster to shrink to 0 again", Duration::from_secs(30), || {
        (counts(&c).ok()?.0 == 0).then_some(())
    })?;
    Ok(())
}
