//! Running as a standalone process: pull artifacts from the driver over gRPC,
//! serve the executor service on a bound listener, register with the driver.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use spindle_proto::auth::{AuthChannel, Credentials};
use spindle_proto::driver_client::DriverClient;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::tls::{Clients, Tls};
use spindle_proto::{
    DeregisterExecutorRequest, FetchArtifactRequest, FetchBroadcastRequest, HeartbeatRequest, RegisterExecutorRequest,
};
use spindle_sandbox::ArtifactHash;
use tokio::net::TcpListener;

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

    fn fetch_broadcast(&self, app: AppId, id: u64) -> BoxFuture<'_, Result<Option<bytes::Bytes>, ExecutorError>> {
        Box::pin(async move {
            let mut client = self.client.clone();
            match client.fetch_broadcast(FetchBroadcastRequest { app_id: app.0, broadcast_id: id }).await {
                Ok(r) => Ok(Some(r.into_inner().value.into())),
                Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
                Err(s) => Err(ExecutorError::Driver {
                    url: self.url.clone(),
                    reason: format!("fetching broadcast {id}: {}", s.message()),
                }),
            }
        })
    }
}

/// A client of the driver at `url` with `credentials`. It connects on first use,
/// and again whenever the connection drops (the driver restarted), so the driver
/// need not be up yet.
pub fn driver_client(
    url: &str,
    credentials: Credentials,
    tls: &Tls,
) -> Result<DriverClient<AuthChannel>, ExecutorError> {
    let err = |reason: String| ExecutorError::Driver { url: url.to_string(), reason };
    let channel =
        tls.endpoint(url).map_err(|e| err(e.to_string()))?.connect_timeout(Duration::from_secs(5)).connect_lazy();
    Ok(DriverClient::new(credentials.channel(channel))
        .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES))
}

/// Runs an executor process until `shutdown` resolves, then stops gracefully:
/// serves on `listener`, registers with the driver as reachable at
/// `advertise_host:<listener port>`, heartbeats (registering again whenever the
/// driver no longer knows it). On shutdown it takes no new tasks, deregisters,
/// lets running tasks finish within the grace period, hands the rest back, and
/// returns.
pub async fn serve(
    config: ExecutorConfig,
    listener: TcpListener,
    driver_url: &str,
    advertise_host: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ExecutorError> {
    let driver = driver_client(driver_url, config.credentials()?, &config.tls)?;
    let register_timeout = config.register_timeout;
    let server_tls = config.tls.server(Clients::Members);
    let source = Arc::new(DriverArtifacts { url: driver_url.to_string(), client: driver.clone() });
    let grace = config.grace_period;
    let metrics = match &config.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            ExecutorError::BadConfig(format!(
                "binding the metrics listener {addr}: {e}; choose another --metrics-listen"
            ))
        })?),
        None => None,
    };
    let exec = Executor::new(config, source)?;
    if let Some(listener) = metrics {
        crate::metrics::serve(exec.clone(), listener);
    }
    let port = listener
        .local_addr()
        .map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: e.to_string() })?
        .port();
    let address = format!("{advertise_host}:{port}");

    // No Nagle delay: task launches and results are small messages, several in flight.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = server_tls {
        server = server
            .tls_config(tls)
            .map_err(|e| ExecutorError::BadConfig(format!("the executor's TLS settings: {e}")))?;
    }
    let server =
        server.add_service(ExecutorService::server(exec.clone())).serve_with_incoming_shutdown(incoming, async {
            let _ = server_stopped.await;
        });
    let server = tokio::spawn(server);

    let link = DriverLink { client: driver, url: driver_url.to_string(), address, exec: exec.clone() };
    let interval = link.join(register_timeout).await?;
    let heartbeats = tokio::spawn(link.clone().heartbeat(interval));

    shutdown.await;
    tracing::info!(executor = %exec.id(), grace = ?grace, "stopping: no new tasks; running tasks may finish");
    exec.start_stopping();
    link.deregister("stopped by a signal").await;
    let deadline = tokio::time::Instant::now() + grace;
    while exec.attempts() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if exec.attempts() > 0 {
        let n = exec.hand_back_all(&format!("the executor stopped; its grace period of {grace:?} ended first"));
        tracing::warn!(handed_back = n, "grace period over: unfinished tasks handed back to the driver");
        while exec.attempts() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    heartbeats.abort();
    exec.close_task_streams();
    let _ = stop_server.send(());
    server
        .await
        .map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: format!("server task: {e}") })?
        .map_err(|e| ExecutorError::Driver { url: driver_url.into(), reason: format!("serving: {e}") })
}

/// This executor's link to the driver: registration, heartbeats, deregistration.
#[derive(Clone)]
struct DriverLink {
    client: DriverClient<AuthChannel>,
    url: String,
    address: String,
    exec: Arc<Executor>,
}

impl DriverLink {
    fn error(&self, s: &tonic::Status) -> ExecutorError {
        ExecutorError::Driver { url: self.url.clone(), reason: s.message().to_string() }
    }

    /// Registers, retrying with exponential backoff and jitter (100 ms growing to
    /// 10 s) while the driver cannot be reached, for ever or up to `timeout`;
    /// returns the heartbeat interval the driver asks for. A refusal (a wrong
    /// secret) fails at once.
    async fn join(&self, timeout: Option<Duration>) -> Result<Duration, ExecutorError> {
        use backon::{ExponentialBuilder, Retryable};
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter()
            .without_max_times();
        let attempts = (|| self.register())
            .retry(backoff)
            .when(|s: &tonic::Status| unreachable(s))
            .notify(|s: &tonic::Status, next: Duration| {
                tracing::warn!(driver = %self.url, error = %s.message(), retry_in = ?next, "cannot register with the driver; retrying");
            });
        let joined = match timeout {
            None => attempts.await,
            Some(t) => tokio::time::timeout(t, attempts).await.map_err(|_| ExecutorError::Driver {
                url: self.url.clone(),
                reason: format!(
                    "could not register within {} (--register-timeout); is `spindle driver` running there?",
                    spindle_sandbox::limits::duration(t)
                ),
            })?,
        };
        joined.map_err(|s| self.error(&s))
    }

    /// Registers once; returns the heartbeat interval the driver asks for.
    async fn register(&self) -> Result<Duration, tonic::Status> {
        let reply = self
            .client
            .clone()
            .register_executor(RegisterExecutorRequest {
                address: self.address.clone(),
                slots: self.exec.slots(),
                launch_id: self.exec.config.launch_id.clone(),
                status: Some(self.exec.status()),
            })
            .await?
            .into_inner();
        let Some(id) = ExecutorId::parse(&reply.executor_id) else {
            return Err(tonic::Status::internal(format!(
                "the driver gave this executor the id `{}`, which is not exec-N: is it a Spindle driver of this version?",
                reply.executor_id
            )));
        };
        self.exec.set_identity(id, self.address.clone());
        tracing::info!(executor = %reply.executor_id, address = %self.address, slots = self.exec.slots(), "registered with the driver");
        Ok(Duration::from_millis(reply.heartbeat_interval_ms.max(10)))
    }

    /// Sends a heartbeat every `interval`, for ever. When the driver does not know
    /// this executor (it was declared lost, or the driver restarted), drops every
    /// block (the driver no longer counts on them) and registers again.
    async fn heartbeat(self, mut interval: Duration) {
        let mut failing = false;
        loop {
            tokio::time::sleep(interval).await;
            if self.exec.is_stopping() {
                return; // deregistered: it must not register again
            }
            let req = HeartbeatRequest {
                executor_id: self.exec.id(),
                status: Some(self.exec.status()),
                address: self.address.clone(),
            };
            match self.client.clone().heartbeat(req).await {
                Ok(r) if r.get_ref().known => failing = false,
                // Deregistered while this heartbeat was on its way: stay so.
                Ok(_) if self.exec.is_stopping() => return,
                Ok(_) => {
                    let dropped = self.exec.forget_everything();
                    tracing::warn!(executor = %self.exec.id(), dropped_blocks = dropped, "the driver does not know this executor; registering again");
                    match self.register().await {
                        Ok(i) => interval = i,
                        Err(s) => tracing::warn!(error = %s.message(), "registering again failed; will retry"),
                    }
                }
                Err(s) => {
                    if !failing {
                        tracing::warn!(driver = %self.url, error = %s.message(), "heartbeat failed; will keep trying");
                    }
                    failing = true;
                }
            }
        }
    }

    async fn deregister(&self, reason: &str) {
        let req = DeregisterExecutorRequest { executor_id: self.exec.id(), reason: reason.to_string() };
        let mut client = self.client.clone();
        match tokio::time::timeout(Duration::from_secs(5), client.deregister_executor(req)).await {
            Ok(Ok(_)) => tracing::info!(executor = %self.exec.id(), "deregistered from the driver"),
            Ok(Err(s)) => tracing::warn!(error = %s.message(), "could not deregister from the driver"),
            Err(_) => tracing::warn!("the driver did not answer the deregistration in 5 s"),
        }
    }
}

/// Whether a failed call may succeed later: the driver could not be reached (not
/// up yet, restarting), as opposed to a refusal.
fn unreachable(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
    )
}
