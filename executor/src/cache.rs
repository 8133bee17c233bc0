//! Persisted partitions (`persist` / `cache`): kept in memory within a budget
//! (their own cap, inside the memory manager's storage pool), least recently used
//! first out; blocks of memory-and-disk datasets that do not
//! fit, or are pushed out, go to this executor's local disk instead. A block that
//! is gone is computed again from lineage by the next task that needs it. Every
//! key starts with its application, as in the shuffle block store.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::StorageLevel;
use spindle_proto::ids::AppId;

use crate::memory::MemoryManager;

/// Names one kept partition (piece `piece` of a coalesced partition).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The application.
    pub app: AppId,
    /// The persisted dataset, by its id in the application's lineage.
    pub dataset: u32,
    /// The partition.
    pub partition: u32,
    /// The piece: 0, or which parent partition of a coalesced partition.
    pub piece: u32,
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/dataset_{}_{}_{}", self.app, self.dataset, self.partition, self.piece)
    }
}

struct InMemory {
    batches: Vec<Bytes>,
    bytes: u64,
    level: StorageLevel,
    last_used: u64,
}

struct OnDisk {
    path: PathBuf,
    bytes: u64,
}

#[derive(Default)]
struct State {
    memory: HashMap<CacheKey, InMemory>,
    disk: HashMap<CacheKey, OnDisk>,
    used: u64,
    tick: u64,
}

/// Counters for `spindle status` and tests.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    /// Reads that found their partition kept.
    pub hits: AtomicU64,
    /// Reads that did not (the partition is recomputed).
    pub misses: AtomicU64,
    /// Partitions dropped to make room.
    pub evictions: AtomicU64,
}

/// Usage figures: blocks and bytes in memory and on disk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheUsage {
    /// Kept partitions in memory.
    pub memory_blocks: u64,
    /// Kept partitions spilled to disk.
    pub disk_blocks: u64,
    /// Their bytes in memory.
    pub memory_bytes: u64,
    /// Their bytes on disk.
    pub disk_bytes: u64,
}

/// This executor's persisted partitions.
pub struct PartitionCache {
    budget: u64,
    dir: PathBuf,
    next_file: AtomicU64,
    state: Mutex<State>,
    memory: Arc<MemoryManager>,
    /// Counters.
    pub metrics: CacheMetrics,
}

impl PartitionCache {
    /// A cache holding at most `budget` bytes in memory, as far as `memory`'s
    /// storage pool has room, spilling under `dir` (created when first needed,
    /// removed when the cache is dropped).
    pub fn new(budget: u64, dir: PathBuf, memory: Arc<MemoryManager>) -> Self {
        PartitionCache {
            budget,
            dir,
            next_file: AtomicU64::new(0),
            state: Mutex::default(),
            memory,
            metrics: CacheMetrics::default(),
        }
    }

    /// Where partitions spill.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The block's batches, if it is kept (counted as a hit or a miss).
    pub fn get(&self, key: &CacheKey) -> Option<Vec<Bytes>> {
        let on_disk = {
            let mut st = self.state.lock().expect("cache lock");
            st.tick += 1;
            let tick = st.tick;
            if let Some(m) = st.memory.get_mut(key) {
                m.last_used = tick;
                self.metrics.hits.fetch_add(1, Ordering::Relaxed);
                return Some(m.batches.clone());
            }
            st.disk.get(key).map(|d| d.path.clone())
        };
        let found = on_disk.and_then(|path| match read_block(&path) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(block = %key, path = %path.display(), error = %e, "a spilled block could not be read; recomputing it");
                None
            }
        });
        let counter = if found.is_some() { &self.metrics.hits } else { &self.metrics.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps a block at `level`; returns whether it was kept (a memory-only block
    /// larger than the whole budget is not).
    pub fn put(&self, key: CacheKey, batches: Vec<Bytes>, level: StorageLevel) -> bool {
        let bytes: u64 = batches.iter().map(|b| b.len() as u64).sum();
        if level == StorageLevel::DiskOnly || (bytes > self.budget && level == StorageLevel::MemoryAndDisk) {
            return self.spill(key, &batches);
        }
        if bytes > self.budget {
            return false;
        }
        let mut spills = Vec::new();
        let kept = {
            let mut st = self.state.lock().expect("cache lock");
            if let Some(old) = st.memory.remove(&key) {
                st.used -= old.bytes;
                self.memory.release_storage(old.bytes);
            }
            // Room within the cache's cap and in the storage pool: the least
            // recently used blocks leave first.
            let fits = loop {
                if st.used + bytes <= self.budget && self.memory.try_storage(bytes) {
                    break true;
                }
                match self.evict_lru(&mut st) {
                    Some(spill) => spills.extend(spill),
                    None => break false,
                }
            };
            if fits {
                st.tick += 1;
                let last_used = st.tick;
                st.used += bytes;
                st.memory.insert(key.clone(), InMemory { batches: batches.clone(), bytes, level, last_used });
            }
            fits
        };
        for (k, b) in spills {
            self.spill(k, &b);
        }
        if !kept && level == StorageLevel::MemoryAndDisk {
            return self.spill(key, &batches);
        }
        kept
    }

    /// Drops the least recently used block from memory, giving its bytes back;
    /// returns it when it should go to disk instead, `None` when memory is empty.
    #[expect(clippy::option_option, reason = "none left / dropped / to spill")]
    fn evict_lru(&self, st: &mut State) -> Option<Option<(CacheKey, Vec<Bytes>)>> {
        let victim = st.memory.iter().min_by_key(|(_, m)| m.last_used).map(|(k, _)| k.clone())?;
        let m = st.memory.remove(&victim).expect("the victim is in memory");
        st.used -= m.bytes;
        self.memory.release_storage(m.bytes);
        self.metrics.evictions.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(block = %victim, bytes = m.bytes, "dropped a kept partition from memory to make room");
        Some((m.level == StorageLevel::MemoryAndDisk).then_some((victim, m.batches)))
    }

    /// Pushes the least recently used block out of memory (to disk, for a
    /// memory-and-disk dataset) for a running task; `false` when none is left.
    pub fn evict_one(&self) -> bool {
        let spill = {
            let mut st = self.state.lock().expect("cache lock");
            match self.evict_lru(&mut st) {
                Some(spill) => spill,
                None => return false,
            }
        };
        if let Some((k, b)) = spill {
            self.spill(k, &b);
        }
        true
    }

    /// Writes a block to disk; whether it worked.
    fn spill(&self, key: CacheKey, batches: &[Bytes]) -> bool {
        let path = self.dir.join(format!("block-{}", self.next_file.fetch_add(1, Ordering::Relaxed)));
        match write_block(&self.dir, &path, batches) {
            Ok(bytes) => {
                let mut st = self.state.lock().expect("cache lock");
                if let Some(old) = st.disk.insert(key, OnDisk { path, bytes }) {
                    let _ = std::fs::remove_file(old.path);
                }
                true
            }
            Err(e) => {
                tracing::warn!(block = %key, path = %path.display(), error = %e, "could not spill a kept partition to disk; it will be recomputed");
                let _ = std::fs::remove_file(&path);
                false
            }
        }
    }

    /// Drops the blocks `pick` selects; returns how many.
    fn remove_where(&self, pick: impl Fn(&CacheKey) -> bool) -> u64 {
        let mut st = self.state.lock().expect("cache lock");
        let before = st.memory.len() + st.disk.len();
        let mut freed = 0;
        st.memory.retain(|k, m| {
            let drop = pick(k);
            if drop {
                freed += m.bytes;
            }
            !drop
        });
        st.used -= freed;
        self.memory.release_storage(freed);
        st.disk.retain(|k, d| {
            let drop = pick(k);
            if drop {
                let _ = std::fs::remove_file(&d.path);
            }
            !drop
        });
        (before - st.memory.len() - st.disk.len()) as u64
    }

    /// Drops one dataset's blocks (unpersisted).
    pub fn remove_dataset(&self, app: &AppId, dataset: u32) -> u64 {
        self.remove_where(|k| k.app == *app && k.dataset == dataset)
    }

    /// Drops an application's blocks.
    pub fn release_app(&self, app: &AppId) -> u64 {
        self.remove_where(|k| k.app == *app)
    }

    /// Drops every block.
    pub fn clear(&self) -> u64 {
        self.remove_where(|_| true)
    }

    /// Blocks and bytes kept.
    pub fn usage(&self) -> CacheUsage {
        let st = self.state.lock().expect("cache lock");
        CacheUsage {
            memory_blocks: st.memory.len() as u64,
            disk_blocks: st.disk.len() as u64,
            memory_bytes: st.used,
            disk_bytes: st.disk.values().map(|d| d.bytes).sum(),
        }
    }
}

impl Drop for PartitionCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A spilled block: each batch as a little-endian u64 length, then its bytes.
fn write_block(dir: &std::path::Path, path: &std::path::Path, batches: &[Bytes]) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut bytes = 0;
    for b in batches {
        f.write_all(&(b.len() as u64).to_le_bytes())?;
        f.write_all(b)?;
        bytes += b.len() as u64;
    }
    f.flush()?;
    Ok(bytes)
}

fn read_block(path: &std::path::Path) -> std::io::Result<Vec<Bytes>> {
    let mut all = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut all)?;
    let all = Bytes::from(all);
    let mut batches = Vec::new();
    let mut at = 0;
    while at < all.len() {
        let len = all.get(at..at + 8).ok_or_else(|| std::io::Error::other("truncated block file"))?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        at += 8;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= all.len())
            .ok_or_else(|| std::io::Error::other("truncated block file"))?;
        batches.push(all.slice(at..end));
        at = end;
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dataset: u32, partition: u32) -> CacheKey {
        CacheKey { app: AppId("a".into()), dataset, partition, piece: 0 }
    }

    fn block(n: usize) -> Vec<Bytes> {
        vec![Bytes::from(vec![7u8; n])]
    }

    #[test]
    fn least_recently_used_blocks_leave_first_and_memory_and_disk_ones_spill() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PartitionCache::new(100, dir.path().join("blocks"), Arc::new(MemoryManager::new(1000, 1)));
        assert!(cache.put(key(1, 0), block(40), StorageLevel::MemoryOnly));
        assert!(cache.put(key(2, 0), block(40), StorageLevel::MemoryAndDisk));
        assert!(cache.get(&key(1, 0)).is_some(), "touch 1/0: now 2/0 is the oldest");
        assert!(cache.put(key(1, 1), block(40), StorageLevel::MemoryOnly));
        let u = cache.usage();
        assert_eq!((u.memory_blocks, u.memory_bytes, u.disk_blocks, u.disk_bytes), (2, 80, 1, 40));
        assert_eq!(cache.get(&key(2, 0)).unwrap(), block(40), "read back from disk");
        assert!(cache.put(key(1, 2), block(90), StorageLevel::MemoryOnly));
        assert!(cache.get(&key(1, 0)).is_none(), "memory-only blocks are gone once pushed out");
        assert!(!cache.put(key(3, 0), block(101), StorageLevel::MemoryOnly), "larger than the budget");
        assert!(cache.put(key(4, 0), block(101), StorageLevel::MemoryAndDisk), "larger than the budget: to disk");
        assert_eq!(cache.metrics.evictions.load(Ordering::Relaxed), 3);
        assert_eq!(cache.remove_dataset(&AppId("a".into()), 2), 1);
        assert_eq!(cache.release_app(&AppId("a".into())), 2);
        assert_eq!(cache.usage(), CacheUsage::default());
    }
}
