//! The executor's gRPC service: decodes requests and calls [`Executor`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use spindle_proto::auth::SecretCheck;
use spindle_proto::executor_server::{Executor as ExecutorRpc, ExecutorServer};
use spindle_proto::ids::AppId;
use spindle_proto::{
    ExecutorStatus, FetchShuffleRequest, KillTaskRequest, KillTaskResponse, ReleaseAppRequest, ReleaseAppResponse,
    ShuffleChunk, StatusRequest, TaskControl, TaskDone, TaskResult, UnpersistRequest, UnpersistResponse, task_control,
};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

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
type DoneStream = Pin<Box<dyn Stream<Item = Result<TaskDone, Status>> + Send>>;

fn to_status(e: ExecutorError) -> Status {
    match e {
        ExecutorError::MissingBlock { .. } => Status::not_found(e.to_string()),
        ExecutorError::BadSpec(_) => Status::invalid_argument(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

#[tonic::async_trait]
impl ExecutorRpc for ExecutorService {
    type RunTasksStream = DoneStream;

    async fn run_tasks(&self, req: Request<Streaming<TaskControl>>) -> Result<Response<DoneStream>, Status> {
        let (done, results) = mpsc::unbounded_channel();
        tokio::spawn(serve_task_stream(self.exec.clone(), req.into_inner(), done));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(results))))
    }

    type FetchShuffleStream = ChunkStream;

    async fn fetch_shuffle(&self, req: Request<FetchShuffleRequest>) -> Result<Response<ChunkStream>, Status> {
        let chunks = crate::shuffle::serve_fetch(&self.exec, req.into_inner()).map_err(to_status)?;
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(chunks))))
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

/// Runs the launches of one driver task stream, each attempt in its own tokio task,
/// until the driver closes the stream (or it breaks) or the executor closes its
/// task streams at the end of a graceful stop. Attempts still running then are
/// dropped, which cancels them.
async fn serve_task_stream(
    exec: Arc<Executor>,
    mut incoming: Streaming<TaskControl>,
    done: mpsc::UnboundedSender<Result<TaskDone, Status>>,
) {
    let starts = Arc::new(Starts { done: done.clone(), pending: Mutex::new(Pending::default()) });
    let mut attempts: JoinSet<u64> = JoinSet::new();
    let mut running: HashMap<u64, AbortHandle> = HashMap::new();
    let mut closing = exec.task_streams_closing();
    loop {
        tokio::select! {
            msg = incoming.message() => match msg {
                Ok(Some(TaskControl { seq, what: Some(task_control::What::Launch(spec)) })) => {
                    let (exec, starts) = (exec.clone(), starts.clone());
                    let handle = attempts.spawn(async move {
                        let result = exec.launch(spec, || starts.started(seq)).await;
                        starts.finished(seq, result);
                        seq
                    });
                    running.insert(seq, handle);
                }
                Ok(Some(TaskControl { seq, what: Some(task_control::What::Cancel(_)) })) => {
                    if let Some(handle) = running.remove(&seq) {
                        handle.abort();
                    }
                }
                Ok(Some(TaskControl { what: None, .. })) => {
                    let _ = done.send(Err(Status::invalid_argument("a task control message without a launch or cancel")));
                    break;
                }
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(error = %status.message(), "the driver's task stream broke");
                    break;
                }
            },
            Some(finished) = attempts.join_next(), if !attempts.is_empty() => {
                if let Ok(seq) = finished {
                    running.remove(&seq);
                }
            }
            _ = closing.wait_for(|closed| *closed) => break,
        }
    }
    if !running.is_empty() {
        tracing::info!(cancelled = running.len(), "task stream closed: cancelling its running attempts");
    }
}

/// How long the start of an attempt may go untold while no result is sent that
/// could carry it.
const START_NOTICE_DELAY: Duration = Duration::from_millis(5);

/// The starts of a task stream's attempts, told to the driver with the next
/// result sent, or on their own within [`START_NOTICE_DELAY`]: when short tasks
/// follow each other in a slot, each start rides on the result before it.
struct Starts {
    done: mpsc::UnboundedSender<Result<TaskDone, Status>>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    seqs: Vec<u64>,
    /// A send of `seqs` on their own is on its way.
    flush_due: bool,
}

impl Starts {
    fn started(self: &Arc<Self>, seq: u64) {
        let mut p = self.pending.lock().expect("starts lock");
        p.seqs.push(seq);
        if std::mem::replace(&mut p.flush_due, true) {
            return;
        }
        let starts = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(START_NOTICE_DELAY).await;
            // Under the lock, so that every start is in one message or another
            // and none is told after its own result.
            let mut p = starts.pending.lock().expect("starts lock");
            p.flush_due = false;
            if !p.seqs.is_empty() {
                let started = std::mem::take(&mut p.seqs);
                let _ = starts.done.send(Ok(TaskDone { seq: 0, result: None, started }));
            }
        });
    }

    fn finished(&self, seq: u64, result: TaskResult) {
        let mut p = self.pending.lock().expect("starts lock");
        let started = std::mem::take(&mut p.seqs);
        let _ = self.done.send(Ok(TaskDone { seq, result: Some(result), started }));
    }
}
