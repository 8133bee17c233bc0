//! The executor's in-memory block store. Blocks are reference-counted bytes, moved
//! and shared, never copied; every block id starts with its application, so one
//! application's tasks can never be handed another's data.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use spindle_proto::ids::{AppId, ShuffleId};

/// Names one block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlockId {
    /// The bucket for one reduce partition written by one map task.
    Shuffle { app: AppId, shuffle: ShuffleId, map: u32, reduce: u32 },
}

impl BlockId {
    fn app(&self) -> &AppId {
        match self {
            BlockId::Shuffle { app, .. } => app,
        }
    }
}

impl std::fmt::Display for BlockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockId::Shuffle { app, shuffle, map, reduce } => {
                write!(f, "{app}/shuffle_{shuffle}_{map}_{reduce}")
            }
        }
    }
}

/// A block: a list of batches (each a whole number of framed records).
pub type Block = Vec<Bytes>;

/// All blocks this executor holds.
#[derive(Debug, Default)]
pub struct BlockStore {
    blocks: Mutex<HashMap<BlockId, Block>>,
}

impl BlockStore {
    /// Stores (or replaces, for a retried task) a block.
    pub fn put(&self, id: BlockId, block: Block) {
        self.blocks.lock().expect("block store lock").insert(id, block);
    }

    /// A block's batches, shared (no copy).
    pub fn get(&self, id: &BlockId) -> Option<Block> {
        self.blocks.lock().expect("block store lock").get(id).cloned()
    }

    /// Drops every block of `app`; returns how many were freed.
    pub fn release_app(&self, app: &AppId) -> u64 {
        let mut blocks = self.blocks.lock().expect("block store lock");
        let before = blocks.len();
        blocks.retain(|id, _| id.app() != app);
        (before - blocks.len()) as u64
    }

    /// Drops the buckets one map task wrote for `shuffle` (an attempt whose
    /// output is discarded).
    pub fn remove_map_output(&self, app: &AppId, shuffle: ShuffleId, map: u32) {
        self.blocks.lock().expect("block store lock").retain(|id, _| {
            !matches!(id, BlockId::Shuffle { app: a, shuffle: s, map: m, .. } if a == app && *s == shuffle && *m == map)
        });
    }

    /// Drops every block: the driver no longer counts on any of them (this
    /// executor was declared lost and registers again).
    pub fn clear(&self) -> u64 {
        let mut blocks = self.blocks.lock().expect("block store lock");
        let n = blocks.len() as u64;
        blocks.clear();
        n
    }

    /// (blocks, bytes) held.
    pub fn usage(&self) -> (u64, u64) {
        let blocks = self.blocks.lock().expect("block store lock");
        let bytes = blocks.values().flatten().map(|b| b.len() as u64).sum();
        (blocks.len() as u64, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_frees_only_that_application() {
        let store = BlockStore::default();
        let id = |app: &str, map| BlockId::Shuffle {
            app: AppId(app.into()),
            shuffle: ShuffleId(0),
            map,
            reduce: 0,
        };
        store.put(id("a", 0), vec![Bytes::from_static(b"xy")]);
        store.put(id("a", 1), vec![]);
        store.put(id("b", 0), vec![Bytes::from_static(b"z")]);
        assert_eq!(store.usage(), (3, 3));
        assert_eq!(store.release_app(&AppId("a".into())), 2);
        assert!(store.get(&id("a", 0)).is_none());
        assert_eq!(store.get(&id("b", 0)).unwrap()[0], Bytes::from_static(b"z"));
    }
}
