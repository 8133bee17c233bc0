//! A task's sink: where the batches the guest writes go.

use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter, partition_of};
use spindle_proto::ids::{AppId, ShuffleId};
use spindle_proto::{TaskResult, TaskSpec, task_output};
use spindle_sandbox::Failure;
use spindle_sandbox::limits::bytes;
use tokio::io::AsyncWriteExt;

use crate::blocks::BlockId;
use crate::{Executor, ExecutorError};

/// Bucket chunks are cut at about this size, so reducers get large batches.
const BUCKET_CHUNK: usize = 64 << 10;

/// Where a task's output goes.
pub enum Output {
    /// Hash-partitioned buckets for a shuffle, kept in the block store.
    Shuffle { buckets: Vec<Bucket>, records: u64 },
    /// Every record, returned to the driver (at most `max` bytes; 0: no limit).
    Collect { batches: Vec<u8>, records: u64, max: u64 },
    /// Only the number of records.
    Count { records: u64 },
    /// Value bytes plus '\n' per record, into a file the driver commits.
    TextFile { path: String, file: tokio::io::BufWriter<tokio::fs::File>, records: u64 },
}

/// One reduce partition's share of a map task's output.
#[derive(Default)]
pub struct Bucket {
    done: Vec<Bytes>,
    open: BatchWriter,
    bytes: u64,
}

fn malformed(e: impl std::fmt::Display) -> Failure {
    Failure::Refused(format!("the guest wrote a malformed batch: {e}"))
}

fn check(batch: &[u8]) -> Result<u64, Failure> {
    spindle_frame::count_records(batch).map_err(malformed)
}

impl Output {
    pub async fn open(_exec: &Arc<Executor>, spec: &TaskSpec) -> Result<Self, ExecutorError> {
        let sink = spec.output.as_ref().and_then(|o| o.sink.as_ref());
        Ok(match sink {
            Some(task_output::Sink::Shuffle(s)) => {
                if s.partitions == 0 {
                    return Err(ExecutorError::BadSpec("a shuffle with 0 partitions".into()));
                }
                Output::Shuffle { buckets: (0..s.partitions).map(|_| Bucket::default()).collect(), records: 0 }
            }
            Some(task_output::Sink::Collect(_)) => {
                Output::Collect { batches: Vec::new(), records: 0, max: spec.max_result_bytes }
            }
            Some(task_output::Sink::Count(_)) => Output::Count { records: 0 },
            Some(task_output::Sink::TextFile(t)) => {
                let path = t.temp_path.clone();
                let io = |source| ExecutorError::Output { path: path.clone(), source };
                // The driver creates each attempt's directory and removes them all
                // when the job is done, so a late attempt cannot bring them back.
                let file = tokio::fs::File::create(&path).await.map_err(io)?;
                Output::TextFile { path, file: tokio::io::BufWriter::with_capacity(1 << 20, file), records: 0 }
            }
            None => return Err(ExecutorError::BadSpec("the task has no output".into())),
        })
    }

    /// Takes one batch from the guest; a malformed batch is an error.
    pub async fn write(&mut self, batch: Vec<u8>) -> Result<(), Failure> {
        match self {
            Output::Shuffle { buckets, records } => {
                let n = buckets.len() as u32;
                for rec in BatchReader::new(&batch) {
                    let rec = rec.map_err(malformed)?;
                    let b = &mut buckets[partition_of(rec.key, n) as usize];
                    b.open.push(rec.key, rec.value);
                    if b.open.len() >= BUCKET_CHUNK {
                        b.seal();
                    }
                    *records += 1;
                }
            }
            Output::Collect { batches, records, max } => {
                *records += check(&batch)?;
                let total = (batches.len() + batch.len()) as u64;
                if *max > 0 && total > *max {
                    return Err(Failure::Refused(format!(
                        "the task's collect result passed the {} limit for results; save the dataset to files instead",
                        bytes(*max)
                    )));
                }
                if batches.is_empty() {
                    *batches = batch;
                } else {
                    batches.extend_from_slice(&batch);
                }
            }
            Output::Count { records } => *records += check(&batch)?,
            Output::TextFile { path, file, records } => {
                let mut text = Vec::with_capacity(batch.len());
                for rec in BatchReader::new(&batch) {
                    let rec = rec.map_err(malformed)?;
                    text.extend_from_slice(rec.value);
                    text.push(b'\n');
                    *records += 1;
                }
                file.write_all(&text).await.map_err(|e| Failure::Infrastructure(format!("writing {path}: {e}")))?;
            }
        }
        Ok(())
    }

    /// Completes the sink after the guest returned successfully.
    pub async fn finish(self, exec: &Arc<Executor>, spec: &TaskSpec) -> Result<TaskResult, ExecutorError> {
        let mut result = TaskResult::default();
        match self {
            Output::Shuffle { buckets, records } => {
                let Some(task_output::Sink::Shuffle(s)) = spec.output.as_ref().and_then(|o| o.sink.as_ref()) else {
                    unreachable!("the sink matches the spec it was opened from")
                };
                for (reduce, mut bucket) in buckets.into_iter().enumerate() {
                    bucket.seal();
                    result.bucket_bytes.push(bucket.bytes);
                    let id = BlockId::Shuffle {
                        app: AppId(spec.app_id.clone()),
                        shuffle: ShuffleId(s.shuffle_id),
                        map: s.map_id,
                        reduce: reduce as u32,
                    };
                    exec.blocks.put(id, bucket.done);
                }
                result.records_out = records;
            }
            Output::Collect { batches, records, .. } => {
                result.collected = batches;
                result.records_out = records;
            }
            Output::Count { records } => {
                result.count = records;
                result.records_out = records;
            }
            Output::TextFile { path, mut file, records } => {
                let io = |source| ExecutorError::Output { path: path.clone(), source };
                // Flushed, not fsynced (as Hadoop's local file system): the commit is
                // the driver's rename, which makes the part visible atomically.
                file.flush().await.map_err(io)?;
                result.records_out = records;
            }
        }
        Ok(result)
    }
}

impl Bucket {
    fn seal(&mut self) {
        if !self.open.is_empty() {
            let chunk = Bytes::from(self.open.take());
            self.bytes += chunk.len() as u64;
            self.done.push(chunk);
        }
    }
}
