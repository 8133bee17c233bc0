//! A real S3-compatible server for tests: `spindle-s3-server` (s3s-fs, built
//! with the workspace) as a separate process on a free port, storing each
//! bucket as a directory under a temporary root, so that tests put inputs
//! there as files and read outputs back the same way.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::Proc;

/// The access key id the server accepts.
pub const ACCESS_KEY: &str = "spindle-test-key";
/// The secret key the server accepts (tests check it is never shown or logged).
pub const SECRET_KEY: &str = "spindle-test-secret-8c1f0e";

/// A running S3-compatible server.
pub struct S3Server {
    _proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The directory holding the buckets.
    pub root: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server on a free port and waits until it accepts connections.
    pub fn start() -> Result<S3Server> {
        let bin = crate::spindle_bin().with_file_name("spindle-s3-server");
        anyhow::ensure!(bin.exists(), "{} is missing: run `cargo build` (scripts/test.sh does)", bin.display());
        let root = tempfile::tempdir()?;
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the S3 server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("listening on ").context(format!("unexpected server output: {line}"))?;
        Ok(S3Server { _proc: Proc(child), endpoint: format!("http://{addr}"), root })
    }

    /// Makes bucket `name`; its directory.
    pub fn bucket(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Where `bucket/key` is stored.
    pub fn file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// The store options reaching this server, as `object_store` keys.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint", self.endpoint.clone()),
            ("aws_access_key_id", ACCESS_KEY.into()),
            ("aws_secret_access_key", SECRET_KEY.into()),
            ("aws_region", "us-east-1".into()),
            ("aws_allow_http", "true".into()),
        ]
    }

    /// The same options as the environment variables S3's tools read.
    pub fn env(&self) -> Vec<(String, String)> {
        self.options().into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect()
    }

    /// The options as a TOML inline table.
    pub fn toml_options(&self) -> String {
        let pairs: Vec<String> = self.options().iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
        format!("{{ {} }}", pairs.join(", "))
    }
}
