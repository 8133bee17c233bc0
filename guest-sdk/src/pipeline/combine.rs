//! Combining values by key: the map side of `reduce_by_key` and its reduce side.

use std::any::Any;
use std::marker::PhantomData;

use super::{BATCH, Built, Emit, RawSink, Sink, conjure, downstream};
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
        _k: PhantomData,
    };
    Ok(if first {
        Built::Raw(Box::new(combine))
    } else {
        Built::Typed(Box::new(Box::new(combine) as Box<dyn Sink<(K, V)>>))
    })
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
            return self.next.finish();
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut out = Emit { batch: &mut batch, next: &mut *self.next };
        for (key, v) in self.groups.drain() {
            out.push((codec::decode_top::<K>(key.bytes())?, v))?;
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
    fn push_batch(&mut self, items: &mut Vec<(K, V)>) -> Result<()> {
        // String keys (the type test is resolved at compile time): their bytes are
        // the key, and the batch is merged in one loop.
        if let Some(items) = (items as &mut dyn Any).downcast_mut::<Vec<(String, V)>>() {
            self.groups.merge_batch(items, &self.f);
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
        self.merge(key, v);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}
