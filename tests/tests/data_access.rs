//! Tenants' data locations: with tenants configured, a job reads and writes
//! host files only under its tenant's `roots` (after `..`, symlinks, relative
//! paths and globs are resolved); a tenant without roots uses no host path;
//! refusals name the path and the tenant, and leave nothing behind.

use std::path::Path;

use anyhow::Result;
use spindle_tests::*;

const SECRET: &str = "data-access-secret";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };
const CAROL: Tenant<'static> = Tenant { name: "carol", token: "carol-token-1" };

#[test]
fn a_driver_with_tenants_and_no_cluster_secret_refuses_to_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("driver.toml");
    std::fs::write(&config, "[[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\n")?;
    let out = std::process::Command::new(spindle_bin())
        .args(["driver", "--ui-listen", "none", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env_remove("SPINDLE_SECRET")
        .output()?;
    fails_with(&out, "tenants are configured but no cluster secret is");
    Ok(())
}

#[test]
fn jobs_use_only_their_tenants_roots() -> Result<()> {
    let top = tempfile::tempdir()?;
    let top = top.path().canonicalize()?;
    let (alice_dir, bob_dir) = (top.join("alice"), top.join("bob"));
    let files = write_text_inputs(&alice_dir.join("in"), 2, 200, 5);
    std::fs::create_dir_all(&bob_dir)?;
    std::fs::write(bob_dir.join("secret.txt"), "bob's private words\n")?;
    std::os::unix::fs::symlink(bob_dir.join("secret.txt"), alice_dir.join("link.txt"))?;
    let config = format!(
        "[[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\nroots = [{alice:?}]\n\
         [[tenants]]\nname = \"bob\"\ntoken = \"bob-token-1\"\nroots = [{bob:?}]\n\
         [[tenants]]\nname = \"carol\"\ntoken = \"carol-token-1\"\n",
        alice = alice_dir.display().to_string(),
        bob = bob_dir.display().to_string(),
    );
    let cluster = Cluster::start_configured(2, 2, SECRET, &config)?;
    let wc = example("wordcount");
    let run = |who, input: &Path, output: &Path| {
        cluster.submit_as(who, &[], &wc, &[input.to_str().unwrap(), output.to_str().unwrap()])
    };

    // Her own data, in and out: exact.
    let good = alice_dir.join("out");
    let out = run(ALICE, &alice_dir.join("in"), &good)?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&good)?, reference_counts(&files));

    // Anything else is refused, naming the path and the tenant.
    let refused = "tenant `alice` may not use it";
    for input in [
        Path::new("/etc/passwd").to_path_buf(),
        bob_dir.join("secret.txt"),
        alice_dir.join("../bob/secret.txt"),
        alice_dir.join("link.txt"),
        alice_dir.join("*.txt"),
        cluster.dir.path().join("driver.toml"),
        bob_dir.clone(),
    ] {
        let out = run(ALICE, &input, &alice_dir.join("never"))?;
        fails_with(&out, refused);
        fails_with(&out, &input.display().to_string().replace("*.txt", ""));
        assert!(!alice_dir.join("never").exists(), "a refused job leaves no output");
    }
    for output in
        [bob_dir.join("out"), alice_dir.join("../bob/out2"), alice_dir.join("gone/../../bob/out3"), top.join("out4")]
    {
        let out = run(ALICE, &alice_dir.join("in"), &output)?;
        fails_with(&out, refused);
    }
    assert_eq!(std::fs::read_dir(&bob_dir)?.count(), 1, "nothing was written into bob's directory");
    assert!(!top.join("out4").exists());

    // A tenant without roots uses no host path at all.
    let out = run(CAROL, &alice_dir.join("in"), &top.join("carol-out"))?;
    fails_with(&out, "tenant `carol` may not use it");
    fails_with(&out, "its roots: none");

    // The refusals did not disturb anyone: alice's next job is exact.
    let again = alice_dir.join("out-again");
    let out = run(ALICE, &alice_dir.join("in"), &again)?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&again)?, reference_counts(&files));
    Ok(())
}

#[test]
fn executors_check_the_roots_again_before_opening_anything() -> Result<()> {
    let top = tempfile::tempdir()?;
    let top = top.path().canonicalize()?;
    let inputs = write_text_inputs(&top.join("in"), 1, 50, 3);
    let config = format!(
        "[[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\nroots = [{:?}]\n",
        top.display().to_string()
    );
    let cluster = Cluster::start_configured(1, 1, SECRET, &config)?;
    let job = example("wordcount");
    // Alice's word count runs, so the executor holds her component.
    let out =
        cluster.submit_as(ALICE, &[], &job, &[top.join("in").to_str().unwrap(), top.join("out").to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&top.join("out"))?, reference_counts(&inputs));
    let address = cluster.status()?["executors"][0]["address"].as_str().unwrap().to_string();
    let artifact = blake3::hash(&std::fs::read(&job)?).to_hex().to_string();
    let roots = Some(spindle_proto::DataRoots { roots: vec![top.display().to_string()] });

    // Tasks a driver that lost its way (or an impostor holding the secret) could
    // send: each names alice's roots and a path outside them.
    let driver_config = cluster.dir.path().join("driver.toml");
    let outside_write = tempfile::tempdir()?;
    let reads = [
        "/etc/passwd".to_string(),
        driver_config.display().to_string(),
        format!("{}/../../../etc/passwd", top.join("in").display()),
    ];
    let text = |path: &str| spindle_proto::TaskInput {
        source: Some(spindle_proto::task_input::Source::Text(spindle_proto::TextSplit {
            path: path.to_string(),
            start: 0,
            end: 1 << 20,
            ..Default::default()
        })),
    };
    let spec = |input: spindle_proto::TaskInput, sink: spindle_proto::task_output::Sink| spindle_proto::TaskSpec {
        app_id: "app-9999".into(),
        artifact: artifact.clone(),
        pipelines: vec![spindle_proto::Pipeline { input: Some(input), ..Default::default() }],
        output: Some(spindle_proto::TaskOutput { sink: Some(sink) }),
        limits: Some(spindle_proto::TaskLimits {
            memory_bytes: 64 << 20,
            wall_time_ms: 10_000,
            fuel: 0,
            output_bytes: 1 << 20,
        }),
        data_roots: roots.clone(),
        ..Default::default()
    };
    let count = || spindle_proto::task_output::Sink::Count(spindle_proto::CountSink {});
    for path in &reads {
        let result = run_on_executor(&address, SECRET, spec(text(path), count()))?;
        assert!(!result.ok && result.error.contains("under none of the application's roots"), "{path}: {result:?}");
    }
    let inside = inputs[0].display().to_string();
    let written = outside_write.path().join("part-00000");
    let sink = spindle_proto::task_output::Sink::TextFile(spindle_proto::TextFileSink {
        temp_path: written.display().to_string(),
        ..Default::default()
    });
    let result = run_on_executor(&address, SECRET, spec(text(&inside), sink))?;
    assert!(!result.ok && result.error.contains("under none of the application's roots"), "{result:?}");
    assert!(!written.exists(), "the executor wrote outside the roots");
    // Inside the roots, the same executor counts the file.
    let result = run_on_executor(&address, SECRET, spec(text(&inside), count()))?;
    assert!(result.ok && result.count == 50, "{result:?}");
    Ok(())
}
