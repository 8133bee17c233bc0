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
    let n = b.len();
    debug_assert!(n <= 16, "head_words takes at most 16 bytes");
    if n >= 4 {
        let (step, back) = windows(n);
        // SAFETY: every window lies within `b` (`step <= n - 4`, `back <= n - 4`).
        let at = |i: usize| {
            u64::from(u32::from_le_bytes(unsafe { b.get_unchecked(i..i + 4).try_into().unwrap_unchecked() }))
        };
        return (at(0) | at(step) << 32, at(back) | at(n - 4) << 32);
    }
    short_head(b)
}

/// Where [`head_words`] reads its second and third window in a string of `n`
/// bytes (4 to 16); the first is at 0 and the last at `n - 4`.
#[inline]
fn windows(n: usize) -> (usize, usize) {
    ((n - 4).min(4), n.saturating_sub(8))
}

/// The string of `n` bytes (at most 16) whose [`head_words`] are `(a, c)`, written
/// to the start of `buf`. Up to 15 bytes, the low byte of `c` is not read: it
/// repeats a byte `a` holds (or is 0, under 4 bytes), so a caller may keep
/// something else there.
pub(crate) fn head_bytes(n: usize, (a, c): (u64, u64), buf: &mut [u8; 16]) {
    debug_assert!(n <= 16, "head_bytes makes at most 16 bytes");
    if n < 4 {
        if n > 0 {
            // The first, middle and last byte.
            buf[0] = a as u8;
            buf[n / 2] = (a >> 8) as u8;
            buf[n - 1] = (a >> 16) as u8;
        }
        return;
    }
    // The window at `back` first: below 16 bytes, its first byte (the low byte of
    // `c`) lies within the first two windows, written after it.
    let (step, back) = windows(n);
    let mut put = |at: usize, w: u64| buf[at..at + 4].copy_from_slice(&(w as u32).to_le_bytes());
    put(back, c);
    put(0, a);
    put(step, a >> 32);
    put(n - 4, c >> 32);
}

/// [`head_words`] of fewer than 4 bytes: the first, middle and last byte (0 bytes:
/// all zero).
#[inline]
fn short_head(b: &[u8]) -> (u64, u64) {
    match b {
        [] => (0, 0),
        [x, ..] => {
            let k = b.len();
            (u64::from(*x) | u64::from(b[k / 2]) << 8 | u64::from(b[k - 1]) << 16, 0)
        }
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

/// Calls `f` with each line of `run` (lines ended by `\n`, the last perhaps
/// not), without its `\n` or a `\r` before it: a text file's lines, as the host
/// reads them one by one. Newlines are found 64 bytes at a time, from a mask of
/// each block (a `memchr` per line cost twice as much in wasm, where it is not
/// inlined and starts each search over).
#[inline]
pub(crate) fn for_each_line(run: &[u8], mut f: impl FnMut(&[u8]) -> crate::Result<()>) -> crate::Result<()> {
    let mut emit = |start: usize, end: usize| {
        let line = &run[start..end];
        f(line.strip_suffix(b"\r").unwrap_or(line))
    };
    let mut start = 0;
    let mut base = 0;
    #[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
    while base + 64 <= run.len() {
        // SAFETY: the 64 bytes from `base` lie within `run`.
        let mut m = unsafe {
            let p = run.as_ptr().add(base);
            u64::from(newlines16(p))
                | u64::from(newlines16(p.add(16))) << 16
                | u64::from(newlines16(p.add(32))) << 32
                | u64::from(newlines16(p.add(48))) << 48
        };
        while m != 0 {
            let end = base + m.trailing_zeros() as usize;
            emit(start, end)?;
            start = end + 1;
            m &= m - 1;
        }
        base += 64;
    }
    for end in memchr::memchr_iter(b'\n', &run[base..]) {
        emit(start, base + end)?;
        start = base + end + 1;
    }
    if start < run.len() {
        emit(start, run.len())?;
    }
    Ok(())
}

/// Bit `k` set where byte `k` of the 16 at `p` is `\n`.
///
/// # Safety
/// `p` must point to 16 readable bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn newlines16(p: *const u8) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86_64; the caller vouches for the 16 bytes.
    unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.cast()), _mm_set1_epi8(b'\n' as i8))) as u32 }
}

/// Bit `k` set where byte `k` of the 16 at `p` is `\n`.
///
/// # Safety
/// `p` must point to 16 readable bytes.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn newlines16(p: *const u8) -> u32 {
    use std::arch::wasm32::*;
    // SAFETY: the caller vouches for the 16 bytes; wasm loads need no alignment.
    let v = unsafe { v128_load(p.cast()) };
    u32::from(u8x16_bitmask(u8x16_eq(v, u8x16_splat(b'\n'))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_a_text_file_is_read() {
        let text = "one\ntwo\r\n\nthree words here, and a line longer than sixteen bytes\r\n\r\nx\ny\r";
        // Every cut of the text into a run (newline-ended or not) and its rest.
        for cut in 0..=text.len() {
            let run = &text.as_bytes()[..cut];
            let mut got = Vec::new();
            for_each_line(run, |l| {
                got.push(String::from_utf8(l.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
            // The reference: `str::lines`, which drops a final empty line and a
            // `\r` before each `\n`; a `\r` ending the run goes too, as the host
            // drops it from a file's last line.
            let want: Vec<String> = text[..cut].lines().map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect();
            assert_eq!(got, want, "cut at {cut}");
        }
        let mut n = 0;
        let stop = for_each_line(text.as_bytes(), |_| {
            n += 1;
            if n == 3 { Err(crate::Error::msg("stop")) } else { Ok(()) }
        });
        assert!(stop.is_err());
        assert_eq!(n, 3, "an error stops the split");
    }

    #[test]
    fn head_bytes_rebuild_what_head_words_read() {
        for n in 0..=16usize {
            let b: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(53).wrapping_add(9)).collect();
            let (a, c) = head_words(&b);
            let mut buf = [0; 16];
            head_bytes(n, (a, c), &mut buf);
            assert_eq!(&buf[..n], &b[..], "length {n}");
            if n < 16 {
                // The low byte of `c` is not read.
                let mut buf = [0; 16];
                head_bytes(n, (a, c ^ 0xa5), &mut buf);
                assert_eq!(&buf[..n], &b[..], "length {n}, low byte changed");
            }
        }
    }

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
