//! `map_partitions` over a stream: the op's function gets an iterator that pulls
//! the task's input from the host batch by batch, through the ops before it,
//! only as the function asks for elements. A partition larger than the task's
//! memory flows through.
//!
//! The chain is cut at the op: the ops before it end in a [`Collector`] that
//! queues what reaches it, and the op becomes the task's driver (a
//! [`StreamRunner`]): [`run_task`](crate::task::run_task) hands it the head of the
//! chain instead of pushing the input itself. One op of a chain streams (the
//! last one); another `map_partitions` before it in the same chain gets its
//! elements from a buffer.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::{BATCH, Emit, RawSink, Sink};
use crate::__private::bindings::spindle::job::task_io;
use crate::{Error, Result};

thread_local! {
    /// Whether an op of the chain being built streams already.
    static STREAMING: Cell<bool> = const { Cell::new(false) };
}

/// Forgets the chain built before: called when a new chain's build starts.
pub(crate) fn reset() {
    STREAMING.with(|s| s.set(false));
}

/// Whether the op being built may stream (the first asked, per chain).
pub(crate) fn take_streaming() -> bool {
    STREAMING.with(|s| !s.replace(true))
}

/// Reads one input batch (or run of lines) from the host into `head`; `false`
/// at the end of the input.
pub(crate) fn pump(head: &mut dyn RawSink, lines: bool) -> Result<bool> {
    if lines {
        let Some(run) = task_io::read_lines() else { return Ok(false) };
        head.push_lines(&run, task_io::input_utf8())?;
    } else {
        let Some(batch) = task_io::read() else { return Ok(false) };
        head.push_input(&batch, task_io::input_utf8())?;
    }
    Ok(true)
}

/// Whether `head` reads the task's input as runs of lines.
pub(crate) fn reads_lines(head: &dyn RawSink) -> bool {
    head.takes_lines() && task_io::input_is_text()
}

/// The end of the ops before a streaming op: queues what reaches it.
pub(crate) struct Collector<T>(pub(crate) Rc<RefCell<VecDeque<T>>>);

impl<T> Sink<T> for Collector<T> {
    fn push(&mut self, item: T) -> Result<()> {
        self.0.borrow_mut().push_back(item);
        Ok(())
    }
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        self.0.borrow_mut().extend(items.drain(..));
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Drives a task whose chain has a streaming op.
pub(crate) trait StreamRunner {
    /// Runs the op's function over the input read through `upstream` (the head
    /// of the ops before it), pushing what it returns on, and finishes.
    fn run(&mut self, upstream: Box<dyn RawSink>) -> Result<()>;
}

/// The elements of one partition, for `map_partitions`: read from the task's
/// input as they are asked for (or, for a second `map_partitions` in the same
/// chain of narrow operations, from a buffer).
///
/// An error reading the input ends the iteration early; the task then fails
/// with that error once the function returns.
pub struct PartitionIter<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Streamed {
        upstream: Box<dyn RawSink>,
        lines: bool,
        queue: Rc<RefCell<VecDeque<T>>>,
        done: bool,
        error: Rc<RefCell<Option<Error>>>,
    },
    Buffered(std::vec::IntoIter<T>),
}

impl<T> PartitionIter<T> {
    /// Elements held in memory.
    pub(crate) fn buffered(items: Vec<T>) -> Self {
        PartitionIter { inner: Inner::Buffered(items.into_iter()) }
    }
}

impl<T> Iterator for PartitionIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.inner {
            Inner::Buffered(items) => items.next(),
            Inner::Streamed { upstream, lines, queue, done, error } => loop {
                if let Some(t) = queue.borrow_mut().pop_front() {
                    return Some(t);
                }
                if *done {
                    return None;
                }
                let read = match pump(&mut **upstream, *lines) {
                    Ok(true) => Ok(()),
                    Ok(false) => {
                        *done = true;
                        upstream.finish()
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = read {
                    *done = true;
                    queue.borrow_mut().clear();
                    *error.borrow_mut() = Some(e);
                    return None;
                }
            },
        }
    }
}

/// Emits elements for a whole partition's elements.
pub(crate) type ApplyAll<T, U> = Box<dyn FnMut(PartitionIter<T>, &mut Emit<'_, U>) -> Result<()>>;

/// A `map_partitions` op that streams.
pub(crate) struct Streamed<T, U> {
    pub(crate) queue: Rc<RefCell<VecDeque<T>>>,
    pub(crate) apply: ApplyAll<T, U>,
    pub(crate) next: Box<dyn Sink<U>>,
}

impl<T, U> StreamRunner for Streamed<T, U> {
    fn run(&mut self, upstream: Box<dyn RawSink>) -> Result<()> {
        let lines = reads_lines(&*upstream);
        let error = Rc::new(RefCell::new(None));
        let items = PartitionIter {
            inner: Inner::Streamed { upstream, lines, queue: self.queue.clone(), done: false, error: error.clone() },
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        let applied = (self.apply)(items, &mut out);
        if let Some(e) = error.borrow_mut().take() {
            return Err(e);
        }
        applied?;
        out.flush()?;
        self.next.finish()
    }
}

/// A `map_partitions` op that does not stream (another one of its chain does):
/// buffers the partition's elements and hands them over at its end.
pub(crate) struct Buffered<T, U> {
    pub(crate) items: Vec<T>,
    pub(crate) apply: ApplyAll<T, U>,
    pub(crate) next: Box<dyn Sink<U>>,
}

impl<T, U> Sink<T> for Buffered<T, U> {
    fn push(&mut self, item: T) -> Result<()> {
        self.items.push(item);
        Ok(())
    }
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        self.items.append(items);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        let items = PartitionIter::buffered(std::mem::take(&mut self.items));
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        (self.apply)(items, &mut out)?;
        out.flush()?;
        self.next.finish()
    }
}
