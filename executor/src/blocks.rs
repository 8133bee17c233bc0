//! The executor's shuffle block store: each map task's output, held in memory
//! (reference-counted bytes, moved and shared, never copied) or in one file on
//! local disk. Every key starts with its application, so one application's tasks
//! can never be handed another's data.
//!
//! A map output in memory counts against the memory manager's shuffle pool; when
//! running tasks need room, the oldest are written to disk
//! ([`BlockStore::spill_oldest`]). A file holds, for each reduce partition, a list
//! of segments (a map task that spilled while it ran appended every partition's
//! buckets at each spill); a segment is chunks of framed records, each chunk a
//! little-endian u32 length and its bytes. The segments' places are kept in memory
//! (the index), since files do not outlive the executor.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::ids::{AppId, ShuffleId};

use crate::memory::{MemoryManager, SpillCounters};
use crate::spill::{SpillDir, SpillFile};

/// Names one map task's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapKey {
    /// The application.
    pub app: AppId,
    /// The shuffle, within the application.
    pub shuffle: ShuffleId,
    /// The map task (its partition) that wrote it.
    pub map: u32,
}

impl std::fmt::Display for MapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/shuffle_{}_{}", self.app, self.shuffle, self.map)
    }
}

/// A map output written to disk: its file and where each reduce partition's
/// segments are. The file is removed when the last reader lets go of it.
#[derive(Debug)]
pub struct MapFile {
    file: SpillFile,
    /// Per reduce partition: (offset, length) of each segment, in write order.
    segments: Vec<Vec<(u64, u64)>>,
}

/// Writes map outputs' buckets to a file, appending: what a map task that spills
/// and the store's eviction share.
pub struct MapFileWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    at: u64,
    segments: Vec<Vec<(u64, u64)>>,
}

impl MapFileWriter {
    /// A new file at `path` for an output of `partitions` reduce partitions.
    pub fn create(path: PathBuf, partitions: usize) -> std::io::Result<Self> {
        let file = crate::spill::create(&path)?;
        Ok(MapFileWriter {
            path,
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            at: 0,
            segments: vec![Vec::new(); partitions],
        })
    }

    /// The file being written.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends reduce partition `reduce`'s chunks as one segment.
    pub fn append(&mut self, reduce: usize, chunks: &[Bytes]) -> std::io::Result<()> {
        let start = self.at;
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            let len = u32::try_from(c.len()).map_err(|_| std::io::Error::other("a shuffle chunk of 4 GiB or more"))?;
            self.out.write_all(&len.to_le_bytes())?;
            self.out.write_all(c)?;
            self.at += 4 + c.len() as u64;
        }
        if self.at > start {
            self.segments[reduce].push((start, self.at - start));
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.at
    }

    /// Flushes the file and makes it readable; counted as one spill file.
    pub fn finish(self, counters: &Arc<SpillCounters>) -> std::io::Result<MapFile> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(MapFile { file: SpillFile::new(self.path, file, self.at, counters), segments: self.segments })
    }
}

/// The chunks of one reduce partition's bucket, read from memory or disk.
pub enum BucketReader {
    /// Shared bytes.
    Memory(std::vec::IntoIter<Bytes>),
    /// Chunks read from the file one at a time.
    Disk {
        /// The file (kept while it is read).
        file: Arc<MapFile>,
        /// Segments not read yet.
        segments: std::collections::VecDeque<(u64, u64)>,
    },
}

impl BucketReader {
    /// The next non-empty chunk, `None` at the end. Reads the disk synchronously
    /// (chunks are tens of KiB, mostly from the page cache).
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        match self {
            BucketReader::Memory(chunks) => Ok(chunks.find(|c| !c.is_empty())),
            BucketReader::Disk { file, segments } => {
                let Some((at, left)) = segments.front_mut() else { return Ok(None) };
                let mut len = [0; 4];
                file.file.read_exact_at(&mut len, *at)?;
                let len = u64::from(u32::from_le_bytes(len));
                if 4 + len > *left {
                    return Err(std::io::Error::other(format!(
                        "shuffle file {} is corrupt: a chunk runs past its segment",
                        file.file.path().display()
                    )));
                }
                let mut chunk = vec![0; len as usize];
                file.file.read_exact_at(&mut chunk, *at + 4)?;
                *at += 4 + len;
                *left -= 4 + len;
                if *left == 0 {
                    segments.pop_front();
                }
                Ok(Some(Bytes::from(chunk)))
            }
        }
    }
}

enum Stored {
    Memory { buckets: Vec<Vec<Bytes>>, bytes: u64, age: u64, spilling: bool },
    Disk(Arc<MapFile>),
}

impl Stored {
    fn bytes(&self) -> u64 {
        match self {
            Stored::Memory { bytes, .. } => *bytes,
            Stored::Disk(f) => f.file.bytes(),
        }
    }
}

/// All map outputs this executor holds, and the bytes each application holds in
/// them (outputs plus map outputs still being written), in memory or on disk.
pub struct BlockStore {
    inner: Mutex<Inner>,
    memory: Arc<MemoryManager>,
}

#[derive(Default)]
struct Inner {
    outputs: HashMap<MapKey, Stored>,
    app_bytes: HashMap<AppId, u64>,
    age: u64,
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

/// What the store holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BlockUsage {
    /// Buckets (map outputs × reduce partitions).
    pub blocks: u64,
    /// Bytes of map outputs in memory.
    pub memory_bytes: u64,
    /// Bytes of map outputs on disk.
    pub disk_bytes: u64,
}

impl BlockStore {
    /// An empty store whose in-memory outputs count against `memory`.
    pub fn new(memory: Arc<MemoryManager>) -> Self {
        BlockStore { inner: Mutex::default(), memory }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("block store lock")
    }

    fn insert(&self, key: MapKey, stored: Stored) {
        let mut inner = self.lock();
        let app = key.app.clone();
        inner.add(&app, stored.bytes());
        if let Some(old) = inner.outputs.insert(key, stored) {
            inner.sub(&app, old.bytes());
            self.forget(old);
        }
    }

    /// Gives back what a dropped output held in memory (a file goes when its
    /// last reader lets go).
    fn forget(&self, old: Stored) {
        if let Stored::Memory { bytes, .. } = old {
            self.memory.release_shuffle(bytes);
        }
    }

    /// Stores (or replaces, for a retried task) a map output kept in memory,
    /// whose `bytes` the shuffle pool already counts.
    pub fn put_memory(&self, key: MapKey, buckets: Vec<Vec<Bytes>>, bytes: u64) {
        let age = {
            let mut inner = self.lock();
            inner.age += 1;
            inner.age
        };
        self.insert(key, Stored::Memory { buckets, bytes, age, spilling: false });
    }

    /// Stores (or replaces) a map output written to disk.
    pub fn put_disk(&self, key: MapKey, file: MapFile) {
        self.insert(key, Stored::Disk(Arc::new(file)));
    }

    /// Whether a map output is here.
    pub fn contains(&self, key: &MapKey) -> bool {
        self.lock().outputs.contains_key(key)
    }

    /// A reader of one reduce partition's bucket of a map output, if it is here.
    pub fn bucket(&self, key: &MapKey, reduce: u32) -> Option<BucketReader> {
        let inner = self.lock();
        Some(match inner.outputs.get(key)? {
            Stored::Memory { buckets, .. } => {
                BucketReader::Memory(buckets.get(reduce as usize).cloned().unwrap_or_default().into_iter())
            }
            Stored::Disk(file) => BucketReader::Disk {
                segments: file.segments.get(reduce as usize).cloned().unwrap_or_default().into(),
                file: file.clone(),
            },
        })
    }

    /// Writes the oldest map output held in memory to disk, giving its memory
    /// back; `false` when none is left to write. Readers already reading it go on
    /// reading the memory they hold.
    pub fn spill_oldest(&self, dir: &SpillDir) -> bool {
        let (key, buckets) = {
            let mut inner = self.lock();
            let oldest = inner
                .outputs
                .iter_mut()
                .filter_map(|(k, s)| match s {
                    Stored::Memory { age, spilling: false, .. } => Some((*age, k)),
                    _ => None,
                })
                .min_by_key(|(age, _)| *age)
                .map(|(_, k)| k.clone());
            let Some(key) = oldest else { return false };
            let Some(Stored::Memory { buckets, spilling, .. }) = inner.outputs.get_mut(&key) else {
                unreachable!("the oldest output is in memory")
            };
            *spilling = true;
            (key, buckets.clone())
        };
        let written = dir.shuffle_file(&key.app, key.shuffle, key.map).and_then(|path| {
            let mut w = MapFileWriter::create(path, buckets.len())?;
            for (reduce, chunks) in buckets.iter().enumerate() {
                w.append(reduce, chunks)?;
            }
            w.finish(&self.memory.spills)
        });
        let mut inner = self.lock();
        match written {
            Ok(file) => {
                // Unless it was dropped or replaced meanwhile.
                if let Some(stored @ Stored::Memory { spilling: true, .. }) = inner.outputs.get_mut(&key) {
                    let file = Stored::Disk(Arc::new(file));
                    let old = std::mem::replace(stored, file);
                    let on_disk = inner.outputs[&key].bytes();
                    inner.sub(&key.app, old.bytes());
                    inner.add(&key.app, on_disk);
                    drop(inner);
                    tracing::debug!(output = %key, bytes = old.bytes(), "wrote a map output to disk to make room");
                    self.forget(old);
                }
                true
            }
            Err(e) => {
                tracing::warn!(output = %key, error = %e, "could not write a map output to disk; it stays in memory");
                // Never picked again (it is marked as spilling), so the caller moves on.
                true
            }
        }
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

    /// Drops every output of `app`; returns how many buckets were freed.
    pub fn release_app(&self, app: &AppId) -> u64 {
        self.remove_where(|k| k.app == *app)
    }

    /// Drops the output one map task wrote for `shuffle` (an attempt whose
    /// output is discarded).
    pub fn remove_map_output(&self, app: &AppId, shuffle: ShuffleId, map: u32) {
        self.remove_where(|k| k.app == *app && k.shuffle == shuffle && k.map == map);
    }

    /// Drops the outputs for which `pred` holds, giving their bytes back; returns
    /// how many buckets were dropped.
    fn remove_where(&self, pred: impl Fn(&MapKey) -> bool) -> u64 {
        let mut dropped = Vec::new();
        {
            let mut inner = self.lock();
            let keys: Vec<MapKey> = inner.outputs.keys().filter(|k| pred(k)).cloned().collect();
            for k in keys {
                let old = inner.outputs.remove(&k).expect("listed");
                inner.sub(&k.app, old.bytes());
                dropped.push(old);
            }
        }
        let mut buckets = 0;
        for old in dropped {
            buckets += match &old {
                Stored::Memory { buckets, .. } => buckets.len(),
                Stored::Disk(f) => f.segments.len(),
            } as u64;
            self.forget(old);
        }
        buckets
    }

    /// Drops every output: the driver no longer counts on any of them (this
    /// executor was declared lost and registers again). Bytes reserved by map
    /// outputs still being written stay counted until they are given back.
    pub fn clear(&self) -> u64 {
        self.remove_where(|_| true)
    }

    /// What the store holds.
    pub fn usage(&self) -> BlockUsage {
        let inner = self.lock();
        let mut u = BlockUsage::default();
        for s in inner.outputs.values() {
            match s {
                Stored::Memory { buckets, bytes, .. } => {
                    u.blocks += buckets.len() as u64;
                    u.memory_bytes += bytes;
                }
                Stored::Disk(f) => {
                    u.blocks += f.segments.len() as u64;
                    u.disk_bytes += f.file.bytes();
                }
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(app: &str, map: u32) -> MapKey {
        MapKey { app: AppId(app.into()), shuffle: ShuffleId(0), map }
    }

    fn read_all(mut r: BucketReader) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            all.extend_from_slice(&c);
        }
        all
    }

    fn store(budget: u64) -> BlockStore {
        BlockStore::new(Arc::new(MemoryManager::new(budget, 1)))
    }

    #[test]
    fn release_frees_only_that_application() {
        let store = store(100);
        store.memory.try_shuffle(3);
        store.put_memory(key("a", 0), vec![vec![Bytes::from_static(b"xy")]], 2);
        store.put_memory(key("a", 1), vec![vec![]], 0);
        store.put_memory(key("b", 0), vec![vec![Bytes::from_static(b"z")]], 1);
        assert_eq!(store.usage(), BlockUsage { blocks: 3, memory_bytes: 3, disk_bytes: 0 });
        assert_eq!(store.release_app(&AppId("a".into())), 2);
        assert!(store.bucket(&key("a", 0), 0).is_none());
        assert_eq!(read_all(store.bucket(&key("b", 0), 0).unwrap()), b"z");
        assert_eq!((store.app_bytes(&AppId("a".into())), store.app_bytes(&AppId("b".into()))), (0, 1));
        assert_eq!(store.memory.usage().shuffle, 1);
    }

    #[test]
    fn an_application_holds_no_more_than_its_limit() {
        let store = store(1000);
        let app = AppId("a".into());
        store.put_memory(key("a", 0), vec![vec![Bytes::from(vec![0; 60])]], 60);
        store.reserve(&app, 30, 100).unwrap();
        assert_eq!(store.reserve(&app, 20, 100), Err(OverLimit { held: 110, limit: 100 }));
        assert!(store.reserve(&AppId("b".into()), 100, 100).is_ok(), "each application has its own limit");
        store.unreserve(&app, 30);
        // A retried map task replaces its output: counted once.
        store.put_memory(key("a", 0), vec![vec![Bytes::from(vec![0; 70])]], 70);
        assert_eq!(store.app_bytes(&app), 70);
        store.remove_map_output(&app, ShuffleId(0), 0);
        assert_eq!(store.app_bytes(&app), 0);
        assert!(store.reserve(&app, 1000, 0).is_ok(), "0: no limit");
    }

    #[test]
    fn the_oldest_outputs_go_to_disk_and_read_back_the_same() {
        let root = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(root.path());
        let store = store(1000);
        let buckets = |n: u8| {
            vec![vec![Bytes::from(vec![n; 10]), Bytes::from(vec![n + 1; 5])], vec![], vec![Bytes::from(vec![n; 3])]]
        };
        assert!(store.memory.try_shuffle(36));
        store.put_memory(key("a", 0), buckets(1), 18);
        store.put_memory(key("a", 1), buckets(7), 18);
        assert!(store.spill_oldest(&dir));
        let u = store.usage();
        assert_eq!((u.memory_bytes, u.disk_bytes), (18, 18 + 3 * 4), "map 0 is on disk, framed");
        assert_eq!(store.memory.usage().shuffle, 18);
        let mut want = vec![1u8; 10];
        want.extend([2; 5]);
        assert_eq!(read_all(store.bucket(&key("a", 0), 0).unwrap()), want);
        assert_eq!(read_all(store.bucket(&key("a", 0), 1).unwrap()), b"");
        assert_eq!(read_all(store.bucket(&key("a", 0), 2).unwrap()), vec![1u8; 3]);
        assert!(store.spill_oldest(&dir));
        assert!(!store.spill_oldest(&dir), "nothing left in memory");
        assert_eq!(store.memory.spills.files_live.load(std::sync::atomic::Ordering::Relaxed), 2);
        let reading = store.bucket(&key("a", 1), 0).unwrap();
        store.release_app(&AppId("a".into()));
        assert_eq!(read_all(reading), [vec![7u8; 10], vec![8; 5]].concat(), "a reader keeps its file");
        assert_eq!(store.memory.spills.files_live.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(std::fs::read_dir(dir.path().join("shuffle/a")).unwrap().count(), 0);
    }
}
