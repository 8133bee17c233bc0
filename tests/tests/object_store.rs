//! Inputs and outputs in an object store, against a real S3-compatible server
//! (s3s-fs, a separate process): word count reads objects by ranged GETs and
//! writes its parts by uploads committed by the driver, on a driver and two
//! executor processes; results are checked against a count made here from the
//! same bytes. Tenants use only their store locations, and the credentials
//! never show in status or in the members' debug logs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use spindle_tests::s3::{S3Server, SECRET_KEY};
use spindle_tests::*;

const SECRET: &str = "object-store-secret";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };
const CAROL: Tenant<'static> = Tenant { name: "carol", token: "carol-token-1" };

/// Every object stored under `dir` (files, at any depth), relative names.
fn objects_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A finished output prefix: `_SUCCESS` and parts only (no attempt left in
/// `_temporary`); its word counts.
fn committed_counts(dir: &Path) -> Result<std::collections::BTreeMap<String, u64>> {
    let objects = objects_under(dir);
    assert!(objects.iter().any(|o| o == "_SUCCESS"), "no _SUCCESS in {objects:?}");
    assert!(
        objects.iter().all(|o| o == "_SUCCESS" || (o.starts_with("part-") && !o.contains('/'))),
        "only _SUCCESS and parts may be left: {objects:?}"
    );
    // Empty directories the server leaves behind are not objects.
    let _ = std::fs::remove_dir_all(dir.join("_temporary"));
    read_counts(dir)
}

fn gzip(from: &Path, to: &Path) -> Result<()> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(from)?)?;
    std::fs::create_dir_all(to.parent().unwrap())?;
    std::fs::write(to, enc.finish()?)?;
    Ok(())
}

#[test]
fn word_count_reads_and_writes_an_s3_compatible_store() -> Result<()> {
    let s3 = S3Server::start()?;
    let bucket = s3.bucket("data")?;
    let files: Vec<PathBuf> = write_text_inputs(&bucket.join("in"), 3, 3000, 11);
    for f in &files {
        gzip(f, &bucket.join("gz").join(format!("{}.gz", f.file_name().unwrap().to_string_lossy())))?;
    }
    // The credentials reach the driver from the standard environment variables.
    let cluster = Cluster::start_logged(2, 2, None, None, s3.env())?;
    let wc = example("wordcount");

    // Plain objects, cut into ranges read by ranged GETs on both executors.
    let out = cluster.submit(&wc, &["s3://data/in", "s3://data/out"])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(committed_counts(&bucket.join("out"))?, reference_counts(&files));
    // 3 objects in 4 or more ranges (a split per slot at least), read by both executors.
    let status = cluster.status()?;
    let executors = status["executors"].as_array().unwrap();
    assert!(executors.iter().all(|e| e["input_records"].as_u64() > Some(0)), "both executors read: {status}");

    // gzip objects found by a glob, written as zstd parts.
    let out = cluster.submit(&wc, &["s3://data/gz/*.gz", "s3://data/out-zst", "zstd"])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(objects_under(&bucket.join("out-zst")).iter().any(|o| o.ends_with(".zst")));
    assert_eq!(committed_counts(&bucket.join("out-zst"))?, reference_counts(&files));

    // An existing output and a missing input are refused, naming them.
    let out = cluster.submit(&wc, &["s3://data/in", "s3://data/out"])?;
    fails_with(&out, "s3://data/out");
    fails_with(&out, "exists");
    let out = cluster.submit(&wc, &["s3://data/nothing/", "s3://data/out-none"])?;
    fails_with(&out, "s3://data/nothing");
    fails_with(&out, "does not exist");
    assert!(!bucket.join("out-none").exists());
    // A corrupt gzip object fails with its URL.
    std::fs::write(bucket.join("bad.gz"), b"\x1f\x8b\x08\x00 not really gzip")?;
    let out = cluster.submit(&wc, &["s3://data/bad.gz", "s3://data/out-bad"])?;
    fails_with(&out, "s3://data/bad.gz");
    assert!(!objects_under(&bucket.join("out-bad")).iter().any(|o| o == "_SUCCESS"));

    // The secret key shows nowhere: not in status, not in any debug log.
    let all_status = cluster.status()?.to_string();
    assert!(!all_status.contains(SECRET_KEY), "status shows the secret key");
    let logs = cluster.logs();
    assert!(logs.contains("task finished") && logs.contains("s3://data/bad.gz"), "the debug logs were captured");
    assert!(!logs.contains(SECRET_KEY), "a member logged the secret key");
    Ok(())
}

#[test]
fn failed_and_retried_attempts_leave_exactly_one_part_per_partition() -> Result<()> {
    let s3 = S3Server::start()?;
    let bucket = s3.bucket("data")?;
    let files = write_text_inputs(&bucket.join("in"), 12, 1000, 31);
    // Chaos fails 30 % of attempts after they ran: their parts were uploaded
    // under `_temporary`, and must never be committed.
    let mut cluster = Cluster::start_logged(0, 2, None, Some("max_task_attempts = 12\n"), s3.env())?;
    let caches = cluster.dir.path().to_path_buf();
    for i in 0..3 {
        cluster.add_executor_with(2, &caches.join(format!("chaos-{i}")), &["--chaos-failure-rate", "0.3"])?;
    }
    cluster.wait_for_executors(3)?;
    let out = cluster.submit(&example("wordcount"), &["s3://data/in", "s3://data/out"])?;
    assert!(out.status.success(), "{}", describe(&out));
    // One part per partition, each word in exactly one of them, nothing left over.
    assert_eq!(committed_counts(&bucket.join("out"))?, reference_counts(&files));
    let failed = cluster.app_status(&app_id(&out).expect("an application id"), None)?["tasks_failed"].as_u64();
    assert!(failed >= Some(3), "chaos failed some attempts: {failed:?}");
    Ok(())
}

#[test]
fn tenants_use_only_their_store_locations() -> Result<()> {
    let s3 = S3Server::start()?;
    let bucket = s3.bucket("shared")?;
    let files = write_text_inputs(&bucket.join("alice/in"), 2, 500, 5);
    write_text_inputs(&bucket.join("bob/in"), 1, 50, 6);
    // The credentials are in the driver's config only: executors get them with
    // each task, for the locations granted.
    let config = format!(
        "[[stores]]\nurl = \"s3://shared\"\noptions = {opts}\n\
         [[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\nlocations = [\"s3://shared/alice\"]\n\
         [[tenants]]\nname = \"bob\"\ntoken = \"bob-token-1\"\nlocations = [\"s3://shared/bob/\"]\n\
         [[tenants]]\nname = \"carol\"\ntoken = \"carol-token-1\"\n",
        opts = s3.toml_options()
    );
    let cluster = Cluster::start_logged(2, 2, Some(SECRET), Some(&config), Vec::new())?;
    let wc = example("wordcount");
    let run = |who, input: &str, output: &str| cluster.submit_as(who, &[], &wc, &[input, output]);

    let out = run(ALICE, "s3://shared/alice/in", "s3://shared/alice/out")?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(committed_counts(&bucket.join("alice/out"))?, reference_counts(&files));

    let refused = "tenant `alice` may not use it";
    for input in ["s3://shared/bob/in", "s3://shared/alice/../bob/in", "s3://shared/alice2/in", "s3://other/in"] {
        let out = run(ALICE, input, "s3://shared/alice/never")?;
        fails_with(&out, input);
        if !input.contains("..") {
            fails_with(&out, refused);
        }
    }
    for output in ["s3://shared/bob/out", "s3://shared/alice/../bob/out2"] {
        let out = run(ALICE, "s3://shared/alice/in", output)?;
        fails_with(&out, output);
    }
    assert!(objects_under(&bucket.join("alice/never")).is_empty(), "a refused job wrote nothing");
    assert!(objects_under(&bucket.join("bob")).iter().all(|o| o.starts_with("in/")), "nothing written for bob");
    // Table sources and sinks go through the same checks: another tenant's
    // objects, a host file and a host directory are refused, naming them.
    let tables = example("tables");
    std::fs::write(bucket.join("bob/in/trips.csv"), "id,city,fare,tip\n1,oslo,2.5,\n")?;
    std::fs::create_dir_all(bucket.join("alice/trips"))?;
    std::fs::write(bucket.join("alice/trips/trips.csv"), "id,city,fare,tip\n1,oslo,2.5,\n")?;
    let host_csv = cluster.dir.path().join("host.csv");
    std::fs::write(&host_csv, "id,city,fare,tip\n1,oslo,2.5,\n")?;
    for (input, output) in [
        ("s3://shared/bob/in/trips.csv", "s3://shared/alice/tables"),
        (host_csv.to_str().unwrap(), "s3://shared/alice/tables"),
        ("/etc/passwd", "s3://shared/alice/tables"),
        ("s3://shared/alice/trips", "s3://shared/bob/tables"),
    ] {
        let out = cluster.submit_as(ALICE, &[], &tables, &["convert", input, output])?;
        fails_with(&out, if input.starts_with("s3://shared/alice") { output } else { input });
    }
    assert!(!bucket.join("alice/tables").exists() && !bucket.join("bob/tables").exists());
    let out =
        cluster.submit_as(ALICE, &[], &tables, &["convert", "s3://shared/alice/trips", "s3://shared/alice/tables"])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(bucket.join("alice/tables/_SUCCESS").exists());
    // A tenant without locations uses no store at all.
    let out = run(CAROL, "s3://shared/alice/in", "s3://shared/carol-out")?;
    fails_with(&out, "tenant `carol` may not use it");
    fails_with(&out, "its locations: none");

    // Executors check again: a task sent straight to one (by a driver that lost
    // its way, or an impostor holding the cluster secret) reads only what its
    // grants cover.
    let address = cluster.status()?["executors"][0]["address"].as_str().unwrap().to_string();
    let artifact = blake3::hash(&std::fs::read(&wc)?).to_hex().to_string();
    let grant = spindle_proto::StoreGrant {
        url: "s3://shared/alice".into(),
        options: s3.options().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    let spec = |path: &str| spindle_proto::TaskSpec {
        app_id: "app-9999".into(),
        artifact: artifact.clone(),
        pipelines: vec![spindle_proto::Pipeline {
            input: Some(spindle_proto::TaskInput {
                source: Some(spindle_proto::task_input::Source::Text(spindle_proto::TextSplit {
                    path: path.to_string(),
                    start: 0,
                    end: 1 << 20,
                    ..Default::default()
                })),
            }),
            ..Default::default()
        }],
        output: Some(spindle_proto::TaskOutput {
            sink: Some(spindle_proto::task_output::Sink::Count(spindle_proto::CountSink {})),
        }),
        limits: Some(spindle_proto::TaskLimits {
            memory_bytes: 64 << 20,
            wall_time_ms: 10_000,
            fuel: 0,
            output_bytes: 1 << 20,
        }),
        data_roots: Some(spindle_proto::DataRoots { roots: Vec::new() }),
        stores: vec![grant.clone()],
        ..Default::default()
    };
    for url in ["s3://shared/bob/in/input-0.txt", "s3://shared/alice/../bob/in/input-0.txt"] {
        let result = run_on_executor(&address, SECRET, spec(url))?;
        assert!(!result.ok && result.error.contains(url), "{url}: {result:?}");
    }
    let mine = format!("s3://shared/alice/in/{}", files[0].file_name().unwrap().to_string_lossy());
    let result = run_on_executor(&address, SECRET, spec(&mine))?;
    assert!(result.ok && result.count == 500, "{result:?}");

    let logs = cluster.logs();
    assert!(!logs.contains(SECRET_KEY), "a member logged the secret key");
    assert!(!cluster.status()?.to_string().contains(SECRET_KEY), "status shows the secret key");
    Ok(())
}

/// A web server on a free port serving `dir` (Python's `http.server`).
fn web_server(dir: &Path) -> Result<(Proc, String)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    // "Serving HTTP on 127.0.0.1 port 43567 (http://127.0.0.1:43567/) ..."
    let url = line.split(['(', ')']).nth(1).filter(|u| u.starts_with("http://"));
    let url = url.ok_or_else(|| anyhow::anyhow!("unexpected web server output: {line}"))?;
    Ok((Proc(child), url.trim_end_matches('/').to_string()))
}

#[test]
fn word_count_reads_files_a_web_server_serves() -> Result<()> {
    let site = tempfile::tempdir()?;
    let files = write_text_inputs(site.path(), 1, 2000, 21);
    let gz = site.path().join("words.txt.gz");
    gzip(&files[0], &gz)?;
    let (_server, base) = web_server(site.path())?;
    let cluster = Cluster::start(2, 2)?;
    let wc = example("wordcount");
    let out_dir = tempfile::tempdir()?;
    for (i, name) in ["input-0.txt", "words.txt.gz"].iter().enumerate() {
        let out = out_dir.path().join(format!("out-{i}"));
        let run = cluster.submit(&wc, &[&format!("{base}/{name}"), out.to_str().unwrap()])?;
        assert!(run.status.success(), "{}", describe(&run));
        assert_eq!(read_counts(&out)?, reference_counts(&files));
    }
    let missing = cluster.submit(&wc, &[&format!("{base}/missing.txt"), out_dir.path().join("x").to_str().unwrap()])?;
    fails_with(&missing, &format!("{base}/missing.txt"));
    let upload = cluster.submit(&wc, &[&format!("{base}/input-0.txt"), &format!("{base}/out")])?;
    fails_with(&upload, "for reading only");
    Ok(())
}

#[test]
fn an_unreachable_store_fails_the_job_promptly_naming_the_url() -> Result<()> {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let config = format!(
        "[[stores]]\nurl = \"s3://nowhere\"\noptions = {{ aws_endpoint = \"http://{closed}\", aws_access_key_id = \
         \"k\", aws_secret_access_key = \"s\", aws_region = \"us-east-1\", aws_allow_http = \"true\" }}\n"
    );
    let cluster = Cluster::start_logged(1, 1, None, Some(&config), Vec::new())?;
    let started = std::time::Instant::now();
    let out = cluster.submit(&example("wordcount"), &["s3://nowhere/in", "s3://nowhere/out"])?;
    fails_with(&out, "s3://nowhere/in");
    // A refused connection is retried 3 times, with backoff, within 30 s at most.
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    Ok(())
}
