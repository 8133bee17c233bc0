//! Slot leasing and fair sharing.

use super::handle::Idle;
use super::*;

/// A task waiting for a lease on `cluster`, avoiding `avoid`.
pub(super) fn spawn_lease(
    cluster: &Arc<Cluster>,
    claim: &SlotClaim,
    avoid: Option<&ExecutorId>,
) -> tokio::task::JoinHandle<Result<SlotLease, ClusterError>> {
    spawn_lease_with(cluster, claim, avoid, &Ahead::new(1))
}

/// A task waiting for a lease on `cluster` that may wait behind `ahead` per slot.
fn spawn_lease_ahead(
    cluster: &Arc<Cluster>,
    claim: &SlotClaim,
    ahead: &Ahead,
) -> tokio::task::JoinHandle<Result<SlotLease, ClusterError>> {
    spawn_lease_with(cluster, claim, None, ahead)
}

fn spawn_lease_with(
    cluster: &Arc<Cluster>,
    claim: &SlotClaim,
    avoid: Option<&ExecutorId>,
    ahead: &Ahead,
) -> tokio::task::JoinHandle<Result<SlotLease, ClusterError>> {
    let (c, claim, avoid, ahead) = (cluster.clone(), claim.clone(), avoid.cloned(), ahead.clone());
    tokio::spawn(async move { c.lease(&claim, avoid.as_ref(), &ahead).await })
}

#[tokio::test]
async fn leases_spread_over_executors_and_wait_for_free_slots() {
    let cluster = Arc::new(Cluster::default());
    cluster.register("a:1".into(), 2, Arc::new(Idle), false);
    cluster.register("b:1".into(), 2, Arc::new(Idle), false);
    let claim = SlotClaim::unlimited("t");
    let l1 = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    let l2 = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    assert_ne!(l1.executor.id, l2.executor.id);
    let _l3 = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    let _l4 = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    let waiter = spawn_lease(&cluster, &claim, None);
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    let freed = l1.executor.id;
    drop(l1);
    assert_eq!(waiter.await.unwrap().unwrap().executor.id, freed);
}

#[tokio::test]
async fn a_deeper_launch_ahead_reaches_tasks_already_waiting() {
    let cluster = Arc::new(Cluster::with_launch_ahead(LivenessSettings::default(), 4));
    let remote = cluster.register("a:1".into(), 1, Arc::new(Idle), true);
    let claim = SlotClaim::unlimited("t");
    let stage = Ahead::new(1);
    let _held =
        [cluster.lease(&claim, None, &stage).await.unwrap(), cluster.lease(&claim, None, &stage).await.unwrap()];
    let waiting = spawn_lease_ahead(&cluster, &claim, &stage);
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "one slot, one task ahead: 2 leases");
    // The stage learns its tasks are short; the next dispatch places both.
    stage.set(3);
    let next = cluster.lease(&claim, None, &stage).await.unwrap();
    assert_eq!(waiting.await.unwrap().unwrap().executor.id, remote);
    assert_eq!(next.executor.id, remote);
}

#[tokio::test]
async fn executor_processes_get_tasks_ahead_and_in_process_ones_do_not() {
    let cluster = Arc::new(Cluster::with_launch_ahead(LivenessSettings::default(), 2));
    let remote = cluster.register("a:1".into(), 2, Arc::new(Idle), true);
    let claim = SlotClaim::unlimited("t");
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap());
    }
    let shallow = spawn_lease(&cluster, &claim, None);
    tokio::task::yield_now().await;
    assert!(!shallow.is_finished(), "a task that may wait behind one per slot gets no 5th lease on 2 slots");
    // A task of a short-task stage may wait deeper, but waits its turn behind
    // the tenant's earlier task (a dispatch looks no further).
    let deep = spawn_lease_ahead(&cluster, &claim, &Ahead::new(5));
    tokio::task::yield_now().await;
    assert!(!deep.is_finished(), "the deeper task waits behind the shallow one");
    // One lease frees: the shallow one takes the 4th, the deep one the 5th.
    held.pop();
    held.push(shallow.await.unwrap().unwrap());
    held.push(deep.await.unwrap().unwrap());
    held.push(cluster.lease(&claim, None, &Ahead::new(5)).await.unwrap());
    assert!(held.iter().all(|l| l.executor.id == remote), "2 slots and 2 tasks ahead per slot: 6 leases");
    let capped = spawn_lease_ahead(&cluster, &claim, &Ahead::new(5));
    tokio::task::yield_now().await;
    assert!(!capped.is_finished(), "the cap is launch_ahead (2) per slot");
    capped.abort();
    let local = Arc::new(Cluster::with_launch_ahead(LivenessSettings::default(), 2));
    local.register("b:1".into(), 1, Arc::new(Idle), false);
    let _only = local.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    let waiter = spawn_lease(&local, &claim, None);
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "an in-process executor gets no task beyond its slots");
    waiter.abort();
}

#[tokio::test]
async fn a_freed_slot_goes_to_the_tenant_holding_fewest_slots() {
    let cluster = Arc::new(Cluster::default());
    cluster.register("a:1".into(), 2, Arc::new(Idle), false);
    let big = SlotClaim::unlimited("big");
    let mut held = vec![
        cluster.lease(&big, None, &Ahead::new(1)).await.unwrap(),
        cluster.lease(&big, None, &Ahead::new(1)).await.unwrap(),
    ];
    // The big tenant queues many tasks, then the small one queues one.
    let mut big_waiters = Vec::new();
    for _ in 0..10 {
        big_waiters.push(spawn_lease(&cluster, &big, None));
    }
    tokio::task::yield_now().await;
    let small = spawn_lease(&cluster, &SlotClaim::unlimited("small"), None);
    tokio::task::yield_now().await;
    drop(held.pop());
    let lease = small.await.unwrap().unwrap();
    assert_eq!(lease.tenant, "small", "the small tenant got the first free slot");
    drop(held);
}

#[tokio::test]
async fn a_tenant_never_holds_more_than_its_slot_quota() {
    let cluster = Arc::new(Cluster::default());
    cluster.register("a:1".into(), 4, Arc::new(Idle), false);
    let capped = SlotClaim { max_slots: 1, ..SlotClaim::unlimited("capped") };
    let first = cluster.lease(&capped, None, &Ahead::new(1)).await.unwrap();
    let second = spawn_lease(&cluster, &capped, None);
    tokio::task::yield_now().await;
    assert!(!second.is_finished(), "three slots are free, but the quota is one");
    drop(first);
    second.await.unwrap().unwrap();
}
