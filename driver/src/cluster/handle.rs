//! How the driver reaches one executor: the [`ExecutorHandle`] trait, and its gRPC
//! implementation for executors in other processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use spindle_proto::auth::{AuthChannel, Credentials};
use spindle_proto::executor_client::ExecutorClient;
use spindle_proto::ids::AppId;
use spindle_proto::tls::Tls;
use spindle_proto::{
    ExecutorStatus, FailureKind, KillTaskRequest, ReleaseAppRequest, StatusRequest, TaskControl, TaskDone, TaskResult,
    TaskSpec, UnpersistRequest, task_control,
};
use tokio::sync::{mpsc, oneshot};

/// How long the driver waits for an executor to answer a control call (release,
/// kill, status): an executor that hangs must not hold anything else up.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How the driver reaches one executor.
pub trait ExecutorHandle: Send + Sync + 'static {
    /// Runs a task; resolves when it has finished. `started` is told when the task
    /// takes a slot (one sent ahead waits in the executor's queue until then), and
    /// dropped untold if it never does. A transport failure comes back as a
    /// failed, retryable result of kind [`EXECUTOR_LOST`].
    fn launch(&self, spec: TaskSpec, started: oneshot::Sender<()>) -> BoxFuture<'_, TaskResult>;
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

/// An executor in another process, over gRPC. Tasks go over one long-lived
/// stream (opened at the first launch, again after it breaks): a launch is one
/// message on it and a result one message back, so many tasks in flight cost no
/// call set-up each.
pub struct RemoteExecutor {
    address: String,
    client: ExecutorClient<AuthChannel>,
    next_seq: AtomicU64,
    stream: Mutex<Option<Arc<TaskStream>>>,
}

/// One open task stream: where launches go, and who waits for which result.
struct TaskStream {
    launches: mpsc::UnboundedSender<TaskControl>,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// Set when the stream has ended: nothing more can be registered.
    ended: Option<String>,
    by_seq: HashMap<u64, Launch>,
}

/// Who waits for one launch: for its start, and for its result.
struct Launch {
    started: Option<oneshot::Sender<()>>,
    result: oneshot::Sender<TaskResult>,
}

impl TaskStream {
    /// Opens a stream to `client`'s executor; a task reads its results.
    fn open(client: &ExecutorClient<AuthChannel>, address: &str) -> Arc<TaskStream> {
        let (launches, outgoing) = mpsc::unbounded_channel();
        let stream = Arc::new(TaskStream { launches, waiting: Mutex::new(Waiting::default()) });
        let (mut client, reader, address) = (client.clone(), stream.clone(), address.to_string());
        tokio::spawn(async move {
            let outgoing = tokio_stream::wrappers::UnboundedReceiverStream::new(outgoing);
            let reason = match client.run_tasks(outgoing).await {
                Err(s) => format!("executor at {address} did not answer: {}", s.message()),
                Ok(response) => {
                    let mut results = response.into_inner();
                    loop {
                        match results.message().await {
                            Ok(Some(TaskDone { seq, result, started })) => {
                                reader.started(&started);
                                if let Some(result) = result {
                                    reader.deliver(seq, result);
                                }
                            }
                            Ok(None) => break format!("executor at {address} closed its task stream"),
                            Err(s) => break format!("executor at {address} did not answer: {}", s.message()),
                        }
                    }
                }
            };
            reader.end(reason);
        });
        stream
    }

    /// Registers the waiters of launch `seq`; gives them back if the stream has ended.
    fn wait_for(&self, seq: u64, launch: Launch) -> Result<(), Launch> {
        let mut w = self.waiting.lock().expect("task stream lock");
        if w.ended.is_some() || self.launches.is_closed() {
            return Err(launch);
        }
        w.by_seq.insert(seq, launch);
        Ok(())
    }

    /// Tells the launches `seqs` (those still waiting) that they have started.
    fn started(&self, seqs: &[u64]) {
        if seqs.is_empty() {
            return;
        }
        let mut w = self.waiting.lock().expect("task stream lock");
        for seq in seqs {
            if let Some(tx) = w.by_seq.get_mut(seq).and_then(|l| l.started.take()) {
                let _ = tx.send(());
            }
        }
    }

    fn deliver(&self, seq: u64, result: TaskResult) {
        let waiter = self.waiting.lock().expect("task stream lock").by_seq.remove(&seq);
        if let Some(l) = waiter {
            let _ = l.result.send(result);
        }
    }

    /// The stream is over: every attempt still waiting fails as lost, with `reason`.
    fn end(&self, reason: String) {
        let waiters = {
            let mut w = self.waiting.lock().expect("task stream lock");
            w.ended = Some(reason.clone());
            std::mem::take(&mut w.by_seq)
        };
        for (_, l) in waiters {
            let _ = l.result.send(lost(reason.clone()));
        }
    }

    fn is_open(&self) -> bool {
        self.waiting.lock().expect("task stream lock").ended.is_none()
    }

    /// The driver stopped waiting for `seq`: the executor cancels it. Nothing
    /// happens once its result came (or the stream ended): `seq` is no longer waiting.
    fn cancel(&self, seq: u64) {
        if self.waiting.lock().expect("task stream lock").by_seq.remove(&seq).is_some() {
            let _ = self.launches.send(TaskControl { seq, what: Some(task_control::What::Cancel(true)) });
        }
    }
}

/// A failed, retryable result: the executor could not be reached.
fn lost(error: String) -> TaskResult {
    TaskResult {
        ok: false,
        retryable: true,
        failure_kind: FailureKind::ExecutorLost.into(),
        error,
        ..Default::default()
    }
}

/// Cancels a launch whose result nobody will wait for (the attempt's future
/// was dropped: its stage ended or a speculative copy won).
struct CancelOnDrop<'a> {
    stream: &'a TaskStream,
    seq: u64,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        self.stream.cancel(self.seq);
    }
}

impl RemoteExecutor {
    /// A handle for the executor listening at `address` (`host:port`), called
    /// with `credentials` (the cluster secret).
    pub fn new(address: &str, credentials: Credentials, tls: &Tls) -> Result<Self, spindle_proto::SettingsError> {
        let channel = tls.endpoint(&tls.url(address))?.connect_lazy();
        let client = ExecutorClient::new(credentials.channel(channel))
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
        Ok(RemoteExecutor {
            address: address.to_string(),
            client,
            next_seq: AtomicU64::new(0),
            stream: Mutex::new(None),
        })
    }

    /// The open task stream, or a new one if there is none or it ended.
    fn task_stream(&self) -> Arc<TaskStream> {
        let mut current = self.stream.lock().expect("stream lock");
        match &*current {
            Some(s) if s.is_open() => s.clone(),
            _ => {
                let s = TaskStream::open(&self.client, &self.address);
                *current = Some(s.clone());
                s
            }
        }
    }

    /// Registers the waiters of launch `seq` on an open stream (a fresh one if the
    /// current one has just ended).
    fn register(&self, seq: u64, mut launch: Launch) -> Result<Arc<TaskStream>, String> {
        for _ in 0..2 {
            let stream = self.task_stream();
            match stream.wait_for(seq, launch) {
                Ok(()) => return Ok(stream),
                Err(back) => launch = back,
            }
        }
        Err(format!("executor at {}: no task stream could be opened", self.address))
    }

    /// Sends the launch of a registered `seq` and waits for its result.
    async fn finish_launch(
        &self,
        stream: &TaskStream,
        seq: u64,
        spec: TaskSpec,
        result: oneshot::Receiver<TaskResult>,
    ) -> TaskResult {
        let _cancel_if_dropped = CancelOnDrop { stream, seq };
        let closed = || lost(format!("executor at {}: its task stream closed", self.address));
        if stream.launches.send(TaskControl { seq, what: Some(task_control::What::Launch(spec)) }).is_err() {
            return closed();
        }
        result.await.unwrap_or_else(|_| closed())
    }
}

impl ExecutorHandle for RemoteExecutor {
    fn launch(&self, spec: TaskSpec, started: oneshot::Sender<()>) -> BoxFuture<'_, TaskResult> {
        Box::pin(async move {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            match self.register(seq, Launch { started: Some(started), result: tx }) {
                Ok(stream) => self.finish_launch(&stream, seq, spec, rx).await,
                Err(reason) => lost(reason),
            }
        })
    }

    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut client = self.client.clone();
            match tokio::time::timeout(CONTROL_TIMEOUT, client.release_app(ReleaseAppRequest { app_id: app.0 })).await {
                Ok(Ok(_)) => {}
                Ok(Err(s)) => {
                    tracing::warn!(address = %self.address, error = %s.message(), "could not release application blocks")
                }
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
            tokio::time::timeout(CONTROL_TIMEOUT, client.status(StatusRequest {}))
                .await
                .ok()?
                .ok()
                .map(|r| r.into_inner())
        })
    }
}

/// An executor that runs nothing, for tests of the registry and schedulers.
#[cfg(test)]
pub(crate) struct Idle;

#[cfg(test)]
impl ExecutorHandle for Idle {
    fn launch(&self, _spec: TaskSpec, _started: oneshot::Sender<()>) -> BoxFuture<'_, TaskResult> {
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

#[cfg(test)]
mod stream_tests {
    //! [`RemoteExecutor`]'s task stream against a scripted executor server.

    use std::pin::Pin;
    use std::time::Duration;

    use futures::Stream;
    use spindle_proto::executor_server::{Executor as ExecutorRpc, ExecutorServer};
    use spindle_proto::{
        ExecutorStatus, FetchShuffleRequest, KillTaskResponse, ReleaseAppResponse, ShuffleChunk, UnpersistResponse,
    };
    use tonic::{Request, Response, Status, Streaming};

    use super::*;

    /// The partition that makes the scripted executor break its stream.
    const BREAK: u32 = 99;

    /// Tells each launch's start at once, on its own; answers launches two at a
    /// time, the second one first (so results come back out of order), with
    /// `count` = the task's partition; reports what it receives.
    struct Scripted {
        events: mpsc::UnboundedSender<Event>,
    }

    #[derive(Debug, PartialEq)]
    enum Event {
        Launched(u32),
        Cancelled(u64),
    }

    type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

    #[tonic::async_trait]
    impl ExecutorRpc for Scripted {
        type RunTasksStream = Out<TaskDone>;
        type FetchShuffleStream = Out<ShuffleChunk>;

        async fn run_tasks(&self, req: Request<Streaming<TaskControl>>) -> Result<Response<Out<TaskDone>>, Status> {
            let mut incoming = req.into_inner();
            let (tx, rx) = mpsc::unbounded_channel();
            let events = self.events.clone();
            tokio::spawn(async move {
                let mut held: Vec<(u64, u32)> = Vec::new();
                while let Ok(Some(c)) = incoming.message().await {
                    match c.what {
                        Some(task_control::What::Launch(spec)) if spec.partition == BREAK => {
                            let _ = tx.send(Err(Status::unavailable("scripted break")));
                            return;
                        }
                        Some(task_control::What::Launch(spec)) => {
                            let _ = events.send(Event::Launched(spec.partition));
                            let _ = tx.send(Ok(TaskDone { started: vec![c.seq], ..Default::default() }));
                            held.push((c.seq, spec.partition));
                        }
                        Some(task_control::What::Cancel(_)) => {
                            held.retain(|(seq, _)| *seq != c.seq);
                            let _ = events.send(Event::Cancelled(c.seq));
                        }
                        None => {}
                    }
                    if held.len() == 2 {
                        for (seq, partition) in held.drain(..).rev() {
                            let result = TaskResult { ok: true, count: u64::from(partition), ..Default::default() };
                            let _ = tx.send(Ok(TaskDone { seq, result: Some(result), started: Vec::new() }));
                        }
                    }
                }
            });
            Ok(Response::new(Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))))
        }
        async fn fetch_shuffle(&self, _: Request<FetchShuffleRequest>) -> Result<Response<Out<ShuffleChunk>>, Status> {
            Err(Status::unimplemented("scripted"))
        }
        async fn release_app(&self, _: Request<ReleaseAppRequest>) -> Result<Response<ReleaseAppResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }
        async fn kill_task(&self, _: Request<KillTaskRequest>) -> Result<Response<KillTaskResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }
        async fn unpersist(&self, _: Request<UnpersistRequest>) -> Result<Response<UnpersistResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }
        async fn status(&self, _: Request<StatusRequest>) -> Result<Response<ExecutorStatus>, Status> {
            Err(Status::unimplemented("scripted"))
        }
    }

    async fn scripted() -> (Arc<RemoteExecutor>, mpsc::UnboundedReceiver<Event>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, received) = mpsc::unbounded_channel();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tonic::transport::Server::builder().add_service(ExecutorServer::new(Scripted { events }));
        tokio::spawn(server.serve_with_incoming(incoming));
        (
            Arc::new(RemoteExecutor::new(&address, Credentials::cluster(None).unwrap(), &Tls::default()).unwrap()),
            received,
        )
    }

    fn task(partition: u32) -> TaskSpec {
        TaskSpec { partition, ..Default::default() }
    }

    /// Launches `partition` on `exec`, not listening for its start.
    fn launch(exec: &RemoteExecutor, partition: u32) -> BoxFuture<'_, TaskResult> {
        exec.launch(task(partition), oneshot::channel().0)
    }

    /// Launches `partition` in the background once the executor has received it.
    async fn launched(
        exec: &Arc<RemoteExecutor>,
        events: &mut mpsc::UnboundedReceiver<Event>,
        partition: u32,
    ) -> tokio::task::JoinHandle<TaskResult> {
        let exec = exec.clone();
        let running = tokio::spawn(async move { launch(&exec, partition).await });
        assert_eq!(events.recv().await, Some(Event::Launched(partition)));
        running
    }

    #[tokio::test]
    async fn results_reach_their_own_launch_even_out_of_order() {
        let (exec, _) = scripted().await;
        let (a, b) = tokio::join!(launch(&exec, 1), launch(&exec, 2));
        assert!(a.ok && b.ok, "{a:?} {b:?}");
        assert_eq!((a.count, b.count), (1, 2));
    }

    #[tokio::test]
    async fn starts_reach_their_own_launch_before_its_result() {
        let (exec, _) = scripted().await;
        let (told_a, started_a) = oneshot::channel();
        let (told_b, started_b) = oneshot::channel();
        let (a, b) = tokio::join!(exec.launch(task(1), told_a), exec.launch(task(2), told_b));
        assert_eq!((a.count, b.count), (1, 2));
        // Told before the result came: after it, the launch no longer waits and
        // its start could only be dropped.
        assert_eq!((started_a.await, started_b.await), (Ok(()), Ok(())));
    }

    #[tokio::test]
    async fn a_dropped_launch_is_cancelled_on_the_executor() {
        let (exec, mut events) = scripted().await;
        // The scripted executor holds a lone launch; the driver gives up on it.
        let held = launched(&exec, &mut events, 3).await;
        held.abort();
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("a cancel");
        assert_eq!(event, Some(Event::Cancelled(0)), "the first launch's sequence number");
        // The stream still serves later launches.
        let (a, b) = tokio::join!(launch(&exec, 4), launch(&exec, 5));
        assert_eq!((a.count, b.count), (4, 5));
    }

    #[tokio::test]
    async fn a_broken_stream_fails_its_launches_as_lost_and_the_next_launch_opens_another() {
        let (exec, mut events) = scripted().await;
        let held = launched(&exec, &mut events, 6).await;
        let broke = launch(&exec, BREAK).await;
        let held = held.await.unwrap();
        for r in [&held, &broke] {
            assert!(!r.ok && r.retryable && r.failure_kind() == FailureKind::ExecutorLost, "{r:?}");
            assert!(r.error.contains("scripted break"), "{r:?}");
        }
        let (a, b) = tokio::join!(launch(&exec, 7), launch(&exec, 8));
        assert_eq!((a.count, b.count), (7, 8));
    }
}
