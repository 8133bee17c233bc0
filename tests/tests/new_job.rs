//! `spindle new`: a job crate made in an empty directory outside the workspace
//! builds with plain `cargo build --release --target wasm32-wasip2` and runs.

use std::process::Command;

use anyhow::Result;
use spindle_tests::*;

#[test]
fn a_job_made_by_spindle_new_builds_outside_the_workspace_and_runs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    assert!(!dir.path().starts_with(root()), "the job lives outside the workspace");
    let job = dir.path().join("hello-job");
    let out = Command::new(spindle_bin()).arg("new").arg(&job).output()?;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cargo build --release --target wasm32-wasip2"));
    // The same again is refused, and changes nothing.
    let again = Command::new(spindle_bin()).arg("new").arg(&job).output()?;
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Its own target directory, kept beside the workspace's between runs.
    let target = spindle_bin().parent().and_then(|p| p.parent()).expect("target dir").join("new-job");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&job)
        .env("CARGO_TARGET_DIR", &target)
        .output()?;
    assert!(build.status.success(), "building the new job: {}", describe(&build));
    let component = target.join("wasm32-wasip2/release/hello_job.wasm");
    assert!(component.is_file(), "{} was not made", component.display());

    let files = write_text_inputs(&dir.path().join("in"), 3, 300, 41);
    let output = dir.path().join("out");
    let cache = dir.path().join("cache");
    let run = run_local(&component, 2, &cache, &[dir.path().join("in").to_str().unwrap(), output.to_str().unwrap()])?;
    assert!(run.status.success(), "{}", describe(&run));
    let want = reference_counts(&files);
    assert_eq!(read_counts(&output)?, want);
    // It prints the ten most frequent words, most frequent first.
    let printed: Vec<u64> =
        String::from_utf8_lossy(&run.stdout).lines().filter_map(|l| l.split('\t').next()?.parse().ok()).collect();
    let mut counts: Vec<u64> = want.values().copied().collect();
    counts.sort_by(|a, b| b.cmp(a));
    counts.truncate(10);
    assert_eq!(printed, counts);
    Ok(())
}
