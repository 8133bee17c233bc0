//! The driver's memory stays bounded whatever clients send: submissions from
//! unknown tenants are refused from their headers, before their body is read;
//! a tenant's submission larger than its component limit is cut off at the
//! limit; finished applications are kept only up to a count. Peaks are read from
//! the driver's `VmHWM` and printed.

use spindle_proto::auth::Credentials;
use spindle_proto::driver_client::DriverClient;
use spindle_proto::SubmitRequest;
use spindle_tests::*;

const SECRET: &str = "cluster-secret-for-memory-tests";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };

/// Sends `copies` submissions of `size` bytes at once as `tenant`/`token`; the
/// status of each.
fn flood(url: &str, tenant: &str, token: &str, size: usize, copies: usize) -> anyhow::Result<Vec<tonic::Status>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..copies {
            let (url, tenant, token) = (url.to_string(), tenant.to_string(), token.to_string());
            calls.spawn(async move {
                let credentials = Credentials::client(None, Some(&tenant), Some(&token)).map_err(anyhow::Error::msg)?;
                let channel = tonic::transport::Endpoint::from_shared(url)?.connect().await?;
                let mut client = DriverClient::new(credentials.channel(channel))
                    .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
                let request = SubmitRequest { component: vec![0u8; size], name: "flood".into(), ..Default::default() };
                match client.submit(request).await {
                    Ok(_) => anyhow::bail!("a {size}-byte submission as {tenant} was accepted"),
                    Err(status) => Ok(status),
                }
            });
        }
        let mut statuses = Vec::new();
        while let Some(call) = calls.join_next().await {
            statuses.push(call??);
        }
        Ok(statuses)
    })
}

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
