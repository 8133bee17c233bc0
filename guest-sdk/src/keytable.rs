//! The map behind map-side and reduce-side combining: encoded key bytes to a value.
//!
//! An open-addressing table with linear probing, made for lookups that mostly find
//! their key: a slot holds a short key itself (up to 15 bytes, as two words that
//! determine it, length and all), so a lookup hashes, loads one slot and compares
//! two words; a miss walks on to the next slot. The table is kept small, up to 7/8
//! full, with 24-byte slots for 8-byte values: lookups read it at random, and the
//! more of it stays cached, the fewer of them wait for memory. (Word count's
//! combining spent most of its time waiting for slots: with the table at most
//! half full, as is usual for linear probing, the job took 12 % more CPU, and with
//! 32-byte slots 4 % more.)
//!
//! Longer keys live back to back in an arena, which their slots point into.
//! Hashing and comparing read keys a word at a time: in wasm a `memcmp` or a small
//! `memcpy` is a call (a libcall for `memory.copy`), which costs more than the
//! comparison itself for short keys.

use std::mem::MaybeUninit;

use crate::bytes::{head_bytes, head_words, read_u64};

/// The low byte of a slot's `tag`: a short key's length (0 to [`SHORT_MAX`]), or
/// one of these.
const FREE: u8 = 0xff;
const LONG: u8 = 0xfe;

/// Keys up to this long are held in their slot; longer ones in the arena.
const SHORT_MAX: usize = 15;

/// Slots a table starts with (a power of two).
const INITIAL_SLOTS: usize = 64;

/// 16 bytes and the value (24 for a `u64`), so that more slots share cache lines.
struct Slot<V> {
    /// A short key: its [`short_words`], which determine it, length and all. A
    /// long key: its first 8 bytes, and its arena offset `<< 8 | LONG`. A free
    /// slot: `tag`'s low byte is [`FREE`], and `value` is uninitialised.
    head: u64,
    tag: u64,
    value: MaybeUninit<V>,
}

impl<V> Slot<V> {
    const EMPTY: Self = Slot { head: 0, tag: FREE as u64, value: MaybeUninit::uninit() };

    #[inline]
    fn is_free(&self) -> bool {
        self.tag as u8 == FREE
    }
}

/// A short key (at most [`SHORT_MAX`] bytes) as two words that determine it: its
/// [`head_words`], with the second's low byte replaced by the length. That byte
/// repeats a byte the first word holds (the key's first byte, or byte `n - 8`), or
/// is 0 for keys under 4 bytes.
#[inline]
fn short_words(key: &[u8]) -> (u64, u64) {
    debug_assert!(key.len() <= SHORT_MAX);
    let (a, c) = head_words(key);
    (a, c & !0xff | key.len() as u64)
}

/// The bytes of the short key held as `(a, c)` (see [`short_words`]), written to
/// the start of `buf`; returns the key's length.
fn short_key(a: u64, c: u64, buf: &mut [u8; 16]) -> usize {
    let n = (c & 0xff) as usize;
    head_bytes(n, (a, c), buf);
    n
}

/// The long key whose slot tag is `tag`: `[length: u32 LE][bytes]` in `arena`.
fn long_key(tag: u64, arena: &[u8]) -> &[u8] {
    let at = (tag >> 8) as usize;
    let n = u32::from_le_bytes(arena[at..at + 4].try_into().expect("4 bytes")) as usize;
    &arena[at + 4..at + 4 + n]
}

/// Aborts if dropped: held while a value is moved out of its slot, so that a
/// panicking merge function can never let the moved-out value be dropped twice.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

/// Encoded key -> value.
pub struct KeyTable<V> {
    /// A power of two of slots, at most 7/8 of them used.
    slots: Box<[Slot<V>]>,
    /// Used slots.
    len: usize,
    /// Long keys, each as `[length: u32 LE][bytes]`.
    arena: Vec<u8>,
    seed: u64,
}

impl<V> KeyTable<V> {
    /// An empty table hashing with `seed`. A table drains in the order of its
    /// hashes; inserting that order into a table with the same hashes fills runs
    /// of adjacent slots and makes probes long, so a table fed by another must
    /// use another seed.
    pub fn new(seed: u64) -> Self {
        KeyTable { slots: free_slots(INITIAL_SLOTS), len: 0, arena: Vec::new(), seed }
    }

    /// Keys held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes the table takes in memory (values that own heap memory hold more).
    pub(crate) fn footprint(&self) -> usize {
        std::mem::size_of_val(&*self.slots) + self.arena.capacity()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Merges `v` into the value of `key` with `f`, or inserts it.
    #[inline]
    pub fn merge(&mut self, key: &[u8], v: V, f: impl FnOnce(V, V) -> V) {
        if key.len() > SHORT_MAX {
            return self.merge_long(key, v, f);
        }
        self.merge_short(key, v, f);
    }

    /// `merge` for every pair of `items`, in order; leaves `items` empty. One loop
    /// with the lookup inlined: a call per key cost word count about 8 % of its
    /// instructions.
    #[inline]
    pub fn merge_batch<K: AsRef<[u8]>>(&mut self, items: &mut Vec<(K, V)>, f: impl Fn(V, V) -> V) {
        for (key, v) in items.drain(..) {
            self.merge(key.as_ref(), v, &f);
        }
    }

    /// `merge` for keys of at most [`SHORT_MAX`] bytes: a lookup compares two
    /// words.
    #[inline(always)]
    fn merge_short(&mut self, key: &[u8], v: V, f: impl FnOnce(V, V) -> V) {
        let (head, tag) = short_words(key);
        let mask = self.mask();
        let mut i = hash_short(self.seed, head, tag) as usize & mask;
        // The first probe outside the loop: most lookups end there.
        // SAFETY: `i <= mask`, the last slot's index.
        let slot = unsafe { self.slots.get_unchecked_mut(i) };
        if slot.head == head && slot.tag == tag {
            // SAFETY: the slot is used (a free slot's tag never equals a key's).
            return Self::merge_into(unsafe { slot.value.assume_init_mut() }, v, f);
        }
        loop {
            // SAFETY: `i <= mask`, the last slot's index.
            let slot = unsafe { self.slots.get_unchecked_mut(i) };
            if slot.is_free() {
                return self.insert_new(i, head, tag, v);
            }
            i = (i + 1) & mask;
            // SAFETY: as above.
            let slot = unsafe { self.slots.get_unchecked_mut(i) };
            if slot.head == head && slot.tag == tag {
                // SAFETY: as above.
                return Self::merge_into(unsafe { slot.value.assume_init_mut() }, v, f);
            }
        }
    }

    /// `merge` for keys longer than [`SHORT_MAX`] bytes.
    #[inline(never)]
    fn merge_long(&mut self, key: &[u8], v: V, f: impl FnOnce(V, V) -> V) {
        let head = read_u64(key, 0);
        let mask = self.mask();
        let mut i = hash_bytes(self.seed, key) as usize & mask;
        loop {
            // SAFETY: `i <= mask`, the last slot's index.
            let slot = unsafe { self.slots.get_unchecked_mut(i) };
            if slot.tag as u8 == LONG && slot.head == head && key_eq(long_key(slot.tag, &self.arena), key) {
                // SAFETY: the slot is used (its tag says a long key).
                return Self::merge_into(unsafe { slot.value.assume_init_mut() }, v, f);
            }
            if slot.is_free() {
                let at = u64::try_from(self.arena.len()).expect("an arena offset in 64 bits");
                let len = u32::try_from(key.len()).expect("a key under 4 GiB");
                assert!(at < 1 << 56, "combined keys under 2^56 bytes per task");
                self.arena.extend_from_slice(&len.to_le_bytes());
                self.arena.extend_from_slice(key);
                return self.insert_new(i, head, at << 8 | u64::from(LONG), v);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn merge_into(value: &mut V, v: V, f: impl FnOnce(V, V) -> V) {
        // The value is moved out, merged, and written back in place (no `Option`
        // around it: slots stay small, more of them share cache lines). Nothing
        // else sees the slot in between.
        let guard = AbortOnUnwind;
        // SAFETY: `acc` is the only owner of the value until the write puts the
        // merged one back; if `f` unwinds, the guard aborts first.
        unsafe {
            let acc = std::ptr::read(value);
            std::ptr::write(value, f(acc, v));
        }
        std::mem::forget(guard);
    }

    /// Fills free slot `i`, where a probe for a key not in the table ended, with
    /// the key's `head` and `tag`. Out of line: most merges find their key, and
    /// the lookup alone inlines into the caller's loop.
    #[inline(never)]
    fn insert_new(&mut self, mut i: usize, head: u64, tag: u64, v: V) {
        if 8 * (self.len + 1) > 7 * self.slots.len() {
            self.grow();
            i = self.free_slot(self.slot_hash(head, tag));
        }
        self.slots[i] = Slot { head, tag, value: MaybeUninit::new(v) };
        self.len += 1;
    }

    /// The hash of the key a slot with `head` and `tag` holds.
    fn slot_hash(&self, head: u64, tag: u64) -> u64 {
        if tag as u8 == LONG {
            hash_bytes(self.seed, long_key(tag, &self.arena))
        } else {
            hash_short(self.seed, head, tag)
        }
    }

    /// The free slot where a probe for `hash` ends (for a key not in the table).
    fn free_slot(&self, hash: u64) -> usize {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while !self.slots[i].is_free() {
            i = (i + 1) & mask;
        }
        i
    }

    /// Doubles the slots, moving every used one to where its probe now starts.
    fn grow(&mut self) {
        let bigger = free_slots(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, bigger);
        // `old`'s values move bit for bit; its slots' `MaybeUninit` values are not
        // dropped with it.
        for slot in old.iter().filter(|s| !s.is_free()) {
            let i = self.free_slot(self.slot_hash(slot.head, slot.tag));
            // SAFETY: `slot` is read once, and `old` never drops its values.
            self.slots[i] = unsafe { std::ptr::read(slot) };
        }
    }

    /// Every key and value, in no particular order; the table is left empty.
    pub fn drain(&mut self) -> Drain<'_, V> {
        self.len = 0;
        Drain { slots: self.slots.iter_mut(), arena: &self.arena }
    }
}

impl<V> Drop for KeyTable<V> {
    fn drop(&mut self) {
        if std::mem::needs_drop::<V>() {
            drop(self.drain());
        }
    }
}

fn free_slots<V>(n: usize) -> Box<[Slot<V>]> {
    debug_assert!(n.is_power_of_two());
    (0..n).map(|_| Slot::EMPTY).collect()
}

/// A key [`Drain`] yields: rebuilt from its slot if short, in the arena if long.
pub enum DrainedKey<'a> {
    /// A short key: its bytes, and how many of them are the key.
    Short([u8; 16], usize),
    /// A long key, in the table's arena.
    Long(&'a [u8]),
}

impl DrainedKey<'_> {
    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            DrainedKey::Short(buf, n) => &buf[..*n],
            DrainedKey::Long(key) => key,
        }
    }
}

/// The iterator [`KeyTable::drain`] returns. Frees every slot it passes, and on
/// drop the rest.
pub struct Drain<'a, V> {
    slots: std::slice::IterMut<'a, Slot<V>>,
    arena: &'a [u8],
}

impl<'a, V> Iterator for Drain<'a, V> {
    type Item = (DrainedKey<'a>, V);

    fn next(&mut self) -> Option<(DrainedKey<'a>, V)> {
        let slot = self.slots.find(|s| !s.is_free())?;
        let key = if slot.tag as u8 == LONG {
            DrainedKey::Long(long_key(slot.tag, self.arena))
        } else {
            let mut buf = [0; 16];
            let n = short_key(slot.head, slot.tag, &mut buf);
            DrainedKey::Short(buf, n)
        };
        slot.tag = u64::from(FREE);
        // SAFETY: the slot was used, and is free from here on: the value is read once.
        Some((key, unsafe { slot.value.assume_init_read() }))
    }
}

impl<V> Drop for Drain<'_, V> {
    fn drop(&mut self) {
        for _ in self.by_ref() {}
    }
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A fast hash of byte strings (keys are mostly words and numbers): short ones
/// by their [`short_words`]. The high and low halves are folded together: the
/// table takes the slot from the low bits.
#[inline]
fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    let n = b.len();
    if n <= SHORT_MAX {
        let (a, c) = short_words(b);
        return hash_short(seed, a, c);
    }
    let mut h = (n as u64 ^ seed).wrapping_mul(K);
    let mut i = 0;
    while n - i > 8 {
        h = (h ^ read_u64(b, i)).wrapping_mul(K).rotate_left(31);
        i += 8;
    }
    h = (h ^ read_u64(b, n - 8)).wrapping_mul(K);
    h ^ (h >> 32)
}

/// The hash of the short key held as `(a, c)` (its length is in `c`).
#[inline]
fn hash_short(seed: u64, a: u64, c: u64) -> u64 {
    let mut h = (seed ^ a).wrapping_mul(K).rotate_left(31);
    h = (h ^ c).wrapping_mul(K);
    h ^ (h >> 32)
}

/// Byte equality of two slices of the same length, a word at a time.
#[inline]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 16 {
        let mut i = 0;
        while i + 8 <= n {
            if read_u64(a, i) != read_u64(b, i) {
                return false;
            }
            i += 8;
        }
        return read_u64(a, n - 8) == read_u64(b, n - 8);
    }
    head_words(a) == head_words(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_merge_and_others_do_not() {
        let mut t = KeyTable::new(0);
        let words: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| format!("{}{}", "w".repeat((i % 40) as usize), i).into_bytes())
            .chain([Vec::new(), b"a".to_vec(), b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()])
            .collect();
        for _ in 0..3 {
            for w in &words {
                t.merge(w, 1u64, |a, b| a + b);
            }
        }
        assert_eq!(t.len(), words.len());
        let mut got: Vec<(Vec<u8>, u64)> = t.drain().map(|(k, v)| (k.bytes().to_vec(), v)).collect();
        got.sort();
        let mut want: Vec<(Vec<u8>, u64)> = words.iter().map(|w| (w.clone(), 3)).collect();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn batches_merge_as_single_merges_do() {
        // Keys of every length around the short-key limit, repeated, in batches of
        // varied sizes; the table grows while batches are merged.
        let keys: Vec<String> = (0..2000u32).map(|i| format!("{}{i}", "k".repeat((i % 23) as usize))).collect();
        let mut one = KeyTable::new(3);
        let mut batched = KeyTable::new(3);
        let mut items: Vec<(String, u64)> = Vec::new();
        for (round, k) in keys.iter().chain(keys.iter().step_by(3)).enumerate() {
            let v = round as u64 % 5 + 1;
            one.merge(k.as_bytes(), v, |a, b| a + b);
            items.push((k.clone(), v));
            if items.len() == round % 70 + 1 {
                batched.merge_batch(&mut items, |a, b| a + b);
                assert!(items.is_empty());
            }
        }
        batched.merge_batch(&mut items, |a, b| a + b);
        let sorted = |t: &mut KeyTable<u64>| {
            let mut v: Vec<(Vec<u8>, u64)> = t.drain().map(|(k, v)| (k.bytes().to_vec(), v)).collect();
            v.sort();
            v
        };
        let want = sorted(&mut one);
        assert_eq!(want.len(), keys.len());
        assert_eq!(sorted(&mut batched), want);
    }

    #[test]
    fn owned_values_merge_in_place() {
        let mut t = KeyTable::new(0);
        for i in 0..1000 {
            t.merge(format!("k{}", i % 7).as_bytes(), vec![i], |mut a, b| {
                a.extend(b);
                a
            });
        }
        let mut got: Vec<(Vec<u8>, Vec<i32>)> = t.drain().map(|(k, v)| (k.bytes().to_vec(), v)).collect();
        got.sort();
        assert_eq!(got.len(), 7);
        for (k, v) in got {
            let r: i32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert_eq!(v, (0..1000).filter(|i| i % 7 == r).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_value_is_dropped_once() {
        use std::rc::Rc;
        let live = Rc::new(());
        {
            let mut t = KeyTable::new(7);
            for round in 0..2 {
                for i in 0..500u32 {
                    let key = format!("{}{i}", "k".repeat((i % 30) as usize));
                    t.merge(key.as_bytes(), vec![Rc::clone(&live)], |mut a, b| {
                        a.extend(b);
                        a
                    });
                }
                // Half a drain, then the rest dropped with it; the table is reused.
                let taken: Vec<_> = t.drain().take(100).map(|(_, v)| v).collect();
                assert_eq!(taken.len(), 100);
                assert!(taken.iter().all(|v| v.len() == 1), "round {round}");
                assert_eq!(t.len(), 0);
            }
            for i in 0..300u32 {
                t.merge(format!("again{i}").as_bytes(), vec![Rc::clone(&live)], |a, _| a);
            }
            assert_eq!(Rc::strong_count(&live), 301);
        }
        assert_eq!(Rc::strong_count(&live), 1);
    }

    #[test]
    fn short_keys_round_trip_through_their_words() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..=SHORT_MAX {
            for fill in [0u8, 7, 0xff] {
                let base: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37).wrapping_add(fill)).collect();
                let mut keys = vec![base.clone(), vec![fill; n]];
                for i in 0..n {
                    let mut k = base.clone();
                    k[i] ^= 0x5a;
                    keys.push(k);
                }
                for k in keys {
                    let (a, c) = short_words(&k);
                    let mut buf = [0; 16];
                    let len = short_key(a, c, &mut buf);
                    assert_eq!(&buf[..len], &k[..], "length {n}");
                    assert_ne!(c as u8, FREE);
                    assert_ne!(c as u8, LONG);
                    seen.insert(((a, c), k));
                }
            }
        }
        // Different keys, different words.
        let words: std::collections::HashSet<_> = seen.iter().map(|(w, _)| *w).collect();
        let keys: std::collections::HashSet<_> = seen.iter().map(|(_, k)| k.clone()).collect();
        assert_eq!(words.len(), keys.len());
    }

    #[test]
    fn key_eq_sees_every_byte() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(key_eq(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x40;
                assert!(!key_eq(&a, &b), "length {n}, byte {i}");
                assert_ne!(hash_bytes(0, &a), hash_bytes(0, &b), "length {n}, byte {i}");
            }
        }
    }
}
