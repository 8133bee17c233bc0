//! Ops and the sinks that run them.
//!
//! An op is `[1u8][build fn: u64 LE][captured bytes]`. The build fn is a
//! monomorphized function of this module's `ops`, `combine` or `decode`; in wasm a function pointer is an index
//! into the module's function table, identical in every instance of the same
//! component, so the driver can name it and the executor can call it. A corrupt index
//! can only trap inside the job's own sandbox.
//!
//! On an executor the ops of a task are built back to front into a chain of typed
//! sinks: records are decoded once at the head, flow through the closures as values,
//! and are encoded once at the tail. Elements move between ops in batches (up to
//! [`BATCH`] of them in a `Vec`), so a chain of ops costs one dynamic call per op
//! and batch, not per element: each op runs its closure over a batch in a loop
//! where the closure is inlined.

use std::any::Any;
use std::marker::PhantomData;

use crate::{Data, Error, Result};

mod combine;
mod decode;
mod encode;
mod ops;
mod rows;
mod stream;

pub(crate) use combine::build_combine;
use decode::{Decode, DecodeStrings};
pub(crate) use decode::{build_decode_cogroup, build_decode_cogroup3, build_decode_cogroup4, build_decode_group};
pub(crate) use encode::Output;
use encode::{CountOnly, CountRaw, Encode, PassThrough};
pub(crate) use ops::*;
pub(crate) use rows::{build_decode_rows, build_encode_rows};
pub use stream::PartitionIter;
use stream::StreamRunner;

const OP_VERSION: u8 = 1;

/// Elements an op collects before handing them to the next op: enough that the
/// call per batch costs little per element, few enough that a batch of large
/// elements takes little memory.
pub(crate) const BATCH: usize = 64;

/// Receives typed elements.
pub(crate) trait Sink<T> {
    fn push(&mut self, item: T) -> Result<()>;
    /// Takes every element of `items`, in order, and leaves it empty (its
    /// capacity stays with the caller, to fill again).
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        for item in items.drain(..) {
            self.push(item)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()>;
    /// Takes `text`, whole lines of a text input (ended by `\n`, perhaps `\r\n`),
    /// at once, where the sink's work does not depend on where lines end
    /// (splitting them into words); false if it takes lines one by one only.
    fn push_text(&mut self, text: &str) -> Result<bool> {
        let _ = text;
        Ok(false)
    }
    /// The task output, when this sink is the tail that encodes each element into
    /// it as it comes: an op before it that holds elements already encoded (the
    /// map side of combining) may then write records itself.
    fn output(&mut self) -> Option<&mut Output> {
        None
    }
}

/// Where an op's closure puts what it emits: the op's batch, handed to the next op
/// when full. A concrete type, so that pushing inlines into the op's loop.
pub(crate) struct Emit<'a, U> {
    batch: &'a mut Vec<U>,
    next: &'a mut dyn Sink<U>,
}

impl<U> Emit<'_, U> {
    #[inline]
    pub(crate) fn push(&mut self, item: U) -> Result<()> {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            return self.next.push_batch(self.batch);
        }
        Ok(())
    }

    /// Hands on what is left in the batch.
    fn flush(&mut self) -> Result<()> {
        hand_on(self.batch, self.next)
    }
}

/// Hands `batch` to `next` unless it is empty.
fn hand_on<U>(batch: &mut Vec<U>, next: &mut dyn Sink<U>) -> Result<()> {
    if batch.is_empty() { Ok(()) } else { next.push_batch(batch) }
}

/// Receives encoded records: the head of a chain.
pub(crate) trait RawSink {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()>;
    /// Takes a whole input batch (a frame of records); by default one record at a
    /// time.
    fn push_frame(&mut self, frame: &[u8]) -> Result<()> {
        for rec in spindle_frame::BatchReader::new(frame) {
            let rec = rec.map_err(frame_error)?;
            self.push_raw(rec.key, rec.value)?;
        }
        Ok(())
    }
    /// Takes a batch of the task's input; `utf8` when the host checked that every
    /// record value in it is valid UTF-8.
    fn push_input(&mut self, frame: &[u8], utf8: bool) -> Result<()> {
        let _ = utf8;
        self.push_frame(frame)
    }
    /// Whether this sink takes a text input as runs of lines
    /// ([`RawSink::push_lines`]) rather than a record per line.
    fn takes_lines(&self) -> bool {
        false
    }
    /// Takes a run of whole lines of a text input, each ended by `\n` (the last
    /// line of a file perhaps not); `utf8` when the host checked the run. Only
    /// called where [`RawSink::takes_lines`] says so.
    fn push_lines(&mut self, run: &[u8], utf8: bool) -> Result<()> {
        let _ = (run, utf8);
        Err(Error::msg("this op does not read text input as lines"))
    }
    fn finish(&mut self) -> Result<()>;
}

fn frame_error(e: spindle_frame::FrameError) -> Error {
    Error::msg(format!("input batch: {e}"))
}

/// What a build fn returns: a typed sink for the previous op to feed (a
/// `Box<dyn Sink<T>>` inside `Any`), or, for the first op, a raw sink.
pub(crate) enum Built {
    Typed(Box<dyn Any>),
    Raw(Box<dyn RawSink>),
    /// A streaming op (`stream.rs`): what the op before it feeds (itself a
    /// `Typed` or, for the first op, a `Raw` build), and the op, which drives
    /// the task.
    Stream(Box<Built>, Box<dyn StreamRunner>),
}

/// A task's chain: its head, and the streaming op that drives it, if one does
/// (then the head is the ops before that op).
pub(crate) struct Chain {
    pub(crate) head: Box<dyn RawSink>,
    pub(crate) runner: Option<Box<dyn StreamRunner>>,
}

impl Chain {
    /// Runs the task: the input through the chain, then its end.
    pub(crate) fn run(self) -> Result<()> {
        let Chain { mut head, runner } = self;
        if let Some(mut runner) = runner {
            return runner.run(head);
        }
        let lines = stream::reads_lines(&*head);
        while stream::pump(&mut *head, lines)? {}
        head.finish()
    }
}

/// Builds one op's sink from its captured bytes and the next op's sink (`None`:
/// this op is last, and encodes into the task output).
pub(crate) type BuildFn = fn(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>;

/// Encodes an op.
pub(crate) fn make_op(build: BuildFn, captured: &[u8]) -> Vec<u8> {
    let mut op = Vec::with_capacity(9 + captured.len());
    op.push(OP_VERSION);
    op.extend_from_slice(&(build as usize as u64).to_le_bytes());
    op.extend_from_slice(captured);
    op
}

/// Decodes an op into its build fn and captured bytes.
pub(crate) fn read_op(op: &[u8]) -> Result<(BuildFn, &[u8])> {
    if op.len() < 9 || op[0] != OP_VERSION {
        return Err(Error::msg("an op was not made by this version of the Spindle SDK"));
    }
    let index = u64::from_le_bytes(op[1..9].try_into().expect("8 bytes"));
    let index = usize::try_from(index).map_err(|_| Error::msg("an op names a function out of range"))?;
    // SAFETY: ops are made by `make_op` in this same component, from a `BuildFn`; in
    // wasm a stale or forged index traps in `call_indirect` rather than misbehaving.
    let build = unsafe { std::mem::transmute::<usize, BuildFn>(index) };
    Ok((build, &op[9..]))
}

/// A value of a zero-sized closure type. The public API guarantees (at compile
/// time) that every closure type reaching here captures nothing.
pub(crate) fn conjure<F: Copy>() -> F {
    assert_eq!(std::mem::size_of::<F>(), 0, "closures shipped to tasks must not capture");
    // SAFETY: `F` is zero-sized, so it has no bytes to initialize.
    unsafe { std::mem::zeroed() }
}

/// The next sink in the chain: the given one, or the tail: the encoder into the
/// task output, or a counter where the output is only counted.
fn downstream<U: Data>(next: Option<Box<dyn Any>>) -> Result<Box<dyn Sink<U>>> {
    match next {
        None if crate::host::output_counted() => Ok(Box::new(CountOnly::<U>(0, PhantomData))),
        None => Ok(Box::new(Encode::<U>::new())),
        Some(b) => b
            .downcast::<Box<dyn Sink<U>>>()
            .map(|b| *b)
            .map_err(|_| Error::msg("the op chain's types do not line up (ops from another job?)")),
    }
}

/// Wraps a typed sink as a build result: decoding at the head of the chain.
fn wrap<T: Data>(sink: Box<dyn Sink<T>>, first: bool) -> Built {
    if !first {
        return Built::Typed(Box::new(sink));
    }
    let sink: Box<dyn Any> = Box::new(sink);
    match sink.downcast::<Box<dyn Sink<String>>>() {
        Ok(sink) => Built::Raw(Box::new(DecodeStrings { strings: Decode::new(*sink), whole: true })),
        Err(sink) => {
            let sink = sink.downcast::<Box<dyn Sink<T>>>().expect("boxed just above");
            Built::Raw(Box::new(Decode::new(*sink)))
        }
    }
}

/// An op that emits zero or more elements per input element with `apply` (a
/// closure type of its own, so that it is inlined into the loop over a batch).
struct Narrow<A, U> {
    apply: A,
    batch: Vec<U>,
    next: Box<dyn Sink<U>>,
}

impl<T, U, A: FnMut(T, &mut Emit<'_, U>) -> Result<()>> Sink<T> for Narrow<A, U> {
    fn push(&mut self, item: T) -> Result<()> {
        let mut out = Emit { batch: &mut self.batch, next: &mut *self.next };
        (self.apply)(item, &mut out)?;
        out.flush()
    }
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        let mut out = Emit { batch: &mut self.batch, next: &mut *self.next };
        for item in items.drain(..) {
            (self.apply)(item, &mut out)?;
        }
        out.flush()
    }
    fn finish(&mut self) -> Result<()> {
        hand_on(&mut self.batch, &mut *self.next)?;
        self.next.finish()
    }
}

fn narrow<T: Data, U: Data>(
    next: Option<Box<dyn Any>>,
    first: bool,
    apply: impl FnMut(T, &mut Emit<'_, U>) -> Result<()> + 'static,
) -> Result<Built> {
    let next = downstream::<U>(next)?;
    Ok(wrap::<T>(Box::new(Narrow { apply, batch: Vec::with_capacity(BATCH), next }), first))
}

/// Pushes every item into `out`: the tail of every op that emits many per input.
#[inline]
fn push_all<U>(items: impl IntoIterator<Item = U>, out: &mut Emit<'_, U>) -> Result<()> {
    for u in items {
        out.push(u)?;
    }
    Ok(())
}

/// Collects the strings that reach it: the end of a chain under test.
#[cfg(test)]
pub(crate) struct Collect(pub(crate) std::rc::Rc<std::cell::RefCell<Vec<String>>>);

#[cfg(test)]
impl Sink<String> for Collect {
    fn push(&mut self, item: String) -> Result<()> {
        self.0.borrow_mut().push(item);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Builds the chain for a task's ops, back to front.
pub(crate) fn build_chain(ops: &[&[u8]]) -> Result<Chain> {
    if ops.is_empty() {
        let head: Box<dyn RawSink> =
            if crate::host::output_counted() { Box::new(CountRaw(0)) } else { Box::new(PassThrough(Output::new())) };
        return Ok(Chain { head, runner: None });
    }
    stream::reset();
    let mut next = None;
    let mut runner = None;
    for (i, op) in ops.iter().enumerate().rev() {
        let (build, captured) = read_op(op)?;
        crate::host::building_step(i);
        let mut built = build(captured, next.take(), i == 0)?;
        if let Built::Stream(upstream, r) = built {
            runner = Some(r);
            built = *upstream;
        }
        match built {
            Built::Typed(b) => next = Some(b),
            Built::Raw(head) if i == 0 => return Ok(Chain { head, runner }),
            Built::Raw(_) | Built::Stream(..) => {
                return Err(Error::msg("an op built a chain head in the middle of a chain"));
            }
        }
    }
    Err(Error::msg("the first op did not build a chain head"))
}
