//! Tenants sharing one cluster: an adversarial tenant tries every attack in
//! `tests/guests/attack` while another tenant's word counts run on the same
//! executors; credentials, quotas and fair slot sharing hold.

use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use spindle_tests::*;

const SECRET: &str = "cluster-secret-for-tests";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };
const MALLORY: Tenant<'static> = Tenant { name: "mallory", token: "mallory-token-1" };

const CONFIG: &str = r#"
[main_limits]
wall_time = "6s"

[[tenants]]
name = "alice"
token = "alice-token-1"

[[tenants]]
name = "mallory"
token = "mallory-token-1"
max_applications = 1
max_task_memory = "64MiB"
max_task_wall_time = "30s"
max_shuffle_memory = "16MiB"
max_component_size = "32MiB"
"#;

/// Mallory's limits for every attack.
const LIMITS: &[&str] = &["--task-memory", "64MiB", "--task-wall-time", "2s", "--task-output", "64KiB"];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs alice's word count until `stop` is set (at least once); every result must
/// be exact. Returns how many runs finished.
fn alice_wordcounts(cluster: &Cluster, work: &std::path::Path, stop: &AtomicBool) -> anyhow::Result<u32> {
    let input = work.join("in");
    let files = write_text_inputs(&input, 4, 4000, 11);
    let reference = reference_counts(&files);
    let mut runs = 0;
    loop {
        let out_dir = work.join(format!("out-{runs}"));
        let out = cluster.submit_as(
            ALICE,
            &[],
            &example("wordcount"),
            &[input.to_str().unwrap(), out_dir.to_str().unwrap()],
        )?;
        anyhow::ensure!(out.status.success(), "alice's word count failed: {}", describe(&out));
        anyhow::ensure!(read_counts(&out_dir)? == reference, "alice's word count {runs} is wrong");
        runs += 1;
        if stop.load(Ordering::Relaxed) {
            return Ok(runs);
        }
    }
}

/// [`CONFIG`] with `root` as alice's only data directory.
fn config_with_root(root: &std::path::Path) -> String {
    CONFIG.replace(
        "token = \"alice-token-1\"\n",
        &format!("token = \"alice-token-1\"\nroots = [{:?}]\n", root.display().to_string()),
    )
}

#[test]
fn every_attack_fails_clearly_while_another_tenants_word_count_stays_exact() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let mut cluster = Cluster::start_configured(2, 2, SECRET, &config_with_root(work.path()))?;
    let driver_addr = cluster.url.trim_start_matches("http://").to_string();
    let stop = AtomicBool::new(false);

    let alice_runs = std::thread::scope(|s| -> anyhow::Result<u32> {
        let alice = s.spawn(|| alice_wordcounts(&cluster, work.path(), &stop));
        // However this closure ends (a failed check too), alice stops: the scope
        // can then join her thread and the test reports instead of hanging.
        let stop_alice = SetOnDrop(&stop);
        let attack = |args: &[&str]| cluster.submit_as(MALLORY, LIMITS, &example("attack"), args);

        // (mode, what the failure must say)
        let failing: &[(&[&str], &str)] = &[
            (&["loop"], "sandbox wall-time limit of 2s exceeded"),
            (&["alloc"], "sandbox memory limit of 64 MiB exceeded"),
            (&["recurse"], "sandbox stack limit of 1 MiB exceeded"),
            (&["panic"], "element 37 is cursed"),
            (&["read-passwd"], "cannot open /etc/passwd"),
            (&["read-env"], "no environment variables are visible"),
            (&["socket", &driver_addr], "cannot connect to"),
            (&["huge-batch"], "the guest wrote a batch of 32 MiB, over the 16 MiB limit for one batch"),
            (&["malformed-frame"], "the guest wrote a malformed batch"),
            (&["context-from-task"], "datasets can only be built and acted on in `main`"),
            (&["forged-count"], "this task's output is not a count"),
            (&["main-alloc"], "main: sandbox memory limit of 64 MiB exceeded"),
            (&["huge-shuffle"], "4000000000 partitions is over the limit of 100000"),
            (&["shuffle-hoard", "100"], "over its limit of 16 MiB (max_shuffle_memory)"),
            (&["many-accumulators"], "more than 4096 different accumulators"),
            (&["unknown-broadcast"], "unknown broadcast refused: application"),
        ];
        for (args, expected) in failing {
            let started = Instant::now();
            let out = attack(args)?;
            let text = stderr(&out);
            assert!(!out.status.success(), "attack {args:?} succeeded: {}", describe(&out));
            assert!(text.contains(expected), "attack {args:?} should say {expected:?}: {}", describe(&out));
            assert!(!text.contains("BREACH") && !text.contains(CANARY.1), "attack {args:?}: {}", describe(&out));
            eprintln!("attack {args:?}: failed in {:.2} s: {expected}", started.elapsed().as_secs_f64());
        }

        // A broken limit is deterministic: the looping task ran once, not four times.
        let out = attack(&["loop"])?;
        let app = app_id(&out).expect("an application id");
        let detail = cluster.app_status(&app, Some(MALLORY))?;
        let tasks = detail["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 1, "{detail}");
        assert_eq!(tasks[0]["failure_kind"], "limit", "{detail}");

        // 100 MiB to stdout: the task goes on, its log is cut with a marker.
        let out = attack(&["stdout-flood"])?;
        assert!(out.status.success(), "{}", describe(&out));
        let app = app_id(&out).expect("an application id");
        let logs = cluster.command("logs", Some(MALLORY)).arg(&app).output()?;
        assert!(logs.status.success(), "{}", describe(&logs));
        let text = String::from_utf8_lossy(&logs.stdout);
        assert!(
            text.contains("[spindle: output cut at 64 KiB; 104792064 more bytes dropped]"),
            "{}",
            &text[text.len() - 300..]
        );
        assert!(logs.stdout.len() < 100 << 10, "the kept log is bounded: {} bytes", logs.stdout.len());

        // An endless loop in main meets main's wall-time limit; meanwhile mallory's
        // one-application quota refuses a second application.
        let main_loop = s.spawn(move || attack(&["main-loop"]));
        await_condition("mallory's main-loop to run", Duration::from_secs(30), || {
            let status = cluster.status().ok()?;
            let apps = status["applications"].as_array()?.clone();
            apps.iter().any(|a| a["tenant"] == "mallory" && a["state"] == "running").then_some(())
        })?;
        let out = attack(&["panic"])?;
        assert!(
            stderr(&out).contains("tenant `mallory` already runs 1 application(s), its limit"),
            "{}",
            describe(&out)
        );
        let out = main_loop.join().expect("main-loop thread")?;
        assert!(stderr(&out).contains("main: sandbox wall-time limit of 6s exceeded"), "{}", describe(&out));

        // Limits over the tenant's maximum are refused at submit.
        let out = cluster.submit_as(MALLORY, &["--task-memory", "1GiB"], &example("attack"), &["panic"])?;
        assert!(stderr(&out).contains("over tenant `mallory`'s maximum of 64 MiB"), "{}", describe(&out));

        // Host attacks: floods of submissions from an unknown tenant and past
        // mallory's component limit, a generated component without the job world,
        // plans past the limits.
        let refused = attacks::flood(&cluster.url, "eve", "eve-token-1", 300 << 20, 3)?;
        assert!(refused.iter().all(|s| s.code() == tonic::Code::Unauthenticated), "{refused:?}");
        let refused = attacks::flood(&cluster.url, MALLORY.name, MALLORY.token, 300 << 20, 3)?;
        assert!(refused.iter().all(|s| s.message().contains("32 MiB (max_component_size)")), "{refused:?}");
        let scratch = tempfile::tempdir()?;
        let generated = scratch.path().join("generated.wasm");
        std::fs::write(&generated, attacks::generated_component(28 << 20))?;
        let out = cluster.submit_as(MALLORY, &[], &generated, &[])?;
        assert!(stderr(&out).contains("it exports no spindle:job/app interface"), "{}", describe(&out));
        let out = attack(&["union-bomb", "24"])?;
        assert!(stderr(&out).contains("(max_task_pipelines)"), "{}", describe(&out));
        let out = attack(&["deep-lineage", "5000"])?;
        assert!(stderr(&out).contains("(max_lineage_depth)"), "{}", describe(&out));

        drop(stop_alice);
        alice.join().expect("alice's thread")
    })?;
    eprintln!("alice's word count ran {alice_runs} times during the attacks, exact every time");
    let mib = |n: u64| n as f64 / (1u64 << 20) as f64;
    let driver_peak = peak_rss(cluster.driver_pid())?;
    let executor_peaks: Vec<u64> =
        cluster.executors.iter().map(|e| peak_rss(e.0.id())).collect::<anyhow::Result<_>>()?;
    eprintln!(
        "peak RSS over the attacks: driver {:.0} MiB, executors {:?} MiB",
        mib(driver_peak),
        executor_peaks.iter().map(|&p| mib(p).round()).collect::<Vec<_>>()
    );
    assert!(driver_peak < 512 << 20, "the driver peaked at {:.0} MiB", mib(driver_peak));
    assert!(executor_peaks.iter().all(|&p| p < 1536 << 20), "executors peaked at {executor_peaks:?}");

    // Nobody fell over.
    assert!(cluster.driver_alive(), "the driver died");
    for e in &mut cluster.executors {
        assert!(matches!(e.0.try_wait(), Ok(None)), "an executor died");
    }

    // Each tenant sees only its own applications.
    let out = cluster.command("status", Some(MALLORY)).arg("--json").output()?;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let apps = status["applications"].as_array().unwrap();
    assert!(!apps.is_empty() && apps.iter().all(|a| a["tenant"] == "mallory"), "{status}");
    let all = cluster.status()?;
    let alice_app = all["applications"].as_array().unwrap().iter().find(|a| a["tenant"] == "alice").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cluster.command("logs", Some(MALLORY)).arg(&alice_app).output()?;
    assert!(!out.status.success() && stderr(&out).contains("has no application"), "{}", describe(&out));
    Ok(())
}

#[test]
fn plans_past_the_limits_are_refused_before_any_work_and_the_driver_stays_up() -> anyhow::Result<()> {
    let cluster = Cluster::start_configured(2, 2, SECRET, CONFIG)?;
    let job = example("attack");
    // Up to the depth limit (1000 datasets), chains of narrow ops and of shuffles
    // plan and run exactly (planning recurses once per dataset).
    let out = cluster.submit_as(MALLORY, &[], &job, &["deep-lineage", "990"])?;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("deep lineage: 100 records"),
        "{}",
        describe(&out)
    );
    let out = cluster.submit_as(MALLORY, &[], &job, &["deep-lineage", "990", "shuffles"])?;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("deep lineage: 10 records"),
        "{}",
        describe(&out)
    );
    // One past it is refused; so is a plan of 2^24 pipelines a task.
    let started = Instant::now();
    let out = cluster.submit_as(MALLORY, &[], &job, &["deep-lineage", "999", "shuffles"])?;
    assert!(stderr(&out).contains("over the limit of 1000 (max_lineage_depth)"), "{}", describe(&out));
    let out = cluster.submit_as(MALLORY, &[], &job, &["union-bomb", "24"])?;
    assert!(
        stderr(&out).contains("16384 pipelines, over the limit of 10000 (max_task_pipelines)"),
        "{}",
        describe(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("BREACH"));
    assert!(started.elapsed() < Duration::from_secs(20), "refusals cost no work ({:?})", started.elapsed());
    // A collect larger than main may hold is refused on the driver, naming the
    // limit (main's 64 MiB here), instead of being assembled and then trapping main.
    let out = cluster.submit_as(MALLORY, LIMITS, &job, &["big-collect", "80"])?;
    assert!(stderr(&out).contains("over the 67108864-byte limit"), "{}", describe(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("BREACH"));
    let status = cluster.status()?;
    assert_eq!(status["executors"].as_array().unwrap().len(), 2, "{status}");
    Ok(())
}

#[test]
fn credentials_are_required_everywhere() -> anyhow::Result<()> {
    let cluster = Cluster::start_configured(1, 1, SECRET, CONFIG)?;
    let job = example("attack");
    let out = cluster.submit_as(Tenant { name: "eve", token: "eve-token-1" }, &[], &job, &["panic"])?;
    assert!(stderr(&out).contains("unknown tenant `eve`"), "{}", describe(&out));
    let out = cluster.submit_as(Tenant { name: "alice", token: "mallory-token-1" }, &[], &job, &["panic"])?;
    assert!(stderr(&out).contains("wrong or missing token for tenant `alice`"), "{}", describe(&out));
    let out = cluster.command("submit", None).arg(&job).arg("--").arg("panic").env_remove("SPINDLE_SECRET").output()?;
    assert!(stderr(&out).contains("requires a tenant"), "{}", describe(&out));

    // An executor with the wrong secret cannot join.
    let mut cmd = cluster.executor_command(1, &cluster.dir.path().join("intruder-cache"));
    let out = cmd.env("SPINDLE_SECRET", "guessed").stderr(std::process::Stdio::piped()).output()?;
    assert!(!out.status.success() && stderr(&out).contains("wrong cluster secret"), "{}", describe(&out));

    // Cluster RPCs without the secret are refused by the driver and the executor.
    let executor = cluster.status()?["executors"][0]["address"].as_str().unwrap().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        use spindle_proto::driver_client::DriverClient;
        use spindle_proto::executor_client::ExecutorClient;
        let mut driver = DriverClient::connect(cluster.url.clone()).await?;
        let err = driver
            .register_executor(spindle_proto::RegisterExecutorRequest {
                address: "127.0.0.1:1".into(),
                slots: 1,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        let err =
            driver.fetch_artifact(spindle_proto::FetchArtifactRequest { hash: "00".repeat(32) }).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        let mut exec = ExecutorClient::connect(format!("http://{executor}")).await?;
        let err = exec.status(spindle_proto::StatusRequest {}).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        let fetch = spindle_proto::FetchShuffleRequest {
            app_id: "app-0001".into(),
            shuffle_id: 0,
            reduce_partition: 0,
            map_ids: vec![0],
        };
        let err = exec.fetch_shuffle(fetch).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        anyhow::Ok(())
    })?;
    // The cluster still works for those with credentials.
    assert_eq!(cluster.status()?["executors"].as_array().unwrap().len(), 1);
    Ok(())
}

#[test]
fn a_small_job_is_not_starved_by_a_huge_one() -> anyhow::Result<()> {
    let config = r#"
        [[tenants]]
        name = "big"
        token = "big-token-1"
        [[tenants]]
        name = "small"
        token = "small-token-1"
    "#;
    let cluster = Cluster::start_configured(2, 1, SECRET, config)?;
    let job = example("attack");
    let start = Instant::now();
    let (big_end, small_start, small_end) = std::thread::scope(|s| -> anyhow::Result<_> {
        let big = s.spawn(|| {
            let out =
                cluster.submit_as(Tenant { name: "big", token: "big-token-1" }, &[], &job, &["slow", "1000", "2"]);
            (out, start.elapsed())
        });
        await_condition("the big job's tasks to run", Duration::from_secs(60), || {
            let status = cluster.status().ok()?;
            let done: u64 = status["executors"].as_array()?.iter().filter_map(|e| e["tasks_finished"].as_u64()).sum();
            (done >= 20).then_some(())
        })?;
        let small_start = start.elapsed();
        let out =
            cluster.submit_as(Tenant { name: "small", token: "small-token-1" }, &[], &job, &["slow", "4", "2"])?;
        let small_end = start.elapsed();
        assert!(out.status.success(), "{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("slow job: 4 tasks done"), "{}", describe(&out));
        let (big_out, big_end) = big.join().expect("big job thread");
        let big_out = big_out?;
        assert!(big_out.status.success(), "{}", describe(&big_out));
        Ok((big_end, small_start, small_end))
    })?;
    eprintln!(
        "big job (1000 tasks) finished at {:.2} s; small job (4 tasks) ran from {:.2} s to {:.2} s",
        big_end.as_secs_f64(),
        small_start.as_secs_f64(),
        small_end.as_secs_f64()
    );
    assert!(small_end < big_end, "the small job finished after the big one");
    let remaining = big_end - small_start;
    assert!(
        (small_end - small_start) * 3 < remaining,
        "the small job took {:?}, not long before the big job's remaining {remaining:?}",
        small_end - small_start
    );
    Ok(())
}
