//! The tails of chains: typed elements encoded into the task's output, or only
//! counted.

use std::marker::PhantomData;

use spindle_frame::BatchWriter;

use super::{RawSink, Sink};
use crate::codec::RecordBuf;
use crate::{Data, Result};

/// Output batches are flushed to the host at about this size.
pub(crate) const BATCH_BYTES: usize = 64 << 10;

/// Writes framed records to the task's output.
pub(crate) struct Output {
    batch: BatchWriter,
}

impl Output {
    pub(crate) fn new() -> Self {
        Output { batch: BatchWriter::with_capacity(BATCH_BYTES + 4096) }
    }

    pub(crate) fn write(&mut self, key: Option<&[u8]>, value: &[u8]) {
        self.batch.push(key, value);
        if self.batch.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if !self.batch.is_empty() {
            crate::host::write_output(&self.batch.take());
        }
    }
}

/// Encodes elements into the task output: the tail of a chain.
pub(super) struct Encode<U> {
    rec: RecordBuf,
    out: Output,
    _u: PhantomData<fn(U)>,
}

impl<U> Encode<U> {
    pub(super) fn new() -> Self {
        Encode { rec: RecordBuf::default(), out: Output::new(), _u: PhantomData }
    }
}

impl<U: Data> Sink<U> for Encode<U> {
    #[inline]
    fn push(&mut self, item: U) -> Result<()> {
        self.rec.encode(&item)?;
        self.out.write(self.rec.key(), &self.rec.value);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.out.flush();
        Ok(())
    }
    fn output(&mut self) -> Option<&mut Output> {
        Some(&mut self.out)
    }
}

/// Counts elements, the tail of a chain whose output is only counted (a count
/// action): the host needs their number, so they are neither encoded nor copied
/// out of the sandbox.
pub(super) struct CountOnly<U>(pub(super) u64, pub(super) PhantomData<fn(U)>);

impl<U> Sink<U> for CountOnly<U> {
    fn push(&mut self, _: U) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn push_batch(&mut self, items: &mut Vec<U>) -> Result<()> {
        self.0 += items.len() as u64;
        items.clear();
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        crate::host::add_output_count(self.0);
        Ok(())
    }
}

/// Counts records, for a task with no ops whose output is only counted.
pub(super) struct CountRaw(pub(super) u64);

impl RawSink for CountRaw {
    fn push_raw(&mut self, _: Option<&[u8]>, _: &[u8]) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        crate::host::add_output_count(self.0);
        Ok(())
    }
}

/// Passes records through unchanged: a task with no ops.
pub(crate) struct PassThrough(pub(crate) Output);

impl RawSink for PassThrough {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        self.0.write(key, value);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.0.flush();
        Ok(())
    }
}
