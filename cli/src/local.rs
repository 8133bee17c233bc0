//! `spindle run`: a job on a local cluster (`spindle-local`), followed as
//! `spindle submit` follows one on a remote driver.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use spindle_local::{LocalCluster, LocalOptions};

/// Runs `job` on a local cluster made with `options` and follows it, serving
/// the web UI and JSON API on `ui` while it runs.
pub async fn run(
    job: &Path,
    options: LocalOptions,
    args: Vec<String>,
    quiet: bool,
    ui: Option<tokio::net::TcpListener>,
) -> Result<ExitCode> {
    let component = crate::client::read_job(job)?;
    let cluster = LocalCluster::start(options)?;
    if let Some(ui) = ui {
        if !quiet {
            eprintln!("spindle UI on http://{}", ui.local_addr()?);
        }
        let driver = cluster.driver.clone();
        // It serves until the job ends and this process with it.
        tokio::spawn(async move {
            if let Err(e) = spindle_driver::http::serve(driver, ui, std::future::pending()).await {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
    }
    let name = job.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let events = match cluster.submit(component, name, args).await {
        Ok(rx) => rx,
        Err(e) => anyhow::bail!("cannot run {}: {e}", job.display()),
    };
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(events);
    crate::client::follow(futures::StreamExt::map(stream, Ok), None, quiet).await
}
