//! Helpers for text elements.

use crate::bytes::{HIGH, ONES, copy_str, read_u64};

/// The words of `line` (separated by Unicode whitespace, as
/// [`str::split_whitespace`] splits them), each as its own `String`, produced one
/// at a time: `text_file(path)?.flat_map(spindle::words)` splits lines with no
/// collection per line. A word of up to 16 bytes gets a capacity of 16.
///
/// Passed to `flat_map` as itself (not inside a closure) right after
/// `text_file`, it splits the task's input many lines at a time, with no
/// `String` per line: the same words, in the same order.
pub fn words(line: String) -> Words {
    let scan = Scan::new(line.as_bytes());
    Words { line, scan }
}

/// The iterator [`words`] returns; it owns its line.
#[derive(Debug, Clone)]
pub struct Words {
    line: String,
    scan: Scan,
}

impl Iterator for Words {
    type Item = String;

    #[inline]
    fn next(&mut self) -> Option<String> {
        let (start, end) = self.scan.next(self.line.as_bytes())?;
        // SAFETY: `Scan::next` returns char boundaries of the line's UTF-8.
        Some(unsafe { word_string(self.line.as_bytes(), start, end) })
    }
}

/// `text[start..end]` as a `String`.
///
/// # Safety
/// `text` is UTF-8, and `start` and `end` are char boundaries of it.
#[inline]
unsafe fn word_string(text: &[u8], start: usize, end: usize) -> String {
    if end - start <= 16 && text.len() >= 16 {
        // Most words: the 16 bytes of the text from the word's start, whatever
        // the word's length, into a block of 16. Word lengths vary from one word
        // to the next, and a branch on them mispredicts often. (The block first:
        // with the bytes loaded first, they were saved to the stack around the
        // allocation.)
        let mut v: Vec<u8> = Vec::with_capacity(16);
        let bytes = window16(text, start).expect("a text of at least 16 bytes");
        // SAFETY: `v` has room for the 16 bytes; `set_len` keeps only the word's
        // (whole chars, the caller promises).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr(), 16);
            v.set_len(end - start);
            return String::from_utf8_unchecked(v);
        }
    }
    // SAFETY: char boundaries of UTF-8, the caller promises.
    copy_str(unsafe { std::str::from_utf8_unchecked(text.get_unchecked(start..end)) })
}

/// The 16 bytes of `line` from `start` (zeros past its end), if the line is at
/// least 16 bytes long: one load from `start`, or from 16 before the line's end
/// and a byte shuffle, without a branch on where the word lies.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn window16(line: &[u8], start: usize) -> Option<[u8; 16]> {
    use core::arch::wasm32::{u8x16, u8x16_add, u8x16_splat, u8x16_swizzle, v128, v128_load};
    let from = start.min(line.len().checked_sub(16)?);
    let window = &line[from..from + 16];
    // SAFETY: the 16 bytes from `window`'s start lie within the line.
    let w = unsafe { v128_load(window.as_ptr().cast::<v128>()) };
    // Lane i takes byte `start - from + i`; past 15 a swizzle gives 0.
    let lanes = u8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let shifted = u8x16_swizzle(w, u8x16_add(lanes, u8x16_splat((start - from) as u8)));
    // SAFETY: a v128 is 16 bytes; any bytes are a valid `[u8; 16]`.
    Some(unsafe { std::mem::transmute::<v128, [u8; 16]>(shifted) })
}

/// [`window16`] elsewhere, the same way with a copy for the shuffle.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn window16(line: &[u8], start: usize) -> Option<[u8; 16]> {
    let from = start.min(line.len().checked_sub(16)?);
    let shift = start - from;
    let mut out = [0; 16];
    out[..16 - shift].copy_from_slice(&line[start..from + 16]);
    Some(out)
}

/// The words of `text` as slices of it: what [`str::split_whitespace`] returns,
/// found with 16-byte vector compares where the target has them, else eight bytes
/// at a time (the scanner [`words`] uses).
pub fn split_words(text: &str) -> SplitWords<'_> {
    SplitWords { text, scan: Scan::new(text.as_bytes()) }
}

/// The iterator [`split_words`] returns.
#[derive(Debug, Clone)]
pub struct SplitWords<'a> {
    text: &'a str,
    scan: Scan,
}

impl SplitWords<'_> {
    /// The next word as its own `String`, as [`words`] makes it: the words of
    /// many lines at once, when they come as one text (whitespace separates words
    /// and ends lines alike, so these are every line's words in turn).
    #[inline]
    pub(crate) fn next_owned(&mut self) -> Option<String> {
        let (start, end) = self.scan.next(self.text.as_bytes())?;
        // SAFETY: `Scan::next` returns char boundaries of the text's UTF-8.
        Some(unsafe { word_string(self.text.as_bytes(), start, end) })
    }
}

impl<'a> Iterator for SplitWords<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = self.scan.next(self.text.as_bytes())?;
        // SAFETY: `Scan::next` returns char boundaries.
        Some(unsafe { self.text.get_unchecked(start..end) })
    }
}

// Where a scan for words is in its text: `Scan::new(b)` starts one, `scan.next(b)`
// returns the next word of `b` (UTF-8, the same text at every call) as its start
// and end. Both are char boundaries: a word starts after whitespace (or at 0) and
// ends at whitespace (or the end), and a whitespace char starts at a lead byte.
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
use blocks::Scan;
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
use bytewise::Scan;

/// The scan on targets without 16-byte vectors: a position, eight bytes at a time.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
mod bytewise {
    #[derive(Debug, Clone)]
    pub(super) struct Scan {
        pos: usize,
    }

    impl Scan {
        pub(super) fn new(_: &[u8]) -> Self {
            Scan { pos: 0 }
        }

        #[inline]
        pub(super) fn next(&mut self, b: &[u8]) -> Option<(usize, usize)> {
            super::next_word_bytewise(b, &mut self.pos)
        }
    }
}

/// The next word of `b` at or after `*pos`, eight bytes at a time, as its start
/// and end; moves `*pos` past it (or to the end). For targets without 16-byte
/// vectors, and where a byte that may start multi-byte whitespace could start a
/// word.
#[inline]
fn next_word_bytewise(b: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
    let mut i = *pos;
    if b.get(i) == Some(&b' ') && b.get(i + 1).is_some_and(|&c| plain(c)) {
        // Mostly one space, then a word that starts with a plain byte.
        i += 1;
    } else {
        loop {
            let Some(&c) = b.get(i) else {
                *pos = i;
                return None;
            };
            if c == b' ' {
                i += 1;
            } else if plain(c) {
                break;
            } else {
                match space_len(b, i) {
                    0 => break,
                    n => i += n,
                }
            }
        }
    }
    let end = word_end(b, i + 1);
    *pos = end;
    Some((i, end))
}

/// A plain ASCII byte: a letter, digit or sign, never whitespace nor part of a
/// multi-byte char.
#[inline]
fn plain(c: u8) -> bool {
    c > b' ' && c < 0x80
}

/// The bytes of `x` (little-endian) that may end a word: the high bit of each byte
/// that is at most `b' '` or not ASCII. The lowest flagged byte is exact; bytes
/// above it may be flagged by a borrow (callers check each flagged byte).
#[inline]
fn stop_bytes(x: u64) -> u64 {
    (x.wrapping_sub(ONES * 0x21) & !x | x) & HIGH
}

/// Where the word that runs through `b[i - 1]` ends: the first whitespace char at
/// or after `i`, or `b.len()`. Eight bytes at a time; each byte that is not a
/// plain ASCII letter, digit or sign is checked exactly.
#[inline]
fn word_end(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    while i < n {
        let flagged = if i + 8 <= n {
            stop_bytes(read_u64(b, i))
        } else if n >= 8 {
            // The last eight bytes, shifted so that byte `i` comes first.
            stop_bytes(read_u64(b, n - 8)) >> (8 * (i + 8 - n))
        } else {
            HIGH
        };
        if flagged == 0 {
            i += 8;
            continue;
        }
        i += (flagged.trailing_zeros() / 8) as usize;
        if i >= n {
            break;
        }
        let c = b[i];
        if !plain(c) && space_len(b, i) != 0 {
            return i;
        }
        i += 1;
    }
    n
}

/// ASCII whitespace as `char::is_whitespace` sees it: tab, line feed, vertical
/// tab, form feed, carriage return, space.
const ASCII_SPACE: u64 = 1 << b'\t' | 1 << b'\n' | 1 << 0x0b | 1 << 0x0c | 1 << b'\r' | 1 << b' ';

/// The length in bytes of the whitespace char starting at `b[i]`, or 0 if the
/// byte there does not start one. `b` is UTF-8. Exactly `char::is_whitespace`,
/// without decoding chars: ASCII by a mask, and the few multi-byte whitespace
/// chars (U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
/// U+205F, U+3000) by their bytes.
#[inline]
fn space_len(b: &[u8], i: usize) -> usize {
    let c = b[i];
    if c <= b' ' {
        return usize::from(ASCII_SPACE >> c & 1 == 1);
    }
    // The lead bytes of multi-byte whitespace (most non-ASCII letters lead with
    // others: 0xc3 for Latin-1's).
    if !matches!(c, 0xc2 | 0xe1..=0xe3) {
        return 0;
    }
    wide_space_len(b, i)
}

#[inline(never)]
fn wide_space_len(b: &[u8], i: usize) -> usize {
    let at = |k: usize| b.get(i + k).copied().unwrap_or(0);
    let found = match b[i] {
        0xc2 => return if matches!(at(1), 0x85 | 0xa0) { 2 } else { 0 },
        0xe1 => at(1) == 0x9a && at(2) == 0x80,
        0xe2 => match at(1) {
            0x80 => matches!(at(2), 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf),
            0x81 => at(2) == 0x9f,
            _ => false,
        },
        0xe3 => at(1) == 0x80 && at(2) == 0x80,
        _ => false,
    };
    if found { 3 } else { 0 }
}

/// Words 64 bytes at a time: four 16-byte vector compares give the whitespace
/// of 64 bytes as a bit mask, and the words are the runs of clear bits. ASCII
/// whitespace is exact in the mask; the multi-byte kinds start with one of four
/// lead bytes (0xc2, 0xe1..=0xe3), which a second mask marks, and where one of
/// those could start or end a word, the bytewise scan decides.
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod blocks {
    use super::{next_word_bytewise, word_end};

    /// A scan's position, and the masks of the 64 bytes around it. (The position
    /// is kept out of the masks: with it inside, Cranelift's code for a word
    /// takes about 1 % more instructions.)
    #[derive(Debug, Clone)]
    pub(super) struct Scan {
        pos: usize,
        masks: Masks,
    }

    impl Scan {
        #[inline]
        pub(super) fn new(b: &[u8]) -> Self {
            Scan { pos: 0, masks: Masks::new(b) }
        }

        #[inline]
        pub(super) fn next(&mut self, b: &[u8]) -> Option<(usize, usize)> {
            self.masks.next_word(b, &mut self.pos)
        }
    }

    /// The masks of `b[base..base + 64]`, bit `k` for byte `base + k`.
    #[derive(Debug, Clone)]
    struct Masks {
        base: usize,
        /// ASCII whitespace; every byte past the end of the text counts as one.
        space: u64,
        /// Lead bytes that may start multi-byte whitespace.
        lead: u64,
    }

    impl Masks {
        /// The masks of the first 64 bytes of `b`.
        #[inline]
        fn new(b: &[u8]) -> Self {
            let mut m = Masks { base: 0, space: 0, lead: 0 };
            m.load(b, 0);
            m
        }

        /// Masks `b[at..at + 64]`.
        #[inline]
        fn load(&mut self, b: &[u8], at: usize) {
            let n = b.len();
            let (mut space, mut lead) = (0u64, 0u64);
            for j in 0..4 {
                let i = at + 16 * j;
                let (s, l) = if i + 16 <= n {
                    // SAFETY: `b[i..i + 16]` is in bounds.
                    unsafe { block(b.as_ptr().add(i)) }
                } else if i >= n {
                    (0xffff, 0)
                } else {
                    tail(b, i)
                };
                space |= u64::from(s) << (16 * j);
                lead |= u64::from(l) << (16 * j);
            }
            *self = Masks { base: at, space, lead };
        }

        /// The next word of `b` at or after `*pos` (as `Scan::next` returns it);
        /// moves `*pos` past it.
        #[inline]
        fn next_word(&mut self, b: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
            let n = b.len();
            // The start: the first byte that is not whitespace.
            let start = loop {
                if *pos >= n {
                    return None;
                }
                debug_assert!(*pos >= self.base);
                let at = *pos - self.base;
                if at >= 64 {
                    self.load(b, *pos);
                    continue;
                }
                let text = !self.space >> at;
                if text == 0 {
                    *pos = self.base + 64;
                    continue;
                }
                break *pos + text.trailing_zeros() as usize;
            };
            let s = start - self.base;
            if self.lead >> s & 1 == 1 {
                // Perhaps multi-byte whitespace.
                *pos = start;
                return next_word_bytewise(b, pos);
            }
            // The end: the first whitespace after the start, unless a lead byte
            // before it ends the word first.
            let (mut space, mut lead, mut from) = (self.space >> s, self.lead >> s, start);
            let end = loop {
                if space != 0 {
                    let len = space.trailing_zeros();
                    let before = lead & ((1 << len) - 1);
                    break if before == 0 {
                        from + len as usize
                    } else {
                        word_end(b, from + before.trailing_zeros() as usize)
                    };
                }
                if lead != 0 {
                    break word_end(b, from + lead.trailing_zeros() as usize);
                }
                from = self.base + 64;
                if from >= n {
                    break n;
                }
                self.load(b, from);
                (space, lead) = (self.space, self.lead);
            };
            *pos = end;
            Some((start, end))
        }
    }

    /// The masks of `b[i..]` (`i < b.len() < i + 16`), bytes past the end marked
    /// as whitespace.
    #[inline]
    fn tail(b: &[u8], i: usize) -> (u16, u16) {
        let n = b.len();
        if n < 16 {
            return short(&b[i..]);
        }
        // The last 16 bytes, shifted so that byte `i` comes first.
        let k = i - (n - 16);
        // SAFETY: `b[n - 16..n]` is in bounds.
        let (s, l) = unsafe { block(b.as_ptr().add(n - 16)) };
        (s >> k | !0 << (16 - k), l >> k)
    }

    /// The masks of fewer than 16 bytes, padded with whitespace.
    #[cold]
    #[inline(never)]
    fn short(b: &[u8]) -> (u16, u16) {
        let mut buf = [b' '; 16];
        buf[..b.len()].copy_from_slice(b);
        // SAFETY: `buf` holds 16 bytes.
        unsafe { block(buf.as_ptr()) }
    }

    /// The whitespace and lead-byte masks of the 16 bytes at `p`.
    ///
    /// # Safety
    /// `p` must point to 16 readable bytes.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn block(p: *const u8) -> (u16, u16) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86_64; the caller vouches for the 16 bytes.
        unsafe {
            let v = _mm_loadu_si128(p.cast());
            // Unsigned `x <= c`: SSE2 has an unsigned min but no unsigned compare.
            let at_most = |x: __m128i, c: u8| _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(c as i8)), x);
            let space = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)),
                at_most(_mm_sub_epi8(v, _mm_set1_epi8(b'\t' as i8)), b'\r' - b'\t'),
            );
            let lead = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(0xc2u8 as i8)),
                at_most(_mm_sub_epi8(v, _mm_set1_epi8(0xe1u8 as i8)), 2),
            );
            (_mm_movemask_epi8(space) as u16, _mm_movemask_epi8(lead) as u16)
        }
    }

    /// The whitespace and lead-byte masks of the 16 bytes at `p`.
    ///
    /// # Safety
    /// `p` must point to 16 readable bytes.
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    unsafe fn block(p: *const u8) -> (u16, u16) {
        use std::arch::wasm32::*;
        // SAFETY: the caller vouches for the 16 bytes; wasm loads need no alignment.
        let v = unsafe { v128_load(p.cast()) };
        let space = v128_or(
            u8x16_eq(v, u8x16_splat(b' ')),
            u8x16_le(u8x16_sub(v, u8x16_splat(b'\t')), u8x16_splat(b'\r' - b'\t')),
        );
        let lead = v128_or(u8x16_eq(v, u8x16_splat(0xc2)), u8x16_le(u8x16_sub(v, u8x16_splat(0xe1)), u8x16_splat(2)));
        (u8x16_bitmask(space), u8x16_bitmask(lead))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_split_whitespace() {
        for line in
            ["", "   ", "one", " two  words ", "tab\tand\nnewline", "ideographic\u{3000}space", "é ü\u{a0}ñ", "x "]
        {
            let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(words(line.to_owned()).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(split_words(line).collect::<Vec<_>>(), want, "{line:?}");
        }
    }

    #[test]
    fn words_near_a_long_lines_end_are_whole() {
        // Words of 1 to 18 bytes (short ones are copied as 16-byte windows, shifted
        // near the line's end), ASCII and not, at every distance from the end.
        for len in 1..=18 {
            for word in ["x".repeat(len), "é".repeat(len.div_ceil(2))] {
                for pad in 0..20 {
                    let line = format!("{} {word}{}", "ab ".repeat(pad), " ".repeat(pad % 3));
                    let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                    assert_eq!(words(line.clone()).collect::<Vec<_>>(), want, "{line:?}");
                }
            }
        }
        assert_eq!(window16(b"0123456789abcdefXYZ", 5), Some(*b"56789abcdefXYZ\0\0"));
        assert_eq!(window16(b"0123456789abcdef", 0), Some(*b"0123456789abcdef"));
        assert_eq!(window16(b"0123456789abcde", 0), None);
    }

    #[test]
    fn every_char_is_whitespace_exactly_when_std_says_so() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let s = c.encode_utf8(&mut buf).as_bytes();
            let want = if c.is_whitespace() { s.len() } else { 0 };
            assert_eq!(space_len(s, 0), want, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn words_of_every_length_are_split_and_copied_whole() {
        for n in 0..70 {
            for filler in ["x", "é", "\u{200b}"] {
                let word: String = (0..n)
                    .map(|k| if k % 5 == 3 { filler } else { "abcdefghij".get(k % 10..k % 10 + 1).unwrap() })
                    .collect();
                for (before, after) in [("", ""), (" ", "\t"), ("\u{3000}", "\u{85}x"), ("yy ", " zz")] {
                    let line = format!("{before}{word}{after}");
                    let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                    assert_eq!(words(line.clone()).collect::<Vec<_>>(), want, "{line:?}");
                    assert_eq!(split_words(&line).collect::<Vec<_>>(), want, "{line:?}");
                }
            }
        }
    }

    #[test]
    fn mixed_lines_split_like_split_whitespace() {
        // Whitespace of every width, and non-whitespace that shares its lead bytes
        // (¡ and § with U+0085 and U+00A0; ᚠ with U+1680; € and U+200B with
        // U+2000..; あ and 、 with U+3000), in lines long enough to span blocks.
        let pieces = [
            "a",
            "ß",
            "\u{2000}",
            "\u{200b}",
            "\u{2029}",
            "\u{205f}",
            "\u{1680}",
            "\u{85}",
            "\u{3000}",
            "日本",
            " ",
            "\t",
            "\u{1c}",
            "\r\n",
            "é",
            "\u{b}",
            "\u{c}",
            "¡",
            "§",
            "\u{a0}",
            "ᚠ",
            "€",
            "あ",
            "、",
            "word",
            "longerword",
            "   ",
        ];
        let mut state = 7u64;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..(state % 41) {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                line.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            state = state.wrapping_add(3);
            let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(words(line.clone()).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(split_words(&line).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(bytewise(&line), want, "{line:?}");
        }
    }

    /// The words the bytewise scan alone finds (the whole scan on targets
    /// without vectors).
    fn bytewise(line: &str) -> Vec<&str> {
        let mut pos = 0;
        std::iter::from_fn(|| next_word_bytewise(line.as_bytes(), &mut pos).map(|(a, b)| &line[a..b])).collect()
    }
}
