//! The build fns of ops that work element by element or on whole partitions.

use std::any::Any;

use super::{BATCH, Built, Emit, Sink, conjure, downstream, hand_on, narrow, push_all, wrap};
use crate::codec;
use crate::{Data, Result};

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
/// [`Narrow`](super::Narrow)).
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
