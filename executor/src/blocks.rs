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
    Shuffle {
        /// The application.
        app: AppId,
        /// The shuffle, within the application.
        shuffle: ShuffleId,
        /// The map task (its partition) that wrote it.
        map: u32,
        /// The reduce partition it is for.
        reduce: u32,
    },
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

/// All blocks this executor holds, and the bytes each application holds in
/// them (blocks plus map outputs still being written).
#[derive(Debug, Default)]
pub struct BlockStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: HashMap<BlockId, Block>,
    app_bytes: HashMap<AppId, u64>,
}

fn size(block: &Block) -> u64 {
    block.iter().map(|b| b.len() as u64).sum()
}

impl Inner {
    fn add(&mut self, app: &AppId, n: u64) {
        *self.app_bytes.entry(app.clone()).or_default() += n;
    }

    fn sub(&mut self, app: &AppId, n: u64) {
        if let Some(held) = self.app_bytes.get_mut(app) {
            *held = held.saturating_sub(n);
            if *held == 0 {
                self.app_bytes.remove(app);
            }
        }
    }
}

/// Why a map output could not grow: the application's bytes and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    /// Bytes the application holds here, with the growth refused.
    pub held: u64,
    /// Its limit (`max_shuffle_memory`).
    pub limit: u64,
}

impl BlockStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("block store lock")
    }

    /// Stores (or replaces, for a retried task) a block.
    pub fn put(&self, id: BlockId, block: Block) {
        let mut inner = self.lock();
        let app = id.app().clone();
        inner.add(&app, size(&block));
        if let Some(old) = inner.blocks.insert(id, block) {
            inner.sub(&app, size(&old));
        }
    }

    /// A block's batches, shared (no copy).
    pub fn get(&self, id: &BlockId) -> Option<Block> {
        self.lock().blocks.get(id).cloned()
    }

    /// Counts `n` more bytes against `app` for a map output being written, unless
    /// that would pass `limit` (0: no limit).
    pub fn reserve(&self, app: &AppId, n: u64, limit: u64) -> Result<(), OverLimit> {
        let mut inner = self.lock();
        let held = inner.app_bytes.get(app).copied().unwrap_or(0);
        if limit > 0 && held + n > limit {
            return Err(OverLimit { held: held + n, limit });
        }
        inner.add(app, n);
        Ok(())
    }

    /// Gives back bytes counted by [`BlockStore::reserve`].
    pub fn unreserve(&self, app: &AppId, n: u64) {
        self.lock().sub(app, n);
    }

    /// Bytes `app` holds here.
    pub fn app_bytes(&self, app: &AppId) -> u64 {
        self.lock().app_bytes.get(app).copied().unwrap_or(0)
    }

    /// Drops every block of `app`; returns how many were freed.
    pub fn release_app(&self, app: &AppId) -> u64 {
        self.remove_where(app, |_| true)
    }

    /// Drops the buckets one map task wrote for `shuffle` (an attempt whose
    /// output is discarded).
    pub fn remove_map_output(&self, app: &AppId, shuffle: ShuffleId, map: u32) {
        self.remove_where(
            app,
            |id| matches!(id, BlockId::Shuffle { shuffle: s, map: m, .. } if *s == shuffle && *m == map),
        );
    }

    /// Drops `app`'s blocks for which `pred` holds, giving their bytes back;
    /// returns how many were dropped.
    fn remove_where(&self, app: &AppId, pred: impl Fn(&BlockId) -> bool) -> u64 {
        let mut inner = self.lock();
        let before = inner.blocks.len();
        let mut freed = 0;
        inner.blocks.retain(|id, b| {
            let keep = id.app() != app || !pred(id);
            if !keep {
                freed += size(b);
            }
            keep
        });
        inner.sub(app, freed);
        (before - inner.blocks.len()) as u64
    }

    /// Drops every block: the driver no longer counts on any of them (this
    /// executor was declared lost and registers again). Bytes reserved by map
    /// outputs still being written stay counted until they are given back.
    pub fn clear(&self) -> u64 {
        let mut inner = self.lock();
        let n = inner.blocks.len() as u64;
        let blocks = std::mem::take(&mut inner.blocks);
        for (id, b) in blocks {
            inner.sub(id.app(), size(&b));
        }
        n
    }

    /// (blocks, bytes) held.
    pub fn usage(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.blocks.len() as u64, inner.blocks.values().map(size).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_frees_only_that_application() {
        let store = BlockStore::default();
        let id = |app: &str, map| BlockId::Shuffle { app: AppId(app.into()), shuffle: ShuffleId(0), map, reduce: 0 };
        store.put(id("a", 0), vec![Bytes::from_static(b"xy")]);
        store.put(id("a", 1), vec![]);
        store.put(id("b", 0), vec![Bytes::from_static(b"z")]);
        assert_eq!(store.usage(), (3, 3));
        assert_eq!(store.release_app(&AppId("a".into())), 2);
        assert!(store.get(&id("a", 0)).is_none());
        assert_eq!(store.get(&id("b", 0)).unwrap()[0], Bytes::from_static(b"z"));
        assert_eq!((store.app_bytes(&AppId("a".into())), store.app_bytes(&AppId("b".into()))), (0, 1));
    }

    #[test]
    fn an_application_holds_no_more_than_its_limit() {
        let store = BlockStore::default();
        let app = AppId("a".into());
        let block = |map| BlockId::Shuffle { app: app.clone(), shuffle: ShuffleId(0), map, reduce: 0 };
        store.put(block(0), vec![Bytes::from(vec![0; 60])]);
        store.reserve(&app, 30, 100).unwrap();
        assert_eq!(store.reserve(&app, 20, 100), Err(OverLimit { held: 110, limit: 100 }));
        assert!(store.reserve(&AppId("b".into()), 100, 100).is_ok(), "each application has its own limit");
        store.unreserve(&app, 30);
        // A retried map task replaces its block: counted once.
        store.put(block(0), vec![Bytes::from(vec![0; 70])]);
        assert_eq!(store.app_bytes(&app), 70);
        store.remove_map_output(&app, ShuffleId(0), 0);
        assert_eq!(store.app_bytes(&app), 0);
        assert!(store.reserve(&app, 1000, 0).is_ok(), "0: no limit");
    }
}
