//! The build fns of ops that work element by element or on whole partitions.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::stream::{self, ApplyAll, Buffered, Collector, PartitionIter, Streamed};
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
    if TypeId::of::<F>() == type_of(&crate::words) {
        // `flat_map(spindle::words)`: the op also takes many lines at once.
        let next = downstream::<String>(next)?;
        return Ok(wrap::<String>(Box::new(SplitIntoWords { batch: Vec::with_capacity(BATCH), next }), first));
    }
    narrow(next, first, move |t, out| push_all(f(t), out))
}

fn type_of<T: 'static>(_: &T) -> TypeId {
    TypeId::of::<T>()
}

/// `flat_map(spindle::words)`, which also splits the whole lines of a text
/// input at once ([`Sink::push_text`]): whitespace ends words and lines alike, so
/// no string per line is made (nor dropped), and the scan of a text does not start
/// over at every line.
struct SplitIntoWords {
    batch: Vec<String>,
    next: Box<dyn Sink<String>>,
}

impl SplitIntoWords {
    #[inline]
    fn split(&mut self, text: &str) -> Result<()> {
        let mut out = Emit { batch: &mut self.batch, next: &mut *self.next };
        let mut words = crate::split_words(text);
        while let Some(w) = words.next_owned() {
            out.push(w)?;
        }
        Ok(())
    }
}

impl Sink<String> for SplitIntoWords {
    fn push(&mut self, line: String) -> Result<()> {
        self.split(&line)
    }
    fn push_batch(&mut self, lines: &mut Vec<String>) -> Result<()> {
        for line in lines.drain(..) {
            self.split(&line)?;
        }
        Ok(())
    }
    fn push_text(&mut self, text: &str) -> Result<bool> {
        self.split(text)?;
        Ok(true)
    }
    fn finish(&mut self) -> Result<()> {
        hand_on(&mut self.batch, &mut *self.next)?;
        self.next.finish()
    }
}

pub(crate) fn build_flat_map_with<F, C, T, U, I>(
    captured: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built>
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

pub(crate) fn build_map_partitions_with<F, C, T, U, I>(
    captured: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built>
where
    F: Fn(&C, u32, PartitionIter<T>) -> I + Copy + 'static,
    I: IntoIterator<Item = U>,
    C: Data,
    T: Data,
    U: Data,
{
    let f = conjure::<F>();
    let c: C = codec::decode_top(captured)?;
    let partition = crate::host::partition();
    let apply: ApplyAll<T, U> = Box::new(move |items, out| push_all(f(&c, partition, items), out));
    let next = downstream::<U>(next)?;
    if stream::take_streaming() {
        let queue = Rc::new(RefCell::new(VecDeque::new()));
        let collector: Box<dyn Sink<T>> = Box::new(Collector(queue.clone()));
        let runner = Box::new(Streamed { queue, apply, next });
        return Ok(Built::Stream(Box::new(wrap::<T>(collector, first)), runner));
    }
    Ok(wrap::<T>(Box::new(Buffered { items: Vec::new(), apply, next }), first))
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
    let partition = u64::from(crate::host::partition());
    let mut rng = SplitMix::new(spec.seed ^ partition.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    narrow(next, first, move |t: T, out: &mut Emit<'_, T>| {
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
    })
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

pub(crate) fn build_flat_map_values<F, K, V, W, I>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(V) -> I + Copy + 'static,
    I: IntoIterator<Item = W>,
    K: Data + Clone,
    V: Data,
    W: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |(k, v): (K, V), out| {
        for w in f(v) {
            out.push((k.clone(), w))?;
        }
        Ok(())
    })
}

pub(crate) fn build_foreach<F, T>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built>
where
    F: Fn(T) + Copy + 'static,
    T: Data,
{
    let f = conjure::<F>();
    narrow(next, first, move |t: T, _out: &mut Emit<'_, ()>| {
        f(t);
        Ok(())
    })
}

/// Pairs each element with its index: `offsets[partition]` for the partition's
/// first element, counting up.
pub(crate) fn build_zip_with_index<T: Data>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    let offsets: Vec<u64> = codec::decode_top(captured)?;
    let partition = crate::host::partition() as usize;
    let mut index = *offsets
        .get(partition)
        .ok_or_else(|| crate::Error::msg("zip_with_index: a partition past the counted ones"))?;
    narrow(next, first, move |t: T, out: &mut Emit<'_, (T, u64)>| {
        out.push((t, index))?;
        index += 1;
        Ok(())
    })
}

/// Pairs element `i` of partition `k` (of `n`) with `i * n + k`.
pub(crate) fn build_zip_with_unique_id<T: Data>(
    captured: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built> {
    let n: u64 = codec::decode_top(captured)?;
    let mut id = u64::from(crate::host::partition());
    narrow(next, first, move |t: T, out: &mut Emit<'_, (T, u64)>| {
        out.push((t, id))?;
        id = id.wrapping_add(n);
        Ok(())
    })
}

/// What a `random_split` op captures: the share `[low, high)` of the unit
/// interval its split keeps.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct SplitSpec {
    pub low: f64,
    pub high: f64,
    pub seed: u64,
}

/// Keeps the elements whose draw (one per element, the same in every split of
/// one `random_split`) falls in the split's share.
pub(crate) fn build_random_split<T: Data>(captured: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    let spec: SplitSpec = codec::decode_top(captured)?;
    let partition = u64::from(crate::host::partition());
    let mut rng = SplitMix::new(spec.seed ^ partition.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    narrow(next, first, move |t: T, out: &mut Emit<'_, T>| {
        let x = rng.next_f64();
        if x >= spec.low && x < spec.high { out.push(t) } else { Ok(()) }
    })
}

/// Which side of a `cartesian` an op keys, and how many partitions the other
/// side has.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CrossSpec {
    pub left: bool,
    pub others: u32,
}

/// Keys every element of partition `p` by each cell of the cartesian grid its
/// partition meets: `(p, j)` for the left side, `(i, p)` for the right.
pub(crate) fn build_cross_key<T: Data + Clone>(
    captured: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built> {
    let spec: CrossSpec = codec::decode_top(captured)?;
    let p = crate::host::partition();
    narrow(next, first, move |t: T, out: &mut Emit<'_, ((u32, u32), T)>| {
        for q in 0..spec.others {
            let cell = if spec.left { (p, q) } else { (q, p) };
            out.push((cell, t.clone()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::pipeline::Collect;
    use crate::pipeline::RawSink;

    /// The head of a task whose first op is `flat_map(f)`, as a task builds it.
    fn built<F: Fn(String) -> crate::Words + Copy + 'static>(_: F, got: &Rc<RefCell<Vec<String>>>) -> Box<dyn RawSink> {
        let next: Box<dyn Sink<String>> = Box::new(Collect(got.clone()));
        match build_flat_map::<F, String, String, crate::Words>(&[], Some(Box::new(next)), true) {
            Ok(Built::Raw(head)) => head,
            _ => panic!("a chain head"),
        }
    }

    /// `flat_map(spindle::words)` at the head of a text input's chain.
    fn head(got: &Rc<RefCell<Vec<String>>>) -> Box<dyn RawSink> {
        built(crate::words, got)
    }

    #[test]
    fn words_of_runs_of_lines_are_the_words_of_each_line() {
        let text = "alpha beta\r\n\n  gamma\tdelta \u{3000}ideographic\u{a0}nbsp\nδέλτα  é\r\n\
                    a line of many words, longer than sixty-four bytes in all, to cross masks\nlast";
        let want: Vec<String> = text.lines().flat_map(str::split_whitespace).map(str::to_owned).collect();
        for utf8 in [true, false] {
            // Runs cut after every line.
            let mut at = 0;
            let got = Rc::new(RefCell::new(Vec::new()));
            let mut h = head(&got);
            while at < text.len() {
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                h.push_lines(&text.as_bytes()[at..end], utf8).unwrap();
                at = end;
            }
            h.finish().unwrap();
            assert_eq!(*got.borrow(), want, "a run per line, utf8 {utf8}");
            // One run.
            let got = Rc::new(RefCell::new(Vec::new()));
            let mut h = head(&got);
            h.push_lines(text.as_bytes(), utf8).unwrap();
            h.finish().unwrap();
            assert_eq!(*got.borrow(), want, "one run, utf8 {utf8}");
            // Line by line, as records.
            let got = Rc::new(RefCell::new(Vec::new()));
            let mut h = head(&got);
            for line in text.lines() {
                h.push_raw(None, line.as_bytes()).unwrap();
            }
            h.finish().unwrap();
            assert_eq!(*got.borrow(), want, "records, utf8 {utf8}");
        }
        // The same op through a closure, which takes lines one by one.
        let got = Rc::new(RefCell::new(Vec::new()));
        #[allow(clippy::redundant_closure)]
        let mut h = built(|l| crate::words(l), &got);
        assert!(h.takes_lines());
        h.push_lines(text.as_bytes(), true).unwrap();
        h.finish().unwrap();
        assert_eq!(*got.borrow(), want, "a closure");
    }

    #[test]
    fn a_run_that_is_not_utf8_fails_as_its_line_would() {
        let got = Rc::new(RefCell::new(Vec::new()));
        let mut h = head(&got);
        let err = h.push_lines(b"good line\ncaf\xe9 latin-1\n", false).unwrap_err().to_string();
        let mut one = head(&Rc::new(RefCell::new(Vec::new())));
        let want = one.push_raw(None, b"caf\xe9 latin-1").unwrap_err().to_string();
        assert_eq!(err, want);
        assert!(err.contains("UTF-8"), "{err}");
    }
}
