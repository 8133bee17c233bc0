//! The driver's gRPC service: decodes requests and calls [`Driver`].

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use spindle_proto::driver_server::{Driver as DriverRpc, DriverServer};
use spindle_proto::{
    AppEvent, ArtifactChunk, ClusterStatus, FetchArtifactRequest, RegisterExecutorRequest, RegisterExecutorResponse,
    StatusRequest, SubmitRequest,
};
use spindle_sandbox::ArtifactHash;
use tonic::{Request, Response, Status};

use crate::{Driver, DriverError, RemoteExecutor};

/// The tonic service wrapping a driver.
pub struct DriverService {
    driver: Arc<Driver>,
}

impl DriverService {
    /// A server for `driver`, accepting large messages (components).
    pub fn server(driver: Arc<Driver>) -> DriverServer<Self> {
        DriverServer::new(DriverService { driver })
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
    }
}

fn to_status(e: DriverError) -> Status {
    match e {
        DriverError::Sandbox(_) => Status::invalid_argument(e.to_string()),
        DriverError::UnknownArtifact(_) => Status::not_found(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<AppEvent, Status>> + Send>>;
type Chunks = Pin<Box<dyn Stream<Item = Result<ArtifactChunk, Status>> + Send>>;

#[tonic::async_trait]
impl DriverRpc for DriverService {
    type SubmitStream = Events;

    async fn submit(&self, req: Request<SubmitRequest>) -> Result<Response<Events>, Status> {
        let req = req.into_inner();
        let rx = self.driver.submit(Bytes::from(req.component), req.args, req.name).await.map_err(to_status)?;
        let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
        Ok(Response::new(Box::pin(futures::StreamExt::map(stream, Ok))))
    }

    async fn register_executor(
        &self,
        req: Request<RegisterExecutorRequest>,
    ) -> Result<Response<RegisterExecutorResponse>, Status> {
        let req = req.into_inner();
        if req.slots == 0 {
            return Err(Status::invalid_argument("an executor needs at least one slot"));
        }
        let handle = RemoteExecutor::new(&req.address).map_err(Status::invalid_argument)?;
        let id = self.driver.cluster.register(req.address, req.slots, Arc::new(handle));
        Ok(Response::new(RegisterExecutorResponse { executor_id: id.0 }))
    }

    type FetchArtifactStream = Chunks;

    async fn fetch_artifact(&self, req: Request<FetchArtifactRequest>) -> Result<Response<Chunks>, Status> {
        let hash: ArtifactHash = req.get_ref().hash.parse().map_err(Status::invalid_argument)?;
        let bytes =
            self.driver.artifacts.get(&hash).ok_or_else(|| to_status(DriverError::UnknownArtifact(hash.to_string())))?;
        const CHUNK: usize = 1 << 20;
        let chunks: Vec<_> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|i| Ok(ArtifactChunk { data: bytes.slice(i..(i + CHUNK).min(bytes.len())).to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn status(&self, _req: Request<StatusRequest>) -> Result<Response<ClusterStatus>, Status> {
        Ok(Response::new(self.driver.status().await))
    }
}
