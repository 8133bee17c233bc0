//! Combining values by key: the map side of `reduce_by_key` and its reduce side.
//!
//! Both keep a table of keys in the task's memory. The map side hands its table
//! on (as partial sums, which the reduce side combines again) whenever it takes
//! [`MAP_SIDE_BYTES`], so a map task over any number of keys stays bounded.
//! The reduce side gets its partition sorted by key when the host finds it too
//! large for such a table (`task-io.input-sorted`), and then holds one key at a
//! time.

use std::any::Any;
use std::marker::PhantomData;

use super::{BATCH, Built, Emit, RawSink, Sink, conjure, downstream};
use crate::__private::bindings::spindle::job::task_io;
use crate::codec;
use crate::keytable::KeyTable;
use crate::{Data, Error, Result};

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
        map_side: !first,
        sorted: None,
        current: None,
        _k: PhantomData,
    };
    Ok(if first {
        Built::Raw(Box::new(combine))
    } else {
        Built::Typed(Box::new(Box::new(combine) as Box<dyn Sink<(K, V)>>))
    })
}

/// Bytes the map side's table may take before it is handed on: enough for a
/// million keys of a few words, a fraction of a task's default memory.
const MAP_SIDE_BYTES: usize = 64 << 20;

/// Hash seeds of the map side's and reduce side's combining tables.
const MAP_SIDE_SEED: u64 = 0;
const REDUCE_SIDE_SEED: u64 = 0x5851_f42d_4c95_7f2d;

struct Combine<F, K, V> {
    f: F,
    /// Encoded key -> merged value.
    groups: KeyTable<V>,
    scratch: Vec<u8>,
    next: Box<dyn Sink<(K, V)>>,
    /// Whether this is the map side (an op after others, feeding the shuffle).
    map_side: bool,
    /// On the reduce side, whether the host sorted the input by key (asked at
    /// the first record).
    sorted: Option<bool>,
    /// On sorted input, the key being combined and its value so far.
    current: Option<(Vec<u8>, V)>,
    _k: PhantomData<fn() -> K>,
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> Combine<F, K, V> {
    #[inline]
    fn merge(&mut self, key: &[u8], v: V) -> Result<()> {
        self.groups.merge(key, v, &self.f);
        if self.map_side && self.groups.footprint() >= MAP_SIDE_BYTES {
            self.hand_on_partial()?;
        }
        Ok(())
    }

    /// The map side: partial sums go on now (the reduce side adds them up), and
    /// the table starts again small.
    fn hand_on_partial(&mut self) -> Result<()> {
        self.emit_all()?;
        self.groups = KeyTable::new(MAP_SIDE_SEED);
        Ok(())
    }

    /// Hands one key's value on.
    fn emit_one(&mut self, key: &[u8], v: V) -> Result<()> {
        if let Some(out) = self.next.output() {
            let mut value = Vec::new();
            codec::encode_top(&v, &mut value)?;
            out.write(Some(key), &value);
            return Ok(());
        }
        self.next.push((codec::decode_top::<K>(key)?, v))
    }

    /// On input sorted by key: combines `v` into the current key's value, or
    /// hands that on and starts a new key.
    fn merge_sorted(&mut self, key: &[u8], v: V) -> Result<()> {
        if let Some((k, acc)) = self.current.take() {
            if k == key {
                self.current = Some((k, (self.f)(acc, v)));
                return Ok(());
            }
            self.emit_one(&k, acc)?;
        }
        self.current = Some((key.to_vec(), v));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some((k, acc)) = self.current.take() {
            self.emit_one(&k, acc)?;
        }
        self.emit_all()?;
        self.next.finish()
    }

    /// Hands every key of the table on (the next op is not finished).
    fn emit_all(&mut self) -> Result<()> {
        if let Some(out) = self.next.output() {
            // The pairs go straight to the task output (the map side of a shuffle):
            // a pair's record is its key's encoding, which the table holds, and its
            // value's, so keys are neither decoded nor encoded again.
            let mut value = Vec::new();
            for (key, v) in self.groups.drain() {
                value.clear();
                codec::encode_top(&v, &mut value)?;
                out.write(Some(key.bytes()), &value);
            }
            return Ok(());
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        for (key, v) in self.groups.drain() {
            out.push((codec::decode_top::<K>(key.bytes())?, v))?;
        }
        out.flush()
    }
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> Sink<(K, V)> for Combine<F, K, V> {
    #[inline]
    fn push(&mut self, (k, v): (K, V)) -> Result<()> {
        // A string key encodes to its own bytes: skip the serializer (the type test
        // is resolved at compile time).
        if let Some(s) = (&k as &dyn Any).downcast_ref::<String>() {
            return self.merge(s.as_bytes(), v);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        codec::encode_top(&k, &mut scratch)?;
        let merged = self.merge(&scratch, v);
        self.scratch = scratch;
        merged
    }
    fn push_batch(&mut self, items: &mut Vec<(K, V)>) -> Result<()> {
        // String keys (the type test is resolved at compile time): their bytes are
        // the key, and the batch is merged in one loop.
        if let Some(items) = (items as &mut dyn Any).downcast_mut::<Vec<(String, V)>>() {
            self.groups.merge_batch(items, &self.f);
            if self.map_side && self.groups.footprint() >= MAP_SIDE_BYTES {
                self.hand_on_partial()?;
            }
            return Ok(());
        }
        for item in items.drain(..) {
            self.push(item)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

impl<F: Fn(V, V) -> V, K: Data, V: Data> RawSink for Combine<F, K, V> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let key = key.ok_or_else(|| Error::msg("reduce_by_key received a record without a key"))?;
        let v: V = codec::decode_top_fixed(value)?;
        // Asked at the first record: the host knows once the first batch is read.
        if *self.sorted.get_or_insert_with(task_io::input_sorted) {
            return self.merge_sorted(key, v);
        }
        self.groups.merge(key, v, &self.f);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}
