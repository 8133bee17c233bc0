//! A map task's shuffle output: records cut into one bucket per reduce partition,
//! held in memory within the task's share of the executor's memory budget, and
//! appended to the task's one data file on local disk whenever that share is used
//! up (every bucket at once, as one segment each). A finished output that never
//! spilled stays in memory, in the shuffle pool; one that did is finished on disk.

use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter, partition_of};
use spindle_proto::ids::{AppId, ShuffleId};
use spindle_proto::{ShuffleWrite, TaskResult, TaskSpec, shuffle_write};
use spindle_sandbox::Failure;
use spindle_sandbox::limits::bytes;

use crate::blocks::{MapFileWriter, MapKey};
use crate::memory::TaskMemory;
use crate::{Executor, ExecutorError};

/// Bucket chunks are cut at about this size, so reducers get large batches.
const BUCKET_CHUNK: usize = 64 << 10;

/// Which bucket each record of a map task goes to.
pub enum Partitioner {
    Hash,
    /// Upper-inclusive bounds; `descending` numbers the ranges from the top.
    Range {
        bounds: Vec<Vec<u8>>,
        descending: bool,
    },
    /// The next bucket, round and round.
    RoundRobin {
        next: u32,
    },
    /// The bucket the key's first 4 bytes name (big-endian), modulo the count.
    Prefix,
}

impl Partitioner {
    #[inline]
    fn bucket(&mut self, key: Option<&[u8]>, n: u32) -> u32 {
        match self {
            Partitioner::Hash => partition_of(key, n),
            Partitioner::Range { bounds, descending } => {
                let key = key.unwrap_or_default();
                let i = bounds.partition_point(|b| b.as_slice() < key) as u32;
                let i = i.min(n - 1);
                if *descending { n - 1 - i } else { i }
            }
            Partitioner::RoundRobin { next } => {
                let b = *next % n;
                *next = next.wrapping_add(1);
                b
            }
            Partitioner::Prefix => match key.and_then(|k| k.first_chunk::<4>()) {
                Some(prefix) => u32::from_be_bytes(*prefix) % n,
                None => 0,
            },
        }
    }
}

/// The bytes a map output being written counts against its application; given
/// back when the output is stored or dropped.
pub struct ShuffleHold {
    exec: Arc<Executor>,
    app: AppId,
    bytes: u64,
    limit: u64,
}

impl ShuffleHold {
    fn grow(&mut self, n: u64) -> Result<(), Failure> {
        self.exec.blocks.reserve(&self.app, n, self.limit).map_err(|over| {
            Failure::Refused(format!(
                "application {} would hold {} of shuffle data on executor {}, over its limit of {} (max_shuffle_memory); \
                 shuffle fewer or smaller records (reduce_by_key combines before the shuffle), or ask the operator \
                 for a larger limit",
                self.app,
                bytes(over.held),
                self.exec.id(),
                bytes(over.limit)
            ))
        })?;
        self.bytes += n;
        Ok(())
    }
}

impl Drop for ShuffleHold {
    fn drop(&mut self) {
        self.exec.blocks.unreserve(&self.app, self.bytes);
    }
}

/// One reduce partition's share of a map task's output.
#[derive(Default)]
struct Bucket {
    done: Vec<Bytes>,
    open: BatchWriter,
    bytes: u64,
}

impl Bucket {
    /// Ends the open chunk. Its buffer leaves with it (the next one is
    /// allocated when the bucket gets a record), trimmed if a large record made
    /// it grow past what it holds: held chunks take the memory they count.
    fn seal(&mut self) {
        if !self.open.is_empty() {
            let mut chunk = std::mem::take(&mut self.open).finish();
            if chunk.capacity() - chunk.len() > chunk.len() / 8 {
                chunk.shrink_to_fit();
            }
            self.bytes += chunk.len() as u64;
            self.done.push(Bytes::from(chunk));
        }
    }
}

/// A map task's output being written.
pub struct MapOutput {
    key: MapKey,
    buckets: Vec<Bucket>,
    partitioner: Partitioner,
    records: u64,
    held: ShuffleHold,
    memory: TaskMemory,
    /// The data file, once the output first spilled.
    file: Option<MapFileWriter>,
}

fn malformed(e: impl std::fmt::Display) -> Failure {
    Failure::Refused(format!("the guest wrote a malformed batch: {e}"))
}

impl MapOutput {
    /// The output of the map task `spec` runs, for `shuffle`.
    pub fn open(exec: &Arc<Executor>, spec: &TaskSpec, s: &ShuffleWrite) -> Result<Self, ExecutorError> {
        if s.partitions == 0 {
            return Err(ExecutorError::BadSpec("a shuffle with 0 partitions".into()));
        }
        let partitioner = match &s.partitioner {
            None | Some(shuffle_write::Partitioner::Hash(_)) => Partitioner::Hash,
            Some(shuffle_write::Partitioner::RoundRobin(_)) => Partitioner::RoundRobin { next: s.map_id },
            Some(shuffle_write::Partitioner::Prefix(_)) => Partitioner::Prefix,
            Some(shuffle_write::Partitioner::Range(r)) => {
                Partitioner::Range { bounds: r.bounds.clone(), descending: r.descending }
            }
        };
        let app = AppId(spec.app_id.clone());
        let held = ShuffleHold { exec: exec.clone(), app: app.clone(), bytes: 0, limit: spec.max_shuffle_memory };
        Ok(MapOutput {
            key: MapKey { app, shuffle: ShuffleId(s.shuffle_id), map: s.map_id },
            buckets: (0..s.partitions).map(|_| Bucket::default()).collect(),
            partitioner,
            records: 0,
            held,
            memory: TaskMemory::new(exec.clone()),
            file: None,
        })
    }

    /// Cuts one batch from the guest into buckets, spilling first when the task's
    /// memory is used up.
    pub fn write(&mut self, batch: &[u8]) -> Result<(), Failure> {
        let n = batch.len() as u64;
        self.held.grow(n)?;
        if !self.memory.grow(n) {
            self.spill()?;
            // A batch larger than the whole share is cut, then spilled at once.
            if !self.memory.grow(n) {
                self.cut(batch)?;
                return self.spill();
            }
        }
        self.cut(batch)
    }

    fn cut(&mut self, batch: &[u8]) -> Result<(), Failure> {
        let n = self.buckets.len() as u32;
        for rec in BatchReader::new(batch) {
            let rec = rec.map_err(malformed)?;
            let b = &mut self.buckets[self.partitioner.bucket(rec.key, n) as usize];
            if b.open.is_empty() {
                // Room for a whole chunk and its last record, so that it never
                // doubles (its unused half would be held, uncounted).
                b.open.reserve(BUCKET_CHUNK + BUCKET_CHUNK / 16);
            }
            b.open.push(rec.key, rec.value);
            if b.open.len() >= BUCKET_CHUNK {
                b.seal();
            }
            self.records += 1;
        }
        Ok(())
    }

    /// Appends every bucket held in memory to the data file and gives their
    /// memory back.
    fn spill(&mut self) -> Result<(), Failure> {
        let failed = |what: &str, e: std::io::Error| {
            Failure::Infrastructure(format!("spilling map output {} to local disk ({what}): {e}", self.key))
        };
        if self.file.is_none() {
            let path = self.held.exec.spill.shuffle_file(&self.key.app, self.key.shuffle, self.key.map);
            let path = path.map_err(|e| failed("creating its file", e))?;
            let w = MapFileWriter::create(path, self.buckets.len()).map_err(|e| failed("creating its file", e))?;
            self.file = Some(w);
        }
        let file = self.file.as_mut().expect("opened above");
        for (reduce, b) in self.buckets.iter_mut().enumerate() {
            b.seal();
            file.append(reduce, &b.done)
                .map_err(|e| Failure::Infrastructure(format!("writing {}: {e}", file.path().display())))?;
            b.done.clear();
        }
        self.memory.release_all();
        Ok(())
    }

    /// Stores the finished output (in memory, or on disk if it spilled) and says
    /// what it holds per reduce partition.
    pub fn finish(mut self, exec: &Arc<Executor>, result: &mut TaskResult) -> Result<(), ExecutorError> {
        for b in &mut self.buckets {
            b.seal();
        }
        result.bucket_bytes = self.buckets.iter().map(|b| b.bytes).collect();
        result.records_out = self.records;
        if self.file.is_some() {
            self.spill().map_err(|f| ExecutorError::Spill {
                path: self.key.to_string(),
                source: std::io::Error::other(f.to_string()),
            })?;
            let w = self.file.take().expect("it spilled");
            let path = w.path().display().to_string();
            result.spilled_bytes = w.written();
            let file = w.finish(&exec.memory.spills).map_err(|source| ExecutorError::Spill { path, source })?;
            exec.blocks.put_disk(self.key, file);
            return Ok(());
        }
        let buckets: Vec<Vec<Bytes>> = self.buckets.into_iter().map(|b| b.done).collect();
        let bytes = self.memory.into_shuffle();
        exec.blocks.put_memory(self.key, buckets, bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_partitions_hold_keys_up_to_their_bound_both_ways() {
        let bounds = vec![b"f".to_vec(), b"m".to_vec()];
        let mut asc = Partitioner::Range { bounds: bounds.clone(), descending: false };
        let mut desc = Partitioner::Range { bounds, descending: true };
        for (key, want) in [(&b"a"[..], 0), (b"f", 0), (b"fa", 1), (b"m", 1), (b"z", 2), (b"", 0)] {
            assert_eq!(asc.bucket(Some(key), 3), want, "{key:?}");
            assert_eq!(desc.bucket(Some(key), 3), 2 - want, "{key:?}");
        }
        assert_eq!(asc.bucket(None, 3), 0, "an unkeyed record sorts as the empty key");
        let mut rr = Partitioner::RoundRobin { next: 2 };
        let got: Vec<u32> = (0..5).map(|_| rr.bucket(None, 3)).collect();
        assert_eq!(got, [2, 0, 1, 2, 0]);
    }
}
