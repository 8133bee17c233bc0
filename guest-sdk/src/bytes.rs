//! Short byte strings a word at a time. In wasm a `memcmp` is a call and a `memcpy`
//! a `memory.copy` (a call out to the runtime); for keys and words of a few bytes
//! either costs more than the work, so these read and copy with word loads and
//! stores instead.

/// A 1 in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes of `b` from `at`, little-endian.
#[inline]
pub(crate) fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A string of at most 16 bytes as two words, read without a copy, and the same way
/// for every length from 4 to 16 (word lengths vary from one key to the next, and
/// branches on them mispredict often): as four 4-byte windows at offsets that
/// depend only on the length and together cover every byte. 1 to 3 bytes are read
/// as their first, middle and last byte. Together with the length the words
/// determine the bytes, and every byte lies in a byte of its own of them.
#[inline]
pub(crate) fn head_words(b: &[u8]) -> (u64, u64) {
    const ZEROS: &[u8; 4] = &[0; 4];
    let n = b.len();
    debug_assert!(n <= 16, "head_words takes at most 16 bytes");
    // Strings shorter than 4 bytes read their windows from zeros (and 0 bytes its
    // byte too), so that every read is in bounds whatever the length.
    let wide = if n >= 4 { b } else { ZEROS };
    let m = wide.len();
    let (step, back) = ((m - 4).min(4), m.saturating_sub(8));
    let narrow = if n >= 1 { b } else { &ZEROS[..1] };
    let k = narrow.len();
    // SAFETY: every window lies within `wide` (`m >= 4`; `step <= m - 4`;
    // `back <= m - 4`) and every byte index within `narrow` (`k >= 1`).
    unsafe {
        let at = |i: usize| u64::from(u32::from_le_bytes(wide.get_unchecked(i..i + 4).try_into().unwrap_unchecked()));
        let long = (at(0) | at(step) << 32, at(back) | at(m - 4) << 32);
        let byte = |i: usize| u64::from(*narrow.get_unchecked(i));
        let short = (byte(0) | byte(k / 2) << 8 | byte(k - 1) << 16, 0);
        if n >= 4 { long } else { short }
    }
}

/// True if `b` is at most 16 bytes, all ASCII.
#[inline]
pub(crate) fn is_short_ascii(b: &[u8]) -> bool {
    if b.len() > 16 {
        return false;
    }
    let (a, c) = head_words(b);
    (a | c) & HIGH == 0
}

/// `s` as a `String`; a short one is copied without a `memory.copy` (see
/// [`spindle_frame::copy_short`]). Always inlined: as a call of its own it costs
/// as much as the copy.
#[inline(always)]
pub(crate) fn copy_str(s: &str) -> String {
    let n = s.len();
    if n > spindle_frame::SHORT {
        return s.to_owned();
    }
    let mut v: Vec<u8> = Vec::with_capacity(n);
    // SAFETY: `v` has room for `n` bytes, all of which `copy_short` writes: the
    // bytes of a `str`.
    unsafe {
        spindle_frame::copy_short(v.as_mut_ptr(), s.as_bytes());
        v.set_len(n);
        String::from_utf8_unchecked(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ascii_sees_every_byte() {
        for n in 0..=20usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + i as u8).collect();
            assert_eq!(is_short_ascii(&a), n <= 16, "length {n}");
            for i in 0..n {
                let mut b = a.clone();
                b[i] = 0xc3;
                assert!(!is_short_ascii(&b), "length {n}, byte {i}");
            }
        }
    }
}
