//! Executor exclusion: an executor on which an application's tasks keep failing
//! for infrastructure reasons gets no more of its tasks for a while, shown in
//! status; with exclusion off, it keeps getting them.

use spindle_tests::*;

const SECRET: &str = "exclusion-secret";

/// A driver (with `config`) with one executor failing every attempt and one
/// healthy one; runs a word count over 40 files and returns (failed attempts,
/// the application's status).
fn word_count_beside_a_broken_executor(config: &str) -> anyhow::Result<(u64, serde_json::Value)> {
    let mut c = Cluster::start_configured(0, 2, SECRET, config)?;
    let caches = c.dir.path().to_path_buf();
    c.add_executor_with(2, &caches.join("broken"), &["--chaos-failure-rate", "1"])?;
    c.wait_for_executors(1)?;
    c.add_executor(2, &caches.join("healthy"))?;
    c.wait_for_executors(2)?;
    let work = tempfile::tempdir()?;
    let files = write_text_inputs(&work.path().join("in"), 40, 50, 31);
    let out_dir = work.path().join("out");
    let out =
        c.submit(&example("wordcount"), &[work.path().join("in").to_str().unwrap(), out_dir.to_str().unwrap()])?;
    anyhow::ensure!(out.status.success(), "{}", describe(&out));
    anyhow::ensure!(read_counts(&out_dir)? == reference_counts(&files), "the word count is wrong");
    let app = app_id(&out).expect("an application id");
    let detail = c.app_status(&app, None)?;
    Ok((detail["tasks_failed"].as_u64().unwrap(), detail))
}

#[test]
fn an_executor_where_tasks_keep_failing_gets_no_more_of_the_applications_tasks() -> anyhow::Result<()> {
    let (failed, detail) = word_count_beside_a_broken_executor("")?;
    let excluded = detail["excluded_executors"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{detail}");
    assert_eq!(excluded[0]["executor"], "exec-1", "{detail}");
    assert!(
        excluded[0]["reason"].as_str().unwrap().contains("tasks failed there (max_failures_per_executor)"),
        "{detail}"
    );
    assert!(excluded[0]["remaining_ms"].as_u64().unwrap() > 500_000, "{detail}");
    // Two failures exclude it; only attempts already sent there (up to 2 slots
    // with 4 queued each) fail after that.
    assert!(failed <= 16, "{failed} attempts failed on the excluded executor: {detail}");

    let (failed_without, detail) = word_count_beside_a_broken_executor("[exclude_on_failure]\nenabled = false\n")?;
    assert!(detail["excluded_executors"].as_array().unwrap().is_empty(), "{detail}");
    eprintln!("failed attempts on the broken executor: {failed} with exclusion, {failed_without} without");
    assert!(failed_without > failed, "exclusion made no difference: {failed} vs {failed_without}");
    Ok(())
}
