//! The executor registry: who is in the cluster, how to reach them, and which
//! task slots are free. Schedulers lease a slot, launch a task through the slot's
//! [`ExecutorHandle`], and give the slot back when the lease drops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use spindle_proto::executor_client::ExecutorClient;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{ExecutorStatus, ReleaseAppRequest, StatusRequest, TaskResult, TaskSpec};
use tokio::sync::Notify;
use tonic::transport::{Channel, Endpoint};

/// How the driver reaches one executor.
pub trait ExecutorHandle: Send + Sync + 'static {
    /// Runs a task; resolves when it has finished. Transport failures come back as a
    /// failed, retryable result.
    fn launch(&self, spec: TaskSpec) -> BoxFuture<'_, TaskResult>;
    /// Frees an application's blocks.
    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()>;
    /// The executor's counters.
    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>>;
}

/// An executor in another process, over gRPC.
pub struct RemoteExecutor {
    address: String,
    client: ExecutorClient<Channel>,
}

impl RemoteExecutor {
    /// A handle for the executor listening at `address` (`host:port`).
    pub fn new(address: &str) -> Result<Self, String> {
        let channel = Endpoint::from_shared(format!("http://{address}")).map_err(|e| e.to_string())?.connect_lazy();
        let client = ExecutorClient::new(channel)
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
                    error: format!("executor at {} did not answer: {}", self.address, s.message()),
                    ..Default::default()
                },
            }
        })
    }

    fn release_app(&self, app: AppId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(s) = self.client.clone().release_app(ReleaseAppRequest { app_id: app.0 }).await {
                tracing::warn!(address = %self.address, error = %s.message(), "could not release application blocks");
            }
        })
    }

    fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>> {
        Box::pin(async move { self.client.clone().status(StatusRequest {}).await.ok().map(|r| r.into_inner()) })
    }
}

/// A registered executor.
#[derive(Clone)]
pub struct ExecutorEntry {
    /// Its id.
    pub id: ExecutorId,
    /// Where peers reach it.
    pub address: String,
    /// Its slot count.
    pub slots: u32,
    /// How to reach it.
    pub handle: Arc<dyn ExecutorHandle>,
}

struct Slots {
    entry: ExecutorEntry,
    free: u32,
}

/// The executor registry and its free slots.
#[derive(Default)]
pub struct Cluster {
    executors: Mutex<BTreeMap<u64, Slots>>,
    next_id: Mutex<u64>,
    changed: Notify,
}

/// One leased slot; the slot is freed when the lease drops.
pub struct SlotLease {
    cluster: Arc<Cluster>,
    key: u64,
    /// The executor the slot belongs to.
    pub executor: ExecutorEntry,
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        if let Some(s) = self.cluster.executors.lock().expect("cluster lock").get_mut(&self.key) {
            s.free += 1;
        }
        // One slot freed: wake one waiter, not every pending task.
        self.cluster.changed.notify_one();
    }
}

impl Cluster {
    /// Adds an executor; returns its new id.
    pub fn register(&self, address: String, slots: u32, handle: Arc<dyn ExecutorHandle>) -> ExecutorId {
        let key = {
            let mut n = self.next_id.lock().expect("cluster lock");
            *n += 1;
            *n
        };
        let id = ExecutorId(format!("exec-{key}"));
        let entry = ExecutorEntry { id: id.clone(), address, slots, handle };
        tracing::info!(executor = %id, address = %entry.address, slots, "executor registered");
        self.executors.lock().expect("cluster lock").insert(key, Slots { entry, free: slots });
        self.changed.notify_waiters();
        id
    }

    /// Total slots of all registered executors.
    pub fn total_slots(&self) -> u32 {
        self.executors.lock().expect("cluster lock").values().map(|s| s.entry.slots).sum()
    }

    /// All registered executors.
    pub fn executors(&self) -> Vec<ExecutorEntry> {
        self.executors.lock().expect("cluster lock").values().map(|s| s.entry.clone()).collect()
    }

    fn try_lease(self: &Arc<Self>) -> Option<SlotLease> {
        let mut executors = self.executors.lock().expect("cluster lock");
        // The executor with the most free slots: spreads tasks evenly.
        let (key, slots) = executors.iter_mut().filter(|(_, s)| s.free > 0).max_by_key(|(k, s)| (s.free, std::cmp::Reverse(**k)))?;
        slots.free -= 1;
        Some(SlotLease { cluster: self.clone(), key: *key, executor: slots.entry.clone() })
    }

    /// Waits for a free slot anywhere in the cluster. Waiters are woken one per
    /// freed slot, in the order they started waiting.
    pub async fn lease(self: &Arc<Self>) -> SlotLease {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(lease) = self.try_lease() {
                return lease;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Idle;
    impl ExecutorHandle for Idle {
        fn launch(&self, _spec: TaskSpec) -> BoxFuture<'_, TaskResult> {
            Box::pin(async { TaskResult::default() })
        }
        fn release_app(&self, _app: AppId) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
        fn status(&self) -> BoxFuture<'_, Option<ExecutorStatus>> {
            Box::pin(async { None })
        }
    }

    #[tokio::test]
    async fn leases_spread_over_executors_and_wait_for_free_slots() {
        let cluster = Arc::new(Cluster::default());
        cluster.register("a:1".into(), 2, Arc::new(Idle));
        cluster.register("b:1".into(), 2, Arc::new(Idle));
        let l1 = cluster.lease().await;
        let l2 = cluster.lease().await;
        assert_ne!(l1.executor.id, l2.executor.id);
        let _l3 = cluster.lease().await;
        let _l4 = cluster.lease().await;
        let waiter = tokio::spawn({
            let c = cluster.clone();
            async move { c.lease().await.executor.id.clone() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let freed = l1.executor.id.clone();
        drop(l1);
        assert_eq!(waiter.await.unwrap(), freed);
    }
}
