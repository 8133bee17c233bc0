//! Where the kept partitions of persisted datasets live, as executors reported
//! them: the task scheduler prefers those executors, and the storage page and
//! `/api/v1/applications/{app}/storage` show them. The map may be stale (an
//! executor can drop a block to make room); a task placed on the wrong executor
//! recomputes the partition from lineage, so staleness costs time, never results.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use spindle_proto::ids::ExecutorId;
use spindle_proto::{StorageLevel, TaskResult};

use crate::api::model::DatasetStorage;

/// One kept block: where, how big, at which level.
#[derive(Debug, Clone)]
struct Kept {
    executor: ExecutorId,
    bytes: u64,
    level: i32,
}

/// (dataset, partition, piece) -> the executor that kept it.
#[derive(Debug, Default)]
pub struct CacheLocations {
    blocks: Mutex<HashMap<(u32, u32, u32), Kept>>,
}

impl CacheLocations {
    /// Where a block was last kept.
    pub fn get(&self, dataset: u32, partition: u32, piece: u32) -> Option<ExecutorId> {
        self.blocks.lock().expect("cache locations lock").get(&(dataset, partition, piece)).map(|k| k.executor)
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
                && let Some(executor) = ExecutorId::parse(&result.executor_id)
            {
                blocks.insert(key, Kept { executor, bytes: c.bytes, level: c.level });
            } else {
                blocks.remove(&key);
            }
        }
    }

    /// Forgets every block of `dataset` (unpersisted).
    pub fn forget_dataset(&self, dataset: u32) {
        self.blocks.lock().expect("cache locations lock").retain(|(d, _, _), _| *d != dataset);
    }

    /// The kept partitions of each persisted dataset, by dataset id.
    pub fn summary(&self) -> Vec<DatasetStorage> {
        let blocks = self.blocks.lock().expect("cache locations lock");
        let mut by_dataset: BTreeMap<u32, (DatasetStorage, BTreeSet<u32>, BTreeSet<String>)> = BTreeMap::new();
        for (&(dataset, partition, _), kept) in blocks.iter() {
            let (d, partitions, executors) = by_dataset.entry(dataset).or_insert_with(|| {
                let level = StorageLevel::try_from(kept.level).unwrap_or(StorageLevel::MemoryOnly);
                let storage = DatasetStorage {
                    dataset,
                    level: level.as_str_name().to_lowercase().replace('_', "-"),
                    ..DatasetStorage::default()
                };
                (storage, BTreeSet::new(), BTreeSet::new())
            });
            d.blocks += 1;
            d.bytes += kept.bytes;
            partitions.insert(partition);
            executors.insert(kept.executor.to_string());
        }
        by_dataset
            .into_values()
            .map(|(mut d, partitions, executors)| {
                d.partitions = partitions.len() as u64;
                d.executors = executors.into_iter().collect();
                d
            })
            .collect()
    }
}
