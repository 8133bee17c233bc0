//! How the driver reaches one executor: the [`ExecutorHandle`] trait, and its gRPC
//! implementation for executors in other processes.

use futures::future::BoxFuture;
use spindle_proto::auth::{AuthChannel, Credentials};
use spindle_proto::executor_client::ExecutorClient;
use spindle_proto::ids::AppId;
use spindle_proto::{
    ExecutorStatus, KillTaskRequest, ReleaseAppRequest, StatusRequest, TaskResult, TaskSpec, UnpersistRequest,
};
use tonic::transport::Endpoint;

/// How long the driver waits for an executor to answer a control call (release,
/// kill, status): an executor that hangs must not hold anything else up.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The failure kind of an attempt whose executor stopped answering.
pub const EXECUTOR_LOST: &str = "executor-lost";
/// The failure kind of an attempt an executor gave back because it is stopping.
pub const EXECUTOR_STOPPING: &str = "executor-stopping";

/// How the driver reaches one executor.
pub trait ExecutorHandle: Send + Sync + 'static {
    /// Runs a task; resolves when it has finished. A transport failure comes back
    /// as a failed, retryable result of kind [`EXECUTOR_LOST`].
    fn launch(&self, spec: TaskSpec) -> BoxFuture<'_, TaskResult>;
    /// Frees an application's blocks and cancels its running tasks.
    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()>;
    /// Cancels one task attempt (best effort).
    fn kill(&self, req: KillTaskRequest) -> BoxFuture<'_, ()>;
    /// Drops a persisted dataset's blocks or a broadcast value (best effort).
    fn unpersist(&self, req: UnpersistRequest) -> BoxFuture<'_, ()>;
    /// The executor's counters, asked for now (executors that heartbeat send them
    /// with every heartbeat instead).
    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>>;
}

/// An executor in another process, over gRPC.
pub struct RemoteExecutor {
    address: String,
    client: ExecutorClient<AuthChannel>,
}

impl RemoteExecutor {
    /// A handle for the executor listening at `address` (`host:port`), called
    /// with `credentials` (the cluster secret).
    pub fn new(address: &str, credentials: Credentials) -> Result<Self, String> {
        let channel = Endpoint::from_shared(format!("http://{address}")).map_err(|e| e.to_string())?.connect_lazy();
        let client = ExecutorClient::new(credentials.channel(channel))
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
        Ok(RemoteExecutor { address: address.to_string(), client })
    }
}

impl ExecutorHandle for RemoteExecutor {
    fn launch(&self, spec: TaskSpec) -> BoxFuture<'_, TaskResult> {
        Box::pin(async move {
            match self.client.clone().launch_task(spec).await {
                Ok(r) => r.into_inner(),
                Err(s) => TaskResult {
                    ok: false,
                    retryable: true,
                    failure_kind: EXECUTOR_LOST.into(),
                    error: format!("executor at {} did not answer: {}", self.address, s.message()),
                    ..Default::default()
                },
            }
        })
    }

    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut client = self.client.clone();
            match tokio::time::timeout(CONTROL_TIMEOUT, client.release_app(ReleaseAppRequest { app_id: app.0 })).await {
                Ok(Ok(_)) => {}
                Ok(Err(s)) => tracing::warn!(address = %self.address, error = %s.message(), "could not release application blocks"),
                Err(_) => tracing::warn!(address = %self.address, "the executor did not answer a release in time"),
            }
        })
    }

    fn kill(&self, req: KillTaskRequest) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut client = self.client.clone();
            if let Ok(Err(s)) = tokio::time::timeout(CONTROL_TIMEOUT, client.kill_task(req)).await {
                tracing::debug!(address = %self.address, error = %s.message(), "could not kill a task attempt");
            }
        })
    }

    fn unpersist(&self, req: UnpersistRequest) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut client = self.client.clone();
            if let Ok(Err(s)) = tokio::time::timeout(CONTROL_TIMEOUT, client.unpersist(req)).await {
                tracing::warn!(address = %self.address, error = %s.message(), "could not unpersist");
            }
        })
    }

    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>> {
        Box::pin(async move {
            let mut client = self.client.clone();
            tokio::time::timeout(CONTROL_TIMEOUT, client.status(StatusRequest {})).await.ok()?.ok().map(|r| r.into_inner())
        })
    }
}

/// An executor that runs nothing, for tests of the registry and schedulers.
#[cfg(test)]
pub(crate) struct Idle;

#[cfg(test)]
impl ExecutorHandle for Idle {
    fn launch(&self, _spec: TaskSpec) -> BoxFuture<'_, TaskResult> {
        Box::pin(async { TaskResult::default() })
    }
    fn release_app(&self, _app: AppId) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn kill(&self, _req: KillTaskRequest) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn unpersist(&self, _req: UnpersistRequest) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>> {
        Box::pin(async { None })
    }
}
