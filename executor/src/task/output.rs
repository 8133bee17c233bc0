//! A task's sink: where the batches the guest writes go.

use std::sync::Arc;

use bytes::Bytes;
use spindle_formats::writer::{LineWriter, ParquetWriter};
use spindle_frame::{BatchReader, BatchWriter};
use spindle_proto::{Compression, LineLayout, TableFormat, TaskResult, TaskSpec, task_output};
use spindle_sandbox::Failure;
use spindle_sandbox::limits::bytes;

use super::map_output::MapOutput;
use super::part_file::{CHUNK, PartFile};
use crate::{Executor, ExecutorError};

/// Where a task's output goes.
pub enum Output {
    /// Partitioned buckets for a shuffle, kept in the block store (and counted
    /// against the application's shuffle memory as they grow), spilled to disk
    /// past the task's share of memory.
    Shuffle(Box<MapOutput>),
    /// Records returned to the driver (at most `max` bytes, 0: no limit; at most
    /// `limit` records, 0: all).
    Collect { batches: Vec<u8>, records: u64, max: u64, limit: u64 },
    /// A uniform sample of at most `size` keys (reservoir sampling).
    SampleKeys { keys: Vec<Vec<u8>>, size: usize, seen: u64, rng: fastrand::Rng },
    /// Batches kept for a persisted partition (and the next pipeline segment).
    Buffer { batches: Vec<Bytes> },
    /// Batches handed on as they come to steps running beside (the parent
    /// pipelines of a coalesced partition, streamed to the steps after it).
    Channel(tokio::sync::mpsc::Sender<Vec<u8>>),
    /// Only the number of records.
    Count { records: u64 },
    /// Value bytes plus '\n' per record, into a file (or an object) the driver
    /// commits.
    TextFile {
        path: String,
        file: PartFile,
        /// Text not written yet: it goes out a [`CHUNK`] at a time.
        pending: Vec<u8>,
        records: u64,
        /// Compresses the text before it is written, when the part is compressed.
        encoder: Option<Box<Encoder>>,
        /// Set: records are rows, written as CSV or JSON lines.
        lines: Option<Box<LineWriter>>,
        /// Set: records are plain keys and values the host formats as lines.
        layout: Option<LineLayout>,
    },
    /// Rows written as a Parquet file the driver commits.
    Parquet { writer: Box<ParquetWriter<Box<dyn tokio::io::AsyncWrite + Unpin + Send>>> },
}

fn malformed(e: impl std::fmt::Display) -> Failure {
    Failure::Refused(format!("the guest wrote a malformed batch: {e}"))
}

fn check(batch: &[u8]) -> Result<u64, Failure> {
    spindle_frame::count_records(batch).map_err(malformed)
}

impl Output {
    pub async fn open(exec: &Arc<Executor>, spec: &TaskSpec) -> Result<Self, ExecutorError> {
        let sink = spec.output.as_ref().and_then(|o| o.sink.as_ref());
        Ok(match sink {
            Some(task_output::Sink::Shuffle(s)) => Output::Shuffle(Box::new(MapOutput::open(exec, spec, s)?)),
            Some(task_output::Sink::Collect(c)) => {
                Output::Collect { batches: Vec::new(), records: 0, max: spec.max_result_bytes, limit: c.limit }
            }
            Some(task_output::Sink::SampleKeys(k)) => Output::SampleKeys {
                keys: Vec::new(),
                size: k.size as usize,
                seen: 0,
                rng: fastrand::Rng::with_seed(k.seed),
            },
            Some(task_output::Sink::Count(_)) => Output::Count { records: 0 },
            Some(task_output::Sink::TextFile(t)) => {
                let path = t.temp_path.clone();
                let io = |source| ExecutorError::Output { path: path.clone(), source };
                let file = if spindle_store::is_url(&path) {
                    PartFile::Upload(Box::new(crate::access::object(spec, &path)?.writer()))
                } else {
                    crate::access::check(exec, spec, &path, true)?;
                    // The driver creates each attempt's directory and removes them all
                    // when the job is done, so a late attempt cannot bring them back
                    // (the commit protocol: driver/src/scheduler/commit.rs).
                    let file = tokio::fs::File::create(&path).await.map_err(io)?;
                    PartFile::Host { file: Some(file.into_std().await), writing: None }
                };
                match &t.table {
                    Some(table) if table.format() == TableFormat::Parquet => {
                        Output::Parquet { writer: Box::new(ParquetWriter::new(&path, table, file.into_writer())) }
                    }
                    table => {
                        let encoder = Encoder::new(t.compression()).map_err(io)?;
                        let lines = table.as_ref().map(|table| Box::new(LineWriter::new(&path, table)));
                        let pending = Vec::with_capacity(CHUNK + CHUNK / 4);
                        Output::TextFile { path, file, pending, records: 0, encoder, lines, layout: t.line_layout }
                    }
                }
            }
            None => return Err(ExecutorError::BadSpec("the task has no output".into())),
        })
    }

    /// Takes one batch from the guest; a malformed batch is an error.
    pub async fn write(&mut self, batch: Vec<u8>) -> Result<(), Failure> {
        match self {
            Output::Shuffle(out) => out.write(&batch)?,
            Output::Collect { batches, records, max, limit } => {
                let mut batch = batch;
                let n = check(&batch)?;
                if *limit > 0 && *records + n > *limit {
                    batch = spindle_frame::first_records(&batch, *limit - *records).map_err(malformed)?;
                    *records = *limit;
                } else {
                    *records += n;
                }
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
            Output::SampleKeys { keys, size, seen, rng } => {
                for rec in BatchReader::new(&batch) {
                    let key = rec.map_err(malformed)?.key.unwrap_or_default();
                    *seen += 1;
                    if keys.len() < *size {
                        keys.push(key.to_vec());
                    } else {
                        let j = rng.u64(0..*seen);
                        if (j as usize) < *size {
                            keys[j as usize] = key.to_vec();
                        }
                    }
                }
            }
            Output::Buffer { batches } => {
                check(&batch)?;
                if !batch.is_empty() {
                    batches.push(Bytes::from(batch));
                }
            }
            Output::Channel(tx) => {
                check(&batch)?;
                // A closed channel: the steps reading it want no more (a `take`
                // has its records, or they failed and say why themselves).
                let _ = tx.send(batch).await;
            }
            Output::Parquet { writer, .. } => {
                writer.write(&batch).await.map_err(|e| Failure::Refused(e.to_string()))?;
            }
            Output::TextFile { path, file, pending, records, encoder, lines, layout } => {
                if let Some(lines) = lines {
                    let before = lines.records;
                    pending.extend(lines.text(&batch).map_err(|e| Failure::Refused(e.to_string()))?);
                    *records += lines.records - before;
                } else if let Some(layout) = layout {
                    *records += super::lines::format(&batch, layout, pending)
                        .map_err(|e| Failure::Refused(format!("writing {path}: {e}")))?;
                } else {
                    for rec in BatchReader::new(&batch) {
                        let rec = rec.map_err(malformed)?;
                        pending.extend_from_slice(rec.value);
                        pending.push(b'\n');
                        *records += 1;
                    }
                }
                if pending.len() >= CHUNK {
                    let failed = |e: std::io::Error| Failure::Infrastructure(format!("writing {path}: {e}"));
                    let chunk = match encoder {
                        Some(encoder) => {
                            let compressed = encoder.compress(pending).map_err(failed)?;
                            pending.clear();
                            compressed
                        }
                        None => std::mem::replace(pending, Vec::with_capacity(CHUNK + CHUNK / 4)),
                    };
                    file.write(chunk).await.map_err(failed)?;
                }
            }
        }
        Ok(())
    }

    /// Completes the sink after the guest returned successfully.
    pub async fn finish(self, exec: &Arc<Executor>) -> Result<TaskResult, ExecutorError> {
        let mut result = TaskResult::default();
        match self {
            Output::Shuffle(out) => out.finish(exec, &mut result)?,
            Output::Collect { batches, records, .. } => {
                result.collected = batches;
                result.records_out = records;
            }
            Output::Count { records } => {
                result.count = records;
                result.records_out = records;
            }
            Output::SampleKeys { keys, seen, .. } => {
                let mut w = BatchWriter::default();
                for k in &keys {
                    w.push(Some(k), b"");
                }
                result.collected = w.finish();
                result.records_out = seen;
            }
            Output::Buffer { .. } | Output::Channel(_) => unreachable!("a buffer or channel is never a task's sink"),
            Output::Parquet { writer, .. } => {
                // Writes the footer and completes the file (or the object's upload).
                result.records_out = writer.finish().await?;
            }
            Output::TextFile { path, mut file, mut pending, records, encoder, lines, .. } => {
                let io = |source| ExecutorError::Output { path: path.clone(), source };
                if let Some(mut lines) = lines {
                    pending.extend(lines.finish());
                }
                let last = match encoder {
                    Some(mut encoder) => {
                        let mut last = encoder.compress(&pending).map_err(io)?;
                        last.extend((*encoder).finish().map_err(io)?);
                        last
                    }
                    None => pending,
                };
                file.write(last).await.map_err(io)?;
                // An object's upload is completed here.
                file.finish().await.map_err(io)?;
                result.records_out = records;
            }
        }
        Ok(result)
    }
}

impl Output {
    /// Whether no more records are wanted (a `take` has its records).
    pub fn is_full(&self) -> bool {
        match self {
            Output::Collect { records, limit, .. } => *limit > 0 && records >= limit,
            Output::Channel(tx) => tx.is_closed(),
            _ => false,
        }
    }

    /// Whether the records are only counted (the action is a count).
    pub fn is_count(&self) -> bool {
        matches!(self, Output::Count { .. })
    }

    /// Counts `n` records the guest produced without writing them; only for a
    /// counted output.
    pub fn add_count(&mut self, n: u64) -> Result<(), Failure> {
        match self {
            Output::Count { records } => {
                *records = records.saturating_add(n);
                Ok(())
            }
            _ => Err(Failure::Refused(
                "the guest called add-output-count, but this task's output is not a count (check output-counted first)"
                    .into(),
            )),
        }
    }

    /// A buffer for a persisted partition.
    pub fn buffer() -> Self {
        Output::Buffer { batches: Vec::new() }
    }

    /// The buffered batches (empty for other sinks).
    pub fn into_batches(self) -> Vec<Bytes> {
        match self {
            Output::Buffer { batches } => batches,
            _ => Vec::new(),
        }
    }
}

/// A text part's compressor: text goes in a batch at a time, and what it has
/// compressed so far comes out to be written (the part is one stream, readable
/// by `gzip -d` or `zstd -d`).
pub enum Encoder {
    /// gzip (flate2, default level).
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    /// zstd (level 3, its default).
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    /// bzip2 (level 6, between speed and size).
    Bzip2(bzip2::write::BzEncoder<Vec<u8>>),
}

impl Encoder {
    /// The encoder for `compression`, or none for plain text.
    fn new(compression: Compression) -> std::io::Result<Option<Box<Self>>> {
        Ok(match compression {
            Compression::None => None,
            Compression::Gzip => {
                Some(Box::new(Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()))))
            }
            Compression::Zstd => Some(Box::new(Encoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), 3)?))),
            Compression::Bzip2 => {
                Some(Box::new(Encoder::Bzip2(bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(6)))))
            }
        })
    }

    /// Compresses `text`; returns the compressed bytes ready so far.
    fn compress(&mut self, text: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        let out = match self {
            Encoder::Gzip(e) => {
                e.write_all(text)?;
                e.get_mut()
            }
            Encoder::Zstd(e) => {
                e.write_all(text)?;
                e.get_mut()
            }
            Encoder::Bzip2(e) => {
                e.write_all(text)?;
                e.get_mut()
            }
        };
        Ok(std::mem::take(out))
    }

    /// Ends the stream; returns its last bytes.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
        }
    }
}
