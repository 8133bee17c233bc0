//! Heartbeats, loss and the no-executor timeout.

use super::handle::Idle;
use super::tests::spawn_lease;
use super::*;

fn settings(ms: u64) -> LivenessSettings {
    LivenessSettings {
        heartbeat_interval: Duration::from_millis(ms / 4),
        heartbeat_timeout: Duration::from_millis(ms),
        no_executor_timeout: Duration::from_millis(ms),
    }
}

#[tokio::test]
async fn a_silent_executor_is_lost_and_its_running_attempts_hear_it() {
    let cluster = Arc::new(Cluster::new(settings(50)));
    let quiet = cluster.register("a:1".into(), 1, Arc::new(Idle), true);
    let local = cluster.register("b:1".into(), 1, Arc::new(Idle), false);
    let claim = SlotClaim::unlimited("t");
    let lease = cluster.lease(&claim, Some(&local), &Ahead::new(1)).await.unwrap();
    assert_eq!(lease.executor.id, quiet);
    let lost = tokio::spawn({
        let entry = lease.executor.clone();
        async move { entry.lost().await }
    });
    std::thread::sleep(Duration::from_millis(60));
    cluster.check_liveness();
    assert!(lost.await.unwrap().contains("no heartbeat"));
    assert!(!cluster.registered().contains(quiet));
    assert!(cluster.registered().contains(local), "an in-process executor never falls silent");
    assert!(!cluster.heartbeat(&quiet, "", None), "a lost executor must register again");
    let (_, gone) = cluster.statuses();
    assert_eq!(gone[0].state(), ExecutorState::Lost);
}

#[tokio::test]
async fn waiting_tasks_fail_when_no_executor_comes_and_wait_when_one_does() {
    let cluster = Arc::new(Cluster::new(settings(40)));
    let id = cluster.register("a:1".into(), 1, Arc::new(Idle), true);
    cluster.declare_lost(&id, "killed");
    let claim = SlotClaim::unlimited("t");
    let waiting = spawn_lease(&cluster, &claim, None);
    tokio::task::yield_now().await;
    std::thread::sleep(Duration::from_millis(50));
    cluster.check_liveness();
    let err = waiting.await.unwrap().err().expect("no executor: the lease fails").to_string();
    assert!(err.contains("exec-1, lost: killed"), "{err}");

    // An executor that joins in time gets the waiting task.
    let waiting = spawn_lease(&cluster, &claim, None);
    tokio::task::yield_now().await;
    let back = cluster.register("a:2".into(), 1, Arc::new(Idle), true);
    assert_eq!(waiting.await.unwrap().unwrap().executor.id, back);
}

#[tokio::test]
async fn a_waiter_avoiding_the_only_free_executor_lets_others_pass() {
    let cluster = Arc::new(Cluster::new(settings(1000)));
    let a = cluster.register("a:1".into(), 1, Arc::new(Idle), false);
    let claim = SlotClaim::unlimited("t");
    let copy = spawn_lease(&cluster, &claim, Some(&a));
    tokio::task::yield_now().await;
    let plain = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    assert_eq!(plain.executor.id, a, "the unconstrained task behind it got the slot");
    let b = cluster.register("b:1".into(), 1, Arc::new(Idle), false);
    assert_eq!(copy.await.unwrap().unwrap().executor.id, b);
}

#[tokio::test]
async fn a_task_with_kept_input_waits_for_its_executor_and_others_pass() {
    let cluster = Arc::new(Cluster::new(settings(1000)));
    let a = cluster.register("a:1".into(), 1, Arc::new(Idle), false);
    let b = cluster.register("b:1".into(), 2, Arc::new(Idle), false);
    let claim = SlotClaim::unlimited("t");
    let first = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    assert_eq!(first.executor.id, b, "b has more free slots");
    let busy = cluster.lease_on(&claim, &a, &Ahead::new(1)).await.unwrap();
    assert_eq!(busy.executor.id, a);
    let local = tokio::spawn({
        let c = cluster.clone();
        let (claim, a) = (claim.clone(), a);
        async move { c.lease_on(&claim, &a, &Ahead::new(1)).await.map(|l| l.executor.id) }
    });
    tokio::task::yield_now().await;
    let other = cluster.lease(&claim, None, &Ahead::new(1)).await.unwrap();
    assert_eq!(other.executor.id, b, "a task without kept input takes b's free slot");
    assert!(!local.is_finished(), "the local task does not take b's slot");
    drop(busy);
    assert_eq!(local.await.unwrap().unwrap(), a);
}
