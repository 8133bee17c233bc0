//! Running as a standalone process: pull artifacts from the driver over gRPC,
//! serve the executor service on a bound listener, register with the driver.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use spindle_proto::driver_client::DriverClient;
use spindle_proto::ids::ExecutorId;
use spindle_proto::{FetchArtifactRequest, RegisterExecutorRequest};
use spindle_sandbox::ArtifactHash;
use tokio::net::TcpListener;
use spindle_proto::auth::{AuthChannel, Credentials};
use tonic::transport::Endpoint;

use crate::service::ExecutorService;
use crate::{ArtifactSource, Executor, ExecutorConfig, ExecutorError};

/// Pulls artifacts from the driver's `FetchArtifact` stream.
pub struct DriverArtifacts {
    url: String,
    client: DriverClient<AuthChannel>,
}

impl ArtifactSource for DriverArtifacts {
    fn fetch(&self, hash: ArtifactHash) -> BoxFuture<'_, Result<Vec<u8>, ExecutorError>> {
        Box::pin(async move {
            let err = |reason: String| ExecutorError::Artifact { hash: hash.to_string(), reason };
            let mut client = self.client.clone();
            let mut stream = client
                .fetch_artifact(FetchArtifactRequest { hash: hash.to_string() })
                .await
                .map_err(|s| err(format!("driver {}: {}", self.url, s.message())))?
                .into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.message().await.map_err(|s| err(s.message().to_string()))? {
                bytes.extend_from_slice(&chunk.data);
            }
            Ok(bytes)
        })
    }
}

/// Connects to the driver at `url` with `credentials`, failing with a clear error
/// if it cannot.
pub async fn connect_driver(url: &str, credentials: Credentials) -> Result<DriverClient<AuthChannel>, ExecutorError> {
    let err = |reason: String| ExecutorError::Driver { url: url.to_string(), reason };
    let channel = Endpoint::from_shared(url.to_string())
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| err(format!("{e}; is `spindle driver` running there?")))?;
    Ok(DriverClient::new(credentials.channel(channel))
        .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES))
}

/// Runs an executor process until `shutdown` resolves: serves on `listener`, tells
/// the driver it is reachable at `advertise_host:<listener port>`.
pub async fn serve(
    config: ExecutorConfig,
    listener: TcpListener,
    driver_url: &str,
    advertise_host: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ExecutorError> {
    let driver = connect_driver(driver_url, config.credentials()?).await?;
    let source = Arc::new(DriverArtifacts { url: driver_url.to_string(), client: driver.clone() });
    let exec = Executor::new(config, source)?;
    let port = listener.local_addr().map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: e.to_string() })?.port();
    let address = format!("{advertise_host}:{port}");

    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_service(ExecutorService::server(exec.clone()))
        .serve_with_incoming_shutdown(incoming, shutdown);
    let server = tokio::spawn(server);

    let reply = driver
        .clone()
        .register_executor(RegisterExecutorRequest { address: address.clone(), slots: exec.slots() })
        .await
        .map_err(|s| ExecutorError::Driver { url: driver_url.into(), reason: s.message().to_string() })?
        .into_inner();
    exec.set_identity(ExecutorId(reply.executor_id.clone()), address.clone());
    tracing::info!(executor = %reply.executor_id, %address, slots = exec.slots(), "registered with the driver");

    server
        .await
        .map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: format!("server task: {e}") })?
        .map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: format!("serving: {e}") })
}
