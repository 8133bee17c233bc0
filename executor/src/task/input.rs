//! A pipeline's input, handed to the guest in batches of about `batch_bytes`.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchWriter, count_records};
use spindle_proto::ids::{AppId, ShuffleId};
use spindle_proto::{Pipeline, ReduceMode, TaskInput, TaskSpec, task_input};

use super::reduce::{Arranger, Merged};
use super::table_reader::TableReader;
use super::text_reader::TextReader;
use crate::memory::TaskMemory;
use crate::shuffle::ShuffleReader;
use crate::{Executor, ExecutorError};

/// Where a combine's reduce partition stands.
pub enum Combining {
    /// Not fetched yet.
    Fetching,
    /// Fetched, small enough: handed over as fetched (their memory held until
    /// the input is dropped).
    AsFetched { chunks: VecDeque<Bytes>, _memory: TaskMemory },
    /// Fetched, sorted by key.
    Sorted(Merged),
}

/// Where a pipeline's records come from.
pub enum Input {
    /// Lines of a split of a text file.
    Text(TextReader),
    /// Records shipped inside the task (from `parallelize`), handed over once.
    Records { batch: Option<Vec<u8>>, records: u64 },
    /// Integers made here.
    Range { next: i64, step: i64, left: u64, batch_bytes: usize, records: u64 },
    /// The buckets of one reduce partition from every map task, as fetched.
    Shuffle { reader: ShuffleReader, records: u64 },
    /// A reduce partition arranged by the host (grouped, sorted, cogrouped):
    /// every side is fetched before the first batch, through sorted runs on disk
    /// when it is larger than the task's share of memory.
    Arranged {
        readers: Vec<ShuffleReader>,
        mode: ReduceMode,
        merged: Option<Merged>,
        /// The side being fetched.
        reading: usize,
        batch_bytes: usize,
        records: u64,
    },
    /// The reduce side of a combine: the records as fetched, or, once they pass
    /// `threshold` bytes, sorted by key through runs on disk (the guest is told,
    /// and combines one key at a time). Every record is fetched before the first
    /// batch.
    Combine { reader: ShuffleReader, state: Combining, threshold: u64, batch_bytes: usize, records: u64 },
    /// A kept partition (not counted as input read).
    Block(VecDeque<Bytes>),
    /// Inputs read one after the other (a coalesced partition's), with the
    /// records of those already read.
    Chain { parts: VecDeque<Input>, records: u64, skipped: Vec<(u64, u64)> },
    /// Rows of a split of a table (CSV, JSON lines, Parquet).
    Table(Box<TableReader>),
    /// Batches made by steps running beside (a coalesced partition's parent
    /// pipelines; their records are counted where they are read).
    Channel(tokio::sync::mpsc::Receiver<Vec<u8>>),
}

impl Input {
    pub fn open(exec: &Arc<Executor>, spec: &TaskSpec, input: Option<&TaskInput>) -> Result<Self, ExecutorError> {
        let batch_bytes = exec.config.batch_bytes;
        Ok(match input.and_then(|i| i.source.as_ref()) {
            Some(task_input::Source::Text(t)) => {
                // The split's file, checked against the application's grants or roots.
                let object = if spindle_store::is_url(&t.path) {
                    Some(crate::access::object(spec, &t.path)?)
                } else {
                    crate::access::check(exec, spec, &t.path, false)?;
                    None
                };
                if t.table.is_some() {
                    Input::Table(Box::new(TableReader::new(t, object, batch_bytes)?))
                } else {
                    let text = TextReader::with_options(t, batch_bytes);
                    Input::Text(match object {
                        Some(object) => text.in_store(object),
                        None => text,
                    })
                }
            }
            Some(task_input::Source::Records(r)) => {
                let records = count_records(r).map_err(|e| ExecutorError::BadSpec(e.to_string()))?;
                Input::Records { batch: Some(r.to_vec()), records }
            }
            Some(task_input::Source::Range(r)) => {
                if r.step == 0 && r.count > 0 {
                    return Err(ExecutorError::BadSpec("a range with step 0".into()));
                }
                Input::Range { next: r.start, step: r.step, left: r.count, batch_bytes, records: 0 }
            }
            Some(task_input::Source::Shuffle(s)) => {
                let mode = ReduceMode::try_from(s.mode)
                    .map_err(|_| ExecutorError::BadSpec(format!("unknown reduce mode {}", s.mode)))?;
                let mut readers: Vec<ShuffleReader> = s
                    .sides
                    .iter()
                    .map(|side| {
                        ShuffleReader::new(
                            exec.clone(),
                            AppId(spec.app_id.clone()),
                            ShuffleId(side.shuffle_id),
                            s.reduce_partition,
                            &side.maps,
                        )
                    })
                    .collect();
                if readers.is_empty() {
                    return Err(ExecutorError::BadSpec("a shuffle read with no shuffle".into()));
                } else if mode == ReduceMode::AsFetched && readers.len() == 1 {
                    Input::Shuffle { reader: readers.pop().expect("one side"), records: 0 }
                } else if mode == ReduceMode::Combine && readers.len() == 1 {
                    // The guest's table of keys must fit in its memory, with room
                    // for the rest: a quarter of it, at most the task's share here.
                    let guest = super::task_limits(&exec.config.limits, spec.limits.as_ref()).memory_bytes as u64;
                    let threshold = (guest / 4).min(exec.memory.task_share());
                    let reader = readers.pop().expect("one side");
                    Input::Combine { reader, state: Combining::Fetching, threshold, batch_bytes, records: 0 }
                } else if mode == ReduceMode::AsFetched {
                    let parts = readers.into_iter().map(|reader| Input::Shuffle { reader, records: 0 }).collect();
                    Input::Chain { parts, records: 0, skipped: Vec::new() }
                } else {
                    Input::Arranged { readers, mode, merged: None, reading: 0, batch_bytes, records: 0 }
                }
            }
            Some(task_input::Source::Concat(c)) if c.pipelines.iter().all(reads_input_only) => {
                let parts =
                    c.pipelines.iter().map(|p| Input::open(exec, spec, p.input.as_ref())).collect::<Result<_, _>>()?;
                Input::Chain { parts, records: 0, skipped: Vec::new() }
            }
            Some(task_input::Source::Concat(_)) => {
                return Err(ExecutorError::BadSpec(
                    "pipelines with steps are run by the task, not opened as input".into(),
                ));
            }
            None => return Err(ExecutorError::BadSpec("a pipeline has no input".into())),
        })
    }

    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        match self {
            Input::Text(t) => t.next_batch().await,
            Input::Records { batch, .. } => Ok(batch.take()),
            Input::Range { next, step, left, batch_bytes, records } => {
                if *left == 0 {
                    return Ok(None);
                }
                let mut w = BatchWriter::with_capacity(*batch_bytes + 64);
                while *left > 0 && w.len() < *batch_bytes {
                    // The recommended encoding of an i64: big-endian, sign bit flipped.
                    w.push(None, &((*next as u64) ^ (1 << 63)).to_be_bytes());
                    *next = next.wrapping_add(*step);
                    *left -= 1;
                    *records += 1;
                }
                Ok(Some(w.finish()))
            }
            Input::Shuffle { reader, records } => {
                let next: Option<Bytes> = reader.next_chunk().await?;
                Ok(next.map(|b| {
                    *records += count_records(&b).unwrap_or(0);
                    b.to_vec()
                }))
            }
            Input::Arranged { readers, mode, merged, reading, batch_bytes, records } => {
                if merged.is_none() {
                    let exec = readers[0].executor().clone();
                    let mut arranger = Arranger::new(exec, *mode);
                    for (i, r) in readers.iter_mut().enumerate() {
                        *reading = i;
                        let side = u8::try_from(i)
                            .map_err(|_| ExecutorError::BadSpec("a cogroup of more than 256 shuffles".into()))?;
                        while let Some(c) = r.next_chunk().await? {
                            *records += arranger.add(c, side)?;
                        }
                    }
                    *merged = Some(arranger.finish(readers.len(), *batch_bytes)?);
                }
                merged.as_mut().expect("merged above").next_batch()
            }
            Input::Combine { reader, state, threshold, batch_bytes, records } => {
                if matches!(state, Combining::Fetching) {
                    *state = gather_combine(reader, *threshold, *batch_bytes, records).await?;
                }
                match state {
                    Combining::AsFetched { chunks, .. } => Ok(chunks.pop_front().map(|b| b.to_vec())),
                    Combining::Sorted(merged) => merged.next_batch(),
                    Combining::Fetching => unreachable!("gathered above"),
                }
            }
            Input::Block(batches) => Ok(batches.pop_front().map(|b| b.to_vec())),
            Input::Channel(rx) => Ok(rx.recv().await),
            Input::Chain { parts, records, skipped } => loop {
                let Some(part) = parts.front_mut() else { return Ok(None) };
                match Box::pin(part.next_batch()).await? {
                    Some(b) => return Ok(Some(b)),
                    None => {
                        let done = parts.pop_front().expect("the front part");
                        *records += done.records_in();
                        skipped.extend(done.skipped_rows());
                    }
                }
            },
            Input::Table(t) => t.next_batch().await,
        }
    }

    /// Whose shuffle outputs `e` (an error of this input) could not be read, for
    /// the driver to recompute; `None` for an input that reads no shuffle.
    pub fn fetch_failure(&self, e: &ExecutorError) -> Option<spindle_proto::FetchFailure> {
        if let Input::Chain { parts, .. } = self {
            return parts.front().and_then(|p| p.fetch_failure(e));
        }
        self.shuffle().and_then(|s| e.fetch_failure(s.0))
    }

    /// The shuffle this input was reading when it failed, if it reads shuffles.
    fn shuffle(&self) -> Option<ShuffleId> {
        match self {
            Input::Shuffle { reader, .. } | Input::Combine { reader, .. } => Some(reader.shuffle()),
            Input::Arranged { readers, reading, .. } => readers.get(*reading).map(ShuffleReader::shuffle),
            _ => None,
        }
    }

    /// Whether the records come in ascending order of key bytes (known once the
    /// first batch was read).
    pub fn is_sorted(&self) -> bool {
        match self {
            Input::Combine { state, .. } => matches!(state, Combining::Sorted(_)),
            Input::Arranged { mode, .. } => *mode != ReduceMode::SortDescending,
            _ => false,
        }
    }

    /// Whether the input is lines of a text file, which [`Input::next_lines`]
    /// reads in runs.
    pub fn is_text(&self) -> bool {
        match self {
            Input::Text(t) => t.runs_of_lines(),
            Input::Chain { parts, .. } => parts.iter().all(Input::is_text),
            _ => false,
        }
    }

    /// The next run of whole lines of a text input, `None` at the end; an error
    /// for any other input.
    pub async fn next_lines(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        match self {
            Input::Text(t) => t.next_lines().await,
            Input::Chain { parts, records, .. } if self_is_text(parts) => loop {
                let Some(part) = parts.front_mut() else { return Ok(None) };
                match Box::pin(part.next_lines()).await? {
                    Some(run) => return Ok(Some(run)),
                    None => *records += parts.pop_front().map_or(0, |p| p.records_in()),
                }
            },
            _ => Err(ExecutorError::BadSpec("the guest read lines from an input that is not a text file".into())),
        }
    }

    /// Whether the host checked that every record value of the last batch is
    /// valid UTF-8 (text lines are checked as they are read).
    pub fn last_batch_utf8(&self) -> bool {
        match self {
            Input::Text(t) => t.utf8,
            Input::Chain { parts, .. } => parts.front().is_some_and(Input::last_batch_utf8),
            _ => false,
        }
    }

    /// The text file being read and the offset of its first byte that is not
    /// UTF-8, if one was seen: what a guest that failed on it is told.
    pub fn bad_utf8(&self) -> Option<(&str, u64, bool)> {
        match self {
            Input::Text(t) => t.bad_utf8.map(|at| (t.path.as_str(), at, t.is_compressed())),
            Input::Chain { parts, .. } => parts.front().and_then(Input::bad_utf8),
            _ => None,
        }
    }

    /// Records read so far from the task's own input (not from kept blocks).
    pub fn records_in(&self) -> u64 {
        match self {
            Input::Text(t) => t.records,
            Input::Records { records, .. }
            | Input::Range { records, .. }
            | Input::Shuffle { records, .. }
            | Input::Arranged { records, .. }
            | Input::Combine { records, .. } => *records,
            Input::Block(_) | Input::Channel(_) => 0,
            Input::Chain { parts, records, .. } => records + parts.iter().map(Input::records_in).sum::<u64>(),
            Input::Table(t) => t.records(),
        }
    }

    /// Bytes this input wrote to disk (sorted runs of a reduce partition).
    pub fn spilled_bytes(&self) -> u64 {
        match self {
            Input::Arranged { merged, .. } => merged.as_ref().map_or(0, Merged::spilled_bytes),
            Input::Combine { state: Combining::Sorted(merged), .. } => merged.spilled_bytes(),
            Input::Chain { parts, .. } => parts.iter().map(Input::spilled_bytes).sum(),
            _ => 0,
        }
    }

    /// Rows of tables skipped as malformed (permissive mode), with the
    /// accumulator each read counts them in.
    pub fn skipped_rows(&self) -> Vec<(u64, u64)> {
        match self {
            Input::Table(t) => t.skipped().into_iter().collect(),
            Input::Chain { parts, skipped, .. } => {
                skipped.iter().copied().chain(parts.iter().flat_map(Input::skipped_rows)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Fetches a combine's reduce partition: kept as fetched while it stays under
/// `threshold` bytes (and the task's memory allows), sorted by key past it.
async fn gather_combine(
    reader: &mut ShuffleReader,
    threshold: u64,
    batch_bytes: usize,
    records: &mut u64,
) -> Result<Combining, ExecutorError> {
    let exec = reader.executor().clone();
    let mut memory = TaskMemory::new(exec.clone());
    let mut fetched = VecDeque::new();
    let mut held = 0u64;
    let mut sorting: Option<Arranger> = None;
    while let Some(c) = reader.next_chunk().await? {
        if let Some(arranger) = &mut sorting {
            *records += arranger.add(c, 0)?;
            continue;
        }
        held += c.len() as u64;
        if held <= threshold && memory.grow(c.len() as u64) {
            *records += count_records(&c).unwrap_or(0);
            fetched.push_back(c);
            continue;
        }
        tracing::debug!(bytes = held, threshold, "a combine's reduce partition is large: sorting it by key");
        let mut arranger = Arranger::new(exec.clone(), ReduceMode::SortAscending);
        for f in fetched.drain(..) {
            arranger.add(f, 0)?;
        }
        memory.release_all();
        *records += arranger.add(c, 0)?;
        sorting = Some(arranger);
    }
    Ok(match sorting {
        Some(arranger) => Combining::Sorted(arranger.finish(1, batch_bytes)?),
        None => Combining::AsFetched { chunks: fetched, _memory: memory },
    })
}

/// Whether `pipe` only reads an input (no steps, nothing kept, no pipelines of its
/// own): it can be read straight from its input.
pub fn reads_input_only(pipe: &Pipeline) -> bool {
    pipe.steps.is_empty()
        && pipe.caches.is_empty()
        && !matches!(pipe.input.as_ref().and_then(|i| i.source.as_ref()), Some(task_input::Source::Concat(_)))
}

fn self_is_text(parts: &VecDeque<Input>) -> bool {
    parts.iter().all(Input::is_text)
}
