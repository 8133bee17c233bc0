//! Event logs and the history server: a driver that keeps one finished
//! application forgets the older one, the history server still shows both, and
//! what it shows of the newer one is what the live driver showed.

use anyhow::{Context, Result};
use spindle_tests::http;
use spindle_tests::*;

#[test]
fn the_history_server_shows_what_the_driver_showed_after_the_driver_forgot_it() -> Result<()> {
    let work = tempfile::tempdir()?;
    let logs = work.path().join("events");
    let config = format!("retained_applications = 1\nevent_log_dir = {:?}\n", logs.to_str().unwrap());
    let c = Cluster::start_configured(2, 2, "history-secret", &config)?;
    let secret = Some("Bearer history-secret");

    // A failing application first, then a word count.
    let failed = c.submit(&example("tour"), &[])?;
    assert!(!failed.status.success());
    let failed = app_id(&failed).context("app id")?;
    let files = write_text_inputs(&work.path().join("in"), 4, 2000, 17);
    let app = c.word_count(work.path(), &files)?;

    // The live driver kept only the newer one (retained_applications = 1).
    let live = http::get(&c.ui, "/api/v1/applications", secret)?.json()?;
    let ids: Vec<&str> = live.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![app.as_str()], "the older application left the driver's memory");
    let live_jobs = http::get(&c.ui, &format!("/api/v1/applications/{app}/jobs"), secret)?.json()?;
    let live_stages = http::get(&c.ui, &format!("/api/v1/applications/{app}/stages"), secret)?.json()?;
    let map = live_stages.as_array().unwrap().iter().find(|s| s["kind"] == "shuffle-map").context("map stage")?;
    let map_id = map["stage_id"].as_u64().unwrap();
    let live_tasks = http::get(&c.ui, &format!("/api/v1/applications/{app}/stages/{map_id}/tasks"), secret)?.json()?;

    // Both logs are complete: compressed parts, none in progress.
    let mut dirs: Vec<String> =
        std::fs::read_dir(&logs)?.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for d in &dirs {
        for part in std::fs::read_dir(logs.join(d))? {
            let name = part?.file_name().into_string().unwrap();
            assert!(name.ends_with(".jsonl.zst"), "{d}/{name}");
        }
    }

    let (_history, url) = start_history(&logs, &[])?;
    let apps = http::get(&url, "/api/v1/applications", None)?.json()?;
    let apps = apps.as_array().unwrap();
    assert_eq!(apps.len(), 2, "{apps:?}");
    let find = |id: &str| apps.iter().find(|a| a["id"].as_str().unwrap().starts_with(&format!("{id}-"))).cloned();
    let old = find(&failed).context("the forgotten application")?;
    assert_eq!(old["state"], "failed");
    assert!(old["error"].as_str().unwrap().contains("usage"), "{old}");
    let new = find(&app).context("the word count")?;
    assert_eq!(new["state"], "succeeded");
    assert_eq!(new["jobs"], 3);
    let key = new["id"].as_str().unwrap();

    // Jobs, stages and tasks as the live driver showed them.
    assert_eq!(http::get(&url, &format!("/api/v1/applications/{key}/jobs"), None)?.json()?, live_jobs);
    assert_eq!(http::get(&url, &format!("/api/v1/applications/{key}/stages"), None)?.json()?, live_stages);
    let tasks = http::get(&url, &format!("/api/v1/applications/{key}/stages/{map_id}/tasks"), None)?.json()?;
    assert_eq!(tasks, live_tasks);
    let detail = http::get(&url, &format!("/api/v1/applications/{key}"), None)?.json()?;
    assert_eq!(detail["tenant"], "default");
    let executors = http::get(&url, "/api/v1/executors", None)?.json()?;
    assert_eq!(executors.as_array().unwrap().len(), 2, "the executors the logs name: {executors}");
    // Its pages render, with what main printed.
    let page = http::get(&url, &format!("/applications/{key}/logs"), None)?;
    assert!(page.body.contains("distinct words"), "{}", page.body);
    // Nothing to kill in history.
    let kill = http::request("POST", &url, &format!("/api/v1/applications/{key}/kill"), None)?.json()?;
    assert_eq!(kill, serde_json::json!({"killed": false, "state": "succeeded"}));
    Ok(())
}
