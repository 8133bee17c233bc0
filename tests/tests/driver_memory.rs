//! The driver's memory stays bounded whatever clients send: submissions from
//! unknown tenants are refused from their headers, before their body is read;
//! a tenant's submission larger than its component limit is cut off at the
//! limit; finished applications are kept only up to a count. Peaks are read from
//! the driver's `VmHWM` and printed.

use spindle_tests::attacks::{flood, generated_component};
use spindle_tests::*;

const SECRET: &str = "cluster-secret-for-memory-tests";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };

#[test]
fn submissions_are_bounded_before_their_body_is_read() -> anyhow::Result<()> {
    let config = r#"
        retained_applications = 2
        [[tenants]]
        name = "alice"
        token = "alice-token-1"
        max_component_size = "1MiB"
    "#;
    let cluster = Cluster::start_configured(1, 1, SECRET, config)?;
    let pid = cluster.driver_pid();
    let start = peak_rss(pid)?;

    // Three 300 MiB submissions at once from an unknown tenant: refused from
    // their headers.
    let refused = flood(&cluster.url, "eve", "eve-token-1", 300 << 20, 3)?;
    for s in &refused {
        assert_eq!(s.code(), tonic::Code::Unauthenticated, "{s:?}");
        assert!(s.message().contains("unknown tenant `eve`"), "{s:?}");
    }
    let after_unknown = peak_rss(pid)?;
    // Three 300 MiB submissions at once from alice, whose limit is 1 MiB: cut off
    // at the limit.
    let refused = flood(&cluster.url, ALICE.name, ALICE.token, 300 << 20, 3)?;
    for s in &refused {
        assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s:?}");
        assert!(s.message().contains("tenant `alice`'s largest component, 1 MiB (max_component_size)"), "{s:?}");
    }
    let after_oversized = peak_rss(pid)?;
    let mib = |n: u64| n as f64 / (1u64 << 20) as f64;
    eprintln!(
        "driver peak RSS: {:.1} MiB at start, {:.1} MiB after 3 x 300 MiB from an unknown tenant (+{:.1}), \
         {:.1} MiB after 3 x 300 MiB past alice's 1 MiB limit (+{:.1})",
        mib(start),
        mib(after_unknown),
        mib(after_unknown - start),
        mib(after_oversized),
        mib(after_oversized - after_unknown)
    );
    assert!(after_oversized - start < 64 << 20, "the driver grew by {:.1} MiB", mib(after_oversized - start));

    // Alice's own jobs still run; only the last two finished applications are kept.
    let job = example("attack");
    let mut apps = Vec::new();
    for _ in 0..3 {
        let out = cluster.submit_as(ALICE, &[], &job, &["fail-in-main"])?;
        apps.push(app_id(&out).ok_or_else(|| anyhow::anyhow!("no application id: {}", describe(&out)))?);
    }
    let status = cluster.status()?;
    let kept: Vec<&str> = status["applications"].as_array().unwrap().iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(kept, apps[1..].iter().map(String::as_str).collect::<Vec<_>>(), "{status}");
    Ok(())
}

#[test]
fn refused_components_and_plans_leave_the_driver_small() -> anyhow::Result<()> {
    let config = r#"
        [[tenants]]
        name = "alice"
        token = "alice-token-1"
    "#;
    let cluster = Cluster::start_configured(1, 1, SECRET, config)?;
    let pid = cluster.driver_pid();
    let work = tempfile::tempdir()?;
    let mib = |n: u64| n as f64 / (1u64 << 20) as f64;
    let mut peak = peak_rss(pid)?;
    let mut report = vec![format!("start: peak {:.1} MiB, now {:.1} MiB", mib(peak), mib(rss(pid)?))];
    let mut measure = |what: &str| -> anyhow::Result<u64> {
        let (new_peak, now) = (peak_rss(pid)?, rss(pid)?);
        report.push(format!(
            "{what}: peak {:.1} MiB (+{:.1}), now {:.1} MiB",
            mib(new_peak),
            mib(new_peak - peak),
            mib(now)
        ));
        let grew = new_peak - peak;
        peak = new_peak;
        Ok(grew)
    };

    // A 28 MB generated component without the job world: refused from its
    // exports, before Cranelift sees it.
    let generated = work.path().join("generated.wasm");
    std::fs::write(&generated, generated_component(28 << 20))?;
    let started = std::time::Instant::now();
    let out = cluster.submit_as(ALICE, &[], &generated, &[])?;
    assert!(describe(&out).contains("it exports no spindle:job/app interface"), "{}", describe(&out));
    let refused_in = started.elapsed();
    let generated_growth =
        measure(&format!("a 28 MB generated component refused in {:.2} s", refused_in.as_secs_f64()))?;

    // Five 100 MiB junk components, one after the other: none is kept.
    let junk = work.path().join("junk.wasm");
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.resize(100 << 20, 0xAB);
    std::fs::write(&junk, &bytes)?;
    drop(bytes);
    for _ in 0..5 {
        let out = cluster.submit_as(ALICE, &[], &junk, &[])?;
        assert!(!out.status.success(), "{}", describe(&out));
    }
    measure("five 100 MiB junk components refused")?;
    let after_junk = rss(pid)?;

    // A union bomb of 2^24 pipelines a task: refused at planning.
    let out = cluster.submit_as(ALICE, &[], &example("attack"), &["union-bomb", "24"])?;
    assert!(describe(&out).contains("(max_task_pipelines)"), "{}", describe(&out));
    let bomb_growth = measure("a union bomb of 24 levels refused")?;

    eprintln!("driver memory:\n  {}", report.join("\n  "));
    assert!(generated_growth < 256 << 20, "refusing a generated component cost {:.1} MiB", mib(generated_growth));
    assert!(after_junk < 256 << 20, "the driver holds {:.1} MiB after refusing junk", mib(after_junk));
    assert!(bomb_growth < 64 << 20, "refusing a union bomb cost {:.1} MiB", mib(bomb_growth));
    assert!(refused_in < std::time::Duration::from_secs(10), "refusing took {refused_in:?}");
    Ok(())
}
