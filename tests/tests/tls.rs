//! TLS on every connection: a driver and two executors with mutual TLS (their
//! certificates signed by a CA generated here) run a tenant's word count
//! exactly, shuffling between the executors over TLS; clients in clear, without
//! the CA or trusting another CA are refused, and so are members without a
//! client certificate.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use spindle_proto::tls::Tls;
use spindle_tests::*;

const SECRET: &str = "cluster-secret-for-tls-tests";
const ALICE: Tenant<'static> = Tenant { name: "alice", token: "alice-token-1" };

/// A CA and one certificate it signed for `localhost` and 127.0.0.1, as PEM files
/// under `dir/name-*`: (CA certificate, certificate, key).
fn certificates(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?.signed_by(&key, &ca)?;
    let paths =
        (dir.join(format!("{name}-ca.pem")), dir.join(format!("{name}-cert.pem")), dir.join(format!("{name}-key.pem")));
    std::fs::write(&paths.0, ca.pem())?;
    std::fs::write(&paths.1, cert.pem())?;
    std::fs::write(&paths.2, key.serialize_pem())?;
    Ok(paths)
}

#[test]
fn a_cluster_with_mutual_tls_runs_exactly_and_refuses_clients_in_clear() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (ca, cert, key) = certificates(dir.path(), "cluster")?;
    let (other_ca, _, _) = certificates(dir.path(), "other")?;
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let env = vec![
        ("SPINDLE_TLS_CERT".to_string(), path(&cert)),
        ("SPINDLE_TLS_KEY".to_string(), path(&key)),
        ("SPINDLE_TLS_CA".to_string(), path(&ca)),
        ("SPINDLE_TLS_MUTUAL".to_string(), "true".to_string()),
    ];
    let work = tempfile::tempdir()?;
    let config = format!("[[tenants]]\nname = \"alice\"\ntoken = \"alice-token-1\"\nroots = [{:?}]\n", work.path());
    let cluster = Cluster::start_with_env(2, 1, SECRET, &config, env, dir)?;
    assert!(cluster.url.starts_with("https://"), "{}", cluster.url);

    // A word count over four files: map tasks on both executors, so reducers
    // fetch from their peer over TLS.
    let input = work.path().join("in");
    let files = write_text_inputs(&input, 4, 3000, 5);
    let out_dir = work.path().join("out");
    let out =
        cluster.submit_as(ALICE, &[], &example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));

    // Clients: in clear, without the CA, trusting another CA: refused.
    let clear = cluster.url.replacen("https://", "http://", 1);
    let status = |url: &str, ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(spindle_bin());
        cmd.args(["status", "--driver", url])
            .env("SPINDLE_TENANT", ALICE.name)
            .env("SPINDLE_TOKEN", ALICE.token)
            .env_remove("SPINDLE_TLS_CA")
            .env_remove("SPINDLE_SECRET");
        if let Some(ca) = ca {
            cmd.arg("--tls-ca").arg(ca);
        }
        cmd.output()
    };
    let out = status(&clear, None)?;
    assert!(!out.status.success() && describe(&out).contains("--tls-ca"), "a client in clear: {}", describe(&out));
    let out = status(&cluster.url, None)?;
    assert!(!out.status.success() && describe(&out).contains("--tls-ca"), "{}", describe(&out));
    let out = status(&cluster.url, Some(&other_ca))?;
    assert!(!out.status.success() && describe(&out).contains("UnknownIssuer"), "another CA: {}", describe(&out));
    let out = status(&cluster.url, Some(&ca))?;
    assert!(out.status.success(), "{}", describe(&out));

    // Members without a client certificate: the driver refuses their calls even
    // with the cluster secret; executors refuse the connection.
    let executor = cluster.status()?["executors"][0]["address"].as_str().unwrap().to_string();
    let no_cert = Tls::load(None, None, Some(&ca), false)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        use spindle_proto::auth::Credentials;
        use spindle_proto::driver_client::DriverClient;
        use spindle_proto::executor_client::ExecutorClient;
        let member = Credentials::cluster(Some(SECRET))?;
        let channel = no_cert.endpoint(&cluster.url)?.connect().await?;
        let mut driver = DriverClient::new(member.clone().channel(channel));
        let err = driver
            .register_executor(spindle_proto::RegisterExecutorRequest {
                address: "127.0.0.1:1".into(),
                slots: 1,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        assert!(err.message().contains("client certificate"), "{err}");
        let endpoint = no_cert.endpoint(&format!("https://{executor}"))?;
        let refused = match endpoint.connect().await {
            Err(_) => true,
            Ok(channel) => {
                ExecutorClient::new(member.channel(channel)).status(spindle_proto::StatusRequest {}).await.is_err()
            }
        };
        assert!(refused, "an executor answered a caller without a client certificate");
        anyhow::Ok(())
    })?;
    assert_eq!(cluster.alive_executors()?, 2);
    Ok(())
}
