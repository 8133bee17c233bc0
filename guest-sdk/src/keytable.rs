//! The map behind map-side and reduce-side combining: encoded key bytes to a value.
//!
//! Keys live back to back in one arena (the first keys seen, usually the most
//! frequent, share cache lines) and the table holds only offsets, so an insert is one
//! append and a lookup of a present key allocates nothing. Hashing and comparing read
//! keys a word at a time: in wasm a `memcmp` or a small `memcpy` is a call (a libcall
//! for `memory.copy`), which costs more than the comparison itself for short keys.

use hashbrown::HashTable;

use crate::bytes::{head_words, read_u64};

struct Entry<V> {
    /// The key's [`head_words`] if it is at most 16 bytes long (then they and the
    /// length determine it, and comparing needs no arena read).
    head: (u64, u64),
    start: u32,
    len: u32,
    value: V,
}

impl<V> Entry<V> {
    /// The entry's key, in `arena` (the table's).
    #[inline]
    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        let (start, end) = (self.start as usize, self.start as usize + self.len as usize);
        debug_assert!(end <= arena.len());
        // SAFETY: only `insert_new` makes entries, right after appending the key at
        // `start`, and the arena never shrinks. (Unchecked: the checks were 7 % of
        // a lookup's instructions.)
        unsafe { arena.get_unchecked(start..end) }
    }
}

/// Aborts if dropped: held while a value is moved out of its entry, so that a
/// panicking merge function can never let the moved-out value be dropped twice.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

/// Encoded key -> value.
pub(crate) struct KeyTable<V> {
    table: HashTable<Entry<V>>,
    arena: Vec<u8>,
    seed: u64,
}

impl<V> KeyTable<V> {
    /// An empty table hashing with `seed`. A table drains in the order of its
    /// hashes; inserting that order into a table with the same hashes fills runs
    /// of adjacent buckets and makes probes long, so a table fed by another must
    /// use another seed.
    pub(crate) fn new(seed: u64) -> Self {
        KeyTable { table: HashTable::new(), arena: Vec::new(), seed }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Merges `v` into the value of `key` with `f`, or inserts it.
    #[inline]
    pub(crate) fn merge(&mut self, key: &[u8], v: V, f: impl FnOnce(V, V) -> V) {
        let n = key.len();
        if n > 16 {
            return self.merge_long(key, v, f);
        }
        // A short key is its length and two words: read them once, for the hash
        // and for every comparison.
        let head = head_words(key);
        let hash = hash_head(self.seed, n, head);
        let found = self.table.find_mut(hash, |e| e.len as usize == n && e.head == head);
        let Some(e) = found else {
            return self.insert_new(hash, key, v);
        };
        Self::merge_into(&mut e.value, v, f);
    }

    /// `merge` for keys longer than 16 bytes.
    #[inline(never)]
    fn merge_long(&mut self, key: &[u8], v: V, f: impl FnOnce(V, V) -> V) {
        let hash = hash_bytes(self.seed, key);
        let arena = &self.arena;
        let found = self.table.find_mut(hash, |e| e.len as usize == key.len() && key_eq(e.key(arena), key));
        let Some(e) = found else {
            return self.insert_new(hash, key, v);
        };
        Self::merge_into(&mut e.value, v, f);
    }

    #[inline]
    fn merge_into(value: &mut V, v: V, f: impl FnOnce(V, V) -> V) {
        // The value is moved out, merged, and written back in place (no `Option`
        // around it: entries stay small, more of them share cache lines). Nothing
        // else sees the entry in between.
        let guard = AbortOnUnwind;
        // SAFETY: `acc` is the only owner of the value until the write puts the
        // merged one back; if `f` unwinds, the guard aborts first.
        unsafe {
            let acc = std::ptr::read(value);
            std::ptr::write(value, f(acc, v));
        }
        std::mem::forget(guard);
    }

    /// Adds a key that is not in the table. Out of line: most merges find their
    /// key, and the lookup alone inlines into the caller's loop.
    #[inline(never)]
    fn insert_new(&mut self, hash: u64, key: &[u8], v: V) {
        let start = u32::try_from(self.arena.len()).expect("combined keys under 4 GiB per task");
        let len = u32::try_from(key.len()).expect("a key under 4 GiB");
        self.arena.extend_from_slice(key);
        let head = if key.len() <= 16 { head_words(key) } else { (0, 0) };
        let arena = &self.arena;
        let seed = self.seed;
        self.table.insert_unique(hash, Entry { head, start, len, value: v }, |e| hash_bytes(seed, e.key(arena)));
    }

    /// Every key and value, in no particular order; the table is left empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (&[u8], V)> + '_ {
        let arena = &self.arena;
        self.table.drain().map(move |e| {
            (e.key(arena), e.value)
        })
    }
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A fast hash of short byte strings (keys are mostly words and numbers). The high
/// and low halves are folded together: hashbrown takes the bucket from the low bits
/// and the tag from bits 25..32 on 32-bit targets.
#[inline]
fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    let n = b.len();
    if n <= 16 {
        return hash_head(seed, n, head_words(b));
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

/// The hash of a key of `n <= 16` bytes whose [`head_words`] are `(a, c)`.
#[inline]
fn hash_head(seed: u64, n: usize, (a, c): (u64, u64)) -> u64 {
    let mut h = (n as u64 ^ seed).wrapping_mul(K);
    h = (h ^ a).wrapping_mul(K).rotate_left(31);
    h = (h ^ c).wrapping_mul(K);
    h ^ (h >> 32)
}

/// Byte equality of two slices of the same length, a word at a time.
#[inline]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    debug_assert_eq!(n, b.len());
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
        let mut got: Vec<(Vec<u8>, u64)> = t.drain().map(|(k, v)| (k.to_vec(), v)).collect();
        got.sort();
        let mut want: Vec<(Vec<u8>, u64)> = words.iter().map(|w| (w.clone(), 3)).collect();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(t.len(), 0);
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
        let mut got: Vec<(Vec<u8>, Vec<i32>)> = t.drain().map(|(k, v)| (k.to_vec(), v)).collect();
        got.sort();
        assert_eq!(got.len(), 7);
        for (k, v) in got {
            let r: i32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert_eq!(v, (0..1000).filter(|i| i % 7 == r).collect::<Vec<_>>());
        }
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
