//! The heads of chains: records decoded into typed batches, and the groups the
//! host collected decoded into keys and their values.

use std::any::Any;

use super::encode::BATCH_BYTES;
use super::{BATCH, Built, RawSink, Sink, downstream, frame_error, hand_on};
use crate::bytes::for_each_line;
use crate::codec;
use crate::{Data, Error, Result};

/// Values of a group: a batch of unkeyed records, one encoded value each.
fn group_values<V: Data>(batch: &[u8]) -> Result<Vec<V>> {
    let mut out = Vec::new();
    for r in spindle_frame::BatchReader::new(batch) {
        out.push(codec::decode_top(r?.value)?);
    }
    Ok(out)
}

/// A decoder of grouped records as its chain's head: it must be the first op
/// (`what` names it in the error for a plan the SDK does not make).
fn chain_head(what: &str, first: bool, head: impl FnOnce() -> Result<Box<dyn RawSink>>) -> Result<Built> {
    if !first {
        return Err(Error::msg(format!("a {what} decoder must start its chain (a plan the SDK does not make)")));
    }
    Ok(Built::Raw(head()?))
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
    chain_head("group", first, || Ok(Box::new(GroupHead::<K, V> { next: downstream(next)? })))
}

/// The head of a chain after a two-way `cogroup`.
struct CoGroupHead<K, V, W> {
    next: Box<dyn Sink<crate::grouped::CoGrouped<K, V, W>>>,
}

impl<K: Data, V: Data, W: Data> RawSink for CoGroupHead<K, V, W> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let k: K = codec::decode_top(key.unwrap_or_default())?;
        let [a, b] = cogroup_sides::<2>(value)?;
        self.next.push((k, (group_values(a)?, group_values(b)?)))
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
    chain_head("cogroup", first, || Ok(Box::new(CoGroupHead::<K, V, W> { next: downstream(next)? })))
}

/// The value batches of a cogroup record's `N` sides.
fn cogroup_sides<const N: usize>(value: &[u8]) -> Result<[&[u8]; N]> {
    let mut sides = spindle_frame::BatchReader::new(value);
    let mut out = [&[][..]; N];
    for side in &mut out {
        *side = sides.next().ok_or_else(|| Error::msg("a cogroup record has too few sides"))??.value;
    }
    Ok(out)
}

/// The head of a chain after a three-way `cogroup`.
struct CoGroup3Head<K, V, W, X> {
    next: Box<dyn Sink<crate::grouped::CoGrouped3<K, V, W, X>>>,
}

impl<K: Data, V: Data, W: Data, X: Data> RawSink for CoGroup3Head<K, V, W, X> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let k: K = codec::decode_top(key.unwrap_or_default())?;
        let [a, b, c] = cogroup_sides::<3>(value)?;
        self.next.push((k, (group_values(a)?, group_values(b)?, group_values(c)?)))
    }
    fn finish(&mut self) -> Result<()> {
        self.next.finish()
    }
}

pub(crate) fn build_decode_cogroup3<K: Data, V: Data, W: Data, X: Data>(
    _: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built> {
    chain_head("cogroup", first, || Ok(Box::new(CoGroup3Head::<K, V, W, X> { next: downstream(next)? })))
}

/// The head of a chain after a four-way `cogroup`.
struct CoGroup4Head<K, V, W, X, Y> {
    next: Box<dyn Sink<crate::grouped::CoGrouped4<K, V, W, X, Y>>>,
}

impl<K: Data, V: Data, W: Data, X: Data, Y: Data> RawSink for CoGroup4Head<K, V, W, X, Y> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        let k: K = codec::decode_top(key.unwrap_or_default())?;
        let [a, b, c, d] = cogroup_sides::<4>(value)?;
        self.next.push((k, (group_values(a)?, group_values(b)?, group_values(c)?, group_values(d)?)))
    }
    fn finish(&mut self) -> Result<()> {
        self.next.finish()
    }
}

pub(crate) fn build_decode_cogroup4<K: Data, V: Data, W: Data, X: Data, Y: Data>(
    _: &[u8],
    next: Option<Box<dyn Any>>,
    first: bool,
) -> Result<Built> {
    chain_head("cogroup", first, || Ok(Box::new(CoGroup4Head::<K, V, W, X, Y> { next: downstream(next)? })))
}

/// Decodes records into `T` for the first op, a batch at a time (at most
/// [`BATCH`] records and about [`BATCH_BYTES`] of them).
pub(super) struct Decode<T> {
    batch: Vec<T>,
    bytes: usize,
    sink: Box<dyn Sink<T>>,
}

impl<T> Decode<T> {
    pub(super) fn new(sink: Box<dyn Sink<T>>) -> Self {
        Decode { batch: Vec::with_capacity(BATCH), bytes: 0, sink }
    }

    /// Adds an element decoded from `len` bytes.
    #[inline]
    fn add(&mut self, item: T, len: usize) -> Result<()> {
        self.batch.push(item);
        self.bytes += len;
        if self.batch.len() >= BATCH || self.bytes >= BATCH_BYTES {
            return self.flush();
        }
        Ok(())
    }

    /// Hands on the elements added so far.
    fn flush(&mut self) -> Result<()> {
        self.bytes = 0;
        hand_on(&mut self.batch, &mut *self.sink)
    }
}

impl<T: Data> RawSink for Decode<T> {
    fn push_raw(&mut self, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
        self.add(codec::decode_record(key, value)?, key.map_or(0, <[u8]>::len) + value.len())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()?;
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
/// the task, strings are checked one at a time. Where the host checked the
/// input's values (lines of a text file: `task-io.input-utf8`), nothing is checked
/// here.
pub(super) struct DecodeStrings {
    pub(super) strings: Decode<String>,
    /// Whether to try checking whole frames.
    pub(super) whole: bool,
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
        self.push_valid(frame)
    }
    fn push_input(&mut self, frame: &[u8], utf8: bool) -> Result<()> {
        // Where the host checked every value, the strings need no check here.
        if utf8 { self.push_valid(frame) } else { self.push_frame(frame) }
    }
    fn takes_lines(&self) -> bool {
        true
    }
    fn push_lines(&mut self, run: &[u8], utf8: bool) -> Result<()> {
        if !utf8 && simdutf8::basic::from_utf8(run).is_err() {
            // The record decoder's answer for the line that is not UTF-8.
            return for_each_line(run, |line| self.strings.push_raw(None, line));
        }
        // SAFETY: checked as UTF-8, by the host or just above.
        let text = unsafe { core::str::from_utf8_unchecked(run) };
        // The next op may take the lines at once (a split into words): no string
        // per line.
        self.strings.flush()?;
        if self.strings.sink.push_text(text)? {
            return Ok(());
        }
        for_each_line(run, |line| {
            // SAFETY: a line of valid UTF-8 text, cut at ASCII bytes.
            let s = crate::bytes::copy_str(unsafe { core::str::from_utf8_unchecked(line) });
            self.strings.add(s, line.len())
        })
    }
    fn finish(&mut self) -> Result<()> {
        self.strings.finish()
    }
}

impl DecodeStrings {
    /// Decodes a frame whose record values are valid UTF-8: the frame is as a
    /// whole, or the host checked each value.
    fn push_valid(&mut self, frame: &[u8]) -> Result<()> {
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
}

/// A UTF-8 continuation byte (`10xxxxxx`): never the first byte of a char.
#[inline]
fn is_continuation(b: u8) -> bool {
    (b as i8) < -0x40
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::pipeline::Collect;

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
