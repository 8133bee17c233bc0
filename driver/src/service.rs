//! The driver's gRPC service: decodes requests and calls [`Driver`].

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use spindle_proto::auth::{SecretCheck, TENANT_HEADER, TOKEN_HEADER, metadata_str};
use spindle_proto::driver_server::{Driver as DriverRpc, DriverServer};
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{
    AppDetail, AppDetailRequest, AppEvent, ArtifactChunk, ClusterStatus, DeregisterExecutorRequest,
    DeregisterExecutorResponse, FetchArtifactRequest, FetchBroadcastRequest, FetchBroadcastResponse, HeartbeatRequest,
    HeartbeatResponse, KillAppRequest, KillAppResponse, RegisterExecutorRequest, RegisterExecutorResponse,
    StatusRequest, SubmitRequest,
};
use spindle_sandbox::{ArtifactHash, SandboxError};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::gate::{Authenticated, Gate};
use crate::tenants::Tenant;
use crate::{Driver, DriverError, RemoteExecutor};

/// The tonic service wrapping a driver.
pub struct DriverService {
    driver: Arc<Driver>,
    members: SecretCheck,
}

impl DriverService {
    /// A server for `driver` behind its [`Gate`]: large messages (components)
    /// only from authenticated tenants, up to their limit.
    pub fn server(driver: Arc<Driver>) -> Gate {
        let members = SecretCheck::new(driver.config.secret.as_deref());
        let server = DriverServer::new(DriverService { driver: driver.clone(), members })
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
        Gate::new(server, driver)
    }

    /// The tenant a client request comes from, if its credentials are right.
    fn tenant(&self, md: &MetadataMap) -> Result<Arc<Tenant>, Status> {
        let tenant = metadata_str(md, TENANT_HEADER);
        let token = metadata_str(md, TOKEN_HEADER);
        self.driver.tenants.authenticate(tenant, token).map_err(|e| to_status(e.into()))
    }

    /// Refuses a member RPC without the cluster secret, or, with mutual TLS,
    /// without a client certificate the cluster's CA signed (checked by TLS).
    fn member<T>(&self, req: &Request<T>) -> Result<(), Status> {
        self.members.check(req.metadata())?;
        if self.driver.config.tls.mutual() && req.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated(
                "this RPC is for cluster members and, with mutual TLS, needs a client certificate signed by the \
                 cluster's CA (--tls-cert, --tls-key, --tls-mutual)",
            ));
        }
        Ok(())
    }

    /// Who may look at applications: a cluster member (`None`) or a tenant.
    fn viewer(&self, md: &MetadataMap) -> Result<Option<Arc<Tenant>>, Status> {
        if self.members.is_member(md) {
            return Ok(None);
        }
        self.tenant(md).map(Some)
    }
}

fn to_status(e: DriverError) -> Status {
    match e {
        DriverError::Sandbox(_) | DriverError::Refused(_) => Status::invalid_argument(e.to_string()),
        DriverError::UnknownArtifact(_)
        | DriverError::UnknownApp { .. }
        | DriverError::UnknownBroadcast { .. }
        | DriverError::NotFound(_) => Status::not_found(e.to_string()),
        DriverError::Quota(_) => Status::resource_exhausted(e.to_string()),
        DriverError::Auth(_) => Status::unauthenticated(e.to_string()),
        DriverError::Forbidden(_) => Status::permission_denied(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<AppEvent, Status>> + Send>>;
type Chunks = Pin<Box<dyn Stream<Item = Result<ArtifactChunk, Status>> + Send>>;

#[tonic::async_trait]
impl DriverRpc for DriverService {
    type SubmitStream = Events;

    async fn submit(&self, req: Request<SubmitRequest>) -> Result<Response<Events>, Status> {
        // Authenticated at the gate already (the check again without one).
        let tenant = match req.extensions().get::<Authenticated>() {
            Some(Authenticated(tenant)) => tenant.clone(),
            None => self.tenant(req.metadata())?,
        };
        let req = req.into_inner();
        let rx = self
            .driver
            .submit(tenant, Bytes::from(req.component), req.args, req.name, req.limits)
            .await
            .map_err(to_status)?;
        let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
        Ok(Response::new(Box::pin(futures::StreamExt::map(stream, Ok))))
    }

    async fn register_executor(
        &self,
        req: Request<RegisterExecutorRequest>,
    ) -> Result<Response<RegisterExecutorResponse>, Status> {
        self.member(&req)?;
        let req = req.into_inner();
        if req.slots == 0 {
            return Err(Status::invalid_argument("an executor needs at least one slot"));
        }
        let handle = RemoteExecutor::new(&req.address, self.driver.credentials.clone(), &self.driver.config.tls)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let id = self.driver.cluster.register_launched(req.address, req.slots, Arc::new(handle), true, req.launch_id);
        // What it reports at once, until its first heartbeat (its task memory cap).
        self.driver.cluster.heartbeat(&id, "", req.status);
        let interval = self.driver.cluster.settings().heartbeat_interval;
        Ok(Response::new(RegisterExecutorResponse {
            executor_id: id.to_string(),
            heartbeat_interval_ms: interval.as_millis() as u64,
        }))
    }

    async fn heartbeat(&self, req: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        self.member(&req)?;
        let req = req.into_inner();
        // An id this driver never gave (a restarted driver's executor) is unknown:
        // the executor registers again.
        let known =
            ExecutorId::parse(&req.executor_id).is_some_and(|id| self.driver.heartbeat(&id, &req.address, req.status));
        Ok(Response::new(HeartbeatResponse { known }))
    }

    async fn deregister_executor(
        &self,
        req: Request<DeregisterExecutorRequest>,
    ) -> Result<Response<DeregisterExecutorResponse>, Status> {
        self.member(&req)?;
        let req = req.into_inner();
        let reason = if req.reason.is_empty() { "deregistered".to_string() } else { req.reason };
        if let Some(id) = ExecutorId::parse(&req.executor_id) {
            self.driver.cluster.deregister(&id, &reason);
        }
        Ok(Response::new(DeregisterExecutorResponse {}))
    }

    type FetchArtifactStream = Chunks;

    async fn fetch_artifact(&self, req: Request<FetchArtifactRequest>) -> Result<Response<Chunks>, Status> {
        self.member(&req)?;
        let hash: ArtifactHash =
            req.get_ref().hash.parse().map_err(|e: SandboxError| Status::invalid_argument(e.to_string()))?;
        let bytes = self
            .driver
            .artifacts
            .get(&hash)
            .ok_or_else(|| to_status(DriverError::UnknownArtifact(hash.to_string())))?;
        const CHUNK: usize = 1 << 20;
        let chunks: Vec<_> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|i| Ok(ArtifactChunk { data: bytes.slice(i..(i + CHUNK).min(bytes.len())).to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn fetch_broadcast(
        &self,
        req: Request<FetchBroadcastRequest>,
    ) -> Result<Response<FetchBroadcastResponse>, Status> {
        self.member(&req)?;
        let req = req.into_inner();
        let value = self.driver.broadcast(&AppId(req.app_id), req.broadcast_id).map_err(to_status)?;
        Ok(Response::new(FetchBroadcastResponse { value: value.to_vec() }))
    }

    async fn status(&self, req: Request<StatusRequest>) -> Result<Response<ClusterStatus>, Status> {
        let viewer = self.viewer(req.metadata())?;
        Ok(Response::new(self.driver.status(viewer.as_deref()).await))
    }

    async fn application(&self, req: Request<AppDetailRequest>) -> Result<Response<AppDetail>, Status> {
        let viewer = self.viewer(req.metadata())?;
        let id = AppId(req.into_inner().app_id);
        Ok(Response::new(self.driver.app_detail(viewer.as_deref(), &id).map_err(to_status)?))
    }

    async fn kill(&self, req: Request<KillAppRequest>) -> Result<Response<KillAppResponse>, Status> {
        let viewer = self.viewer(req.metadata())?;
        let id = AppId(req.into_inner().app_id);
        let (killed, state) = self.driver.kill(viewer.as_deref(), &id).map_err(to_status)?;
        Ok(Response::new(KillAppResponse { killed, state: state.into() }))
    }
}
