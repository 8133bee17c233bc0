//! The executor's memory manager: one budget (`--memory`) shared by three pools,
//! after Spark's unified memory model.
//!
//! - **Execution**: what running tasks hold on the host: a map task's shuffle
//!   buckets while it writes them, a reduce task's fetched records while it sorts or
//!   groups them. Each task may hold at most its share, `budget / slots`; past it,
//!   or when the budget is full, the task spills to disk and goes on.
//! - **Shuffle**: finished map outputs kept in memory for reducers to fetch. They
//!   are the first thing pushed out (written to disk) when execution needs room, and
//!   a map output that does not fit goes straight to disk.
//! - **Storage**: persisted partitions (`cache`). Storage never pushes out
//!   execution; execution may push out storage down to half the budget, the part
//!   storage keeps (Spark's `spark.memory.storageFraction`, 0.5).
//!
//! A task's wasm linear memory is not in this budget: it stays under the task's own
//! sandbox limit. The fixed overhead beside the budget is documented in
//! `docs/memory.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes held in each pool.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pools {
    /// Held by running tasks.
    pub execution: u64,
    /// Finished map outputs in memory.
    pub shuffle: u64,
    /// Persisted partitions in memory.
    pub storage: u64,
}

impl Pools {
    fn total(&self) -> u64 {
        self.execution + self.shuffle + self.storage
    }
}

/// Counters of what went to disk.
#[derive(Debug, Default)]
pub struct SpillCounters {
    /// Bytes written to spill files since the executor started.
    pub bytes: AtomicU64,
    /// Spill files written since the executor started.
    pub files_written: AtomicU64,
    /// Spill files on disk now.
    pub files_live: AtomicU64,
}

impl SpillCounters {
    /// Counts one spill file of `bytes` written (and now on disk).
    pub fn wrote(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.files_written.fetch_add(1, Ordering::Relaxed);
        self.files_live.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one spill file removed.
    pub fn removed(&self) {
        let _ = self.files_live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }
}

/// One executor's memory budget and what each pool holds of it.
#[derive(Debug)]
pub struct MemoryManager {
    budget: u64,
    task_share: u64,
    pools: Mutex<Pools>,
    /// What went to disk.
    pub spills: Arc<SpillCounters>,
}

impl MemoryManager {
    /// A budget of `budget` bytes for an executor with `slots` slots.
    pub fn new(budget: u64, slots: u32) -> Self {
        MemoryManager {
            budget,
            task_share: budget / u64::from(slots.max(1)),
            pools: Mutex::default(),
            spills: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().expect("memory pools lock")
    }

    /// The whole budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The most execution memory one task may hold.
    pub fn task_share(&self) -> u64 {
        self.task_share
    }

    /// What each pool holds now.
    pub fn usage(&self) -> Pools {
        *self.lock()
    }

    /// Storage bytes execution may push out now: what storage holds above the
    /// half of the budget it keeps.
    pub fn evictable_storage(&self) -> u64 {
        self.lock().storage.saturating_sub(self.budget / 2)
    }

    fn take(&self, n: u64, pool: impl FnOnce(&mut Pools) -> &mut u64) -> bool {
        let mut p = self.lock();
        if p.total() + n > self.budget {
            return false;
        }
        *pool(&mut p) += n;
        true
    }

    fn give(&self, n: u64, pool: impl FnOnce(&mut Pools) -> &mut u64) {
        let mut p = self.lock();
        let held = pool(&mut p);
        *held = held.saturating_sub(n);
    }

    /// Takes `n` bytes for a running task if they are free (the caller makes room
    /// first: [`crate::Executor::reserve_execution`]).
    pub fn try_execution(&self, n: u64) -> bool {
        self.take(n, |p| &mut p.execution)
    }

    /// Gives back execution bytes.
    pub fn release_execution(&self, n: u64) {
        self.give(n, |p| &mut p.execution)
    }

    /// Takes `n` bytes for a finished map output if they are free.
    pub fn try_shuffle(&self, n: u64) -> bool {
        self.take(n, |p| &mut p.shuffle)
    }

    /// Gives back shuffle bytes (a map output dropped or written to disk).
    pub fn release_shuffle(&self, n: u64) {
        self.give(n, |p| &mut p.shuffle)
    }

    /// Takes `n` bytes for a persisted partition if they are free.
    pub fn try_storage(&self, n: u64) -> bool {
        self.take(n, |p| &mut p.storage)
    }

    /// Gives back storage bytes.
    pub fn release_storage(&self, n: u64) {
        self.give(n, |p| &mut p.storage)
    }

    /// Moves `n` execution bytes a task holds to the shuffle pool (its output is
    /// finished and stays in memory); never fails, since the bytes are held.
    pub fn execution_to_shuffle(&self, n: u64) {
        let mut p = self.lock();
        p.execution = p.execution.saturating_sub(n);
        p.shuffle += n;
    }
}

/// The execution memory one task holds, given back when it is dropped.
pub struct TaskMemory {
    exec: std::sync::Arc<crate::Executor>,
    held: u64,
}

impl TaskMemory {
    /// A task's account, holding nothing yet.
    pub fn new(exec: std::sync::Arc<crate::Executor>) -> Self {
        TaskMemory { exec, held: 0 }
    }

    /// Takes `n` more bytes, making room by pushing out map outputs and storage
    /// when needed; `false` when the task's share or the budget is used up (the
    /// task then spills what it holds).
    pub fn grow(&mut self, n: u64) -> bool {
        let memory = &self.exec.memory;
        if self.held + n > memory.task_share() {
            return false;
        }
        if !self.exec.reserve_execution(n) {
            return false;
        }
        self.held += n;
        true
    }

    /// Gives back everything held (after a spill).
    pub fn release_all(&mut self) {
        self.exec.memory.release_execution(self.held);
        self.held = 0;
    }

    /// Bytes held.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Hands the bytes held to the shuffle pool: the task's finished output stays
    /// in memory, counted there until it is dropped or written to disk.
    pub fn into_shuffle(mut self) -> u64 {
        let n = std::mem::take(&mut self.held);
        self.exec.memory.execution_to_shuffle(n);
        n
    }
}

impl Drop for TaskMemory {
    fn drop(&mut self) {
        self.exec.memory.release_execution(self.held);
    }
}

/// The default budget: 40% of this machine's memory (at least 256 MiB), leaving
/// room for the tasks' own sandboxes, other executors and the system.
pub fn default_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib << 10)
    });
    (total.unwrap_or(4 << 30) / 10 * 4).max(256 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_share_one_budget() {
        let m = MemoryManager::new(100, 2);
        assert_eq!(m.task_share(), 50);
        assert!(m.try_execution(40));
        assert!(m.try_storage(50));
        assert!(!m.try_shuffle(20), "only 10 left");
        assert!(m.try_shuffle(10));
        assert_eq!(m.evictable_storage(), 0, "storage keeps half the budget");
        m.execution_to_shuffle(40);
        assert_eq!(m.usage(), Pools { execution: 0, shuffle: 50, storage: 50 });
        m.release_shuffle(50);
        assert!(m.try_storage(20));
        assert_eq!(m.evictable_storage(), 20);
        m.release_storage(1000);
        assert_eq!(m.usage(), Pools::default());
    }
}
