//! The record-batch frame format of the Spindle job contract (`wit/job.wit`).
//!
//! A batch is records back to back, each
//! `uleb128(key_len + 1 or 0) key uleb128(value_len) value`. This crate has no
//! dependencies so the host and every Rust guest share the one implementation.
//!
//! # Layout
//! - [`BatchWriter`]: appends records to a buffer.
//! - [`BatchReader`]: iterates the records of a batch, rejecting malformed frames.
//! - [`row`]: the row encoding of table sources and sinks (named, typed fields).
//! - [`partition_of`]: the documented key hash that picks a record's shuffle partition.
//! - [`append`], [`copy_short`]: copies without a `memory.copy` for short slices in wasm.
#![warn(missing_docs)]
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

pub mod row;

/// The largest length a frame may declare (lengths are below 2^32).
pub const MAX_LEN: u64 = u32::MAX as u64;

/// One record borrowed from a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The key bytes, if the record is keyed.
    pub key: Option<&'a [u8]>,
    /// The value bytes.
    pub value: &'a [u8],
}

/// Why a batch could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The batch ended inside a record that starts at this offset.
    Truncated {
        /// Where the record starts, in bytes from the batch's start.
        offset: usize,
    },
    /// A length prefix at this offset is longer than 5 bytes or declares 2^32 or more.
    BadLength {
        /// Where the prefix starts.
        offset: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { offset } => {
                write!(f, "malformed batch: record at byte {offset} is cut short")
            }
            FrameError::BadLength { offset } => {
                write!(f, "malformed batch: bad length prefix at byte {offset}")
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// Appends an unsigned LEB128 number.
#[inline]
pub fn put_uleb(out: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads an unsigned LEB128 number at `*pos`, advancing it.
#[inline]
fn get_uleb(buf: &[u8], pos: &mut usize) -> Result<u64, FrameError> {
    let start = *pos;
    let mut n: u64 = 0;
    for shift in (0..35).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(FrameError::Truncated { offset: start });
        };
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return if n > MAX_LEN { Err(FrameError::BadLength { offset: start }) } else { Ok(n) };
        }
    }
    Err(FrameError::BadLength { offset: start })
}

/// Appends `bytes` to `out`. In wasm, `extend_from_slice` is a `memory.copy`: a call
/// out to the runtime that costs far more than copying a word or an 8-byte key, so
/// slices of up to [`SHORT`] bytes are copied by [`copy_short`]. Always inlined:
/// as a call of its own it costs as much as the copy.
#[inline(always)]
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    if !cfg!(any(target_arch = "wasm32", test)) || bytes.len() > SHORT {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len());
    // SAFETY: `reserve` made room for the bytes after `len`; `set_len` takes in
    // exactly the bytes written.
    unsafe {
        copy_short(out.as_mut_ptr().add(out.len()), bytes);
        out.set_len(out.len() + bytes.len());
    }
}

/// The longest slice [`copy_short`] copies.
pub const SHORT: usize = 32;

/// Copies `src` (at most [`SHORT`] bytes) to `dst` with a few (overlapping) word
/// loads and stores, and no loop: a copy loop would be compiled back into a
/// `memory.copy`.
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` bytes and not overlap `src`.
///
/// # Panics
/// If `src` is longer than [`SHORT`].
#[inline]
pub unsafe fn copy_short(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    assert!(n <= SHORT, "copy_short takes at most {SHORT} bytes");
    let word = |at: usize| u64::from_le_bytes(src[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(src[at..at + 4].try_into().expect("4 bytes"));
    // SAFETY: every store lies within the first `n` bytes of `dst` (the caller's
    // promise); the word stores overlap rather than run past the end.
    unsafe {
        if n > 16 {
            for at in [0, 8, n - 16, n - 8] {
                core::ptr::write_unaligned(dst.add(at).cast::<u64>(), word(at));
            }
        } else if n >= 8 {
            core::ptr::write_unaligned(dst.cast::<u64>(), word(0));
            core::ptr::write_unaligned(dst.add(n - 8).cast::<u64>(), word(n - 8));
        } else if n >= 4 {
            core::ptr::write_unaligned(dst.cast::<u32>(), half(0));
            core::ptr::write_unaligned(dst.add(n - 4).cast::<u32>(), half(n - 4));
        } else if n > 0 {
            // First, middle and last byte: all of 1 to 3 bytes.
            dst.write(src[0]);
            dst.add(n / 2).write(src[n / 2]);
            dst.add(n - 1).write(src[n - 1]);
        }
    }
}

/// Appends one framed record to `out`.
///
/// # Panics
/// If the key or value is 2^32 - 1 bytes or longer, which no batch may hold.
#[inline]
pub fn write_record(out: &mut Vec<u8>, key: Option<&[u8]>, value: &[u8]) {
    match key {
        Some(k) => {
            put_uleb(out, u32::try_from(k.len() + 1).expect("key too large for a frame"));
            append(out, k);
        }
        None => out.push(0),
    }
    put_uleb(out, u32::try_from(value.len()).expect("value too large for a frame"));
    append(out, value);
}

/// Builds a batch record by record.
#[derive(Debug, Default, Clone)]
pub struct BatchWriter {
    buf: Vec<u8>,
    records: usize,
}

impl BatchWriter {
    /// An empty batch with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        BatchWriter { buf: Vec::with_capacity(capacity), records: 0 }
    }

    /// Appends one record.
    #[inline]
    pub fn push(&mut self, key: Option<&[u8]>, value: &[u8]) {
        write_record(&mut self.buf, key, value);
        self.records += 1;
    }

    /// Reserves room for at least `n` more bytes.
    pub fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when no record has been written.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records written so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Takes the batch, leaving this writer empty with the same capacity reserved.
    pub fn take(&mut self) -> Vec<u8> {
        let cap = self.buf.capacity();
        self.records = 0;
        core::mem::replace(&mut self.buf, Vec::with_capacity(cap))
    }

    /// The finished batch.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Iterates the records of a batch. Yields an error (once, then stops) on a malformed
/// frame, so a bad batch can never be half-accepted silently.
#[derive(Debug, Clone)]
pub struct BatchReader<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchReader<'a> {
    /// Reads `buf` as a batch.
    pub fn new(buf: &'a [u8]) -> Self {
        BatchReader { buf, pos: 0, failed: false }
    }

    /// Where the next record starts, in bytes from the batch's start.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn read_one(&mut self) -> Result<Record<'a>, FrameError> {
        let start = self.pos;
        let key_tag = get_uleb(self.buf, &mut self.pos)?;
        let key = if key_tag == 0 { None } else { Some(self.take((key_tag - 1) as usize, start)?) };
        let value_len = get_uleb(self.buf, &mut self.pos)?;
        let value = self.take(value_len as usize, start)?;
        Ok(Record { key, value })
    }

    #[inline]
    fn take(&mut self, len: usize, record_start: usize) -> Result<&'a [u8], FrameError> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(FrameError::Truncated { offset: record_start });
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

impl<'a> Iterator for BatchReader<'a> {
    type Item = Result<Record<'a>, FrameError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.read_one();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Counts the records of a batch, checking every frame.
pub fn count_records(buf: &[u8]) -> Result<u64, FrameError> {
    let mut n = 0;
    for r in BatchReader::new(buf) {
        r?;
        n += 1;
    }
    Ok(n)
}

/// The first `n` records of a batch (all of them when it has fewer), checking
/// the frames it reads.
pub fn first_records(buf: &[u8], n: u64) -> Result<Vec<u8>, FrameError> {
    let mut w = BatchWriter::default();
    for r in BatchReader::new(buf).take(usize::try_from(n).unwrap_or(usize::MAX)) {
        let r = r?;
        w.push(r.key, r.value);
    }
    Ok(w.finish())
}

/// 64-bit FNV-1a over `bytes`: the documented shuffle hash.
#[inline]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The reduce partition of a record: `fnv1a64(key) mod partitions`; unkeyed records
/// go to partition 0.
#[inline]
pub fn partition_of(key: Option<&[u8]>, partitions: u32) -> u32 {
    match key {
        Some(k) if partitions > 0 => (fnv1a64(k) % u64::from(partitions)) as u32,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let mut w = BatchWriter::default();
        let long = vec![7u8; 300];
        w.push(Some(b"fox"), &3u64.to_be_bytes());
        w.push(None, b"");
        w.push(Some(b""), &long);
        assert_eq!(w.records(), 3);
        let buf = w.finish();
        let got: Vec<_> = BatchReader::new(&buf).map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Record { key: Some(b"fox"), value: &3u64.to_be_bytes() });
        assert_eq!(got[1], Record { key: None, value: b"" });
        assert_eq!(got[2].key, Some(&b""[..]));
        assert_eq!(got[2].value, &long[..]);
        // 300 = 0b10_0101100 -> 0xac 0x02
        assert_eq!(&buf[buf.len() - 302..buf.len() - 300], &[0xac, 0x02]);
    }

    #[test]
    fn malformed_frames_are_rejected_not_skipped() {
        let mut w = BatchWriter::default();
        w.push(Some(b"k"), b"value");
        let mut buf = w.finish();
        buf.pop();
        let items: Vec<_> = BatchReader::new(&buf).collect();
        assert_eq!(items, vec![Err(FrameError::Truncated { offset: 0 })]);
        assert!(count_records(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(count_records(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn first_records_keeps_a_prefix_and_checks_it() {
        let mut w = BatchWriter::default();
        for i in 0..5u8 {
            w.push(Some(&[i]), &[i]);
        }
        let buf = w.finish();
        let two = first_records(&buf, 2).unwrap();
        assert_eq!(count_records(&two).unwrap(), 2);
        assert_eq!(&buf[..two.len()], &two[..]);
        assert_eq!(first_records(&buf, 9).unwrap(), buf);
        assert!(first_records(&buf[..buf.len() - 1], 9).is_err());
    }

    #[test]
    fn hash_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(partition_of(None, 8), 0);
        assert!(partition_of(Some(b"x"), 8) < 8);
    }

    #[test]
    fn append_copies_every_length_whole() {
        for n in 0..=40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
            let mut out = alloc::vec![0xaa; 3];
            append(&mut out, &bytes);
            assert_eq!(out[..3], [0xaa; 3]);
            assert_eq!(out[3..], bytes[..], "length {n}");
        }
    }
}
