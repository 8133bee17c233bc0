//! Operating a running cluster: `spindle kill` and Ctrl-C on `spindle submit`, the
//! driver's JSON API checked against its own OpenAPI schema and against results
//! computed here, who may see what over HTTP, and Prometheus metrics on the
//! driver and on executors that move with a real job.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use spindle_tests::http::{self, sample};
use spindle_tests::*;

/// Six paced map tasks of about 10 s each: a job that runs until it is stopped.
fn start_long_job(c: &Cluster, work: &std::path::Path, name: &str) -> Result<std::process::Child> {
    let input = work.join(format!("{name}-in"));
    write_text_inputs(&input, 6, 100, 7);
    let out = work.join(format!("{name}-out"));
    c.submit_background(
        &example("paced-wordcount"),
        &[input.to_str().unwrap(), out.to_str().unwrap(), "6", "100000", "0"],
    )
}

/// The application running now (the only one), once its map tasks run.
fn running_app(c: &Cluster) -> Result<String> {
    c.await_stage("shuffle-map", Duration::from_secs(60), |_, running, _| running >= 2)?;
    let s = c.status()?;
    let apps = s["applications"].as_array().context("applications")?;
    let app = apps.iter().find(|a| a["state"] == "running").context("a running application")?;
    Ok(app["id"].as_str().context("id")?.to_string())
}

fn running_tasks(s: &serde_json::Value) -> u64 {
    s["executors"].as_array().map_or(0, |e| e.iter().map(|e| e["running_tasks"].as_u64().unwrap_or(0)).sum())
}

fn app_state(s: &serde_json::Value, app: &str) -> String {
    s["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == app))
        .map_or(String::new(), |a| a["state"].as_str().unwrap_or_default().to_string())
}

#[test]
fn kill_stops_an_application_and_its_tasks_within_a_second() -> Result<()> {
    let work = tempfile::tempdir()?;
    let c = Cluster::start(2, 2)?;

    // `spindle kill`.
    let child = start_long_job(&c, work.path(), "a")?;
    let app = running_app(&c)?;
    assert!(running_tasks(&c.status()?) >= 2);
    let asked = Instant::now();
    let out = c.command("kill", None).arg(&app).output()?;
    assert!(out.status.success(), "kill failed: {}", describe(&out));
    let stopped = await_condition("the killed application's tasks to stop", Duration::from_secs(10), || {
        let s = c.status().ok()?;
        (app_state(&s, &app) == "killed" && running_tasks(&s) == 0).then(|| asked.elapsed())
    })?;
    eprintln!("kill: application and tasks stopped {stopped:?} after the kill command started");
    assert!(stopped < Duration::from_secs(1), "stopping took {stopped:?}");
    let jobs = http::get(&c.ui, &format!("/api/v1/applications/{app}/jobs"), None)?.json()?;
    let jobs = jobs.as_array().unwrap();
    assert!(!jobs.is_empty() && jobs.iter().all(|j| j["state"] == "failed"), "its running job ended: {jobs:?}");
    let submitted = child.wait_with_output()?;
    assert!(!submitted.status.success(), "a killed application's submit succeeded");
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(stderr.contains("killed on request"), "{stderr}");
    let again = c.command("kill", None).arg(&app).output()?;
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("had already finished (killed)"), "{}", describe(&again));
    let unknown = c.command("kill", None).arg("app-9999").output()?;
    fails_with(&unknown, "has no application app-9999");

    // Task memory over what executors give (their default --max-task-memory,
    // 256 MiB) is refused at submit, not lowered on the executor.
    let work_dir = work.path().to_str().unwrap();
    let mut big = c.command("submit", None);
    big.args(["--task-memory", "1GiB"]).arg(example("wordcount")).args(["--", work_dir, work_dir]);
    fails_with(&big.output()?, "task memory of 1 GiB is more than executor");

    // Ctrl-C on `spindle submit` asks the driver to kill its application.
    let mut child = start_long_job(&c, work.path(), "b")?;
    let app = running_app(&c)?;
    send_signal(&child, libc::SIGINT);
    await_condition("the interrupted submit to end", Duration::from_secs(10), || child.try_wait().ok().flatten())?;
    let submitted = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(stderr.contains(&format!("asked the driver to kill {app}")), "{stderr}");
    assert!(stderr.contains("killed on request"), "{stderr}");
    await_condition("its tasks to stop", Duration::from_secs(10), || {
        let s = c.status().ok()?;
        (app_state(&s, &app) == "killed" && running_tasks(&s) == 0).then_some(())
    })?;
    Ok(())
}

/// Validates `value` against the schema the OpenAPI document gives for the
/// 200 answer of `method path`.
fn check_schema(openapi: &serde_json::Value, method: &str, path: &str, value: &serde_json::Value) -> Result<()> {
    let schema = &openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    anyhow::ensure!(schema.is_object(), "the OpenAPI document has no 200 schema for {method} {path}");
    let mut root = schema.clone();
    root["components"] = openapi["components"].clone();
    let validator = jsonschema::validator_for(&root).map_err(|e| anyhow::anyhow!("schema of {path}: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    anyhow::ensure!(errors.is_empty(), "{method} {path} does not match its schema: {errors:?}");
    Ok(())
}

#[test]
fn the_api_shows_jobs_stages_and_tasks_that_match_the_schema_and_the_data() -> Result<()> {
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 4, 3000, 31);
    let lines: usize = files.iter().map(|f| std::fs::read_to_string(f).unwrap().lines().count()).sum();
    let words = reference_counts(&files).len();
    let c = Cluster::start(2, 2)?;
    let app = c.word_count(work.path(), &files)?;

    let openapi = http::get(&c.ui, "/api/v1/openapi.json", None)?.json()?;
    let get = |path: &str, template: &str| -> Result<serde_json::Value> {
        let r = http::get(&c.ui, path, None)?;
        anyhow::ensure!(r.status == 200, "GET {path}: {} {}", r.status, r.body);
        let v = r.json()?;
        check_schema(&openapi, "get", template, &v)?;
        Ok(v)
    };

    // The check can fail: a wrong type and a missing field are caught.
    let wrong = serde_json::json!([{"id": 7}]);
    assert!(check_schema(&openapi, "get", "/api/v1/applications", &wrong).is_err());
    let apps = get("/api/v1/applications", "/api/v1/applications")?;
    let a = apps.as_array().unwrap().iter().find(|a| a["id"] == app.as_str()).context("the application")?;
    assert_eq!(a["state"], "succeeded");
    assert!(a["submitted_ms"].as_u64().unwrap() > 1_700_000_000_000 && a["duration_ms"].as_u64().unwrap() > 0);
    let detail = get(&format!("/api/v1/applications/{app}"), "/api/v1/applications/{app}")?;
    assert_eq!(detail["jobs"], 3, "save, take_ordered and count: {detail}");

    let jobs = get(&format!("/api/v1/applications/{app}/jobs"), "/api/v1/applications/{app}/jobs")?;
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["state"] == "succeeded" && j["tasks_failed"] == 0), "{jobs:?}");
    assert_eq!(jobs[0]["action"], "save-as-text-file");
    let first = jobs[0]["job_id"].as_u64().unwrap();
    let job = get(&format!("/api/v1/applications/{app}/jobs/{first}"), "/api/v1/applications/{app}/jobs/{job}")?;
    assert_eq!(&job, &jobs[0]);

    let stages = get(&format!("/api/v1/applications/{app}/stages"), "/api/v1/applications/{app}/stages")?;
    let stages = stages.as_array().unwrap();
    let map = stages.iter().find(|s| s["kind"] == "shuffle-map").context("the map stage")?;
    assert_eq!(map["state"], "complete");
    assert_eq!(map["tasks_succeeded"], map["tasks"]);
    assert_eq!(map["records_in"].as_u64(), Some(lines as u64), "the map stage read every line once");
    assert!(map["shuffle_write_bytes"].as_u64().unwrap() > 0);
    let save = stages.iter().find(|s| s["kind"] == "save-as-text-file").context("the save stage")?;
    assert_eq!(save["records_out"].as_u64(), Some(words as u64), "one line written per distinct word");
    let q = &map["summary"]["duration_ms"];
    let q: Vec<f64> = q.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(q.len() == 5 && q.windows(2).all(|w| w[0] <= w[1]), "quantiles in order: {q:?}");

    let id = map["stage_id"].as_u64().unwrap();
    let stage = get(&format!("/api/v1/applications/{app}/stages/{id}"), "/api/v1/applications/{app}/stages/{stage}")?;
    assert_eq!(&stage, map);
    let tasks = get(
        &format!("/api/v1/applications/{app}/stages/{id}/tasks?sort=duration"),
        "/api/v1/applications/{app}/stages/{stage}/tasks",
    )?;
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len() as u64, map["tasks"].as_u64().unwrap());
    let durations: Vec<f64> = tasks.iter().map(|t| t["duration_ms"].as_f64().unwrap()).collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "longest first: {durations:?}");
    assert_eq!(durations[0], q[4], "the longest task is the top quantile");
    let records: u64 = tasks.iter().map(|t| t["records_in"].as_u64().unwrap()).sum();
    assert_eq!(records, lines as u64);

    let environment = get("/api/v1/environment", "/api/v1/environment")?;
    let setting =
        |key: &str| environment.as_array().unwrap().iter().find(|e| e["key"] == key).map(|e| e["value"].clone());
    assert_eq!(setting("retained_applications"), Some(serde_json::json!("100")));
    let executors = get("/api/v1/executors", "/api/v1/executors")?;
    assert_eq!(executors.as_array().unwrap().iter().filter(|e| e["state"] == "alive").count(), 2);
    let cluster = get("/api/v1/cluster", "/api/v1/cluster")?;
    assert_eq!(cluster["executors"].as_array().unwrap().len(), 2);
    // `spindle status --json` is the same document.
    check_schema(&openapi, "get", "/api/v1/cluster", &c.status()?)?;
    check_schema(&openapi, "get", "/api/v1/applications/{app}", &c.app_status(&app, None)?)?;

    // Storage: an application pausing between rounds over a persisted dataset
    // keeps its 8 partitions, whose records hold at least every line's bytes.
    let line_bytes: u64 = files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(|l| l.len() as u64).collect::<Vec<_>>())
        .sum();
    let mut pausing = c.submit_background(
        &example("cache-check"),
        &[work.path().join("in").to_str().unwrap(), "memory", "2", "60000"],
    )?;
    let (kept_app, _) = await_condition("kept partitions in the storage API", Duration::from_secs(60), || {
        let apps = http::get(&c.ui, "/api/v1/applications", None).ok()?.json().ok()?;
        let running = apps.as_array()?.iter().find(|a| a["state"] == "running")?["id"].as_str()?.to_string();
        let storage = http::get(&c.ui, &format!("/api/v1/applications/{running}/storage"), None).ok()?.json().ok()?;
        (storage.as_array()?.first()?["partitions"] == 8).then_some((running, storage))
    })?;
    let storage = get(&format!("/api/v1/applications/{kept_app}/storage"), "/api/v1/applications/{app}/storage")?;
    let d = &storage[0];
    assert_eq!((d["level"].as_str(), d["blocks"].as_u64()), (Some("memory-only"), Some(8)), "{storage}");
    assert!(d["bytes"].as_u64().unwrap() >= line_bytes, "{storage}");
    let holders: Vec<&str> = d["executors"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    let ids: Vec<&str> = executors.as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(!holders.is_empty() && holders.iter().all(|h| ids.contains(h)), "{holders:?} of {ids:?}");
    let page = http::get(&c.ui, &format!("/applications/{kept_app}"), None)?;
    assert!(page.body.contains("Storage") && page.body.contains("memory-only"), "the application page shows storage");
    let out = c.command("kill", None).arg(&kept_app).output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let _ = pausing.kill();
    let _ = pausing.wait();
    // The application ends a moment after the kill is answered.
    await_condition("the killed application's storage to empty", Duration::from_secs(10), || {
        let s = http::get(&c.ui, &format!("/api/v1/applications/{kept_app}/storage"), None).ok()?.json().ok()?;
        (s == serde_json::json!([])).then_some(())
    })?;

    let killed = http::request("POST", &c.ui, &format!("/api/v1/applications/{app}/kill"), None)?;
    assert_eq!(killed.status, 200);
    assert_eq!(killed.json()?, serde_json::json!({"killed": false, "state": "succeeded"}));
    let missing = http::get(&c.ui, "/api/v1/applications/app-9999/jobs", None)?;
    assert_eq!(missing.status, 404);
    assert!(missing.json()?["error"].as_str().unwrap().contains("app-9999"));
    let missing = http::get(&c.ui, &format!("/api/v1/applications/{app}/stages/999"), None)?;
    assert_eq!(missing.status, 404);
    let bad = http::get(&c.ui, &format!("/api/v1/applications/{app}/stages/{id}/tasks?sort=size"), None)?;
    assert_eq!(bad.status, 400, "{}", bad.body);
    Ok(())
}

const CONFIG: &str = r#"
[[tenants]]
name = "alice"
token = "alice-token-1"
[[tenants]]
name = "mallory"
token = "mallory-token-1"
"#;

#[test]
fn over_http_a_tenant_sees_only_its_own_applications() -> Result<()> {
    let secret = "ops-secret-1";
    let c = Cluster::start_configured(1, 2, secret, CONFIG)?;
    let alice = Tenant { name: "alice", token: "alice-token-1" };
    // Without its arguments the tour fails at once: an application all the same.
    let out = c.submit_as(alice, &[], &example("tour"), &[])?;
    let app = app_id(&out).context("app id")?;
    let path = format!("/api/v1/applications/{app}/jobs");

    let nobody = http::get(&c.ui, &path, None)?;
    assert_eq!(nobody.status, 401);
    assert!(nobody.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")), "{nobody:?}");
    let wrong = http::get(&c.ui, &path, Some("Bearer alice:wrong"))?;
    assert_eq!(wrong.status, 401);
    // Alice by bearer token and by basic credentials; the operator by the secret.
    assert_eq!(http::get(&c.ui, &path, Some("Bearer alice:alice-token-1"))?.status, 200);
    assert_eq!(http::get(&c.ui, &path, Some("Basic YWxpY2U6YWxpY2UtdG9rZW4tMQ=="))?.status, 200);
    assert_eq!(http::get(&c.ui, &path, Some(&format!("Bearer {secret}")))?.status, 200);
    // Mallory cannot tell alice's application exists, list it, or kill it.
    let mallory = Some("Bearer mallory:mallory-token-1");
    let hidden = http::get(&c.ui, &path, mallory)?;
    assert_eq!(hidden.status, 404);
    let listed = http::get(&c.ui, "/api/v1/applications", mallory)?.json()?;
    assert_eq!(listed, serde_json::json!([]));
    let kill = http::request("POST", &c.ui, &format!("/api/v1/applications/{app}/kill"), mallory)?;
    assert_eq!(kill.status, 404);
    let kill = c.command("kill", Some(Tenant { name: "mallory", token: "mallory-token-1" })).arg(&app).output()?;
    fails_with(&kill, &format!("tenant `mallory` has no application {app}"));
    // Metrics name tenants: for the operator only.
    assert_eq!(http::get(&c.ui, "/metrics", mallory)?.status, 403);
    assert_eq!(http::get(&c.ui, "/api/v1/environment", mallory)?.status, 403);
    let environment = http::get(&c.ui, "/api/v1/environment", Some(&format!("Bearer {secret}")))?;
    assert_eq!(environment.status, 200);
    assert!(environment.body.contains("alice") && !environment.body.contains("alice-token-1"), "{}", environment.body);
    assert!(!environment.body.contains(secret), "the secret is redacted");
    assert_eq!(http::get(&c.ui, "/metrics", Some(&format!("Bearer {secret}")))?.status, 200);
    Ok(())
}

#[test]
fn prometheus_metrics_move_with_a_job_on_the_driver_and_the_executors() -> Result<()> {
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 4, 2000, 5);
    let mut c = Cluster::start(0, 2)?;
    for i in 0..2 {
        let cache = c.dir.path().join(format!("exec-cache-{i}"));
        c.add_executor_with(2, &cache, &["--metrics-listen", "127.0.0.1:0"])?;
    }
    c.wait_for_executors(2)?;
    let s = c.status()?;
    let executors: Vec<String> = s["executors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("http://{}", e["metrics_address"].as_str().unwrap()))
        .collect();
    assert!(executors.iter().all(|e| e.len() > "http://".len()), "every executor serves metrics: {s}");
    let scrape = |base: &str| -> Result<String> {
        let r = http::get(base, "/metrics", None)?;
        anyhow::ensure!(r.status == 200, "{base}/metrics: {}", r.status);
        Ok(r.body)
    };
    let executor_sum = |name: &str| -> Result<f64> {
        Ok(executors
            .iter()
            .map(|e| scrape(e).map(|m| sample(&m, name, None)))
            .collect::<Result<Vec<_>>>()?
            .iter()
            .sum())
    };
    let driver_before = scrape(&c.ui)?;
    let executor_tasks_before = executor_sum("spindle_executor_tasks_finished_total")?;

    let app = c.word_count(work.path(), &files)?;
    let stages = http::get(&c.ui, &format!("/api/v1/applications/{app}/stages"), None)?.json()?;
    let tasks: u64 = stages.as_array().unwrap().iter().map(|s| s["tasks_succeeded"].as_u64().unwrap()).sum();
    let maps: u64 = stages
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "shuffle-map")
        .map(|s| s["tasks_succeeded"].as_u64().unwrap())
        .sum();

    let driver = scrape(&c.ui)?;
    let moved = |name: &str, labels: Option<&str>| sample(&driver, name, labels) - sample(&driver_before, name, labels);
    assert_eq!(
        moved("spindle_driver_tasks_finished_total", Some("kind=\"shuffle-map\",outcome=\"succeeded\"")),
        maps as f64
    );
    assert_eq!(moved("spindle_driver_tasks_finished_total", None), tasks as f64);
    assert_eq!(moved("spindle_driver_task_duration_seconds_count", None), tasks as f64);
    assert_eq!(moved("spindle_driver_jobs_finished_total", Some("outcome=\"succeeded\"")), 3.0);
    assert_eq!(moved("spindle_driver_applications_finished_total", Some("state=\"succeeded\"")), 1.0);
    assert!(moved("spindle_driver_shuffle_write_bytes_total", None) > 0.0);
    assert!(moved("spindle_driver_heartbeats_total", None) >= 0.0);
    assert_eq!(sample(&driver, "spindle_driver_executors", Some("state=\"alive\"")), 2.0);
    assert_eq!(sample(&driver, "spindle_driver_slots", None), 4.0);

    let executor_tasks = executor_sum("spindle_executor_tasks_finished_total")?;
    assert_eq!(executor_tasks - executor_tasks_before, tasks as f64, "every task ended on one executor");
    assert!(executor_sum("spindle_executor_shuffle_write_bytes_total")? > 0.0);
    assert!(executor_sum("spindle_executor_shuffle_fetch_bytes_total")? > 0.0);
    assert_eq!(executor_sum("spindle_executor_slots")?, 4.0);
    assert!(
        executor_sum("spindle_executor_artifacts_compiled_total")?
            + executor_sum("spindle_executor_artifacts_loaded_from_disk_total")?
            >= 2.0
    );
    Ok(())
}
