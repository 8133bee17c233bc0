//! Ops and the sinks that run them.
//!
//! An op is `[1u8][build fn: u64 LE][captured bytes]`. The build fn is a
//! monomorphized function of this module; in wasm a function pointer is an index
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

use spindle_frame::BatchWriter;

use crate::codec::{self, RecordBuf};
use crate::keytable::KeyTable;
use crate::{Data, Error, Result};

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
        None if crate::task::output_counted() => Ok(Box::new(CountOnly::<U>(0, PhantomData))),
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

// --- build fns, one per transformation shape ---------------------------------

pub(crate) fn build_map<F, T, U>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(T) -> U + Copy + 'static,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    let next = downstream::<U>(next)?;
    Ok(wrap::<T>(Box::new(Map { f, batch: Vec::with_capacity(BATCH), next }), first))
}

/// A one-to-one op: a batch maps into the next batch with one `extend`, which
/// reserves once and writes each element without a capacity check (on word
/// count, just over half the instructions of pushing them one at a time through
/// [`Narrow`]).
struct Map<F, U> {
    f: F,
    batch: Vec<U>,
    next: Box<dyn Sink<U>>,
}

impl<T, U, F: Fn(T) -> U> Sink<T> for Map<F, U> {
    fn push(&mut self, item: T) -> Result<()> {
        self.batch.push((self.f)(item));
        hand_on(&mut self.batch, &mut *self.next)
    }
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        self.batch.extend(items.drain(..).map(&self.f));
        if self.batch.len() >= BATCH {
            return self.next.push_batch(&mut self.batch);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        hand_on(&mut self.batch, &mut *self.next)?;
        self.next.finish()
    }
}

pub(crate) fn build_map_with<F, C, T, U>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(&C, T) -> U + Copy + 'static,
    C: Data,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    let c: C = codec::decode_top(captured)?;
    narrow(next, first, move |t, out| out.push(f(&c, t)))
}

pub(crate) fn build_filter<F, T>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(&T) -> bool + Copy + 'static,
    T: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |t, out| if f(&t) { out.push(t) } else { Ok(()) })
}

pub(crate) fn build_filter_with<F, C, T>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(&C, &T) -> bool + Copy + 'static,
    C: Data,
    T: Data,
{
    let f = conjure::<F>();
    let c: C = codec::decode_top(captured)?;
    narrow(next, first, move |t, out| if f(&c, &t) { out.push(t) } else { Ok(()) })
}

pub(crate) fn build_flat_map<F, T, U, I>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(T) -> I + Copy + 'static,
    I: IntoIterator<Item = U>,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |t, out| push_all(f(t), out))
}

pub(crate) fn build_flat_map_with<F, C, T, U, I>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(&C, T) -> I + Copy + 'static,
    I: IntoIterator<Item = U>,
    C: Data,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    let c: C = codec::decode_top(captured)?;
    narrow(next, first, move |t, out| push_all(f(&c, t), out))
}

pub(crate) fn build_map_values<F, K, V, W>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(V) -> W + Copy + 'static,
    K: Data,
    V: Data,
    W: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |(k, v): (K, V), out| out.push((k, f(v))))
}

/// Merges values of equal key bytes; emits one pair per key when its input ends.
/// As the first op (the reduce side of a shuffle) it reads key bytes directly.
pub(crate) fn build_combine<F, K, V>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(V, V) -> V + Copy + 'static,
    K: Data,
    V: Data,
{
    let combine = Combine::<F, K, V> {
        f: conjure::<F>(),
        // The map side's tables drain into the reduce side's: different seeds.
        groups: KeyTable::new(if first { REDUCE_SIDE_SEED } else { MAP_SIDE_SEED }),
        scratch: Vec::new(),
        next: downstream::<(K, V)>(next)?,
        _k: PhantomData,
    };
    Ok(if first { Built::Raw(Box::new(combine)) } else { Built::Typed(Box::new(Box::new(combine) as Box<dyn Sink<(K, V)>>)) })
}

/// Hash seeds of the map side's and reduce side's combining tables.
const MAP_SIDE_SEED: u64 = 0;
const REDUCE_SIDE_SEED: u64 = 0x5851_f42d_4c95_7f2d;

struct Combine<F, K, V> {
    f: F,
    /// Encoded key -> merged value.
    groups: KeyTable<V>,
    scratch: Vec<u8>,
    next: Box<dyn Sink<(K, V)>>,
    _k: PhantomData<fn() -> K>,
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> Combine<F, K, V> {
    #[inline]
    fn merge(&mut self, key: &[u8], v: V) {
        self.groups.merge(key, v, &self.f);
    }

    fn flush(&mut self) -> Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        for (key, v) in self.groups.drain() {
            out.push((codec::decode_top::<K>(key)?, v))?;
        }
        out.flush()?;
        self.next.finish()
    }
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> Sink<(K, V)> for Combine<F, K, V> {
    #[inline]
    fn push(&mut self, (k, v): (K, V)) -> Result<()> {
        // A string key encodes to its own bytes: skip the serializer (the type test
        // is resolved at compile time).
        if let Some(s) = (&k as &dyn Any).downcast_ref::<String>() {
            self.merge(s.as_bytes(), v);
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        codec::encode_top(&k, &mut scratch)?;
        self.merge(&scratch, v);
        self.scratch = scratch;
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> RawSink for Combine<F, K, V> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let key = key.ok_or_else(|| Error::msg("reduce_by_key received a record without a key"))?;
        let v: V = codec::decode_top(value)?;
        self.merge(key, v);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

// --- whole partitions ---------------------------------------------------------

/// Emits elements for a whole partition's elements.
type ApplyAll<T, U> = Box<dyn FnMut(Vec<T>, &mut Emit<'_, U>) -> Result<()>>;

/// Buffers a partition's elements and hands them to a function at its end.
struct Partition<T, U> {
    items: Vec<T>,
    apply: ApplyAll<T, U>,
    next: Box<dyn Sink<U>>,
}

impl<T, U> Sink<T> for Partition<T, U> {
    fn push(&mut self, item: T) -> Result<()> {
        self.items.push(item);
        Ok(())
    }
    fn push_batch(&mut self, items: &mut Vec<T>) -> Result<()> {
        self.items.append(items);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        let items = std::mem::take(&mut self.items);
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        (self.apply)(items, &mut out)?;
        out.flush()?;
        self.next.finish()
    }
}

pub(crate) fn build_map_partitions_with<F, C, T, U, I>(
    captured: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built>
where
    F: Fn(&C, u32, Vec<T>) -> I + Copy + 'static,
    I: IntoIterator<Item = U>,
    C: Data,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    let c: C = codec::decode_top(captured)?;
    let partition = crate::task::partition();
    let sink = Partition::<T, U> {
        items: Vec::new(),
        apply: Box::new(move |items, out| push_all(f(&c, partition, items), out)),
        next: downstream::<U>(next)?,
    };
    Ok(wrap::<T>(Box::new(sink), first))
}

/// A small, fast generator (SplitMix64) for sampling; seeded per partition.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Poisson-distributed with mean `mean` (Knuth's method; means are small).
    pub(crate) fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.next_f64();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// What a `sample` op captures.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct SampleSpec {
    pub with_replacement: bool,
    pub fraction: f64,
    pub seed: u64,
}

pub(crate) fn build_sample<T: Data>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    let spec: SampleSpec = codec::decode_top(captured)?;
    let partition = u64::from(crate::task::partition());
    let mut rng = SplitMix::new(spec.seed ^ partition.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    narrow(
        next,
        first,
        move |t: T, out: &mut Emit<'_, T>| {
            if !spec.with_replacement {
                return if rng.next_f64() < spec.fraction { out.push(t) } else { Ok(()) };
            }
            // With replacement, each element appears a Poisson(fraction) number of times.
            let copies = rng.poisson(spec.fraction);
            if copies == 0 {
                return Ok(());
            }
            let bytes = {
                let mut b = Vec::new();
                codec::encode_top(&t, &mut b)?;
                b
            };
            for _ in 1..copies {
                out.push(codec::decode_top(&bytes)?)?;
            }
            out.push(t)
        },
    )
}

pub(crate) fn build_key_by<F, T, K>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(&T) -> K + Copy + 'static,
    T: Data,
    K: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |t: T, out: &mut Emit<'_, (K, T)>| out.push((f(&t), t)))
}

// --- decoding what the host grouped ------------------------------------------

/// Values of a group: a batch of unkeyed records, one encoded value each.
fn group_values<V: Data>(batch: &[u8]) -> Result<Vec<V>> {
    let mut out = Vec::new();
    for r in spindle_frame::BatchReader::new(batch) {
        out.push(codec::decode_top(r?.value)?);
    }
    Ok(out)
}

/// The head of a chain after `group-by-key`: (key, batch of values) records
/// become `(K, Vec<V>)`.
struct GroupHead<K, V> {
    next: Box<dyn Sink<(K, Vec<V>)>>,
}

impl<K: Data, V: Data> RawSink for GroupHead<K, V> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let k: K = codec::decode_top(key.unwrap_or_default())?;
        self.next.push((k, group_values(value)?))
    }
    fn finish(&mut self) -> Result<()> {
        self.next.finish()
    }
}

pub(crate) fn build_decode_group<K: Data, V: Data>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    if !first {
        return Err(Error::msg("a group decoder must start its chain (a plan the SDK does not make)"));
    }
    Ok(Built::Raw(Box::new(GroupHead::<K, V> { next: downstream(next)? })))
}

/// The head of a chain after a two-way `cogroup`.
struct CoGroupHead<K, V, W> {
    next: Box<dyn Sink<crate::pairs::CoGrouped<K, V, W>>>,
}

impl<K: Data, V: Data, W: Data> RawSink for CoGroupHead<K, V, W> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let k: K = codec::decode_top(key.unwrap_or_default())?;
        let mut sides = spindle_frame::BatchReader::new(value);
        let mut side = || -> Result<&[u8]> {
            Ok(sides.next().ok_or_else(|| Error::msg("a cogroup record has too few sides"))??.value)
        };
        let vs = group_values(side()?)?;
        let ws = group_values(side()?)?;
        self.next.push((k, (vs, ws)))
    }
    fn finish(&mut self) -> Result<()> {
        self.next.finish()
    }
}

pub(crate) fn build_decode_cogroup<K: Data, V: Data, W: Data>(
    _: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built> {
    if !first {
        return Err(Error::msg("a cogroup decoder must start its chain (a plan the SDK does not make)"));
    }
    Ok(Built::Raw(Box::new(CoGroupHead::<K, V, W> { next: downstream(next)? })))
}

// --- head and tail of a chain ------------------------------------------------

/// Decodes records into `T` for the first op, a batch at a time (at most
/// [`BATCH`] records and about [`BATCH_BYTES`] of them).
struct Decode<T> {
    batch: Vec<T>,
    bytes: usize,
    sink: Box<dyn Sink<T>>,
}

impl<T> Decode<T> {
    fn new(sink: Box<dyn Sink<T>>) -> Self {
        Decode { batch: Vec::with_capacity(BATCH), bytes: 0, sink }
    }

    /// Adds an element decoded from `len` bytes.
    #[inline]
    fn add(&mut self, item: T, len: usize) -> Result<()> {
        self.batch.push(item);
        self.bytes += len;
        if self.batch.len() >= BATCH || self.bytes >= BATCH_BYTES {
            self.bytes = 0;
            self.sink.push_batch(&mut self.batch)?;
        }
        Ok(())
    }
}

impl<T: Data> RawSink for Decode<T> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        self.add(codec::decode_record(key, value)?, key.map_or(0, <[u8]>::len) + value.len())
    }
    fn finish(&mut self) -> Result<()> {
        hand_on(&mut self.batch, &mut *self.sink)?;
        self.sink.finish()
    }
}

/// Decodes strings (text lines, mostly) a frame at a time: one SIMD check of the
/// whole frame as UTF-8 stands for a check of each string. A string's record is
/// `0x00 uleb128(len) bytes`; where the frame is valid UTF-8, so are the bytes
/// if they start and end on char boundaries. They start on one: the last byte of
/// a uleb128 is ASCII, and no continuation byte follows ASCII in UTF-8. They end
/// on one if the next byte is not a continuation byte (it is the 0x00 of the next
/// string, unless a record with a long key follows), or at the end of the frame.
/// A frame with a string
/// of 128 bytes or more is, as a rule, not UTF-8 as a whole (the length takes two
/// bytes, the first above 0x7f, after the ASCII 0x00): then, and for the rest of
/// the task, strings are checked one at a time.
struct DecodeStrings {
    strings: Decode<String>,
    /// Whether to try checking whole frames.
    whole: bool,
}

impl RawSink for DecodeStrings {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        self.strings.push_raw(key, value)
    }
    fn push_frame(&mut self, frame: &[u8]) -> Result<()> {
        if !self.whole || simdutf8::basic::from_utf8(frame).is_err() {
            self.whole = false;
            for rec in spindle_frame::BatchReader::new(frame) {
                let rec = rec.map_err(frame_error)?;
                self.strings.push_raw(rec.key, rec.value)?;
            }
            return Ok(());
        }
        for rec in spindle_frame::BatchReader::new(frame) {
            let rec = rec.map_err(frame_error)?;
            let end = rec.value.as_ptr() as usize + rec.value.len() - frame.as_ptr() as usize;
            if rec.key.is_some() || frame.get(end).is_some_and(|&b| is_continuation(b)) {
                // A keyed record, or bytes that are not UTF-8: the record decoder's
                // answer.
                self.strings.push_raw(rec.key, rec.value)?;
                continue;
            }
            // SAFETY: a slice of valid UTF-8 between char boundaries.
            let s = crate::bytes::copy_str(unsafe { core::str::from_utf8_unchecked(rec.value) });
            self.strings.add(s, rec.value.len())?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.strings.finish()
    }
}

/// A UTF-8 continuation byte (`10xxxxxx`): never the first byte of a char.
#[inline]
fn is_continuation(b: u8) -> bool {
    (b as i8) < -0x40
}

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
            crate::task::write_output(&self.batch.take());
        }
    }
}

/// Encodes elements into the task output: the tail of a chain.
struct Encode<U> {
    rec: RecordBuf,
    out: Output,
    _u: PhantomData<fn(U)>,
}

impl<U> Encode<U> {
    fn new() -> Self {
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
}

/// Counts elements, the tail of a chain whose output is only counted (a count
/// action): the host needs their number, so they are neither encoded nor copied
/// out of the sandbox.
struct CountOnly<U>(u64, PhantomData<fn(U)>);

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
        crate::task::add_output_count(self.0);
        Ok(())
    }
}

/// Counts records, for a task with no ops whose output is only counted.
struct CountRaw(u64);

impl RawSink for CountRaw {
    fn push_raw(&mut self, _: Option<&[u8]>, _: &[u8]) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        crate::task::add_output_count(self.0);
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

/// Builds the chain for a task's ops, back to front.
pub(crate) fn build_chain(ops: &[&[u8]]) -> Result<Box<dyn RawSink>> {
    if ops.is_empty() {
        if crate::task::output_counted() {
            return Ok(Box::new(CountRaw(0)));
        }
        return Ok(Box::new(PassThrough(Output::new())));
    }
    let mut next = None;
    for (i, op) in ops.iter().enumerate().rev() {
        let (build, captured) = read_op(op)?;
        match build(captured, next.take(), i == 0)? {
            Built::Typed(b) => next = Some(b),
            Built::Raw(head) if i == 0 => return Ok(head),
            Built::Raw(_) => return Err(Error::msg("an op built a chain head in the middle of a chain")),
        }
    }
    Err(Error::msg("the first op did not build a chain head"))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// Collects what reaches it.
    struct Collect(Rc<RefCell<Vec<String>>>);

    impl Sink<String> for Collect {
        fn push(&mut self, item: String) -> Result<()> {
            self.0.borrow_mut().push(item);
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    /// Decodes `frames` with the whole-frame decoder and with the one that checks
    /// each string: the strings, or the error.
    fn both(frames: &[Vec<u8>]) -> (Result<Vec<String>>, Result<Vec<String>>) {
        let run = |head: &mut dyn RawSink, got: &Rc<RefCell<Vec<String>>>| -> Result<Vec<String>> {
            for f in frames {
                head.push_frame(f)?;
            }
            head.finish()?;
            Ok(got.borrow().clone())
        };
        let got = Rc::new(RefCell::new(Vec::new()));
        let mut whole = DecodeStrings { strings: Decode::new(Box::new(Collect(got.clone()))), whole: true };
        let a = run(&mut whole, &got);
        let got = Rc::new(RefCell::new(Vec::new()));
        let b = run(&mut Decode::<String>::new(Box::new(Collect(got.clone()))), &got);
        (a, b)
    }

    fn frame(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            spindle_frame::write_record(&mut out, None, v);
        }
        out
    }

    #[test]
    fn whole_frames_of_strings_decode_as_string_by_string() {
        let long = "ü".repeat(100);
        // 16450 bytes: the length prefix is 0xc2 0x80 0x01, UTF-8 as it stands.
        let prefix_is_utf8 = "é".repeat(8225);
        let frames = [
            frame(&[b"", "ß and more".as_bytes(), b"plain", "日本語のテキスト".as_bytes(), b""]),
            frame(&[prefix_is_utf8.as_bytes(), b"x"]),
            frame(&[long.as_bytes(), b"after a long one"]),
            frame(&["€".as_bytes(), b"ok"]),
        ];
        let (a, b) = both(&frames);
        let a = a.unwrap();
        assert_eq!(a, b.unwrap());
        assert_eq!(a.len(), 11);
        assert_eq!(a[1], "ß and more");
        assert_eq!(a[5], prefix_is_utf8);
    }

    #[test]
    fn a_string_that_is_not_utf8_fails_either_way() {
        // Each alone is not UTF-8; together, the one after the other, they are.
        let split = frame(&[b"\xc3", b"\xa9"]);
        let cut_short = frame(&[b"ab\xe2\x82"]);
        let stray = frame(&[b"\xa9 at the start"]);
        // A record with a 168-byte key after the first: its length prefix, 0xa9
        // 0x01, ends the frame's "é"; the frame is UTF-8 as a whole.
        let mut keyed_after = frame(&[b"\xc3"]);
        spindle_frame::write_record(&mut keyed_after, Some(&[b'k'; 168]), b"v");
        assert!(std::str::from_utf8(&keyed_after).is_ok());
        for f in [split, cut_short, stray, keyed_after] {
            let (a, b) = both(&[f]);
            assert!(a.is_err() && b.is_err(), "{a:?} {b:?}");
        }
    }

    #[test]
    fn a_keyed_record_goes_to_the_record_decoder() {
        let mut f = frame(&[b"fine"]);
        spindle_frame::write_record(&mut f, Some(b"k"), "é".as_bytes());
        let (a, b) = both(&[f]);
        assert_eq!(a.unwrap(), b.unwrap());
    }
}
