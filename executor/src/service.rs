//! The executor's gRPC service: decodes requests and calls [`Executor`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use spindle_proto::executor_server::{Executor as ExecutorRpc, ExecutorServer};
use spindle_proto::ids::AppId;
use spindle_proto::{
    ExecutorStatus, FetchShuffleRequest, KillTaskRequest, KillTaskResponse, ReleaseAppRequest, ReleaseAppResponse,
    ShuffleChunk, StatusRequest, TaskResult, TaskSpec, UnpersistRequest, UnpersistResponse,
};
use spindle_proto::auth::SecretCheck;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::{Executor, ExecutorError};

/// The tonic service wrapping an executor.
pub struct ExecutorService {
    exec: Arc<Executor>,
}

impl ExecutorService {
    /// A server for `exec`, accepting large messages, refusing callers without
    /// the cluster secret (when the executor has one).
    pub fn server(exec: Arc<Executor>) -> InterceptedService<ExecutorServer<Self>, SecretCheck> {
        let check = SecretCheck::new(exec.config.secret.as_deref());
        let server = ExecutorServer::new(ExecutorService { exec })
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
        InterceptedService::new(server, check)
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<ShuffleChunk, Status>> + Send>>;

fn to_status(e: ExecutorError) -> Status {
    match e {
        ExecutorError::MissingBlock { .. } => Status::not_found(e.to_string()),
        ExecutorError::BadSpec(_) => Status::invalid_argument(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

#[tonic::async_trait]
impl ExecutorRpc for ExecutorService {
    async fn launch_task(&self, req: Request<TaskSpec>) -> Result<Response<TaskResult>, Status> {
        Ok(Response::new(self.exec.launch(req.into_inner()).await))
    }

    type FetchShuffleStream = ChunkStream;

    async fn fetch_shuffle(&self, req: Request<FetchShuffleRequest>) -> Result<Response<ChunkStream>, Status> {
        let chunks = crate::shuffle::serve_fetch(&self.exec, req.get_ref()).map_err(to_status)?;
        Ok(Response::new(Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))))
    }

    async fn release_app(&self, req: Request<ReleaseAppRequest>) -> Result<Response<ReleaseAppResponse>, Status> {
        let freed = self.exec.release_app(&AppId(req.into_inner().app_id));
        Ok(Response::new(ReleaseAppResponse { blocks_freed: freed }))
    }

    async fn kill_task(&self, req: Request<KillTaskRequest>) -> Result<Response<KillTaskResponse>, Status> {
        Ok(Response::new(KillTaskResponse { killed: self.exec.kill_task(req.get_ref()) }))
    }

    async fn unpersist(&self, req: Request<UnpersistRequest>) -> Result<Response<UnpersistResponse>, Status> {
        Ok(Response::new(UnpersistResponse { blocks_freed: self.exec.unpersist(req.get_ref()) }))
    }

    async fn status(&self, _req: Request<StatusRequest>) -> Result<Response<ExecutorStatus>, Status> {
        Ok(Response::new(self.exec.status()))
    }
}
