//! The executor registry: who is in the cluster, whether they are alive, how to
//! reach them, and which task slots are free. Schedulers lease a slot, launch a
//! task through the slot's [`ExecutorHandle`], and give the slot back when the
//! lease drops.
//!
//! - [`handle`]: how one executor is reached ([`ExecutorHandle`], over gRPC or in
//!   process).
//!
//! Liveness: executors in other processes heartbeat; one silent for longer than
//! the heartbeat timeout, or one whose task RPC fails, is declared lost: it gets
//! no more tasks, the attempts running on it end at once (to be retried
//! elsewhere), and the shuffle outputs it held count as gone. An executor that
//! deregisters (a graceful stop) gets no more tasks, but its running attempts may
//! finish. Executor ids are never reused: a lost executor that comes back
//! registers again under a new id.

pub mod handle;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use spindle_proto::ids::ExecutorId;
use spindle_proto::{ExecutorState, ExecutorStatus};
use tokio::sync::{oneshot, watch};

pub use handle::{ExecutorHandle, RemoteExecutor};

/// How the registry judges liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessSettings {
    /// How often executors heartbeat. Default 1 s.
    pub heartbeat_interval: Duration,
    /// Silence after which an executor is declared lost. Default 10 s.
    pub heartbeat_timeout: Duration,
    /// How long tasks wait while no executor is registered before their job
    /// fails. Default 60 s.
    pub no_executor_timeout: Duration,
}

impl Default for LivenessSettings {
    fn default() -> Self {
        LivenessSettings {
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(10),
            no_executor_timeout: Duration::from_secs(60),
        }
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
    /// The launch that started it, when the driver's launcher did (dynamic
    /// allocation); empty for an executor started by hand.
    pub launch_id: String,
    /// How to reach it.
    pub handle: Arc<dyn ExecutorHandle>,
    /// Becomes `Some(reason)` when the executor is declared lost.
    lost: watch::Receiver<Option<String>>,
}

impl ExecutorEntry {
    /// Resolves with the reason once the executor is declared lost; never for
    /// one that deregistered (its running attempts may finish).
    pub async fn lost(&self) -> String {
        let mut rx = self.lost.clone();
        let reason = rx.wait_for(Option::is_some).await.map(|r| r.clone().unwrap_or_default());
        match reason {
            Ok(reason) => reason,
            Err(_) => std::future::pending().await,
        }
    }
}

struct Slots {
    entry: ExecutorEntry,
    /// Leases held on it: tasks running there, and tasks queued there ahead.
    leased: u32,
    lost: watch::Sender<Option<String>>,
    /// Whether it heartbeats (executors in other processes) or lives in this one.
    heartbeats: bool,
    last_seen: Instant,
    /// Counters from its last heartbeat.
    last_status: Option<ExecutorStatus>,
    /// Since when it has held no lease (`None`: it holds some).
    idle_since: Option<Instant>,
}

/// An executor joining or leaving the cluster.
#[derive(Debug, Clone)]
pub enum Membership {
    /// It registered.
    Added {
        /// Its id.
        executor: String,
        /// Where it serves.
        address: String,
        /// Its slots.
        slots: u32,
    },
    /// It was lost, stopped or released.
    Removed {
        /// Its id.
        executor: String,
        /// Where it served.
        address: String,
        /// `lost`, `stopped` or `released`.
        state: String,
        /// Why.
        reason: String,
    },
}

/// What the cluster is doing, for dynamic allocation.
#[derive(Debug, Default)]
pub struct Load {
    /// Tasks waiting for a slot.
    pub waiting: usize,
    /// Leases held (tasks running or queued on executors).
    pub leased: usize,
    /// Registered executors.
    pub executors: Vec<ExecutorLoad>,
}

/// One registered executor, for dynamic allocation.
#[derive(Debug)]
pub struct ExecutorLoad {
    /// The executor.
    pub id: ExecutorId,
    /// The launch that started it (dynamic allocation), or empty.
    pub launch_id: String,
    /// Its task slots.
    pub slots: u32,
    /// How long it has held no lease (`None`: it holds some).
    pub idle_for: Option<Duration>,
    /// Whether its last heartbeat showed shuffle blocks or kept partitions.
    pub holds_data: bool,
}

/// Why a task got no slot.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no executor has been registered for {waited:?}{last}; start executors (`spindle executor --driver URL`) or raise no_executor_timeout"
    )]
    /// No executor registered in time for a waiting task.
    NoExecutors {
        /// How long the task waited.
        waited: Duration,
        /// What became of the last executor, when there was one.
        last: String,
    },
}

/// Who asks for a slot: a tenant, with its weight and slot quota.
#[derive(Debug, Clone)]
pub struct SlotClaim {
    /// The tenant's name.
    pub tenant: String,
    /// Its share of free slots relative to other tenants with pending tasks.
    pub weight: u32,
    /// Most slots it may hold at once (0: no limit).
    pub max_slots: u32,
    /// Executors the application excludes (read at each dispatch, so an
    /// exclusion made while tasks wait applies to them).
    pub excluded: Arc<Excluded>,
}

impl SlotClaim {
    /// A claim with weight 1 and no quota.
    pub fn unlimited(tenant: &str) -> Self {
        SlotClaim { tenant: tenant.to_string(), weight: 1, max_slots: 0, excluded: Arc::default() }
    }
}

/// A set of executors an application's tasks may not run on, shared between
/// the application and the tasks it has waiting.
#[derive(Debug, Default)]
pub struct Excluded {
    any: std::sync::atomic::AtomicBool,
    keys: Mutex<Vec<u64>>,
}

impl Excluded {
    /// Makes the set `ids`.
    pub fn set(&self, ids: &[ExecutorId]) {
        let keys: Vec<u64> = ids.iter().map(|id| id.0).collect();
        let mut held = self.keys.lock().expect("excluded lock");
        self.any.store(!keys.is_empty(), Ordering::Relaxed);
        *held = keys;
    }

    /// Whether any executor is excluded.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    fn contains(&self, key: u64) -> bool {
        self.any() && self.keys.lock().expect("excluded lock").contains(&key)
    }

    /// Whether executor `id` is excluded.
    pub fn contains_id(&self, id: &ExecutorId) -> bool {
        self.contains(id.0)
    }
}

/// How many tasks per slot of an executor process the tasks of a group (a
/// stage) may wait behind there. Shared by the group's waiting tasks, so that it
/// takes effect for those already waiting when the group changes it.
#[derive(Debug, Clone)]
pub struct Ahead(Arc<AtomicU32>);

impl Ahead {
    /// `n` tasks ahead per slot.
    pub fn new(n: u32) -> Self {
        Ahead(Arc::new(AtomicU32::new(n)))
    }

    /// Sets how many tasks go ahead per slot from now on.
    pub fn set(&self, n: u32) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// How many tasks go ahead per slot.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A task waiting for a slot, maybe not on one executor (a speculative copy
/// avoids the executor running the original).
struct Waiter {
    tx: oneshot::Sender<SlotLease>,
    /// Tasks it may wait behind per slot of an executor process (capped by the
    /// cluster's `launch_ahead`).
    ahead: Ahead,
    /// The registry key of the executor to avoid.
    avoid: Option<u64>,
    /// Executors its application excludes.
    excluded: Arc<Excluded>,
    /// The registry key of the only executor it may run on.
    only: Option<u64>,
}

/// One tenant's waiting tasks and the slots it holds.
#[derive(Default)]
struct TenantQueue {
    running: u32,
    weight: u32,
    max_slots: u32,
    waiters: VecDeque<Waiter>,
}

impl TenantQueue {
    fn eligible(&self) -> bool {
        !self.waiters.is_empty() && (self.max_slots == 0 || self.running < self.max_slots)
    }
}

struct State {
    executors: BTreeMap<u64, Slots>,
    next_id: u64,
    queues: HashMap<String, TenantQueue>,
    /// Executors lost or stopped, most recent last (a bounded history for status).
    gone: VecDeque<ExecutorStatus>,
    /// Since when no executor has been registered (`None`: some are).
    empty_since: Option<Instant>,
}

/// How many lost or stopped executors `status` remembers.
const GONE_KEPT: usize = 64;

/// The executor registry, its free slots, and the queue of tasks waiting for them.
///
/// Free slots go to tenants fairly: to the eligible tenant (tasks waiting, under
/// its slot quota) holding the fewest slots for its weight; within a tenant, in
/// the order its tasks started waiting. So one tenant's huge job cannot starve
/// another's small one: the small job's tasks get the next free slots.
pub struct Cluster {
    state: Mutex<State>,
    /// Executors joining and leaving, for the event log.
    membership: tokio::sync::broadcast::Sender<Membership>,
    settings: LivenessSettings,
    /// Most tasks leased per slot of an executor in another process beyond the
    /// one it runs (see [`Cluster::with_launch_ahead`]).
    launch_ahead: u32,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster::new(LivenessSettings::default())
    }
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
                s.leased -= 1;
                if s.leased == 0 {
                    s.idle_since = Some(Instant::now());
                }
            }
            if let Some(q) = st.queues.get_mut(&self.tenant) {
                q.running -= 1;
            }
        }
        self.cluster.dispatch();
    }
}

/// Which executors were registered at one moment: one look at the registry for
/// many questions (every map output of a shuffle, say).
#[derive(Debug)]
pub struct Registered(std::collections::BTreeSet<u64>);

impl Registered {
    /// Whether executor `id` was registered and taking tasks.
    pub fn contains(&self, id: ExecutorId) -> bool {
        self.0.contains(&id.0)
    }

    /// Whether the executor a message names (`exec-N`) was registered and taking tasks.
    pub fn contains_named(&self, id: &str) -> bool {
        ExecutorId::parse(id).is_some_and(|id| self.contains(id))
    }

    /// Whether an executor other than `id` was registered.
    pub fn any_but(&self, id: ExecutorId) -> bool {
        self.0.iter().any(|k| *k != id.0)
    }

    /// Whether an executor not in `ids` was registered.
    pub fn any_outside(&self, ids: &[ExecutorId]) -> bool {
        let keys: Vec<u64> = ids.iter().map(|id| id.0).collect();
        self.0.iter().any(|k| !keys.contains(k))
    }
}

impl Cluster {
    /// An empty registry judging liveness with `settings`.
    pub fn new(settings: LivenessSettings) -> Self {
        Cluster {
            state: Mutex::new(State {
                executors: BTreeMap::new(),
                next_id: 0,
                queues: HashMap::new(),
                gone: VecDeque::new(),
                empty_since: Some(Instant::now()),
            }),
            membership: tokio::sync::broadcast::channel(256).0,
            settings,
            launch_ahead: 0,
        }
    }

    /// Executors joining and leaving from now on.
    pub fn membership(&self) -> tokio::sync::broadcast::Receiver<Membership> {
        self.membership.subscribe()
    }

    /// An empty registry that leases up to `launch_ahead` more tasks per slot of
    /// each executor in another process (each lease says how many it may wait
    /// behind): such an executor queues a task until a slot of its own frees, so
    /// its next task is already there when one ends, instead of a network round
    /// trip later.
    pub fn with_launch_ahead(settings: LivenessSettings, launch_ahead: u32) -> Self {
        Cluster { launch_ahead, ..Cluster::new(settings) }
    }

    /// The liveness settings.
    pub fn settings(&self) -> LivenessSettings {
        self.settings
    }

    /// Adds an executor; returns its new id. One that `heartbeats` is declared
    /// lost when it falls silent; one that does not lives in this process.
    pub fn register(
        self: &Arc<Self>,
        address: String,
        slots: u32,
        handle: Arc<dyn ExecutorHandle>,
        heartbeats: bool,
    ) -> ExecutorId {
        self.register_launched(address, slots, handle, heartbeats, String::new())
    }

    /// [`Cluster::register`] for an executor started as launch `launch_id`.
    pub fn register_launched(
        self: &Arc<Self>,
        address: String,
        slots: u32,
        handle: Arc<dyn ExecutorHandle>,
        heartbeats: bool,
        launch_id: String,
    ) -> ExecutorId {
        let id = {
            let mut st = self.state.lock().expect("cluster lock");
            st.next_id += 1;
            let key = st.next_id;
            let id = ExecutorId(key);
            let (lost, lost_rx) = watch::channel(None);
            let entry = ExecutorEntry { id, address, slots, launch_id, handle, lost: lost_rx };
            tracing::info!(executor = %id, address = %entry.address, slots, launch = %entry.launch_id, "executor registered");
            let now = Instant::now();
            let s =
                Slots { entry, leased: 0, lost, heartbeats, last_seen: now, last_status: None, idle_since: Some(now) };
            let _ = self.membership.send(Membership::Added {
                executor: id.to_string(),
                address: s.entry.address.clone(),
                slots: s.entry.slots,
            });
            st.executors.insert(key, s);
            st.empty_since = None;
            id
        };
        self.dispatch();
        id
    }

    /// Records a heartbeat; false when the executor is not registered (it was
    /// declared lost or stopped, or never registered here): it should register again.
    pub fn heartbeat(&self, id: &ExecutorId, address: &str, status: Option<ExecutorStatus>) -> bool {
        let mut st = self.state.lock().expect("cluster lock");
        let Some(s) = st.executors.get_mut(&id.0) else { return false };
        // The same id given to another executor (this driver restarted): not this one.
        if !address.is_empty() && s.entry.address != address {
            return false;
        }
        s.last_seen = Instant::now();
        if status.is_some() {
            s.last_status = status;
        }
        true
    }

    /// Waiting tasks, held leases and each executor's idleness, for dynamic allocation.
    pub fn load(&self) -> Load {
        let st = self.state.lock().expect("cluster lock");
        let now = Instant::now();
        Load {
            waiting: st.queues.values().map(|q| q.waiters.iter().filter(|w| !w.tx.is_closed()).count()).sum(),
            leased: st.executors.values().map(|s| s.leased as usize).sum(),
            executors: st
                .executors
                .values()
                .map(|s| ExecutorLoad {
                    id: s.entry.id,
                    launch_id: s.entry.launch_id.clone(),
                    slots: s.entry.slots,
                    idle_for: s.idle_since.map(|t| now.duration_since(t)),
                    holds_data: s
                        .last_status
                        .as_ref()
                        .is_some_and(|h| h.blocks + h.cache_blocks_memory + h.cache_blocks_disk > 0),
                })
                .collect(),
        }
    }

    /// Stops giving tasks to executor `id` if it holds no lease now (dynamic
    /// allocation releasing it); false if it holds one or is not registered.
    pub fn release_if_idle(&self, id: &ExecutorId, reason: &str) -> bool {
        self.remove_if(id, ExecutorState::Released, reason, false, |s| s.leased == 0)
    }

    /// The executors registered now, for asking about many at once.
    pub fn registered(&self) -> Registered {
        Registered(self.state.lock().expect("cluster lock").executors.keys().copied().collect())
    }

    /// Declares an executor lost: no more tasks, its running attempts end now,
    /// its blocks count as gone. Returns false if it was not registered.
    pub fn declare_lost(&self, id: &ExecutorId, reason: &str) -> bool {
        self.remove(id, ExecutorState::Lost, reason, true)
    }

    /// An executor stopping on purpose: no more tasks; running attempts finish.
    pub fn deregister(&self, id: &ExecutorId, reason: &str) -> bool {
        self.remove(id, ExecutorState::Stopped, reason, false)
    }

    fn remove(&self, id: &ExecutorId, state: ExecutorState, reason: &str, abort_running: bool) -> bool {
        self.remove_if(id, state, reason, abort_running, |_| true)
    }

    /// Removes executor `id` if `cond` holds for it (under the registry lock).
    fn remove_if(
        &self,
        id: &ExecutorId,
        state: ExecutorState,
        reason: &str,
        abort_running: bool,
        cond: impl Fn(&Slots) -> bool,
    ) -> bool {
        let mut st = self.state.lock().expect("cluster lock");
        let key = id.0;
        if !st.executors.get(&key).is_some_and(&cond) {
            return false;
        }
        let s = st.executors.remove(&key).expect("checked");
        if abort_running {
            tracing::warn!(executor = %id, address = %s.entry.address, %reason, "executor lost");
            s.lost.send_replace(Some(format!("executor {id} at {} was lost: {reason}", s.entry.address)));
        } else {
            tracing::info!(executor = %id, address = %s.entry.address, %reason, "executor deregistered");
        }
        let mut status = s.last_status.unwrap_or_default();
        status.executor_id = id.to_string();
        status.address = s.entry.address.clone();
        status.slots = s.entry.slots;
        status.set_state(state);
        status.reason = reason.into();
        let _ = self.membership.send(Membership::Removed {
            executor: id.to_string(),
            address: s.entry.address.clone(),
            state: state.label().to_string(),
            reason: reason.into(),
        });
        status.running_tasks = 0;
        status.last_heartbeat_ms = s.last_seen.elapsed().as_millis() as u64;
        st.gone.push_back(status);
        if st.gone.len() > GONE_KEPT {
            st.gone.pop_front();
        }
        if st.executors.is_empty() {
            st.empty_since = Some(Instant::now());
        }
        true
    }

    /// Total slots of all registered executors.
    pub fn total_slots(&self) -> u32 {
        self.state.lock().expect("cluster lock").executors.values().map(|s| s.entry.slots).sum()
    }

    /// Per tenant: tasks waiting for a slot, and slots leased (running or
    /// queued on executors), for metrics.
    pub fn tenant_queues(&self) -> Vec<(String, usize, u32)> {
        let st = self.state.lock().expect("cluster lock");
        st.queues
            .iter()
            .map(|(t, q)| (t.clone(), q.waiters.iter().filter(|w| !w.tx.is_closed()).count(), q.running))
            .collect()
    }

    /// All registered executors.
    pub fn executors(&self) -> Vec<ExecutorEntry> {
        self.state.lock().expect("cluster lock").executors.values().map(|s| s.entry.clone()).collect()
    }

    /// Registered executors with their last heartbeat's counters (`None` for
    /// in-process executors, which are asked directly), then the lost and stopped ones.
    pub fn statuses(&self) -> (Vec<(ExecutorEntry, Option<ExecutorStatus>)>, Vec<ExecutorStatus>) {
        let st = self.state.lock().expect("cluster lock");
        let live = st
            .executors
            .values()
            .map(|s| {
                let status = s.heartbeats.then(|| {
                    let mut status = s.last_status.clone().unwrap_or_default();
                    status.last_heartbeat_ms = s.last_seen.elapsed().as_millis() as u64;
                    status
                });
                (s.entry.clone(), status)
            })
            .collect();
        (live, st.gone.iter().cloned().collect())
    }

    /// Waits for a slot for `claim`'s tenant (see [`Cluster`] for who goes first),
    /// on any executor but `avoid`, where the task may wait behind up to `ahead`
    /// others per slot (capped by `launch_ahead`; executors in this process take
    /// none ahead). Fails when no executor has been registered for the
    /// no-executor timeout.
    pub async fn lease(
        self: &Arc<Self>,
        claim: &SlotClaim,
        avoid: Option<&ExecutorId>,
        ahead: &Ahead,
    ) -> Result<SlotLease, ClusterError> {
        self.wait_for_slot(claim, avoid.map(|id| id.0), None, ahead).await
    }

    /// Waits for a slot for `claim`'s tenant on executor `only` (a task whose
    /// kept input lives there); callers bound the wait and then take any slot.
    pub async fn lease_on(
        self: &Arc<Self>,
        claim: &SlotClaim,
        only: &ExecutorId,
        ahead: &Ahead,
    ) -> Result<SlotLease, ClusterError> {
        self.wait_for_slot(claim, None, Some(only.0), ahead).await
    }

    async fn wait_for_slot(
        self: &Arc<Self>,
        claim: &SlotClaim,
        avoid: Option<u64>,
        only: Option<u64>,
        ahead: &Ahead,
    ) -> Result<SlotLease, ClusterError> {
        let rx = {
            let mut st = self.state.lock().expect("cluster lock");
            let q = st.queues.entry(claim.tenant.clone()).or_default();
            q.weight = claim.weight.max(1);
            q.max_slots = claim.max_slots;
            let (tx, rx) = oneshot::channel();
            q.waiters.push_back(Waiter { tx, ahead: ahead.clone(), avoid, only, excluded: claim.excluded.clone() });
            rx
        };
        self.dispatch();
        rx.await.map_err(|_| self.no_executors())
    }

    fn no_executors(&self) -> ClusterError {
        let st = self.state.lock().expect("cluster lock");
        let last = st
            .gone
            .back()
            .map(|g| format!(" (the last one, {}, {}: {})", g.executor_id, g.state().label(), g.reason))
            .unwrap_or_default();
        ClusterError::NoExecutors { waited: self.settings.no_executor_timeout, last }
    }

    /// Declares silent executors lost, and fails waiting tasks when no executor
    /// has been registered for the no-executor timeout.
    pub fn check_liveness(&self) {
        let now = Instant::now();
        let silent: Vec<(ExecutorId, Duration)> = {
            let st = self.state.lock().expect("cluster lock");
            st.executors
                .values()
                .filter(|s| s.heartbeats && now.duration_since(s.last_seen) > self.settings.heartbeat_timeout)
                .map(|s| (s.entry.id, now.duration_since(s.last_seen)))
                .collect()
        };
        for (id, silence) in silent {
            self.declare_lost(&id, &format!("no heartbeat for {:.1} s", silence.as_secs_f64()));
        }
        let mut st = self.state.lock().expect("cluster lock");
        if st.empty_since.is_some_and(|t| now.duration_since(t) > self.settings.no_executor_timeout) {
            // Dropping the senders fails every waiter's lease.
            let failed: usize = st.queues.values_mut().map(|q| std::mem::take(&mut q.waiters).len()).sum();
            if failed > 0 {
                tracing::warn!(tasks = failed, "no executors: failing waiting tasks");
            }
            st.queues.retain(|_, q| q.running > 0);
        }
    }

    /// Checks liveness every half heartbeat interval until the cluster is dropped.
    pub fn spawn_monitor(self: &Arc<Self>) {
        let weak: Weak<Cluster> = Arc::downgrade(self);
        let every = (self.settings.heartbeat_interval / 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(cluster) = weak.upgrade() else { return };
                cluster.check_liveness();
            }
        });
    }

    /// Hands free slots to waiting tasks until one or the other runs out.
    fn dispatch(self: &Arc<Self>) {
        let mut undelivered = Vec::new();
        {
            let mut guard = self.state.lock().expect("cluster lock");
            let st = &mut *guard;
            while let Some((key, tenant)) = next_placement(st, self.launch_ahead) {
                let q = st.queues.get_mut(&tenant).expect("the chosen tenant has a queue");
                let (i, key) = key;
                let waiter = q.waiters.remove(i).expect("the chosen waiter exists");
                let slots = st.executors.get_mut(&key).expect("the chosen executor exists");
                slots.leased += 1;
                slots.idle_since = None;
                q.running += 1;
                let lease = SlotLease { cluster: self.clone(), key, tenant, executor: slots.entry.clone() };
                if let Err(lease) = waiter.tx.send(lease) {
                    undelivered.push(lease);
                }
            }
            st.queues.retain(|_, q| q.running > 0 || !q.waiters.is_empty());
        }
        // Dropped outside the lock: each frees its slot and dispatches again.
        drop(undelivered);
    }
}

/// How many leases an executor takes from a waiter that may wait behind `ahead`
/// tasks per slot.
fn capacity(s: &Slots, ahead: u32) -> u32 {
    if s.heartbeats { s.entry.slots.saturating_mul(1 + ahead) } else { s.entry.slots }
}

/// The next (waiter index, executor key) and tenant to hand a slot to, if any:
/// tenants in fair order (fewest slots held for their weight), within a tenant
/// its first waiter that some executor with room for it can take; the executor
/// with the most room (spreading tasks evenly). Waiters that stopped waiting are
/// dropped where the scan passes them.
fn next_placement(st: &mut State, launch_ahead: u32) -> Option<((usize, u64), String)> {
    let mut open: Vec<(u64, &Slots)> =
        st.executors.iter().filter(|(_, s)| s.leased < capacity(s, launch_ahead)).map(|(k, s)| (*k, s)).collect();
    if open.is_empty() {
        return None;
    }
    // Most room first.
    open.sort_by_key(|(k, s)| (std::cmp::Reverse(capacity(s, launch_ahead) - s.leased), *k));
    let mut tenants: Vec<(&String, &mut TenantQueue)> = st.queues.iter_mut().filter(|(_, q)| q.eligible()).collect();
    tenants.sort_by(|a, b| {
        (u64::from(a.1.running) * u64::from(b.1.weight))
            .cmp(&(u64::from(b.1.running) * u64::from(a.1.weight)))
            .then_with(|| a.0.cmp(b.0))
    });
    for (tenant, q) in tenants {
        // Usually the first waiter is placed at once, or nothing is: looking at
        // no more waiters than that keeps a dispatch O(1) however many tasks wait.
        let mut i = 0;
        while let Some(w) = q.waiters.get(i) {
            if w.tx.is_closed() {
                q.waiters.remove(i);
                continue;
            }
            let fits = |(k, s): &&(u64, &Slots)| {
                w.avoid != Some(*k)
                    && !w.excluded.contains(*k)
                    && w.only.is_none_or(|o| o == *k)
                    && s.leased < capacity(s, w.ahead.get().min(launch_ahead))
            };
            if let Some((k, _)) = open.iter().find(fits) {
                return Some(((i, *k), tenant.clone()));
            }
            if w.avoid.is_none() && w.only.is_none() && !w.excluded.any() {
                // No executor has room for a task that may run anywhere at its
                // depth: the tenant's later tasks wait their turn behind it (only
                // tasks bound to or kept off some executor are passed), so a
                // dispatch stays O(1) while a stage queues shallower than the cap.
                break;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod liveness_tests;
