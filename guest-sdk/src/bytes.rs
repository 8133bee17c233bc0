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

/// The 4 bytes of `b` from `at`, little-endian.
#[inline]
pub(crate) fn read_u32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")))
}

/// A string of at most 16 bytes as two words, read without a copy: 4 to 16 bytes
/// as two overlapping words; shorter ones a byte at a time, each byte in a byte
/// of its own. Together with the length this determines the bytes.
#[inline]
pub(crate) fn head_words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n >= 8 {
        (read_u64(b, 0), read_u64(b, n - 8))
    } else if n >= 4 {
        (read_u32(b, 0), read_u32(b, n - 4))
    } else if n > 0 {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    } else {
        (0, 0)
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
