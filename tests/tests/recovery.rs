//! Fault tolerance with real processes: executors killed (SIGKILL) in the middle
//! of the map stage, in the middle of the reduce stage and right after the map
//! stage; an executor frozen (SIGSTOP) until its heartbeats time out; executors
//! stopped gracefully (SIGTERM); every executor lost; chaos (30 % of attempts
//! failing on purpose); speculation around a frozen executor; the driver stopped
//! under a running application. Every finished job is checked against a word
//! count computed here.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Result;
use spindle_tests::*;

const SECRET: &str = "recovery-secret";

/// Fast heartbeats so losses are noticed within a test's patience.
const LIVENESS: &str = r#"
heartbeat_interval = "200ms"
heartbeat_timeout = "1500ms"
"#;

/// Six input files; a paced word count over them: six map tasks of about 1.2 s
/// and six reduce tasks of about 1 s.
struct Job {
    work: tempfile::TempDir,
    files: Vec<PathBuf>,
}

impl Job {
    fn new() -> Result<Job> {
        let work = tempfile::tempdir()?;
        let files = write_text_inputs(&work.path().join("in"), 6, 400, 17);
        Ok(Job { work, files })
    }

    fn out(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn args(&self, out: &str) -> Vec<String> {
        let input = self.work.path().join("in").display().to_string();
        vec![input, self.out(out).display().to_string(), "6".into(), "3000".into(), "1500".into()]
    }

    fn submit(&self, cluster: &Cluster, out: &str) -> Result<Child> {
        let args = self.args(out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.submit_background(&example("paced-wordcount"), &args)
    }

    /// Checks a finished run: success, exact counts, exactly one part per
    /// partition, `_SUCCESS`, no temporary files left.
    fn check(&self, child: Child, out: &str) -> Result<std::process::Output> {
        let output = child.wait_with_output()?;
        anyhow::ensure!(output.status.success(), "the job failed: {}", describe(&output));
        let dir = self.out(out);
        assert_eq!(read_counts(&dir)?, reference_counts(&self.files), "{}", describe(&output));
        let mut names: Vec<String> =
            std::fs::read_dir(&dir)?.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut expected: Vec<String> =
            (0..6).map(|p| format!("part-{p:05}")).chain(std::iter::once("_SUCCESS".to_string())).collect();
        expected.sort();
        assert_eq!(names, expected, "exactly one committed part per partition, then _SUCCESS");
        Ok(output)
    }
}

fn cluster(executors: usize, extra_config: &str) -> Result<Cluster> {
    Cluster::start_configured(executors, 2, SECRET, &format!("{LIVENESS}{extra_config}"))
}

/// The application's status as the operator sees it.
fn app(cluster: &Cluster, out: &std::process::Output) -> Result<serde_json::Value> {
    let id = app_id(out).expect("an application id");
    cluster.app_status(&id, None)
}

fn executor_state(cluster: &Cluster, state: &str) -> Result<Vec<serde_json::Value>> {
    let s = cluster.status()?;
    Ok(s["executors"].as_array().unwrap().iter().filter(|e| e["state"] == state).cloned().collect())
}

/// The clean run and the three kill -9 scenarios, each on a fresh cluster of
/// three executors; prints each one's wall time relative to the clean run.
#[test]
fn killing_an_executor_in_any_stage_still_gives_the_exact_result() -> Result<()> {
    let job = Job::new()?;
    let patience = Duration::from_secs(60);
    let mut times = Vec::new();

    // Clean.
    let c = cluster(3, "")?;
    let start = Instant::now();
    let out = job.check(job.submit(&c, "clean")?, "clean")?;
    times.push(("clean", start.elapsed()));
    assert_eq!(app(&c, &out)?["tasks_failed"].as_u64(), Some(0));
    drop(c);

    // In the middle of the map stage: every map task has started, none finished.
    let c = cluster(3, "")?;
    let start = Instant::now();
    let child = job.submit(&c, "mid-map")?;
    c.await_stage("shuffle-map", patience, |done, running, _| done == 0 && running == 6)?;
    c.signal_executor(1, libc::SIGKILL);
    let out = job.check(child, "mid-map")?;
    times.push(("kill -9 mid-map", start.elapsed()));
    assert!(app(&c, &out)?["tasks_failed"].as_u64().unwrap() >= 1, "the killed executor's tasks failed");
    assert_eq!(executor_state(&c, "lost")?.len(), 1);
    drop(c);

    // In the middle of the reduce stage: its map outputs are gone too.
    let c = cluster(3, "")?;
    let start = Instant::now();
    let child = job.submit(&c, "mid-reduce")?;
    c.await_stage("save-as-text-file", patience, |_, running, _| running >= 4)?;
    c.signal_executor(1, libc::SIGKILL);
    let out = job.check(child, "mid-reduce")?;
    times.push(("kill -9 mid-reduce", start.elapsed()));
    let status = app(&c, &out)?;
    assert!(status["stages_resubmitted"].as_u64().unwrap() >= 1, "lost map outputs were recomputed: {status}");
    drop(c);

    // Right after the map stage finished: the first sign of the reduce stage.
    let c = cluster(3, "")?;
    let start = Instant::now();
    let child = job.submit(&c, "after-map")?;
    c.await_stage("save-as-text-file", patience, |_, _, _| true)?;
    c.signal_executor(1, libc::SIGKILL);
    let out = job.check(child, "after-map")?;
    times.push(("kill -9 after map", start.elapsed()));
    let status = app(&c, &out)?;
    assert!(status["stages_resubmitted"].as_u64().unwrap() >= 1, "lost map outputs were recomputed: {status}");
    drop(c);

    let clean = times[0].1.as_secs_f64();
    for (what, t) in &times {
        eprintln!("recovery: {what:<20} {:>6.2} s  {:>5.2}x clean", t.as_secs_f64(), t.as_secs_f64() / clean);
    }
    Ok(())
}

#[test]
fn a_frozen_executor_is_declared_lost_after_its_heartbeats_stop_and_rejoins_when_it_thaws() -> Result<()> {
    let job = Job::new()?;
    let c = cluster(3, "")?;
    let child = job.submit(&c, "frozen")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |done, running, _| done == 0 && running == 6)?;
    c.signal_executor(2, libc::SIGSTOP);
    let out = job.check(child, "frozen")?;
    let lost = executor_state(&c, "lost")?;
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(lost[0]["reason"].as_str().unwrap().contains("no heartbeat"), "{lost:?}");
    assert!(app(&c, &out)?["tasks_failed"].as_u64().unwrap() >= 1);

    // Thawed, it hears that the driver no longer knows it and registers again.
    c.signal_executor(2, libc::SIGCONT);
    c.wait_for_executors(3)?;
    let again = job.submit(&c, "after-thaw")?;
    job.check(again, "after-thaw")?;
    Ok(())
}

#[test]
fn sigterm_lets_running_tasks_finish_or_hands_them_back() -> Result<()> {
    let job = Job::new()?;
    let mut c = cluster(0, "")?;
    let caches = c.dir.path().to_path_buf();
    c.add_executor_with(2, &caches.join("patient"), &["--grace-period", "30s"])?;
    c.add_executor_with(2, &caches.join("hasty"), &["--grace-period", "100ms"])?;
    c.add_executor_with(2, &caches.join("steady"), &[])?;
    c.wait_for_executors(3)?;
    let child = job.submit(&c, "sigterm")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |done, running, _| done == 0 && running == 6)?;
    c.signal_executor(0, libc::SIGTERM);
    c.signal_executor(1, libc::SIGTERM);
    let out = job.check(child, "sigterm")?;
    for i in [0, 1] {
        let status = await_condition("a stopped executor to exit", Duration::from_secs(30), || {
            c.executors[i].0.try_wait().ok().flatten()
        })?;
        assert!(status.success(), "executor {i} exited with {status}");
    }
    let stopped = executor_state(&c, "stopped")?;
    assert_eq!(stopped.len(), 2, "both deregistered: {stopped:?}");
    // The patient executor finished its two map tasks; the hasty one handed its
    // two back, and they ran again elsewhere.
    let detail = app(&c, &out)?;
    let failed: Vec<&serde_json::Value> =
        detail["tasks"].as_array().unwrap().iter().filter(|t| t["ok"] == false).collect();
    assert!(
        failed.iter().any(|t| t["error"].as_str().unwrap().contains("grace period")),
        "the hasty executor handed its tasks back: {detail}"
    );
    assert!(c.driver_alive());
    Ok(())
}

#[test]
fn when_every_executor_dies_the_app_fails_clearly_unless_one_comes_back_in_time() -> Result<()> {
    let job = Job::new()?;
    let mut c = cluster(2, "no_executor_timeout = \"3s\"\n")?;
    let child = job.submit(&c, "all-dead")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |_, running, _| running >= 4)?;
    c.signal_executor(0, libc::SIGKILL);
    c.signal_executor(1, libc::SIGKILL);
    let out = child.wait_with_output()?;
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no executor has been registered for 3s"), "{}", describe(&out));

    // The same again, but an executor joins before the timeout: the job finishes.
    let caches = c.dir.path().to_path_buf();
    c.add_executor(2, &caches.join("first"))?;
    c.wait_for_executors(1)?;
    let child = job.submit(&c, "comeback")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |_, running, _| running >= 2)?;
    c.signal_executor(2, libc::SIGKILL);
    c.add_executor(2, &caches.join("second"))?;
    job.check(child, "comeback")?;
    Ok(())
}

#[test]
fn wordcount_is_exact_with_thirty_percent_of_attempts_failing() -> Result<()> {
    // At 30 % a task fails 4 times in a row 0.8 % of the time; the job has
    // dozens of tasks, so this test allows 12 attempts (0.3^12 = 5e-7).
    let mut c = cluster(0, "max_task_attempts = 12\n")?;
    let caches = c.dir.path().to_path_buf();
    for i in 0..3 {
        c.add_executor_with(2, &caches.join(format!("chaos-{i}")), &["--chaos-failure-rate", "0.3"])?;
    }
    c.wait_for_executors(3)?;
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 12, 2000, 23);
    let out_dir = work.path().join("out");
    let out =
        c.submit(&example("wordcount"), &[work.path().join("in").to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
    assert!(!Path::new(&out_dir.join("_temporary")).exists());
    let detail = app(&c, &out)?;
    let failed = detail["tasks_failed"].as_u64().unwrap();
    assert!(failed >= 3, "chaos failed some attempts: {detail}");
    eprintln!("chaos: {failed} attempts failed on purpose");
    Ok(())
}

#[test]
fn retries_move_off_an_executor_where_every_attempt_fails() -> Result<()> {
    // Every attempt on the first executor fails (an infrastructure failure, so
    // retried): a retry that went back to it could fail a task 4 times there.
    let mut c = cluster(0, "")?;
    let caches = c.dir.path().to_path_buf();
    c.add_executor_with(2, &caches.join("broken"), &["--chaos-failure-rate", "1"])?;
    c.add_executor(2, &caches.join("healthy"))?;
    c.wait_for_executors(2)?;
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 8, 500, 29);
    for round in 0..3 {
        let out_dir = work.path().join(format!("out-{round}"));
        let out =
            c.submit(&example("wordcount"), &[work.path().join("in").to_str().unwrap(), out_dir.to_str().unwrap()])?;
        assert!(out.status.success(), "round {round}: {}", describe(&out));
        assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
        let detail = app(&c, &out)?;
        assert!(detail["tasks_failed"].as_u64().unwrap() >= 1, "the broken executor ran some attempts: {detail}");
    }
    Ok(())
}

#[test]
fn speculation_finishes_the_job_around_a_frozen_executor() -> Result<()> {
    let job = Job::new()?;
    // Heartbeats would take 60 s to notice; speculation must not wait for that.
    let c = Cluster::start_configured(
        3,
        2,
        SECRET,
        "heartbeat_timeout = \"60s\"\n[speculation]\nenabled = true\nquantile = 0.5\nmultiplier = 1.5\n",
    )?;
    let start = Instant::now();
    let child = job.submit(&c, "speculation")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |done, running, _| done == 0 && running == 6)?;
    c.signal_executor(0, libc::SIGSTOP);
    let out = job.check(child, "speculation")?;
    let took = start.elapsed();
    c.signal_executor(0, libc::SIGCONT);
    assert!(took < Duration::from_secs(40), "the job waited for the frozen executor ({took:?})");
    assert!(executor_state(&c, "lost")?.is_empty(), "nobody was declared lost");
    eprintln!("speculation: finished in {:.2} s around a frozen executor", took.as_secs_f64());
    let _ = out;
    Ok(())
}

#[test]
fn sigterm_to_the_driver_fails_running_applications_with_the_reason() -> Result<()> {
    let job = Job::new()?;
    let mut c = cluster(2, "")?;
    let child = job.submit(&c, "driver-stop")?;
    c.await_stage("shuffle-map", Duration::from_secs(60), |_, running, _| running >= 1)?;
    c.signal_driver(libc::SIGTERM);
    let out = child.wait_with_output()?;
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the driver is shutting down"), "{}", describe(&out));
    assert_eq!(c.wait_driver(Duration::from_secs(20))?, Some(0), "the driver exits cleanly");
    assert!(!job.out("driver-stop").join("_SUCCESS").exists());
    for e in &mut c.executors {
        assert!(matches!(e.0.try_wait(), Ok(None)), "executors outlive the driver, waiting for it to come back");
    }
    Ok(())
}
