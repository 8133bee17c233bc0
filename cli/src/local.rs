//! `spindle run`: a job on a local cluster (`spindle-local`), followed as
//! `spindle submit` follows one on a remote driver.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use spindle_local::{LocalCluster, LocalOptions};

/// Runs `job` on a local cluster made with `options` and follows it.
pub async fn run(job: &Path, options: LocalOptions, args: Vec<String>, quiet: bool) -> Result<ExitCode> {
    let component = crate::client::read_job(job)?;
    let cluster = LocalCluster::start(options)?;
    let name = job.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let events = match cluster.submit(component, name, args).await {
        Ok(rx) => rx,
        Err(e) => anyhow::bail!("cannot run {}: {e}", job.display()),
    };
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(events);
    crate::client::follow(futures::StreamExt::map(stream, Ok), None, quiet).await
}
