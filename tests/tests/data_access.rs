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

fn fails_with(out: &std::process::Output, what: &str) {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains(what), "expected a failure with `{what}`: {}", describe(out));
}

#[test]
fn a_driver_with_tenants_and_no_cluster_secret_refuses_to_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("driver.toml");
    std::fs::write(&config, "[[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\n")?;
    let out = std::process::Command::new(spindle_bin())
        .args(["driver", "--listen", "127.0.0.1:0", "--config"])
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
    for output in [bob_dir.join("out"), alice_dir.join("../bob/out2"), alice_dir.join("gone/../../bob/out3"), top.join("out4")] {
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
