//! The executor registry: who is in the cluster, how to reach them, and which
//! task slots are free. Schedulers lease a slot, launch a task through the slot's
//! [`ExecutorHandle`], and give the slot back when the lease drops.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use spindle_proto::executor_client::ExecutorClient;
use spindle_proto::ids::{AppId, ExecutorId};
use spindle_proto::{ExecutorStatus, ReleaseAppRequest, StatusRequest, TaskResult, TaskSpec};
use tokio::sync::oneshot;
use spindle_proto::auth::{AuthChannel, Credentials};
use tonic::transport::Endpoint;

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

/// Who asks for a slot: a tenant, with its weight and slot quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotClaim {
    /// The tenant's name.
    pub tenant: String,
    /// Its share of free slots relative to other tenants with pending tasks.
    pub weight: u32,
    /// Most slots it may hold at once (0: no limit).
    pub max_slots: u32,
}

impl SlotClaim {
    /// A claim with weight 1 and no quota.
    pub fn unlimited(tenant: &str) -> Self {
        SlotClaim { tenant: tenant.to_string(), weight: 1, max_slots: 0 }
    }
}

/// One tenant's waiting tasks and the slots it holds.
#[derive(Default)]
struct TenantQueue {
    running: u32,
    weight: u32,
    max_slots: u32,
    waiters: VecDeque<oneshot::Sender<SlotLease>>,
}

impl TenantQueue {
    fn eligible(&self) -> bool {
        !self.waiters.is_empty() && (self.max_slots == 0 || self.running < self.max_slots)
    }
}

#[derive(Default)]
struct State {
    executors: BTreeMap<u64, Slots>,
    next_id: u64,
    queues: HashMap<String, TenantQueue>,
}

/// The executor registry, its free slots, and the queue of tasks waiting for them.
///
/// Free slots go to tenants fairly: to the eligible tenant (tasks waiting, under
/// its slot quota) holding the fewest slots for its weight; within a tenant, in
/// the order its tasks started waiting. So one tenant's huge job cannot starve
/// another's small one: the small job's tasks get the next free slots.
#[derive(Default)]
pub struct Cluster {
    state: Mutex<State>,
}

/// One leased slot; the slot is freed (and handed to the next waiter) when the
/// lease drops.
pub struct SlotLease {
    cluster: Arc<Cluster>,
    key: u64,
    tenant: String,
    /// The executor the slot belongs to.
    pub executor: ExecutorEntry,
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        {
            let mut st = self.cluster.state.lock().expect("cluster lock");
            if let Some(s) = st.executors.get_mut(&self.key) {
                s.free += 1;
            }
            if let Some(q) = st.queues.get_mut(&self.tenant) {
                q.running -= 1;
            }
        }
        self.cluster.dispatch();
    }
}

impl Cluster {
    /// Adds an executor; returns its new id.
    pub fn register(self: &Arc<Self>, address: String, slots: u32, handle: Arc<dyn ExecutorHandle>) -> ExecutorId {
        let id = {
            let mut st = self.state.lock().expect("cluster lock");
            st.next_id += 1;
            let key = st.next_id;
            let id = ExecutorId(format!("exec-{key}"));
            let entry = ExecutorEntry { id: id.clone(), address, slots, handle };
            tracing::info!(executor = %id, address = %entry.address, slots, "executor registered");
            st.executors.insert(key, Slots { entry, free: slots });
            id
        };
        self.dispatch();
        id
    }

    /// Total slots of all registered executors.
    pub fn total_slots(&self) -> u32 {
        self.state.lock().expect("cluster lock").executors.values().map(|s| s.entry.slots).sum()
    }

    /// All registered executors.
    pub fn executors(&self) -> Vec<ExecutorEntry> {
        self.state.lock().expect("cluster lock").executors.values().map(|s| s.entry.clone()).collect()
    }

    /// Waits for a slot for `claim`'s tenant (see [`Cluster`] for who goes first).
    pub async fn lease(self: &Arc<Self>, claim: &SlotClaim) -> SlotLease {
        let rx = {
            let mut st = self.state.lock().expect("cluster lock");
            let q = st.queues.entry(claim.tenant.clone()).or_default();
            q.weight = claim.weight.max(1);
            q.max_slots = claim.max_slots;
            let (tx, rx) = oneshot::channel();
            q.waiters.push_back(tx);
            rx
        };
        self.dispatch();
        rx.await.expect("the cluster outlives its waiters")
    }

    /// Hands free slots to waiting tasks until one or the other runs out.
    fn dispatch(self: &Arc<Self>) {
        let mut undelivered = Vec::new();
        {
            let mut guard = self.state.lock().expect("cluster lock");
            let st = &mut *guard;
            // The executor with the most free slots: spreads tasks evenly.
            while let Some((&key, slots)) =
                st.executors.iter_mut().filter(|(_, s)| s.free > 0).max_by_key(|(k, s)| (s.free, std::cmp::Reverse(**k)))
            {
                // The eligible tenant with the fewest slots for its weight.
                let Some((tenant, q)) = st.queues.iter_mut().filter(|(_, q)| q.eligible()).min_by(|a, b| {
                    let (qa, qb) = (&*a.1, &*b.1);
                    (u64::from(qa.running) * u64::from(qb.weight))
                        .cmp(&(u64::from(qb.running) * u64::from(qa.weight)))
                        .then_with(|| a.0.cmp(b.0))
                }) else {
                    break;
                };
                let tx = q.waiters.pop_front().expect("eligible queues have waiters");
                if tx.is_closed() {
                    continue; // the task stopped waiting
                }
                slots.free -= 1;
                q.running += 1;
                let lease =
                    SlotLease { cluster: self.clone(), key, tenant: tenant.clone(), executor: slots.entry.clone() };
                if let Err(lease) = tx.send(lease) {
                    undelivered.push(lease);
                }
            }
            st.queues.retain(|_, q| q.running > 0 || !q.waiters.is_empty());
        }
        // Dropped outside the lock: each frees its slot and dispatches again.
        drop(undelivered);
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
        let claim = SlotClaim::unlimited("t");
        let l1 = cluster.lease(&claim).await;
        let l2 = cluster.lease(&claim).await;
        assert_ne!(l1.executor.id, l2.executor.id);
        let _l3 = cluster.lease(&claim).await;
        let _l4 = cluster.lease(&claim).await;
        let waiter = tokio::spawn({
            let c = cluster.clone();
            let claim = claim.clone();
            async move { c.lease(&claim).await.executor.id.clone() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let freed = l1.executor.id.clone();
        drop(l1);
        assert_eq!(waiter.await.unwrap(), freed);
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_tenant_holding_fewest_slots() {
        let cluster = Arc::new(Cluster::default());
        cluster.register("a:1".into(), 2, Arc::new(Idle));
        let big = SlotClaim::unlimited("big");
        let mut held = vec![cluster.lease(&big).await, cluster.lease(&big).await];
        // The big tenant queues many tasks, then the small one queues one.
        let mut big_waiters = Vec::new();
        for _ in 0..10 {
            let c = cluster.clone();
            let claim = big.clone();
            big_waiters.push(tokio::spawn(async move { c.lease(&claim).await }));
        }
        tokio::task::yield_now().await;
        let small = tokio::spawn({
            let c = cluster.clone();
            async move { c.lease(&SlotClaim::unlimited("small")).await }
        });
        tokio::task::yield_now().await;
        drop(held.pop());
        let lease = small.await.unwrap();
        assert_eq!(lease.tenant, "small", "the small tenant got the first free slot");
        drop(held);
    }

    #[tokio::test]
    async fn a_tenant_never_holds_more_than_its_slot_quota() {
        let cluster = Arc::new(Cluster::default());
        cluster.register("a:1".into(), 4, Arc::new(Idle));
        let capped = SlotClaim { tenant: "capped".into(), weight: 1, max_slots: 1 };
        let first = cluster.lease(&capped).await;
        let second = tokio::spawn({
            let c = cluster.clone();
            let claim = capped.clone();
            async move { c.lease(&claim).await }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "three slots are free, but the quota is one");
        drop(first);
        second.await.unwrap();
    }
}
