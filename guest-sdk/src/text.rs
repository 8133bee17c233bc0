//! Helpers for text elements.

use crate::bytes::{HIGH, ONES, copy_str, read_u64};

/// The words of `line` (separated by Unicode whitespace, as
/// [`str::split_whitespace`] splits them), each as its own `String`, produced one
/// at a time: `text_file(path)?.flat_map(spindle::words)` splits lines with no
/// collection per line.
pub fn words(line: String) -> Words {
    Words { line, pos: 0 }
}

/// The iterator [`words`] returns; it owns its line.
#[derive(Debug, Clone)]
pub struct Words {
    line: String,
    pos: usize,
}

impl Iterator for Words {
    type Item = String;

    #[inline]
    fn next(&mut self) -> Option<String> {
        let (start, end) = next_word(self.line.as_bytes(), &mut self.pos)?;
        // SAFETY: `next_word` returns char boundaries.
        Some(copy_str(unsafe { self.line.get_unchecked(start..end) }))
    }
}

/// The words of `text` as slices of it: what [`str::split_whitespace`] returns,
/// found eight bytes at a time (the scanner [`words`] uses).
pub fn split_words(text: &str) -> SplitWords<'_> {
    SplitWords { text, pos: 0 }
}

/// The iterator [`split_words`] returns.
#[derive(Debug, Clone)]
pub struct SplitWords<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for SplitWords<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = next_word(self.text.as_bytes(), &mut self.pos)?;
        // SAFETY: `next_word` returns char boundaries.
        Some(unsafe { self.text.get_unchecked(start..end) })
    }
}

/// The next word of `b` (UTF-8) at or after `*pos`, as its start and end; moves
/// `*pos` past it (or to the end). Both are char boundaries: a word starts after
/// whitespace (or at 0) and ends at whitespace (or the end), and a whitespace char
/// starts at a lead byte.
#[inline]
fn next_word(b: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_split_whitespace() {
        for line in [
            "",
            "   ",
            "one",
            " two  words ",
            "tab\tand\nnewline",
            "ideographic\u{3000}space",
            "é ü\u{a0}ñ",
            "x ",
        ] {
            let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(words(line.to_owned()).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(split_words(line).collect::<Vec<_>>(), want, "{line:?}");
        }
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
                    .map(|k| {
                        if k % 5 == 3 {
                            filler
                        } else {
                            "abcdefghij".get(k % 10..k % 10 + 1).unwrap()
                        }
                    })
                    .collect();
                for (before, after) in [
                    ("", ""),
                    (" ", "\t"),
                    ("\u{3000}", "\u{85}x"),
                    ("yy ", " zz"),
                ] {
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
        let pieces = [
            "a", "ß", "\u{2000}", "\u{200b}", "\u{2029}", "\u{205f}", "\u{1680}", "\u{85}",
            "\u{3000}", "日本", " ", "\t", "\u{1c}", "\r\n", "é",
        ];
        let mut state = 7u64;
        for _ in 0..2000 {
            let mut line = String::new();
            for _ in 0..(state % 13) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                line.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            state = state.wrapping_add(3);
            let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(words(line.clone()).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(split_words(&line).collect::<Vec<_>>(), want, "{line:?}");
        }
    }
}
