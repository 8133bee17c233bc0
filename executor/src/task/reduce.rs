//! Arranging a whole reduce partition before the guest reads it: sorting by key
//! bytes, grouping values by key, or grouping several shuffles together
//! (cogroup). The formats are the ones `wit/job.wit` documents for
//! `group-by-key` and `cogroup`: a group's value is a batch of unkeyed records.
//!
//! An external sort, as Spark's: fetched chunks are buffered in the task's share
//! of the executor's memory with a 16-byte entry per record (the key's first 8
//! bytes, the chunk, the record's offset). When the share is used up, the entries
//! are sorted and the records written to disk as a sorted run. At the end the runs
//! and what is left in memory are merged k ways; groups are consecutive equal keys
//! of that stream, so they come in key order. The sort is stable: equal keys keep
//! the order they were fetched in (earlier runs first). A partition that fits in
//! memory never touches the disk.
//!
//! A run file is blocks, each a little-endian u32 length and a batch of framed
//! records; a cogroup's values carry their side as a first byte.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter, Record};
use spindle_proto::ReduceMode;

use crate::memory::TaskMemory;
use crate::spill::SpillFile;
use crate::{Executor, ExecutorError};

fn malformed(e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::BadSpec(format!("a shuffle block holds malformed records: {e}"))
}

/// Run files are written in blocks of about this size.
const RUN_BLOCK: usize = 64 << 10;

/// One buffered record: its key's first 8 bytes (big-endian, zero-padded: they
/// order as the keys do, up to ties), its chunk and where it starts in it.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    chunk: u32,
    start: u32,
}

/// What a buffered record costs beside its bytes.
const ENTRY_BYTES: u64 = std::mem::size_of::<Entry>() as u64;

fn prefix(key: &[u8]) -> u64 {
    let mut b = [0; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// The record at `start` of a chunk whose records were all checked when it was
/// buffered.
fn record_at(chunk: &[u8], start: u32) -> Record<'_> {
    let mut r = BatchReader::new(&chunk[start as usize..]);
    r.next().expect("a record starts here").expect("checked when buffered")
}

/// How many entries ahead of the one being read the record is prefetched: the
/// entries are in key order, so their records are scattered over the buffer and
/// each one is a cache miss unless it was asked for early.
const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to bring the record at `start` of `chunk` into the cache.
#[inline(always)]
fn prefetch(chunk: &[u8], start: u32) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = chunk.get(start as usize) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it reads nothing and cannot fault, and
        // `p` points into `chunk` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(p).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (chunk, start);
}

/// Records fetched and not yet written to a run: chunks with their side, and an
/// entry per record.
#[derive(Default)]
struct Buffer {
    chunks: Vec<(Bytes, u8)>,
    entries: Vec<Entry>,
}

impl Buffer {
    /// Prefetches the record of the entry `ahead` places after `at`, if any.
    #[inline(always)]
    fn prefetch(&self, at: usize) {
        if let Some(e) = self.entries.get(at + PREFETCH_AHEAD) {
            prefetch(&self.chunks[e.chunk as usize].0, e.start);
        }
    }

    fn key(&self, e: &Entry) -> &[u8] {
        record_at(&self.chunks[e.chunk as usize].0, e.start).key.unwrap_or_default()
    }

    /// Sorts the entries by key (stably: ties by fetch order).
    fn sort(&mut self, descending: bool) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| {
            let by_key = a.prefix.cmp(&b.prefix).then_with(|| self.key(a).cmp(self.key(b)));
            let by_key = if descending { by_key.reverse() } else { by_key };
            by_key.then_with(|| (a.chunk, a.start).cmp(&(b.chunk, b.start)))
        });
        self.entries = entries;
    }
}

/// A fetched record of one side.
struct Rec {
    key: Bytes,
    side: u8,
    value: Bytes,
}

/// Where the merge reads sorted records from.
enum Source {
    Memory { buffer: Buffer, at: usize },
    Disk { run: SpillFile, at: u64, block: Bytes, pos: usize, cogroup: bool },
}

impl Source {
    fn next(&mut self) -> Result<Option<Rec>, ExecutorError> {
        match self {
            Source::Memory { buffer, at } => {
                let Some(e) = buffer.entries.get(*at) else { return Ok(None) };
                buffer.prefetch(*at);
                *at += 1;
                let (chunk, side) = &buffer.chunks[e.chunk as usize];
                let rec = record_at(chunk, e.start);
                let key = rec.key.map(|k| chunk.slice_ref(k)).unwrap_or_default();
                Ok(Some(Rec { key, side: *side, value: chunk.slice_ref(rec.value) }))
            }
            Source::Disk { run, at, block, pos, cogroup } => {
                if *pos >= block.len() {
                    if *at >= run.bytes() {
                        return Ok(None);
                    }
                    let io = |source| ExecutorError::Spill { path: run.path().display().to_string(), source };
                    let mut len = [0; 4];
                    run.read_exact_at(&mut len, *at).map_err(io)?;
                    let mut data = vec![0; u32::from_le_bytes(len) as usize];
                    run.read_exact_at(&mut data, *at + 4).map_err(io)?;
                    *at += 4 + data.len() as u64;
                    *block = Bytes::from(data);
                    *pos = 0;
                }
                let mut r = BatchReader::new(&block[*pos..]);
                let rec = r.next().expect("a block is not empty").map_err(malformed)?;
                let key = rec.key.map(|k| block.slice_ref(k)).unwrap_or_default();
                let (side, value) = match (*cogroup, rec.value.split_first()) {
                    (true, Some((side, value))) => (*side, block.slice_ref(value)),
                    _ => (0, block.slice_ref(rec.value)),
                };
                *pos += r.position();
                Ok(Some(Rec { key, side, value }))
            }
        }
    }
}

/// A reduce partition being gathered: buffered in memory, spilled to sorted runs.
pub struct Arranger {
    exec: Arc<Executor>,
    mode: ReduceMode,
    memory: TaskMemory,
    buffer: Buffer,
    runs: Vec<SpillFile>,
    spilled: u64,
}

impl Arranger {
    /// An empty partition to arrange by `mode` (a sort, a group or a cogroup).
    pub fn new(exec: Arc<Executor>, mode: ReduceMode) -> Self {
        let memory = TaskMemory::new(exec.clone());
        Arranger { exec, mode, memory, buffer: Buffer::default(), runs: Vec::new(), spilled: 0 }
    }

    fn descending(&self) -> bool {
        self.mode == ReduceMode::SortDescending
    }

    /// Takes one fetched chunk of side `side`; returns its number of records.
    pub fn add(&mut self, chunk: Bytes, side: u8) -> Result<u64, ExecutorError> {
        let mut starts = Vec::new();
        let mut r = BatchReader::new(&chunk);
        loop {
            let start = r.position();
            match r.next() {
                None => break,
                Some(rec) => {
                    let key = rec.map_err(malformed)?.key.unwrap_or_default();
                    starts.push((prefix(key), start as u32));
                }
            }
        }
        let cost = chunk.len() as u64 + ENTRY_BYTES * starts.len() as u64;
        if !self.memory.grow(cost) && !self.buffer.entries.is_empty() {
            self.spill()?;
            // A chunk larger than the whole share is held all the same: fetched
            // chunks are at most a few MiB.
            let _ = self.memory.grow(cost);
        }
        let idx = u32::try_from(self.buffer.chunks.len()).expect("fewer than 2^32 chunks in memory");
        self.buffer.entries.extend(starts.iter().map(|&(prefix, start)| Entry { prefix, chunk: idx, start }));
        self.buffer.chunks.push((chunk, side));
        Ok(starts.len() as u64)
    }

    /// Sorts what is buffered and writes it to disk as a run.
    fn spill(&mut self) -> Result<(), ExecutorError> {
        self.buffer.sort(self.descending());
        let path = self
            .exec
            .spill
            .run_file()
            .map_err(|source| ExecutorError::Spill { path: "a sorted run".into(), source })?;
        let io = |source| ExecutorError::Spill { path: path.display().to_string(), source };
        // Blocks are written as they fill, straight from their buffer.
        let mut file =
            std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path).map_err(io)?;
        let cogroup = self.mode == ReduceMode::Cogroup;
        let mut block = BatchWriter::with_capacity(RUN_BLOCK + 1024);
        let mut value = Vec::new();
        let mut len = 0u64;
        let mut flush = |block: &mut BatchWriter, out: &mut std::fs::File| {
            let b = block.take();
            out.write_all(&(b.len() as u32).to_le_bytes())?;
            out.write_all(&b)?;
            len += 4 + b.len() as u64;
            std::io::Result::Ok(())
        };
        for (i, e) in self.buffer.entries.iter().enumerate() {
            self.buffer.prefetch(i);
            let (chunk, side) = &self.buffer.chunks[e.chunk as usize];
            let rec = record_at(chunk, e.start);
            let key = Some(rec.key.unwrap_or_default());
            if cogroup {
                value.clear();
                value.push(*side);
                value.extend_from_slice(rec.value);
                block.push(key, &value);
            } else {
                block.push(key, rec.value);
            }
            if block.len() >= RUN_BLOCK {
                flush(&mut block, &mut file).map_err(io)?;
            }
        }
        if !block.is_empty() {
            flush(&mut block, &mut file).map_err(io)?;
        }
        self.spilled += len;
        tracing::debug!(run = %path.display(), bytes = len, records = self.buffer.entries.len(), "spilled a sorted run");
        self.runs.push(SpillFile::new(path, file, len, &self.exec.memory.spills));
        self.buffer = Buffer::default();
        self.memory.release_all();
        Ok(())
    }

    /// Ends the gathering: the partition, merged, handed out in batches of about
    /// `batch_bytes`.
    pub fn finish(mut self, sides: usize, batch_bytes: usize) -> Result<Merged, ExecutorError> {
        self.buffer.sort(self.descending());
        let cogroup = self.mode == ReduceMode::Cogroup;
        let mut sources: Vec<Source> = std::mem::take(&mut self.runs)
            .into_iter()
            .map(|run| Source::Disk { run, at: 0, block: Bytes::new(), pos: 0, cogroup })
            .collect();
        sources.push(Source::Memory { buffer: std::mem::take(&mut self.buffer), at: 0 });
        let descending = self.descending();
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (src, s) in sources.iter_mut().enumerate() {
            if let Some(rec) = s.next()? {
                heap.push(Head { rec, src, descending });
            }
        }
        Ok(Merged {
            mode: self.mode,
            sides,
            batch_bytes,
            limit: self.exec.memory.task_share(),
            sources,
            heap,
            spilled: self.spilled,
            _memory: self.memory,
        })
    }
}

/// A source's next record, ordered for the merge: [`BinaryHeap`] pops the
/// greatest, so the record that comes first is the greatest.
struct Head {
    rec: Rec,
    src: usize,
    descending: bool,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_key = self.rec.key.cmp(&other.rec.key);
        let by_key = if self.descending { by_key } else { by_key.reverse() };
        // Ties: the earlier source (fetched earlier) first.
        by_key.then_with(|| other.src.cmp(&self.src))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// A reduce partition merged from its sorted runs, handed out in batches.
pub struct Merged {
    mode: ReduceMode,
    sides: usize,
    batch_bytes: usize,
    limit: u64,
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    spilled: u64,
    /// The memory of the records still buffered, held until they are handed out.
    _memory: TaskMemory,
}

impl Merged {
    fn pop(&mut self) -> Result<Option<Rec>, ExecutorError> {
        let Some(head) = self.heap.pop() else { return Ok(None) };
        if let Some(rec) = self.sources[head.src].next()? {
            self.heap.push(Head { rec, src: head.src, descending: head.descending });
        }
        Ok(Some(head.rec))
    }

    /// Bytes written to runs while the partition was gathered.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled
    }

    /// The next batch, `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        let mut out = BatchWriter::with_capacity(self.batch_bytes + 1024);
        match self.mode {
            ReduceMode::Group | ReduceMode::Cogroup => {
                while out.len() < self.batch_bytes {
                    let Some(first) = self.pop()? else { break };
                    let mut values: Vec<BatchWriter> = (0..self.sides).map(|_| BatchWriter::default()).collect();
                    let mut size = first.value.len() as u64;
                    values[usize::from(first.side)].push(None, &first.value);
                    while self.heap.peek().is_some_and(|h| h.rec.key == first.key) {
                        let rec = self.pop()?.expect("peeked");
                        size += rec.value.len() as u64;
                        if size > self.limit {
                            return Err(ExecutorError::GroupTooLarge {
                                key: show_key(&first.key),
                                size,
                                limit: self.limit,
                            });
                        }
                        let side = values.get_mut(usize::from(rec.side)).ok_or_else(|| {
                            ExecutorError::BadSpec(format!("a sorted run names side {} of {}", rec.side, self.sides))
                        })?;
                        side.push(None, &rec.value);
                    }
                    if self.mode == ReduceMode::Group {
                        out.push(Some(&first.key), &values[0].take());
                    } else {
                        let mut all = BatchWriter::default();
                        for v in &mut values {
                            all.push(None, &v.take());
                        }
                        out.push(Some(&first.key), &all.finish());
                    }
                }
            }
            _ => {
                while out.len() < self.batch_bytes {
                    let Some(rec) = self.pop()? else { break };
                    out.push(Some(&rec.key), &rec.value);
                }
            }
        }
        Ok((!out.is_empty()).then(|| out.finish()))
    }
}

/// A key as shown in an error: its first 32 bytes, as text where they are.
fn show_key(key: &[u8]) -> String {
    let shown = String::from_utf8_lossy(&key[..key.len().min(32)]).into_owned();
    if key.len() > 32 { format!("{shown:?}... ({} bytes)", key.len()) } else { format!("{shown:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn batch(records: &[(&str, &str)]) -> Bytes {
        let mut w = BatchWriter::default();
        for (k, v) in records {
            w.push(Some(k.as_bytes()), v.as_bytes());
        }
        Bytes::from(w.finish())
    }

    fn records(mut merged: Merged) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(b) = merged.next_batch().unwrap() {
            out.extend(BatchReader::new(&b).map(|r| r.unwrap()).map(|r| (r.key.unwrap().to_vec(), r.value.to_vec())));
        }
        out
    }

    fn values(batch: &[u8]) -> Vec<String> {
        BatchReader::new(batch).map(|r| String::from_utf8(r.unwrap().value.to_vec()).unwrap()).collect()
    }

    fn executor(memory: u64) -> (Arc<Executor>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::ExecutorConfig {
            memory,
            slots: 1,
            spill_dir: Some(dir.path().to_path_buf()),
            compiled_cache_dir: None,
            ..Default::default()
        };
        let source: Arc<dyn crate::ArtifactSource> = Arc::new(crate::artifacts::NoArtifacts);
        (Executor::new(config, source).unwrap(), dir)
    }

    fn arrange(exec: &Arc<Executor>, sides: Vec<Vec<Bytes>>, mode: ReduceMode, batch_bytes: usize) -> Merged {
        let mut a = Arranger::new(exec.clone(), mode);
        let n = sides.len();
        for (side, chunks) in sides.into_iter().enumerate() {
            for c in chunks {
                a.add(c, side as u8).unwrap();
            }
        }
        a.finish(n, batch_bytes).unwrap()
    }

    #[test]
    fn sorts_stably_both_ways() {
        let (exec, _dir) = executor(1 << 30);
        let sides = vec![vec![batch(&[("b", "1"), ("a", "2")]), batch(&[("b", "3"), ("c", "4")])]];
        let asc = records(arrange(&exec, sides.clone(), ReduceMode::SortAscending, 1));
        let keys: Vec<_> = asc.iter().map(|(k, v)| format!("{}{}", k[0] as char, v[0] as char)).collect();
        assert_eq!(keys, ["a2", "b1", "b3", "c4"]);
        let desc = records(arrange(&exec, sides, ReduceMode::SortDescending, 1 << 16));
        let keys: Vec<_> = desc.iter().map(|(k, v)| format!("{}{}", k[0] as char, v[0] as char)).collect();
        assert_eq!(keys, ["c4", "b1", "b3", "a2"]);
    }

    #[test]
    fn groups_and_cogroups_values_as_batches() {
        let (exec, _dir) = executor(1 << 30);
        let left = vec![batch(&[("k", "1"), ("j", "2"), ("k", "3")])];
        let right = vec![batch(&[("k", "x"), ("z", "y")])];
        let grouped = records(arrange(&exec, vec![left.clone()], ReduceMode::Group, 1 << 16));
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[1].0.as_slice(), values(&grouped[1].1)), (&b"k"[..], vec!["1".to_string(), "3".into()]));
        let co = records(arrange(&exec, vec![left, right], ReduceMode::Cogroup, 1 << 16));
        let by_key: HashMap<String, Vec<Vec<String>>> = co
            .iter()
            .map(|(k, v)| {
                let sides = BatchReader::new(v).map(|s| values(s.unwrap().value)).collect();
                (String::from_utf8(k.clone()).unwrap(), sides)
            })
            .collect();
        assert_eq!(by_key["k"], vec![vec!["1".to_string(), "3".into()], vec!["x".to_string()]]);
        assert_eq!(by_key["j"], vec![vec!["2".to_string()], vec![]]);
        assert_eq!(by_key["z"], vec![vec![], vec!["y".to_string()]]);
    }

    /// Many small chunks in a small budget: runs on disk, merged into the same
    /// answer as a sort in memory, and removed afterwards.
    #[test]
    fn partitions_larger_than_memory_go_through_runs_on_disk() {
        let (exec, dir) = executor(64 << 10);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut all: Vec<(String, String)> = Vec::new();
        let mut left = Vec::new();
        let mut right = Vec::new();
        for c in 0..200 {
            let recs: Vec<(String, String)> =
                (0..50).map(|i| (format!("key{:04}", rng.u32(0..500)), format!("v{c}-{i}"))).collect();
            let refs: Vec<(&str, &str)> = recs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            if c % 2 == 0 {
                left.push(batch(&refs))
            } else {
                right.push(batch(&refs))
            }
            all.extend(recs);
        }
        let mut want = all.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0)); // stable, as fetched: every left chunk, then every right one
        let fetched: Vec<Bytes> = left.iter().chain(&right).cloned().collect();
        let merged = arrange(&exec, vec![fetched], ReduceMode::SortAscending, 4096);
        assert!(merged.spilled_bytes() > 0, "the partition went to disk");
        let got = records(merged);
        let mut order: Vec<(String, String)> = Vec::new();
        for (l, r) in [&left, &right].into_iter().flatten().flat_map(|b| {
            BatchReader::new(b)
                .map(|r| r.unwrap())
                .map(|r| (r.key.unwrap().to_vec(), r.value.to_vec()))
                .collect::<Vec<_>>()
        }) {
            order.push((String::from_utf8(l).unwrap(), String::from_utf8(r).unwrap()));
        }
        order.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<(String, String)> =
            got.into_iter().map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())).collect();
        assert_eq!(got, order, "sorted stably");
        let co = records(arrange(&exec, vec![left, right], ReduceMode::Cogroup, 4096));
        let mut groups = 0;
        let mut values_seen = 0;
        for (k, v) in &co {
            let sides: Vec<Vec<String>> = BatchReader::new(v).map(|s| values(s.unwrap().value)).collect();
            assert_eq!(sides.len(), 2);
            values_seen += sides[0].len() + sides[1].len();
            let key = String::from_utf8(k.clone()).unwrap();
            let mut want_left: Vec<String> = Vec::new();
            for (wk, wv) in &want {
                if *wk == key && wv.split('-').next().unwrap()[1..].parse::<u32>().unwrap() % 2 == 0 {
                    want_left.push(wv.clone());
                }
            }
            assert_eq!(sides[0], want_left, "{key}: left values in fetch order");
            groups += 1;
        }
        assert!(co.windows(2).all(|w| w[0].0 < w[1].0), "groups in key order, each once");
        assert_eq!((groups > 400, values_seen), (true, all.len()));
        assert_eq!(exec.memory.usage().execution, 0, "memory given back");
        let leftover: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.is_file()).collect();
        assert!(leftover.is_empty(), "runs removed: {leftover:?}");
    }

    #[test]
    fn a_group_larger_than_a_task_may_hold_is_an_error_naming_the_key() {
        let (exec, _dir) = executor(64 << 10);
        let big = "x".repeat(1000);
        let chunks: Vec<Bytes> = (0..100).map(|_| batch(&[("hot", big.as_str())])).collect();
        let mut merged = arrange(&exec, vec![chunks], ReduceMode::Group, 1 << 16);
        let err = merged.next_batch().unwrap_err().to_string();
        assert!(err.contains("key \"hot\"") && err.contains("over the 64 KiB"), "{err}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
    }
}
