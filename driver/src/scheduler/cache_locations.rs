//! Where the kept partitions of persisted datasets live, as executors reported
//! them: the task scheduler prefers those executors. The map may be stale (an
//! executor can drop a block to make room); a task placed on the wrong executor
//! recomputes the partition from lineage, so staleness costs time, never results.

use std::collections::HashMap;
use std::sync::Mutex;

use spindle_proto::TaskResult;
use spindle_proto::ids::ExecutorId;

/// (dataset, partition, piece) -> the executor that kept it.
#[derive(Debug, Default)]
pub struct CacheLocations {
    blocks: Mutex<HashMap<(u32, u32, u32), ExecutorId>>,
}

impl CacheLocations {
    /// Where a block was last kept.
    pub fn get(&self, dataset: u32, partition: u32, piece: u32) -> Option<ExecutorId> {
        self.blocks.lock().expect("cache locations lock").get(&(dataset, partition, piece)).cloned()
    }

    /// Notes the blocks a successful task kept (or could not keep).
    pub fn record(&self, result: &TaskResult) {
        if result.cached.is_empty() {
            return;
        }
        let mut blocks = self.blocks.lock().expect("cache locations lock");
        for c in &result.cached {
            let key = (c.dataset, c.partition, c.piece);
            if c.stored
                && let Some(id) = ExecutorId::parse(&result.executor_id)
            {
                blocks.insert(key, id);
            } else {
                blocks.remove(&key);
            }
        }
    }

    /// Forgets every block of `dataset` (unpersisted).
    pub fn forget_dataset(&self, dataset: u32) {
        self.blocks.lock().expect("cache locations lock").retain(|(d, _, _), _| *d != dataset);
    }
}
